//! PortalAuthService: logins, lock-out, sessions, links and passwords.

use docket_proto::portal::v1 as portal;
use tonic::Code;
use tonic_types::StatusExt;

use crate::{
    common::{ADMIN, AGENT, SERVICE, TestApp, assert_field_error},
    fixtures::{account, contact, mask, unique},
    portal_tests,
    support::{PASSWORD, Visitor, all_row_counts, customer_in, emailed_token, emails_with, execute, invite},
};

portal_tests!(
    a_customer_logs_in_and_out_and_a_session_says_who_it_is,
    repeated_failed_logins_lock_the_email_out_even_with_the_right_password,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    a_stranger_elsewhere_cannot_lock_the_owner_out_but_guessing_from_many_addresses_is_stopped,
    an_expired_used_or_replaced_invitation_link_is_refused,
    a_password_reset_link_sets_a_new_password_and_ends_every_session,
    a_reset_request_answers_the_same_for_an_unknown_email_and_sends_nothing,
    changing_the_password_ends_every_other_session,
    a_login_or_a_password_change_ends_the_reset_links_still_out,
    after_an_address_change_reset_links_go_only_to_the_new_address,
    an_address_change_at_once_ends_the_sessions_and_links_of_the_old_one,
    a_malformed_contact_change_is_refused_and_changes_no_portal_user,
    bad_or_refused_auth_calls_change_nothing,
);

fn login(email: &str, password: &str) -> portal::LoginRequest {
    portal::LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        client_ip: "198.51.100.4".to_owned(),
        device_token: String::new(),
    }
}

async fn session_of(app: &TestApp, session_id: &str) -> Result<portal::Session, tonic::Status> {
    app.portal_auth(SERVICE)
        .get_session(portal::GetSessionRequest { session_id: session_id.to_owned() })
        .await
        .map(tonic::Response::into_inner)
}

async fn ann(app: &TestApp) -> Visitor {
    let acme = account(app, &unique("Acme")).await;
    customer_in(app, &acme.id, "Ann Example", false).await
}

async fn a_customer_logs_in_and_out_and_a_session_says_who_it_is(app: TestApp) {
    let ann = ann(&app).await;
    // The email is compared case-insensitively.
    let session = app.portal_auth(SERVICE).login(login(&ann.contact.email.to_uppercase(), PASSWORD)).await.unwrap().into_inner();
    assert_ne!(session.session_id, ann.session, "every login is a new session");
    let who = session_of(&app, &session.session_id).await.unwrap();
    assert_eq!(who.contact_id, ann.contact.id);
    assert_eq!(who.account_id, ann.contact.account_id);
    assert!(who.expire_time.unwrap().seconds > who.create_time.unwrap().seconds);
    app.portal_auth(SERVICE).logout(portal::LogoutRequest { session_id: session.session_id.clone() }).await.unwrap();
    assert_eq!(session_of(&app, &session.session_id).await.unwrap_err().code(), Code::Unauthenticated);
    // Logging out twice is fine; the other session lives on.
    app.portal_auth(SERVICE).logout(portal::LogoutRequest { session_id: session.session_id.clone() }).await.unwrap();
    session_of(&app, &ann.session).await.expect("the first session is untouched");
}

