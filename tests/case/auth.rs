//! Authentication and roles: who may call what.

use std::fmt::Debug;

use docket_proto::case::v1::{
    self as pb, account_service_client::AccountServiceClient, case_service_client::CaseServiceClient, get_case_request,
    staff_service_client::StaffServiceClient,
};
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::{
    common::{ADMIN, AGENT, PORTAL, SERVICE, TestApp, VIEWER},
    fixtures::{case, customer, history, mask, new_case, staff_user, team, unique},
    on_both_backends,
};

on_both_backends!(
    a_call_without_a_token_is_unauthenticated,
    a_call_with_an_unknown_token_is_unauthenticated,
    a_malformed_authorization_header_is_unauthenticated,
    a_viewer_may_read_but_every_write_is_permission_denied_and_writes_nothing,
    an_agent_or_a_service_cannot_change_the_staff_directory_or_the_catalogue,
    a_service_token_creates_a_case_recorded_as_the_service,
    a_service_acting_for_a_contact_is_recorded_as_the_contact,
    only_the_portals_token_may_act_for_a_contact_only_as_a_contact_and_only_on_a_customers_calls,
    the_health_check_answers_without_a_token,
);

/// Asserts the call failed with `code`.
#[track_caller]
fn refused<T: Debug>(result: Result<Response<T>, Status>, code: Code) {
    match result {
        Ok(answer) => panic!("expected {code:?}, got {:?}", answer.get_ref()),
        Err(status) => assert_eq!(status.code(), code, "unexpected status: {status:?}"),
    }
}

/// A request with this exact `authorization` header.
fn with_header<T>(header: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value: MetadataValue<_> = header.parse().expect("an ascii header");
    request.metadata_mut().insert("authorization", value);
    request
}

fn by_id(id: &str) -> pb::GetCaseRequest {
    pb::GetCaseRequest { lookup: Some(get_case_request::Lookup::Id(id.to_owned())) }
}

fn new_account(name: &str) -> pb::CreateAccountRequest {
    pb::CreateAccountRequest {
        account: Some(pb::Account { name: name.to_owned(), ..Default::default() }),
        idempotency_key: String::new(),
    }
}

