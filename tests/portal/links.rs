//! The secret of an emailed link exists only in the email: the link's event
//! names the link by id on the broker (and so in dead letters), the
//! notification service asks the portal service for a secret as it writes
//! the email, and a link that no longer works gets no email when its event
//! comes round again.

use std::time::Duration;

use docket_kit::events::{EventBackend, outbox, unpack};
use docket_proto::{events::v1 as ev, portal::v1 as portal};
use prost::Message;
use sea_orm::TransactionTrait;
use tonic::Code;

use crate::{
    common::{AGENT, Backend, SERVICE, TestApp, rabbit::Watch},
    fixtures::{account, contact, unique},
    support::{PASSWORD, emailed_token, emails_with, invite},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_links_secret_is_never_on_the_broker_and_a_replayed_event_of_a_used_link_mails_nothing() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.events.backend = EventBackend::Rabbitmq).await;
    let mut watch = Watch::bind(&app.settings.events.exchange, "portal.#").await;
    let acme = account(&app, &unique("Acme")).await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", &format!("{}@acme.example", unique("petra"))).await;
    invite(&app, &petra.id, false).await;
    let emailed = emailed_token(&app, &petra.email, "invitation").await;

    // On the broker: the link's id, never its secret (nor its digest).
    let (key, envelope) = loop {
        let (key, envelope) = watch.next(Duration::from_secs(20)).await.expect("the invitation's event on the broker");
        if key == "portal.invitation_created" {
            break (key, envelope);
        }
    };
    let raw = envelope.encode_to_vec();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains(&emailed), "the emailed secret is on the broker: {key}");
    assert!(!text.contains(&docket_kit::secret::digest(&emailed)), "the secret's digest is on the broker");
    let payload: ev::PortalInvitationCreated =
        unpack(&envelope, "docket.events.v1.PortalInvitationCreated").expect("an invitation event");
    assert!(uuid::Uuid::parse_str(&payload.link_id).is_ok(), "the event names the link: {payload:?}");

    // Asking for the link's secret again replaces the emailed one.
    let issue = |link_id: &str, token: &str| {
        let mut client = app.portal_auth(token);
        let request = portal::IssueLinkSecretRequest { link_id: link_id.to_owned() };
        async move { client.issue_link_secret(request).await }
    };
    let fresh = issue(&payload.link_id, SERVICE).await.expect("a live link's secret").into_inner();
    assert_eq!(fresh.email, petra.email.to_lowercase());
    assert_ne!(fresh.token, emailed);
    let check = |token: String| {
        let mut client = app.portal_auth(SERVICE);
        async move {
            client
                .check_token(portal::CheckTokenRequest { token, purpose: portal::TokenPurpose::Invitation as i32 })
                .await
                .map(|_| ())
        }
    };
    assert_eq!(check(emailed.clone()).await.unwrap_err().code(), Code::NotFound, "the secret before is replaced");
    check(fresh.token.clone()).await.expect("the new secret works");

    // Bad requests change nothing.
    assert_eq!(issue("not-a-link", SERVICE).await.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(issue(&uuid::Uuid::now_v7().to_string(), SERVICE).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(issue(&payload.link_id, AGENT).await.unwrap_err().code(), Code::PermissionDenied);
    check(fresh.token.clone()).await.expect("refused requests leave the secret as it was");

    app.portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest {
            token: fresh.token.clone(),
            password: PASSWORD.into(),
            client_ip: String::new(),
        })
        .await
        .expect("the link works once");
    assert_eq!(issue(&payload.link_id, SERVICE).await.unwrap_err().code(), Code::FailedPrecondition, "a used link");

    // The event comes round again (a dead letter replayed, as a new message):
    // the link is used, so nothing is mailed.
    let mut replay = envelope.clone();
    replay.id = uuid::Uuid::now_v7().to_string();
    let db = app.service_db("portal").await;
    let txn = db.begin().await.unwrap();
    outbox::append(&txn, std::slice::from_ref(&replay)).await.unwrap();
    txn.commit().await.unwrap();
    app.wait_until_mail_settled().await;
    assert_eq!(emails_with(&app, &petra.email, "invitation").await, 1, "one invitation email, none for the replay");
}
