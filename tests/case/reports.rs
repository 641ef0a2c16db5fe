//! ReportService: the open queue counted now, and the backlog's age, each
//! checked against counts this test works out itself from the cases it made.

use std::collections::BTreeMap;

use docket_case::records::entities::case as case_row;
use docket_proto::case::v1 as pb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{Customer, customer, new_case, staff_user, team},
    on_both_backends,
};

on_both_backends!(
    queue_counts_match_the_open_cases_by_status_priority_team_and_owner,
    the_backlog_is_counted_by_age_and_filtered_by_team_and_priority,
    reports_refuse_bad_scopes_and_change_nothing,
);

/// A case made with these fields, then moved as named.
struct Made {
    team: Option<String>,
    owner: Option<String>,
    priority: pb::CasePriority,
    then: Then,
}

#[derive(Clone, Copy, PartialEq)]
enum Then {
    Stay,
    Pending,
    Close,
}

async fn make(app: &TestApp, who: &Customer, made: &Made) -> pb::Case {
    let case = pb::Case {
        priority: made.priority as i32,
        team_id: made.team.clone().unwrap_or_default(),
        owner_id: made.owner.clone().unwrap_or_default(),
        ..new_case(who, "Counted")
    };
    let mut cases = app.cases(AGENT);
    let created = cases
        .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .expect("create case")
        .into_inner();
    match made.then {
        Then::Stay => created,
        Then::Pending => cases
            .set_case_status(pb::SetCaseStatusRequest {
                id: created.id.clone(),
                status: pb::CaseStatus::Pending as i32,
                etag: created.etag.clone(),
                reason: "waiting for the customer".into(),
            })
            .await
            .expect("set pending")
            .into_inner(),
        Then::Close => cases
            .close_case(pb::CloseCaseRequest {
                id: created.id.clone(),
                status: pb::CaseStatus::ClosedComplete as i32,
                resolution_summary: "Fixed.".into(),
                etag: created.etag.clone(),
                reason: String::new(),
            })
            .await
            .expect("close")
            .into_inner(),
    }
}

const OPEN: [pb::CaseStatus; 3] = [pb::CaseStatus::ActiveNew, pb::CaseStatus::ActiveAssigned, pb::CaseStatus::Pending];

