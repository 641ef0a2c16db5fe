//! The search index of live articles and the queries on it.
//!
//! One `article_search` row per live, unarchived article holds what its
//! readers may find (the live version's text, the article's audience and
//! filters), written in the transaction of the change that makes it so.
//!
//! PostgreSQL indexes words in weighted `tsvector`s (title over tags over
//! text, folded by [`search::fold_text`] as queries are, stemmed by the
//! article's language: [`search::text_search_config`]). A query is read
//! in each language the index holds, each article matched by the reading
//! of its own.
//! Ranking runs in two steps, so that a common word matching thousands of
//! articles costs little: every match is ordered by the words of its title,
//! tags and summary (`head`, kept in the row), and only the best
//! [`CANDIDATES`] of them are ranked on their whole document (kept out of
//! the row) and get a snippet. A query that matches nothing is read again
//! with each unknown word replaced by the words of the index's vocabulary
//! most alike to it (trigrams, `pg_trgm`).
//!
//! SQLite does the same with FTS5 (`bm25` with column weights, English
//! stemming, its own accent folding; the vocabulary's trigrams in an FTS5
//! table, scored here as pg_trgm scores them). Snippets are made here from
//! each hit's text on both.

use docket_kit::db::placeholder;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Statement, TransactionTrait, Value,
};

use super::Store;
use crate::{
    domain::{
        articles::{Audience, State},
        markdown,
        search::{self, Query, SIMILAR_MIN},
    },
    records::{
        entities::{article, article_version},
        strings_of,
    },
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

/// What a search is narrowed to, beside the audiences its reader may see.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub audiences: Vec<Audience>,
    pub category_id: Option<String>,
    pub tag: Option<String>,
    pub locale: Option<String>,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub article_id: String,
    pub slug: String,
    pub title: String,
    pub audience: String,
    /// HTML: escaped text with `<mark>` around matched words.
    pub snippet: String,
    /// Higher is better; only comparable within one result page.
    pub rank: f64,
}

/// A page of results. When nothing matched as typed, these match the
/// query with its typos corrected, `corrected` (web-search syntax, to show
/// the reader what was searched for instead).
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub more: bool,
    pub corrected: Option<String>,
}

/// The format [`index_article`] writes rows in; rows of an older one are
/// rewritten by [`Store::reindex_stale`] when the service starts.
pub const INDEX_FORMAT: i16 = 1;

/// How many of the matches ordered by their title, tags and summary are
/// ranked on their whole text. Pages past them rank the next as many.
pub const CANDIDATES: u64 = 60;

/// How many matches of each kind (see [`postgres_search_statement`]) are
/// read at most: a word that thousands of articles use costs no more than
/// a rarer one.
pub const SCANNED: u64 = 500;

/// How many articles holding a phrase's words are read at most to find
/// those in whose text the words stand together.
pub const PHRASE_CHECKED: u64 = 500;

