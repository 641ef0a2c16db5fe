//! Sends due deliveries: over SMTP, or into the dev mailbox. Failed sends
//! are retried with back-off and the delivery log keeps every attempt;
//! updates to one case for one recipient within the digest window go out
//! as one email. Every email of a case threads under the case's root
//! Message-ID, so mail clients group them.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, PoisonError},
    time::{Duration, Instant},
};

use lettre::{
    Message,
    message::{
        Mailbox,
        header::{ContentType, Header, HeaderName, HeaderValue},
    },
    transport::smtp::{
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::{AsyncSmtpConnection, TlsParameters},
        extension::ClientId,
    },
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::Instrument;

use crate::{
    config::{MailTransportKind, NotificationSettings, SmtpTls},
    domain::settings::{ACCESS_EVENT_TYPES, NotifySettings},
    store::{
        FAILED, MERGED, PENDING, SENT,
        entities::{delivery, mailer_instance},
        settings::load_settings,
    },
};

/// Where emails go.
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync {
    /// `Err` with the reason when the email was not accepted.
    async fn send(&self, id: &str, email: &Message) -> Result<(), String>;
}

/// SMTP over connections this mailer pools itself, with Nagle's algorithm
/// off. lettre's own transport (0.11.23) leaves it on, and then the end of
/// each message (`.`, written on its own after the body) waits for the
/// server's delayed ACK: 40 ms per email per connection (lettre#1159).
/// Implicit TLS (`smtp_tls = "tls"`, port 465) still connects through
/// lettre and keeps that wait until lettre sets `TCP_NODELAY` itself.
pub struct Smtp {
    host: String,
    port: u16,
    tls: SmtpTls,
    timeout: Duration,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Connections between sends, with when each was parked.
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    max_idle: usize,
}

/// A connection idle for longer is checked (NOOP) before it is used again;
/// servers close idle connections after a few minutes.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(5);
/// A connection idle for longer is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

impl Smtp {
    fn new(settings: &NotificationSettings) -> Self {
        let credentials = (!settings.smtp_username.is_empty())
            .then(|| Credentials::new(settings.smtp_username.clone(), settings.smtp_password.clone()));
        Self {
            host: settings.smtp_host.clone(),
            port: settings.smtp_port,
            tls: settings.smtp_tls,
            timeout: Duration::from_secs(settings.smtp_timeout_secs),
            credentials,
            hello: ClientId::default(),
            idle: std::sync::Mutex::new(Vec::new()),
            max_idle: Ord::max(settings.smtp_pool_size, 1) as usize,
        }
    }

    /// An idle connection that still works, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, String> {
        loop {
            let parked = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((mut connection, since)) = parked else { break };
            let idle = since.elapsed();
            if idle < CHECK_IDLE_AFTER || (idle < IDLE_LIMIT && connection.test_connected().await) {
                return Ok(connection);
            }
            connection.abort().await;
        }
        tokio::time::timeout(self.timeout, self.connect())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
            .map_err(|err| format!("connecting to {}:{}: {err}", self.host, self.port))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let mut connection = if self.tls == SmtpTls::Tls {
            let tls = TlsParameters::new(self.host.clone()).map_err(|err| err.to_string())?;
            let address = (self.host.as_str(), self.port);
            AsyncSmtpConnection::connect_tokio1(address, Some(self.timeout), &self.hello, Some(tls), None)
                .await
                .map_err(|err| err.to_string())?
        } else {
            let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|err| err.to_string())?;
            stream.set_nodelay(true).map_err(|err| err.to_string())?;
            let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                .await
                .map_err(|err| err.to_string())?;
            if self.tls == SmtpTls::Starttls {
                let tls = TlsParameters::new(self.host.clone()).map_err(|err| err.to_string())?;
                connection.starttls(tls, &self.hello).await.map_err(|err| err.to_string())?;
            }
            connection
        };
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await.map_err(|err| err.to_string())?;
        }
        Ok(connection)
    }
}

