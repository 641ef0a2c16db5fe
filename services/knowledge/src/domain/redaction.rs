//! A solved case's text with the customer's personal data replaced by placeholders, before a draft article is
//! proposed from it. A human reviews the draft with the list of what was replaced, so the list must be complete:
//! nothing on it may survive into the text.
//!
//! Each kind is found on a copy of the text in which what earlier kinds found is blanked out, in the order
//! emails, serial numbers, IBANs, cards, IP addresses, phones, names: an email holds a name, an IBAN or a card holds
//! digit runs that look like a phone. All matches are byte ranges of the original text, which is rebuilt once.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// What the case itself tells us to hide, besides what the patterns find.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Names of the case's contacts and of its account (people and companies), e.g. "Petra Schmidt", "Müller & Söhne GmbH".
    pub names: Vec<String>,
    /// Email addresses on record for the case's contacts.
    pub emails: Vec<String>,
    /// Serial numbers of the case's asset(s), e.g. "SN-4471-XK".
    pub serials: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Name,
    Email,
    Phone,
    Iban,
    Card,
    IpAddress,
    Serial,
}

impl Kind {
    /// In declaration order, which is the order of [`Redacted::redactions`].
    const ALL: [Kind; 7] = [Kind::Name, Kind::Email, Kind::Phone, Kind::Iban, Kind::Card, Kind::IpAddress, Kind::Serial];

    /// The placeholder that stands in the text, e.g. "[email]", "[name]", "[phone]", "[iban]", "[card]", "[ip address]",
    /// "[serial number]": it says what was there, so the reviewer can judge whether the article still reads.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Name => "[name]",
            Kind::Email => "[email]",
            Kind::Phone => "[phone]",
            Kind::Iban => "[iban]",
            Kind::Card => "[card]",
            Kind::IpAddress => "[ip address]",
            Kind::Serial => "[serial number]",
        }
    }
}

/// One replacement, for the reviewer: what kind, and how many times.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Redaction {
    pub kind: Kind,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    /// One entry per kind found, in the order of `Kind`'s declaration, with counts. Empty when nothing was found.
    pub redactions: Vec<Redaction>,
}

/// Finds one kind in the (partly blanked) text.
type Finder = fn(&str, &Known) -> Vec<Range<usize>>;

/// `text` with everything on the list replaced by its kind's placeholder.
pub fn redact(text: &str, known: &Known) -> Redacted {
    let stages: [(Kind, Finder); 7] = [
        (Kind::Email, emails),
        (Kind::Serial, serials),
        (Kind::Iban, ibans),
        (Kind::Card, cards),
        (Kind::IpAddress, ip_addresses),
        (Kind::Phone, phones),
        (Kind::Name, names),
    ];
    // Blanking what one stage found keeps later stages from matching inside it or across it.
    let mut work = text.to_owned();
    let mut found: Vec<(Range<usize>, Kind)> = Vec::new();
    for (kind, find) in stages {
        for range in disjoint(find(&work, known)) {
            blank(&mut work, range.clone());
            found.push((range, kind));
        }
    }
    found.sort_by_key(|(range, _)| range.start);

    let mut out = String::with_capacity(text.len());
    let mut counts = [0usize; Kind::ALL.len()];
    let mut done = 0;
    for (range, kind) in found {
        out.push_str(&text[done..range.start]);
        out.push_str(kind.placeholder());
        counts[kind as usize] += 1;
        done = range.end;
    }
    out.push_str(&text[done..]);
    let redactions = Kind::ALL
        .into_iter()
        .zip(counts)
        .filter(|&(_, count)| count > 0)
        .map(|(kind, count)| Redaction { kind, count })
        .collect();
    Redacted { text: out, redactions }
}

/// Of overlapping matches of one kind the longest wins (then the earliest), so that "Petra Schmidt" is one name,
/// not "Petra" and a stray "Schmidt".
fn disjoint(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.retain(|range| !range.is_empty());
    ranges.sort_by_key(|range| (std::cmp::Reverse(range.len()), range.start));
    // Kept ranges by start; being disjoint, only the last one starting before a range's end can overlap it.
    let mut kept: BTreeMap<usize, usize> = BTreeMap::new();
    for range in ranges {
        if kept.range(..range.end).next_back().is_none_or(|(_, &end)| end <= range.start) {
            kept.insert(range.start, range.end);
        }
    }
    kept.into_iter().map(|(start, end)| start..end).collect()
}

/// NUL bytes keep every byte offset (and so every char boundary outside the range) where it was.
fn blank(text: &mut String, range: Range<usize>) {
    let len = range.len();
    text.replace_range(range, &"\0".repeat(len));
}

// ---------------------------------------------------------------------------------------------------------------
// Patterns

/// The patterns are constants, and the tests compile every one of them: a typo fails the tests, never a request.
#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("redaction patterns are constants checked by the tests")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)[\w%+\-][\w.%+\-']*@[\w\-]+(?:\.[\w\-]+)*\.\p{L}{2,24}\b"));

/// " dot ", "[dot]", "(.)" and a plain "." between the labels of an obfuscated address.
const ANY_DOT: &str = r"(?:\s*[\[({<]\s*(?:dot|punkt|point|\.)\s*[\])}>]\s*|\s+(?:dot|punkt|point)\s+|\.)";
/// Only the spelled-out dots, which tell an address from "look at example.com".
const SPELLED_DOT: &str = r"(?:\s*[\[({<]\s*(?:dot|punkt|point|\.)\s*[\])}>]\s*|\s+(?:dot|punkt)\s+)";
const LOCAL: &str = r"[\w%+\-][\w.%+\-]*(?:(?:\s*[\[({<]\s*(?:dot|punkt|point|\.)\s*[\])}>]\s*|\s+dot\s+)[\w%+\-]+)*";

/// "name [at] example.com", "name(at)example.com", "name @ example . com".
static EMAIL_BRACKETED: LazyLock<Regex> = LazyLock::new(|| {
    let at = r"(?:\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*|\s+@\s*|\s*@\s+)";
    re(&format!(r"(?i){LOCAL}{at}[\w\-]+(?:{ANY_DOT}[\w\-]+)*{ANY_DOT}\p{{L}}{{2,24}}\b"))
});

/// "name at example dot com": a plain " at " only counts with at least one spelled-out dot after it.
static EMAIL_SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(r"(?i){LOCAL}\s+(?:at|ät)\s+[\w\-]+(?:{ANY_DOT}[\w\-]+)*{SPELLED_DOT}(?:[\w\-]+{ANY_DOT})*\p{{L}}{{2,24}}\b"))
});

