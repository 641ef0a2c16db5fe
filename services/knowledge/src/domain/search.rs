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

    /// Whether a phrase is among the terms, wanted or excluded.
    pub fn has_phrases(&self) -> bool {
        self.any_of.iter().flat_map(|c| c.must.iter().chain(&c.must_not)).any(|t| matches!(t, Term::Phrase(_)))
    }

    /// The query with its phrases loosened to their words in any order and
    /// place (an excluded phrase left out): everything the query matches,
    /// and more.
    pub fn loosened(&self) -> Query {
        let words = |term: &Term| match term {
            Term::Word(word) => vec![Term::Word(word.clone())],
            Term::Phrase(words) => words.iter().map(|w| Term::Word(w.clone())).collect(),
        };
        let any_of = self
            .any_of
            .iter()
            .map(|c| Conjunction {
                must: c.must.iter().flat_map(words).collect(),
                must_not: c.must_not.iter().filter(|t| matches!(t, Term::Word(_))).cloned().collect(),
            })
            .collect();
        Query { any_of }
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

/// The words of folded texts a typo may be corrected to: each once,
/// those of 3 to 30 letters (not numbers, codes or stray letters, which
/// trigrams cannot tell apart), sorted.
pub fn vocabulary<'a>(folded: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut words: Vec<String> = folded
        .into_iter()
        .flat_map(|text| text.split(' '))
        .filter(|word| (3..=30).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// How alike (pg_trgm's `similarity`) a word of the vocabulary must be
/// to a mistyped word to replace it: "pritner" and "printer" share 4 of
/// their 12 trigrams.
pub const SIMILAR_MIN: f64 = 0.3;

/// The query to run again when `query` matched nothing: each positive
/// word replaced by the known word `best` offers for it (the word itself
/// when it is known), a word or phrase it offers none for left out; words
/// the reader excluded stay excluded as typed. `None` when no word is
/// left, or none was replaced (the query as typed already found nothing).
pub fn corrected(query: &Query, best: impl Fn(&str) -> Option<String>) -> Option<Query> {
    let mut replaced = false;
    let mut correct = |word: &String| {
        let known = best(word);
        replaced |= known.as_ref() != Some(word);
        known
    };
    let mut fixed = Query::default();
    for conjunction in &query.any_of {
        let mut must = Vec::new();
        for term in &conjunction.must {
            let term = match term {
                Term::Word(word) => correct(word).map(Term::Word),
                Term::Phrase(words) => words.iter().map(&mut correct).collect::<Option<Vec<_>>>().map(Term::Phrase),
            };
            must.extend(term);
        }
        if !must.is_empty() {
            fixed.any_of.push(Conjunction { must, must_not: conjunction.must_not.clone() });
        }
    }
    (replaced && !fixed.is_empty()).then_some(fixed)
}

/// The known word that replaces a typed one, among `(typed, known word,
/// similarity)` rows at least [`SIMILAR_MIN`] alike: the word itself when
/// it is known, else the most alike.
pub fn best_alike(typed: &str, alike: &[(String, String, f64)]) -> Option<String> {
    let offered = alike.iter().filter(|(t, _, score)| t == typed && *score >= SIMILAR_MIN);
    if offered.clone().any(|(_, word, _)| word == typed) {
        return Some(typed.to_owned());
    }
    offered.max_by(|a, b| a.2.total_cmp(&b.2).then_with(|| b.1.cmp(&a.1))).map(|(_, word, _)| word.clone())
}

/// The PostgreSQL text search configuration an article in `locale` is
/// indexed and searched with: the Snowball stemmer of its language
/// (so "printers" finds "printer", "Drucker" finds "Druckers"), for the
/// languages of Latin script PostgreSQL ships one for (text is folded to
/// plain ASCII letters before it is indexed, as the `unaccent` recipe of
/// PostgreSQL's manual does); `simple` (words as typed, no stop words) for
/// any other.
pub fn text_search_config(locale: &str) -> &'static str {
    let language = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    match language.as_str() {
        "ca" => "catalan",
        "da" => "danish",
        "de" => "german",
        "en" => "english",
        "es" => "spanish",
        "eu" => "basque",
        "fi" => "finnish",
        "fr" => "french",
        "ga" => "irish",
        "hu" => "hungarian",
        "id" => "indonesian",
        "it" => "italian",
        "lt" => "lithuanian",
        "nb" | "nn" | "no" => "norwegian",
        "nl" => "dutch",
        "pt" => "portuguese",
        "ro" => "romanian",
        "sv" => "swedish",
        "tr" => "turkish",
        _ => "simple",
    }
}

/// Words a snippet fragment holds at most.
const FRAGMENT_WORDS: usize = 24;

/// The Snowball stemmer of a text search configuration
/// ([`text_search_config`]), the algorithm PostgreSQL stems with; `None`
/// for those without one here (words then match as folded).
fn stemmer(config: &str) -> Option<rust_stemmers::Stemmer> {
    use rust_stemmers::Algorithm::*;
    let algorithm = match config {
        "danish" => Danish,
        "dutch" => Dutch,
        "english" => English,
        "finnish" => Finnish,
        "french" => French,
        "german" => German,
        "hungarian" => Hungarian,
        "italian" => Italian,
        "norwegian" => Norwegian,
        "portuguese" => Portuguese,
        "romanian" => Romanian,
        "spanish" => Spanish,
        "swedish" => Swedish,
        "turkish" => Turkish,
        _ => return None,
    };
    Some(rust_stemmers::Stemmer::create(algorithm))
}

/// The snippet of an article's text for the words a reader looked for
/// (folded): up to two fragments of a few dozen words where those words,
/// in any of their forms in the article's language, stand thickest,
/// each between [`MARK_START`] and [`MARK_END`]; the text's start when
/// none is in it. Built here rather than by PostgreSQL's `ts_headline`,
/// which parses the whole text of each hit again (a quarter of a
/// millisecond an article), and the same on both databases.
pub fn snippet(text: &str, looked_for: &[String], locale: &str) -> String {
    let stemmer = stemmer(text_search_config(locale));
    let stem = |word: &str| match &stemmer {
        Some(stemmer) => stemmer.stem(word).into_owned(),
        None => word.to_owned(),
    };
    let wanted: Vec<String> = looked_for.iter().map(|w| stem(w)).collect();
    // Each word of the text: where it stands, and whether it is looked for.
    let mut words: Vec<(usize, usize, bool)> = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                let folded = fold_text(&text[from..at]);
                words.push((from, at, !folded.is_empty() && wanted.contains(&stem(&folded))));
                start = None;
            }
            _ => {}
        }
    }
    let hits_in = |from: usize| words[from..(from + FRAGMENT_WORDS).min(words.len())].iter().filter(|w| w.2).count();
    let best = |skip: &dyn Fn(usize) -> bool| {
        (0..words.len())
            .filter(|&from| !skip(from))
            .map(|from| (hits_in(from), from))
            .filter(|(hits, _)| *hits > 0)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
    };
    let mut fragments: Vec<usize> = Vec::new();
    if let Some((_, first)) = best(&|_| false) {
        fragments.push(first);
        let apart = |from: usize| from + FRAGMENT_WORDS > first && first + FRAGMENT_WORDS > from;
        if let Some((_, second)) = best(&apart) {
            fragments.push(second);
        }
        fragments.sort_unstable();
    } else if !words.is_empty() {
        fragments.push(0);
    }
    let mut marked = String::new();
    for (n, &from) in fragments.iter().enumerate() {
        let to = (from + FRAGMENT_WORDS).min(words.len());
        if n > 0 || from > 0 {
            marked.push_str(if marked.is_empty() { "… " } else { " … " });
        }
        for (k, &(start, end, hit)) in words[from..to].iter().enumerate() {
            if k > 0 {
                // What stood between two words, kept as one space unless it was punctuation.
                let between = text[words[from + k - 1].1..start].trim();
                marked.push_str(between);
                marked.push(' ');
            }
            if hit {
                marked.push(MARK_START);
            }
            marked.push_str(&text[start..end]);
            if hit {
                marked.push(MARK_END);
            }
        }
        // The punctuation that ends the fragment's last word.
        let next = words.get(to).map_or(text.len(), |w| w.0);
        marked.push_str(text[words[to - 1].1..next].trim());
        if n + 1 == fragments.len() && to < words.len() {
            marked.push_str(" …");
        }
    }
    marked
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

