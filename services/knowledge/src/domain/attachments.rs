//! Files on articles: which kinds are taken, read from their first bytes
//! (never from the name a browser sent), and what of the name is kept.

/// Largest file, in bytes.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Longest file name kept, in characters.
pub const NAME_MAX: usize = 200;

/// The content type of `bytes`, if it is a kind articles take: common
/// images, PDF, or UTF-8 text.
pub fn content_type(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(kind);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    // Text: valid UTF-8 without NUL or other control characters a text
    // file does not hold (markup is still text: served as text/plain and
    // `nosniff`, a browser never runs it).
    let text = std::str::from_utf8(bytes).ok()?;
    let plain = text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    plain.then_some("text/plain; charset=utf-8")
}

/// The name to keep: its last path component, without control characters
/// or quotes, at most [`NAME_MAX`] characters; `None` when nothing is left.
pub fn file_name(given: &str) -> Option<String> {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';')).take(NAME_MAX).collect();
    let kept = kept.trim().trim_start_matches('.').to_owned();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_comes_from_the_bytes() {
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(content_type(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(content_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(content_type(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(content_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(content_type("Schritt 1: Deckel öffnen\n".as_bytes()), Some("text/plain; charset=utf-8"));
        assert_eq!(content_type(b"<script>alert(1)</script>"), Some("text/plain; charset=utf-8"));
    }

    #[test]
    fn programs_and_binary_blobs_are_not_taken() {
        assert_eq!(content_type(b"MZ\x90\0\x03\0\0\0"), None, "a Windows program");
        assert_eq!(content_type(b"\x7fELF\x02\x01\x01"), None, "a Linux program");
        assert_eq!(content_type(b"PK\x03\x04"), None, "a zip archive");
        assert_eq!(content_type(b"text with a NUL\0"), None);
        assert_eq!(content_type(&[0xff, 0xfe, 0x00]), None);
    }

    #[test]
    fn a_file_name_keeps_its_last_part_without_tricks() {
        assert_eq!(file_name("C:\\Users\\ann\\jam.png").as_deref(), Some("jam.png"));
        assert_eq!(file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(file_name("a\"b;c\r\n.png").as_deref(), Some("abc.png"));
        assert_eq!(file_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(file_name("dir/"), None);
        assert_eq!(file_name("  "), None);
        assert_eq!(file_name(&"x".repeat(300)).map(|n| n.len()), Some(NAME_MAX));
    }
}
