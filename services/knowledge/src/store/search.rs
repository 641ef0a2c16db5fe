//! The search index of live articles and the queries on it.
//!
//! One `article_search` row per live, unarchived article holds what its
//! readers may find (the live version's text, the article's audience and
//! filters), written in the transaction of the change that makes it so.
//! PostgreSQL ranks words in a weighted `tsvector` (title over tags over
//! text, folded by [`search::fold_text`] as queries are) and finds typos in
//! titles by trigrams (`pg_trgm`); SQLite does the same with FTS5 (`bm25`
//! with column weights, its own accent folding) and scores typos against
//! the titles that share a trigram.

use docket_kit::mutation::Tx;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};

use super::Store;
use crate::{
    domain::{
        articles::{Audience, State},
        markdown,
        search::{self, FUZZY_MIN, MARK_END, MARK_START, Query},
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

/// A page of results; `fuzzy` when nothing matched exactly and these are
/// titles alike to what was typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub more: bool,
    pub fuzzy: bool,
}

/// Writes (or removes) the article's search row: present exactly while a
/// version is live and the article is not archived. Public for bulk loads
/// in a transaction of their own (`docket-bench kb-search` seeds with it).
pub async fn index_article(tx: &Tx, article: &article::Model, live: Option<&article_version::Model>) -> Result<()> {
    let db = &**tx;
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
            db.execute_raw(delete("article_search_trigrams")).await?;
        }
        return Ok(());
    };
    let tags_text = strings_of(&live.tags).join(" ");
    let body_text = markdown::to_text(&live.body_markdown);
    // PostgreSQL indexes the text folded as queries are (its own parser
    // would read "E-13" as "e" and "-13"); SQLite's FTS5 folds by itself
    // and keeps the original text for snippets.
    let folded = [
        search::fold_text(&live.title),
        search::fold_text(&tags_text),
        search::fold_text(&format!("{} {body_text}", live.summary)),
    ];
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
    ];
    match backend {
        DbBackend::Postgres => {
            let sql = "INSERT INTO article_search \
                 (article_id, slug, audience, locale, category_id, tags, title, summary, body_text, document) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 setweight(to_tsvector('simple', $10), 'A') || setweight(to_tsvector('simple', $11), 'B') || \
                 setweight(to_tsvector('simple', $12), 'C')) \
                 ON CONFLICT (article_id) DO UPDATE SET slug = EXCLUDED.slug, audience = EXCLUDED.audience, \
                 locale = EXCLUDED.locale, category_id = EXCLUDED.category_id, tags = EXCLUDED.tags, \
                 title = EXCLUDED.title, summary = EXCLUDED.summary, body_text = EXCLUDED.body_text, \
                 document = EXCLUDED.document";
            let mut values = values.to_vec();
            values.extend(folded.map(Value::from));
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        }
        _ => {
            let sql = "INSERT OR REPLACE INTO article_search \
                 (article_id, slug, audience, locale, category_id, tags, title, summary, body_text) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values.to_vec())).await?;
            db.execute_raw(delete("article_search_words")).await?;
            db.execute_raw(delete("article_search_trigrams")).await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO article_search_words (article_id, title, tags, body) VALUES (?, ?, ?, ?)",
                [id.clone(), live.title.clone().into(), tags_text.into(), format!("{} {body_text}", live.summary).into()],
            ))
            .await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO article_search_trigrams (article_id, title) VALUES (?, ?)",
                [id, folded[0].clone().into()],
            ))
            .await?;
        }
    }
    Ok(())
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
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
    /// filter's audiences may read. When nothing matches exactly, the
    /// titles most alike to the typed words.
    pub async fn search(&self, query: &Query, filter: &SearchFilter, offset: u64, limit: u64) -> Result<Results> {
        let exact = match self.db.get_database_backend() {
            DbBackend::Postgres => search_postgres(&self.db, query, filter, offset, limit).await?,
            _ => search_sqlite(&self.db, query, filter, offset, limit).await?,
        };
        if !exact.hits.is_empty() || offset > 0 {
            return Ok(exact);
        }
        let fuzzy = match self.db.get_database_backend() {
            DbBackend::Postgres => fuzzy_postgres(&self.db, query, filter, limit).await?,
            _ => fuzzy_sqlite(&self.db, query, filter, limit).await?,
        };
        Ok(Results { hits: fuzzy, more: false, fuzzy: true })
    }
}

