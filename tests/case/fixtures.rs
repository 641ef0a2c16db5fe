//! Small builders for the records most tests need.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use docket_proto::case::v1 as pb;
use prost_types::FieldMask;

use crate::common::{ADMIN, AGENT, TestApp};

pub fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

pub async fn account(app: &TestApp, name: &str) -> pb::Account {
    app.accounts(AGENT)
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account { name: name.to_owned(), industry: "Manufacturing".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create account")
        .into_inner()
}

pub async fn contact(app: &TestApp, account_id: &str, name: &str, email: &str) -> pb::Contact {
    app.contacts(AGENT)
        .create_contact(pb::CreateContactRequest {
            contact: Some(pb::Contact {
                account_id: account_id.to_owned(),
                name: name.to_owned(),
                email: email.to_owned(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create contact")
        .into_inner()
}

pub async fn staff_user(app: &TestApp, name: &str) -> pb::StaffUser {
    staff_user_as(app, name, pb::StaffRole::Agent).await
}

pub async fn staff_user_as(app: &TestApp, name: &str, role: pb::StaffRole) -> pb::StaffUser {
    app.staff(ADMIN)
        .create_staff_user(pb::CreateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                name: name.to_owned(),
                email: format!("{}@staff.example", unique(&name.to_lowercase().replace(' ', "."))),
                role: role as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create staff user")
        .into_inner()
}

pub async fn team(app: &TestApp, name: &str) -> pb::Team {
    app.staff(ADMIN)
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team { name: name.to_owned(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create team")
        .into_inner()
}

/// A team with these members, joined in this order; as it reads after the last one joined.
pub async fn team_of(app: &TestApp, name: &str, members: &[&pb::StaffUser]) -> pb::Team {
    let mut current = team(app, name).await;
    let mut staff = app.staff(ADMIN);
    for member in members {
        current = staff
            .add_team_member(pb::TeamMemberRequest { team_id: current.id.clone(), staff_user_id: member.id.clone() })
            .await
            .expect("add a team member")
            .into_inner();
    }
    current
}

/// An account with one contact, ready for cases.
pub struct Customer {
    pub account: pb::Account,
    pub contact: pb::Contact,
}

pub async fn customer(app: &TestApp) -> Customer {
    let account = account(app, &unique("Acme")).await;
    let contact = contact(app, &account.id, "Petra Schmidt", &format!("{}@acme.example", unique("petra"))).await;
    Customer { account, contact }
}

pub fn new_case(customer: &Customer, subject: &str) -> pb::Case {
    pb::Case {
        subject: subject.to_owned(),
        description: "The conveyor stops every hour.".into(),
        type_id: "technical_issue".into(),
        priority: pb::CasePriority::High as i32,
        channel: pb::CaseChannel::Phone as i32,
        account_id: customer.account.id.clone(),
        contacts: vec![pb::CaseContact { contact_id: customer.contact.id.clone(), primary: true }],
        ..Default::default()
    }
}

pub async fn case(app: &TestApp, customer: &Customer, subject: &str) -> pb::Case {
    app.cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(new_case(customer, subject)),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .expect("create case")
        .into_inner()
}

pub async fn history(app: &TestApp, case_id: &str) -> Vec<pb::AuditEntry> {
    app.cases(AGENT)
        .list_case_history(pb::ListHistoryRequest { id: case_id.to_owned(), page_size: 500, page_token: String::new() })
        .await
        .expect("case history")
        .into_inner()
        .entries
}

/// A note by staff on a case.
pub async fn note(app: &TestApp, case_id: &str, body: &str, visibility: pb::Visibility) {
    app.cases(AGENT)
        .add_activity(pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: case_id.to_owned(),
                kind: pb::ActivityKind::Note as i32,
                visibility: visibility as i32,
                body: body.to_owned(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("add a note");
}