async fn a_call_without_a_token_is_unauthenticated(app: TestApp) {
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Conveyor stops").await;
    let before = app.row_counts().await;

    refused(app.cases("").get_case(by_id(&existing.id)).await, Code::Unauthenticated);
    refused(app.cases("").list_cases(pb::ListCasesRequest::default()).await, Code::Unauthenticated);
    refused(app.accounts("").list_accounts(pb::ListAccountsRequest::default()).await, Code::Unauthenticated);
    refused(app.contacts("").list_contacts(pb::ListContactsRequest::default()).await, Code::Unauthenticated);
    refused(app.staff("").list_teams(pb::ListTeamsRequest::default()).await, Code::Unauthenticated);
    refused(app.accounts("").create_account(new_account("Sneaky")).await, Code::Unauthenticated);
    refused(
        app.cases("")
            .create_case(pb::CreateCaseRequest {
                case: Some(new_case(&customer, "Sneaky")),
                idempotency_key: String::new(),
                sender: None,
            })
            .await,
        Code::Unauthenticated,
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_call_with_an_unknown_token_is_unauthenticated(app: TestApp) {
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Conveyor stops").await;
    let before = app.row_counts().await;

    let almost = &ADMIN[..ADMIN.len() - 1];
    for token in ["wrong-token", almost, &format!("{ADMIN}0"), &ADMIN.to_uppercase(), &format!("{AGENT},{ADMIN}")] {
        refused(app.cases(token).get_case(by_id(&existing.id)).await, Code::Unauthenticated);
        refused(app.accounts(token).create_account(new_account("Sneaky")).await, Code::Unauthenticated);
        refused(
            app.cases(token)
                .close_case(pb::CloseCaseRequest {
                    id: existing.id.clone(),
                    status: pb::CaseStatus::ClosedComplete as i32,
                    resolution_summary: "Closed by a stranger".into(),
                    ..Default::default()
                })
                .await,
            Code::Unauthenticated,
        );
    }

    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.cases(AGENT).get_case(by_id(&existing.id)).await.expect("get").into_inner(), existing);
}

async fn a_malformed_authorization_header_is_unauthenticated(app: TestApp) {
    let before = app.row_counts().await;
    let mut accounts = AccountServiceClient::new(app.channel());
    let mut staff = StaffServiceClient::new(app.channel());
    for header in [
        "Token x".to_owned(),
        format!("Token {ADMIN}"),
        format!("Basic {ADMIN}"),
        ADMIN.to_owned(),
        format!("Bearer{ADMIN}"),
        format!("Bearer:{ADMIN}"),
        "Bearer".to_owned(),
    ] {
        refused(accounts.list_accounts(with_header(&header, pb::ListAccountsRequest::default())).await, Code::Unauthenticated);
        refused(accounts.create_account(with_header(&header, new_account("Sneaky"))).await, Code::Unauthenticated);
        refused(
            staff
                .create_team(with_header(
                    &header,
                    pb::CreateTeamRequest {
                        team: Some(pb::Team { name: "Sneaky".into(), ..Default::default() }),
                        idempotency_key: String::new(),
                    },
                ))
                .await,
            Code::Unauthenticated,
        );
    }
    // The same client and header shape with a good token does get through.
    let ok = accounts.list_accounts(with_header(&format!("Bearer {VIEWER}"), pb::ListAccountsRequest::default())).await;
    assert!(ok.is_ok(), "{ok:?}");

    assert_eq!(app.row_counts().await, before);
}

async fn a_viewer_may_read_but_every_write_is_permission_denied_and_writes_nothing(app: TestApp) {
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Conveyor stops").await;
    let ana = staff_user(&app, "Ana Ruiz").await;
    let first = team(&app, "First line").await;
    let closed = case(&app, &customer, "Already closed").await;
    let closed = app
        .cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: closed.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Replaced the belt.".into(),
            ..Default::default()
        })
        .await
        .expect("close")
        .into_inner();
    let before = app.row_counts().await;

    // Reads work.
    let mut cases = app.cases(VIEWER);
    assert_eq!(cases.get_case(by_id(&existing.id)).await.expect("get case").into_inner(), existing);
    cases.list_cases(pb::ListCasesRequest::default()).await.expect("list cases");
    app.accounts(VIEWER).list_accounts(pb::ListAccountsRequest::default()).await.expect("list accounts");
    app.staff(VIEWER).list_staff_users(pb::ListStaffUsersRequest::default()).await.expect("list staff");

    // Every write is refused, with requests that would otherwise succeed.
    let denied = Code::PermissionDenied;
    let mut accounts = app.accounts(VIEWER);
    refused(accounts.create_account(new_account("Viewer's account")).await, denied);
    refused(
        accounts
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account { name: "Renamed".into(), ..customer.account.clone() }),
                update_mask: mask(&["name"]),
                reason: String::new(),
            })
            .await,
        denied,
    );
    let mut contacts = app.contacts(VIEWER);
    refused(
        contacts
            .create_contact(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    account_id: customer.account.id.clone(),
                    name: "Paul Weber".into(),
                    email: format!("{}@acme.example", unique("paul")),
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            })
            .await,
        denied,
    );
    refused(
        contacts
            .update_contact(pb::UpdateContactRequest {
                contact: Some(pb::Contact { title: "Boss".into(), ..customer.contact.clone() }),
                update_mask: mask(&["title"]),
                reason: String::new(),
            })
            .await,
        denied,
    );
    refused(
        cases
            .create_case(pb::CreateCaseRequest {
                case: Some(new_case(&customer, "Viewer's case")),
                idempotency_key: String::new(),
                sender: None,
            })
            .await,
        denied,
    );
    refused(
        cases
            .update_case(pb::UpdateCaseRequest {
                case: Some(pb::Case { subject: "Renamed".into(), ..existing.clone() }),
                update_mask: mask(&["subject"]),
                reason: String::new(),
            })
            .await,
        denied,
    );
    refused(
        cases
            .assign_case(pb::AssignCaseRequest { id: existing.id.clone(), owner_id: ana.id.clone(), ..Default::default() })
            .await,
        denied,
    );
    refused(
        cases
            .set_case_status(pb::SetCaseStatusRequest {
                id: existing.id.clone(),
                status: pb::CaseStatus::Pending as i32,
                ..Default::default()
            })
            .await,
        denied,
    );
    refused(
        cases
            .close_case(pb::CloseCaseRequest {
                id: existing.id.clone(),
                status: pb::CaseStatus::ClosedComplete as i32,
                resolution_summary: "Closed by a viewer".into(),
                ..Default::default()
            })
            .await,
        denied,
    );
    refused(
        cases
            .reopen_case(pb::ReopenCaseRequest { id: closed.id.clone(), reason: "Broke again".into(), etag: String::new() })
            .await,
        denied,
    );
    refused(
        cases
            .add_activity(pb::AddActivityRequest {
                activity: Some(pb::Activity {
                    case_id: existing.id.clone(),
                    kind: pb::ActivityKind::Note as i32,
                    body: "A viewer's note".into(),
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            })
            .await,
        denied,
    );
    refused(
        cases
            .create_case_type(pb::CreateCaseTypeRequest {
                case_type: Some(pb::CaseType { id: "site_visit".into(), name: "Site visit".into(), active: true }),
            })
            .await,
        denied,
    );
    let mut staff = app.staff(VIEWER);
    refused(
        staff
            .create_staff_user(pb::CreateStaffUserRequest {
                staff_user: Some(pb::StaffUser {
                    name: "Vic Viewer".into(),
                    email: format!("{}@staff.example", unique("vic")),
                    role: pb::StaffRole::Admin as i32,
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            })
            .await,
        denied,
    );
    refused(
        staff.add_team_member(pb::TeamMemberRequest { team_id: first.id.clone(), staff_user_id: ana.id.clone() }).await,
        denied,
    );

    assert_eq!(app.row_counts().await, before);
    let mut agent = app.cases(AGENT);
    assert_eq!(agent.get_case(by_id(&existing.id)).await.expect("get").into_inner(), existing);
    assert_eq!(agent.get_case(by_id(&closed.id)).await.expect("get").into_inner(), closed);
}

async fn an_agent_or_a_service_cannot_change_the_staff_directory_or_the_catalogue(app: TestApp) {
    let ana = staff_user(&app, "Ana Ruiz").await;
    let first = team(&app, "First line").await;
    let new_user = pb::CreateStaffUserRequest {
        staff_user: Some(pb::StaffUser {
            name: "Ola Lind".into(),
            email: format!("{}@staff.example", unique("ola")),
            role: pb::StaffRole::Agent as i32,
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    let new_team = pb::CreateTeamRequest {
        team: Some(pb::Team { name: "Escalations".into(), ..Default::default() }),
        idempotency_key: String::new(),
    };
    let new_type = pb::CreateCaseTypeRequest {
        case_type: Some(pb::CaseType { id: "site_visit".into(), name: "Site visit".into(), active: true }),
    };
    let before = app.row_counts().await;

    for token in [AGENT, SERVICE] {
        let denied = Code::PermissionDenied;
        let mut staff = app.staff(token);
        refused(staff.create_staff_user(new_user.clone()).await, denied);
        refused(
            staff
                .update_staff_user(pb::UpdateStaffUserRequest {
                    staff_user: Some(pb::StaffUser { role: pb::StaffRole::Admin as i32, ..ana.clone() }),
                    update_mask: mask(&["role"]),
                    reason: "promote myself".into(),
                })
                .await,
            denied,
        );
        refused(staff.create_team(new_team.clone()).await, denied);
        refused(
            staff
                .update_team(pb::UpdateTeamRequest {
                    team: Some(pb::Team { name: "Renamed".into(), ..first.clone() }),
                    update_mask: mask(&["name"]),
                    reason: String::new(),
                })
                .await,
            denied,
        );
        let member = pb::TeamMemberRequest { team_id: first.id.clone(), staff_user_id: ana.id.clone() };
        refused(staff.add_team_member(member.clone()).await, denied);
        refused(staff.remove_team_member(member).await, denied);
        let mut cases = app.cases(token);
        refused(cases.create_case_type(new_type.clone()).await, denied);
        refused(
            cases
                .update_case_type(pb::UpdateCaseTypeRequest {
                    case_type: Some(pb::CaseType { id: "complaint".into(), name: String::new(), active: false }),
                    update_mask: mask(&["active"]),
                })
                .await,
            denied,
        );
    }
    assert_eq!(app.row_counts().await, before);

    // The same requests were good ones: an admin may make them.
    let mut staff = app.staff(ADMIN);
    staff.create_staff_user(new_user).await.expect("admin creates a staff user");
    staff.create_team(new_team).await.expect("admin creates a team");
    app.cases(ADMIN).create_case_type(new_type).await.expect("admin creates a case type");
}

async fn a_service_token_creates_a_case_recorded_as_the_service(app: TestApp) {
    let customer = customer(&app).await;
    let mut cases = app.cases(SERVICE);
    let created = cases
        .create_case(pb::CreateCaseRequest {
            case: Some(new_case(&customer, "Invoice disputed")),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .expect("a service may create cases")
        .into_inner();
    assert_eq!(created.created_by, "service:billing");
    let note = cases
        .add_activity(pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: created.id.clone(),
                kind: pb::ActivityKind::Note as i32,
                body: "Opened from the billing run".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("a service may add activities")
        .into_inner();
    assert_eq!(note.author, "service:billing");

    let trail = history(&app, &created.id).await;
    assert!(trail.iter().any(|e| e.field == "created"), "{trail:?}");
    assert!(trail.iter().any(|e| e.field == "activity_added"), "{trail:?}");
    let actors: Vec<&str> = trail.iter().map(|e| e.actor.as_str()).collect();
    assert!(actors.iter().all(|a| *a == "service:billing"), "{actors:?}");
}

/// `request` sent as the contact with `x-docket-on-behalf-of: <value>`.
fn on_behalf<T>(value: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(docket_kit::auth::ON_BEHALF_OF, value.parse().expect("an ascii value"));
    request
}

async fn a_service_acting_for_a_contact_is_recorded_as_the_contact(app: TestApp) {
    let customer = customer(&app).await;
    let as_contact = format!("contact:{}", customer.contact.id);
    let mut cases = app.cases(PORTAL);
    let created = cases
        .create_case(on_behalf(
            &as_contact,
            pb::CreateCaseRequest {
                case: Some(new_case(&customer, "Printer jams")),
                idempotency_key: String::new(),
                sender: None,
            },
        ))
        .await
        .expect("a service may act for a contact")
        .into_inner();
    assert_eq!(created.created_by, as_contact);
    let comment = cases
        .add_activity(on_behalf(
            &as_contact,
            pb::AddActivityRequest {
                activity: Some(pb::Activity {
                    case_id: created.id.clone(),
                    kind: pb::ActivityKind::Note as i32,
                    visibility: pb::Visibility::Public as i32,
                    body: "It jams again".into(),
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("a comment for the contact")
        .into_inner();
    assert_eq!(comment.author, as_contact);
    // A customer's public note is no staff reply.
    let read = cases.get_case(by_id(&created.id)).await.unwrap().into_inner();
    assert!(read.first_response_time.is_none(), "{read:?}");
    let trail = history(&app, &created.id).await;
    assert!(!trail.is_empty());
    assert!(trail.iter().all(|e| e.actor == as_contact), "{trail:?}");
}

async fn only_the_portals_token_may_act_for_a_contact_only_as_a_contact_and_only_on_a_customers_calls(app: TestApp) {
    let customer = customer(&app).await;
    let as_contact = format!("contact:{}", customer.contact.id);
    let new =
        || pb::CreateCaseRequest { case: Some(new_case(&customer, "Pretender")), idempotency_key: String::new(), sender: None };
    let before = app.row_counts().await;
    // Staff tokens cannot pass themselves off as a customer: refused, not ignored;
    // nor can another system's service token (without acts_for_contacts).
    for token in [AGENT, ADMIN, VIEWER, SERVICE] {
        refused(app.cases(token).create_case(on_behalf(&as_contact, new())).await, Code::PermissionDenied);
    }
    // The portal's token must name a contact by its id.
    for bad in ["staff:1", "contact:", "contact:nobody", "service:other", ""] {
        refused(app.cases(PORTAL).create_case(on_behalf(bad, new())).await, Code::InvalidArgument);
    }
    // And acts for a customer only in what a customer does: not, say, to
    // change a contact's address or to read another account's cases.
    let contact = customer.contact.clone();
    let update = pb::UpdateContactRequest {
        contact: Some(pb::Contact { email: "mallory@evil.example".into(), ..contact.clone() }),
        update_mask: crate::fixtures::mask(&["email"]),
        reason: String::new(),
    };
    refused(app.contacts(PORTAL).update_contact(on_behalf(&as_contact, update)).await, Code::PermissionDenied);
    refused(app.cases(PORTAL).list_cases(on_behalf(&as_contact, pb::ListCasesRequest::default())).await, Code::PermissionDenied);
    // Without a token the header changes nothing: still unauthenticated.
    refused(CaseServiceClient::new(app.channel()).create_case(on_behalf(&as_contact, new())).await, Code::Unauthenticated);
    assert_eq!(app.row_counts().await, before, "refused calls wrote nothing");
}

async fn the_health_check_answers_without_a_token(app: TestApp) {
    let mut health = HealthClient::new(app.channel());
    for service in ["", "docket.case.v1.CaseService", "docket.case.v1.AccountService", "docket.case.v1.StaffService"] {
        let answer = health
            .check(HealthCheckRequest { service: service.to_owned() })
            .await
            .unwrap_or_else(|status| panic!("health of `{service}`: {status:?}"))
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "health of `{service}`");
    }
    // The same channel without a token reaches nothing else.
    refused(CaseServiceClient::new(app.channel()).list_cases(pb::ListCasesRequest::default()).await, Code::Unauthenticated);
}
