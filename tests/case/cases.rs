//! CaseService: numbering, the status machine, queues, updates, case types.

use docket_proto::case::v1::{self as pb, get_case_request::Lookup};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{case, customer, history, mask, new_case, staff_user, team, unique},
    on_both_backends,
};

on_both_backends!(
    new_cases_get_increasing_numbers_and_start_as_new,
    a_case_is_found_by_id_or_by_number,
    a_case_created_with_an_owner_starts_assigned,
    assigning_an_owner_moves_new_to_assigned_with_a_trail,
    pending_keeps_its_owner,
    moves_the_machine_does_not_allow_are_refused_naming_the_allowed_moves,
    closing_needs_a_resolution_and_a_closed_status,
    reopening_needs_a_reason_and_returns_the_case_to_its_owner,
    an_update_changes_masked_fields_with_one_trail_row_each,
    a_creation_is_one_trail_row_read_as_an_entry_per_field,
    the_same_idempotency_key_creates_one_case_and_one_number,
    queues_filter_sort_and_page,
    admins_edit_the_case_type_catalogue,
    a_cases_contacts_and_tags_read_alike_from_its_row_and_from_the_link_tables,
);

async fn new_cases_get_increasing_numbers_and_start_as_new(app: TestApp) {
    let customer = customer(&app).await;
    let first = case(&app, &customer, "First").await;
    let second = case(&app, &customer, "Second").await;
    assert_eq!(first.case_number, "C-000001");
    assert_eq!(second.case_number, "C-000002");
    assert_eq!(first.status, pb::CaseStatus::ActiveNew as i32);
    assert_eq!(first.priority, pb::CasePriority::High as i32);
    assert_eq!(first.channel, pb::CaseChannel::Phone as i32);
    assert_eq!(first.created_by, "agent:agent");
    assert!(first.create_time.is_some() && first.first_response_time.is_none() && first.closed_time.is_none());
    assert_eq!(first.contacts, vec![pb::CaseContact { contact_id: customer.contact.id.clone(), primary: true }]);

    let trail = history(&app, &first.id).await;
    let fields: Vec<_> = trail.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields[..2], ["created", "status"]);
    assert!(fields.contains(&"subject") && fields.contains(&"account_id"), "{fields:?}");
    assert!(trail.iter().all(|e| e.actor == "agent:agent"));
}

