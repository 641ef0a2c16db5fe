//! `kb-search`: the knowledge base's search and article pages at the size
//! of a real help center (issue 13's goal: SearchArticles p99 under 20 ms at
//! 100,000 articles).
//!
//! Set-up (not timed): the knowledge service in-process on a loopback gRPC
//! port against a fresh PostgreSQL schema (dropped at the end unless
//! `--keep-schema`), the HTTP gateway in front of it, a dozen categories
//! created over gRPC, and then `--articles` published articles written in
//! bulk: batches of `--batch` articles, each batch one transaction of the
//! knowledge service's mutation runner that inserts the articles and their
//! frozen first versions (HTML rendered by the service's own Markdown
//! renderer) and writes each one's search row with the store's own
//! [`index_article`], the function PublishArticle calls. What is searched
//! is therefore exactly what PublishArticle would have written, without
//! 100,000 audit rows and events nobody reads here. Then `VACUUM ANALYZE`,
//! as autovacuum would have done after such a load.
//!
//! The articles are generated deterministically (`--seed`) from a
//! vocabulary of about two thousand support and common English words:
//! titles of 4–10 words, a one-sentence summary, Markdown bodies of
//! 150–600 words (headings, steps, notes, inline code), 1–4 tags, one of
//! twelve categories whose own words they use most, audiences 80 % public,
//! 12 % customers, 8 % internal.
//!
//! Timed, at each concurrency level, each client task with its own
//! connection: SearchArticles (20 per page, as the help center asks) as the
//! anonymous help-center reader (a service token acting for no one), once
//! with queries that match (2–3 words of a public article's title, quoted
//! phrases, `-word`) and once with typos that match nothing as typed and so
//! are corrected against the vocabulary's trigrams and searched again; and
//! the article page `GET /help/articles/{slug}` through the gateway. Before
//! timing it prints `EXPLAIN (ANALYZE, BUFFERS)` of the statements the
//! store runs for one matching and one typo query. A matching query that
//! finds nothing counts as an error (the article it was made from matches
//! it).

use std::{
    collections::HashSet,
    convert::Infallible,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::{Context, anyhow, ensure};
use clap::Args;
use docket::app::Target;
use docket_kit::{audit::Actor, events::outbox::RelayWaker, mutation::Mutations, request::RecordId};
use docket_knowledge::{
    domain::{
        ArticleId,
        articles::{Audience, State},
        markdown, search, slug,
    },
    records::{
        entities::{article, article_version},
        strings_json,
    },
    store::{
        SearchFilter, Store, add_vocabulary, index_article, postgres_alike_statement, postgres_search_statement, vocabulary_of,
    },
};
use docket_proto::knowledge::v1::{
    self as pb, article_service_client::ArticleServiceClient, category_service_client::CategoryServiceClient,
};
use http::Method;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel, Statement};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

use crate::{
    Auth, Row,
    billing::as_admin,
    drive_clients,
    gateway::{Http, Stack, http_client, send},
    pick, print_table,
};

#[derive(Args)]
pub struct KbSearchArgs {
    /// Published articles to seed.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    articles: u32,
    /// Calls per phase (matching searches, typo searches, article pages)
    /// and concurrency level.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// Concurrency levels, comma-separated: readers searching at once.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32], value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Vec<u32>,
    /// Articles written per seeding transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=2000))]
    batch: u32,
    /// Seeding transactions at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    seeders: u32,
    /// Seed of the generated articles and queries (same seed, same text).
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Keep the knowledge schema at the end (its name is printed), to look
    /// at it with psql; drop it yourself afterwards.
    #[arg(long)]
    keep_schema: bool,
    /// PostgreSQL to benchmark against; a fresh schema is created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
}

/// Hits per page, as the help center's search asks for.
const PAGE_SIZE: i32 = 20;
/// Distinct queries of each kind (they repeat when more calls are made).
const QUERIES: usize = 1000;
/// Who wrote and published the seeded articles.
const AUTHOR: &str = "system:bench";

pub async fn kb_search(args: KbSearchArgs) -> anyhow::Result<()> {
    let stack = Stack::start(&args.database_url, &[Target::Knowledge]).await?;
    let outcome = tokio::select! {
        outcome = async {
            stack.ready().await?;
            phases(&stack, &args).await
        } => outcome,
        () = crate::interrupted() => Err(anyhow!("interrupted")),
    };
    stack.stop(args.keep_schema).await;
    let rows = outcome?;
    print_table(&rows);
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    ensure!(errors == 0, "{errors} calls failed");
    Ok(())
}

// ---------------------------------------------------------------- the stack

fn as_service(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    // A constant ASCII value: `from_static` cannot panic here.
    request
        .metadata_mut()
        .insert("authorization", tonic::metadata::MetadataValue::from_static("Bearer docket-bench-service-token"));
    Ok(request)
}