/// A serial number after its label, when the case's asset record does not list it.
static SERIAL_LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)\b(?:serial(?:\s*(?:number|no\.?|nr\.?|#))?|s/n|sn\s*[:#]|seriennummer|serien-?nr\.?",
        r"|num[ée]ro\s+de\s+s[ée]rie|n[úu]mero\s+de\s+serie)",
        r"\s*[:#]?\s*([a-z0-9][a-z0-9\-./]*[a-z0-9])",
    ))
});

static IBAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b[a-z]{2}[0-9]{2}(?:[ \-]?[a-z0-9]{4}){2,7}(?:[ \-]?[a-z0-9]{1,4})?\b"));

/// Words after which an IBAN-shaped string is an account number even when its checksum fails (a typo is still
/// somebody's account).
static IBAN_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:\biban|\bkontonummer|\bkonto(?:-?nr\.?)?|\baccount\s*(?:number|no\.?|nr\.?|#)?",
        r"|\bnum[ée]ro\s+de\s+compte|\bcompte|\bn[úu]mero\s+de\s+cuenta|\bcuenta)",
        r"\s*[:#.]?\s*(?:(?:is|ist|est|es|lautet)\s*:?\s*)?$",
    ))
});

/// Digit groups separated by single spaces or dashes: where card numbers are looked for.
static DIGIT_RUN: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]+(?:[ \-][0-9]+)*"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]+"));

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b")
});

/// Candidates only: std's parser decides what is an IPv6 address.
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-f]{0,4})"));

/// Digit groups a phone number may be written in: "+44 (0)20 7946 0958", "030 / 1234567", "+1.415.555.2671".
/// Candidates only: `phone_ok` decides.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    // A space is any horizontal one; "/" and dashes may have one on either side.
    re(concat!(
        r"(?:\+[ \t\u{a0}\u{2009}\u{202f}]?)?(?:\(\+?[0-9]{1,5}\)|[0-9]+)",
        r"(?:(?:[ \t\u{a0}\u{2009}\u{202f}]?[/\-\u{2013}][ \t\u{a0}\u{2009}\u{202f}]?|[ \t\u{a0}\u{2009}\u{202f}]|\.)?",
        r"(?:\([0-9]{1,5}\)|[0-9]+))*",
    ))
});
static PHONE_GROUP: LazyLock<Regex> = LazyLock::new(|| re(r"\(\+?[0-9]{1,5}\)|[0-9]+"));

/// Dates and times are blanked before phones are looked for, so that "2024-05-01 10:30" never reads as one.
static DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"[0-9]{4}[./\-][0-9]{1,2}[./\-][0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:[0-9]{4}|[0-9]{2})"));
static TIME: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?"));

// ---------------------------------------------------------------------------------------------------------------
// Emails

fn emails(work: &str, known: &Known) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = [&*EMAIL, &*EMAIL_BRACKETED, &*EMAIL_SPELLED]
        .into_iter()
        .flat_map(|pattern| pattern.find_iter(work).map(|m| m.range()))
        .collect();
    // Known addresses are caught even in forms the pattern misses ("anna@localhost").
    for email in known.emails.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if let Ok(pattern) = Regex::new(&format!("(?i){}", regex::escape(email))) {
            found.extend(find_standalone(&pattern, work, |range| email_edges_ok(work, range)));
        }
    }
    found
}

/// Not part of a longer address: "anna@x.de" is not in "hanna@x.de" nor in "anna@x.de.example.org".
fn email_edges_ok(hay: &str, range: Range<usize>) -> bool {
    let in_address = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let mut after = hay[range.end..].chars();
    let continues = match (after.next(), after.next()) {
        (Some(c), _) if c.is_alphanumeric() || c == '_' || c == '-' => true,
        (Some('.'), Some(c)) => c.is_alphanumeric(),
        _ => false,
    };
    !hay[..range.start].ends_with(in_address) && !continues
}

// ---------------------------------------------------------------------------------------------------------------
// Serial numbers

fn serials(work: &str, known: &Known) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    for serial in &known.serials {
        if let Some(pattern) = serial_pattern(serial) {
            found.extend(find_standalone(&pattern, work, |range| standalone(work, range)));
        }
    }
    for caps in SERIAL_LABELLED.captures_iter(work) {
        if let Some(token) = caps.get(1)
            && token.len() >= 4
            && token.as_str().bytes().any(|b| b.is_ascii_digit())
            && standalone(work, token.range())
        {
            found.push(token.range());
        }
    }
    found
}

/// The serial's letters and digits, with an optional separator wherever it had one or letters meet digits:
/// "SN-4471-XK" is also written "SN 4471 XK" and "sn4471xk".
fn serial_pattern(serial: &str) -> Option<Regex> {
    let mut pattern = String::from("(?i)");
    let mut prev: Option<char> = None;
    let mut gap = false;
    for c in serial.trim().chars() {
        if !c.is_alphanumeric() {
            gap = true;
            continue;
        }
        if let Some(p) = prev
            && (gap || p.is_ascii_digit() != c.is_ascii_digit())
        {
            pattern.push_str(r"[\s\-./_]?");
        }
        pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        prev = Some(c);
        gap = false;
    }
    prev?;
    Regex::new(&pattern).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// IBANs

fn ibans(work: &str, _: &Known) -> Vec<Range<usize>> {
    IBAN.find_iter(work).filter_map(|m| iban_in(work, m.range())).collect()
}

/// The candidate may have taken a following word as a last group ("… 7034 Bank"): the longest prefix ending at a
/// group that passes the check is the IBAN.
fn iban_in(work: &str, range: Range<usize>) -> Option<Range<usize>> {
    let s = &work[range.clone()];
    let mut cuts: Vec<usize> = s.match_indices([' ', '-']).map(|(at, _)| at).collect();
    cuts.push(s.len());
    if let Some(&cut) = cuts.iter().rev().find(|&&cut| iban_valid(&s[..cut])) {
        return Some(range.start..range.start + cut);
    }
    if !IBAN_LABEL.is_match(tail(&work[..range.start], 40)) {
        return None;
    }
    let mut end = s.len();
    while let Some(at) = s[..end].rfind([' ', '-']) {
        if s[at + 1..end].bytes().any(|b| b.is_ascii_digit()) {
            break;
        }
        end = at;
    }
    let len = s[..end].chars().filter(char::is_ascii_alphanumeric).count();
    (15..=34).contains(&len).then_some(range.start..range.start + end)
}

/// ISO 13616: country letters, check digits, and the number moved behind them is 1 modulo 97.
fn iban_valid(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(char::is_ascii_alphanumeric).collect();
    if !(15..=34).contains(&chars.len())
        || !chars[..2].iter().all(char::is_ascii_alphabetic)
        || !chars[2..4].iter().all(char::is_ascii_digit)
    {
        return false;
    }
    let mut rem = 0u32;
    for c in chars[4..].iter().chain(&chars[..4]) {
        let Some(v) = c.to_digit(36) else { return false };
        rem = if v < 10 { (rem * 10 + v) % 97 } else { (rem * 100 + v) % 97 };
    }
    rem == 1
}

// ---------------------------------------------------------------------------------------------------------------
// Cards

/// Within a run of digit groups, the longest windows of whole groups that make a Luhn-valid card number: a card
/// may follow an order number on the same line ("1234 4111 1111 1111 1111").
fn cards(work: &str, _: &Known) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    for run in DIGIT_RUN.find_iter(work) {
        if !number_edges_ok(work, run.range()) {
            continue;
        }
        let groups: Vec<Range<usize>> =
            DIGITS.find_iter(run.as_str()).map(|g| run.start() + g.start()..run.start() + g.end()).collect();
        let mut used = vec![false; groups.len()];
        for len in (1..=groups.len().min(19)).rev() {
            for at in 0..=groups.len() - len {
                let window = &groups[at..at + len];
                if used[at..at + len].iter().any(|&u| u) || !is_card(work, window) {
                    continue;
                }
                used[at..at + len].fill(true);
                found.push(window[0].start..window[len - 1].end);
            }
        }
    }
    found
}

