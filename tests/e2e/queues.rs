//! Which queues a process declares: those of the consumers it runs, and
//! those `events.consumers` names as running elsewhere in the install. An
//! install without billing leaves no billing queue to fill forever.

use std::{
    io::Write,
    process::{Child, Command, Stdio},
    time::Duration,
};

use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};

use crate::common::{SERVICE, ServingStatus, check_postgres, eventually, postgres_url, rabbit::Cleanup, rabbitmq_url, wait_for_health};

/// Messages ready in `queue`, or `None` when it does not exist.
async fn queue_depth(queue: &str) -> Option<u32> {
    let connection = Connection::connect(&rabbitmq_url(), ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let depth = channel.queue_declare(queue.into(), passive, FieldTable::default()).await.ok().map(|q| q.message_count());
    let _ = connection.close(200, "looked".into()).await;
    depth
}

struct Install {
    prefix: String,
    exchange: String,
    queue_prefix: String,
    port: u16,
}

impl Install {
    fn serve(&self, consumers: &str) -> Child {
        self.serve_command(consumers).spawn().unwrap()
    }

    /// `docket serve case notification`, on RabbitMQ, naming `consumers` elsewhere.
    fn serve_command(&self, consumers: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
        command
            .args(["serve", "case", "notification"])
            .env_remove("RUST_LOG")
            .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
            .env("DOCKET__DATABASE__URL", postgres_url())
            .env("DOCKET__DATABASE__SCHEMA_PREFIX", &self.prefix)
            .env("DOCKET__DATABASE__MIGRATE_ON_START", "true")
            .env("DOCKET__EVENTS__BACKEND", "rabbitmq")
            .env("DOCKET__EVENTS__URL", rabbitmq_url())
            .env("DOCKET__EVENTS__EXCHANGE", &self.exchange)
            .env("DOCKET__EVENTS__QUEUE_PREFIX", &self.queue_prefix)
            .env("DOCKET__EVENTS__CONSUMERS", consumers)
            .env("DOCKET__GRPC__LISTEN", format!("127.0.0.1:{}", self.port))
            .env("DOCKET__AUTH__TOKENS__MTA__TOKEN", SERVICE)
            .env("DOCKET__AUTH__TOKENS__MTA__ROLE", "service")
            .env("DOCKET__NOTIFICATION__CASE_SERVICE_URL", format!("http://127.0.0.1:{}", self.port))
            .env("DOCKET__NOTIFICATION__SERVICE_TOKEN", SERVICE)
            .env("DOCKET__NOTIFICATION__TRANSPORT", "mailbox")
            .env("DOCKET__NOTIFICATION__MAILBOX_DIR", std::env::temp_dir().join(format!("{}mail", self.prefix)))
            .stdout(Stdio::null());
        command
    }

    /// A new case by email: the case service publishes its events.
    fn email(&self, n: u32) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_docket"))
            .args(["mail", "ingest", "--server", &format!("http://127.0.0.1:{}", self.port), "--token", SERVICE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let raw = format!("From: petra@acme.example\r\nSubject: Printer {n}\r\nMessage-ID: <q{n}@acme.example>\r\n\r\nJammed.\r\n");
        child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }

    async fn healthy(&self) {
        let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", self.port)).unwrap().connect_lazy();
        wait_for_health(channel, ServingStatus::Serving, Duration::from_secs(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_without_billing_leaves_no_billing_queue_and_a_named_consumer_gets_its_queue_early() {
    check_postgres().await;
    let unique = uuid::Uuid::now_v7().simple().to_string()[16..].to_owned();
    let install = Install {
        prefix: format!("t{unique}_"),
        exchange: format!("docket.test.{unique}"),
        queue_prefix: format!("test.{unique}."),
        port: std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(),
    };
    let queue = |service: &str| format!("{}{service}", install.queue_prefix);
    let _cleanup = Cleanup {
        exchange: install.exchange.clone(),
        queues: docket::app::CONSUMERS.iter().map(|(service, _)| queue(service)).collect(),
    };

    let mut server = install.serve("");
    install.healthy().await;
    install.email(1);
    eventually("the notification service to take the case's events", async || match queue_depth(&queue("notification")).await {
        Some(0) => Ok(()),
        other => Err(format!("{other:?} waiting")),
    })
    .await;
    assert!(queue_depth(&queue("case")).await.is_some(), "the case service's own consumer has its queue");
    for absent in ["billing", "portal"] {
        assert_eq!(queue_depth(&queue(absent)).await, None, "no {absent} queue in an install without {absent}");
    }
    let _ = server.kill();
    let _ = server.wait();

    // Billing is deployed, but has not started yet: its queue keeps what is published meanwhile.
    let mut server = install.serve("billing");
    install.healthy().await;
    install.email(2);
    eventually("the new case's events to wait in the billing queue", async || match queue_depth(&queue("billing")).await {
        Some(waiting) if waiting > 0 => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .await;
    assert_eq!(queue_depth(&queue("portal")).await, None);
    let _ = server.kill();
    let _ = server.wait();

    // A service name that consumes nothing stops start-up, naming the key.
    let refused = install.serve_command("biling").stderr(Stdio::piped()).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("events.consumers") && said.contains("biling"), "{said}");

    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    for service in docket_migrations::SERVICES {
        docket_kit::db::drop_schema(&db, &format!("{}{service}", install.prefix)).await.unwrap();
    }
}
