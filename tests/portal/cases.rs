//! PortalCaseService: what a customer sees and does, and what it never can.

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use tonic::Code;

use crate::{
    common::{AGENT, SERVICE, TestApp, assert_field_error},
    fixtures::{history, note, staff_user},
    portal_tests,
    support::{Visitor, all_row_counts, execute, world},
};

portal_tests!(
    a_customer_opens_reads_comments_closes_and_reopens_its_case,
    a_contact_of_another_account_can_neither_read_nor_change_a_case_and_nothing_is_written,
    a_portal_manager_sees_the_accounts_cases_and_a_plain_contact_only_its_own,
    internal_notes_calls_and_staff_fields_never_reach_the_portal,
    a_case_closed_longer_ago_than_the_window_cannot_be_reopened,
    bad_portal_case_requests_change_nothing,
);

fn by_id(visitor: &Visitor, id: &str) -> portal::GetMyCaseRequest {
    portal::GetMyCaseRequest {
        session_id: visitor.session.clone(),
        lookup: Some(portal::get_my_case_request::Lookup::Id(id.to_owned())),
    }
}

fn by_number(visitor: &Visitor, number: &str) -> portal::GetMyCaseRequest {
    portal::GetMyCaseRequest {
        session_id: visitor.session.clone(),
        lookup: Some(portal::get_my_case_request::Lookup::CaseNumber(number.to_owned())),
    }
}

fn listing(visitor: &Visitor, state: portal::CaseState, scope: portal::CaseScope) -> portal::ListMyCasesRequest {
    portal::ListMyCasesRequest {
        session_id: visitor.session.clone(),
        state: state as i32,
        scope: scope as i32,
        ..Default::default()
    }
}

async fn numbers(app: &TestApp, request: portal::ListMyCasesRequest) -> Vec<String> {
    let mut numbers: Vec<String> = app
        .portal_cases(SERVICE)
        .list_my_cases(request)
        .await
        .unwrap()
        .into_inner()
        .cases
        .into_iter()
        .map(|c| c.case_number)
        .collect();
    numbers.sort();
    numbers
}

