//! `total_size` of the lists: every match over every page, counted only
//! when asked, checked against what the test itself made.

use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{account, contact, customer, mask, new_case, staff_user, team_of},
    on_both_backends,
};

on_both_backends!(cases_are_counted_over_every_page_with_the_lists_filters, the_directory_lists_count_their_matches_too,);

async fn cases(app: &TestApp, request: pb::ListCasesRequest) -> pb::ListCasesResponse {
    app.cases(VIEWER).list_cases(request).await.expect("list cases").into_inner()
}

async fn cases_are_counted_over_every_page_with_the_lists_filters(app: TestApp) {
    let who = customer(&app).await;
    let other = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let desk = team_of(&app, "Desk", &[&ana]).await;
    // (customer, priority, team, owner, tag, subject)
    let plan = [
        (&who, pb::CasePriority::High, true, true, "vip", "Printer on fire"),
        (&who, pb::CasePriority::High, true, false, "vip", "Printer jams"),
        (&who, pb::CasePriority::Low, false, false, "", "Scanner noise"),
        (&other, pb::CasePriority::High, true, false, "", "Printer offline"),
        (&other, pb::CasePriority::Medium, false, true, "vip", "Login fails"),
    ];
    let mut made = Vec::new();
    for (customer, priority, in_team, owned, tag, subject) in plan {
        let case = pb::Case {
            priority: priority as i32,
            team_id: if in_team { desk.id.clone() } else { String::new() },
            owner_id: if owned { ana.id.clone() } else { String::new() },
            tags: if tag.is_empty() { Vec::new() } else { vec![tag.to_owned()] },
            ..new_case(customer, subject)
        };
        let created = app
            .cases(AGENT)
            .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
            .await
            .expect("create a case")
            .into_inner();
        made.push(created);
    }
    let count = |keep: &dyn Fn(&pb::Case) -> bool| made.iter().filter(|c| keep(c)).count() as i64;

    let filters: Vec<(&str, pb::ListCasesRequest, i64)> = vec![
        ("all", pb::ListCasesRequest::default(), made.len() as i64),
        (
            "high",
            pb::ListCasesRequest { priorities: vec![pb::CasePriority::High as i32], ..Default::default() },
            count(&|c| c.priority == pb::CasePriority::High as i32),
        ),
        ("desk", pb::ListCasesRequest { team_id: desk.id.clone(), ..Default::default() }, count(&|c| c.team_id == desk.id)),
        ("unassigned", pb::ListCasesRequest { unassigned_only: true, ..Default::default() }, count(&|c| c.owner_id.is_empty())),
        ("vip", pb::ListCasesRequest { tag: "vip".into(), ..Default::default() }, count(&|c| c.tags.contains(&"vip".to_owned()))),
        (
            "printer",
            pb::ListCasesRequest { text: "printer".into(), ..Default::default() },
            count(&|c| c.subject.to_lowercase().contains("printer")),
        ),
        (
            "account, new",
            pb::ListCasesRequest {
                account_id: who.account.id.clone(),
                statuses: vec![pb::CaseStatus::ActiveNew as i32],
                ..Default::default()
            },
            count(&|c| c.account_id == who.account.id && c.status == pb::CaseStatus::ActiveNew as i32),
        ),
        ("nothing", pb::ListCasesRequest { text: "no such words".into(), ..Default::default() }, 0),
    ];
    for (what, filter, expected) in filters {
        // Two to a page: the count is over every page, on each page.
        let mut token = String::new();
        let mut seen = 0;
        loop {
            let page = cases(
                &app,
                pb::ListCasesRequest { page_size: 2, page_token: token.clone(), include_total_size: true, ..filter.clone() },
            )
            .await;
            assert_eq!(page.total_size, Some(expected), "{what}");
            seen += page.cases.len() as i64;
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen, expected, "{what}: the pages hold what the count says");
        let unasked = cases(&app, pb::ListCasesRequest { page_size: 2, ..filter.clone() }).await;
        assert_eq!(unasked.total_size, None, "{what}: not counted unless asked");
    }

    // Bad input is refused as before, counted or not.
    let bad = app
        .cases(VIEWER)
        .list_cases(pb::ListCasesRequest { page_token: "garbage!".into(), include_total_size: true, ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&bad, Code::InvalidArgument, "page_token");
    let bad = app
        .cases(VIEWER)
        .list_cases(pb::ListCasesRequest { team_id: "not-an-id".into(), include_total_size: true, ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&bad, Code::InvalidArgument, "team_id");
}

async fn the_directory_lists_count_their_matches_too(app: TestApp) {
    let acme = account(&app, "Acme Total Ltd").await;
    let globex = account(&app, "Globex Total").await;
    account(&app, "Initech").await;
    for (i, at) in [&acme, &acme, &acme, &globex].into_iter().enumerate() {
        contact(&app, &at.id, &format!("Person {i}"), &format!("person{i}.{}@total.example", &at.id[..8])).await;
    }
    let accounts = app
        .accounts(VIEWER)
        .list_accounts(pb::ListAccountsRequest {
            page_size: 1,
            query: "total".into(),
            include_total_size: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((accounts.accounts.len(), accounts.total_size), (1, Some(2)));
    let contacts = app
        .contacts(VIEWER)
        .list_contacts(pb::ListContactsRequest {
            page_size: 2,
            account_id: acme.id.clone(),
            include_total_size: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((contacts.contacts.len(), contacts.total_size), (2, Some(3)));
    let unasked = app.contacts(VIEWER).list_contacts(pb::ListContactsRequest::default()).await.unwrap().into_inner();
    assert_eq!(unasked.total_size, None);

    let (ana, ben, cal) =
        (staff_user(&app, "Ana Agent").await, staff_user(&app, "Ben Agent").await, staff_user(&app, "Cal Agent").await);
    let desk = team_of(&app, "Desk", &[&ana, &ben]).await;
    team_of(&app, "Field", &[&cal]).await;
    app.staff(ADMIN)
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: ben.id.clone(), etag: ben.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left".into(),
        })
        .await
        .unwrap();
    let in_desk = |active_only| pb::ListStaffUsersRequest {
        page_size: 1,
        team_id: desk.id.clone(),
        active_only,
        include_total_size: true,
        ..Default::default()
    };
    let staff = app.staff(VIEWER).list_staff_users(in_desk(false)).await.unwrap().into_inner();
    assert_eq!((staff.staff_users.len(), staff.total_size), (1, Some(2)));
    let active = app.staff(VIEWER).list_staff_users(in_desk(true)).await.unwrap().into_inner();
    assert_eq!(active.total_size, Some(1));
    let teams = app
        .staff(VIEWER)
        .list_teams(pb::ListTeamsRequest { page_size: 1, include_total_size: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((teams.teams.len(), teams.total_size), (1, Some(2)));
}
