//! PortalAccessService: staff invite contacts and manage portal users.

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, SERVICE, TestApp, VIEWER, assert_field_error},
    fixtures::{account, contact, mask, unique},
    portal_tests,
    support::{PASSWORD, all_row_counts, customer_in, emailed_token, invite},
};

portal_tests!(
    an_invited_contact_sets_a_password_through_the_emailed_link_and_is_logged_in,
    staff_read_list_and_update_portal_users_and_disabling_ends_their_sessions,
    revoking_sessions_logs_a_user_out_everywhere,
    bad_or_refused_access_calls_change_nothing,
);

fn get_contact(id: &str) -> pb::GetContactRequest {
    pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Id(id.to_owned())) }
}

async fn an_invited_contact_sets_a_password_through_the_emailed_link_and_is_logged_in(app: TestApp) {
    let acme = account(&app, &unique("Acme")).await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", &format!("{}@acme.example", unique("petra"))).await;
    assert!(!petra.portal_enabled);
    let invited = invite(&app, &petra.id, true).await;
    let user = invited.portal_user.expect("the user");
    assert_eq!(user.state, portal::PortalUserState::Invited as i32);
    assert_eq!(user.email, petra.email.to_lowercase());
    assert_eq!(user.account_id, acme.id);
    assert!(user.portal_manager);
    assert!(invited.invitation_expire_time.is_some());
    // Portal users are contacts with the portal enabled, in the case service too.
    let read = app.contacts(AGENT).get_contact(get_contact(&petra.id)).await.unwrap().into_inner();
    assert!(read.portal_enabled);

    let token = emailed_token(&app, &petra.email, "invitation").await;
    let checked = app
        .portal_auth(SERVICE)
        .check_token(portal::CheckTokenRequest { token: token.clone(), purpose: portal::TokenPurpose::Invitation as i32 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.email, petra.email.to_lowercase());
    let session = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest {
            token: token.clone(),
            password: PASSWORD.into(),
            client_ip: "192.0.2.7".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(session.session_id.len(), 43, "a 256-bit session id");
    assert_eq!(session.contact_id, petra.id);
    assert!(session.portal_manager);
    let who = app
        .portal_auth(SERVICE)
        .get_session(portal::GetSessionRequest { session_id: session.session_id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who.contact_id, petra.id);
    assert!(who.session_id.is_empty(), "the secret is not repeated");

    let user = app
        .portal_access(VIEWER)
        .get_portal_user(portal::GetPortalUserRequest { contact_id: petra.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.state, portal::PortalUserState::Active as i32);
    assert!(user.activate_time.is_some() && user.last_login_time.is_some());

    // The link works once.
    let again = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest { token, password: PASSWORD.into(), client_ip: String::new() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);

    let trail = app
        .portal_access(VIEWER)
        .list_portal_user_history(pb::ListHistoryRequest { id: petra.id.clone(), page_size: 0, page_token: String::new() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let fields: Vec<&str> = trail.iter().map(|e| e.field.as_str()).collect();
    for expected in ["invited", "activated", "password", "last_login_time"] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
    assert!(trail.iter().all(|e| e.new_value != PASSWORD && e.old_value != PASSWORD), "no password in the trail");
    assert!(trail.iter().any(|e| e.actor == "agent:agent"), "the inviting staff token is recorded");
    assert!(trail.iter().any(|e| e.actor == format!("contact:{}", petra.id)), "the contact's own steps are recorded");
}

async fn staff_read_list_and_update_portal_users_and_disabling_ends_their_sessions(app: TestApp) {
    let acme = account(&app, &unique("Acme")).await;
    let globex = account(&app, &unique("Globex")).await;
    let ann = customer_in(&app, &acme.id, "Ann Active", false).await;
    let ivan = contact(&app, &acme.id, "Ivan Invited", &format!("{}@acme.example", unique("ivan"))).await;
    invite(&app, &ivan.id, false).await;
    customer_in(&app, &globex.id, "Gus Globex", false).await;

    let mut access = app.portal_access(VIEWER);
    let list = |account_id: &str, state: portal::PortalUserState| portal::ListPortalUsersRequest {
        account_id: account_id.to_owned(),
        state: state as i32,
        ..Default::default()
    };
    let acme_users = access.list_portal_users(list(&acme.id, portal::PortalUserState::Unspecified)).await.unwrap().into_inner();
    assert_eq!(acme_users.portal_users.len(), 2);
    let invited = access.list_portal_users(list(&acme.id, portal::PortalUserState::Invited)).await.unwrap().into_inner();
    assert_eq!(invited.portal_users.iter().map(|u| u.contact_id.as_str()).collect::<Vec<_>>(), [ivan.id.as_str()]);
    // Paging walks every user once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = access
            .list_portal_users(portal::ListPortalUsersRequest { page_size: 1, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.portal_users.into_iter().map(|u| u.contact_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 3);

    let user =
        access.get_portal_user(portal::GetPortalUserRequest { contact_id: ann.contact.id.clone() }).await.unwrap().into_inner();
    let promoted = app
        .portal_access(AGENT)
        .update_portal_user(portal::UpdatePortalUserRequest {
            portal_user: Some(portal::PortalUser {
                contact_id: user.contact_id.clone(),
                etag: user.etag.clone(),
                portal_manager: true,
                ..Default::default()
            }),
            update_mask: mask(&["portal_manager"]),
            reason: "runs the account's support".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(promoted.portal_manager);
    assert_ne!(promoted.etag, user.etag);
    // A stale etag changes nothing.
    let stale = app
        .portal_access(AGENT)
        .update_portal_user(portal::UpdatePortalUserRequest {
            portal_user: Some(portal::PortalUser {
                contact_id: user.contact_id.clone(),
                etag: user.etag.clone(),
                enabled: false,
                ..Default::default()
            }),
            update_mask: mask(&["enabled"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let disabled = app
        .portal_access(ADMIN)
        .update_portal_user(portal::UpdatePortalUserRequest {
            portal_user: Some(portal::PortalUser {
                contact_id: user.contact_id.clone(),
                etag: promoted.etag.clone(),
                enabled: false,
                ..Default::default()
            }),
            update_mask: mask(&["enabled"]),
            reason: "left the company".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(disabled.state, portal::PortalUserState::Disabled as i32);
    let ended =
        app.portal_auth(SERVICE).get_session(portal::GetSessionRequest { session_id: ann.session.clone() }).await.unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated);
    let refused = app
        .portal_auth(SERVICE)
        .login(portal::LoginRequest {
            email: ann.contact.email.clone(),
            password: PASSWORD.into(),
            client_ip: String::new(),
            device_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "the right password of a disabled user: {refused:?}");
    // Inviting a disabled user again is refused too.
    let again = app
        .portal_access(AGENT)
        .invite_contact(portal::InviteContactRequest { contact_id: ann.contact.id.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

async fn revoking_sessions_logs_a_user_out_everywhere(app: TestApp) {
    let acme = account(&app, &unique("Acme")).await;
    let ann = customer_in(&app, &acme.id, "Ann", false).await;
    let second = app
        .portal_auth(SERVICE)
        .login(portal::LoginRequest {
            email: ann.contact.email.clone(),
            password: PASSWORD.into(),
            client_ip: String::new(),
            device_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    app.portal_access(AGENT)
        .revoke_sessions(portal::RevokeSessionsRequest { contact_id: ann.contact.id.clone(), reason: "lost laptop".into() })
        .await
        .unwrap();
    for session in [ann.session.clone(), second.session_id] {
        let status = app.portal_auth(SERVICE).get_session(portal::GetSessionRequest { session_id: session }).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // Logging in again works.
    app.portal_auth(SERVICE)
        .login(portal::LoginRequest {
            email: ann.contact.email.clone(),
            password: PASSWORD.into(),
            client_ip: String::new(),
            device_token: String::new(),
        })
        .await
        .expect("a new login after the revocation");
}

async fn bad_or_refused_access_calls_change_nothing(app: TestApp) {
    let acme = account(&app, &unique("Acme")).await;
    let active = customer_in(&app, &acme.id, "Ann", false).await;
    let no_email = contact(&app, &acme.id, "No Mail", "").await;
    let fresh = contact(&app, &acme.id, "Fresh", &format!("{}@acme.example", unique("fresh"))).await;
    let keyed = || portal::InviteContactRequest {
        contact_id: fresh.id.clone(),
        portal_manager: false,
        idempotency_key: "invite-1".into(),
    };
    app.portal_access(AGENT).invite_contact(keyed()).await.expect("a first invitation with a key");
    // The same key and request answer with the first result and write nothing.
    let before = all_row_counts(&app).await;
    app.portal_access(AGENT).invite_contact(keyed()).await.expect("a retry");
    assert_eq!(all_row_counts(&app).await, before);

    let unknown = uuid::Uuid::now_v7().to_string();
    let mut agent = app.portal_access(AGENT);
    let invite_of = |id: &str| portal::InviteContactRequest { contact_id: id.to_owned(), ..Default::default() };
    assert_field_error(&agent.invite_contact(invite_of("")).await.unwrap_err(), Code::InvalidArgument, "contact_id");
    assert_field_error(&agent.invite_contact(invite_of("not-a-uuid")).await.unwrap_err(), Code::InvalidArgument, "contact_id");
    assert_field_error(&agent.invite_contact(invite_of(&unknown)).await.unwrap_err(), Code::InvalidArgument, "contact_id");
    assert_eq!(agent.invite_contact(invite_of(&no_email.id)).await.unwrap_err().code(), Code::FailedPrecondition);
    assert_eq!(agent.invite_contact(invite_of(&active.contact.id)).await.unwrap_err().code(), Code::FailedPrecondition);
    let reused = agent.invite_contact(portal::InviteContactRequest { portal_manager: true, ..keyed() }).await.unwrap_err();
    assert_field_error(&reused, Code::InvalidArgument, "idempotency_key");
    let viewer = app.portal_access(VIEWER).invite_contact(invite_of(&fresh.id)).await.unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);

    let get = |id: &str| portal::GetPortalUserRequest { contact_id: id.to_owned() };
    assert_eq!(agent.get_portal_user(get(&unknown)).await.unwrap_err().code(), Code::NotFound);
    assert_field_error(&agent.get_portal_user(get("x")).await.unwrap_err(), Code::InvalidArgument, "contact_id");
    for (request, field) in [
        (portal::ListPortalUsersRequest { page_token: "%%%".into(), ..Default::default() }, "page_token"),
        (portal::ListPortalUsersRequest { page_size: -1, ..Default::default() }, "page_size"),
        (portal::ListPortalUsersRequest { state: 99, ..Default::default() }, "state"),
        (portal::ListPortalUsersRequest { account_id: "acme".into(), ..Default::default() }, "account_id"),
    ] {
        assert_field_error(&agent.list_portal_users(request).await.unwrap_err(), Code::InvalidArgument, field);
    }

    let user = agent.get_portal_user(get(&active.contact.id)).await.unwrap().into_inner();
    let update = |etag: &str, paths: &[&str]| portal::UpdatePortalUserRequest {
        portal_user: Some(portal::PortalUser {
            contact_id: user.contact_id.clone(),
            etag: etag.to_owned(),
            ..Default::default()
        }),
        update_mask: mask(paths),
        reason: String::new(),
    };
    assert_field_error(
        &agent.update_portal_user(update(&user.etag, &[])).await.unwrap_err(),
        Code::InvalidArgument,
        "update_mask",
    );
    assert_field_error(
        &agent.update_portal_user(update(&user.etag, &["email"])).await.unwrap_err(),
        Code::InvalidArgument,
        "update_mask",
    );
    assert_field_error(
        &agent.update_portal_user(update("", &["enabled"])).await.unwrap_err(),
        Code::InvalidArgument,
        "portal_user.etag",
    );
    assert_field_error(
        &agent.update_portal_user(update("x", &["enabled"])).await.unwrap_err(),
        Code::InvalidArgument,
        "portal_user.etag",
    );
    assert_eq!(agent.update_portal_user(update("99", &["enabled"])).await.unwrap_err().code(), Code::Aborted);
    assert_eq!(
        app.portal_access(VIEWER).update_portal_user(update(&user.etag, &["enabled"])).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let revoke = |id: &str| portal::RevokeSessionsRequest { contact_id: id.to_owned(), reason: String::new() };
    assert_eq!(agent.revoke_sessions(revoke(&unknown)).await.unwrap_err().code(), Code::NotFound);
    assert_field_error(&agent.revoke_sessions(revoke("")).await.unwrap_err(), Code::InvalidArgument, "contact_id");
    assert_eq!(
        app.portal_access(VIEWER).revoke_sessions(revoke(&active.contact.id)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let history =
        |id: &str, token: &str| pb::ListHistoryRequest { id: id.to_owned(), page_size: 0, page_token: token.to_owned() };
    assert_field_error(&agent.list_portal_user_history(history("", "")).await.unwrap_err(), Code::InvalidArgument, "id");
    assert_field_error(
        &agent.list_portal_user_history(history(&unknown, "!!")).await.unwrap_err(),
        Code::InvalidArgument,
        "page_token",
    );
    assert_eq!(all_row_counts(&app).await, before, "refused calls wrote nothing");
    // The session of the active user still works: nothing was revoked.
    app.portal_auth(SERVICE).get_session(portal::GetSessionRequest { session_id: active.session.clone() }).await.unwrap();
}