async fn repeated_failed_logins_lock_the_email_out_even_with_the_right_password(app: TestApp) {
    let ann = ann(&app).await;
    // The test settings lock after 3 failures.
    for _ in 0..2 {
        let wrong = app.portal_auth(SERVICE).login(login(&ann.contact.email, "not the password")).await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let locked = app.portal_auth(SERVICE).login(login(&ann.contact.email, "not the password")).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    let retry = locked.get_error_details().retry_info().and_then(|r| r.retry_delay).expect("a RetryInfo");
    assert!(retry.as_secs() > 0 && retry.as_secs() <= 600, "{retry:?}");
    let right = app.portal_auth(SERVICE).login(login(&ann.contact.email, PASSWORD)).await.unwrap_err();
    assert_eq!(right.code(), Code::ResourceExhausted, "locked out even with the right password");
    // Another customer is not affected.
    let bob = customer_in(&app, &ann.contact.account_id, "Bob Other", false).await;
    app.portal_auth(SERVICE).login(login(&bob.contact.email, PASSWORD)).await.expect("bob logs in");
    session_of(&app, &ann.session).await.expect("a lock-out does not end sessions");
}

async fn a_stranger_elsewhere_cannot_lock_the_owner_out_but_guessing_from_many_addresses_is_stopped(app: TestApp) {
    let ann = ann(&app).await;
    let from_browser = |address: &str, password: &str, device_token: &str| portal::LoginRequest {
        email: ann.contact.email.clone(),
        password: password.to_owned(),
        client_ip: address.to_owned(),
        device_token: device_token.to_owned(),
    };
    let from = |address: &str, password: &str| from_browser(address, password, "");
    // The test settings lock after 3 failures: the stranger's address is locked...
    for _ in 0..2 {
        let wrong = app.portal_auth(SERVICE).login(from("203.0.113.66", "guess")).await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let locked = app.portal_auth(SERVICE).login(from("203.0.113.66", "guess")).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted);
    let right_from_there = app.portal_auth(SERVICE).login(from("203.0.113.66", PASSWORD)).await.unwrap_err();
    assert_eq!(right_from_there.code(), Code::ResourceExhausted, "the guessing address stays locked");
    // ...the owner, elsewhere, is not, and their browser becomes a known one.
    let home = app.portal_auth(SERVICE).login(from("198.51.100.4", PASSWORD)).await.expect("the owner logs in from home");
    let device = home.into_inner().device_token;
    assert_eq!(device.len(), 43, "a login hands out a device token");
    // Another user's device token is no key to Ann's account.
    let bob = contact(&app, &ann.contact.account_id, "Bob", &format!("{}@acme.example", unique("bob"))).await;
    invite(&app, &bob.id, false).await;
    let bobs_device = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest {
            token: emailed_token(&app, &bob.email, "invitation").await,
            password: PASSWORD.into(),
            client_ip: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .device_token;

    // Guessing spread over ten addresses locks the email for every address.
    let mut last = None;
    for n in 1..=10 {
        for _ in 0..3 {
            last = Some(app.portal_auth(SERVICE).login(from(&format!("192.0.2.{n}"), "guess")).await.unwrap_err());
        }
    }
    assert_eq!(last.unwrap().code(), Code::ResourceExhausted);
    let owner = app.portal_auth(SERVICE).login(from("198.51.100.4", PASSWORD)).await.unwrap_err();
    assert_eq!(owner.code(), Code::ResourceExhausted, "thirty guesses from anywhere lock the email everywhere");
    assert!(owner.get_error_details().retry_info().and_then(|r| r.retry_delay).is_some(), "with a RetryInfo");
    for foreign in [bobs_device.as_str(), "x".repeat(43).as_str()] {
        let refused = app.portal_auth(SERVICE).login(from_browser("198.51.100.4", PASSWORD, foreign)).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "a device token not of Ann's is no way around the lock");
    }
    // ...except in the browser the owner logged in from before.
    app.portal_auth(SERVICE)
        .login(from_browser("198.51.100.4", PASSWORD, &device))
        .await
        .expect("the owner's own browser is not locked out by strangers");
    // That browser has a lock of its own: guessing in it is stopped too.
    for _ in 0..2 {
        let wrong = app.portal_auth(SERVICE).login(from_browser("198.51.100.9", "guess", &device)).await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let locked = app.portal_auth(SERVICE).login(from_browser("198.51.100.9", "guess", &device)).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted);
    let right = app.portal_auth(SERVICE).login(from_browser("198.51.100.9", PASSWORD, &device)).await.unwrap_err();
    assert_eq!(right.code(), Code::ResourceExhausted, "the browser's own lock holds");
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(app: TestApp) {
    let ann = ann(&app).await;
    let invited = contact(&app, &ann.contact.account_id, "Ivan Invited", &format!("{}@acme.example", unique("ivan"))).await;
    invite(&app, &invited.id, false).await;
    let wrong = app.portal_auth(SERVICE).login(login(&ann.contact.email, "not the password")).await.unwrap_err();
    let unknown = app.portal_auth(SERVICE).login(login("nobody@nowhere.example", PASSWORD)).await.unwrap_err();
    let not_yet = app.portal_auth(SERVICE).login(login(&invited.email, PASSWORD)).await.unwrap_err();
    for status in [&wrong, &unknown, &not_yet] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), wrong.message());
    }
    // Unknown emails are locked out like known ones, so a lock-out tells nothing either.
    app.portal_auth(SERVICE).login(login("nobody@nowhere.example", PASSWORD)).await.unwrap_err();
    let locked = app.portal_auth(SERVICE).login(login("nobody@nowhere.example", PASSWORD)).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted);
}