fn hit(row: &sea_orm::QueryResult, rank: f64, snippet: String) -> std::result::Result<Hit, DbErr> {
    Ok(Hit {
        article_id: row.try_get("", "article_id")?,
        slug: row.try_get("", "slug")?,
        title: row.try_get("", "title")?,
        audience: row.try_get("", "audience")?,
        snippet: search::snippet_html(&snippet),
        rank,
    })
}

async fn search_postgres(
    db: &DatabaseConnection,
    query: &Query,
    filter: &SearchFilter,
    offset: u64,
    limit: u64,
) -> Result<Results> {
    let rows = db.query_all_raw(postgres_search_statement(query, filter, offset, limit)).await?;
    page(rows, limit, |row| Ok((row.try_get::<f64>("", "rank")?, row.try_get::<String>("", "snippet")?)))
}

/// The statement of the exact search on PostgreSQL: one more row than
/// `limit`, to tell whether another page follows. Public so that
/// `docket-bench kb-search` can `EXPLAIN` what the service runs.
pub fn postgres_search_statement(query: &Query, filter: &SearchFilter, offset: u64, limit: u64) -> Statement {
    let options =
        format!("StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"");
    let mut values: Vec<Value> = vec![search::to_websearch(query).into(), options.into()];
    let (where_sql, filter_values) = conditions(DbBackend::Postgres, filter, 3);
    values.extend(filter_values);
    values.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    let (limit_p, offset_p) = (values.len() - 1, values.len());
    // Weights of D, C (text), B (tags), A (title): an article named after
    // the problem comes before one that mentions it.
    let sql = format!(
        "WITH q AS (SELECT websearch_to_tsquery('simple', $1) AS query) \
         SELECT s.article_id, s.slug, s.title, s.audience, \
           ts_rank_cd('{{0.05, 0.1, 0.4, 1.0}}', s.document, q.query)::float8 AS rank, \
           ts_headline('simple', s.summary || ' ' || s.body_text, q.query, $2) AS snippet \
         FROM article_search s, q \
         WHERE s.document @@ q.query{where_sql} \
         ORDER BY rank DESC, s.article_id LIMIT ${limit_p} OFFSET ${offset_p}"
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
    let Some(matching) = search::to_fts5(query) else { return Ok(Results { hits: Vec::new(), more: false, fuzzy: false }) };
    let mut values: Vec<Value> = vec![matching.into()];
    let (where_sql, filter_values) = conditions(DbBackend::Sqlite, filter, 2);
    values.extend(filter_values);
    values.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    // bm25 is better when lower; title weighs 10, tags 5, text 1.
    let sql = format!(
        "SELECT s.article_id, s.slug, s.title, s.audience, \
           -bm25(article_search_words, 0.0, 10.0, 5.0, 1.0) AS rank, \
           snippet(article_search_words, 3, char(2), char(3), ' … ', 24) AS snippet \
         FROM article_search_words w JOIN article_search s ON s.article_id = w.article_id \
         WHERE article_search_words MATCH ?{where_sql} \
         ORDER BY rank DESC, s.article_id LIMIT ? OFFSET ?"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
    page(rows, limit, |row| Ok((row.try_get::<f64>("", "rank")?, row.try_get::<String>("", "snippet")?)))
}

fn page(
    rows: Vec<sea_orm::QueryResult>,
    limit: u64,
    rank_and_snippet: impl Fn(&sea_orm::QueryResult) -> std::result::Result<(f64, String), DbErr>,
) -> Result<Results> {
    let more = rows.len() as u64 > limit;
    let mut hits = Vec::new();
    for row in rows.iter().take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let (rank, snippet) = rank_and_snippet(row)?;
        hits.push(hit(row, rank, snippet)?);
    }
    Ok(Results { hits, more, fuzzy: false })
}

/// Titles alike to the typed words, by pg_trgm's word similarity (its
/// index finds the candidates; the threshold is lowered for this
/// transaction so that two swapped letters still count).
async fn fuzzy_postgres(db: &DatabaseConnection, query: &Query, filter: &SearchFilter, limit: u64) -> Result<Vec<Hit>> {
    let Some(statement) = postgres_fuzzy_statement(query, filter, limit) else { return Ok(Vec::new()) };
    let txn = db.begin().await?;
    txn.execute_unprepared(&postgres_fuzzy_threshold()).await?;
    let rows = txn.query_all_raw(statement).await?;
    txn.commit().await?;
    rows.iter()
        .map(|row| {
            let summary: String = row.try_get("", "summary")?;
            Ok(hit(row, row.try_get("", "rank")?, summary)?)
        })
        .collect()
}

/// What the typo fallback's transaction runs before its statement.
pub fn postgres_fuzzy_threshold() -> String {
    format!("SET LOCAL pg_trgm.word_similarity_threshold = {}", search::PG_WORD_SIMILARITY_MIN)
}

/// The statement of the typo fallback on PostgreSQL, to run after
/// [`postgres_fuzzy_threshold`] in one transaction; `None` when no word was
/// typed. Public so that `docket-bench kb-search` can `EXPLAIN` it.
pub fn postgres_fuzzy_statement(query: &Query, filter: &SearchFilter, limit: u64) -> Option<Statement> {
    let typed = query.words().join(" ");
    if typed.is_empty() {
        return None;
    }
    let mut values: Vec<Value> = vec![typed.into()];
    let (where_sql, filter_values) = conditions(DbBackend::Postgres, filter, 2);
    values.extend(filter_values);
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let limit_p = values.len();
    let sql = format!(
        "SELECT s.article_id, s.slug, s.title, s.audience, s.summary, \
           public.word_similarity($1, s.title)::float8 AS rank \
         FROM article_search s \
         WHERE $1 OPERATOR(public.<%) s.title{where_sql} \
         ORDER BY rank DESC, s.article_id LIMIT ${limit_p}"
    );
    Some(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}

/// Titles alike to the typed words: those sharing a trigram with one of
/// them (FTS5's trigram index), scored here.
async fn fuzzy_sqlite(db: &DatabaseConnection, query: &Query, filter: &SearchFilter, limit: u64) -> Result<Vec<Hit>> {
    let typed = query.words();
    let grams: Vec<String> = typed
        .iter()
        .flat_map(|word| {
            let chars: Vec<char> = word.chars().collect();
            chars.windows(3).map(|w| format!("\"{}\"", w.iter().collect::<String>())).collect::<Vec<_>>()
        })
        .collect();
    if grams.is_empty() {
        return Ok(Vec::new());
    }
    let mut values: Vec<Value> = vec![grams.join(" OR ").into()];
    let (where_sql, filter_values) = conditions(DbBackend::Sqlite, filter, 2);
    values.extend(filter_values);
    let sql = format!(
        "SELECT s.article_id, s.slug, s.title, s.audience, s.summary \
         FROM article_search_trigrams t JOIN article_search s ON s.article_id = t.article_id \
         WHERE article_search_trigrams MATCH ?{where_sql}"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
    let mut hits = Vec::new();
    for row in &rows {
        let title: String = row.try_get("", "title")?;
        let score = search::fuzzy_score(&typed, &title);
        if score >= FUZZY_MIN {
            let summary: String = row.try_get("", "summary")?;
            hits.push(hit(row, score, summary)?);
        }
    }
    hits.sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.article_id.cmp(&b.article_id)));
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(hits)
}