/// 13 to 19 digits, written whole or in groups of 3 to 6, passing the Luhn check.
fn is_card(hay: &str, window: &[Range<usize>]) -> bool {
    let digits: String = window.iter().map(|g| &hay[g.clone()]).collect();
    (13..=19).contains(&digits.len()) && (window.len() == 1 || window.iter().all(|g| (3..=6).contains(&g.len()))) && luhn(&digits)
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 1 { 2 } else { 1 };
            if d > 9 { d - 9 } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

// ---------------------------------------------------------------------------------------------------------------
// IP addresses

fn ip_addresses(work: &str, _: &Known) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> =
        IPV4.find_iter(work).map(|m| m.range()).filter(|range| ipv4_edges_ok(work, range.clone())).collect();
    found.extend(IPV6.find_iter(work).filter_map(|m| ipv6_in(work, m.range())));
    found
}

/// Not four parts of a longer dotted number ("1.2.3.4.5").
fn ipv4_edges_ok(hay: &str, range: Range<usize>) -> bool {
    let mut before = hay[..range.start].chars().rev();
    let mut after = hay[range.end..].chars();
    !matches!((before.next(), before.next()), (Some('.'), Some(c)) if c.is_ascii_digit())
        && !matches!((after.next(), after.next()), (Some('.'), Some(c)) if c.is_ascii_digit())
}

/// The candidate may carry a colon of the text around it ("Address:2001:db8::1", "fe80::1: down").
fn ipv6_in(hay: &str, range: Range<usize>) -> Option<Range<usize>> {
    let s = &hay[range.clone()];
    let lead = usize::from(s.starts_with(':') && !s.starts_with("::"));
    let trail = usize::from(s.ends_with(':') && !s.ends_with("::"));
    [(0, 0), (lead, 0), (0, trail), (lead, trail)]
        .into_iter()
        .map(|(l, t)| range.start + l..range.end - t)
        .find(|candidate| !candidate.is_empty() && ipv6_ok(hay, candidate.clone()))
}

/// A valid address with some substance: "::1" or "a::b" in code are left alone, times and MACs never parse.
fn ipv6_ok(hay: &str, range: Range<usize>) -> bool {
    let s = &hay[range.clone()];
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut after = hay[range.end..].chars();
    !hay[..range.start].ends_with(|c: char| word(c) || c == '.')
        && !hay[range.end..].starts_with(word)
        && !matches!((after.next(), after.next()), (Some(':'), Some(c)) if c.is_ascii_hexdigit())
        && s.parse::<Ipv6Addr>().is_ok()
        && s.chars().filter(char::is_ascii_hexdigit).count() >= 5
        && s.split(':').filter(|group| !group.is_empty()).count() >= 2
}

// ---------------------------------------------------------------------------------------------------------------
// Phones

fn phones(work: &str, _: &Known) -> Vec<Range<usize>> {
    let mut hay = work.to_owned();
    let dates = DATE.find_iter(work).map(|m| m.range()).filter(|range| is_date(work, range.clone()));
    let times = TIME.find_iter(work).map(|m| m.range());
    for range in dates.chain(times).collect::<Vec<_>>() {
        blank(&mut hay, range);
    }
    let mut found = Vec::new();
    for m in PHONE.find_iter(&hay) {
        if phone_ok(&hay, m.range()) {
            found.push(m.range());
        } else {
            found.extend(split_phones(&hay, m.range()));
        }
    }
    found
}

/// A real calendar date standing on its own, not three parts of "06.12.34.56.78".
fn is_date(hay: &str, range: Range<usize>) -> bool {
    let s = &hay[range.clone()];
    let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
    if seps.len() != 2 || seps[0] != seps[1] {
        return false;
    }
    let parts: Vec<u32> = s.split(seps[0]).filter_map(|p| p.parse().ok()).collect();
    let day_month = |d: u32, m: u32| (1..=31).contains(&d) && (1..=12).contains(&m);
    let plausible = match *parts.as_slice() {
        [_, m, d] if s.find(seps[0]) == Some(4) => day_month(d, m),
        [a, b, _] => day_month(a, b) || day_month(b, a),
        _ => false,
    };
    let mut before = hay[..range.start].chars().rev();
    let mut after = hay[range.end..].chars();
    let joined = |sep: Option<char>, digit: Option<char>| {
        matches!(sep, Some('.' | '/' | '-')) && digit.is_some_and(|d| d.is_ascii_digit())
    };
    let (b1, b2) = (before.next(), before.next());
    let (a1, a2) = (after.next(), after.next());
    plausible
        && !b1.is_some_and(|c| c.is_ascii_digit())
        && !joined(b1, b2)
        && !a1.is_some_and(|c| c.is_ascii_digit())
        && !joined(a1, a2)
}

