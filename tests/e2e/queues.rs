//! Which queues a process declares: those of the consumers it runs, and
//! those `events.consumers` names as running elsewhere in the install. An
//! install without billing leaves no billing queue to fill forever.

use std::process::Stdio;

use crate::{
    common::eventually,
    install::{Install, healthy, port, queue_depth},
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
