//! A case's public timeline a page at a time: a case with more public text
//! than one gRPC reply holds (4 MiB) still opens, and its pages hold every
//! entry exactly once, in order; page tokens it did not give are refused.

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use tonic::Code;

use crate::{
    common::{AGENT, SERVICE, TestApp, assert_field_error},
    fixtures::{history, note},
    portal_tests,
    support::{Visitor, all_row_counts, world},
};

portal_tests!(
    a_case_with_more_public_text_than_one_reply_holds_opens_and_pages_through_every_entry_once,
    timeline_pages_follow_the_same_sight_rules_and_refuse_tokens_they_did_not_give,
);

/// Comments this long (the case service takes 20,000 characters) …
const BODY_CHARS: usize = 19_900;
/// … this many of them: about 4.4 MB of text, more than one 4 MiB reply.
const COMMENTS: usize = 220;

fn body(i: usize) -> String {
    let head = format!("comment {i:04} ");
    format!("{head}{}", "x".repeat(BODY_CHARS - head.len()))
}

fn older(visitor: &Visitor, case_id: &str, page_token: &str) -> portal::ListMyCaseTimelineRequest {
    portal::ListMyCaseTimelineRequest {
        session_id: visitor.session.clone(),
        case_id: case_id.to_owned(),
        page_size: 0,
        page_token: page_token.to_owned(),
    }
}

/// GetMyCase, then every older page: the whole timeline, oldest first, and
/// the number of pages.
async fn read_all(app: &TestApp, visitor: &Visitor, case_id: &str) -> (Vec<portal::TimelineEntry>, usize) {
    let mut cases = app.portal_cases(SERVICE);
    let first = cases
        .get_my_case(portal::GetMyCaseRequest {
            session_id: visitor.session.clone(),
            lookup: Some(portal::get_my_case_request::Lookup::Id(case_id.to_owned())),
        })
        .await
        .expect("the case opens")
        .into_inner();
    assert!(first.timeline.len() <= 50, "one page at most: {}", first.timeline.len());
    let mut pages = vec![first.timeline];
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let page = cases.list_my_case_timeline(older(visitor, case_id, &token)).await.expect("an older page").into_inner();
        assert!(!page.entries.is_empty() && page.entries.len() <= 50, "pages of 1 to 50 entries: {}", page.entries.len());
        assert!(pages.len() < 100, "the pages end");
        pages.push(page.entries);
        token = page.next_page_token;
    }
    let count = pages.len();
    (pages.into_iter().rev().flatten().collect(), count)
}

async fn a_case_with_more_public_text_than_one_reply_holds_opens_and_pages_through_every_entry_once(app: TestApp) {
    let world = world(&app).await;
    let ann = &world.colleague;
    let case = ann.staff_case(&app, "Too much to say").await;
    let mut cases = app.portal_cases(SERVICE);
    for i in 0..COMMENTS {
        if i % 2 == 0 {
            note(&app, &case.id, &body(i), pb::Visibility::Public).await;
        } else {
            cases
                .add_comment(portal::AddCommentRequest {
                    session_id: ann.session.clone(),
                    case_id: case.id.clone(),
                    body: body(i),
                    idempotency_key: String::new(),
                })
                .await
                .expect("a comment");
        }
        if i == 100 {
            // Status changes and an internal note between the comments.
            note(&app, &case.id, "INTERNAL: never shown", pb::Visibility::Internal).await;
            cases
                .close_my_case(portal::CloseMyCaseRequest {
                    session_id: ann.session.clone(),
                    case_id: case.id.clone(),
                    resolution_summary: "it works".into(),
                })
                .await
                .expect("closed");
            cases
                .reopen_my_case(portal::ReopenMyCaseRequest {
                    session_id: ann.session.clone(),
                    case_id: case.id.clone(),
                    reason: "it broke again".into(),
                })
                .await
                .expect("reopened");
        }
    }
    let status_changes = history(&app, &case.id).await.iter().filter(|e| e.field == "status" && !e.old_value.is_empty()).count();
    assert!(status_changes >= 2);

    for visitor in [ann, &world.manager] {
        let (timeline, pages) = read_all(&app, visitor, &case.id).await;
        assert!(pages >= 5, "{pages} pages");
        let comments: Vec<&str> = timeline
            .iter()
            .filter(|e| e.kind == portal::TimelineEntryKind::Comment as i32)
            .map(|e| e.body.get(..12).unwrap_or_default())
            .collect();
        let expected: Vec<String> = (0..COMMENTS).map(|i| format!("comment {i:04}")).collect();
        assert_eq!(comments, expected, "every comment once, in order");
        assert_eq!(timeline.len(), COMMENTS + status_changes, "and every status change");
        let kinds: Vec<i32> = timeline.iter().map(|e| e.kind).collect();
        let statuses = kinds.iter().position(|k| *k == portal::TimelineEntryKind::StatusChange as i32).expect("a status change");
        assert_eq!(timeline[statuses - 1].body.get(..12), Some("comment 0100"), "status changes where they happened");
        let mut ids: Vec<&str> = timeline.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), timeline.len(), "no entry twice");
        assert!(timeline.iter().all(|e| !e.body.contains("INTERNAL")));
    }

    // A smaller page size pages the same way.
    let first = cases.list_my_case_timeline(portal::ListMyCaseTimelineRequest { page_size: 7, ..older(ann, &case.id, "") }).await;
    let first = first.unwrap().into_inner();
    assert_eq!(first.entries.len(), 7);
    assert_eq!(first.entries.last().unwrap().body.get(..12), Some("comment 0219"));
}