/// Writes (or removes) the article's search row: present exactly while a
/// version is live and the article is not archived. Public for bulk loads
/// in a transaction of their own (`docket-bench kb-search` seeds with it).
pub async fn index_article(
    db: &DatabaseTransaction,
    article: &article::Model,
    live: Option<&article_version::Model>,
) -> Result<()> {
    let backend = db.get_database_backend();
    let id = Value::from(article.id.clone());
    let delete = |table: &str| {
        Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM {table} WHERE article_id = {}", placeholder(backend, 1)),
            [id.clone()],
        )
    };
    let Some(live) = live.filter(|_| article.state != State::Archived.name()) else {
        db.execute_raw(delete("article_search")).await?;
        if backend == DbBackend::Sqlite {
            db.execute_raw(delete("article_search_words")).await?;
        }
        return Ok(());
    };
    let searchable = Searchable::of(live);
    add_vocabulary(db, searchable.words(reach_of(article)).collect()).await?;
    let Searchable { tags_text, body_text, folded } = searchable;
    let values = [
        id.clone(),
        article.slug.clone().into(),
        article.audience.clone().into(),
        article.locale.clone().into(),
        article.category_id.clone().into(),
        live.tags.clone().into(),
        live.title.clone().into(),
        live.summary.clone().into(),
        body_text.clone().into(),
        INDEX_FORMAT.into(),
    ];
    match backend {
        DbBackend::Postgres => {
            // PostgreSQL indexes the text folded as queries are (its own
            // parser would read "E-13" as "e" and "-13").
            let sql = "INSERT INTO article_search \
                 (article_id, slug, audience, locale, category_id, tags, title, summary, body_text, indexed_as, \
                  language, head, document) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, c.language, \
                   setweight(to_tsvector(c.config, $12), 'A') || setweight(to_tsvector(c.config, $13), 'B') || \
                   setweight(to_tsvector(c.config, $14), 'C') || c.tag, \
                   setweight(to_tsvector(c.config, $12), 'A') || setweight(to_tsvector(c.config, $13), 'B') || \
                   setweight(to_tsvector(c.config, $14 || ' ' || $15), 'C') || c.tag \
                 FROM (SELECT $11::text AS language, $11::text::regconfig AS config, \
                   array_to_tsvector(ARRAY['~' || $11::text]) AS tag) c \
                 ON CONFLICT (article_id) DO UPDATE SET slug = EXCLUDED.slug, audience = EXCLUDED.audience, \
                 locale = EXCLUDED.locale, category_id = EXCLUDED.category_id, tags = EXCLUDED.tags, \
                 title = EXCLUDED.title, summary = EXCLUDED.summary, body_text = EXCLUDED.body_text, \
                 indexed_as = EXCLUDED.indexed_as, language = EXCLUDED.language, head = EXCLUDED.head, \
                 document = EXCLUDED.document";
            let mut values = values.to_vec();
            values.push(search::text_search_config(&article.locale).into());
            values.extend(folded.map(Value::from));
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        }
        _ => {
            // FTS5 folds by itself and keeps the original text for snippets.
            let sql = "INSERT OR REPLACE INTO article_search \
                 (article_id, slug, audience, locale, category_id, tags, title, summary, body_text, indexed_as) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values.to_vec())).await?;
            db.execute_raw(delete("article_search_words")).await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO article_search_words (article_id, title, tags, body) VALUES (?, ?, ?, ?)",
                [id, live.title.clone().into(), tags_text.into(), format!("{} {body_text}", live.summary).into()],
            ))
            .await?;
        }
    }
    Ok(())
}

/// The text of a live version as the index reads it.
struct Searchable {
    tags_text: String,
    body_text: String,
    /// Title, tags, summary and body folded as queries are.
    folded: [String; 4],
}

impl Searchable {
    fn of(live: &article_version::Model) -> Searchable {
        let tags_text = strings_of(&live.tags).join(" ");
        let body_text = markdown::to_text(&live.body_markdown);
        let folded = [&live.title, &tags_text, &live.summary, &body_text].map(|text| search::fold_text(text));
        Searchable { tags_text, body_text, folded }
    }

    /// The words a typo may be corrected to, each known as widely as `reach`.
    fn words(&self, reach: i16) -> impl Iterator<Item = (String, i16)> + use<> {
        search::vocabulary(&self.folded).into_iter().map(move |word| (word, reach))
    }
}

/// How widely an article is read ([`Audience::reach`]), the words of its
/// text known as widely.
fn reach_of(article: &article::Model) -> i16 {
    Audience::from_name(&article.audience).map_or(Audience::Internal.reach(), Audience::reach)
}

/// The words of articles' live versions a typo may be corrected to, with
/// how widely each article is read, for [`add_vocabulary`].
pub fn vocabulary_of<'a>(
    articles: impl IntoIterator<Item = (&'a article::Model, &'a article_version::Model)>,
) -> Vec<(String, i16)> {
    let mut words: Vec<(String, i16)> =
        articles.into_iter().flat_map(|(article, live)| Searchable::of(live).words(reach_of(article))).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// Adds words to the vocabulary of typo corrections, each with how widely
/// the article using it is read: a reader's typo is only corrected to a
/// word of an article of an audience they may read. Words are only ever
/// added: one no article uses any more corrects a typo to a query that
/// finds nothing. On PostgreSQL they are inserted in one order, so that
/// two transactions adding words never wait on each other in a cycle; one
/// that indexes many articles adds all their words first. On SQLite a
/// trigger puts each new word into the FTS5 index of its trigrams.
pub async fn add_vocabulary(db: &DatabaseTransaction, words: Vec<(String, i16)>) -> Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let (words, reaches): (Vec<String>, Vec<i16>) = words.into_iter().unzip();
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO article_search_vocabulary (word, reach) \
                 SELECT w, r FROM unnest($1::text[], $2::smallint[]) AS v(w, r) ORDER BY w, r \
                 ON CONFLICT DO NOTHING",
                [words.into(), reaches.into()],
            ))
            .await?;
        }
        _ => {
            for (word, reach) in words {
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "INSERT OR IGNORE INTO article_search_vocabulary (word, reach) VALUES (?, ?)",
                    [word.into(), reach.into()],
                ))
                .await?;
            }
        }
    }
    Ok(())
}