#[async_trait::async_trait]
impl MailTransport for Smtp {
    async fn send(&self, _id: &str, email: &Message) -> Result<(), String> {
        let mut connection = self.connection().await?;
        match connection.send(email.envelope(), &email.formatted()).await {
            Ok(_) => {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < self.max_idle {
                    idle.push((connection, Instant::now()));
                }
                Ok(())
            }
            // After an error the session's state is unknown: start afresh.
            Err(err) => {
                connection.abort().await;
                Err(err.to_string())
            }
        }
    }
}

/// The dev mailbox: one `.eml` file per email, in the order sent.
pub struct DevMailbox {
    pub dir: PathBuf,
}

#[async_trait::async_trait]
impl MailTransport for DevMailbox {
    async fn send(&self, id: &str, email: &Message) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|err| format!("creating {}: {err}", self.dir.display()))?;
        let name = format!("{}-{id}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"));
        let path = self.dir.join(name);
        tokio::fs::write(&path, email.formatted()).await.map_err(|err| format!("writing {}: {err}", path.display()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("notification.smtp_host: {0}")]
    Smtp(String),
}

/// The transport the settings name.
pub fn transport(settings: &NotificationSettings) -> Result<Arc<dyn MailTransport>, TransportError> {
    Ok(match settings.transport {
        MailTransportKind::Mailbox => Arc::new(DevMailbox { dir: PathBuf::from(&settings.mailbox_dir) }),
        MailTransportKind::Smtp => {
            if settings.smtp_tls != SmtpTls::None {
                // Refuse a host TLS cannot name now, not at the first email.
                TlsParameters::new(settings.smtp_host.clone()).map_err(|err| TransportError::Smtp(err.to_string()))?;
            }
            Arc::new(Smtp::new(settings))
        }
    })
}

/// `Auto-Submitted: auto-generated` (RFC 3834), so auto-responders do not answer.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// The Message-ID every email of a case refers to.
/// What stands in a delivery's stored body for a link's secret once the
/// email is gone.
pub const LINK_REMOVED: &str = "(removed once sent)";

