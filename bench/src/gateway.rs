//! Benchmarks of the HTTP gateway, end to end: an HTTP client in this
//! process, the gateway in-process on its own loopback port, and behind it
//! the case and portal services in-process on one gRPC port (PostgreSQL,
//! fresh schemas dropped at the end, in-process events). Sessions and rate
//! limit counters live in memory as under `docket dev`, unless
//! `DOCKET__KV__BACKEND` says otherwise (e.g. `redis` with `DOCKET__KV__URL`).
//! The rate limits are raised so that they do not refuse the benchmark.
//!
//! `web-forms`: creates one public web form (name, email, subject,
//! details), posts 300 submissions to it and settles the schemas (not
//! timed; see `settle`: the service as it runs after its first minute).
//! Per concurrency level, set-up (not timed): `GET /f/{slug}`
//! once per submission for the form's sealed `docket-token`; then, timed,
//! `POST /f/{slug}` of each filled-in form, each with its own email address.
//! The gateway answers only after the portal service's SubmitForm has
//! committed the case, so submissions per second are to a committed case.
//! A submission succeeds when the answer is 200 and shows the case number.
//! At the end, the cases counted in the case schema must equal the
//! successful submissions.
//!
//! `portal-pages`: creates an account, a contact and `--cases` cases of
//! that contact (set-up, over gRPC, not timed), makes the contact a portal
//! user with a known password (in the portal's store, as `docket dev`
//! does), logs in through `/portal/login` as a browser does (CSRF cookie
//! and field) and settles the schemas (not timed). Then, per concurrency
//! level and with that session, times `--requests` of each: the case list
//! (`/portal/cases`, the first 25 of the contact's cases, newest first), a
//! search (`?state=open&text=jammed`, a word in one subject of fifty), and
//! a case page (random among the cases created).
//!
//! Both print calls, errors, throughput and latency percentiles, and exit
//! non-zero if any request failed.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, ensure};
use bytes::Bytes;
use clap::Args;
use docket::{
    app::{self, Target},
    settings::Settings,
};
use docket_kit::{audit::Actor, auth::Role, kv::KvBackend, settings::TokenSettings};
use docket_portal::{
    domain::password,
    store::{ContactFacts, Store},
};
use docket_proto::{
    case::v1 as pb,
    portal::v1::{self as portal_pb, web_form_service_client::WebFormServiceClient},
};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::{Channel, Endpoint};

use crate::{
    Auth, CONTACT_EMAIL, CONTACT_NAME, Row, bench_settings,
    billing::{ADMIN_TOKEN, SERVICE_TOKEN, as_admin, drop_schemas},
    drive, drive_clients, pick, print_table, wait_until_serving,
};

#[derive(Args)]
pub struct WebFormsArgs {
    /// Submissions per concurrency level.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    submissions: u32,
    /// Concurrency levels, comma-separated: visitors submitting at once.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8], value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Vec<u32>,
    /// PostgreSQL to benchmark against; fresh schemas are created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
}

#[derive(Args)]
pub struct PortalPagesArgs {
    /// Cases of the customer who logs in (set-up).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// Requests per page and concurrency level.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// Concurrency levels, comma-separated: requests of the customer's session at once.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8], value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Vec<u32>,
    /// PostgreSQL to benchmark against; fresh schemas are created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
}

/// Signs the gateway's CSRF cookies and form tokens (32+ characters).
const SECRET_KEY: &str = "docket-bench-gateway-secret-0123456789abcdef";
/// The portal password of the customer who logs in.
const PASSWORD: &str = "docket-bench-portal-password";
/// What a web form's answer shows when it opened a case.
const CASE_NUMBER_MARK: &str = "class=\"case-number\">C-";
/// The word of the search phase: in the subject of one case of fifty.
const SEARCH_WORD: &str = "jammed";
/// Cases on one page of the portal's case list.
const LIST_PAGE: usize = 25;