/// SQL conditions (on `s`, the search table) for the filter, and their
/// values, numbered from `first`.
fn conditions(backend: DbBackend, filter: &SearchFilter, first: usize) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    let next = |value: Value, values: &mut Vec<Value>| {
        values.push(value);
        placeholder(backend, first + values.len() - 1)
    };
    let audiences: Vec<String> = filter.audiences.iter().map(|a| next(a.name().to_owned().into(), &mut values)).collect();
    if audiences.is_empty() {
        // A reader who may read nothing finds nothing.
        sql.push_str(" AND 1 = 0");
    } else {
        sql.push_str(&format!(" AND s.audience IN ({})", audiences.join(", ")));
    }
    if let Some(category) = &filter.category_id {
        let p = next(category.clone().into(), &mut values);
        sql.push_str(&format!(" AND s.category_id = {p}"));
    }
    if let Some(locale) = &filter.locale {
        let p = next(locale.clone().into(), &mut values);
        sql.push_str(&format!(" AND s.locale = {p}"));
    }
    if let Some(tag) = &filter.tag {
        // Tags are stored as a JSON array of quote-free words.
        let p = next(format!("%\"{}\"%", tag.replace(['"', '%', '_'], "")).into(), &mut values);
        sql.push_str(&format!(" AND s.tags LIKE {p}"));
    }
    (sql, values)
}

impl Store {
    /// A page of live articles matching `query`, best first, that the
    /// filter's audiences may read. When nothing matches as typed, the
    /// query with each unknown word replaced by the most alike word of the
    /// index's vocabulary ([`search::corrected`]).
    pub async fn search(&self, query: &Query, filter: &SearchFilter, offset: u64, limit: u64) -> Result<Results> {
        let exact = self.search_as_typed(query, filter, offset, limit).await?;
        if !exact.hits.is_empty() || offset > 0 {
            return Ok(exact);
        }
        let Some(fixed) = self.corrected(query, filter).await? else { return Ok(exact) };
        let hits = self.search_as_typed(&fixed, filter, 0, limit).await?.hits;
        let corrected = (!hits.is_empty()).then(|| search::to_websearch(&fixed));
        Ok(Results { hits, more: false, corrected })
    }

    /// `query` with each word the vocabulary does not know replaced by the
    /// most alike one it does, among the words of articles the filter's
    /// audiences may read ([`search::corrected`]); `None` when there is
    /// nothing to replace or nothing left. Public so that `docket-bench
    /// kb-search` can `EXPLAIN` the search it leads to.
    pub async fn corrected(&self, query: &Query, filter: &SearchFilter) -> Result<Option<Query>> {
        let mut typed = query.words();
        typed.sort_unstable();
        typed.dedup();
        // The words of the narrowest audience the reader may read, and so of every wider one.
        let Some(reach) = filter.audiences.iter().map(|audience| audience.reach()).min() else { return Ok(None) };
        let alike = match self.db.get_database_backend() {
            DbBackend::Postgres => alike_postgres(&self.db, &typed, reach).await?,
            _ => alike_sqlite(&self.db, &typed, reach).await?,
        };
        Ok(search::corrected(query, |word| search::best_alike(word, &alike)))
    }

