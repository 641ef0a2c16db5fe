//! An install of the real binary for end-to-end tests, run the production
//! way: PostgreSQL schemas, a RabbitMQ exchange and queues of its own, and
//! each `docket serve` a process configured from the environment.

use std::{
    io::Write,
    process::{Child, Command, Stdio},
    time::Duration,
};

use docket_proto::case::v1::{self as pb, case_service_client::CaseServiceClient, contact_service_client::ContactServiceClient};
use tonic::{Request, Status, service::interceptor::InterceptedService, transport::Channel};

use crate::common::{SERVICE, ServingStatus, check_postgres, postgres_url, rabbit::Cleanup, rabbitmq_url, wait_for_health};

pub struct Install {
    pub prefix: String,
    pub exchange: String,
    pub queue_prefix: String,
    /// Where the notification service's dev mailbox transport writes.
    pub mailbox: tempfile::TempDir,
    _cleanup: Cleanup,
}

/// A free port on 127.0.0.1.
pub fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Install {
    pub async fn new() -> Install {
        check_postgres().await;
        let unique = uuid::Uuid::now_v7().simple().to_string()[16..].to_owned();
        let exchange = format!("docket.test.{unique}");
        let queue_prefix = format!("test.{unique}.");
        let queues = docket::app::CONSUMERS.iter().map(|(service, _)| format!("{queue_prefix}{service}")).collect();
        Install {
            prefix: format!("t{unique}_"),
            _cleanup: Cleanup { exchange: exchange.clone(), queues },
            exchange,
            queue_prefix,
            mailbox: tempfile::tempdir().unwrap(),
        }
    }

    pub fn queue(&self, service: &str) -> String {
        format!("{}{service}", self.queue_prefix)
    }

    /// `docket serve <targets>` listening on `port`, reaching the case
    /// service on `case_port`, with `env` over these settings.
    pub fn command(&self, targets: &[&str], port: u16, case_port: u16, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
        command
            .arg("serve")
            .args(targets)
            .env_remove("RUST_LOG")
            .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
            .env("DOCKET__DATABASE__URL", postgres_url())
            .env("DOCKET__DATABASE__SCHEMA_PREFIX", &self.prefix)
            .env("DOCKET__DATABASE__MIGRATE_ON_START", "true")
            .env("DOCKET__EVENTS__BACKEND", "rabbitmq")
            .env("DOCKET__EVENTS__URL", rabbitmq_url())
            .env("DOCKET__EVENTS__EXCHANGE", &self.exchange)
            .env("DOCKET__EVENTS__QUEUE_PREFIX", &self.queue_prefix)
            .env("DOCKET__GRPC__LISTEN", format!("127.0.0.1:{port}"))
            .env("DOCKET__AUTH__TOKENS__MTA__TOKEN", SERVICE)
            .env("DOCKET__AUTH__TOKENS__MTA__ROLE", "service")
            .env("DOCKET__NOTIFICATION__CASE_SERVICE_URL", format!("http://127.0.0.1:{case_port}"))
            .env("DOCKET__NOTIFICATION__SERVICE_TOKEN", SERVICE)
            .env("DOCKET__NOTIFICATION__TRANSPORT", "mailbox")
            .env("DOCKET__NOTIFICATION__MAILBOX_DIR", self.mailbox.path())
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// `docket events <args>` on this install's broker, with `env` over its settings.
    pub fn events_command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
        command
            .arg("events")
            .args(args)
            .env_remove("RUST_LOG")
            .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
            .env("DOCKET__EVENTS__BACKEND", "rabbitmq")
            .env("DOCKET__EVENTS__URL", rabbitmq_url())
            .env("DOCKET__EVENTS__EXCHANGE", &self.exchange)
            .env("DOCKET__EVENTS__QUEUE_PREFIX", &self.queue_prefix);
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    pub fn serve(&self, targets: &[&str], port: u16, case_port: u16, env: &[(&str, &str)]) -> Running {
        Running(self.command(targets, port, case_port, env).spawn().unwrap())
    }

    /// Emails in the mailbox.
    pub fn emails(&self) -> usize {
        std::fs::read_dir(self.mailbox.path()).map(|entries| entries.count()).unwrap_or(0)
    }

    /// A new case by email through `docket mail ingest` to the
    /// notification service on `port`.
    pub fn email(&self, port: u16, n: u32) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_docket"))
            .args(["mail", "ingest", "--server", &format!("http://127.0.0.1:{port}"), "--token", SERVICE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let raw =
            format!("From: petra@acme.example\r\nSubject: Printer {n}\r\nMessage-ID: <q{n}@acme.example>\r\n\r\nJammed.\r\n");
        child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }

    pub async fn drop_schemas(&self) {
        let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
        for service in docket_migrations::SERVICES {
            docket_kit::db::drop_schema(&db, &format!("{}{service}", self.prefix)).await.unwrap();
        }
    }
}

/// A process a test started: killed when the test ends, also when an
/// assertion fails first, so that no server outlives its test.
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the process on `port` answers SERVING.
pub async fn healthy(port: u16) {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
    wait_for_health(channel, ServingStatus::Serving, Duration::from_secs(30)).await;
}

/// Stops a process with SIGTERM, as an orchestrator does, and waits.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// Messages ready in `queue`, or `None` when it does not exist.
pub async fn queue_depth(queue: &str) -> Option<u32> {
    use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
    let connection = Connection::connect(&rabbitmq_url(), ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let depth = channel.queue_declare(queue.into(), passive, FieldTable::default()).await.ok().map(|q| q.message_count());
    let _ = connection.close(200, "looked".into()).await;
    depth
}

fn with_service_token(mut request: Request<()>) -> Result<Request<()>, Status> {
    let bearer = format!("Bearer {SERVICE}").parse().map_err(|_| Status::internal("the test token is no header value"))?;
    request.metadata_mut().insert("authorization", bearer);
    Ok(request)
}

type Authed = InterceptedService<Channel, fn(Request<()>) -> Result<Request<()>, Status>>;

/// The case service of an install, called as another internal system
/// calls it: over gRPC with the service token.
pub struct CaseService {
    pub contacts: ContactServiceClient<Authed>,
    pub cases: CaseServiceClient<Authed>,
}

impl CaseService {
    pub fn at(port: u16) -> CaseService {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
        let auth: fn(Request<()>) -> Result<Request<()>, Status> = with_service_token;
        CaseService {
            contacts: ContactServiceClient::with_interceptor(channel.clone(), auth),
            cases: CaseServiceClient::with_interceptor(channel, auth),
        }
    }

    /// A new case of the customer `email` (found, or made under "Unassigned").
    pub async fn open_case(&mut self, email: &str, subject: &str) -> pb::Case {
        let request = pb::FindOrCreateContactRequest {
            email: email.to_owned(),
            name: email.split('@').next().unwrap_or(email).to_owned(),
            unassigned_account_name: "Unassigned".into(),
            ..Default::default()
        };
        let contact = self.contacts.find_or_create_contact(request).await.unwrap().into_inner().contact.unwrap();
        let case = pb::Case {
            subject: subject.to_owned(),
            type_id: "technical_issue".into(),
            priority: pb::CasePriority::Medium as i32,
            channel: pb::CaseChannel::Phone as i32,
            account_id: contact.account_id.clone(),
            contacts: vec![pb::CaseContact { contact_id: contact.id.clone(), primary: true }],
            ..Default::default()
        };
        self.cases
            .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
            .await
            .unwrap()
            .into_inner()
    }
}