/// Takes the secrets of portal links out of the stored bodies of access
/// emails (invitations, resets, submission confirmations) that are sent or failed for good: the log
/// keeps what was sent and to whom, and a backup of it opens no account.
async fn forget_links(conn: &impl ConnectionTrait, rows: &[delivery::Model]) -> Result<(), DbErr> {
    for row in rows.iter().filter(|row| ACCESS_EVENT_TYPES.contains(&row.event_type.as_str())) {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Body, Expr::value(without_link_secrets(&row.body)))
            .filter(delivery::Column::Id.eq(row.id.clone()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// `body` with the token of every `/invitation/…`, `/reset/…` and `/confirm/…` link
/// replaced by [`LINK_REMOVED`].
pub fn without_link_secrets(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some((at, marker)) =
        ["/invitation/", "/reset/", "/confirm/"].iter().filter_map(|m| rest.find(m).map(|at| (at, *m))).min_by_key(|(at, _)| *at)
    {
        let after = at + marker.len();
        let token_len = rest[after..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_').count();
        out.push_str(&rest[..after]);
        if token_len > 0 {
            out.push_str(LINK_REMOVED);
        }
        rest = &rest[after + token_len..];
    }
    out.push_str(rest);
    out
}

pub fn thread_root(case_id: &str, domain: &str) -> String {
    format!("<case.{case_id}@{domain}>")
}

pub fn message_id(delivery_id: &str, domain: &str) -> String {
    format!("<delivery.{delivery_id}@{domain}>")
}

/// How long a mailer may go unseen before the deliveries it leased are
/// free again: a mailer says it is alive at least every [`HEARTBEAT`].
const PRESUMED_DEAD_AFTER: chrono::Duration = chrono::Duration::seconds(10);
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Mailers not seen for this long are forgotten.
const FORGOTTEN_AFTER: chrono::Duration = chrono::Duration::hours(1);

pub struct Mailer {
    db: DatabaseConnection,
    transport: Arc<dyn MailTransport>,
    settings: NotificationSettings,
    /// This mailer, as its leases name it.
    instance: String,
    /// Rung when new deliveries are committed in this process: no waiting
    /// for the next poll (`send_interval_ms` is for those written elsewhere).
    waker: Arc<Notify>,
}

/// An email that cannot be built (a bad address) fails for good; an email
/// the server did not take is retried.
enum SendError {
    Permanent(String),
    Temporary(String),
}

/// What one round leased.
struct Claimed {
    /// Each email to send: one delivery, or a digest of several.
    emails: Vec<Vec<delivery::Model>>,
    settings: NotifySettings,
    /// Whether it took as many as it may at once (more may be due).
    full: bool,
}

impl Mailer {
    pub fn new(
        db: DatabaseConnection,
        transport: Arc<dyn MailTransport>,
        settings: NotificationSettings,
        waker: Arc<Notify>,
    ) -> Self {
        Self { db, transport, settings, instance: uuid::Uuid::now_v7().to_string(), waker }
    }

    /// Sends due emails until `shutdown`: up to `smtp_pool_size` at once,
    /// leasing more as soon as a send finishes (no round waits for its
    /// slowest email), and waking when this process commits new deliveries.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let pool = Ord::max(this.settings.smtp_pool_size, 1) as usize;
        let slots = Arc::new(Semaphore::new(pool));
        let finished = Arc::new(Notify::new());
        let interval = Duration::from_millis(this.settings.send_interval_ms);
        let mut last_seen: Option<tokio::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_seen.is_none_or(|at| at.elapsed() >= HEARTBEAT) {
                match this.say_alive().await {
                    Ok(()) => last_seen = Some(tokio::time::Instant::now()),
                    Err(err) => tracing::warn!(error = %err, "mailer: cannot note that it is alive; retrying"),
                }
            }
            let free = slots.available_permits();
            // A claim costs a transaction: while sends are in flight, lease
            // for a quarter of the pool at once rather than one by one.
            let worth_a_claim = free >= (pool / 4).max(1) || free == pool;
            let mut more = false;
            if free > 0 && worth_a_claim {
                match this.claim(free as u64).await {
                    Ok(Some(claimed)) => {
                        more = claimed.full;
                        let settings = Arc::new(claimed.settings);
                        for rows in claimed.emails {
                            // Only this loop takes slots, and it leased no more emails than were free.
                            let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                            let (this, settings, finished) = (this.clone(), settings.clone(), finished.clone());
                            tokio::spawn(async move {
                                if let Err(err) = this.send_batch(&rows, &settings.sender_name, &settings.sender_address).await {
                                    tracing::warn!(error = %err, "mailer: cannot record a send; its lease will end and it is sent again");
                                }
                                drop(slot);
                                finished.notify_one();
                            });
                        }
                    }
                    Ok(None) => {}
                    Err(err) => tracing::warn!(error = %err, "mailer: cannot read the delivery log; retrying"),
                }
            }
            if more && slots.available_permits() >= (pool / 4).max(1) {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = this.waker.notified() => {}
                () = finished.notified() => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
        // The sends in flight finish and are recorded.
        let _ = slots.acquire_many(pool as u32).await;
    }

    /// Notes that this mailer is alive, so its leases hold, frees the
    /// leases of mailers that stopped saying so (their emails are sent
    /// again), and forgets mailers long gone.
    async fn say_alive(&self) -> Result<(), DbErr> {
        let now = docket_kit::time::now();
        let me = mailer_instance::Model { id: self.instance.clone(), seen_at: now };
        mailer_instance::Entity::insert(me.into_active_model())
            .on_conflict(
                OnConflict::column(mailer_instance::Column::Id).update_column(mailer_instance::Column::SeenAt).to_owned(),
            )
            .exec(&self.db)
            .await?;
        let alive: Vec<String> = mailer_instance::Entity::find()
            .filter(mailer_instance::Column::SeenAt.gt(now - PRESUMED_DEAD_AFTER))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.id)
            .chain([self.instance.clone()])
            .collect();
        let freed = delivery::Entity::update_many()
            .col_expr(delivery::Column::LeasedBy, Expr::value(Option::<String>::None))
            .col_expr(delivery::Column::NotBefore, Expr::value(now))
            .filter(delivery::Column::Status.eq(PENDING))
            .filter(delivery::Column::LeasedBy.is_not_null())
            .filter(delivery::Column::LeasedBy.is_not_in(alive))
            .exec(&self.db)
            .await?;
        if freed.rows_affected > 0 {
            tracing::warn!(deliveries = freed.rows_affected, "mailer: took over the deliveries of a mailer that stopped");
        }
        mailer_instance::Entity::delete_many()
            .filter(mailer_instance::Column::SeenAt.lt(now - FORGOTTEN_AFTER))
            .exec(&self.db)
            .await?;
        let pending = delivery::Entity::find().filter(delivery::Column::Status.eq(PENDING)).count(&self.db).await?;
        docket_kit::metrics::emails_pending(pending);
        Ok(())
    }

    /// The longest one send may take: past it, it counts as failed.
    fn send_limit(&self) -> Duration {
        Duration::from_secs(Ord::max(self.settings.smtp_timeout_secs.saturating_mul(2), 1))
    }

    /// A lease: as long as one send can take, and a little more. Each leased
    /// email starts sending at once, so nothing waits behind a batch.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.send_limit()).unwrap_or_else(|_| chrono::Duration::minutes(1))
            + chrono::Duration::seconds(5)
    }

    /// Leases what is due, at most `limit` emails, counting the
    /// attempt before it is made: a crash after the server took an email
    /// but before it was marked sent sends it again, and the log shows the
    /// second attempt.
    async fn claim(&self, limit: u64) -> Result<Option<Claimed>, DbErr> {
        let txn = self.db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // One claimer at a time per schema, so replicas never take the same rows.
            let row = txn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_try_advisory_xact_lock(hashtext('docket.mailer.' || current_schema())) AS leader",
                ))
                .await?;
            if !row.map(|r| r.try_get::<bool>("", "leader")).transpose()?.unwrap_or(false) {
                txn.commit().await?;
                return Ok(None);
            }
        }
        let now = docket_kit::time::now();
        let due = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(PENDING))
            .filter(delivery::Column::NotBefore.lte(now))
            .order_by_asc(delivery::Column::CreatedAt)
            .limit(limit)
            .all(&txn)
            .await?;
        if due.is_empty() {
            txn.commit().await?;
            return Ok(None);
        }
        let full = due.len() as u64 == limit;
        let settings = load_settings(&txn).await?.settings;
        // A digest takes every pending update of that case for that
        // recipient that nobody is sending, due or not; without a digest
        // window every update is its own email.
        let mut emails: Vec<Vec<delivery::Model>> = if settings.digest_window_seconds > 0 {
            let mut groups: BTreeMap<(String, String), Vec<delivery::Model>> = BTreeMap::new();
            let mut emails = Vec::new();
            for row in &due {
                // Emails about no case (portal invitations, resets) always go alone.
                if row.case_id.is_empty() {
                    emails.push(vec![row.clone()]);
                    continue;
                }
                let key = (row.recipient.clone(), row.case_id.clone());
                if groups.contains_key(&key) {
                    continue;
                }
                let rows = delivery::Entity::find()
                    .filter(delivery::Column::Status.eq(PENDING))
                    .filter(delivery::Column::Recipient.eq(row.recipient.clone()))
                    .filter(delivery::Column::CaseId.eq(row.case_id.clone()))
                    .filter(Condition::any().add(delivery::Column::LeasedBy.is_null()).add(delivery::Column::NotBefore.lte(now)))
                    .order_by_asc(delivery::Column::CreatedAt)
                    .all(&txn)
                    .await?;
                groups.insert(key, rows);
            }
            emails.extend(groups.into_values());
            emails
        } else {
            due.into_iter().map(|row| vec![row]).collect()
        };
        let ids: Vec<String> = emails.iter().flatten().map(|r| r.id.clone()).collect();
        delivery::Entity::update_many()
            .col_expr(delivery::Column::NotBefore, Expr::value(now + self.lease()))
            .col_expr(delivery::Column::LeasedBy, Expr::value(Some(self.instance.clone())))
            .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
            .filter(delivery::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        for row in emails.iter_mut().flatten() {
            row.attempts += 1;
        }
        Ok(Some(Claimed { emails, settings, full }))
    }

    /// Sends one email (one delivery, or a digest of several) and records
    /// the outcome; `true` when it went out.
    async fn send_batch(&self, rows: &[delivery::Model], sender_name: &str, sender_address: &str) -> Result<bool, DbErr> {
        let Some(first) = rows.first() else { return Ok(false) };
        let email_id = message_id(&first.id, &self.settings.message_id_domain);
        let started = Instant::now();
        // The send joins the trace of the change that caused the email.
        let span = tracing::info_span!("email", otel.name = "send email", case = %first.case_number, updates = rows.len());
        docket_kit::telemetry::continue_traceparent(&span, &first.traceparent);
        let outcome = match self.compose(rows, sender_name, sender_address, &email_id) {
            Ok(email) => {
                match tokio::time::timeout(self.send_limit(), self.transport.send(&first.id, &email).instrument(span)).await {
                    Ok(sent) => sent.map_err(SendError::Temporary),
                    Err(_) => Err(SendError::Temporary(format!("no answer within {:?}", self.send_limit()))),
                }
            }
            Err(err) => Err(err),
        };
        if outcome.is_ok() {
            docket_kit::metrics::email_sent(started.elapsed().as_secs_f64());
        }
        // One delivery and no link to forget: one statement, no transaction.
        let alone = rows.len() == 1 && !ACCESS_EVENT_TYPES.contains(&first.event_type.as_str());
        if alone {
            return self.record(&self.db, rows, outcome, email_id).await;
        }
        let txn = self.db.begin().await?;
        let sent = self.record(&txn, rows, outcome, email_id).await?;
        txn.commit().await?;
        Ok(sent)
    }

    /// Records how sending `rows` as the email `email_id` went.
    async fn record(
        &self,
        conn: &impl ConnectionTrait,
        rows: &[delivery::Model],
        outcome: Result<(), SendError>,
        email_id: String,
    ) -> Result<bool, DbErr> {
        let Some(first) = rows.first() else { return Ok(false) };
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        // Counted when leased.
        let attempts = first.attempts;
        let now = docket_kit::time::now();
        match outcome {
            Ok(()) => {
                tracing::info!(case = %first.case_number, recipient = %first.recipient, updates = rows.len(), "email sent");
                delivery::Entity::update_many()
                    .col_expr(delivery::Column::Status, Expr::value(SENT))
                    .col_expr(delivery::Column::Attempts, Expr::value(attempts))
                    .col_expr(delivery::Column::MessageId, Expr::value(email_id.clone()))
                    .col_expr(delivery::Column::SentAt, Expr::value(Some(now)))
                    .col_expr(delivery::Column::LastError, Expr::value(""))
                    .col_expr(delivery::Column::LeasedBy, Expr::value(Option::<String>::None))
                    .filter(delivery::Column::Id.eq(first.id.clone()))
                    .exec(conn)
                    .await?;
                if rows.len() > 1 {
                    delivery::Entity::update_many()
                        .col_expr(delivery::Column::Status, Expr::value(MERGED))
                        .col_expr(delivery::Column::MessageId, Expr::value(email_id))
                        .col_expr(delivery::Column::SentAt, Expr::value(Some(now)))
                        .col_expr(delivery::Column::LeasedBy, Expr::value(Option::<String>::None))
                        .filter(delivery::Column::Id.is_in(ids[1..].to_vec()))
                        .exec(conn)
                        .await?;
                }
                forget_links(conn, rows).await?;
                Ok(true)
            }
            Err(err) => {
                let (reason, permanent) = match err {
                    SendError::Permanent(reason) => (reason, true),
                    SendError::Temporary(reason) => (reason, false),
                };
                if permanent || attempts >= self.settings.max_attempts {
                    docket_kit::metrics::email_failed("final");
                    tracing::error!(case = %first.case_number, recipient = %first.recipient, %reason, "email failed for good");
                    self.record_failure(conn, &ids, attempts, &reason, FAILED, now).await?;
                    forget_links(conn, rows).await?;
                } else {
                    docket_kit::metrics::email_failed("retry");
                    let delay = self.retry_delay(attempts);
                    tracing::warn!(case = %first.case_number, recipient = %first.recipient, %reason, retry_in = ?delay, "email not sent; will retry");
                    let next = now + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(1));
                    self.record_failure(conn, &ids, attempts, &reason, PENDING, next).await?;
                }
                Ok(false)
            }
        }
    }

    fn retry_delay(&self, attempts: i32) -> Duration {
        let factor = 1u64 << attempts.clamp(0, 12);
        Duration::from_secs(self.settings.retry_base_secs.saturating_mul(factor) / 2)
            .min(Duration::from_secs(3600))
            .max(Duration::from_millis(200))
    }

    async fn record_failure(
        &self,
        txn: &impl ConnectionTrait,
        ids: &[String],
        attempts: i32,
        reason: &str,
        status: &str,
        not_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DbErr> {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(status))
            .col_expr(delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(delivery::Column::LastError, Expr::value(reason.chars().take(2000).collect::<String>()))
            .col_expr(delivery::Column::NotBefore, Expr::value(not_before))
            .col_expr(delivery::Column::LeasedBy, Expr::value(Option::<String>::None))
            .filter(delivery::Column::Id.is_in(ids.to_vec()))
            .exec(txn)
            .await?;
        Ok(())
    }

    fn compose(
        &self,
        rows: &[delivery::Model],
        sender_name: &str,
        sender_address: &str,
        email_id: &str,
    ) -> Result<Message, SendError> {
        let first = rows.first().ok_or_else(|| SendError::Permanent("nothing to send".into()))?;
        let from = sender_address
            .parse()
            .map(|address| Mailbox::new(Some(sender_name.to_owned()), address))
            .map_err(|err| SendError::Temporary(format!("the sender address {sender_address} is invalid: {err}")))?;
        let to = first
            .recipient
            .parse()
            .map(|address| Mailbox::new((!first.recipient_name.is_empty()).then(|| first.recipient_name.clone()), address))
            .map_err(|err| SendError::Permanent(format!("the recipient address {} is invalid: {err}", first.recipient)))?;
        let (subject, body) = if rows.len() == 1 {
            (first.subject.clone(), first.body.clone())
        } else {
            let subject = format!("[{}] {} updates", first.case_number, rows.len());
            let body = rows
                .iter()
                .enumerate()
                .map(|(i, row)| format!("Update {} of {}: {}\n\n{}", i + 1, rows.len(), row.subject, row.body))
                .collect::<Vec<_>>()
                .join("\n\n----------------------------------------\n\n");
            (subject, body)
        };
        let mut builder = Message::builder().from(from).to(to).subject(subject).message_id(Some(email_id.to_owned()));
        // Emails of a case thread under its root; others stand alone.
        if !first.case_id.is_empty() {
            let root = thread_root(&first.case_id, &self.settings.message_id_domain);
            builder = builder.in_reply_to(root.clone()).references(root);
        }
        builder
            .header(AutoSubmitted)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|err| SendError::Permanent(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_secrets_are_removed_and_the_rest_kept() {
        let body = "Hi,\nset it at http://x/portal/reset/AbC-12_z.\nOr http://x/portal/invitation/Q9 and /reset/ and /resets/x";
        assert_eq!(
            without_link_secrets(body),
            "Hi,\nset it at http://x/portal/reset/(removed once sent).\nOr http://x/portal/invitation/(removed once sent) and /reset/ and /resets/x"
        );
        assert_eq!(
            without_link_secrets("Confirm: http://x/portal/confirm/Zz_9-a\n"),
            "Confirm: http://x/portal/confirm/(removed once sent)\n"
        );
        assert_eq!(without_link_secrets("no links"), "no links");
    }
}