/// One HTTP connection pool; one per client task, so one connection each.
pub(crate) type Http = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn http_client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Services on one gRPC port (the portal benchmarks: case and portal; the
/// knowledge one: knowledge) and the gateway in front.
pub(crate) struct Stack {
    pub(crate) settings: Settings,
    /// `http://127.0.0.1:<port>` of the gRPC services.
    pub(crate) grpc: String,
    /// `http://127.0.0.1:<port>` of the gateway.
    pub(crate) base: String,
    targets: Vec<Target>,
    stop: Vec<oneshot::Sender<()>>,
    services: JoinHandle<anyhow::Result<()>>,
    gateway: JoinHandle<anyhow::Result<()>>,
}

impl Stack {
    pub(crate) async fn start(database_url: &str, targets: &[Target]) -> anyhow::Result<Stack> {
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await?;
        let grpc = format!("http://{}", grpc_listener.local_addr()?);
        let http_listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", http_listener.local_addr()?);

        let mut settings = bench_settings(database_url)?;
        for (name, token, role) in [("bench-service", SERVICE_TOKEN, Role::Service), ("bench-admin", ADMIN_TOKEN, Role::Admin)] {
            settings.auth.tokens.insert(
                name.to_owned(),
                TokenSettings { token: token.to_owned(), role, staff_id: None, acts_for_contacts: role == Role::Service },
            );
        }
        if std::env::var_os("DOCKET__KV__BACKEND").is_none() {
            settings.kv.backend = KvBackend::Memory;
        }
        settings.case.service_token = SERVICE_TOKEN.to_owned();
        settings.portal.case_service_url.clone_from(&grpc);
        settings.portal.service_token = SERVICE_TOKEN.to_owned();
        // The knowledge service asks the case service only when a case is
        // linked or a draft proposed, which no phase does.
        settings.knowledge.case_service_url.clone_from(&grpc);
        settings.knowledge.service_token = SERVICE_TOKEN.to_owned();
        let gateway = &mut settings.gateway;
        gateway.case_service_url.clone_from(&grpc);
        gateway.portal_service_url.clone_from(&grpc);
        gateway.billing_service_url.clone_from(&grpc);
        gateway.knowledge_service_url.clone_from(&grpc);
        gateway.service_token = SERVICE_TOKEN.to_owned();
        gateway.secret_key = SECRET_KEY.to_owned();
        gateway.cookie_secure = false;
        gateway.public_base_url.clone_from(&base);
        // One address sends everything: the limits must not refuse the benchmark.
        gateway.form_submissions_per_minute = u32::MAX;
        gateway.form_submissions_per_form_per_minute = u32::MAX;
        settings.validate()?;

        let (stop_services, services_stopped) = oneshot::channel::<()>();
        let server_settings = settings.clone();
        let served = targets.to_vec();
        let services = tokio::spawn(async move {
            app::run(&server_settings, &served, grpc_listener, async {
                let _ = services_stopped.await;
            })
            .await
        });
        let (stop_gateway, gateway_stopped) = oneshot::channel::<()>();
        let gateway_settings = settings.clone();
        let gateway = tokio::spawn(async move {
            app::run_gateway(&gateway_settings, docket_gateway::GatewayOptions::default(), http_listener, async {
                let _ = gateway_stopped.await;
            })
            .await
        });
        eprintln!(
            "starting the services {targets:?} at {grpc} and the gateway at {base} (schema prefix {})",
            settings.database.schema_prefix
        );
        let targets = targets.to_vec();
        Ok(Stack { settings, grpc, base, targets, stop: vec![stop_gateway, stop_services], services, gateway })
    }

    /// Waits for the services' gRPC health (migrations done) and the
    /// gateway's `/healthz`. Not `/readyz`: it also asks for the billing
    /// service, which these benchmarks do not run.
    pub(crate) async fn ready(&self) -> anyhow::Result<()> {
        wait_until_serving(Endpoint::from_shared(self.grpc.clone())?.connect_lazy(), &self.services).await?;
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            ensure!(!self.gateway.is_finished(), "the gateway stopped before serving");
            match send(&client, Method::GET, &format!("{}/healthz", self.base), None, None).await {
                Ok(answer) if answer.status == 200 => return Ok(()),
                answer => ensure!(Instant::now() < deadline, "the gateway did not answer /healthz within 10 s: {answer:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the gateway, then the services, and drops their schemas
    /// unless `keep_schemas`.
    pub(crate) async fn stop(mut self, keep_schemas: bool) {
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
        for (name, task) in [("gateway", self.gateway), ("services", self.services)] {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => eprintln!("the {name} failed: {err:#}"),
                Ok(Err(err)) => eprintln!("the {name} task failed: {err}"),
                Err(_) => eprintln!("the {name} did not stop within 10 s"),
            }
        }
        let schemas: Vec<&str> = self.targets.iter().map(|t| t.name()).collect();
        if keep_schemas {
            eprintln!("kept the schemas of {schemas:?} (prefix {})", self.settings.database.schema_prefix);
        } else if let Err(err) = drop_schemas(&self.settings, &schemas).await {
            eprintln!("could not drop the bench schemas: {err:#}");
        }
    }
}

/// Starts the stack, runs `phases` against it (Ctrl-C or SIGTERM interrupts), stops it.
async fn with_stack<T>(database_url: &str, phases: impl AsyncFnOnce(&Stack) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let stack = Stack::start(database_url, &[Target::Case, Target::Portal]).await?;
    let outcome = tokio::select! {
        outcome = async {
            stack.ready().await?;
            phases(&stack).await
        } => outcome,
        () = crate::interrupted() => Err(anyhow!("interrupted")),
    };
    stack.stop(false).await;
    outcome
}

/// A whole HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `name=value` of each `Set-Cookie`.
    cookies: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    /// The error of an unexpected answer: its status and what the page says.
    pub(crate) fn refused(&self, what: &str) -> String {
        format!("{what}: HTTP {}: {}", self.status, snippet(&self.body))
    }
}

/// Sends one request; `form` is posted URL-encoded.
pub(crate) async fn send(
    client: &Http,
    method: Method,
    url: &str,
    cookie: Option<&str>,
    form: Option<Vec<u8>>,
) -> Result<Answer, String> {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(bytes) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            bytes
        }
        None => Vec::new(),
    };
    let request = request.body(Full::new(Bytes::from(body))).map_err(|err| format!("{url}: {err}"))?;
    let response = client.request(request).await.map_err(|err| format!("{url}: {err:?}"))?;
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next()?.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let body = response.into_body().collect().await.map_err(|err| format!("{url}: reading the body: {err}"))?.to_bytes();
    Ok(Answer { status, cookies, body: String::from_utf8_lossy(&body).into_owned() })
}