/// Whether a candidate is a phone number: 7 to 15 digits (a "(0)" trunk prefix not counted; 11 without "+" or a
/// leading 0), not glued to a word or a longer number, and not a date, a year range, a decimal, a thousands-grouped
/// amount or a price.
fn phone_ok(hay: &str, range: Range<usize>) -> bool {
    let s = &hay[range.clone()];
    let groups: Vec<Range<usize>> = PHONE_GROUP.find_iter(s).map(|m| m.range()).collect();
    let Some(first) = groups.first() else { return false };
    let lens: Vec<usize> = groups.iter().map(|g| s[g.clone()].bytes().filter(u8::is_ascii_digit).count()).collect();
    let digits: usize = groups.iter().zip(&lens).filter(|(g, _)| &s[(*g).clone()] != "(0)").map(|(_, len)| len).sum();
    let plus = s.starts_with('+') || s.starts_with("(+");
    let zero = s[first.clone()].trim_start_matches('(').starts_with('0');
    // E.164 allows 15 digits, "00" dialling adds two; a national number without a trunk 0 has at most 11.
    let most = if plus {
        15
    } else if zero {
        if s.trim_start_matches('(').starts_with("00") { 17 } else { 15 }
    } else {
        11
    };
    if !(7..=most).contains(&digits) || !phone_edges_ok(hay, range.clone()) {
        return false;
    }
    if plus {
        return true;
    }
    if near_money(hay, range.clone()) {
        return false;
    }
    if groups.len() == 1 {
        // An unbroken run is a phone when it dials like one; "12345678" is more often an order or a count.
        return zero || (9..=11).contains(&digits);
    }
    let seps: Vec<&str> = groups.windows(2).map(|w| s[w[0].end..w[1].start].trim()).collect();
    let same_seps = seps.iter().all(|sep| *sep == seps[0]);
    let date = groups.len() == 3
        && same_seps
        && ["-", ".", "/"].contains(&seps[0])
        && (matches!(lens.as_slice(), [4, 1..=2, 1..=2]) || matches!(lens.as_slice(), [1..=2, 1..=2, 2 | 4]));
    if date {
        return false;
    }
    if zero {
        return true;
    }
    let year = |g: &Range<usize>| s[g.clone()].parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y));
    // "1990 - 2024", and year-and-sequence references like "2024-0001234".
    let years = lens.len() == 2 && lens[0] == 4 && year(first) && (lens[1] != 4 || year(&groups[1]));
    // Dotted numbers without a "+" or trunk 0 are versions ("6.1.7601.17514") unless they dial like NANP.
    let dotted = seps.contains(&".") && !matches!(lens.as_slice(), [3, 3, 4] | [1, 3, 3, 4]);
    let thousands = same_seps
        && !s.contains('(')
        && (1..=3).contains(&lens[0])
        && lens[1..].iter().all(|&len| len == 3)
        && (seps[0] == "." || (seps[0].is_empty() && digits < 9));
    !(years || dotted || thousands)
}

/// Not glued to a word, an identifier ("C-0001234"), a URL path or a longer number.
fn phone_edges_ok(hay: &str, range: Range<usize>) -> bool {
    let mut before = hay[..range.start].chars().rev();
    let ok_before = match (before.next(), before.next()) {
        (Some(c), _) if c.is_alphanumeric() || "_#@=&/\\+".contains(c) => false,
        (Some('-'), Some(p)) if p.is_alphanumeric() => false,
        (Some('.' | ','), Some(p)) if p.is_ascii_digit() => false,
        _ => true,
    };
    let mut after = hay[range.end..].chars();
    let ok_after = match (after.next(), after.next()) {
        (Some(c), _) if c.is_alphanumeric() || c == '_' || c == '%' => false,
        (Some(',' | '.' | '-' | '/' | ':'), Some(n)) if n.is_ascii_digit() => false,
        _ => true,
    };
    ok_before && ok_after
}

/// Card runs share these edges: a number inside a word or a decimal is not one.
fn number_edges_ok(hay: &str, range: Range<usize>) -> bool {
    phone_edges_ok(hay, range)
}

fn near_money(hay: &str, range: Range<usize>) -> bool {
    const MONEY: [&str; 12] = ["€", "$", "£", "¥", "eur", "usd", "gbp", "chf", "euro", "euros", "dollar", "dollars"];
    let before = tail(&hay[..range.start], 12).trim_end().to_lowercase();
    let after = head(&hay[range.end..], 12).trim_start().to_lowercase();
    MONEY.iter().any(|m| {
        let prefixed = before
            .strip_suffix(m)
            .is_some_and(|rest| !m.starts_with(char::is_alphabetic) || !rest.ends_with(char::is_alphabetic));
        let suffixed = after
            .strip_prefix(m)
            .is_some_and(|rest| !m.starts_with(char::is_alphabetic) || !rest.starts_with(char::is_alphabetic));
        prefixed || suffixed
    })
}

/// Two numbers written next to each other ("030 1234567 / 0171 7654321") make one candidate with too many
/// digits; cut it before each group that starts with a trunk 0 and keep the pieces if every one is a phone.
fn split_phones(hay: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let s = &hay[range.clone()];
    let groups: Vec<Range<usize>> = PHONE_GROUP.find_iter(s).map(|m| m.range()).collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    for pair in groups.windows(2) {
        let sep = &s[pair[0].end..pair[1].start];
        if (sep.contains(char::is_whitespace) || sep.contains('/')) && s[pair[1].clone()].starts_with('0') {
            pieces.push(range.start + start..range.start + pair[0].end);
            start = pair[1].start;
        }
    }
    if pieces.is_empty() {
        return Vec::new();
    }
    pieces.push(range.start + start..range.end);
    if pieces.iter().all(|piece| phone_ok(hay, piece.clone())) { pieces } else { Vec::new() }
}

// ---------------------------------------------------------------------------------------------------------------
// Names

