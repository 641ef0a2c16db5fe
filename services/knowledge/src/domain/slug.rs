//! URL slugs of articles and categories: lowercase ASCII words joined by
//! dashes, made from a title once and then kept, so that links in old
//! emails keep working when the title changes.

/// The longest slug, in bytes.
pub const MAX_LEN: usize = 80;

/// The slug of a new record titled `title`: [`slugify`]'s, or when the
/// title keeps no letter or digit (a title in Japanese, or only
/// punctuation) `{kind}-` and eight random hex digits, so that every title
/// gets an address.
pub fn for_new(title: &str, kind: &str) -> String {
    let slug = slugify(title);
    if !slug.is_empty() {
        return slug;
    }
    let random = docket_kit::request::Uuid::now_v7().simple().to_string();
    format!("{kind}-{}", &random[random.len() - 8..])
}

/// A slug from `title`: common Latin letters lose their accents, anything
/// else that is not a letter or digit separates words. Empty when the title
/// has no letter or digit this can keep ([`for_new`] then makes one up).
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len().min(MAX_LEN));
    let mut dash = false;
    for c in title.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if slug.len() >= MAX_LEN {
            break;
        }
    }
    slug.truncate(MAX_LEN);
    slug.trim_end_matches('-').to_owned()
}

/// Why `slug` is not one this service makes or accepts, if it is not.
pub fn check(slug: &str) -> Result<(), &'static str> {
    if slug.is_empty() {
        return Err("must not be empty");
    }
    if slug.len() > MAX_LEN {
        return Err("must be at most 80 characters");
    }
    if !slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err("may hold only lowercase letters a-z, digits and dashes");
    }
    if slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
        return Err("must not start or end with a dash, nor hold two in a row");
    }
    Ok(())
}

/// `c` without its accent, as one or two ASCII letters where it has a
/// common spelling (ß → ss); other characters as they are.
fn fold(c: char) -> impl Iterator<Item = char> {
    fold_as(c, Umlauts::Spelled)
}

/// How ä, ö and ü fold: spelled out (ae, oe, ue: German slugs), or as their
/// base letter (what a search engine's accent folding does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Umlauts {
    Spelled,
    Base,
}

/// [`fold`], with umlauts folded as `umlauts` says.
pub(crate) fn fold_as(c: char, umlauts: Umlauts) -> impl Iterator<Item = char> {
    let base = umlauts == Umlauts::Base;
    let folded: &[char] = match c {
        'ä' | 'Ä' if base => &['a'],
        'ö' | 'Ö' if base => &['o'],
        'ü' | 'Ü' if base => &['u'],
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' => &['a'],
        'ä' | 'Ä' | 'æ' | 'Æ' => &['a', 'e'],
        'ç' | 'Ç' | 'č' | 'Č' | 'ć' | 'Ć' => &['c'],
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ě' => &['e'],
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => &['i'],
        'ñ' | 'Ñ' | 'ń' | 'Ń' | 'ň' | 'Ň' => &['n'],
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => &['o'],
        'ö' | 'Ö' | 'œ' | 'Œ' => &['o', 'e'],
        'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => &['u'],
        'ü' | 'Ü' => &['u', 'e'],
        'ý' | 'ÿ' | 'Ý' => &['y'],
        'ß' => &['s', 's'],
        'š' | 'Š' | 'ś' | 'Ś' => &['s'],
        'ž' | 'Ž' | 'ź' | 'Ź' | 'ż' | 'Ż' => &['z'],
        'ł' | 'Ł' => &['l'],
        'ř' | 'Ř' => &['r'],
        'ť' | 'Ť' => &['t'],
        'ď' | 'Ď' => &['d'],
        _ => &[],
    };
    let own = folded.is_empty().then_some(c);
    folded.iter().copied().chain(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_readable_ascii_slugs() {
        for (title, slug) in [
            ("Printer shows error E-42", "printer-shows-error-e-42"),
            ("  Reset your password!  ", "reset-your-password"),
            ("Drucker läuft nicht: Straße & Größe", "drucker-laeuft-nicht-strasse-groesse"),
            ("Réinitialiser l'imprimante", "reinitialiser-l-imprimante"),
            ("¿Cómo cambio mi contraseña?", "como-cambio-mi-contrasena"),
            ("VPN / 2FA -- FAQ", "vpn-2fa-faq"),
            ("日本語", ""),
            ("---", ""),
        ] {
            assert_eq!(slugify(title), slug, "{title}");
            if !slug.is_empty() {
                assert_eq!(check(slug), Ok(()), "{slug}");
            }
        }
    }

    #[test]
    fn a_title_without_latin_letters_or_digits_still_gets_an_address() {
        assert_eq!(for_new("Printer jam", "article"), "printer-jam");
        for title in ["日本語のプリンター", "---", "!!!"] {
            let slug = for_new(title, "article");
            assert!(slug.starts_with("article-") && slug.len() == "article-".len() + 8, "{slug}");
            assert_eq!(check(&slug), Ok(()), "{slug}");
        }
        assert_ne!(for_new("日本語", "topic"), for_new("日本語", "topic"), "two such titles get two addresses");
    }

    #[test]
    fn a_long_title_makes_a_slug_of_at_most_80_characters_without_a_trailing_dash() {
        let slug = slugify(&"word ".repeat(40));
        assert!(slug.len() <= MAX_LEN && !slug.ends_with('-'), "{slug}");
        assert_eq!(check(&slug), Ok(()));
    }

    #[test]
    fn bad_slugs_are_refused_with_a_reason() {
        for bad in ["", "Upper", "with space", "-lead", "trail-", "two--dashes", "ümlaut", "<script>", &"a".repeat(81)] {
            assert!(check(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