/// What a page says, briefly: its alert if it has one, else its main part,
/// without tags.
fn snippet(html: &str) -> String {
    let from = match html.find("role=\"alert\"") {
        // From the start of the alert's tag, which goes with the other tags.
        Some(at) => html[..at].rfind('<').unwrap_or(at),
        None => html.find("<main").or_else(|| html.find("<body")).unwrap_or(0),
    };
    let (mut text, mut in_tag) = (String::new(), false);
    for c in html[from..].chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

/// `application/x-www-form-urlencoded` of `fields`.
fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        body.append_pair(name, value);
    }
    body.finish().into_bytes()
}

/// The value of the first `<input ... name="{name}" value="...">` of a page.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = &html[html.find(&marker)? + marker.len()..];
    let value = &rest[..rest.find('"')?];
    Some(
        value
            .replace("&#43;", "+")
            .replace("&#x2b;", "+")
            .replace("&#x2f;", "/")
            .replace("&#47;", "/")
            .replace("&#61;", "=")
            .replace("&amp;", "&"),
    )
}

pub async fn web_forms(args: WebFormsArgs) -> anyhow::Result<()> {
    let (rows, succeeded, counted) = with_stack(&args.database_url, async |stack| web_form_phases(stack, &args).await).await?;
    print_table(&rows);
    println!("cases created: {counted}, successful submissions: {succeeded}");
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    ensure!(errors == 0, "{errors} submissions failed");
    ensure!(counted == succeeded as u64, "{succeeded} submissions succeeded but {counted} cases were created");
    Ok(())
}