fn names(work: &str, known: &Known) -> Vec<Range<usize>> {
    let needles = name_needles(known);
    if needles.is_empty() {
        return Vec::new();
    }
    let folded = Folded::new(work, false);
    let hay = folded.text.as_str();
    let mut found = Vec::new();
    for needle in &needles {
        let mut from = 0;
        while let Some(at) = hay.get(from..).and_then(|rest| rest.find(needle.as_str())) {
            let start = from + at;
            let end = start + needle.len();
            if standalone(hay, start..end) {
                found.push(folded.origin[start].start..folded.origin[end - 1].end);
            }
            from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// Company forms that say nothing about whose company it is.
const LEGAL_FORMS: &str = "gmbh mbh ltd limited inc incorporated corp corporation ag sa sarl sas bv nv llc llp lp plc \
    co kg ohg ug ek kgaa se srl spa sl slu oy ab as aps pty company cie";

/// Titles, name particles and generic business words: too common to redact on their own.
const NOT_A_NAME: &str = "herr frau mr mrs ms miss dr prof sir madam monsieur madame mme mlle senor senora senorita sr sra \
    srta don dona von van der den del della de la le les du des di da dos das zu zum ten ter bin al el \
    und and et the group gruppe groupe grupo holding systems services service solutions software \
    international global consulting technologies technology partners sons sohne soehne fils hijos bank \
    trading industries logistics data";

/// The folded strings to look for: each known name, a company's name without its legal form (and its first word),
/// each part of a person's name and, of three or more, each pair of adjacent parts.
fn name_needles(known: &Known) -> Vec<String> {
    let mut needles: Vec<String> = Vec::new();
    for name in &known.names {
        // Control characters could only match the NULs that blank what earlier kinds found.
        let name =
            name.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        if !name.contains(char::is_alphanumeric) {
            continue;
        }
        let words: Vec<&str> = name.split(' ').collect();
        let legal = |w: &str| is_one_of(LEGAL_FORMS, w);
        let company = name.contains('&') || name.contains(|c: char| c.is_ascii_digit()) || words.iter().any(|w| legal(w));
        let mut forms = vec![name.clone()];
        if company {
            let mut kept = words.clone();
            while kept.last().is_some_and(|w| legal(w) || bare(w).is_empty()) {
                kept.pop();
            }
            let stripped = kept.join(" ").trim_end_matches([',', '.', ' ']).to_owned();
            if letters(&stripped) >= 2 {
                forms.push(stripped);
            }
            if kept.len() >= 2 && usable_part(kept[0]) {
                forms.push(kept[0].to_owned());
            }
        } else {
            // "Dr. Ludwig van der Berg" is mostly written "Ludwig van der Berg".
            let untitled = words.iter().skip_while(|w| is_one_of(NOT_A_NAME, w)).copied().collect::<Vec<_>>();
            if untitled.len() < words.len() && !untitled.is_empty() {
                forms.push(untitled.join(" "));
            }
            let parts: Vec<&str> = words.iter().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric())).collect();
            for part in &parts {
                forms.extend(std::iter::once(*part).chain(part.split('-')).filter(|p| usable_part(p)).map(str::to_owned));
            }
            // "Javier García" of "Javier García López" is one name, not two.
            let names: Vec<&str> = parts.iter().copied().filter(|p| usable_part(p)).collect();
            if names.len() >= 3 {
                forms.extend(names.windows(2).map(|pair| pair.join(" ")));
                forms.extend(names.first().zip(names.last()).map(|(first, last)| format!("{first} {last}")));
            }
        }
        for form in forms {
            for needle in variants(&form) {
                if needle.contains(char::is_alphanumeric) && !needles.contains(&needle) {
                    needles.push(needle);
                }
            }
        }
    }
    needles
}

/// Whether `word`, folded and without its dots, is one of the space-separated `words`.
fn is_one_of(words: &str, word: &str) -> bool {
    let word = bare(word);
    words.split_whitespace().any(|w| w == word)
}

fn usable_part(part: &str) -> bool {
    letters(part) >= 3 && !is_one_of(NOT_A_NAME, part) && !is_one_of(LEGAL_FORMS, part)
}

/// "Müller" is also written "Muller", "MULLER" and "Mueller"; a name on record as "Mueller" is also written "Müller".
fn variants(form: &str) -> Vec<String> {
    let simple = Folded::new(form, false).text.trim().to_owned();
    let german = Folded::new(form, true).text.trim().to_owned();
    let respelled = simple.replace("ae", "a").replace("oe", "o").replace("ue", "u");
    let mut out = vec![simple.clone()];
    if german != simple {
        out.push(german);
    }
    if respelled != simple && letters(&respelled) >= 4 {
        out.push(respelled);
    }
    out
}

/// Folded, with everything but letters and digits dropped: "Co." → "co", "S.A." → "sa".
fn bare(word: &str) -> String {
    Folded::new(word, false).text.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphabetic()).count()
}

/// A lowercase copy without accents, whitespace and hyphen runs as one space, that remembers for each of its bytes
/// which character of the original it came from: matches on the copy are cut from the original.
struct Folded {
    text: String,
    origin: Vec<Range<usize>>,
}

impl Folded {
    fn new(s: &str, german: bool) -> Self {
        let mut text = String::with_capacity(s.len());
        let mut origin: Vec<Range<usize>> = Vec::with_capacity(s.len());
        let mut gap = false;
        for (at, c) in s.char_indices() {
            let end = at + c.len_utf8();
            if c.is_whitespace() || matches!(c, '-' | '\u{2010}' | '\u{2011}') {
                match origin.last_mut() {
                    Some(last) if gap => last.end = end,
                    _ => {
                        text.push(' ');
                        origin.push(at..end);
                    }
                }
                gap = true;
                continue;
            }
            gap = false;
            if ('\u{300}'..='\u{36f}').contains(&c) {
                // A combining accent belongs to the letter before it ("u\u{308}" is "ü").
                if let Some(start) = origin.last().map(|r| r.start) {
                    for r in origin.iter_mut().rev().take_while(|r| r.start == start) {
                        r.end = end;
                    }
                }
                continue;
            }
            // "İ" lowercases to "i" and a combining dot, which goes like any other accent.
            for lower in c.to_lowercase().filter(|l| !('\u{300}'..='\u{36f}').contains(l)) {
                match plain(lower, german) {
                    Some(p) => text.push_str(p),
                    None => text.push(lower),
                }
                origin.resize(text.len(), at..end);
            }
        }
        Self { text, origin }
    }
}

