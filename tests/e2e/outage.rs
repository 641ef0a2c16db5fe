//! The case service down for a while (a rollout, a crash) while the
//! notification service, a separate process, has events to handle that need
//! it: the events wait and are retried, none is dead-lettered, and every
//! email goes out once the case service is back.

use std::time::Duration;

use docket_proto::case::v1::{self as pb, case_service_client::CaseServiceClient, contact_service_client::ContactServiceClient};

use crate::{
    common::{PATIENCE, SERVICE, eventually, eventually_within},
    install::{Install, healthy, port, queue_depth, stop},
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

    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{case_port}")).unwrap().connect_lazy();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {SERVICE}").parse().unwrap();
    let auth = move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", bearer.clone());
        Ok(request)
    };
    let mut contacts = ContactServiceClient::with_interceptor(channel.clone(), auth.clone());
    let mut cases = CaseServiceClient::with_interceptor(channel, auth);
    for n in 0..CASES {
        let found = contacts
            .find_or_create_contact(pb::FindOrCreateContactRequest {
                email: format!("customer{n}@acme.example"),
                name: format!("Customer {n}"),
                unassigned_account_name: "Unassigned".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let contact = found.contact.unwrap();
        let case = pb::Case {
            subject: format!("Printer {n}"),
            type_id: "technical_issue".into(),
            priority: pb::CasePriority::Medium as i32,
            channel: pb::CaseChannel::Phone as i32,
            account_id: contact.account_id.clone(),
            contacts: vec![pb::CaseContact { contact_id: contact.id.clone(), primary: true }],
            ..Default::default()
        };
        cases.create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new() }).await.unwrap();
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