fn form_field(name: &str, kind: portal_pb::FormFieldKind, target: portal_pb::FormFieldTarget) -> portal_pb::FormField {
    portal_pb::FormField {
        name: name.to_owned(),
        label: name.to_owned(),
        kind: kind as i32,
        required: true,
        target: target as i32,
        ..Default::default()
    }
}

/// The phases' rows, the successful submissions and the cases in the case schema.
async fn web_form_phases(stack: &Stack, args: &WebFormsArgs) -> anyhow::Result<(Vec<Row>, usize, u64)> {
    use portal_pb::{FormFieldKind as Kind, FormFieldTarget as To};
    let setup = Endpoint::from_shared(stack.grpc.clone())?.connect().await?;
    let form = WebFormServiceClient::with_interceptor(setup, as_admin as Auth)
        .create_web_form(portal_pb::CreateWebFormRequest {
            web_form: Some(portal_pb::WebForm {
                slug: "bench-support".into(),
                title: "Contact support".into(),
                intro: "Tell us what happened.".into(),
                fields: vec![
                    form_field("name", Kind::Text, To::ContactName),
                    form_field("email", Kind::Email, To::ContactEmail),
                    form_field("subject", Kind::Text, To::Subject),
                    form_field("details", Kind::Textarea, To::Description),
                ],
                case_type_id: "technical_issue".into(),
                priority: pb::CasePriority::Medium as i32,
                success_message: "We answer within one working day.".into(),
                active: true,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .context("creating the web form")?
        .into_inner();
    let page = Arc::new(format!("{}/f/{}", stack.base, form.slug));
    // Not timed: the tables the phases write get rows, then statistics.
    let (warm_up, _) = submit_forms(&page, "warm-up: form submit", "warm-up", 8, crate::WARM_UP).await?;
    ensure!(warm_up.errors == 0, "{} warm-up submissions failed", warm_up.errors);
    settle_stack(stack).await?;
    let mut succeeded = crate::WARM_UP;
    let mut rows = Vec::new();
    for (level, &concurrency) in args.concurrency.iter().enumerate() {
        let (row, numbers) =
            submit_forms(&page, "form submit", &format!("level-{level}"), concurrency as usize, args.submissions as usize)
                .await?;
        succeeded += numbers.len();
        rows.push(row);
    }
    Ok((rows, succeeded, count_cases(&stack.settings).await?))
}

/// `submissions` filled-in forms posted to `page` by `concurrency` visitors
/// (each email address unique by `tag`), timed as `phase`; the case numbers
/// the answers showed, all distinct. Each visitor reads the form page for
/// its `docket-token` first, before the clock starts.
async fn submit_forms(
    page: &Arc<String>,
    phase: &'static str,
    tag: &str,
    concurrency: usize,
    submissions: usize,
) -> anyhow::Result<(Row, Vec<String>)> {
    // One connection per visitor, opened by the set-up before the clock starts.
    let clients: Vec<Http> = (0..concurrency).map(|_| http_client()).collect();
    let form_page = page.clone();
    let (setup, tokens) = drive_clients("set-up: GET /f/{slug}", clients.clone(), submissions, move |client: Http, _| {
        let page = form_page.clone();
        async move {
            let answer = send(&client, Method::GET, &page, None, None).await?;
            if answer.status != 200 {
                return Err(answer.refused("the form page"));
            }
            hidden_value(&answer.body, "docket-token").ok_or_else(|| "the form page has no docket-token".to_owned())
        }
    })
    .await?;
    ensure!(setup.errors == 0, "{} form pages could not be read", setup.errors);

    let (tokens, form_page, tag) = (Arc::new(tokens), page.clone(), Arc::new(tag.to_owned()));
    let (row, numbers) = drive_clients(phase, clients, submissions, move |client: Http, i| {
        let email = format!("visitor-{tag}-{i}@bench.example");
        let body = form_body(&[
            ("docket-token", &tokens[i]),
            ("docket-website", ""),
            ("name", "Petra Schmidt"),
            ("email", &email),
            ("subject", "The scanner makes a grinding noise"),
            ("details", "It grinds for a minute when it starts, then works."),
        ]);
        let page = form_page.clone();
        async move {
            let answer = send(&client, Method::POST, &page, None, Some(body)).await?;
            match answer.body.split_once(CASE_NUMBER_MARK) {
                Some((_, rest)) if answer.status == 200 => Ok(rest.split('<').next().unwrap_or_default().to_owned()),
                _ => Err(answer.refused("the submission")),
            }
        }
    })
    .await?;
    let distinct: std::collections::HashSet<&String> = numbers.iter().collect();
    ensure!(distinct.len() == numbers.len(), "two submissions answered with the same case number");
    Ok((row, numbers))
}

/// The cases in the case schema.
async fn count_cases(settings: &Settings) -> anyhow::Result<u64> {
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, "SELECT count(*) FROM cases")).await?;
    let count: i64 = rows.first().context("no answer to the count")?.try_get_by_index(0)?;
    db.close().await?;
    Ok(u64::try_from(count)?)
}

pub async fn portal_pages(args: PortalPagesArgs) -> anyhow::Result<()> {
    let rows = with_stack(&args.database_url, async |stack| portal_page_phases(stack, &args).await).await?;
    print_table(&rows);
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    ensure!(errors == 0, "{errors} requests failed");
    Ok(())
}

/// A browser's cookies, as `Cookie` sends them.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, answer: &Answer) {
        for (name, value) in &answer.cookies {
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.clone(), value.clone());
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

/// [`crate::settle`]s the case and portal schemas (not timed): the pages
/// are measured as the services run after their first minute, not with the
/// plans PostgreSQL makes for tables it last saw empty.
async fn settle_stack(stack: &Stack) -> anyhow::Result<()> {
    for service in [docket_case::SERVICE, docket_portal::SERVICE] {
        let db = docket_kit::db::connect(&stack.settings.database, service).await?;
        crate::settle(&db).await?;
        db.close().await?;
    }
    Ok(())
}

/// Creates the customer's cases; returns their numbers.
async fn create_cases(stack: &Stack, template: &pb::Case, cases: usize) -> anyhow::Result<Vec<String>> {
    let mut channels: Vec<Channel> = Vec::new();
    for _ in 0..8 {
        channels.push(Endpoint::from_shared(stack.grpc.clone())?.connect().await?);
    }
    let (template, done) = (template.clone(), Arc::new(AtomicUsize::new(0)));
    let step = (cases / 10).max(100);
    let (setup, numbers) = drive("set-up: CreateCase", &channels, cases, move |mut client, i| {
        // One subject in fifty has the search phase's word.
        let subject = if i % 50 == 0 { format!("Bench case {i}: the feeder {SEARCH_WORD}") } else { format!("Bench case {i}") };
        let case = pb::Case { subject, ..template.clone() };
        let done = done.clone();
        async move {
            let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
            let number = client.create_case(request).await?.into_inner().case_number;
            let done = done.fetch_add(1, Ordering::Relaxed) + 1;
            if done % step == 0 {
                eprintln!("  {done} of {cases} cases created");
            }
            Ok(number)
        }
    })
    .await?;
    ensure!(setup.errors == 0, "{} cases could not be created", setup.errors);
    Ok(numbers)
}

/// Gives the bench contact portal access with [`PASSWORD`], in the portal's
/// store as `docket dev` does for its demo users.
async fn add_portal_user(settings: &Settings, template: &pb::Case) -> anyhow::Result<()> {
    let contact = ContactFacts {
        contact_id: template.contacts.first().context("the template has no contact")?.contact_id.clone(),
        account_id: template.account_id.clone(),
        email: CONTACT_EMAIL.to_lowercase(),
        name: CONTACT_NAME.to_owned(),
    };
    let hash = tokio::task::spawn_blocking(|| password::hash(PASSWORD)).await??;
    let db = docket_kit::db::connect(&settings.database, docket_portal::SERVICE).await?;
    let store = Store::new(db.clone());
    let by = Actor { actor: "system:bench", reason: "portal-pages benchmark", at: docket_kit::time::now() };
    store.add_active_user(&contact, false, hash, &by).await.context("adding the portal user")?;
    db.close().await?;
    Ok(())
}

/// Logs in through the login page as a browser does; returns its cookies.
async fn log_in(base: &str) -> anyhow::Result<String> {
    let (client, mut jar) = (http_client(), Jar::default());
    let url = format!("{base}/portal/login");
    let page = send(&client, Method::GET, &url, None, None).await.map_err(|err| anyhow!(err))?;
    ensure!(page.status == 200, "{}", page.refused("the login page"));
    jar.keep(&page);
    let csrf = hidden_value(&page.body, "csrf_token").context("the login page has no csrf_token")?;
    let form = form_body(&[("email", CONTACT_EMAIL), ("password", PASSWORD), ("csrf_token", &csrf)]);
    let answer = send(&client, Method::POST, &url, Some(&jar.header()), Some(form)).await.map_err(|err| anyhow!(err))?;
    ensure!(answer.status == 303, "{}", answer.refused("logging in"));
    jar.keep(&answer);
    ensure!(jar.0.keys().any(|name| name.ends_with("docket-session")), "no session cookie after logging in");
    Ok(jar.header())
}

/// The case links of a case list page.
fn listed(html: &str) -> usize {
    html.matches("<td><a href=\"/portal/cases/").count()
}

async fn portal_page_phases(stack: &Stack, args: &PortalPagesArgs) -> anyhow::Result<Vec<Row>> {
    let template = crate::case_template(&stack.grpc).await?;
    let cases = args.cases as usize;
    let numbers = Arc::new(create_cases(stack, &template, cases).await?);
    add_portal_user(&stack.settings, &template).await?;
    let cookie = Arc::new(log_in(&stack.base).await?);
    eprintln!("logged in as {CONTACT_EMAIL} with {cases} cases");
    settle_stack(stack).await?;

    let requests = args.requests as usize;
    let base = Arc::new(stack.base.clone());
    // What each page must show: the first page of the list, every match of the search.
    let (full_page, found) = (cases.min(LIST_PAGE), cases.div_ceil(50).min(LIST_PAGE));
    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        let clients: Vec<Http> = (0..concurrency).map(|_| http_client()).collect();
        // Opens each client's connection before the clock starts.
        for client in &clients {
            send(client, Method::GET, &format!("{base}/healthz"), None, None).await.map_err(|err| anyhow!(err))?;
        }
        let pages: [(&'static str, String, usize); 2] = [
            ("cases list", "/portal/cases".to_owned(), full_page),
            ("cases search", format!("/portal/cases?state=open&text={SEARCH_WORD}"), found),
        ];
        for (phase, path, expected) in pages {
            let (url, cookie) = (Arc::new(format!("{base}{path}")), cookie.clone());
            let (row, _) = drive_clients(phase, clients.clone(), requests, move |client: Http, _| {
                let (url, cookie) = (url.clone(), cookie.clone());
                async move {
                    let answer = send(&client, Method::GET, &url, Some(&cookie), None).await?;
                    let shown = listed(&answer.body);
                    if answer.status == 200 && answer.body.contains("class=\"case-list\"") && shown == expected {
                        Ok(())
                    } else {
                        Err(answer.refused(&format!("the case list ({shown} cases of {expected})")))
                    }
                }
            })
            .await?;
            rows.push(row);
        }
        let (numbers, base, cookie) = (numbers.clone(), base.clone(), cookie.clone());
        let (row, _) = drive_clients("case page", clients, requests, move |client: Http, i| {
            let number = numbers[pick(i, numbers.len())].clone();
            let (url, cookie) = (format!("{base}/portal/cases/{number}"), cookie.clone());
            async move {
                let answer = send(&client, Method::GET, &url, Some(&cookie), None).await?;
                if answer.status == 200 && answer.body.contains(&number) {
                    Ok(())
                } else {
                    Err(answer.refused(&format!("the page of {number}")))
                }
            }
        })
        .await?;
        rows.push(row);
    }
    Ok(rows)
}