async fn a_case_is_found_by_id_or_by_number(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Lookup").await;
    let mut cases = app.cases(VIEWER);
    let by_id = cases.get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(created.id.clone())) }).await.unwrap().into_inner();
    let by_number = cases
        .get_case(pb::GetCaseRequest { lookup: Some(Lookup::CaseNumber(created.case_number.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, created);
    assert_eq!(by_number, created);
    let missing = cases.get_case(pb::GetCaseRequest { lookup: Some(Lookup::CaseNumber("C-999999".into())) }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains("C-999999"), "{}", missing.message());
}

async fn a_case_created_with_an_owner_starts_assigned(app: TestApp) {
    let customer = customer(&app).await;
    let owner = staff_user(&app, "Alex Agent").await;
    let created = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { owner_id: owner.id.clone(), ..new_case(&customer, "Owned") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.status, pb::CaseStatus::ActiveAssigned as i32);
    assert_eq!(created.owner_id, owner.id);
}

async fn assign(app: &TestApp, id: &str, owner: &str) -> Result<pb::Case, tonic::Status> {
    app.cases(AGENT)
        .assign_case(pb::AssignCaseRequest { id: id.to_owned(), owner_id: owner.to_owned(), ..Default::default() })
        .await
        .map(|r| r.into_inner())
}

async fn set_status(app: &TestApp, id: &str, status: pb::CaseStatus) -> Result<pb::Case, tonic::Status> {
    app.cases(AGENT)
        .set_case_status(pb::SetCaseStatusRequest { id: id.to_owned(), status: status as i32, ..Default::default() })
        .await
        .map(|r| r.into_inner())
}

async fn close(app: &TestApp, id: &str, resolution: &str) -> Result<pb::Case, tonic::Status> {
    app.cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: id.to_owned(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: resolution.to_owned(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn assigning_an_owner_moves_new_to_assigned_with_a_trail(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Assign me").await;
    let owner = staff_user(&app, "Alex Agent").await;
    let queue = team(&app, "Support").await;
    let assigned = app
        .cases(AGENT)
        .assign_case(pb::AssignCaseRequest {
            id: created.id.clone(),
            owner_id: owner.id.clone(),
            team_id: queue.id.clone(),
            etag: created.etag.clone(),
            reason: "Alex knows conveyors".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.status, pb::CaseStatus::ActiveAssigned as i32);
    assert_eq!(assigned.owner_id, owner.id);
    assert_eq!(assigned.team_id, queue.id);
    assert_ne!(assigned.etag, created.etag);

    let trail: Vec<_> = history(&app, &created.id)
        .await
        .into_iter()
        .filter(|e| e.reason == "Alex knows conveyors")
        .map(|e| (e.field, e.old_value, e.new_value))
        .collect();
    assert_eq!(
        trail,
        vec![
            ("owner_id".into(), String::new(), owner.id.clone()),
            ("team_id".into(), String::new(), queue.id.clone()),
            // The trail keeps machine keys, not display labels.
            ("status".into(), "new".into(), "assigned".into()),
        ]
    );

    // Clearing the owner sends it back to New.
    let cleared = assign(&app, &created.id, "").await.unwrap();
    assert_eq!(cleared.status, pb::CaseStatus::ActiveNew as i32);
    assert!(cleared.owner_id.is_empty());

    // An inactive owner is refused.
    let gone = staff_user(&app, "Gone Agent").await;
    app.staff(ADMIN)
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: gone.id.clone(), etag: gone.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left the company".into(),
        })
        .await
        .unwrap();
    let refused = assign(&app, &created.id, &gone.id).await.unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "owner_id");
}

async fn pending_keeps_its_owner(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Waiting for parts").await;
    let owner = staff_user(&app, "Sam Support").await;
    assign(&app, &created.id, &owner.id).await.unwrap();
    let pending = set_status(&app, &created.id, pb::CaseStatus::Pending).await.unwrap();
    assert_eq!(pending.status, pb::CaseStatus::Pending as i32);
    assert_eq!(pending.owner_id, owner.id);

    let other = staff_user(&app, "Other Agent").await;
    let reassigned = assign(&app, &created.id, &other.id).await.unwrap();
    assert_eq!(reassigned.status, pb::CaseStatus::Pending as i32, "reassigning keeps Pending");

    let before = app.row_counts().await;
    let refused = assign(&app, &created.id, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("Pending keeps an owner"), "{}", refused.message());
    assert_eq!(app.row_counts().await, before);

    let back = set_status(&app, &created.id, pb::CaseStatus::ActiveAssigned).await.unwrap();
    assert_eq!(back.status, pb::CaseStatus::ActiveAssigned as i32);
}

async fn moves_the_machine_does_not_allow_are_refused_naming_the_allowed_moves(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Fresh").await;
    let before = app.row_counts().await;

    let refused = set_status(&app, &created.id, pb::CaseStatus::Pending).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("Active – New"), "{}", refused.message());
    assert!(refused.message().contains("AssignCase"), "{}", refused.message());

    let refused = set_status(&app, &created.id, pb::CaseStatus::ClosedComplete).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("CloseCase"), "{}", refused.message());

    let refused = app
        .cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: created.id.clone(), reason: "why not".into(), etag: String::new() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(app.row_counts().await, before);
}

async fn closing_needs_a_resolution_and_a_closed_status(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Close me").await;
    let before = app.row_counts().await;
    let refused = close(&app, &created.id, "  ").await.unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "resolution_summary");
    let refused = app
        .cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::Pending as i32,
            resolution_summary: "done".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "status");
    assert_eq!(app.row_counts().await, before);

    let closed = close(&app, &created.id, "Replaced the controller board.").await.unwrap();
    assert_eq!(closed.status, pb::CaseStatus::ClosedComplete as i32);
    assert_eq!(closed.resolution_summary, "Replaced the controller board.");
    assert!(closed.closed_time.is_some() && closed.resolved_time.is_some());

    let again = close(&app, &created.id, "again").await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("ReopenCase"), "{}", again.message());
}