async fn queue_counts_match_the_open_cases_by_status_priority_team_and_owner(app: TestApp) {
    use pb::CasePriority::{Critical, High, Low, Medium};
    let who = customer(&app).await;
    let (support, billing) = (team(&app, "Support").await, team(&app, "Billing").await);
    let (alex, sam) = (staff_user(&app, "Alex Agent").await, staff_user(&app, "Sam Support").await);
    let s = || Some(support.id.clone());
    let b = || Some(billing.id.clone());
    let plan = [
        Made { team: s(), owner: Some(alex.id.clone()), priority: High, then: Then::Stay },
        Made { team: s(), owner: None, priority: Medium, then: Then::Stay },
        Made { team: b(), owner: Some(sam.id.clone()), priority: Low, then: Then::Pending },
        Made { team: None, owner: None, priority: Critical, then: Then::Stay },
        Made { team: s(), owner: Some(alex.id.clone()), priority: Medium, then: Then::Close },
        Made { team: b(), owner: None, priority: High, then: Then::Stay },
        Made { team: s(), owner: Some(sam.id.clone()), priority: High, then: Then::Stay },
        Made { team: s(), owner: Some(alex.id.clone()), priority: Critical, then: Then::Pending },
    ];
    let mut cases = Vec::new();
    for made in &plan {
        cases.push(make(&app, &who, made).await);
    }

    // What the report must say, from the cases as the service returned them.
    let names: BTreeMap<&str, &str> = [
        (support.id.as_str(), "Support"),
        (billing.id.as_str(), "Billing"),
        (alex.id.as_str(), "Alex Agent"),
        (sam.id.as_str(), "Sam Support"),
        ("", ""),
    ]
    .into();
    let expect = |team: Option<&str>| {
        let open: Vec<&pb::Case> = cases
            .iter()
            .filter(|c| OPEN.iter().any(|s| *s as i32 == c.status))
            .filter(|c| team.is_none_or(|t| c.team_id == t))
            .collect();
        let count = |keep: &dyn Fn(&pb::Case) -> bool| open.iter().filter(|c| keep(c)).count() as i64;
        let mut by_team: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut by_owner: BTreeMap<(String, String), i64> = BTreeMap::new();
        for case in &open {
            *by_team.entry((case.team_id.clone(), names[case.team_id.as_str()].to_owned())).or_default() += 1;
            if !case.owner_id.is_empty() {
                *by_owner.entry((case.owner_id.clone(), names[case.owner_id.as_str()].to_owned())).or_default() += 1;
            }
        }
        (
            open.len() as i64,
            count(&|c| c.owner_id.is_empty()),
            OPEN.iter().map(|s| (*s as i32, count(&|c| c.status == *s as i32))).collect::<Vec<_>>(),
            [Critical, High, Medium, Low].iter().map(|p| (*p as i32, count(&|c| c.priority == *p as i32))).collect::<Vec<_>>(),
            by_team,
            by_owner,
        )
    };
    let answered = |counts: &pb::QueueCounts| {
        (
            counts.open,
            counts.unassigned,
            counts.by_status.iter().map(|s| (s.status, s.count)).collect::<Vec<_>>(),
            counts.by_priority.iter().map(|p| (p.priority, p.count)).collect::<Vec<_>>(),
            counts.by_team.iter().map(|t| ((t.team_id.clone(), t.team_name.clone()), t.count)).collect::<BTreeMap<_, _>>(),
            counts.by_owner.iter().map(|o| ((o.owner_id.clone(), o.owner_name.clone()), o.count)).collect::<BTreeMap<_, _>>(),
        )
    };

    let mut reports = app.reports(VIEWER);
    let all = reports.get_queue_counts(pb::GetQueueCountsRequest::default()).await.unwrap().into_inner();
    assert_eq!(answered(&all), expect(None));
    assert_eq!((all.open, all.unassigned), (7, 3), "the plan's own arithmetic");
    assert!(all.as_of.is_some());
    let names: Vec<&str> =
        all.by_status.iter().map(|s| s.name.as_str()).chain(all.by_priority.iter().map(|p| p.name.as_str())).collect();
    assert_eq!(
        names,
        ["Active – New", "Active – Assigned", "Pending", "Critical", "High", "Medium", "Low"],
        "each status and priority as people read it"
    );
    let firsts: Vec<i64> = all.by_team.iter().map(|t| t.count).collect();
    assert!(firsts.windows(2).all(|w| w[0] >= w[1]), "teams with most open cases first: {firsts:?}");

    let one_team =
        reports.get_queue_counts(pb::GetQueueCountsRequest { team_id: support.id.clone() }).await.unwrap().into_inner();
    assert_eq!(answered(&one_team), expect(Some(&support.id)));
    assert_eq!(one_team.open, 4);
}

