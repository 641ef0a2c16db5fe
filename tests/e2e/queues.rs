//! Which queues a process declares: those of the consumers it runs, and
//! those `events.consumers` names as running elsewhere in the install. An
//! install without billing leaves no billing queue to fill forever. And
//! their type: classic, or quorum on a cluster.

use std::process::Stdio;

use crate::{
    common::{eventually, rabbitmq_url},
    install::{CaseService, Install, healthy, port, queue_depth, stop},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_without_billing_leaves_no_billing_queue_and_a_named_consumer_gets_its_queue_early() {
    let install = Install::new().await;
    let port = port();
    let serve =
        |consumers: &str| install.serve(&["case", "notification"], port, port, &[("DOCKET__EVENTS__CONSUMERS", consumers)]);

    let mut server = serve("");
    healthy(port).await;
    install.email(port, 1);
    eventually("the notification service to take the case's events", async || {
        match queue_depth(&install.queue("notification")).await {
            Some(0) => Ok(()),
            other => Err(format!("{other:?} waiting")),
        }
    })
    .await;
    assert!(queue_depth(&install.queue("case")).await.is_some(), "the case service's own consumer has its queue");
    for absent in ["billing", "portal"] {
        assert_eq!(queue_depth(&install.queue(absent)).await, None, "no {absent} queue in an install without {absent}");
    }
    let _ = server.kill();
    let _ = server.wait();

    // Billing is deployed, but has not started yet: its queue keeps what is published meanwhile.
    let mut server = serve("billing");
    healthy(port).await;
    install.email(port, 2);
    eventually("the new case's events to wait in the billing queue", async || {
        match queue_depth(&install.queue("billing")).await {
            Some(waiting) if waiting > 0 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(queue_depth(&install.queue("portal")).await, None);
    let _ = server.kill();
    let _ = server.wait();

    // A service name that consumes nothing stops start-up, naming the key.
    let refused = install
        .command(&["case", "notification"], port, port, &[("DOCKET__EVENTS__CONSUMERS", "biling")])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("events.consumers") && said.contains("biling"), "{said}");
    install.drop_schemas().await;
}

/// An install that ran on classic queues moves to quorum queues (a
/// RabbitMQ cluster) with `docket events migrate-queues`: a process asked
/// for quorum queues refuses to start on classic ones and says what to run,
/// and the events that waited in the old queues are handled after the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_install_moves_to_quorum_queues_with_the_migrate_command_and_keeps_its_waiting_events() {
    let install = Install::new().await;
    let port = port();
    let notification_elsewhere = ("DOCKET__EVENTS__CONSUMERS", "notification");
    let quorum = ("DOCKET__EVENTS__QUEUE_TYPE", "quorum");

    // Classic queues; the notification service is not running, so the
    // case's events wait in its queue.
    let mut server = install.serve(&["case"], port, port, &[notification_elsewhere]);
    healthy(port).await;
    CaseService::at(port).open_case("petra@acme.example", "Printer").await;
    eventually("the case's events to wait in the notification queue", async || {
        match queue_depth(&install.queue("notification")).await {
            Some(waiting) if waiting > 0 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    stop(&mut server);

    let refused =
        install.command(&["case"], port, port, &[notification_elsewhere, quorum]).stderr(Stdio::piped()).output().unwrap();
    assert!(!refused.status.success(), "a process must not start on queues of another type");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("events.queue_type") && said.contains("docket events migrate-queues"), "{said}");

    let migrated = install.events_command(&["migrate-queues"], &[quorum]).output().unwrap();
    let told = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{told}\n{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(told.contains(&format!("{}: now quorum", install.queue("notification"))), "{told}");
    assert!(!is_classic(&install.queue("notification")).await && !is_classic(&install.queue("case.dead")).await);

    let again = install.events_command(&["migrate-queues", "--service", "notification"], &[quorum]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already quorum"));

    let _server = install.serve(&["case", "notification"], port, port, &[quorum]);
    healthy(port).await;
    eventually("the email of the case created before the move", async || match install.emails() {
        1 => Ok(()),
        n => Err(format!("{n} emails")),
    })
    .await;
    CaseService::at(port).open_case("jonas@acme.example", "Scanner").await;
    eventually("the email of a case created after the move", async || match install.emails() {
        2 => Ok(()),
        n => Err(format!("{n} emails")),
    })
    .await;
    install.drop_schemas().await;
}

/// Whether `queue` is a classic queue: declaring it as one again succeeds.
async fn is_classic(queue: &str) -> bool {
    use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
    let connection = Connection::connect(&rabbitmq_url(), ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    let declared = channel.queue_declare(queue.into(), durable, FieldTable::default()).await;
    let _ = connection.close(200, "looked".into()).await;
    declared.is_ok()
}