type Articles = ArticleServiceClient<InterceptedService<Channel, Auth>>;

// ---------------------------------------------------------------- the phases

async fn phases(stack: &Stack, args: &KbSearchArgs) -> anyhow::Result<Vec<Row>> {
    let corpus = Arc::new(Corpus::new(args.seed, args.articles as usize));
    let categories = create_categories(&stack.grpc).await?;
    let db = docket_kit::db::connect(&stack.settings.database, docket_knowledge::SERVICE).await?;
    seed(&db, &corpus, &categories, args).await?;
    settle(&db).await?;

    let (matching, typos) = corpus.queries(QUERIES.min(args.requests as usize));
    explain(&db, &matching[0].text, &typos[0].text).await?;
    db.close().await?;

    let slugs: Arc<Vec<String>> = Arc::new(corpus.public_slugs(QUERIES.min(args.requests as usize)));
    let (matching, typos) = (Arc::new(matching), Arc::new(typos));
    let requests = args.requests as usize;
    let mut rows = Vec::new();
    let mut found = Vec::new();
    for &concurrency in &args.concurrency {
        // One connection per client task, opened before the clock starts.
        let mut clients: Vec<Articles> = Vec::new();
        for _ in 0..concurrency {
            let channel = Endpoint::from_shared(stack.grpc.clone())?.connect().await?;
            clients.push(ArticleServiceClient::with_interceptor(channel, as_service as Auth));
        }
        for (phase, queries, must_find) in [("SearchArticles (match)", &matching, true), ("SearchArticles (typo)", &typos, false)]
        {
            let queries = queries.clone();
            let (row, hits) = drive_clients(phase, clients.clone(), requests, move |mut client: Articles, i| {
                let query = queries[i % queries.len()].text.clone();
                async move {
                    let request = pb::SearchArticlesRequest { query: query.clone(), page_size: PAGE_SIZE, ..Default::default() };
                    let answer = client.search_articles(request).await.map_err(|status| format!("{query:?}: {status}"))?;
                    let hits = answer.into_inner().hits.len();
                    if must_find && hits == 0 {
                        return Err(format!("{query:?} found nothing, though an article matches it"));
                    }
                    Ok(hits)
                }
            })
            .await?;
            found.push((phase, concurrency, hits.iter().filter(|&&hits| hits > 0).count(), hits.len()));
            rows.push(row);
        }

        let pages: Vec<Http> = (0..concurrency).map(|_| http_client()).collect();
        for client in &pages {
            send(client, Method::GET, &format!("{}/healthz", stack.base), None, None).await.map_err(|err| anyhow!(err))?;
        }
        let (slugs, base) = (slugs.clone(), Arc::new(stack.base.clone()));
        let (row, _) = drive_clients("GET /help/articles/{slug}", pages, requests, move |client: Http, i| {
            let slug = slugs[pick(i, slugs.len())].clone();
            let url = format!("{base}/help/articles/{slug}");
            async move {
                let answer = send(&client, Method::GET, &url, None, None).await?;
                if answer.status == 200 && answer.body.contains(&slug) {
                    Ok(())
                } else {
                    Err(answer.refused(&format!("the article {slug}")))
                }
            }
        })
        .await?;
        rows.push(row);
    }
    for (phase, concurrency, with_hits, answered) in found {
        println!("{phase} at concurrency {concurrency}: {with_hits} of {answered} answers had hits");
    }
    Ok(rows)
}

/// The dozen categories; returns their ids, in [`CATEGORIES`]' order.
async fn create_categories(grpc: &str) -> anyhow::Result<Vec<String>> {
    let channel = Endpoint::from_shared(grpc.to_owned())?.connect().await?;
    let mut client = CategoryServiceClient::with_interceptor(channel, as_admin as Auth);
    let mut ids = Vec::new();
    for (position, (name, _)) in CATEGORIES.iter().enumerate() {
        let category = pb::Category {
            name: (*name).to_owned(),
            description: format!("Articles about {}.", name.to_lowercase()),
            position: i32::try_from(position)?,
            ..Default::default()
        };
        let request = pb::CreateCategoryRequest { category: Some(category), idempotency_key: String::new() };
        ids.push(client.create_category(request).await.with_context(|| format!("creating the category {name}"))?.into_inner().id);
    }
    Ok(ids)
}