    async fn search_as_typed(&self, query: &Query, filter: &SearchFilter, offset: u64, limit: u64) -> Result<Results> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let rows = self.db.query_all_raw(postgres_search_statement(query, filter, offset, limit)).await?;
                page(rows, query, limit)
            }
            _ => search_sqlite(&self.db, query, filter, offset, limit).await,
        }
    }

    /// Rewrites the search rows of live articles indexed in an older
    /// format than [`INDEX_FORMAT`] (or not at all), a batch per
    /// transaction, so that a new format takes effect without anyone
    /// editing the articles. Returns how many were rewritten.
    pub async fn reindex_stale(&self) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let mut after = String::new();
        let mut rewritten = 0;
        loop {
            let stale = self
                .db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "SELECT a.id FROM articles a LEFT JOIN article_search s ON s.article_id = a.id \
                         WHERE a.id > {} AND a.live_version IS NOT NULL AND a.state <> {} \
                           AND (s.article_id IS NULL OR s.indexed_as < {}) \
                         ORDER BY a.id LIMIT 200",
                        placeholder(backend, 1),
                        placeholder(backend, 2),
                        placeholder(backend, 3)
                    ),
                    [after.clone().into(), State::Archived.name().into(), INDEX_FORMAT.into()],
                ))
                .await?;
            let ids = stale.iter().map(|row| row.try_get::<String>("", "id")).collect::<std::result::Result<Vec<_>, _>>()?;
            let Some(last) = ids.last() else { return Ok(rewritten) };
            after = last.clone();
            let txn = self.db.begin().await?;
            let articles = article::Entity::find()
                .filter(article::Column::Id.is_in(ids))
                .order_by_asc(article::Column::Id)
                .all(&txn)
                .await?;
            let mut versions = Vec::new();
            for article in &articles {
                let live = match article.live_version {
                    Some(version) => article_version::Entity::find_by_id((article.id.clone(), version)).one(&txn).await?,
                    None => None,
                };
                versions.push(live);
            }
            let live = articles.iter().zip(&versions).filter_map(|(article, live)| live.as_ref().map(|live| (article, live)));
            add_vocabulary(&txn, vocabulary_of(live)).await?;
            for (article, live) in articles.iter().zip(&versions) {
                index_article(&txn, article, live.as_ref()).await?;
            }
            txn.commit().await?;
            rewritten += articles.len() as u64;
        }
    }
}

/// A hit from a row of a search statement, its snippet for `looked_for`.
fn hit(row: &sea_orm::QueryResult, looked_for: &[String]) -> std::result::Result<Hit, DbErr> {
    let text = format!("{} {}", row.try_get::<String>("", "summary")?, row.try_get::<String>("", "body_text")?);
    let marked = search::snippet(&text, looked_for, &row.try_get::<String>("", "locale")?);
    Ok(Hit {
        article_id: row.try_get("", "article_id")?,
        slug: row.try_get("", "slug")?,
        title: row.try_get("", "title")?,
        audience: row.try_get("", "audience")?,
        snippet: search::snippet_html(&marked),
        rank: row.try_get("", "rank")?,
    })
}

