//! What most portal tests need: an app on a database and a session store,
//! customers with portal access (through the real invitation email), and
//! row counts of both schemas.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use sea_orm::ConnectionTrait;

use crate::{
    common::{AGENT, SERVICE, TestApp, eventually, redis::RedisPrefix},
    fixtures::{Customer, account, contact, unique},
};

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs each listed `async fn name(app: TestApp)` on PostgreSQL with Redis
/// sessions and on SQLite with in-memory sessions.
#[macro_export]
macro_rules! portal_tests {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    let redis = $crate::common::redis::RedisPrefix::new().await;
                    let app = $crate::support::spawn_with_redis(&redis).await;
                    super::$test(app).await;
                    redis.clean().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_memory() {
                    super::$test($crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await).await
                }
            }
        )*
    };
}

/// An app on PostgreSQL whose sessions live in Redis under `redis`'s prefix.
pub async fn spawn_with_redis(redis: &RedisPrefix) -> TestApp {
    let prefix = redis.prefix().to_owned();
    TestApp::spawn_with(crate::common::Backend::Postgres, |settings| {
        settings.kv = crate::common::redis::test_kv(&prefix);
    })
    .await
}

/// Row counts of every portal table, then of every case table: equal before
/// and after a refused call means nothing was written anywhere.
pub async fn all_row_counts(app: &TestApp) -> Vec<(String, i64)> {
    let db = app.service_db("portal").await;
    let mut counts = Vec::new();
    for table in ["portal_users", "portal_tokens", "web_forms", "form_submissions", "audit_entries", "idempotency_keys", "outbox"]
    {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count rows")
            .expect("one row");
        counts.push((format!("portal.{table}"), row.try_get::<i64>("", "n").expect("a count")));
    }
    db.close().await.ok();
    counts.extend(app.row_counts().await);
    counts
}

/// Runs one SQL statement on a service's database (tests move clocks back this way).
pub async fn execute(app: &TestApp, service: &str, sql: &str) {
    let db = app.service_db(service).await;
    db.execute_unprepared(sql).await.expect("statement runs");
    db.close().await.ok();
}

/// The token of the newest `kind` link (`invitation` or `reset`) emailed to
/// `email`, read from the dev mailbox the notification service writes.
pub async fn emailed_token(app: &TestApp, email: &str, kind: &str) -> String {
    let dir = std::path::PathBuf::from(&app.settings.notification.mailbox_dir);
    let marker = format!("/portal/{kind}/");
    eventually(&format!("a {kind} email to {email} in the mailbox {}", dir.display()), async || {
        let mut found: Vec<(String, String)> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let raw = std::fs::read(entry.path()).unwrap_or_default();
                let Some(message) = mail_parser::MessageParser::default().parse(&raw) else { continue };
                let to_them = message
                    .to()
                    .is_some_and(|to| to.iter().any(|a| a.address.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(email))));
                let body = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
                if let Some(at) = body.find(&marker).filter(|_| to_them) {
                    let token: String = body[at + marker.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    found.push((entry.file_name().to_string_lossy().into_owned(), token));
                }
            }
        }
        // Files are named by the time they were written.
        found.sort();
        found.pop().map(|(_, token)| token).ok_or("none there yet")
    })
    .await
}

/// How many `kind` emails went to `email`, once nothing done so far can
/// still send one.
pub async fn emails_with(app: &TestApp, email: &str, kind: &str) -> usize {
    app.wait_until_mail_settled().await;
    let dir = std::path::PathBuf::from(&app.settings.notification.mailbox_dir);
    let marker = format!("/portal/{kind}/");
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    entries
        .flatten()
        .filter(|entry| {
            let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
            raw.to_lowercase().contains(&email.to_lowercase()) && raw.contains(&marker)
        })
        .count()
}

/// A customer logged in to the portal.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub contact: pb::Contact,
    pub session: String,
}

pub async fn invite(app: &TestApp, contact_id: &str, portal_manager: bool) -> portal::InviteContactResponse {
    app.portal_access(AGENT)
        .invite_contact(portal::InviteContactRequest {
            contact_id: contact_id.to_owned(),
            portal_manager,
            idempotency_key: String::new(),
        })
        .await
        .expect("invite")
        .into_inner()
}

/// Invites a contact, follows the emailed link, sets [`PASSWORD`]: logged in.
pub async fn sign_up(app: &TestApp, contact: &pb::Contact, portal_manager: bool) -> Visitor {
    invite(app, &contact.id, portal_manager).await;
    let token = emailed_token(app, &contact.email, "invitation").await;
    let session = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest {
            token,
            password: PASSWORD.to_owned(),
            client_ip: "192.0.2.1".to_owned(),
        })
        .await
        .expect("accept the invitation")
        .into_inner();
    Visitor { contact: contact.clone(), session: session.session_id }
}

/// A new contact of `account_id`, signed up to the portal.
pub async fn customer_in(app: &TestApp, account_id: &str, name: &str, portal_manager: bool) -> Visitor {
    let email = format!("{}@customer.example", unique(&name.to_lowercase().replace(' ', ".")));
    let contact = contact(app, account_id, name, &email).await;
    sign_up(app, &contact, portal_manager).await
}

/// Two accounts with portal customers: Acme with a manager and a plain
/// contact, Globex with a plain contact.
pub struct World {
    pub acme: pb::Account,
    pub globex: pb::Account,
    pub manager: Visitor,
    pub colleague: Visitor,
    pub outsider: Visitor,
}

pub async fn world(app: &TestApp) -> World {
    let acme = account(app, &unique("Acme")).await;
    let globex = account(app, &unique("Globex")).await;
    let manager = customer_in(app, &acme.id, "Petra Manager", true).await;
    let colleague = customer_in(app, &acme.id, "Jonas Colleague", false).await;
    let outsider = customer_in(app, &globex.id, "Eve Outsider", false).await;
    World { acme, globex, manager, colleague, outsider }
}

impl Visitor {
    /// A case opened by staff with this visitor as its contact.
    pub async fn staff_case(&self, app: &TestApp, subject: &str) -> pb::Case {
        let customer = Customer {
            account: pb::Account { id: self.contact.account_id.clone(), ..Default::default() },
            contact: self.contact.clone(),
        };
        crate::fixtures::case(app, &customer, subject).await
    }

    /// A case this visitor opens in the portal.
    pub async fn open_case(&self, app: &TestApp, subject: &str) -> portal::PortalCase {
        app.portal_cases(SERVICE)
            .create_my_case(portal::CreateMyCaseRequest {
                session_id: self.session.clone(),
                subject: subject.to_owned(),
                description: "It stopped working this morning.".to_owned(),
                type_id: "technical_issue".to_owned(),
                priority: pb::CasePriority::High as i32,
                asset_serial_number: "SN-1".to_owned(),
                idempotency_key: String::new(),
            })
            .await
            .expect("create a case in the portal")
            .into_inner()
    }
}