/// Common Latin letters without their accents; with `german`, ä, ö and ü as ae, oe and ue.
fn plain(c: char, german: bool) -> Option<&'static str> {
    Some(match c {
        'ä' if german => "ae",
        'ö' if german => "oe",
        'ü' if german => "ue",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        '\u{2018}' | '\u{2019}' | '`' | '´' => "'",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/// Every match of `pattern` that `ok` accepts; a refused match is retried one character later rather than skipped,
/// so that it cannot hide an accepted one overlapping it.
fn find_standalone(pattern: &Regex, hay: &str, ok: impl Fn(Range<usize>) -> bool) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < hay.len() {
        let Some(m) = pattern.find_at(hay, at) else { break };
        if !m.range().is_empty() && ok(m.range()) {
            found.push(m.range());
            at = m.end();
        } else {
            at = m.start() + hay[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// Whole words only: a match that starts (ends) with a letter or digit must not have one just before (after) it.
fn standalone(hay: &str, range: Range<usize>) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let inner = &hay[range.clone()];
    (!inner.starts_with(word) || !hay[..range.start].ends_with(word))
        && (!inner.ends_with(word) || !hay[range.end..].starts_with(word))
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let from = s.char_indices().rev().nth(n.saturating_sub(1)).map_or(0, |(at, _)| at);
    &s[from..]
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    let to = s.char_indices().nth(n).map_or(s.len(), |(at, _)| at);
    &s[..to]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(names: &[&str], emails: &[&str], serials: &[&str]) -> Known {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Known { names: own(names), emails: own(emails), serials: own(serials) }
    }

    fn digits(s: &str) -> String {
        s.chars().filter(char::is_ascii_digit).collect()
    }

    /// Redacts `text` and checks the counts, that every expected placeholder is there, that nothing in `gone`
    /// survives (nor, for numbers, its digits), and that everything in `kept` does.
    fn check(text: &str, known: &Known, expect: &[(Kind, usize)], gone: &[&str], kept: &[&str]) -> Redacted {
        let redacted = redact(text, known);
        let mut want: Vec<Redaction> = expect.iter().map(|&(kind, count)| Redaction { kind, count }).collect();
        want.sort_by_key(|r| Kind::ALL.iter().position(|k| *k == r.kind));
        assert_eq!(redacted.redactions, want, "counts for {text:?} → {:?}", redacted.text);
        let lower = redacted.text.to_lowercase();
        for (kind, _) in expect {
            assert!(redacted.text.contains(kind.placeholder()), "{} missing in {:?}", kind.placeholder(), redacted.text);
        }
        for original in gone {
            assert!(!lower.contains(&original.to_lowercase()), "{original:?} survived in {:?}", redacted.text);
            let number = digits(original);
            if number.len() >= 5 {
                assert!(!digits(&redacted.text).contains(&number), "digits of {original:?} survived in {:?}", redacted.text);
            }
        }
        for original in kept {
            assert!(redacted.text.contains(original), "{original:?} was lost in {:?}", redacted.text);
        }
        redacted
    }

    fn unchanged(text: &str, known: &Known) {
        let redacted = redact(text, known);
        assert_eq!(redacted.text, text);
        assert!(redacted.redactions.is_empty(), "{:?}", redacted.redactions);
    }

    #[test]
    fn every_pattern_compiles() {
        for pattern in [
            &EMAIL,
            &EMAIL_BRACKETED,
            &EMAIL_SPELLED,
            &SERIAL_LABELLED,
            &IBAN,
            &IBAN_LABEL,
            &DIGIT_RUN,
            &DIGITS,
            &IPV4,
            &IPV6,
            &PHONE,
            &PHONE_GROUP,
            &DATE,
            &TIME,
        ] {
            LazyLock::force(pattern);
        }
    }

    #[test]
    fn placeholders_name_their_kind() {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.placeholder()).collect();
        assert_eq!(all, ["[name]", "[email]", "[phone]", "[iban]", "[card]", "[ip address]", "[serial number]"]);
    }

    #[test]
    fn a_german_support_note() {
        let known = known(&["Thomas Müller"], &["mueller@firma.de"], &["SN-4471-XK"]);
        let text = "Herr Müller (mueller@firma.de, Tel. +49 30 1234567) meldet, dass der Drucker SN-4471-XK seit dem \
                    01.05.2024 um 10:30 nicht mehr druckt. Rückruf bitte unter 030/1234567.";
        let r = check(
            text,
            &known,
            &[(Kind::Name, 1), (Kind::Email, 1), (Kind::Phone, 2), (Kind::Serial, 1)],
            &["Müller", "mueller@firma.de", "+49 30 1234567", "030/1234567", "SN-4471-XK"],
            &["01.05.2024", "10:30", "Herr [name] ([email], Tel. [phone]) meldet"],
        );
        assert!(r.text.ends_with("unter [phone]."), "{}", r.text);
    }

    #[test]
    fn a_french_note_with_a_mobile_and_an_iban() {
        let known = known(&["Claire Dupont"], &[], &[]);
        let text = "Mme Dupont a rappelé depuis le 06 12 34 56 78. Merci de rembourser sur l'IBAN \
                    FR14 2004 1010 0505 0001 3M02 606 avant le 15/05/2024.";
        check(
            text,
            &known,
            &[(Kind::Name, 1), (Kind::Phone, 1), (Kind::Iban, 1)],
            &["Dupont", "06 12 34 56 78", "FR14 2004 1010 0505 0001 3M02 606"],
            &["Mme [name] a rappelé", "l'IBAN [iban] avant", "15/05/2024"],
        );
    }

    #[test]
    fn an_english_note_with_cards_addresses_and_a_serial() {
        let known = known(&["Anna Berg"], &[], &["SN-4471-XK"]);
        let text = "Anna paid with 4111 1111 1111 1111 and later 378282246310005; the printer at 192.168.178.20 \
                    (IPv6 fe80::1ff:fe23:4567:890a, gateway 2001:db8::1) reports serial sn4471xk.";
        check(
            text,
            &known,
            &[(Kind::Name, 1), (Kind::Card, 2), (Kind::IpAddress, 3), (Kind::Serial, 1)],
            &[
                "Anna",
                "4111 1111 1111 1111",
                "378282246310005",
                "192.168.178.20",
                "fe80::1ff:fe23:4567:890a",
                "2001:db8::1",
                "sn4471xk",
            ],
            &["[name] paid with [card] and later [card];", "(IPv6 [ip address], gateway [ip address])"],
        );
    }

    #[test]
    fn a_spanish_note() {
        let known = known(&["Javier García López"], &[], &[]);
        let text = "El cliente Javier García (javier.garcia@correo.es, tel. +34 612 345 678) pagó con la tarjeta \
                    5555-5555-5555-4444. Su cuenta: ES91 2100 0418 4502 0005 1332. Llamó el 2024-05-01.";
        check(
            text,
            &known,
            &[(Kind::Name, 1), (Kind::Email, 1), (Kind::Phone, 1), (Kind::Iban, 1), (Kind::Card, 1)],
            &[
                "Javier",
                "García",
                "Garcia",
                "javier.garcia@correo.es",
                "+34 612 345 678",
                "5555-5555-5555-4444",
                "ES91 2100 0418 4502 0005 1332",
            ],
            &["El cliente [name] ([email], tel. [phone])", "2024-05-01"],
        );
    }

    #[test]
    fn obfuscated_emails() {
        let text = "Write to petra dot schmidt at example dot com, p.schmidt [at] example [dot] org, \
                    petra(at)schmidt-gmbh.de or petra.schmidt+tickets@mail.example.co.uk.";
        check(
            text,
            &Known::default(),
            &[(Kind::Email, 4)],
            &["petra", "schmidt", "example", "tickets"],
            &["Write to [email], [email], [email] or [email]."],
        );
    }

    #[test]
    fn a_customer_named_by_first_or_last_name_alone() {
        let known = known(&["Petra Schmidt"], &[], &[]);
        let text = "Petra called again. PETRA's printer jams; Frau Schmidt asks for a call back. Petra  Schmidt confirmed.";
        check(
            text,
            &known,
            &[(Kind::Name, 4)],
            &["petra", "schmidt"],
            &["[name] called again. [name]'s printer jams; Frau [name] asks", "[name] confirmed."],
        );
    }

    #[test]
    fn names_match_whatever_their_accents() {
        let known = known(&["Jürgen Müller", "Müller & Söhne GmbH", "José Strauß", "İlker Çelik"], &[], &[]);
        let text = "MUELLER & SOEHNE GMBH: Jurgen Muller and JÜRGEN MÜLLER spoke to Jose STRAUSS and Mu\u{308}ller, \
                    then to ILKER ÇELİK.";
        check(
            text,
            &known,
            &[(Kind::Name, 6)],
            &["muller", "mueller", "müller", "jurgen", "jürgen", "strauss", "jose", "soehne", "\u{308}", "ilker", "çeli"],
            &["[name]: [name] and [name] spoke to [name] and [name], then to [name]."],
        );
    }

    #[test]
    fn accents_and_multibyte_text_around_a_name_keep_their_place() {
        let known = known(&["Jürgen Müller"], &[], &[]);
        let r = check("Größe: Jürgen Müller bestätigt, Maß ß.", &known, &[(Kind::Name, 1)], &["Jürgen"], &[]);
        assert_eq!(r.text, "Größe: [name] bestätigt, Maß ß.");
    }

    #[test]
    fn a_company_name_without_its_legal_form_and_legal_forms_alone() {
        let known = known(&["Müller & Söhne GmbH", "Acme Ltd"], &[], &[]);
        let text = "Acme support and Müller & Söhne answered; another GmbH, a Ltd and an Inc stay.";
        check(
            text,
            &known,
            &[(Kind::Name, 2)],
            &["Acme", "Söhne"],
            &["[name] support and [name] answered; another GmbH, a Ltd and an Inc stay."],
        );
    }

    #[test]
    fn a_known_first_name_inside_a_longer_word_stays() {
        unchanged("Annabelle from accounting and Bergmann's team, in Hannah's office.", &known(&["Anna Berg"], &[], &[]));
    }

    #[test]
    fn titles_and_particles_of_a_known_name_stay() {
        let known = known(&["Dr. Ludwig van der Berg"], &[], &[]);
        let text = "Dr. Berg said the van der ticket was fine; Ludwig agreed. Ludwig van der Berg signed.";
        let r = check(text, &known, &[(Kind::Name, 3)], &["Ludwig", "Berg"], &[]);
        assert_eq!(r.text, "Dr. [name] said the van der ticket was fine; [name] agreed. [name] signed.");
    }

    #[test]
    fn an_email_that_holds_a_known_name_is_one_email() {
        let known = known(&["Petra Schmidt"], &["petra.schmidt@firma.de"], &[]);
        let r = check("Reply to PETRA.SCHMIDT@FIRMA.DE.", &known, &[(Kind::Email, 1)], &["petra", "schmidt"], &[]);
        assert_eq!(r.text, "Reply to [email].");
    }

    #[test]
    fn a_known_email_the_pattern_would_miss() {
        let known = known(&[], &["admin@printserver"], &[]);
        check("Logged in as admin@printserver today", &known, &[(Kind::Email, 1)], &["admin@printserver"], &["today"]);
    }

    #[test]
    fn known_values_that_are_empty_are_ignored() {
        unchanged("Nothing to see here - just a note.", &known(&["", "   "], &[" "], &["", " - "]));
        let r = redact("Grüße an jürgen@firma.de \0 ok", &known(&["\0", "\0\0\0"], &[], &[]));
        assert_eq!(r.text, "Grüße an [email] \0 ok");
    }

    #[test]
    fn serials_in_any_spelling_and_after_a_label() {
        let known = known(&[], &[], &["SN-4471-XK"]);
        let text = "Units SN 4471 XK, sn4471xk and SN-4471-XK; Seriennummer: AB12345C; S/N 99-1234-7. Not SN-4471-XKZ.";
        check(
            text,
            &known,
            &[(Kind::Serial, 5)],
            &["4471 xk", "sn4471xk", "ab12345c", "99-1234-7"],
            &["SN-4471-XKZ", "Seriennummer: [serial number];"],
        );
    }

    #[test]
    fn phones_in_international_and_national_formats() {
        for phone in [
            "+49 30 1234567",
            "+44 (0)20 7946 0958",
            "(555) 123-4567",
            "555-123-4567",
            "030/1234567",
            "030 / 1234567",
            "0049 89 12345678",
            "+33 1 23 45 67 89",
            "06 12 34 56 78",
            "06.12.34.56.78",
            "+1.415.555.2671",
            "+34 612 345 678",
            "612 345 678",
            "01711234567",
            "0171-1234567",
        ] {
            let text = format!("Bitte rufen Sie {phone} an.");
            let r = check(&text, &Known::default(), &[(Kind::Phone, 1)], &[phone], &[]);
            assert_eq!(r.text, "Bitte rufen Sie [phone] an.", "{phone}");
        }
    }

    #[test]
    fn two_phones_side_by_side_are_two() {
        let r = check(
            "Tel. 030 1234567 / 0171 7654321",
            &Known::default(),
            &[(Kind::Phone, 2)],
            &["030 1234567", "0171 7654321"],
            &[],
        );
        assert_eq!(r.text, "Tel. [phone] / [phone]");
    }

    #[test]
    fn dates_and_times_are_not_phones() {
        for text in [
            "Seit 2024-05-01 offen.",
            "Seit dem 01.05.2024 offen.",
            "Am 05/01/2024 um 10:30 gemeldet.",
            "Log 2024-05-01T14:05:33Z und 2024-05-01 14:05:33.",
            "Meeting 10:30 - 11:45, 12.05.24.",
            "Zwischen 1990 - 2024 gebaut.",
        ] {
            unchanged(text, &Known::default());
        }
    }

    #[test]
    fn case_numbers_versions_prices_and_short_numbers_stay() {
        for text in [
            "Fall C-000123 wurde mit C-0001234567 zusammengelegt.",
            "Fixed in v2.3.14 and 10.4.1, build 2023.10.",
            "Total € 1,299.00 (was 1.299.000 € or $ 12,345.67, 1 299 000 EUR).",
            "3 printers, room 12, 4 pages, order 123456, pi is 3.14159265.",
            "See https://example.com/kb/12345678 and ticket #1234567.",
            "Sizes 1920x1080, 1234567kb, 99.5%.",
            "Windows 6.1.7601.17514, build 10.0.19045.2965, ISBN 978-3-16-148410-0.",
            "Invoice 2024-0001234, revenue 1234567890 € or USD 9876543210.",
        ] {
            unchanged(text, &Known::default());
        }
    }

    #[test]
    fn cards_grouped_and_whole() {
        let text = "Cards: 4111-1111-1111-1111, 5555 5555 5555 4444 and 378282246310005; order 1234 4111 1111 1111 1111.";
        let r = check(
            text,
            &Known::default(),
            &[(Kind::Card, 4)],
            &["4111-1111-1111-1111", "5555 5555 5555 4444", "378282246310005"],
            &[],
        );
        assert!(r.text.starts_with("Cards: [card], [card] and [card]; order "), "{}", r.text);
    }

    #[test]
    fn a_number_failing_luhn_is_not_a_card() {
        assert!(!luhn("4111111111111112"));
        unchanged("Reference 4111 1111 1111 1112 and 4111111111111112 checked.", &Known::default());
    }

    #[test]
    fn ibans_in_any_spelling() {
        let text = "IBANs: GB29NWBK60161331926819, fr14 2004 1010 0505 0001 3m02 606 and DE89 3704 0044 0532 0130 00.";
        let r = check(
            text,
            &Known::default(),
            &[(Kind::Iban, 3)],
            &["GB29NWBK60161331926819", "fr14 2004 1010 0505 0001 3m02 606", "DE89 3704 0044 0532 0130 00"],
            &[],
        );
        assert_eq!(r.text, "IBANs: [iban], [iban] and [iban].");
    }

    #[test]
    fn an_iban_followed_by_a_word_keeps_the_word() {
        let r = check(
            "Paid from BE68 5390 0754 7034 Bank today",
            &Known::default(),
            &[(Kind::Iban, 1)],
            &["BE68 5390 0754 7034"],
            &[],
        );
        assert_eq!(r.text, "Paid from [iban] Bank today");
    }

    #[test]
    fn an_iban_shaped_code_failing_mod_97_stays_unless_labelled() {
        assert!(!iban_valid("DE89370400440532013001"));
        unchanged("Voucher XY12 ABCD EFGH IJKL MNOP was used.", &Known::default());
        unchanged("Voucher GB00 NWBK 6016 1331 9268 19 was used.", &Known::default());
        let r = check(
            "Neue Kontonummer: DE89 3704 0044 0532 0130 01 bitte prüfen",
            &Known::default(),
            &[(Kind::Iban, 1)],
            &["DE89 3704 0044 0532 0130 01"],
            &[],
        );
        assert_eq!(r.text, "Neue Kontonummer: [iban] bitte prüfen");
        unchanged("Account XY12 ABCD EFGH is too short to be one.", &Known::default());
    }

    #[test]
    fn ip_addresses_v4_and_v6() {
        let text = "Hosts 10.0.0.1, 2001:0db8:85a3:0000:0000:8a2e:0370:7334, address:2001:db8::1 and ::ffff:192.168.1.1 \
                    (fe80::1: down).";
        let r = check(
            text,
            &Known::default(),
            &[(Kind::IpAddress, 5)],
            &["10.0.0.1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8::1", "192.168.1.1", "fe80::1"],
            &[],
        );
        assert_eq!(r.text, "Hosts [ip address], [ip address], address:[ip address] and [ip address] ([ip address]: down).");
    }

    #[test]
    fn things_that_are_not_ip_addresses_stay() {
        for text in [
            "Version 1.2.3, 1.2.3.4.5 and 999.1.1.1; at 12:30 and 14:05:33; MAC 00:1a:2b:3c:4d:5e; std::vector and a::b.",
            "Nine parts 1:2:3:4:5:6:7:8:9 are no address, nor is the loopback ::1.",
        ] {
            unchanged(text, &Known::default());
        }
    }

    #[test]
    fn counts_follow_the_order_of_kind() {
        let known = known(&["Anna Berg"], &[], &["SN-1"]);
        let r = redact("SN-1 of Anna at 10.0.0.1, anna@x.de, 4111 1111 1111 1111, +49 30 1234567, Anna.", &known);
        let kinds: Vec<(Kind, usize)> = r.redactions.iter().map(|r| (r.kind, r.count)).collect();
        assert_eq!(
            kinds,
            [(Kind::Name, 2), (Kind::Email, 1), (Kind::Phone, 1), (Kind::Card, 1), (Kind::IpAddress, 1), (Kind::Serial, 1)]
        );
    }

    #[test]
    fn redacting_twice_changes_nothing_more() {
        let known = known(&["Petra Schmidt"], &["p@x.de"], &["SN-4471-XK"]);
        let text = "Petra (p@x.de, +49 30 1234567, SN-4471-XK, 10.0.0.1, DE89 3704 0044 0532 0130 00, 4111 1111 1111 1111).";
        let once = redact(text, &known);
        let twice = redact(&once.text, &known);
        assert_eq!(twice.text, once.text);
        assert!(twice.redactions.is_empty(), "{:?}", twice.redactions);
    }

    #[test]
    fn a_text_without_personal_data_is_returned_as_it_is() {
        unchanged("Der Drucker zeigt Fehler E-42: Papierfach leeren, Gerät neu starten. Gelöst.", &Known::default());
        unchanged("", &Known::default());
    }
}