/// The statement of a search on PostgreSQL: one more row than `limit`, to
/// tell whether another page follows. Public so that `docket-bench
/// kb-search` can `EXPLAIN` what the service runs.
///
/// The query is read in each language the index holds, and an article
/// matches when the reading of its own language does (rows carry their
/// language as a lexeme, `~english`: a word excluded in one reading may be
/// stemmed otherwise in another); with one language, the reading is the
/// query. Ranks take any reading's words; snippets are made here
/// ([`search::snippet`]) from the hits' text.
///
/// Candidates come from two index scans, each reading at most [`SCANNED`]
/// matches: articles whose title, tags and summary hold the whole query
/// (`head`: the strong ones), and, unless those reached the limit, the
/// articles that match by their text. They are ordered by `head`, and
/// ranked on their whole document in tiers of [`CANDIDATES`], as many as
/// the page reaches into; every page is cut from that one order. A search
/// thus offers its best 500 to 1,000 matches, not every article that
/// mentions a common word; and a phrase found only in articles' text, not
/// in their head, is looked for among the first [`PHRASE_CHECKED`]
/// articles that hold its words.
pub fn postgres_search_statement(query: &Query, filter: &SearchFilter, offset: u64, limit: u64) -> Statement {
    // The query, and its phrases loosened to their words (see `weak`).
    let phrases = query.has_phrases();
    let loose = if phrases { query.loosened() } else { query.clone() };
    let mut values: Vec<Value> = vec![search::to_websearch(query).into(), search::to_websearch(&loose).into()];
    // The languages to read the query in: the one asked for, or each one
    // the index holds (a loose scan of its index: one probe a language).
    let languages = match &filter.locale {
        Some(locale) => {
            values.push(search::text_search_config(locale).into());
            "languages(language) AS (SELECT $3::text)".to_owned()
        }
        None => "languages(language) AS (SELECT min(language) FROM article_search \
             UNION ALL SELECT (SELECT min(s.language) FROM article_search s WHERE s.language > l.language) \
             FROM languages l WHERE l.language IS NOT NULL)"
            .to_owned(),
    };
    let (where_sql, filter_values) = conditions(DbBackend::Postgres, filter, values.len() + 1);
    values.extend(filter_values);
    // The tiers the page reaches into.
    let candidates = (offset + limit + 1).div_ceil(CANDIDATES) * CANDIDATES;
    for n in [candidates, limit + 1, offset] {
        values.push(i64::try_from(n).unwrap_or(i64::MAX).into());
    }
    let [candidates_p, limit_p, offset_p] = [3, 2, 1].map(|back| values.len() + 1 - back);
    // Weights of D, C (text), B (tags), A (title): an article named after
    // the problem comes before one that mentions it.
    let weights = "'{0.05, 0.1, 0.4, 1.0}'";
    // A title without a word the reader excluded may still have it in its text.
    let excludes = query.any_of.iter().any(|c| !c.must_not.is_empty());
    let strong_too = if excludes { " AND s.document @@ q.matching" } else { "" };
    // Each language's reading, with several languages each article matched by its own.
    let matching = |column: &str| {
        format!(
            "CASE WHEN count(*) > 1 \
             THEN string_agg('((' || r.{column}::text || ') & ''~' || r.language || ''')', ' | ')::tsquery \
             ELSE string_agg(r.{column}::text, '')::tsquery END"
        )
    };
    let (matching_query, matching_loose) = (matching("query"), matching("loose"));
    // A phrase's words may stand together in few of the articles that hold
    // them all, and telling which reads each one's whole document: those
    // read are the first PHRASE_CHECKED that hold the words (none, when
    // stop words left the phrase a single word).
    let weak = if phrases {
        format!(
            "SELECT w.article_id, ts_rank({weights}, w.head, q.query) AS head_rank \
             FROM (SELECT s.article_id, s.head, s.document FROM article_search s, q \
               WHERE (SELECT count(*) FROM strong) < {SCANNED} \
               AND s.document @@ q.loose AND NOT s.head @@ q.matching{where_sql} LIMIT {PHRASE_CHECKED}) w, q \
             WHERE (q.loose = q.matching OR w.document @@ q.matching) LIMIT {SCANNED}"
        )
    } else {
        format!(
            "SELECT s.article_id, ts_rank({weights}, s.head, q.query) AS head_rank \
             FROM article_search s, q WHERE (SELECT count(*) FROM strong) < {SCANNED} \
             AND s.document @@ q.matching AND NOT s.head @@ q.matching{where_sql} LIMIT {SCANNED}"
        )
    };
    let sql = format!(
        "WITH RECURSIVE {languages}, \
         readings AS (SELECT l.language, websearch_to_tsquery(l.language::regconfig, $1) AS query, \
           websearch_to_tsquery(l.language::regconfig, $2) AS loose FROM languages l WHERE l.language IS NOT NULL), \
         q AS (SELECT string_agg('(' || r.query::text || ')', ' | ')::tsquery AS query, \
           {matching_query} AS matching, {matching_loose} AS loose \
           FROM readings r WHERE numnode(r.query) > 0), \
         strong AS MATERIALIZED (SELECT s.article_id, ts_rank({weights}, s.head, q.query) AS head_rank \
           FROM article_search s, q WHERE s.head @@ q.matching{strong_too}{where_sql} LIMIT {SCANNED}), \
         weak AS ({weak}), \
         matches AS (SELECT * FROM strong UNION ALL SELECT * FROM weak \
           ORDER BY head_rank DESC, article_id LIMIT ${candidates_p}), \
         tiers AS (SELECT m.article_id, \
           (row_number() OVER (ORDER BY m.head_rank DESC, m.article_id) - 1) / {CANDIDATES} AS tier FROM matches m) \
         SELECT s.article_id, s.slug, s.title, s.audience, s.locale, s.summary, s.body_text, \
           ts_rank_cd({weights}, s.document, q.query)::float8 AS rank \
         FROM tiers t JOIN article_search s ON s.article_id = t.article_id, q \
         ORDER BY t.tier, rank DESC, s.article_id LIMIT ${limit_p} OFFSET ${offset_p}"
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn search_sqlite(
    db: &DatabaseConnection,
    query: &Query,
    filter: &SearchFilter,
    offset: u64,
    limit: u64,
) -> Result<Results> {
    let Some(matching) = search::to_fts5(query) else { return Ok(Results { hits: Vec::new(), more: false, corrected: None }) };
    let mut values: Vec<Value> = vec![matching.into()];
    let (where_sql, filter_values) = conditions(DbBackend::Sqlite, filter, 2);
    values.extend(filter_values);
    values.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    // bm25 is better when lower; title weighs 10, tags 5, text 1.
    let sql = format!(
        "SELECT s.article_id, s.slug, s.title, s.audience, s.locale, s.summary, s.body_text, \
           -bm25(article_search_words, 0.0, 10.0, 5.0, 1.0) AS rank \
         FROM article_search_words w JOIN article_search s ON s.article_id = w.article_id \
         WHERE article_search_words MATCH ?{where_sql} \
         ORDER BY rank DESC, s.article_id LIMIT ? OFFSET ?"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
    page(rows, query, limit)
}

/// A page of `limit` hits for `query` from one more row, if there is one.
fn page(rows: Vec<sea_orm::QueryResult>, query: &Query, limit: u64) -> Result<Results> {
    let more = rows.len() as u64 > limit;
    let looked_for = query.words();
    let hits = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|row| hit(row, &looked_for))
        .collect::<std::result::Result<_, _>>()?;
    Ok(Results { hits, more, corrected: None })
}

/// For each typed word, the vocabulary's words most alike to it by
/// pg_trgm's `similarity` (the nearest by its trigram index), as `(typed,
/// word, similarity)`.
async fn alike_postgres(db: &DatabaseConnection, typed: &[String], reach: i16) -> Result<Vec<(String, String, f64)>> {
    if typed.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db.query_all_raw(postgres_alike_statement(typed, reach)).await?;
    rows.iter().map(|row| Ok((row.try_get("", "typed")?, row.try_get("", "word")?, row.try_get("", "score")?))).collect()
}

/// The statement finding, for each typed word, the three words nearest to
/// it by trigrams (a GiST index walk) among those of articles read at least
/// as widely as `reach`; how alike is enough is decided by the caller
/// ([`search::best_alike`]). Public so that `docket-bench kb-search` can
/// `EXPLAIN` it.
pub fn postgres_alike_statement(typed: &[String], reach: i16) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT t.typed, v.word, public.similarity(v.word, t.typed)::float8 AS score \
         FROM unnest($1::text[]) AS t(typed) CROSS JOIN LATERAL ( \
           SELECT w.word FROM article_search_vocabulary w WHERE w.reach >= $2 \
           ORDER BY w.word OPERATOR(public.<->) t.typed LIMIT 3) v",
        [typed.to_vec().into(), reach.into()],
    )
}

/// The same on SQLite: the words sharing a trigram with a typed word
/// (FTS5's trigram index), scored here as pg_trgm scores them.
async fn alike_sqlite(db: &DatabaseConnection, typed: &[String], reach: i16) -> Result<Vec<(String, String, f64)>> {
    let mut alike = Vec::new();
    for word in typed {
        let chars: Vec<char> = word.chars().collect();
        // Folded words hold only [a-z0-9]: quoted, they are plain trigrams.
        let grams: Vec<String> = chars.windows(3).map(|w| format!("\"{}\"", w.iter().collect::<String>())).collect();
        if grams.is_empty() {
            continue;
        }
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT DISTINCT word FROM article_search_vocabulary_trigrams \
                 WHERE article_search_vocabulary_trigrams MATCH ? AND reach >= ?",
                [grams.join(" OR ").into(), reach.into()],
            ))
            .await?;
        for row in &rows {
            let known: String = row.try_get("", "word")?;
            let score = search::similarity(&known, word);
            if score >= SIMILAR_MIN {
                alike.push((word.clone(), known, score));
            }
        }
    }
    Ok(alike)
}