async fn an_expired_used_or_replaced_invitation_link_is_refused(app: TestApp) {
    let acme = account(&app, &unique("Acme")).await;
    let accept = |token: &str| portal::AcceptInvitationRequest {
        token: token.to_owned(),
        password: PASSWORD.to_owned(),
        client_ip: String::new(),
    };
    // Replaced: a second invitation makes the first link useless.
    let ivan = contact(&app, &acme.id, "Ivan", &format!("{}@acme.example", unique("ivan"))).await;
    invite(&app, &ivan.id, false).await;
    let first = emailed_token(&app, &ivan.email, "invitation").await;
    invite(&app, &ivan.id, false).await;
    let second = crate::common::eventually("the second invitation's email", async || {
        let latest = emailed_token(&app, &ivan.email, "invitation").await;
        if latest != first { Ok(latest) } else { Err("only the first one yet") }
    })
    .await;
    assert_ne!(first, second);
    let before = all_row_counts(&app).await;
    assert_eq!(app.portal_auth(SERVICE).accept_invitation(accept(&first)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(all_row_counts(&app).await, before, "a refused link writes nothing");
    app.portal_auth(SERVICE).accept_invitation(accept(&second)).await.expect("the newest link works");
    // Used: the same link again.
    assert_eq!(app.portal_auth(SERVICE).accept_invitation(accept(&second)).await.unwrap_err().code(), Code::NotFound);

    // Expired: the link's time is moved into the past.
    let jane = contact(&app, &acme.id, "Jane", &format!("{}@acme.example", unique("jane"))).await;
    invite(&app, &jane.id, false).await;
    let token = emailed_token(&app, &jane.email, "invitation").await;
    let past =
        if app.backend == crate::common::Backend::Postgres { "now() - interval '1 hour'" } else { "'2000-01-01 00:00:00+00:00'" };
    execute(&app, "portal", &format!("UPDATE portal_tokens SET expires_at = {past} WHERE contact_id = '{}'", jane.id)).await;
    let check = app
        .portal_auth(SERVICE)
        .check_token(portal::CheckTokenRequest { token: token.clone(), purpose: portal::TokenPurpose::Invitation as i32 })
        .await
        .unwrap_err();
    assert_eq!(check.code(), Code::NotFound);
    let before = all_row_counts(&app).await;
    assert_eq!(app.portal_auth(SERVICE).accept_invitation(accept(&token)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(all_row_counts(&app).await, before);
    let user = app
        .portal_access(AGENT)
        .get_portal_user(portal::GetPortalUserRequest { contact_id: jane.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.state, portal::PortalUserState::Invited as i32, "still waiting for a password");
    // An invitation link is no reset link.
    let wrong_kind = app
        .portal_auth(SERVICE)
        .reset_password(portal::ResetPasswordRequest { token: second, password: PASSWORD.into(), client_ip: String::new() })
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.code(), Code::NotFound);
}

async fn a_password_reset_link_sets_a_new_password_and_ends_every_session(app: TestApp) {
    let ann = ann(&app).await;
    app.portal_auth(SERVICE)
        .request_password_reset(portal::RequestPasswordResetRequest {
            email: ann.contact.email.clone(),
            client_ip: String::new(),
        })
        .await
        .unwrap();
    let token = emailed_token(&app, &ann.contact.email, "reset").await;
    let new_password = "a brand new passphrase";
    app.portal_auth(SERVICE)
        .reset_password(portal::ResetPasswordRequest {
            token: token.clone(),
            password: new_password.into(),
            client_ip: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(session_of(&app, &ann.session).await.unwrap_err().code(), Code::Unauthenticated, "old sessions end");
    assert_eq!(
        app.portal_auth(SERVICE).login(login(&ann.contact.email, PASSWORD)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    app.portal_auth(SERVICE).login(login(&ann.contact.email, new_password)).await.expect("the new password works");
    let again = app
        .portal_auth(SERVICE)
        .reset_password(portal::ResetPasswordRequest {
            token,
            password: "yet another passphrase".into(),
            client_ip: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound, "a reset link works once");
}

async fn a_reset_request_answers_the_same_for_an_unknown_email_and_sends_nothing(app: TestApp) {
    let ann = ann(&app).await;
    // A contact without portal access is as unknown as an unknown email.
    let plain = contact(&app, &ann.contact.account_id, "No Portal", &format!("{}@acme.example", unique("plain"))).await;
    let before = all_row_counts(&app).await;
    let unknown = format!("{}@nowhere.example", unique("ghost"));
    app.portal_auth(SERVICE)
        .request_password_reset(portal::RequestPasswordResetRequest { email: unknown.clone(), client_ip: String::new() })
        .await
        .expect("the same answer as for a known email");
    app.portal_auth(SERVICE)
        .request_password_reset(portal::RequestPasswordResetRequest { email: plain.email.clone(), client_ip: String::new() })
        .await
        .unwrap();
    assert_eq!(all_row_counts(&app).await, before);
    assert_eq!(emails_with(&app, &unknown, "reset").await, 0);
    assert_eq!(emails_with(&app, &plain.email, "reset").await, 0);
}

async fn changing_the_password_ends_every_other_session(app: TestApp) {
    let ann = ann(&app).await;
    let laptop = app.portal_auth(SERVICE).login(login(&ann.contact.email, PASSWORD)).await.unwrap().into_inner();
    let change = |current: &str, new: &str| portal::ChangePasswordRequest {
        session_id: ann.session.clone(),
        current_password: current.to_owned(),
        new_password: new.to_owned(),
        client_ip: String::new(),
    };
    let wrong = app.portal_auth(SERVICE).change_password(change("not it at all", "a brand new passphrase")).await.unwrap_err();
    assert_field_error(&wrong, Code::InvalidArgument, "current_password");
    let short = app.portal_auth(SERVICE).change_password(change(PASSWORD, "short")).await.unwrap_err();
    assert_field_error(&short, Code::InvalidArgument, "new_password");
    session_of(&app, &laptop.session_id).await.expect("refused changes end nothing");

    let fresh = app.portal_auth(SERVICE).change_password(change(PASSWORD, "a brand new passphrase")).await.unwrap().into_inner();
    for ended in [&ann.session, &laptop.session_id] {
        assert_eq!(session_of(&app, ended).await.unwrap_err().code(), Code::Unauthenticated);
    }
    assert_eq!(session_of(&app, &fresh.session_id).await.unwrap().contact_id, ann.contact.id, "the caller gets a new session");
    app.portal_auth(SERVICE).login(login(&ann.contact.email, "a brand new passphrase")).await.expect("the new password works");
}

/// A reset link someone else may hold (an old mailbox, a forwarded email)
/// must not outlive the owner's proof that they know the password.
async fn a_login_or_a_password_change_ends_the_reset_links_still_out(app: TestApp) {
    let reset_link = async |email: &str| {
        app.portal_auth(SERVICE)
            .request_password_reset(portal::RequestPasswordResetRequest { email: email.to_owned(), client_ip: String::new() })
            .await
            .unwrap();
        emailed_token(&app, email, "reset").await
    };
    let use_link = async |token: String| {
        app.portal_auth(SERVICE)
            .reset_password(portal::ResetPasswordRequest {
                token,
                password: "the attacker's passphrase".into(),
                client_ip: String::new(),
            })
            .await
    };

    let ann = ann(&app).await;
    let token = reset_link(&ann.contact.email).await;
    app.portal_auth(SERVICE).login(login(&ann.contact.email, PASSWORD)).await.expect("the owner logs in");
    assert_eq!(use_link(token).await.unwrap_err().code(), Code::NotFound, "a login ends the link");
    app.portal_auth(SERVICE).login(login(&ann.contact.email, PASSWORD)).await.expect("the password is unchanged");

    let bob = customer_in(&app, &ann.contact.account_id, "Bob Example", false).await;
    let token = reset_link(&bob.contact.email).await;
    let new_password = "a brand new passphrase";
    app.portal_auth(SERVICE)
        .change_password(portal::ChangePasswordRequest {
            session_id: bob.session.clone(),
            current_password: PASSWORD.into(),
            new_password: new_password.into(),
            client_ip: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(use_link(token).await.unwrap_err().code(), Code::NotFound, "a password change ends the link");
    app.portal_auth(SERVICE).login(login(&bob.contact.email, new_password)).await.expect("the new password stands");
}

/// An agent changes the contact's email; the new address.
async fn move_to_new_domain(app: &TestApp, visitor: &Visitor) -> String {
    use docket_proto::case::v1 as pb;
    let new_address = format!("{}@newdomain.example", unique("jonas"));
    let lookup = Some(pb::get_contact_request::Lookup::Id(visitor.contact.id.clone()));
    let current = app.contacts(AGENT).get_contact(pb::GetContactRequest { lookup }).await.unwrap().into_inner();
    app.contacts(AGENT)
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: current.id, etag: current.etag, email: new_address.clone(), ..Default::default() }),
            update_mask: mask(&["email"]),
            reason: "moved to the new domain".into(),
        })
        .await
        .unwrap();
    new_address
}

/// Without anyone asking for a reset: the portal follows the contact's
/// `contact.updated`, so the old address's sessions and links end at once.
async fn an_address_change_at_once_ends_the_sessions_and_links_of_the_old_one(app: TestApp) {
    let jonas = ann(&app).await;
    let old_address = jonas.contact.email.clone();
    app.portal_auth(SERVICE)
        .request_password_reset(portal::RequestPasswordResetRequest { email: old_address.clone(), client_ip: String::new() })
        .await
        .unwrap();
    let link_to_old_address = emailed_token(&app, &old_address, "reset").await;

    let new_address = move_to_new_domain(&app, &jonas).await;
    app.wait_until_consumed("portal").await;
    assert_eq!(session_of(&app, &jonas.session).await.unwrap_err().code(), Code::Unauthenticated, "the old sessions end");
    let refused = app
        .portal_auth(SERVICE)
        .reset_password(portal::ResetPasswordRequest {
            token: link_to_old_address,
            password: "the attacker's passphrase".into(),
            client_ip: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "the link sent to the old address is dead");
    let user =
        app.portal_access(AGENT).get_portal_user(portal::GetPortalUserRequest { contact_id: jonas.contact.id.clone() }).await;
    assert_eq!(user.unwrap().into_inner().email, new_address, "the portal user has the new address");
    app.portal_auth(SERVICE).login(login(&new_address, PASSWORD)).await.expect("the password stays; only the address moved");
}

async fn a_malformed_contact_change_is_refused_and_changes_no_portal_user(app: TestApp) {
    use docket_kit::events::{
        consumer::{EventHandler, Prepared},
        envelope, pack,
    };
    use docket_portal::addresses::AddressFollower;
    use docket_proto::events::v1 as ev;
    use sea_orm::TransactionTrait;

    let jonas = ann(&app).await;
    let db = app.service_db("portal").await;
    let event = |payload: prost_types::Any| {
        envelope("case", "contact.updated", &jonas.contact.id, "staff:x", docket_kit::time::now(), payload)
    };
    let changed = |contact: Option<docket_proto::case::v1::Contact>, field: &str| ev::ContactChanged {
        contact,
        changes: vec![ev::FieldChange { field: field.into(), old_value: String::new(), new_value: String::new() }],
        reason: String::new(),
    };
    let moved = docket_proto::case::v1::Contact { email: "mallory@evil.example".into(), ..jonas.contact.clone() };
    let garbage = prost_types::Any {
        type_url: "type.googleapis.com/docket.events.v1.ContactChanged".into(),
        value: vec![0xff, 0xff, 0xff],
    };
    let refused = [
        event(garbage),
        event(pack("docket.events.v1.CaseCreated", &ev::CaseCreated::default())),
        event(pack("docket.events.v1.ContactChanged", &changed(None, "email"))),
    ];
    let before = all_row_counts(&app).await;
    for bad in &refused {
        let txn = db.begin().await.unwrap();
        assert!(AddressFollower.handle(&txn, bad, Prepared::nothing()).await.is_err(), "{bad:?} is refused");
        txn.rollback().await.unwrap();
    }
    // A change that does not touch the email leaves the user as it is.
    let txn = db.begin().await.unwrap();
    let other_field = event(pack("docket.events.v1.ContactChanged", &changed(Some(moved), "phone")));
    AddressFollower.handle(&txn, &other_field, Prepared::nothing()).await.expect("a change of another field is fine");
    txn.commit().await.unwrap();
    assert_eq!(all_row_counts(&app).await, before);
    session_of(&app, &jonas.session).await.expect("the session stands");
}

/// The attack: an agent moves Jonas to a new address; whoever still reads
/// the old mailbox asks for a reset and takes the account.
async fn after_an_address_change_reset_links_go_only_to_the_new_address(app: TestApp) {
    let request_reset = async |email: &str| {
        app.portal_auth(SERVICE)
            .request_password_reset(portal::RequestPasswordResetRequest { email: email.to_owned(), client_ip: String::new() })
            .await
            .unwrap();
    };
    let jonas = ann(&app).await;
    let old_address = jonas.contact.email.clone();
    request_reset(&old_address).await;
    let link_to_old_address = emailed_token(&app, &old_address, "reset").await;

    let new_address = move_to_new_domain(&app, &jonas).await;
    // The portal follows the change first (a reset asked for while the user
    // row is being moved can answer ABORTED; see the closing note).
    app.wait_until_consumed(docket_portal::SERVICE).await;

    // The old address no longer finds the account; the new one does, and
    // its link goes there only.
    request_reset(&old_address).await;
    request_reset(&new_address).await;
    let link = emailed_token(&app, &new_address, "reset").await;
    assert_eq!(emails_with(&app, &old_address, "reset").await, 1, "only the link asked for before the change went there");

    let use_link = async |token: String, password: &str| {
        app.portal_auth(SERVICE)
            .reset_password(portal::ResetPasswordRequest { token, password: password.into(), client_ip: String::new() })
            .await
    };
    assert_eq!(
        use_link(link_to_old_address, "the attacker's passphrase").await.unwrap_err().code(),
        Code::NotFound,
        "the link sent to the old address is dead"
    );
    assert_eq!(
        session_of(&app, &jonas.session).await.unwrap_err().code(),
        Code::Unauthenticated,
        "sessions of the old address end"
    );
    use_link(link, "jonas's own new passphrase").await.expect("the owner's link works");
    app.portal_auth(SERVICE).login(login(&new_address, "jonas's own new passphrase")).await.expect("the owner logs in");
}

async fn bad_or_refused_auth_calls_change_nothing(app: TestApp) {
    let ann = ann(&app).await;
    let ivan = contact(&app, &ann.contact.account_id, "Ivan", &format!("{}@acme.example", unique("ivan"))).await;
    invite(&app, &ivan.id, false).await;
    let token = emailed_token(&app, &ivan.email, "invitation").await;
    let before = all_row_counts(&app).await;
    let mut auth = app.portal_auth(SERVICE);

    // A password that breaks the rules leaves the link usable.
    for password in ["short", "", ivan.email.as_str()] {
        let status = auth
            .accept_invitation(portal::AcceptInvitationRequest {
                token: token.clone(),
                password: password.into(),
                client_ip: String::new(),
            })
            .await
            .unwrap_err();
        assert_field_error(&status, Code::InvalidArgument, "password");
    }
    let long = "x".repeat(201);
    assert_field_error(
        &auth
            .accept_invitation(portal::AcceptInvitationRequest {
                token: token.clone(),
                password: long.clone(),
                client_ip: String::new(),
            })
            .await
            .unwrap_err(),
        Code::InvalidArgument,
        "password",
    );
    for bad in ["", "has spaces in it", &"t".repeat(101)] {
        let status = auth
            .accept_invitation(portal::AcceptInvitationRequest {
                token: bad.into(),
                password: PASSWORD.into(),
                client_ip: String::new(),
            })
            .await
            .unwrap_err();
        assert_field_error(&status, Code::InvalidArgument, "token");
    }
    assert_eq!(
        auth.accept_invitation(portal::AcceptInvitationRequest {
            token: "unknown-token".into(),
            password: PASSWORD.into(),
            client_ip: String::new()
        })
        .await
        .unwrap_err()
        .code(),
        Code::NotFound
    );
    assert_field_error(&auth.login(login("not an email", PASSWORD)).await.unwrap_err(), Code::InvalidArgument, "email");
    assert_field_error(&auth.login(login(&ann.contact.email, "")).await.unwrap_err(), Code::InvalidArgument, "password");
    assert_field_error(&auth.login(login(&ann.contact.email, &long)).await.unwrap_err(), Code::InvalidArgument, "password");
    assert_field_error(
        &auth
            .request_password_reset(portal::RequestPasswordResetRequest { email: "@".into(), client_ip: String::new() })
            .await
            .unwrap_err(),
        Code::InvalidArgument,
        "email",
    );
    assert_field_error(
        &auth
            .reset_password(portal::ResetPasswordRequest {
                token: String::new(),
                password: PASSWORD.into(),
                client_ip: String::new(),
            })
            .await
            .unwrap_err(),
        Code::InvalidArgument,
        "token",
    );
    assert_field_error(
        &auth.logout(portal::LogoutRequest { session_id: String::new() }).await.unwrap_err(),
        Code::InvalidArgument,
        "session_id",
    );
    assert_field_error(
        &auth.get_session(portal::GetSessionRequest { session_id: String::new() }).await.unwrap_err(),
        Code::InvalidArgument,
        "session_id",
    );
    for session in ["not-a-session", &"a".repeat(43)] {
        assert_eq!(session_of(&app, session).await.unwrap_err().code(), Code::Unauthenticated);
    }
    assert_field_error(
        &auth.check_token(portal::CheckTokenRequest { token: token.clone(), purpose: 0 }).await.unwrap_err(),
        Code::InvalidArgument,
        "purpose",
    );
    assert_field_error(
        &auth.check_token(portal::CheckTokenRequest { token: token.clone(), purpose: 9 }).await.unwrap_err(),
        Code::InvalidArgument,
        "purpose",
    );
    assert_eq!(
        auth.change_password(portal::ChangePasswordRequest {
            session_id: "ended".into(),
            current_password: PASSWORD.into(),
            new_password: "a brand new passphrase".into(),
            client_ip: String::new(),
        })
        .await
        .unwrap_err()
        .code(),
        Code::Unauthenticated
    );
    // Only the gateway (a service token) speaks for visitors.
    for token in [AGENT, ADMIN] {
        let refused = app.portal_auth(token).login(login(&ann.contact.email, PASSWORD)).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    assert_eq!(all_row_counts(&app).await, before, "refused calls wrote nothing");
    // The link still works after all that.
    auth.accept_invitation(portal::AcceptInvitationRequest { token, password: PASSWORD.into(), client_ip: String::new() })
        .await
        .expect("the untouched link works");
}