async fn a_customer_opens_reads_comments_closes_and_reopens_its_case(app: TestApp) {
    let world = world(&app).await;
    let ann = &world.colleague;
    let mut cases = app.portal_cases(SERVICE);
    let options =
        cases.get_case_options(portal::GetCaseOptionsRequest { session_id: ann.session.clone() }).await.unwrap().into_inner();
    assert!(options.case_types.iter().any(|t| t.id == "technical_issue" && t.name == "Technical issue"));
    let mut priorities = options.priorities.clone();
    priorities.sort_unstable();
    assert_eq!(priorities, [pb::CasePriority::Low as i32, pb::CasePriority::Medium as i32, pb::CasePriority::High as i32]);

    let opened = ann.open_case(&app, "Label printer offline").await;
    assert!(opened.mine);
    assert_eq!(opened.status, pb::CaseStatus::ActiveNew as i32);
    assert_eq!(opened.type_name, "Technical issue");
    assert_eq!(opened.asset_serial_number, "SN-1");
    // In the case service: channel portal, opened by the contact, under its account.
    let stored = app
        .cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(opened.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.channel, pb::CaseChannel::Portal as i32);
    assert_eq!(stored.created_by, format!("contact:{}", ann.contact.id));
    assert_eq!(stored.account_id, world.acme.id);
    assert_eq!(stored.contacts, [pb::CaseContact { contact_id: ann.contact.id.clone(), primary: true }]);

    let listed =
        cases.list_my_cases(listing(ann, portal::CaseState::Open, portal::CaseScope::Unspecified)).await.unwrap().into_inner();
    assert_eq!(listed.cases.len(), 1);
    assert_eq!(listed.cases[0].case_number, opened.case_number);
    let found = cases
        .list_my_cases(portal::ListMyCasesRequest {
            text: "PRINTER".into(),
            ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.cases.len(), 1);

    note(&app, &opened.id, "We are sending a technician.", pb::Visibility::Public).await;
    let comment = cases
        .add_comment(portal::AddCommentRequest {
            session_id: ann.session.clone(),
            case_id: opened.id.clone(),
            body: "Thank you, we will be there.".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(comment.by_me && comment.from_customer);
    assert_eq!(comment.author_name, "Jonas Colleague");

    let closed = cases
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: ann.session.clone(),
            case_id: opened.id.clone(),
            resolution_summary: "The technician replaced the cable.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, pb::CaseStatus::ClosedComplete as i32);
    assert_eq!(closed.resolution_summary, "The technician replaced the cable.");
    assert!(closed.reopen_until.is_some(), "within the window it can be reopened");

    let reopened = cases
        .reopen_my_case(portal::ReopenMyCaseRequest {
            session_id: ann.session.clone(),
            case_id: opened.id.clone(),
            reason: "It failed again.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status, pb::CaseStatus::ActiveNew as i32);
    assert!(reopened.reopen_until.is_none());

    let read = cases.get_my_case(by_number(ann, &opened.case_number)).await.unwrap().into_inner();
    let kinds: Vec<(i32, String)> = read.timeline.iter().map(|e| (e.kind, e.body.clone())).collect();
    let comment_kind = portal::TimelineEntryKind::Comment as i32;
    let status_kind = portal::TimelineEntryKind::StatusChange as i32;
    assert_eq!(
        kinds,
        [
            (comment_kind, "We are sending a technician.".to_owned()),
            (comment_kind, "Thank you, we will be there.".to_owned()),
            (status_kind, String::new()),
            (status_kind, String::new()),
        ],
        "{:#?}",
        read.timeline
    );
    let staff_reply = &read.timeline[0];
    assert!(!staff_reply.from_customer && !staff_reply.by_me);
    assert_eq!(read.timeline[2].new_status, pb::CaseStatus::ClosedComplete as i32);
    assert_eq!(read.timeline[3].old_status, pb::CaseStatus::ClosedComplete as i32);
    assert!(read.timeline[2].by_me && read.timeline[3].by_me);
    // The case service's trail says who did what: the contact, not the portal's token.
    let trail = history(&app, &opened.id).await;
    assert!(
        trail
            .iter()
            .filter(|e| e.field == "status")
            .all(|e| e.actor == format!("contact:{}", ann.contact.id) || e.old_value.is_empty())
    );
}

async fn a_contact_of_another_account_can_neither_read_nor_change_a_case_and_nothing_is_written(app: TestApp) {
    let world = world(&app).await;
    let victim = world.colleague.staff_case(&app, "Confidential pricing issue").await;
    let closed = world.colleague.open_case(&app, "Closed one").await;
    app.portal_cases(SERVICE)
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: world.colleague.session.clone(),
            case_id: closed.id.clone(),
            resolution_summary: "done".into(),
        })
        .await
        .unwrap();
    let eve = &world.outsider;
    let before = all_row_counts(&app).await;
    let mut cases = app.portal_cases(SERVICE);
    let missing = uuid::Uuid::now_v7().to_string();

    let by_id_answer = cases.get_my_case(by_id(eve, &victim.id)).await.unwrap_err();
    let missing_answer = cases.get_my_case(by_id(eve, &missing)).await.unwrap_err();
    assert_eq!(by_id_answer.code(), Code::NotFound);
    assert_eq!(missing_answer.code(), Code::NotFound);
    assert_eq!(
        by_id_answer.message().replace(&victim.id, "ID"),
        missing_answer.message().replace(&missing, "ID"),
        "a case of someone else reads exactly like a missing one"
    );
    assert_eq!(cases.get_my_case(by_number(eve, &victim.case_number)).await.unwrap_err().code(), Code::NotFound);
    let comment = cases
        .add_comment(portal::AddCommentRequest {
            session_id: eve.session.clone(),
            case_id: victim.id.clone(),
            body: "hi".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(comment.code(), Code::NotFound);
    let close = cases
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: eve.session.clone(),
            case_id: victim.id.clone(),
            resolution_summary: "mine now".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(close.code(), Code::NotFound);
    let reopen = cases
        .reopen_my_case(portal::ReopenMyCaseRequest {
            session_id: eve.session.clone(),
            case_id: closed.id.clone(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reopen.code(), Code::NotFound);
    // Eve's list holds nothing of Acme's, whatever she asks for.
    assert!(numbers(&app, listing(eve, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)).await.is_empty());
    assert_eq!(all_row_counts(&app).await, before, "refused calls wrote nothing");
}

async fn a_portal_manager_sees_the_accounts_cases_and_a_plain_contact_only_its_own(app: TestApp) {
    let world = world(&app).await;
    let jonas_case = world.colleague.open_case(&app, "Jonas's case").await;
    let petra_case = world.manager.open_case(&app, "Petra's case").await;
    let staff_case = world.manager.staff_case(&app, "Opened by phone for Petra").await;
    let eve_case = world.outsider.open_case(&app, "Globex case").await;

    let all = numbers(&app, listing(&world.manager, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)).await;
    let mut expected = vec![jonas_case.case_number.clone(), petra_case.case_number.clone(), staff_case.case_number.clone()];
    expected.sort();
    assert_eq!(all, expected, "the manager sees all of Acme's cases and none of Globex's");
    let mine = numbers(&app, listing(&world.manager, portal::CaseState::Unspecified, portal::CaseScope::Mine)).await;
    let mut own = vec![petra_case.case_number.clone(), staff_case.case_number.clone()];
    own.sort();
    assert_eq!(mine, own);
    let as_manager = app.portal_cases(SERVICE).get_my_case(by_id(&world.manager, &jonas_case.id)).await.unwrap().into_inner();
    assert!(!as_manager.case.unwrap().mine, "seen as the account's manager, not as its contact");
    app.portal_cases(SERVICE)
        .add_comment(portal::AddCommentRequest {
            session_id: world.manager.session.clone(),
            case_id: jonas_case.id.clone(),
            body: "I will follow this up.".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("a manager may comment on the account's cases");

    let jonas = numbers(&app, listing(&world.colleague, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)).await;
    assert_eq!(jonas, std::slice::from_ref(&jonas_case.case_number), "a plain contact sees only its own cases");
    let status = app.portal_cases(SERVICE).get_my_case(by_id(&world.colleague, &petra_case.id)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "not even a colleague's case");
    assert_eq!(
        app.portal_cases(SERVICE).get_my_case(by_id(&world.manager, &eve_case.id)).await.unwrap_err().code(),
        Code::NotFound
    );
    // Paging walks the manager's cases once each.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .portal_cases(SERVICE)
            .list_my_cases(portal::ListMyCasesRequest {
                page_size: 2,
                page_token: token.clone(),
                ..listing(&world.manager, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            })
            .await
            .unwrap()
            .into_inner();
        paged.extend(page.cases.into_iter().map(|c| c.case_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    paged.sort();
    assert_eq!(paged, expected);
    // Open and closed filters.
    app.portal_cases(SERVICE)
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: world.manager.session.clone(),
            case_id: petra_case.id.clone(),
            resolution_summary: "fixed".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        numbers(&app, listing(&world.manager, portal::CaseState::Closed, portal::CaseScope::Unspecified)).await,
        [petra_case.case_number]
    );
    assert_eq!(numbers(&app, listing(&world.manager, portal::CaseState::Open, portal::CaseScope::Unspecified)).await.len(), 2);
}

async fn internal_notes_calls_and_staff_fields_never_reach_the_portal(app: TestApp) {
    let world = world(&app).await;
    let alex = staff_user(&app, "Alex Agent").await;
    let case = world.colleague.open_case(&app, "Printer").await;
    app.cases(AGENT)
        .assign_case(pb::AssignCaseRequest { id: case.id.clone(), owner_id: alex.id.clone(), ..Default::default() })
        .await
        .unwrap();
    const SECRET: &str = "INTERNAL: customer is on a payment hold";
    note(&app, &case.id, SECRET, pb::Visibility::Internal).await;
    app.cases(AGENT)
        .add_activity(pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: case.id.clone(),
                kind: pb::ActivityKind::Call as i32,
                body: format!("call notes: {SECRET}"),
                call: Some(pb::CallDetail { direction: pb::Direction::Outbound as i32, duration_seconds: 60 }),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    note(&app, &case.id, "We have ordered the part.", pb::Visibility::Public).await;
    app.cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                etag: app
                    .cases(AGENT)
                    .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(case.id.clone())) })
                    .await
                    .unwrap()
                    .into_inner()
                    .etag,
                tags: vec!["vip-hold".into()],
                ..Default::default()
            }),
            update_mask: crate::fixtures::mask(&["tags"]),
            reason: format!("reason: {SECRET}"),
        })
        .await
        .unwrap();

    let mut answers = Vec::new();
    let read = app.portal_cases(SERVICE).get_my_case(by_id(&world.colleague, &case.id)).await.unwrap().into_inner();
    assert_eq!(read.timeline.iter().filter(|e| e.kind == portal::TimelineEntryKind::Comment as i32).count(), 1);
    answers.push(format!("{read:?}"));
    let managed = app.portal_cases(SERVICE).get_my_case(by_id(&world.manager, &case.id)).await.unwrap().into_inner();
    answers.push(format!("{managed:?}"));
    for visitor in [&world.colleague, &world.manager] {
        let list = app
            .portal_cases(SERVICE)
            .list_my_cases(listing(visitor, portal::CaseState::Unspecified, portal::CaseScope::Unspecified))
            .await
            .unwrap()
            .into_inner();
        answers.push(format!("{list:?}"));
    }
    let comment = app
        .portal_cases(SERVICE)
        .add_comment(portal::AddCommentRequest {
            session_id: world.colleague.session.clone(),
            case_id: case.id.clone(),
            body: "ok".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    answers.push(format!("{comment:?}"));
    let closed = app
        .portal_cases(SERVICE)
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: world.colleague.session.clone(),
            case_id: case.id.clone(),
            resolution_summary: "fine".into(),
        })
        .await
        .unwrap()
        .into_inner();
    answers.push(format!("{closed:?}"));
    for answer in &answers {
        assert!(!answer.contains("payment hold"), "an internal note leaked: {answer}");
        assert!(!answer.contains("call notes"), "a call leaked: {answer}");
        assert!(!answer.contains(&alex.id), "the owner leaked: {answer}");
        assert!(!answer.contains("vip-hold"), "a tag leaked: {answer}");
    }
}

async fn a_case_closed_longer_ago_than_the_window_cannot_be_reopened(app: TestApp) {
    let world = world(&app).await;
    let ann = &world.colleague;
    let case = ann.open_case(&app, "Old problem").await;
    app.portal_cases(SERVICE)
        .close_my_case(portal::CloseMyCaseRequest {
            session_id: ann.session.clone(),
            case_id: case.id.clone(),
            resolution_summary: "done".into(),
        })
        .await
        .unwrap();
    // Closed 30 days ago; the window is 14 days.
    let past = if app.backend == crate::common::Backend::Postgres {
        "now() - interval '30 days'"
    } else {
        "'2000-01-01 00:00:00+00:00'"
    };
    execute(&app, "case", &format!("UPDATE cases SET closed_at = {past} WHERE id = '{}'", case.id)).await;
    // The case service's cache learns only of changes made through the
    // service (a write behind its back needs its key cleared, as the README
    // says): an agent's internal note makes it read the case again.
    note(&app, &case.id, "Checked the old case", pb::Visibility::Internal).await;
    let read = app.portal_cases(SERVICE).get_my_case(by_id(ann, &case.id)).await.unwrap().into_inner();
    assert!(read.case.unwrap().reopen_until.is_none());
    let before = all_row_counts(&app).await;
    let refused = app
        .portal_cases(SERVICE)
        .reopen_my_case(portal::ReopenMyCaseRequest {
            session_id: ann.session.clone(),
            case_id: case.id.clone(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("14 days"), "{}", refused.message());
    assert_eq!(all_row_counts(&app).await, before);
}

async fn bad_portal_case_requests_change_nothing(app: TestApp) {
    let world = world(&app).await;
    let ann = &world.colleague;
    let open = ann.open_case(&app, "Open one").await;
    let before = all_row_counts(&app).await;
    let mut cases = app.portal_cases(SERVICE);
    let create = |change: &dyn Fn(&mut portal::CreateMyCaseRequest)| {
        let mut request = portal::CreateMyCaseRequest {
            session_id: ann.session.clone(),
            subject: "Subject".into(),
            description: String::new(),
            type_id: "technical_issue".into(),
            priority: 0,
            asset_serial_number: String::new(),
            idempotency_key: String::new(),
        };
        change(&mut request);
        request
    };
    for (request, field) in [
        (create(&|r| r.subject = "  ".into()), "subject"),
        (create(&|r| r.subject = "x".repeat(251)), "subject"),
        (create(&|r| r.description = "x".repeat(20_001)), "description"),
        (create(&|r| r.type_id = String::new()), "type_id"),
        (create(&|r| r.type_id = "no_such_type".into()), "type_id"),
        (create(&|r| r.priority = pb::CasePriority::Critical as i32), "priority"),
        (create(&|r| r.priority = 42), "priority"),
        (create(&|r| r.asset_serial_number = "x".repeat(101)), "asset_serial_number"),
        (create(&|r| r.idempotency_key = "k".repeat(201)), "idempotency_key"),
        (create(&|r| r.session_id = String::new()), "session_id"),
    ] {
        assert_field_error(&cases.create_my_case(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    assert_eq!(cases.create_my_case(create(&|r| r.session_id = "ended".into())).await.unwrap_err().code(), Code::Unauthenticated);
    let comment = |case_id: &str, body: &str| portal::AddCommentRequest {
        session_id: ann.session.clone(),
        case_id: case_id.to_owned(),
        body: body.to_owned(),
        idempotency_key: String::new(),
    };
    assert_field_error(&cases.add_comment(comment(&open.id, " ")).await.unwrap_err(), Code::InvalidArgument, "body");
    assert_field_error(&cases.add_comment(comment("C-000001", "hi")).await.unwrap_err(), Code::InvalidArgument, "case_id");
    assert_field_error(
        &cases.add_comment(comment(&open.id, &"x".repeat(20_001))).await.unwrap_err(),
        Code::InvalidArgument,
        "body",
    );
    let close = |resolution: &str| portal::CloseMyCaseRequest {
        session_id: ann.session.clone(),
        case_id: open.id.clone(),
        resolution_summary: resolution.to_owned(),
    };
    assert_field_error(&cases.close_my_case(close("")).await.unwrap_err(), Code::InvalidArgument, "resolution_summary");
    let reopen = |reason: &str| portal::ReopenMyCaseRequest {
        session_id: ann.session.clone(),
        case_id: open.id.clone(),
        reason: reason.to_owned(),
    };
    assert_field_error(&cases.reopen_my_case(reopen("")).await.unwrap_err(), Code::InvalidArgument, "reason");
    assert_eq!(
        cases.reopen_my_case(reopen("still open")).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "an open case is not reopened"
    );
    for (request, field) in [
        (
            portal::ListMyCasesRequest {
                page_size: -1,
                ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            },
            "page_size",
        ),
        (
            portal::ListMyCasesRequest {
                page_token: "%%%".into(),
                ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            },
            "page_token",
        ),
        (
            portal::ListMyCasesRequest {
                state: 7,
                ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            },
            "state",
        ),
        (
            portal::ListMyCasesRequest {
                scope: 7,
                ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            },
            "scope",
        ),
        (
            portal::ListMyCasesRequest {
                text: "x".repeat(201),
                ..listing(ann, portal::CaseState::Unspecified, portal::CaseScope::Unspecified)
            },
            "text",
        ),
    ] {
        assert_field_error(&cases.list_my_cases(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    assert_field_error(
        &cases.get_my_case(portal::GetMyCaseRequest { session_id: ann.session.clone(), lookup: None }).await.unwrap_err(),
        Code::InvalidArgument,
        "lookup",
    );
    assert_field_error(&cases.get_my_case(by_id(ann, "nope")).await.unwrap_err(), Code::InvalidArgument, "id");
    assert_eq!(cases.get_my_case(by_number(ann, "C-99x")).await.unwrap_err().code(), Code::NotFound);
    // Staff tokens do not speak for visitors.
    let agent = app.portal_cases(AGENT).get_my_case(by_id(ann, &open.id)).await.unwrap_err();
    assert_eq!(agent.code(), Code::PermissionDenied);
    assert_eq!(all_row_counts(&app).await, before, "refused calls wrote nothing");
}
