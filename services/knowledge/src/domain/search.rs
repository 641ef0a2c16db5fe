//! What a reader types into the search box, understood the way web search
//! engines understand it, and the pieces of a result page that do not
//! depend on the database: the highlighted snippet and how alike two words
//! are (for the typo fallback).
//!
//! Syntax: words must all appear (`printer jam`), `"a phrase"` in that
//! order, `-word` must not appear, `or` between two parts accepts either.

/// Longest query, in characters.
pub const QUERY_MAX: usize = 200;
/// Most hits on a page.
pub const PAGE_MAX: u64 = 50;
/// Where a highlighted word starts and ends in a snippet before it is
/// escaped (control characters no article text keeps).
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// One part of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Word(String),
    Phrase(Vec<String>),
}

/// A query: alternatives (joined by `or`), each a conjunction of terms,
/// some of them negated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub any_of: Vec<Conjunction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conjunction {
    pub must: Vec<Term>,
    pub must_not: Vec<Term>,
}

impl Query {
    /// No positive term anywhere: nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.any_of.iter().all(|c| c.must.is_empty())
    }

    /// Every positive word, for the typo fallback and highlighting.
    pub fn words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for conjunction in &self.any_of {
            for term in &conjunction.must {
                match term {
                    Term::Word(word) => words.push(word.clone()),
                    Term::Phrase(phrase) => words.extend(phrase.iter().cloned()),
                }
            }
        }
        words
    }
}

/// Text as the index keeps it and queries are matched: lowercase ASCII
/// letters and digits, accents folded to their base letter, everything
/// else a single space between words.
pub fn fold_text(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(|c| super::slug::fold_as(c, super::slug::Umlauts::Base)) {
        if c.is_ascii_alphanumeric() {
            if space && !folded.is_empty() {
                folded.push(' ');
            }
            space = false;
            folded.push(c.to_ascii_lowercase());
        } else {
            space = true;
        }
    }
    folded
}

/// Splits text into folded words.
fn words_of(text: &str) -> Vec<String> {
    fold_text(text).split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// Parses what a reader typed.
pub fn parse(input: &str) -> Query {
    let mut query = Query::default();
    let mut current = Conjunction::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let negated = first == '-';
        if negated {
            chars.next();
        }
        let term = if chars.peek() == Some(&'"') {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|c| *c != '"').collect();
            let words = words_of(&phrase);
            match words.len() {
                0 => None,
                1 => Some(Term::Word(words[0].clone())),
                _ => Some(Term::Phrase(words)),
            }
        } else {
            let mut raw = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                raw.push(c);
                chars.next();
            }
            if !negated && raw.eq_ignore_ascii_case("or") {
                if !current.must.is_empty() {
                    query.any_of.push(std::mem::take(&mut current));
                }
                continue;
            }
            let words = words_of(&raw);
            match words.len() {
                0 => None,
                1 => Some(Term::Word(words[0].clone())),
                // "e-13" is one thing the reader typed: a phrase of its parts.
                _ => Some(Term::Phrase(words)),
            }
        };
        if let Some(term) = term {
            if negated { current.must_not.push(term) } else { current.must.push(term) }
        }
    }
    if !current.must.is_empty() {
        query.any_of.push(current);
    }
    query
}

fn fts5_term(term: &Term) -> String {
    // Folded words hold only [a-z0-9], so quoting cannot be escaped out of.
    match term {
        Term::Word(word) => format!("\"{word}\""),
        Term::Phrase(words) => format!("\"{}\"", words.join(" ")),
    }
}

/// The query as an SQLite FTS5 MATCH expression; `None` when it looks for
/// nothing.
pub fn to_fts5(query: &Query) -> Option<String> {
    let parts: Vec<String> = query
        .any_of
        .iter()
        .filter(|c| !c.must.is_empty())
        .map(|c| {
            let mut part = c.must.iter().map(fts5_term).collect::<Vec<_>>().join(" AND ");
            for term in &c.must_not {
                part = format!("{part} NOT {}", fts5_term(term));
            }
            format!("({part})")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" OR "))
}