async fn the_backlog_is_counted_by_age_and_filtered_by_team_and_priority(app: TestApp) {
    use pb::CasePriority::{High, Low};
    let who = customer(&app).await;
    let support = team(&app, "Support").await;
    let alex = staff_user(&app, "Alex Agent").await;
    // Ages in hours, as the cases will be backdated; the last one is closed.
    let plan: [(i64, Option<String>, pb::CasePriority, Then); 8] = [
        (1, Some(support.id.clone()), High, Then::Stay),
        (23, None, Low, Then::Stay),
        (25, Some(support.id.clone()), Low, Then::Pending),
        (100, Some(support.id.clone()), High, Then::Stay),
        (200, None, High, Then::Stay),
        (400, Some(support.id.clone()), Low, Then::Stay),
        (2000, Some(support.id.clone()), High, Then::Stay),
        (3000, None, High, Then::Close),
    ];
    let db = app.case_db().await;
    let now = chrono::Utc::now();
    let mut made = Vec::new();
    for (hours, team, priority, then) in &plan {
        // Only an owned case can be Pending.
        let owner = (*then == Then::Pending).then(|| alex.id.clone());
        let case = make(&app, &who, &Made { team: team.clone(), owner, priority: *priority, then: *then }).await;
        let created = now - chrono::Duration::hours(*hours);
        case_row::Entity::update_many()
            .col_expr(case_row::Column::CreatedAt, Expr::value(created))
            .filter(case_row::Column::Id.eq(case.id.clone()))
            .exec(&db)
            .await
            .expect("backdate the case");
        made.push((*hours, team.clone(), *priority, *then, created));
    }
    let bounds = [(0, 24), (24, 72), (72, 168), (168, 336), (336, 720), (720, i64::MAX)];
    let expect = |team: Option<&str>, priorities: &[pb::CasePriority]| {
        let open = made.iter().filter(|(_, t, p, then, _)| {
            *then != Then::Close
                && team.is_none_or(|team| t.as_deref() == Some(team))
                && (priorities.is_empty() || priorities.contains(p))
        });
        let ages: Vec<i64> = open.map(|(hours, ..)| *hours).collect();
        bounds.iter().map(|(from, to)| ages.iter().filter(|h| (*from..*to).contains(*h)).count() as i64).collect::<Vec<_>>()
    };

    let mut reports = app.reports(AGENT);
    let all = reports.get_backlog_aging(pb::GetBacklogAgingRequest::default()).await.unwrap().into_inner();
    assert_eq!(all.buckets.iter().map(|b| b.count).collect::<Vec<_>>(), expect(None, &[]));
    assert_eq!(expect(None, &[]), [2, 1, 1, 1, 1, 1], "the plan's own arithmetic");
    assert_eq!(all.open, 7);
    assert_eq!(
        all.buckets.iter().map(|b| (b.min_age_hours, b.max_age_hours)).collect::<Vec<_>>(),
        [(0, 24), (24, 72), (72, 168), (168, 336), (336, 720), (720, 0)]
    );
    assert_eq!(all.buckets[0].label, "under 1 day");
    let oldest = all.oldest_create_time.expect("the oldest open case");
    let oldest_open = made.iter().filter(|m| m.3 != Then::Close).map(|m| m.4).min().unwrap();
    assert_eq!(oldest.seconds, oldest_open.timestamp(), "the closed one is older and not counted");

    let support_high = reports
        .get_backlog_aging(pb::GetBacklogAgingRequest { team_id: support.id.clone(), priorities: vec![High as i32] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(support_high.buckets.iter().map(|b| b.count).collect::<Vec<_>>(), expect(Some(&support.id), &[High]));
    assert_eq!(support_high.open, 3);

    // Nothing open in scope: zero buckets, no oldest.
    let empty_team = team(&app, "Nobody's queue").await;
    let none = reports
        .get_backlog_aging(pb::GetBacklogAgingRequest { team_id: empty_team.id.clone(), priorities: Vec::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((none.open, none.oldest_create_time), (0, None));
    assert!(none.buckets.iter().all(|b| b.count == 0) && none.buckets.len() == 6);
}

async fn reports_refuse_bad_scopes_and_change_nothing(app: TestApp) {
    let who = customer(&app).await;
    make(&app, &who, &Made { team: None, owner: None, priority: pb::CasePriority::High, then: Then::Stay }).await;
    let before = app.row_counts().await;
    let mut reports = app.reports(ADMIN);
    let unknown_team = uuid::Uuid::now_v7().to_string();
    let status = reports.get_queue_counts(pb::GetQueueCountsRequest { team_id: "not-an-id".into() }).await.unwrap_err();
    assert_field_error(&status, Code::InvalidArgument, "team_id");
    let status = reports
        .get_backlog_aging(pb::GetBacklogAgingRequest { team_id: "not-an-id".into(), priorities: Vec::new() })
        .await
        .unwrap_err();
    assert_field_error(&status, Code::InvalidArgument, "team_id");
    // Well-formed, but no such team.
    let status = reports.get_queue_counts(pb::GetQueueCountsRequest { team_id: unknown_team.clone() }).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::NotFound, format!("no team has the id {unknown_team}").as_str()));
    let status = reports
        .get_backlog_aging(pb::GetBacklogAgingRequest { team_id: unknown_team.clone(), priorities: Vec::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    for priorities in [vec![0], vec![99]] {
        let status =
            reports.get_backlog_aging(pb::GetBacklogAgingRequest { team_id: String::new(), priorities }).await.unwrap_err();
        assert_field_error(&status, Code::InvalidArgument, "priorities[0]");
    }
    let anonymous = app.reports("not-a-token").get_queue_counts(pb::GetQueueCountsRequest::default()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(app.row_counts().await, before, "a report wrote something");
}
