//! The case service down for a while (a rollout, a crash) while the
//! notification service, a separate process, has events to handle that need
//! it: the events wait and are retried, none is dead-lettered, and every
//! email goes out once the case service is back.

use std::time::Duration;

use crate::{
    common::{PATIENCE, eventually, eventually_within},
    install::{CaseService, Install, healthy, port, queue_depth, stop},
};

const CASES: usize = 30;
/// A minute: four times the old policy's whole retry budget (5 attempts
/// over 15 s), and as long as a slow rollout of the case service.
const OUTAGE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_out_a_case_service_outage_and_every_email_goes_out_after_it() {
    let install = Install::new().await;
    let (case_port, notification_port) = (port(), port());
    // The case service names the notification service as a consumer of
    // this install, so its events wait in its queue before it first runs.
    let case_env = [("DOCKET__EVENTS__CONSUMERS", "notification")];
    let mut case_service = install.serve(&["case"], case_port, case_port, &case_env);
    healthy(case_port).await;

    let mut case_service_api = CaseService::at(case_port);
    for n in 0..CASES {
        case_service_api.open_case(&format!("customer{n}@acme.example"), &format!("Printer {n}")).await;
    }
    let queue = install.queue("notification");
    eventually("every case.created waiting in the notification queue", async || match queue_depth(&queue).await {
        Some(n) if n as usize >= CASES => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .await;

    // The case service goes away; the notification service starts and
    // cannot look up a single case.
    stop(&mut case_service);
    let fast_retries = [("DOCKET__EVENTS__RETRY_BASE_MS", "100"), ("DOCKET__EVENTS__RETRY_MAX_MS", "1000")];
    let mut notification = install.serve(&["notification"], notification_port, case_port, &fast_retries);
    healthy(notification_port).await;
    tokio::time::sleep(OUTAGE).await;
    assert_eq!(install.emails(), 0, "nothing can be sent without the case service");
    assert_eq!(queue_depth(&format!("{queue}.dead")).await, Some(0), "nothing is dead-lettered for an outage");

    let mut case_service = install.serve(&["case"], case_port, case_port, &case_env);
    healthy(case_port).await;
    eventually_within(PATIENCE * 2, "every email after the case service is back", async || match install.emails() {
        n if n >= CASES => Ok(()),
        n => Err(format!("{n} of {CASES}")),
    })
    .await;
    assert_eq!(queue_depth(&format!("{queue}.dead")).await, Some(0));
    stop(&mut notification);
    stop(&mut case_service);
    install.drop_schemas().await;
}