/// How alike two words are, 0 to 1, as pg_trgm's `similarity`: the
/// trigrams they share over all the trigrams of either.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (trigrams(a), trigrams(b));
    let shared = a.iter().filter(|g| b.contains(g)).count();
    let all = a.len() + b.len() - shared;
    if all == 0 { 0.0 } else { shared as f64 / all as f64 }
}

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
    fn phrases_loosen_to_their_words() {
        let query = parse(r#""paper jam" tray -"e 13" -toner or fuser"#);
        assert!(query.has_phrases() && !parse("paper jam -toner").has_phrases());
        assert!(parse(r#"paper -"e 13""#).has_phrases());
        assert_eq!(to_websearch(&query.loosened()), "paper jam tray -toner or fuser");
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
    fn the_vocabulary_holds_words_not_codes() {
        let texts = [fold_text("Printer shows error E-13"), fold_text("error 0x80070005 in printer a4 driver")];
        assert_eq!(vocabulary(&texts), ["driver", "error", "printer", "shows"]);
    }

    #[test]
    fn a_query_that_found_nothing_is_corrected_word_by_word() {
        let known = |word: &str| match word {
            "pritner" => Some("printer".to_owned()),
            "jam" => Some("jam".to_owned()),
            _ => None,
        };
        let fixed = corrected(&parse(r#"pritner "paper jam" -toner or holidya"#), known).unwrap();
        assert_eq!(to_websearch(&fixed), "printer -toner", "a phrase with an unknown word goes");
        let fixed = corrected(&parse(r#"jam -"e 13" or "pritner jam""#), known).unwrap();
        assert_eq!(to_websearch(&fixed), r#"jam -"e 13" or "printer jam""#);
        assert_eq!(corrected(&parse("holidya"), known), None);
        assert_eq!(corrected(&parse("\"jam jam\""), known), None, "nothing to correct: the query found nothing as typed");
    }

    #[test]
    fn a_known_word_stays_and_a_typo_takes_the_closest_word() {
        let row = |typed: &str, word: &str, score: f64| (typed.to_owned(), word.to_owned(), score);
        let alike = [
            row("eror", "errors", 0.5),
            row("eror", "error", 0.57),
            row("eror", "terror", 0.33),
            row("jam", "jams", 0.5),
            row("jam", "jam", 1.0),
            row("holidya", "holiday", 0.2),
        ];
        assert_eq!(best_alike("eror", &alike).as_deref(), Some("error"));
        assert_eq!(best_alike("jam", &alike).as_deref(), Some("jam"));
        assert_eq!(best_alike("holidya", &alike), None, "not alike enough");
        assert_eq!(best_alike("fuser", &alike), None);
    }

    #[test]
    fn each_language_is_searched_with_its_stemmer() {
        assert_eq!(text_search_config("en"), "english");
        assert_eq!(text_search_config("pt-BR"), "portuguese");
        assert_eq!(text_search_config("DE_ch"), "german");
        assert_eq!(text_search_config("nb"), "norwegian");
        // No stemmer here for these: words as typed.
        assert_eq!(text_search_config("ja"), "simple");
        assert_eq!(text_search_config(""), "simple");
    }

    #[test]
    fn snippets_mark_the_words_looked_for_in_their_forms_where_they_are_thickest() {
        let text = "Printers jam. Open the front cover, then pull the jammed sheet out slowly; a sheet \
                    stuck in tray 2 means the rollers are worn. Nothing else: check cables, power, \
                    the network and the driver, which rarely matters. Finally, printing resumes.";
        let words = ["printer".to_owned(), "jam".to_owned()];
        let html = snippet_html(&snippet(text, &words, "en"));
        assert!(
            html.starts_with(
                "<mark>Printers</mark> <mark>jam</mark>. Open the front cover, then pull the <mark>jammed</mark> sheet"
            ),
            "{html}"
        );
        assert!(html.ends_with(" …"), "the text goes on: {html}");
        assert!(!html.contains("<mark>printing</mark>") || html.contains("… "), "{html}");
        // German forms; no stemmer for Japanese, words match as typed.
        let html = snippet_html(&snippet("Öffnen Sie die Klappe des Druckers.", &["drucker".to_owned()], "de"));
        assert_eq!(html, "Öffnen Sie die Klappe des <mark>Druckers</mark>.");
        // Nothing looked for is in it: the start of the text.
        let start = snippet(text, &["invoice".to_owned()], "en");
        assert!(start.starts_with("Printers jam. Open") && !start.contains(MARK_START), "{start}");
        assert_eq!(snippet("", &words, "en"), "");
    }

    #[test]
    fn snippets_escape_the_text_and_mark_the_matches() {
        let marked = format!("Use <b>care</b> & pull the {MARK_START}paper{MARK_END} out");
        assert_eq!(snippet_html(&marked), "Use &lt;b&gt;care&lt;/b&gt; &amp; pull the <mark>paper</mark> out");
    }

    #[test]
    fn words_are_alike_by_their_trigrams_as_pg_trgm_counts_them() {
        assert!((similarity("printer", "printer") - 1.0).abs() < 1e-9);
        // PostgreSQL: similarity('pritner', 'printer') = 0.33333334, ('eror', 'error') = 0.5714286.
        assert!((similarity("pritner", "printer") - 4.0 / 12.0).abs() < 1e-6);
        assert!((similarity("eror", "error") - 4.0 / 7.0).abs() < 1e-6);
        assert!(similarity("invoice", "printer") < SIMILAR_MIN);
    }
}