async fn reopening_needs_a_reason_and_returns_the_case_to_its_owner(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Comes back").await;
    let owner = staff_user(&app, "Alex Agent").await;
    assign(&app, &created.id, &owner.id).await.unwrap();
    close(&app, &created.id, "Fixed").await.unwrap();

    let refused = app
        .cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: created.id.clone(), reason: String::new(), etag: String::new() })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "reason");

    let reopened = app
        .cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: created.id.clone(), reason: "It broke again".into(), etag: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status, pb::CaseStatus::ActiveAssigned as i32);
    assert_eq!(reopened.owner_id, owner.id);
    assert!(reopened.closed_time.is_none());
    let trail = history(&app, &created.id).await;
    assert!(trail.iter().any(|e| e.field == "status" && e.new_value == "assigned" && e.reason == "It broke again"));

    // A case closed without ever having an owner returns to New.
    let unowned = case(&app, &customer, "Nobody's").await;
    close(&app, &unowned.id, "Duplicate").await.unwrap();
    let reopened = app
        .cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: unowned.id.clone(), reason: "Not a duplicate".into(), etag: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status, pb::CaseStatus::ActiveNew as i32);
}

async fn an_update_changes_masked_fields_with_one_trail_row_each(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Original subject").await;
    let second =
        crate::fixtures::contact(&app, &customer.account.id, "Jonas Weber", &format!("{}@acme.example", unique("jonas"))).await;
    let trail_before = history(&app, &created.id).await.len();
    let updated = app
        .cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: created.id.clone(),
                etag: created.etag.clone(),
                subject: "Better subject".into(),
                priority: pb::CasePriority::Critical as i32,
                description: "not in the mask".into(),
                contacts: vec![
                    pb::CaseContact { contact_id: customer.contact.id.clone(), primary: false },
                    pb::CaseContact { contact_id: second.id.clone(), primary: true },
                ],
                tags: vec!["Conveyor".into(), "urgent".into(), "conveyor".into()],
                asset_serial_number: "CV-2291-A".into(),
                ..Default::default()
            }),
            update_mask: mask(&["subject", "priority", "contacts", "tags", "asset_serial_number"]),
            reason: "triage".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.subject, "Better subject");
    assert_eq!(updated.description, created.description);
    assert_eq!(updated.priority, pb::CasePriority::Critical as i32);
    assert_eq!(updated.tags, vec!["conveyor".to_owned(), "urgent".to_owned()]);
    assert_eq!(updated.contacts.iter().filter(|c| c.primary).count(), 1);
    assert_eq!(updated.asset_serial_number, "CV-2291-A");

    let trail = history(&app, &created.id).await;
    let fields: Vec<_> = trail[trail_before..].iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["subject", "priority", "contacts", "tags", "asset_serial_number"]);
    assert!(trail[trail_before..].iter().all(|e| e.reason == "triage"));

    // The same values again change nothing and leave no trail.
    let unchanged = app
        .cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: created.id.clone(),
                etag: updated.etag.clone(),
                subject: "Better subject".into(),
                ..Default::default()
            }),
            update_mask: mask(&["subject"]),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.etag, updated.etag);
    assert_eq!(history(&app, &created.id).await.len(), trail.len());

    // Status and owner have their own verbs.
    let refused = app
        .cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case { id: created.id.clone(), etag: updated.etag.clone(), ..Default::default() }),
            update_mask: mask(&["status"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "update_mask");
}

async fn the_same_idempotency_key_creates_one_case_and_one_number(app: TestApp) {
    let customer = customer(&app).await;
    let request =
        pb::CreateCaseRequest { case: Some(new_case(&customer, "Once only")), idempotency_key: unique("retry"), sender: None };
    let first = app.cases(AGENT).create_case(request.clone()).await.unwrap().into_inner();
    let retried = app.cases(AGENT).create_case(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, retried);
    let next = case(&app, &customer, "Next").await;
    assert_eq!(next.case_number, "C-000002", "the retry did not use up a number");

    // Concurrent retries with one key still make one case.
    let key = unique("burst");
    let burst = futures::future::join_all((0..8).map(|_| {
        let mut client = app.cases(AGENT);
        let request =
            pb::CreateCaseRequest { case: Some(new_case(&customer, "Burst")), idempotency_key: key.clone(), sender: None };
        async move { client.create_case(request).await.map(|r| r.into_inner().id) }
    }))
    .await;
    let ids: std::collections::BTreeSet<_> = burst.into_iter().map(|r| r.expect("each retry succeeds")).collect();
    assert_eq!(ids.len(), 1, "one case for one key");
}