async fn timeline_pages_follow_the_same_sight_rules_and_refuse_tokens_they_did_not_give(app: TestApp) {
    let world = world(&app).await;
    let ann = &world.colleague;
    let case = ann.staff_case(&app, "Paged").await;
    let other = ann.staff_case(&app, "Another").await;
    for i in 0..5 {
        note(&app, &case.id, &format!("reply {i}"), pb::Visibility::Public).await;
        note(&app, &other.id, &format!("other {i}"), pb::Visibility::Public).await;
    }
    let mut cases = app.portal_cases(SERVICE);
    let small = |visitor: &Visitor, case_id: &str, token: &str| portal::ListMyCaseTimelineRequest {
        page_size: 2,
        ..older(visitor, case_id, token)
    };
    let page = cases.list_my_case_timeline(small(ann, &case.id, "")).await.unwrap().into_inner();
    let token = page.next_page_token;
    assert!(!token.is_empty());
    // The account's portal manager pages it too; someone else's customer cannot.
    let managed = cases.list_my_case_timeline(small(&world.manager, &case.id, &token)).await.unwrap().into_inner();
    assert_eq!(managed.entries.iter().map(|e| e.body.as_str()).collect::<Vec<_>>(), ["reply 1", "reply 2"]);
    for token in ["", token.as_str()] {
        let refused = cases.list_my_case_timeline(small(&world.outsider, &case.id, token)).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    }

    let before = all_row_counts(&app).await;
    let forged = |json: serde_json::Value| docket_kit::page::encode(&json);
    for (request, field) in [
        (small(ann, &case.id, "garbage!"), "page_token"),
        (small(ann, &other.id, &token), "page_token"),
        (
            small(ann, &case.id, &forged(serde_json::json!({"case": case.id, "activities": {"Before": -5}, "changes": "Done"}))),
            "page_token",
        ),
        (
            small(
                ann,
                &case.id,
                &forged(serde_json::json!({"case": case.id, "activities": "Done", "changes": {"Before": "nope"}})),
            ),
            "page_token",
        ),
        (
            small(ann, &case.id, &forged(serde_json::json!({"case": case.id, "activities": "Sideways", "changes": "Done"}))),
            "page_token",
        ),
        (portal::ListMyCaseTimelineRequest { page_size: -1, ..small(ann, &case.id, "") }, "page_size"),
        (small(ann, "not-a-case", ""), "case_id"),
        (portal::ListMyCaseTimelineRequest { session_id: String::new(), ..small(ann, &case.id, "") }, "session_id"),
    ] {
        assert_field_error(&cases.list_my_case_timeline(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    assert_eq!(all_row_counts(&app).await, before, "nothing written");
    // A huge page size is cut to a page.
    let capped =
        cases.list_my_case_timeline(portal::ListMyCaseTimelineRequest { page_size: 10_000, ..small(ann, &case.id, "") }).await;
    assert_eq!(capped.unwrap().into_inner().entries.len(), 5);
    // The staff side of the sources refuses the other order's tokens.
    let forward = app
        .cases(AGENT)
        .list_activities(pb::ListActivitiesRequest { case_id: case.id.clone(), page_size: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let mixed = app
        .cases(AGENT)
        .list_recent_activities(pb::ListRecentActivitiesRequest {
            case_id: case.id.clone(),
            page_token: forward,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_field_error(&mixed, Code::InvalidArgument, "page_token");
}