/// Writes every article, `--seeders` batches at a time; prints progress.
async fn seed(db: &DatabaseConnection, corpus: &Arc<Corpus>, categories: &[String], args: &KbSearchArgs) -> anyhow::Result<()> {
    let total = corpus.articles;
    let batch = args.batch as usize;
    let batches = total.div_ceil(batch);
    let mutations = Mutations::new(db.clone(), RelayWaker::default(), docket_knowledge::SERVICE);
    let (next, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let categories = Arc::new(categories.to_vec());
    let started = Instant::now();
    let step = (total / 20).max(batch);
    eprintln!("seeding {total} articles in transactions of {batch}, {} at a time …", args.seeders);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.seeders {
        let (corpus, categories, mutations, next, done) =
            (corpus.clone(), categories.clone(), mutations.clone(), next.clone(), done.clone());
        tasks.spawn(async move {
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number >= batches {
                    return anyhow::Ok(());
                }
                let range = number * batch..((number + 1) * batch).min(total);
                let (corpus, categories) = (corpus.clone(), categories.clone());
                let rows = tokio::task::spawn_blocking(move || published(&corpus, &categories, range)).await?;
                write_batch(&mutations, &rows).await?;
                let before = done.fetch_add(rows.len(), Ordering::Relaxed);
                let after = before + rows.len();
                if after / step != before / step || after == total {
                    let rate = after as f64 / started.elapsed().as_secs_f64();
                    eprintln!("  {after} of {total} articles seeded ({rate:.0}/s)");
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a seeding task failed")??;
    }
    eprintln!("seeded {total} articles in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The rows of the articles in `range` as PublishArticle leaves them: the
/// article published at version 1, its frozen version. Some relate to
/// articles before them in the same batch (the page shows those).
fn published(
    corpus: &Corpus,
    categories: &[String],
    range: std::ops::Range<usize>,
) -> Vec<(article::Model, article_version::Model)> {
    let at = docket_kit::time::now();
    let mut rows: Vec<(article::Model, article_version::Model)> = Vec::with_capacity(range.len());
    for i in range {
        let generated = corpus.article(i);
        let mut rng = Rng::new(corpus.seed ^ 0x0005_EED0_F4E1_A7ED ^ i as u64);
        let mut related: Vec<String> = Vec::new();
        for _ in 0..rng.below(3) {
            if let Some((earlier, _)) = (!rows.is_empty()).then(|| &rows[rng.below(rows.len())])
                && !related.contains(&earlier.id)
            {
                related.push(earlier.id.clone());
            }
        }
        let tags = strings_json(&generated.tags);
        let model = article::Model {
            id: ArticleId::generate().to_string(),
            slug: generated.slug,
            title: generated.title,
            summary: generated.summary,
            body_markdown: generated.body,
            locale: "en".to_owned(),
            category_id: Some(categories[generated.category].clone()),
            tags: tags.clone(),
            related_article_ids: strings_json(&related),
            audience: generated.audience.name().to_owned(),
            owner_id: AUTHOR.to_owned(),
            state: State::Published.name().to_owned(),
            draft_pending: false,
            live_version: Some(1),
            versions: 1,
            publish_at: None,
            submitted_by: None,
            view_count: 0,
            helpful_count: 0,
            not_helpful_count: 0,
            // Created at 1, published at 2.
            version: 2,
            created_at: at,
            updated_at: at,
        };
        let version = article_version::Model {
            article_id: model.id.clone(),
            version: 1,
            title: model.title.clone(),
            summary: model.summary.clone(),
            body_markdown: model.body_markdown.clone(),
            body_html: markdown::to_html(&model.body_markdown),
            tags,
            author_id: AUTHOR.to_owned(),
            published_by: AUTHOR.to_owned(),
            published_at: at,
        };
        rows.push((model, version));
    }
    rows
}

/// One transaction of the knowledge service's mutation runner: the
/// articles, their versions, and each one's search row as the store writes it.
async fn write_batch(mutations: &Mutations, rows: &[(article::Model, article_version::Model)]) -> anyhow::Result<()> {
    let by = Actor { actor: AUTHOR, reason: "kb-search benchmark", at: docket_kit::time::now() };
    mutations
        .run::<(), Infallible>(&by, async |tx| {
            article::Entity::insert_many(rows.iter().map(|(a, _)| a.clone().into_active_model()))
                .exec_without_returning(&*tx)
                .await?;
            article_version::Entity::insert_many(rows.iter().map(|(_, v)| v.clone().into_active_model()))
                .exec_without_returning(&*tx)
                .await?;
            // All the batch's words first, in one order: two seeders never
            // wait on each other in a cycle.
            add_vocabulary(&tx, vocabulary_of(rows.iter().map(|(a, v)| (a, v)))).await?;
            for (article, version) in rows {
                index_article(&tx, article, Some(version)).await?;
            }
            Ok(())
        })
        .await
        .map_err(|err| anyhow!("writing a batch of articles: {err}"))
}

/// `VACUUM ANALYZE` of what the load wrote, as autovacuum would do soon
/// after it (statistics for the planner, the GIN index's pending list
/// merged); prints the search table's size.
async fn settle(db: &DatabaseConnection) -> anyhow::Result<()> {
    let started = Instant::now();
    for table in ["articles", "article_versions", "article_search"] {
        db.execute_unprepared(&format!("VACUUM ANALYZE {table}")).await?;
    }
    let size = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_size_pretty(pg_total_relation_size('article_search')) AS size, \
             (SELECT count(*) FROM article_search) AS rows",
        ))
        .await?
        .context("no answer about the search table's size")?;
    let (size, rows): (String, i64) = (size.try_get("", "size")?, size.try_get("", "rows")?);
    eprintln!("vacuum analyze: {:.1} s; article_search: {rows} rows, {size} with its indexes", started.elapsed().as_secs_f64());
    Ok(())
}

/// Prints `EXPLAIN (ANALYZE, BUFFERS)` of what the store runs for a
/// matching query (the search as typed) and a typo (the search as typed,
/// which finds nothing, the look-up of known words alike to the typed
/// ones, and the corrected search), each run once before.
async fn explain(db: &DatabaseConnection, matching: &str, typo: &str) -> anyhow::Result<()> {
    let filter = SearchFilter { audiences: vec![Audience::Public], ..Default::default() };
    let limit = PAGE_SIZE as u64;
    let corrected = Store::new(db.clone())
        .corrected(&search::parse(typo), &filter)
        .await
        .map_err(|err| anyhow!("correcting {typo:?}: {err}"))?
        .with_context(|| format!("no known word is alike to {typo:?}"))?;
    let corrected_text = search::to_websearch(&corrected);
    let plans = [
        ("a matching query, as typed", matching, postgres_search_statement(&search::parse(matching), &filter, 0, limit)),
        ("a typo, as typed", typo, postgres_search_statement(&search::parse(typo), &filter, 0, limit)),
        ("a typo, known words alike", typo, postgres_alike_statement(&search::parse(typo).words(), Audience::Public.reach())),
        ("a typo, corrected", &corrected_text, postgres_search_statement(&corrected, &filter, 0, limit)),
    ];
    for (what, text, statement) in plans {
        let explained = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN (ANALYZE, BUFFERS) {}", statement.sql),
            statement.values.clone().map(|values| values.0).unwrap_or_default(),
        );
        db.query_all_raw(statement).await?;
        let lines = db.query_all_raw(explained).await?;
        println!("EXPLAIN (ANALYZE, BUFFERS), {what}: {text:?}");
        for line in lines {
            println!("  {}", line.try_get_by_index::<String>(0)?);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the text

/// A small, fast, seeded generator (xorshift64*); no RNG crate is pinned.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: nearby seeds give unrelated streams, never 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index in `0..n`, the first ones far likelier (Zipf-like: the
    /// probability of rank r falls as 1/r), as words are used.
    fn zipf(&mut self, n: usize) -> usize {
        let rank = ((n as f64 + 1.0).powf(self.unit()) - 1.0) as usize;
        rank.min(n - 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The twelve categories and the words their articles are about most.
const CATEGORIES: &[(&str, &str)] = &[
    ("Printing", "printer toner cartridge tray paper jam print fuser drum spooler duplex streaks queue label ink"),
    ("Scanning and copying", "scanner scan copy feeder glass document pdf resolution ocr copier sheet original folder"),
    ("Network and Wi-Fi", "network wifi router vpn dns proxy firewall ethernet cable switch signal bandwidth latency ip"),
    ("Accounts and sign-in", "password account login sso mfa code session username lockout reset profile authenticator email"),
    ("Billing and invoices", "invoice billing payment refund subscription plan credit card tax receipt charge renewal discount"),
    ("Email and calendar", "email mailbox calendar meeting invite outlook signature attachment spam folder rule alias inbox"),
    ("Hardware and repairs", "laptop battery charger screen keyboard fan warranty repair dock monitor power adapter hinge"),
    ("Installing software", "install installer update upgrade version license setup package driver patch rollback installation"),
    ("Mobile apps", "app phone tablet android iphone notification sync offline store permission camera bluetooth push"),
    ("Security", "security certificate encryption virus malware phishing antivirus audit policy breach token key permission"),
    ("Data and backups", "backup restore database export import file storage disk archive snapshot csv recovery quota"),
    ("Integrations and API", "api integration webhook token key endpoint request response limit json connector oauth plugin"),
];

const COMMON: &str = "the a to and of you your in is it for on that this with be are as at if or not can from by when \
    will then do does have has was we our they their there which what how why after before again all any each more most \
    some only also into out up down over under about first next last new same other just still may might should would \
    could must need make sure see use check try open close click select choose enter type press wait start stop run find \
    show keep set get go let help work back right left top bottom side page screen window menu button field box list tab \
    line item step way time minutes seconds hour day days week one two three four five ten every many few both either \
    without while until during because so but than too very well even often usually sometimes never always instead \
    already here these those who where its no yes now once twice later soon below above between through per own \
    such only most less least enough another whole part case problem issue question answer note tip example steps \
    following above option options value name number text message information details area section link address \
    company customer customers user users team office home support agent admin administrator people person";

const NOUNS: &str = "printer scanner toner cartridge tray paper jam feeder fuser drum roller driver firmware update network \
    router switch cable port adapter battery charger laptop monitor display keyboard mouse headset microphone camera webcam \
    dock station server database backup password account login session token certificate browser cache cookie email \
    mailbox inbox calendar invite meeting license subscription invoice payment refund credit card order shipment delivery \
    warranty repair replacement contract quote report dashboard export spreadsheet file folder attachment upload download \
    permission role group profile setting preference notification alert error warning code timeout connection vpn wifi \
    bluetooth ethernet dns proxy firewall gateway api integration webhook plugin extension app phone tablet device \
    computer desktop workstation installer version release patch bug crash freeze memory disk storage drive partition \
    fan noise power outlet led light status queue spooler job copy fax duplex color resolution quality streak smudge \
    label barcode reader terminal receipt register scale sensor thermostat controller keypad badge door lock alarm \
    antenna signal bandwidth latency packet address subnet mask domain server host client certificate key vault secret \
    policy rule filter tag template signature alias forward reply thread draft spam quarantine archive snapshot restore \
    recovery quota limit plan tier discount coupon tax currency statement balance charge transaction checkout cart \
    catalog product item stock warehouse supplier vendor purchase shipping tracking courier parcel pallet invoice \
    ticket case request incident escalation priority deadline customer contact portal form survey feedback rating \
    article guide manual tutorial video webinar training course certificate exam screen menu toolbar sidebar panel \
    dialog window tab field checkbox dropdown slider toggle icon shortcut wizard setup installation configuration \
    environment variable path directory log trace message event schedule task reminder deadline workflow approval \
    stage pipeline report chart graph metric widget filter column row cell formula macro sheet workbook document pdf \
    image photo scan page sheet margin font style heading table header footer watermark stamp print preview \
    headset speaker volume sound echo audio video call conference room projector cable hdmi usb charger socket \
    keyboard layout language locale region timezone clock date format currency unit measurement sensor reading \
    meter gauge valve pump motor belt filter cartridge nozzle hose tank pressure temperature humidity airflow \
    compressor boiler radiator heater cooler chiller vent duct coil refrigerant leak drip stain crack scratch dent \
    hinge lid cover panel screw bolt bracket mount stand rack shelf cabinet drawer door handle wheel caster \
    connector pin jack plug switch relay fuse breaker circuit board chip module component part assembly kit";

const VERBS: &str = "reset restart reboot reinstall configure connect disconnect pair enable disable clear delete remove \
    replace clean align calibrate verify confirm approve reject cancel renew extend transfer migrate merge split assign \
    escalate resolve reopen submit install uninstall upgrade download upload sync share print scan fax export import \
    update backup restore encrypt decrypt sign unlock lock block allow forward archive search filter sort rename move \
    attach detach mount eject format charge plug unplug tighten loosen adjust lubricate inspect test measure record \
    schedule book invite accept decline join leave mute unmute record stream display load save recover repair \
    register activate deactivate suspend resume refresh reload retry skip ignore report flag mark tag label print \
    order ship deliver track return exchange refund bill invoice pay credit debit subscribe unsubscribe upgrade \
    downgrade convert compress extract open close start stop launch crash freeze hang fail drop overheat beep blink \
    flash jam feed stick slip tear smear fade";

const ADJECTIVES: &str = "slow fast blank empty full broken loose stuck faded wrong missing expired invalid locked \
    disabled enabled offline online wireless wired external internal default custom shared private public secure \
    encrypted corrupted damaged noisy hot cold wet dusty dirty clean old new latest previous current duplicate \
    incomplete pending failed successful automatic manual daily weekly monthly yearly annual primary secondary \
    remote local mobile portable black white red green orange yellow blue grey bright dim intermittent frequent \
    random sudden unexpected unknown temporary permanent";

const HEADINGS: &[&str] = &[
    "Symptoms",
    "Cause",
    "Before you start",
    "Steps",
    "Solution",
    "Workaround",
    "If it still fails",
    "More information",
    "Applies to",
    "What you need",
];

/// The connecting words of titles.
const TITLE_GLUE: &[&str] =
    &["the", "a", "after", "when", "in", "on", "with", "for", "not", "does", "to", "from", "your", "is", "and", "of"];

fn is_glue(word: &str) -> bool {
    word == "how" || TITLE_GLUE.contains(&word)
}

/// English spelling of a noun's plural.
fn plural(word: &str) -> String {
    let consonant_y = word.ends_with('y') && !word.ends_with("ay") && !word.ends_with("ey") && !word.ends_with("oy");
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "ch", "sh"].iter().any(|end| word.ends_with(end)) {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// A verb's third person, past and -ing forms.
fn verb_forms(word: &str) -> [String; 3] {
    let consonant_y = word.ends_with('y') && !word.ends_with("ay") && !word.ends_with("ey");
    let past = if word.ends_with('e') {
        format!("{word}d")
    } else if consonant_y {
        format!("{}ied", &word[..word.len() - 1])
    } else {
        format!("{word}ed")
    };
    let ing = if word.ends_with('e') && !word.ends_with("ee") {
        format!("{}ing", &word[..word.len() - 1])
    } else {
        format!("{word}ing")
    };
    [plural(word), past, ing]
}

/// The vocabulary, with each word's rank of use and what each category talks about.
struct Vocabulary {
    common: Vec<&'static str>,
    /// Every support word and form, in a random order that is its rank of use.
    domain: Vec<String>,
    /// Per category: its own words first, then its share of the others.
    topics: Vec<Vec<String>>,
    /// Every word an article may hold, to keep typos from being real words.
    known: HashSet<String>,
}

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let mut seen = HashSet::new();
    let mut domain: Vec<String> = Vec::new();
    let mut add = |word: String, domain: &mut Vec<String>| {
        if seen.insert(word.clone()) {
            domain.push(word);
        }
    };
    for word in NOUNS.split_whitespace() {
        add(word.to_owned(), &mut domain);
        add(plural(word), &mut domain);
    }
    for word in VERBS.split_whitespace() {
        add(word.to_owned(), &mut domain);
        for form in verb_forms(word) {
            add(form, &mut domain);
        }
    }
    for word in ADJECTIVES.split_whitespace() {
        add(word.to_owned(), &mut domain);
    }
    for (_, words) in CATEGORIES {
        for word in words.split_whitespace() {
            add(word.to_owned(), &mut domain);
        }
    }
    // A fixed shuffle (Fisher–Yates) sets how common each word is.
    let mut rng = Rng::new(0x00D0_C4E7);
    for i in (1..domain.len()).rev() {
        domain.swap(i, rng.below(i + 1));
    }
    let topics = CATEGORIES
        .iter()
        .enumerate()
        .map(|(c, (_, own))| {
            let mut topic: Vec<String> = own.split_whitespace().map(str::to_owned).collect();
            let others: Vec<String> =
                domain.iter().filter(|w| !topic.contains(w) && fnv(w) % CATEGORIES.len() as u64 == c as u64).cloned().collect();
            topic.extend(others);
            topic
        })
        .collect();
    let common: Vec<&'static str> = COMMON.split_whitespace().collect();
    let mut known: HashSet<String> = domain.iter().cloned().collect();
    known.extend(common.iter().map(|w| (*w).to_owned()));
    known.extend(TITLE_GLUE.iter().map(|w| (*w).to_owned()));
    for text in HEADINGS.iter().chain(CATEGORIES.iter().map(|(name, _)| name)) {
        known.extend(search::fold_text(text).split(' ').map(str::to_owned));
    }
    known.extend(["how", "note", "error", "e"].map(str::to_owned));
    Vocabulary { common, domain, topics, known }
});

fn fnv(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// One generated article.
struct Generated {
    slug: String,
    title: String,
    /// The title's support words (not its glue), lowercase, in order.
    title_words: Vec<String>,
    /// The title's words, lowercase, in order.
    title_all: Vec<String>,
    summary: String,
    body: String,
    tags: Vec<String>,
    category: usize,
    audience: Audience,
}

/// The articles of one seed: article `i` is the same each time it is made.
struct Corpus {
    seed: u64,
    articles: usize,
}

/// Where a sentence's words come from.
#[derive(Clone, Copy)]
enum Source {
    Common,
    Topic,
    Domain,
}

impl Corpus {
    fn new(seed: u64, articles: usize) -> Corpus {
        Corpus { seed, articles }
    }

    fn article(&self, i: usize) -> Generated {
        let vocabulary = &*VOCABULARY;
        let mut rng = Rng::new(self.seed.wrapping_mul(0x1000_0000_01B3) ^ i as u64);
        let category = rng.below(CATEGORIES.len());
        let topic = &vocabulary.topics[category];
        let audience = match rng.unit() {
            u if u < 0.80 => Audience::Public,
            u if u < 0.92 => Audience::Customers,
            _ => Audience::Internal,
        };

        // The title: 4–10 words, mostly the category's, some glue.
        let length = rng.between(4, 10);
        let mut title_all: Vec<String> = Vec::with_capacity(length);
        let mut title_words = Vec::new();
        if rng.chance(0.2) {
            title_all.extend(["how".to_owned(), "to".to_owned()]);
        }
        while title_all.len() < length {
            let glue = !title_all.is_empty() && rng.chance(0.3);
            let word = if glue {
                (*rng.pick(TITLE_GLUE)).to_owned()
            } else if rng.chance(0.8) {
                topic[rng.zipf(topic.len())].clone()
            } else {
                vocabulary.domain[rng.zipf(vocabulary.domain.len())].clone()
            };
            // The same support word twice reads badly.
            if !glue && title_words.contains(&word) {
                continue;
            }
            if !glue {
                title_words.push(word.clone());
            }
            title_all.push(word);
        }
        let title = capitalize(&title_all.join(" "));

        let length = rng.between(10, 22);
        let summary = sentence(&mut rng, topic, length);
        let length = rng.between(150, 600);
        let body = body(&mut rng, topic, length);
        let own: Vec<&str> = CATEGORIES[category].1.split_whitespace().collect();
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.between(1, 4) {
            let tag = own[rng.zipf(own.len())].to_owned();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let mut slug = slug::slugify(&title);
        slug.truncate(64);
        let slug = format!("{}-{i}", slug.trim_end_matches('-'));
        Generated { slug, title, title_words, title_all, summary, body, tags, category, audience }
    }

    /// A public article, at random.
    fn public(&self, rng: &mut Rng) -> (usize, Generated) {
        loop {
            let i = rng.below(self.articles);
            let article = self.article(i);
            if article.audience == Audience::Public {
                return (i, article);
            }
        }
    }

    /// Slugs of `count` public articles, at random.
    fn public_slugs(&self, count: usize) -> Vec<String> {
        let mut rng = Rng::new(self.seed ^ 0x5106);
        (0..count).map(|_| self.public(&mut rng).1.slug).collect()
    }

    /// `count` queries that match a public article, and `count` with typos
    /// that match nothing exactly.
    fn queries(&self, count: usize) -> (Vec<Query>, Vec<Query>) {
        let vocabulary = &*VOCABULARY;
        let mut rng = Rng::new(self.seed ^ 0x005E_A4C4);
        let mut matching = Vec::with_capacity(count);
        while matching.len() < count {
            let (_, article) = self.public(&mut rng);
            let words = &article.title_words;
            if words.len() < 2 {
                continue;
            }
            let mut chosen: Vec<String> = Vec::new();
            let text = match rng.unit() {
                // A phrase: two neighbouring words of the title, sometimes and another.
                u if u < 0.2 => {
                    // Not two glue words ("how to"): every article has those.
                    let all = &article.title_all;
                    let pairs: Vec<usize> = (0..all.len() - 1).filter(|&k| !is_glue(&all[k]) || !is_glue(&all[k + 1])).collect();
                    let at = *rng.pick(&pairs);
                    let phrase = format!("\"{} {}\"", article.title_all[at], article.title_all[at + 1]);
                    if rng.chance(0.5) { format!("{phrase} {}", rng.pick(words)) } else { phrase }
                }
                // Two words and one that must not be there.
                u if u < 0.35 => {
                    let (a, b) = two(&mut rng, words);
                    let text = folded_words(&article);
                    // Not in any form either (the search stems "printers" as "printer").
                    let stem = |w: &str| w.chars().take(4).collect::<String>();
                    let other = (0..20)
                        .map(|_| vocabulary.domain[rng.zipf(vocabulary.domain.len())].clone())
                        .find(|w| !text.iter().any(|t| stem(t) == stem(w)));
                    match other {
                        Some(other) => format!("{a} {b} -{other}"),
                        None => format!("{a} {b}"),
                    }
                }
                // Two or three words of the title, in any order.
                _ => {
                    let (a, b) = two(&mut rng, words);
                    chosen.extend([a, b]);
                    if words.len() > 2 && rng.chance(0.4) {
                        let third = words.iter().find(|w| !chosen.contains(w)).cloned().unwrap_or_default();
                        chosen.push(third);
                    }
                    chosen.join(" ")
                }
            };
            matching.push(Query { text });
        }
        let mut typos = Vec::with_capacity(count);
        while typos.len() < count {
            let (_, article) = self.public(&mut rng);
            let long: Vec<&String> = article.title_words.iter().filter(|w| w.len() >= 5).collect();
            if long.is_empty() {
                continue;
            }
            let first = (*rng.pick(&long)).clone();
            let Some(wrong) = typo(&mut rng, &first, &vocabulary.known) else { continue };
            let text = if long.len() > 1 && rng.chance(0.7) {
                let second = long.iter().find(|w| ***w != first).map(|w| (*w).clone()).unwrap_or_default();
                // Both mistyped, or one right and one wrong.
                match typo(&mut rng, &second, &vocabulary.known) {
                    Some(also) if rng.chance(0.5) => format!("{wrong} {also}"),
                    _ => format!("{second} {wrong}"),
                }
            } else {
                wrong
            };
            typos.push(Query { text });
        }
        (matching, typos)
    }
}

/// What a reader types.
struct Query {
    text: String,
}

fn two(rng: &mut Rng, words: &[String]) -> (String, String) {
    let a = rng.below(words.len());
    let b = (a + 1 + rng.below(words.len() - 1)) % words.len();
    (words[a].clone(), words[b].clone())
}

/// Every folded word of an article.
fn folded_words(article: &Generated) -> HashSet<String> {
    let text = format!("{} {} {} {}", article.title, article.summary, article.body, article.tags.join(" "));
    search::fold_text(&text).split(' ').map(str::to_owned).collect()
}

/// `word` with one slip of the fingers (two letters swapped, one left
/// out, one doubled or one vowel for another), if that is no real word.
fn typo(rng: &mut Rng, word: &str, known: &HashSet<String>) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    for _ in 0..10 {
        let mut wrong = chars.clone();
        let at = rng.between(1, chars.len() - 2);
        match rng.below(4) {
            0 => wrong.swap(at, at + 1),
            1 => {
                wrong.remove(at);
            }
            2 => wrong.insert(at, chars[at]),
            _ => {
                let vowels = ['a', 'e', 'i', 'o', 'u'];
                if let Some(v) = (1..chars.len()).find(|&k| vowels.contains(&chars[k])) {
                    wrong[v] = *rng.pick(&vowels);
                }
            }
        }
        let wrong: String = wrong.into_iter().collect();
        if wrong != word && !known.contains(&wrong) {
            return Some(wrong);
        }
    }
    None
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A word of running text: common English, the category's, or any support word.
fn word(rng: &mut Rng, topic: &[String], source: Source) -> String {
    let vocabulary = &*VOCABULARY;
    match source {
        Source::Common => vocabulary.common[rng.zipf(vocabulary.common.len())].to_owned(),
        Source::Topic => topic[rng.zipf(topic.len())].clone(),
        Source::Domain => vocabulary.domain[rng.zipf(vocabulary.domain.len())].clone(),
    }
}

/// One sentence of `length` words, ending with a full stop; now and then
/// a word in bold or as code, or an error code.
fn sentence(rng: &mut Rng, topic: &[String], length: usize) -> String {
    let mut words: Vec<String> = Vec::with_capacity(length);
    for _ in 0..length {
        let source = match rng.unit() {
            u if u < 0.45 => Source::Common,
            u if u < 0.80 => Source::Topic,
            _ => Source::Domain,
        };
        let mut word = word(rng, topic, source);
        if !matches!(source, Source::Common) {
            match rng.below(40) {
                0 => word = format!("**{word}**"),
                1 => word = format!("`{word}`"),
                2 => word = format!("E-{:02}", rng.between(1, 99)),
                _ => {}
            }
        }
        words.push(word);
    }
    format!("{}.", capitalize(&words.join(" ")))
}

/// A Markdown body of about `length` words: paragraphs, headings, steps, notes.
fn body(rng: &mut Rng, topic: &[String], length: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut count = 0;
    let paragraph = |rng: &mut Rng, sentences: usize, count: &mut usize| {
        let text: Vec<String> = (0..sentences)
            .map(|_| {
                let n = rng.between(6, 18);
                *count += n;
                sentence(rng, topic, n)
            })
            .collect();
        text.join(" ")
    };
    let sentences = rng.between(2, 3);
    parts.push(paragraph(rng, sentences, &mut count));
    while count < length {
        let sentences = rng.between(2, 4);
        match rng.below(4) {
            0 => {
                let heading = *rng.pick(HEADINGS);
                count += heading.split_whitespace().count();
                parts.push(format!("## {heading}"));
                parts.push(paragraph(rng, sentences, &mut count));
            }
            1 => {
                let steps: Vec<String> = (1..=rng.between(3, 7))
                    .map(|n| {
                        let words = rng.between(5, 14);
                        count += words;
                        format!("{n}. {}", sentence(rng, topic, words))
                    })
                    .collect();
                parts.push(steps.join("\n"));
            }
            2 => {
                let words = rng.between(8, 16);
                count += words + 1;
                parts.push(format!("> **Note:** {}", sentence(rng, topic, words)));
            }
            _ => parts.push(paragraph(rng, sentences, &mut count)),
        }
    }
    parts.join("\n\n")
}