async fn queues_filter_sort_and_page(app: TestApp) {
    let acme = customer(&app).await;
    let bright = customer(&app).await;
    let owner = staff_user(&app, "Alex Agent").await;
    let queue = team(&app, "Support").await;
    let mut cases = app.cases(AGENT);
    let create =
        |customer: &crate::fixtures::Customer, subject: &str, priority: pb::CasePriority, type_id: &str, tags: &[&str]| {
            pb::CreateCaseRequest {
                case: Some(pb::Case {
                    priority: priority as i32,
                    type_id: type_id.to_owned(),
                    team_id: queue.id.clone(),
                    tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                    ..new_case(customer, subject)
                }),
                idempotency_key: String::new(),
                sender: None,
            }
        };
    let low = cases
        .create_case(create(&acme, "Printer toner low", pb::CasePriority::Low, "service_request", &["printer"]))
        .await
        .unwrap()
        .into_inner();
    let critical = cases
        .create_case(create(&acme, "Line stopped", pb::CasePriority::Critical, "technical_issue", &["line"]))
        .await
        .unwrap()
        .into_inner();
    let billing = cases
        .create_case(create(&bright, "Invoice charged twice", pb::CasePriority::Medium, "billing_query", &[]))
        .await
        .unwrap()
        .into_inner();
    assign(&app, &critical.id, &owner.id).await.unwrap();

    let list = |request: pb::ListCasesRequest| {
        let mut cases = app.cases(VIEWER);
        async move { cases.list_cases(request).await.unwrap().into_inner().cases.into_iter().map(|c| c.subject).collect::<Vec<_>>() }
    };
    assert_eq!(list(pb::ListCasesRequest::default()).await, ["Invoice charged twice", "Line stopped", "Printer toner low"]);
    assert_eq!(
        list(pb::ListCasesRequest { order_by: pb::CaseOrder::CreateTimeAsc as i32, ..Default::default() }).await,
        ["Printer toner low", "Line stopped", "Invoice charged twice"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { order_by: pb::CaseOrder::PriorityDesc as i32, ..Default::default() }).await,
        ["Line stopped", "Invoice charged twice", "Printer toner low"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { order_by: pb::CaseOrder::UpdateTimeDesc as i32, ..Default::default() }).await[0],
        "Line stopped"
    );
    assert_eq!(list(pb::ListCasesRequest { owner_id: owner.id.clone(), ..Default::default() }).await, ["Line stopped"]);
    assert_eq!(
        list(pb::ListCasesRequest { unassigned_only: true, ..Default::default() }).await,
        ["Invoice charged twice", "Printer toner low"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { statuses: vec![pb::CaseStatus::ActiveAssigned as i32], ..Default::default() }).await,
        ["Line stopped"]
    );
    assert_eq!(
        list(pb::ListCasesRequest {
            priorities: vec![pb::CasePriority::Low as i32, pb::CasePriority::Medium as i32],
            ..Default::default()
        })
        .await,
        ["Invoice charged twice", "Printer toner low"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { type_id: "billing_query".into(), ..Default::default() }).await,
        ["Invoice charged twice"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { account_id: acme.account.id.clone(), ..Default::default() }).await,
        ["Line stopped", "Printer toner low"]
    );
    assert_eq!(
        list(pb::ListCasesRequest { contact_id: bright.contact.id.clone(), ..Default::default() }).await,
        ["Invoice charged twice"]
    );
    assert_eq!(list(pb::ListCasesRequest { team_id: queue.id.clone(), ..Default::default() }).await.len(), 3);
    assert_eq!(list(pb::ListCasesRequest { text: "TONER".into(), ..Default::default() }).await, ["Printer toner low"]);
    assert_eq!(
        list(pb::ListCasesRequest { text: "conveyor stops".into(), ..Default::default() }).await.len(),
        3,
        "description text matches"
    );
    assert_eq!(list(pb::ListCasesRequest { tag: "line".into(), ..Default::default() }).await, ["Line stopped"]);
    let created_at = billing.create_time.unwrap();
    assert_eq!(
        list(pb::ListCasesRequest { created_after: Some(created_at), ..Default::default() }).await,
        ["Invoice charged twice"]
    );
    assert_eq!(list(pb::ListCasesRequest { created_before: Some(created_at), ..Default::default() }).await.len(), 2);

    // Paging through every order visits every case once.
    for order in
        [pb::CaseOrder::CreateTimeDesc, pb::CaseOrder::CreateTimeAsc, pb::CaseOrder::UpdateTimeDesc, pb::CaseOrder::PriorityDesc]
    {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = app
                .cases(VIEWER)
                .list_cases(pb::ListCasesRequest {
                    page_size: 1,
                    page_token: token.clone(),
                    order_by: order as i32,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            seen.extend(page.cases.into_iter().map(|c| c.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        seen.sort();
        let mut all = vec![low.id.clone(), critical.id.clone(), billing.id.clone()];
        all.sort();
        assert_eq!(seen, all, "{order:?}");
    }
}

async fn admins_edit_the_case_type_catalogue(app: TestApp) {
    let mut cases = app.cases(ADMIN);
    let seeded: Vec<_> = cases
        .list_case_types(pb::ListCaseTypesRequest { include_inactive: false })
        .await
        .unwrap()
        .into_inner()
        .case_types
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(seeded, ["complaint", "warranty_claim", "billing_query", "technical_issue", "service_request"]);

    let created = cases
        .create_case_type(pb::CreateCaseTypeRequest {
            case_type: Some(pb::CaseType { id: "bug_report".into(), name: "Bug report".into(), active: true }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.active);
    let duplicate = cases
        .create_case_type(pb::CreateCaseTypeRequest {
            case_type: Some(pb::CaseType { id: "bug_report".into(), name: "Again".into(), active: true }),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    cases
        .update_case_type(pb::UpdateCaseTypeRequest {
            case_type: Some(pb::CaseType { id: "complaint".into(), name: String::new(), active: false }),
            update_mask: mask(&["active"]),
        })
        .await
        .unwrap();
    let active: Vec<_> = cases
        .list_case_types(pb::ListCaseTypesRequest { include_inactive: false })
        .await
        .unwrap()
        .into_inner()
        .case_types
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(!active.contains(&"complaint".to_owned()) && active.contains(&"bug_report".to_owned()));

    let customer = customer(&app).await;
    let refused = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { type_id: "complaint".into(), ..new_case(&customer, "Rude driver") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "case.type_id");
}

/// A creation's trail is stored as one row (issue 15) and read as an entry
/// per field: the same entries in pages of any size, and the same again
/// after rolling that upgrade back (which writes them out as rows).
async fn a_creation_is_one_trail_row_read_as_an_entry_per_field(app: TestApp) {
    use sea_orm::{ConnectionTrait, Statement};
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Packed").await;
    let updated = app
        .cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: created.id.clone(),
                etag: created.etag.clone(),
                subject: "Unpacked".into(),
                ..Default::default()
            }),
            update_mask: mask(&["subject"]),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.subject, "Unpacked");
    let entries = |trail: &[pb::AuditEntry]| -> Vec<(String, String, String, String)> {
        trail.iter().map(|e| (e.id.clone(), e.field.clone(), e.old_value.clone(), e.new_value.clone())).collect()
    };
    let trail = entries(&history(&app, &created.id).await);
    let fields: Vec<&str> = trail.iter().map(|(_, field, _, _)| field.as_str()).collect();
    assert_eq!(fields[..2], ["created", "status"], "{fields:?}");
    for field in ["subject", "description", "priority", "account_id", "contacts"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let (last_id, last_field, last_old, last_new) = trail.last().expect("entries");
    assert_eq!((last_field.as_str(), last_old.as_str(), last_new.as_str()), ("subject", "Packed", "Unpacked"));
    assert!(trail.windows(2).all(|pair| pair[0].0 < pair[1].0), "ids increase as text: {trail:?}");

    let paged = async |size: i32| {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = app
                .cases(AGENT)
                .list_case_history(pb::ListHistoryRequest { id: created.id.clone(), page_size: size, page_token: token })
                .await
                .expect("a page of history")
                .into_inner();
            assert!(page.entries.len() <= size as usize);
            all.extend(entries(&page.entries));
            if page.next_page_token.is_empty() {
                return all;
            }
            token = page.next_page_token;
        }
    };
    for size in [1, 2, 3, 7] {
        assert_eq!(paged(size).await, trail, "pages of {size}");
    }

    let db = docket_kit::db::connect(&app.settings.database, "case").await.unwrap();
    let backend = db.get_database_backend();
    let stored = async || -> Vec<(String, String, String, String)> {
        let sql = format!(
            "SELECT id, field, old_value, new_value FROM audit_entries WHERE record_id = {} ORDER BY id",
            docket_kit::db::placeholder(backend, 1)
        );
        let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [created.id.clone().into()])).await.unwrap();
        rows.iter()
            .map(|row| {
                let text = |column: &str| row.try_get::<String>("", column).unwrap();
                (text("id"), text("field"), text("old_value"), text("new_value"))
            })
            .collect()
    };
    let rows = stored().await;
    assert_eq!(rows.len(), 2, "the creation's row and the update's: {rows:?}");
    assert_eq!((&rows[0].1, &rows[1].0), (&"created".to_owned(), last_id));

    crate::common::migrate_down_through(&db, "case", "m20261206_000101_audit_creation_in_one_row").await;
    assert_eq!(stored().await, trail, "rolled back: an entry a row, under the ids the history showed");
    docket_migrations::up(&db, "case").await.unwrap();
    assert_eq!(
        history(&app, &created.id).await.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        trail.iter().map(|(id, ..)| id.clone()).collect::<Vec<_>>()
    );
    assert_eq!(paged(2).await, trail, "the written-out rows page as before");
}

/// A case row keeps its contacts and tags (`cases.links`) for the reads.
/// Rows whose kept links are not their current ones (written by the release
/// before, which runs on beside this one during a rolling upgrade and keeps
/// only the link tables) are read from the link tables; the migration that
/// adds the column fills it for every row there is.
async fn a_cases_contacts_and_tags_read_alike_from_its_row_and_from_the_link_tables(app: TestApp) {
    use sea_orm::ConnectionTrait as _;
    let customer = customer(&app).await;
    let second =
        crate::fixtures::contact(&app, &customer.account.id, "Jonas Weber", &format!("{}@acme.example", unique("jonas"))).await;
    let link = |contact: &str, primary: bool| pb::CaseContact { contact_id: contact.to_owned(), primary };
    let mut cases = app.cases(AGENT);
    let tagged = cases
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case {
                contacts: vec![link(&second.id, false), link(&customer.contact.id, true)],
                tags: vec!["zeta".into(), "\u{c4}rger, \"bitte\"".into(), "alpha".into()],
                ..new_case(&customer, "Tagged")
            }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    case(&app, &customer, "Plain").await;
    let edited = case(&app, &customer, "Edited").await;
    cases
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: edited.id.clone(),
                etag: edited.etag.clone(),
                contacts: vec![link(&second.id, true)],
                tags: vec!["new".into()],
                ..Default::default()
            }),
            update_mask: mask(&["contacts", "tags"]),
            reason: "triage".into(),
        })
        .await
        .unwrap();
    // A version of its own (and a first response), links untouched.
    crate::fixtures::note(&app, &edited.id, "We are on it.", pb::Visibility::Public).await;

    let listed = || {
        let mut cases = app.cases(VIEWER);
        async move {
            let page = cases.list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner();
            page.cases.into_iter().map(|c| (c.subject, c.contacts, c.tags)).collect::<Vec<_>>()
        }
    };
    let strings = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    let mut want = vec![
        ("Edited".to_owned(), vec![link(&second.id, true)], strings(&["new"])),
        ("Plain".to_owned(), vec![link(&customer.contact.id, true)], vec![]),
        (
            "Tagged".to_owned(),
            vec![link(&second.id, false), link(&customer.contact.id, true)],
            strings(&["alpha", "zeta", "\u{e4}rger, \"bitte\""]),
        ),
    ];
    assert_eq!(listed().await, want, "contacts in their order, tags in byte order");
    let db = app.case_db().await;
    let current_links = async || {
        let sql = "SELECT COUNT(*) AS n FROM cases WHERE links IS NOT NULL AND links_version = version";
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(current_links().await, 3, "every write kept the row's links current");

    // What the release before writes: a row without links, a version bump
    // without them, and the link tables alone.
    for sql in [
        "UPDATE cases SET links = NULL, links_version = NULL WHERE subject = 'Plain'".to_owned(),
        format!("UPDATE cases SET version = version + 1 WHERE id = '{}'", tagged.id),
        format!("INSERT INTO case_tags (case_id, tag) VALUES ('{}', 'older')", tagged.id),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    want[2].2 = strings(&["alpha", "older", "zeta", "\u{e4}rger, \"bitte\""]);
    assert_eq!(listed().await, want, "rows without current links read the link tables");
    assert_eq!(current_links().await, 1);

    crate::common::migrate_down_through(&db, "case", "m20261207_000014_case_links").await;
    docket_migrations::up(&db, "case").await.expect("up again");
    assert_eq!(current_links().await, 3, "the migration keeps every row's links");
    assert_eq!(listed().await, want, "as the link tables hold them");
}
