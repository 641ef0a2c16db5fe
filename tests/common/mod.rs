//! The test harness: starts Docket's services in-process on a random port
//! against a fresh PostgreSQL schema or SQLite file, and hands out typed
//! clients with tokens of each role. Every integration test begins with
//! `TestApp::spawn(backend)`; dropping the app stops it and drops its data.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod gateway;
pub mod metrics;
pub mod proxy;
pub mod rabbit;
pub mod redis;
pub mod smtp;

use std::{net::SocketAddr, time::Duration};

use docket::{
    app::{self, Target},
    settings::Settings,
};
use docket_billing::config::BillingSettings;
use docket_case::config::CaseSettings;
use docket_kit::kv::{KvBackend, KvSettings};
use docket_kit::{
    auth::Role,
    events::{EventBackend, EventSettings, QueueType},
    settings::{AuthSettings, DatabaseSettings, GrpcSettings, LogFormat, TelemetrySettings, TokenSettings},
};
use docket_knowledge::config::KnowledgeSettings;
use docket_notification::config::{MailTransportKind, NotificationSettings, SmtpTls};
use docket_portal::config::PortalSettings;
use docket_proto::case::v1::{
    account_service_client::AccountServiceClient, assignment_rule_service_client::AssignmentRuleServiceClient,
    case_service_client::CaseServiceClient, contact_service_client::ContactServiceClient,
    escalation_rule_service_client::EscalationRuleServiceClient, report_service_client::ReportServiceClient,
    staff_service_client::StaffServiceClient,
};
use docket_proto::{
    billing::v1::{
        case_sla_service_client::CaseSlaServiceClient, contract_service_client::ContractServiceClient,
        sla_policy_service_client::SlaPolicyServiceClient, work_service_client::WorkServiceClient,
    },
    knowledge::v1::{
        article_link_service_client::ArticleLinkServiceClient, article_service_client::ArticleServiceClient,
        attachment_service_client::AttachmentServiceClient, category_service_client::CategoryServiceClient,
        deflection_service_client::DeflectionServiceClient, draft_proposal_service_client::DraftProposalServiceClient,
    },
    notification::v1::notification_service_client::NotificationServiceClient,
    portal::v1::{
        portal_access_service_client::PortalAccessServiceClient, portal_auth_service_client::PortalAuthServiceClient,
        portal_case_service_client::PortalCaseServiceClient, web_form_service_client::WebFormServiceClient,
    },
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// PostgreSQL the tests use; override with DOCKET_TEST_DATABASE_URL.
pub fn postgres_url() -> String {
    std::env::var("DOCKET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The services that publish events through an outbox of their own.
pub const PUBLISHERS: [&str; 4] = ["case", "billing", "portal", "knowledge"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub const ADMIN: &str = "test-admin-token-0000";
pub const AGENT: &str = "test-agent-token-0000";
pub const VIEWER: &str = "test-viewer-token-0000";
pub const SERVICE: &str = "test-service-token-000";
/// The portal service's token: the one that may act for contacts.
pub const PORTAL: &str = "test-portal-token-0000";
/// The gateway's own token: it acts for logged-in customers towards the
/// knowledge service (the help center's `customers` articles).
pub const GATEWAY: &str = "test-gateway-token-000";

/// Adds `authorization: Bearer <token>` to every call (nothing when empty).
#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub settings: Settings,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// Keeps the SQLite files and the dev mailbox alive as long as the app.
    pub dir: tempfile::TempDir,
}

pub fn test_settings(backend: Backend, dir: &std::path::Path) -> Settings {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let database = match backend {
        Backend::Postgres => DatabaseSettings {
            url: postgres_url(),
            schema_prefix: format!("t{}_", &unique[unique.len() - 16..]),
            max_connections: 8,
            connect_timeout_secs: 5,
            migrate_on_start: true,
        },
        Backend::Sqlite => DatabaseSettings {
            url: format!("sqlite://{}/{{service}}.db?mode=rwc", dir.display()),
            schema_prefix: String::new(),
            max_connections: 1,
            connect_timeout_secs: 5,
            migrate_on_start: true,
        },
    };
    let token = |token: &str, role| TokenSettings { token: token.to_owned(), role, staff_id: None, acts_for_contacts: false };
    Settings {
        database,
        grpc: GrpcSettings { listen: "127.0.0.1:0".parse().unwrap(), request_timeout_secs: 30, health_check_interval_secs: 1 },
        telemetry: TelemetrySettings {
            log_format: LogFormat::Text,
            log_filter: "warn".to_owned(),
            metrics_listen: String::new(),
        },
        events: test_events(EventBackend::InProcess, &unique),
        notification: NotificationSettings {
            // Set to the server's own address once it has a port.
            case_service_url: "http://127.0.0.1:1".to_owned(),
            portal_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: SERVICE.to_owned(),
            transport: MailTransportKind::Mailbox,
            mailbox_dir: dir.join("mailbox").display().to_string(),
            smtp_host: "127.0.0.1".to_owned(),
            smtp_port: 25,
            smtp_tls: SmtpTls::None,
            smtp_username: String::new(),
            smtp_password: String::new(),
            // Generous: under a full parallel test run the SMTP sink answers slowly,
            // and a timed-out first attempt would be retried.
            smtp_timeout_secs: 20,
            smtp_pool_size: 8,
            send_interval_ms: 100,
            max_attempts: 5,
            retry_base_secs: 0,
            message_id_domain: "docket.test".to_owned(),
            unassigned_account_name: "Unassigned".to_owned(),
            trusted_authserv_ids: String::new(),
        },
        case: CaseSettings {
            // Set to the server's own address once it has a port.
            billing_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: SERVICE.to_owned(),
            routing_sweep_interval_ms: 200,
        },
        billing: BillingSettings {
            // Set to the server's own address once it has a port.
            case_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: SERVICE.to_owned(),
            sla_sweep_interval_ms: 100,
            sla_sweep_batch: 100,
            default_currency: "EUR".to_owned(),
            default_hourly_rate_minor: 6_000,
            default_tax_rate_bp: 1_900,
            business_name: "Acme Field Service GmbH".to_owned(),
        },
        kv: KvSettings { backend: KvBackend::Memory, url: String::new(), key_prefix: format!("t{unique}:"), timeout_ms: 2000 },
        portal: PortalSettings {
            // Set to the server's own address once it has a port.
            case_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: PORTAL.to_owned(),
            session_ttl_secs: 3600,
            lockout_attempts: 3,
            lockout_window_secs: 600,
            lockout_secs: 600,
            invitation_ttl_hours: 72,
            reset_ttl_minutes: 60,
            reset_requests_per_hour: 5,
            reopen_window_days: 14,
            password_min_length: 10,
            customer_case_types: String::new(),
            customer_priorities: "low,medium,high".to_owned(),
        },
        knowledge: KnowledgeSettings {
            // Set to the server's own address once it has a port.
            case_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: SERVICE.to_owned(),
        },
        gateway: gateway::test_gateway_settings(),
        auth: AuthSettings {
            tokens: [
                ("admin", token(ADMIN, Role::Admin)),
                ("agent", token(AGENT, Role::Agent)),
                ("viewer", token(VIEWER, Role::Viewer)),
                ("billing", token(SERVICE, Role::Service)),
                ("portal", TokenSettings { acts_for_contacts: true, ..token(PORTAL, Role::Service) }),
                ("gateway", TokenSettings { acts_for_contacts: true, ..token(GATEWAY, Role::Service) }),
            ]
            .into_iter()
            .map(|(name, t)| (name.to_owned(), t))
            .collect(),
        },
    }
}

/// Event settings of one test: its own exchange and queues, fast retries.
pub fn test_events(backend: EventBackend, unique: &str) -> EventSettings {
    EventSettings {
        backend,
        url: rabbitmq_url(),
        exchange: format!("docket.test.{unique}"),
        queue_prefix: format!("test.{unique}."),
        queue_type: QueueType::Classic,
        prefetch: 8,
        handlers: 4,
        batch: 8,
        retry_patience_secs: 1,
        retry_base_ms: 50,
        retry_max_ms: 200,
        relay_batch: 50,
        relay_poll_ms: 50,
        relay_linger_ms: 10,
        retention_hours: 1,
        consumers: String::new(),
    }
}

/// RabbitMQ the tests use; override with DOCKET_TEST_RABBITMQ_URL.
pub fn rabbitmq_url() -> String {
    std::env::var("DOCKET_TEST_RABBITMQ_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`spawn`](Self::spawn), with the settings adjusted first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(backend, dir.path());
        adjust(&mut settings);
        if backend == Backend::Postgres {
            check_postgres().await;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().unwrap();
        if settings.notification.case_service_url == "http://127.0.0.1:1" {
            settings.notification.case_service_url = format!("http://{addr}");
        }
        if settings.notification.portal_service_url == "http://127.0.0.1:1" {
            settings.notification.portal_service_url = format!("http://{addr}");
        }
        if settings.case.billing_service_url == "http://127.0.0.1:1" {
            settings.case.billing_service_url = format!("http://{addr}");
        }
        if settings.billing.case_service_url == "http://127.0.0.1:1" {
            settings.billing.case_service_url = format!("http://{addr}");
        }
        if settings.portal.case_service_url == "http://127.0.0.1:1" {
            settings.portal.case_service_url = format!("http://{addr}");
        }
        if settings.knowledge.case_service_url == "http://127.0.0.1:1" {
            settings.knowledge.case_service_url = format!("http://{addr}");
        }
        let (tx, rx) = oneshot::channel::<()>();
        let server_settings = settings.clone();
        let server = tokio::spawn(async move {
            app::run(&server_settings, Target::ALL, listener, async {
                let _ = rx.await;
            })
            .await
        });
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
        let app = TestApp { addr, backend, settings, channel, shutdown: Some(tx), server: Some(server), dir };
        app.wait_until_serving().await;
        app
    }

    /// Waits until the health service answers SERVING (migrations done).
    async fn wait_until_serving(&self) {
        wait_for_health(self.channel.clone(), ServingStatus::Serving, Duration::from_secs(10)).await;
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn bearer(token: &str) -> Bearer {
        Bearer((!token.is_empty()).then(|| format!("Bearer {token}").parse().expect("ascii token")))
    }

    pub fn cases(&self, token: &str) -> CaseServiceClient<Authed> {
        CaseServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn accounts(&self, token: &str) -> AccountServiceClient<Authed> {
        AccountServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn contacts(&self, token: &str) -> ContactServiceClient<Authed> {
        ContactServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn escalation_rules(&self, token: &str) -> EscalationRuleServiceClient<Authed> {
        EscalationRuleServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn assignment_rules(&self, token: &str) -> AssignmentRuleServiceClient<Authed> {
        AssignmentRuleServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn reports(&self, token: &str) -> ReportServiceClient<Authed> {
        ReportServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn staff(&self, token: &str) -> StaffServiceClient<Authed> {
        StaffServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn sla_policies(&self, token: &str) -> SlaPolicyServiceClient<Authed> {
        SlaPolicyServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn contracts(&self, token: &str) -> ContractServiceClient<Authed> {
        ContractServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn work(&self, token: &str) -> WorkServiceClient<Authed> {
        WorkServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn articles(&self, token: &str) -> ArticleServiceClient<Authed> {
        ArticleServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    /// Takes answers of up to 16 MiB: an attachment is at most 10.
    pub fn attachments(&self, token: &str) -> AttachmentServiceClient<Authed> {
        AttachmentServiceClient::with_interceptor(self.channel(), Self::bearer(token)).max_decoding_message_size(16 * 1024 * 1024)
    }

    pub fn article_links(&self, token: &str) -> ArticleLinkServiceClient<Authed> {
        ArticleLinkServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn draft_proposals(&self, token: &str) -> DraftProposalServiceClient<Authed> {
        DraftProposalServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn deflection(&self, token: &str) -> DeflectionServiceClient<Authed> {
        DeflectionServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn categories(&self, token: &str) -> CategoryServiceClient<Authed> {
        CategoryServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn case_slas(&self, token: &str) -> CaseSlaServiceClient<Authed> {
        CaseSlaServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    /// Row counts of some tables of one service's schema: equal before and
    /// after a refused call means nothing was written.
    pub async fn table_counts(&self, service: &str, tables: &[&str]) -> Vec<(String, i64)> {
        let db = self.service_db(service).await;
        let mut counts = Vec::new();
        for table in tables {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .expect("count rows")
                .expect("one row");
            counts.push(((*table).to_owned(), row.try_get::<i64>("", "n").expect("a count")));
        }
        db.close().await.ok();
        counts
    }

    /// A direct connection to one service's database.
    pub async fn service_db(&self, service: &str) -> DatabaseConnection {
        docket_kit::db::connect(&self.settings.database, service).await.expect("connect to the service database")
    }

    /// Waits until `consumer` (a service in `docket::app::CONSUMERS`) has
    /// handled every event published so far that its bindings route to it:
    /// each has its inbox row, which commits together with what the handler
    /// wrote. After it, an event's effect that is absent stays absent.
    pub async fn wait_until_consumed(&self, consumer: &str) {
        let bindings = app::CONSUMERS
            .iter()
            .find(|(name, _)| *name == consumer)
            .map(|(_, bindings)| *bindings)
            .unwrap_or_else(|| panic!("{consumer} consumes no events"));
        let mut outboxes = Vec::new();
        for publisher in PUBLISHERS {
            outboxes.push((publisher, self.service_db(publisher).await));
        }
        let inbox = self.service_db(consumer).await;
        let rows = async |db: &DatabaseConnection, sql: String| {
            db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("read events")
        };
        eventually(&format!("the {consumer} service to handle every event published so far"), async || {
            let handled: std::collections::HashSet<String> =
                rows(&inbox, format!("SELECT event_id FROM inbox WHERE consumer = '{consumer}'"))
                    .await
                    .iter()
                    .map(|row| row.try_get::<String>("", "event_id").expect("an event id"))
                    .collect();
            let mut missing = Vec::new();
            for (publisher, outbox) in &outboxes {
                for row in rows(outbox, "SELECT event_id, event_type FROM outbox ORDER BY position".to_owned()).await {
                    let id: String = row.try_get("", "event_id").expect("an event id");
                    let kind: String = row.try_get("", "event_type").expect("an event type");
                    if bindings.iter().any(|pattern| docket_kit::events::topic_matches(pattern, &kind)) && !handled.contains(&id)
                    {
                        missing.push(format!("{kind} {id} from {publisher}"));
                    }
                }
            }
            if missing.is_empty() { Ok(()) } else { Err(format!("not handled yet: {missing:?}")) }
        })
        .await;
        for (_, db) in outboxes {
            db.close().await.ok();
        }
        inbox.close().await.ok();
    }

    /// Waits until nothing done so far can still send an email: the
    /// notification service has handled every event published so far (its
    /// deliveries are written with the inbox row) and the mailer has settled
    /// every delivery (none is pending; a sent one was accepted by the mail
    /// server before it was marked sent). Then a test may assert which
    /// emails were *not* sent.
    pub async fn wait_until_mail_settled(&self) {
        self.wait_until_consumed(docket_notification::SERVICE).await;
        let db = self.service_db(docket_notification::SERVICE).await;
        eventually("the mailer to settle every delivery", async || {
            let pending = db
                .query_all_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT recipient, event_type, attempts, last_error FROM deliveries WHERE status = '{}'",
                        docket_notification::store::PENDING
                    ),
                ))
                .await
                .expect("read deliveries");
            let pending: Vec<String> = pending
                .iter()
                .map(|row| {
                    let field = |name| row.try_get::<String>("", name).unwrap_or_default();
                    let attempts = row.try_get::<i32>("", "attempts").unwrap_or_default();
                    format!(
                        "{} to {} after {attempts} attempts ({})",
                        field("event_type"),
                        field("recipient"),
                        field("last_error")
                    )
                })
                .collect();
            if pending.is_empty() { Ok(()) } else { Err(format!("pending: {pending:?}")) }
        })
        .await;
        db.close().await.ok();
    }

    pub fn notifications(&self, token: &str) -> NotificationServiceClient<Authed> {
        NotificationServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn portal_access(&self, token: &str) -> PortalAccessServiceClient<Authed> {
        PortalAccessServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn portal_auth(&self, token: &str) -> PortalAuthServiceClient<Authed> {
        PortalAuthServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn portal_cases(&self, token: &str) -> PortalCaseServiceClient<Authed> {
        PortalCaseServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    pub fn web_forms(&self, token: &str) -> WebFormServiceClient<Authed> {
        WebFormServiceClient::with_interceptor(self.channel(), Self::bearer(token))
    }

    /// A direct connection to the case service's database, to check what
    /// was (not) written.
    pub async fn case_db(&self) -> DatabaseConnection {
        docket_kit::db::connect(&self.settings.database, "case").await.expect("connect to the case database")
    }

    /// Row counts of every case-schema table: equal before and after a
    /// refused call means nothing was written.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let db = self.case_db().await;
        let mut counts = Vec::new();
        for table in [
            "accounts",
            "contacts",
            "staff_users",
            "teams",
            "team_members",
            "case_types",
            "cases",
            "case_contacts",
            "case_tags",
            "case_activities",
            "audit_entries",
            "idempotency_keys",
            "outbox",
        ] {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .expect("count rows")
                .expect("one row");
            counts.push((table.to_owned(), row.try_get::<i64>("", "n").expect("a count")));
        }
        // The last case number handed out (PostgreSQL: a sequence; SQLite: the
        // counter row), which a refused call must not move either.
        let last_number = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS n FROM case_number_seq"
            }
            _ => "SELECT value AS n FROM counters WHERE name = 'case_number'",
        };
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), last_number))
            .await
            .expect("read the last case number")
            .expect("one row");
        counts.push(("counters.case_number".to_owned(), row.try_get::<i64>("", "n").expect("a value")));
        db.close().await.ok();
        counts
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if self.backend == Backend::Postgres {
            let prefix = self.settings.database.schema_prefix.clone();
            let url = self.settings.database.url.clone();
            // Drop runs inside the test's runtime; clean up on a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(db) = sea_orm::Database::connect(url).await {
                        for service in docket_migrations::SERVICES {
                            let _ = docket_kit::db::drop_schema(&db, &format!("{prefix}{service}")).await;
                        }
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub use tonic_health::pb::health_check_response::ServingStatus;

/// The overall health status of the server behind `channel`, if it answers.
pub async fn health(channel: Channel) -> Option<ServingStatus> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = client.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(answer.into_inner().status).ok()
}

/// Polls health until it reports `wanted`; panics after `within`.
pub async fn wait_for_health(channel: Channel, wanted: ServingStatus, within: Duration) {
    eventually_within(within, &format!("health to report {wanted:?}"), async || {
        let answer = health(channel.clone()).await;
        if answer == Some(wanted) { Ok(()) } else { Err(format!("last answer: {answer:?}")) }
    })
    .await;
}

/// How long a test waits for something that must happen: generous, so that
/// only something that never happens fails, however slow the machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Undoes `service`'s migrations back to and including `name` (and so every
/// later one), as an operator rolling back that upgrade would.
pub async fn migrate_down_through(db: &DatabaseConnection, service: &str, name: &str) {
    let applied: Vec<String> = docket_migrations::status(db, service)
        .await
        .expect("the migration status")
        .into_iter()
        .filter_map(|(migration, applied)| applied.then_some(migration))
        .collect();
    let at = applied.iter().position(|m| m == name).unwrap_or_else(|| panic!("{name} is not applied: {applied:?}"));
    docket_migrations::down(db, service, (applied.len() - at) as u32).await.expect("migrate down");
}

/// The one way a test waits: polls `check` until it answers `Ok`, and returns
/// that value. `Err` tells what is still missing; if it is still missing after
/// [`PATIENCE`], the test fails with `what` and that last answer.
///
/// To assert that something did *not* happen, first wait here for a signal
/// that the system has already processed whatever could have caused it (an
/// inbox row, a delivery's final status, a later event), then assert.
pub async fn eventually<T, E: std::fmt::Display>(what: &str, check: impl AsyncFnMut() -> Result<T, E>) -> T {
    eventually_within(PATIENCE, what, check).await
}

/// [`eventually`] with a deadline of its own.
pub async fn eventually_within<T, E: std::fmt::Display>(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(missing) if tokio::time::Instant::now() >= deadline => {
                panic!("waited {within:?} for {what}; still: {missing}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Whether something accepts TCP connections on `port` of 127.0.0.1.
pub async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

/// The PostgreSQL backend (process id) that `session` runs on.
pub async fn backend_pid(session: &impl ConnectionTrait) -> i32 {
    let row = session
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
        .await
        .expect("read the backend pid")
        .expect("one row");
    row.try_get::<i32>("", "pid").expect("a pid")
}

/// The PostgreSQL backends waiting for a lock that backend `holder` holds.
/// Read from `pg_locks`, which (unlike `pg_stat_activity`) is never frozen
/// for the rest of a transaction.
pub async fn blocked_by(db: &impl ConnectionTrait, holder: i32) -> Vec<i32> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT DISTINCT pid FROM pg_locks WHERE NOT granted AND {holder} = ANY(pg_blocking_pids(pid))"),
        ))
        .await
        .expect("read pg_locks");
    rows.iter().map(|row| row.try_get::<i32>("", "pid").expect("a pid")).collect()
}

/// What PostgreSQL backend `pid` is doing, as `Some(state)` while it has a
/// transaction open, `None` once it has none (or is gone). Ask on a
/// connection outside any transaction: `pg_stat_activity` is read once per
/// transaction.
pub async fn open_transaction(db: &DatabaseConnection, pid: i32) -> Option<String> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT state FROM pg_stat_activity WHERE pid = {pid} AND xact_start IS NOT NULL"),
        ))
        .await
        .expect("read pg_stat_activity")?;
    Some(row.try_get::<Option<String>>("", "state").expect("a state").unwrap_or_default())
}

/// A port nothing listens on right now, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process (the real `docket` binary, a test server) that is
/// killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails the test with what to start when PostgreSQL is not reachable.
pub async fn check_postgres() {
    let url = postgres_url();
    match tokio::time::timeout(Duration::from_secs(5), sea_orm::Database::connect(url.clone())).await {
        Ok(Ok(db)) => {
            let _ = db.close().await;
        }
        Ok(Err(err)) => panic!(
            "PostgreSQL is not reachable at {url}: {err}.\nStart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ),
        Err(_) => panic!("PostgreSQL at {url} did not answer within 5 s; is it running?"),
    }
}

/// Runs each listed `async fn name(app: TestApp)` once on PostgreSQL and once
/// on SQLite, as `name::postgres` and `name::sqlite`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$test($crate::common::TestApp::spawn($crate::common::Backend::Postgres).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test($crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await).await
                }
            }
        )*
    };
}

/// The `BadRequest` field violations of a status, as (field, description).
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|br| br.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect())
        .unwrap_or_default()
}

/// Asserts a status code and that a field violation names `field`.
#[track_caller]
pub fn assert_field_error(status: &Status, code: tonic::Code, field: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let fields = field_violations(status);
    assert!(
        fields.iter().any(|(f, _)| f == field),
        "expected a field violation for `{field}`, got {fields:?} (message: {})",
        status.message()
    );
}