/// The query in PostgreSQL's `websearch_to_tsquery` syntax, rebuilt from
/// the parsed terms so both databases understand the same thing.
pub fn to_websearch(query: &Query) -> String {
    let term = |term: &Term| match term {
        Term::Word(word) => word.clone(),
        Term::Phrase(words) => format!("\"{}\"", words.join(" ")),
    };
    query
        .any_of
        .iter()
        .filter(|c| !c.must.is_empty())
        .map(|c| {
            let mut parts: Vec<String> = c.must.iter().map(term).collect();
            parts.extend(c.must_not.iter().map(|t| format!("-{}", term(t))));
            parts.join(" ")
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A snippet with [`MARK_START`]/[`MARK_END`] around the matched words,
/// as HTML: the text escaped, the marks `<mark>` elements.
pub fn snippet_html(marked: &str) -> String {
    let mut html = String::with_capacity(marked.len() + 16);
    for c in marked.chars() {
        match c {
            MARK_START => html.push_str("<mark>"),
            MARK_END => html.push_str("</mark>"),
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
    html
}

/// The trigrams of a word, padded as PostgreSQL's pg_trgm pads them.
fn trigrams(word: &str) -> Vec<String> {
    let padded: Vec<char> = format!("  {word} ").chars().collect();
    let mut grams: Vec<String> = padded.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// How much of the typed word a word holds, 0 to 1, close to pg_trgm's
/// `word_similarity`: the typed word's trigrams found in the word, over
/// all of the typed word's trigrams.
pub fn similarity(typed: &str, word: &str) -> f64 {
    let (typed, word) = (trigrams(typed), trigrams(word));
    let shared = typed.iter().filter(|g| word.contains(g)).count();
    if typed.is_empty() { 0.0 } else { shared as f64 / typed.len() as f64 }
}

/// How well the words a reader typed match a title despite typos: for each
/// typed word the most alike word of the title, averaged.
pub fn fuzzy_score(typed: &[String], title: &str) -> f64 {
    let title_words = words_of(title);
    if typed.is_empty() || title_words.is_empty() {
        return 0.0;
    }
    let total: f64 = typed.iter().map(|word| title_words.iter().map(|t| similarity(word, t)).fold(0.0, f64::max)).sum();
    total / typed.len() as f64
}

/// The lowest [`fuzzy_score`] a title needs to be offered for a query that
/// matched nothing exactly.
pub const FUZZY_MIN: f64 = 0.4;

/// The same bar for pg_trgm's `word_similarity` of the whole query, which
/// scores lower than the per-word average ("pritner eror" against
/// "Printer shows error E-13": 0.32).
pub const PG_WORD_SIMILARITY_MIN: f64 = 0.3;

#[cfg(test)]
mod tests {
    use super::*;

    fn w(word: &str) -> Term {
        Term::Word(word.to_owned())
    }

    #[test]
    fn words_phrases_negations_and_or_are_understood() {
        let query = parse(r#"Drücker  "paper jam" -toner or E-13"#);
        assert_eq!(
            query.any_of,
            [
                Conjunction {
                    must: vec![w("drucker"), Term::Phrase(vec!["paper".into(), "jam".into()])],
                    must_not: vec![w("toner")]
                },
                Conjunction { must: vec![Term::Phrase(vec!["e".into(), "13".into()])], must_not: vec![] },
            ]
        );
        assert_eq!(to_fts5(&query).unwrap(), r#"("drucker" AND "paper jam" NOT "toner") OR ("e 13")"#);
        assert_eq!(to_websearch(&query), r#"drucker "paper jam" -toner or "e 13""#);
    }

    #[test]
    fn what_searches_for_nothing_is_empty() {
        for input in ["", "   ", "-toner", "or", "\"\"", "!!! ???", "\"unclosed"] {
            let query = parse(input);
            if input == "\"unclosed" {
                assert_eq!(query.words(), ["unclosed"]);
                continue;
            }
            assert!(query.is_empty(), "{input:?}: {query:?}");
            assert_eq!(to_fts5(&query), None, "{input:?}");
        }
    }

    #[test]
    fn fts5_syntax_cannot_be_injected() {
        let query = parse(r#"title:secret OR NEAR(a b) * "x" AND ^y"#);
        let fts = to_fts5(&query).unwrap();
        // Apart from the structure this module writes, only quoted folded words remain.
        let rest = fts.replace(" AND ", " ").replace(" OR ", " ").replace(" NOT ", " ").replace(['(', ')', '"'], "");
        assert!(rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' '), "{fts}");
        assert_eq!(fts, r#"("title secret") OR ("near a" AND "b" AND "x" AND "and" AND "y")"#);
    }

    #[test]
    fn text_folds_to_plain_lowercase_words() {
        assert_eq!(fold_text("Drücker-Fehler E-13: Straße, Œuvre!"), "drucker fehler e 13 strasse oeuvre");
        assert_eq!(fold_text("  "), "");
    }

    #[test]
    fn snippets_escape_the_text_and_mark_the_matches() {
        let marked = format!("Use <b>care</b> & pull the {MARK_START}paper{MARK_END} out");
        assert_eq!(snippet_html(&marked), "Use &lt;b&gt;care&lt;/b&gt; &amp; pull the <mark>paper</mark> out");
    }

    #[test]
    fn typos_are_close_and_other_words_are_not() {
        assert!(similarity("printer", "printer") > 0.99);
        assert!(fuzzy_score(&["pritner".into()], "Printer shows E-13") >= FUZZY_MIN);
        assert!(fuzzy_score(&["scaner".into(), "drivr".into()], "Scanner driver for Windows") >= FUZZY_MIN);
        assert!(fuzzy_score(&["invoice".into()], "Printer shows E-13") < FUZZY_MIN);
    }
}
