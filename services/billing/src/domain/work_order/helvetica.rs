//! Helvetica and Helvetica-Bold, two of the PDF standard fonts, written with
//! WinAnsiEncoding: nothing is embedded, every viewer has them. This module
//! turns text into WinAnsi bytes ('?' for what the encoding cannot show) and
//! measures it with the fonts' glyph widths (Adobe's AFM files), so text can
//! be wrapped and right-aligned.

/// The widths, in thousandths of the font size, of the WinAnsi codes 0x20 to
/// 0xFF (index = code - 0x20). Codes WinAnsi leaves undefined are 0 and are
/// never produced by [`encode`].
pub(super) const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 584, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0, // 0x70
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xf0
];

/// As [`REGULAR`], for Helvetica-Bold.
pub(super) const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 584, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0, // 0x70
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xf0
];

/// The WinAnsi code of `c`, if the encoding has it.
fn win_ansi(c: char) -> Option<u8> {
    match c {
        ' '..='~' | '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).ok(),
        '\u{20ac}' => Some(0x80),
        '\u{201a}' => Some(0x82),
        '\u{0192}' => Some(0x83),
        '\u{201e}' => Some(0x84),
        '\u{2026}' => Some(0x85),
        '\u{2020}' => Some(0x86),
        '\u{2021}' => Some(0x87),
        '\u{02c6}' => Some(0x88),
        '\u{2030}' => Some(0x89),
        '\u{0160}' => Some(0x8a),
        '\u{2039}' => Some(0x8b),
        '\u{0152}' => Some(0x8c),
        '\u{017d}' => Some(0x8e),
        '\u{2018}' => Some(0x91),
        '\u{2019}' => Some(0x92),
        '\u{201c}' => Some(0x93),
        '\u{201d}' => Some(0x94),
        '\u{2022}' => Some(0x95),
        '\u{2013}' => Some(0x96),
        '\u{2014}' => Some(0x97),
        '\u{02dc}' => Some(0x98),
        '\u{2122}' => Some(0x99),
        '\u{0161}' => Some(0x9a),
        '\u{203a}' => Some(0x9b),
        '\u{0153}' => Some(0x9c),
        '\u{017e}' => Some(0x9e),
        '\u{0178}' => Some(0x9f),
        _ => None,
    }
}

/// `text` as WinAnsi bytes. A line break stays `\n` (the layout breaks the
/// line there), tabs become spaces, carriage returns are dropped, and every
/// other character the fonts cannot show becomes `?`.
pub(super) fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .filter_map(|c| match c {
            '\r' => None,
            '\n' => Some(b'\n'),
            '\t' => Some(b' '),
            c => Some(win_ansi(c).unwrap_or(b'?')),
        })
        .collect()
}

/// The width of WinAnsi `text` in thousandths of the font size.
pub(super) fn width(table: &[u16; 224], text: &[u8]) -> u32 {
    text.iter().map(|&b| b.checked_sub(0x20).and_then(|i| table.get(usize::from(i))).map_or(0, |&w| u32::from(w))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_in_win_ansi_with_a_question_mark_for_the_rest() {
        assert_eq!(encode("Zo\u{eb}\u{2019}s caf\u{e9} \u{2014} 12 \u{20ac}"), b"Zo\xeb\x92s caf\xe9 \x97 12 \x80");
        assert_eq!(encode("\u{6771}\u{4eac} \u{1f680}\u{0}"), b"?? ??");
        assert_eq!(encode("a\r\nb\tc"), b"a\nb c");
    }

    #[test]
    fn widths_are_the_afm_widths() {
        // Helvetica: H 722, e 556, l 222, o 556; Helvetica-Bold: l 278, o 611.
        assert_eq!(width(&REGULAR, b"Hello"), 722 + 556 + 222 + 222 + 556);
        assert_eq!(width(&BOLD, b"Hello"), 722 + 556 + 278 + 278 + 611);
        assert_eq!(width(&REGULAR, b"\x80\x97"), 556 + 1000);
        assert_eq!(width(&REGULAR, b"\n"), 0);
    }
}
