//! Routing after a case was created: a reopened case, a case moved to
//! another team, the open cases of an agent who becomes unavailable or out
//! of office (now, or when a period begins), and capacity queues handing
//! out when room comes free. Each outcome is worked out here from the
//! team's order, the rule and the team's absence policy.

use docket_proto::case::v1::{self as pb, RoutingMethod};
use prost_types::Timestamp;
use tonic::{Code, Status};

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error, eventually},
    fixtures::{customer, history, mask, new_case, staff_user, team, team_of},
    on_both_backends,
    routing::{
        Placed, add_rule, assert_names, change_staff, close, get, open, owned, placed, queued, routed_by, rule, set_available,
    },
};

on_both_backends!(
    a_reopened_case_goes_back_to_its_owner_or_through_its_teams_rules,
    a_case_moved_to_another_team_without_an_owner_is_routed_there,
    an_out_of_office_period_that_begins_later_moves_the_cases_when_it_begins,
    a_capacity_queue_hands_out_when_an_agents_out_of_office_ends,
    a_teams_absence_policy_is_kept_and_a_malformed_team_id_refused,
);

/// What a call must settle before it answers, checked on an app whose
/// routing sweeper would not catch up within the test (it sweeps at start,
/// then once an hour), so only the call itself can have moved the cases.
macro_rules! settled_by_the_call {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use crate::common::{Backend, TestApp};

                async fn spawn(backend: Backend) -> TestApp {
                    TestApp::spawn_with(backend, |s| s.case.routing_sweep_interval_ms = 3_600_000).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$test(spawn(Backend::Postgres).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test(spawn(Backend::Sqlite).await).await
                }
            }
        )*
    };
}

settled_by_the_call!(
    an_unavailable_agents_open_cases_go_back_through_their_teams_rules,
    a_team_that_keeps_pending_cases_leaves_them_with_the_absent_owner,
    a_team_that_requeues_on_absence_takes_the_cases_into_its_queue,
    more_room_or_a_new_member_takes_a_waiting_case_at_once,
);

// ---- helpers -------------------------------------------------------------

const REOPENED: &str = "The customer wrote again";

/// The trail rows of one field of a case, oldest first.
async fn rows(app: &TestApp, case_id: &str, field: &str) -> Vec<pb::AuditEntry> {
    history(app, case_id).await.into_iter().filter(|e| e.field == field).collect()
}

fn pending_with(team: &str, owner: &str) -> Placed {
    Placed { team: team.to_owned(), owner: owner.to_owned(), status: pb::CaseStatus::Pending }
}

/// Where each case is now, as stored.
async fn places(app: &TestApp, cases: &[pb::Case]) -> Vec<Placed> {
    let mut now = Vec::new();
    for case in cases {
        now.push(placed(&get(app, &case.id).await));
    }
    now
}

/// How many cases (any status) `user` owns.
async fn owned_by(app: &TestApp, user: &pb::StaffUser) -> usize {
    let request = pb::ListCasesRequest { owner_id: user.id.clone(), page_size: 100, ..Default::default() };
    app.cases(VIEWER).list_cases(request).await.expect("list cases").into_inner().cases.len()
}

async fn reopen(app: &TestApp, id: &str) -> pb::Case {
    let current = get(app, id).await;
    let reopened = app
        .cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: id.to_owned(), reason: REOPENED.into(), etag: current.etag })
        .await
        .expect("reopen the case")
        .into_inner();
    assert_eq!(placed(&get(app, id).await), placed(&reopened), "ReopenCase answered where the case went");
    reopened
}

/// AssignCase with `owner` (empty: none) and `team`.
async fn assign(app: &TestApp, case: &pb::Case, owner: &str, team: &str) -> pb::Case {
    let request = pb::AssignCaseRequest {
        id: case.id.clone(),
        owner_id: owner.to_owned(),
        team_id: team.to_owned(),
        etag: case.etag.clone(),
        reason: "Escalated".into(),
    };
    let assigned = app.cases(AGENT).assign_case(request).await.expect("assign the case").into_inner();
    assert_eq!(placed(&get(app, &case.id).await), placed(&assigned), "AssignCase answered where the case went");
    assigned
}

/// UpdateCase with the mask `team_id`.
async fn move_to_team(app: &TestApp, id: &str, team: &str) -> pb::Case {
    let case = pb::Case { team_id: team.to_owned(), ..get(app, id).await };
    let moved = app
        .cases(AGENT)
        .update_case(pb::UpdateCaseRequest { case: Some(case), update_mask: mask(&["team_id"]), reason: "Wrong team".into() })
        .await
        .expect("move the case")
        .into_inner();
    assert_eq!(placed(&get(app, id).await), placed(&moved), "UpdateCase answered where the case went");
    moved
}

async fn read_team(app: &TestApp, id: &str) -> pb::Team {
    app.staff(VIEWER).get_team(pb::GetTeamRequest { id: id.to_owned() }).await.expect("read the team").into_inner()
}

/// Reads a team, lets `edit` change it, and sends it back with `paths`.
async fn change_team(app: &TestApp, id: &str, paths: &[&str], edit: impl FnOnce(&mut pb::Team)) -> Result<pb::Team, Status> {
    let mut team = read_team(app, id).await;
    edit(&mut team);
    app.staff(ADMIN)
        .update_team(pb::UpdateTeamRequest { team: Some(team), update_mask: mask(paths), reason: "absence policy".into() })
        .await
        .map(|r| r.into_inner())
}

/// A moment `secs` seconds from now, in whole seconds.
fn secs_from_now(secs: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: chrono::Utc::now().timestamp() + secs, nanos: 0 })
}

/// One out-of-office period, from `from` to `to` seconds from now.
async fn set_away_for(app: &TestApp, user: &pb::StaffUser, from: i64, to: i64) {
    let period = pb::OutOfOffice { start_time: secs_from_now(from), end_time: secs_from_now(to), note: "Away".into() };
    change_staff(app, &user.id, &["out_of_office"], |u| u.out_of_office = vec![period]).await.expect("set out of office");
}

/// Ana, Ben and Cal, in that order, in Support, whose round-robin rule
/// "Support turns" routes to it. Ana owns three of its open cases (given to
/// her by name, so the rotation has not begun), all High; the second is
/// pending.
struct Crew {
    ana: pb::StaffUser,
    ben: pb::StaffUser,
    cal: pb::StaffUser,
    support: pb::Team,
    cases: Vec<pb::Case>,
}

/// The crew, with the team's absence flags named in `policy` set (both are
/// sent true; the mask decides).
async fn crew(app: &TestApp, policy: &[&str]) -> Crew {
    let who = customer(app).await;
    let ana = staff_user(app, "Ana Agent").await;
    let ben = staff_user(app, "Ben Agent").await;
    let cal = staff_user(app, "Cal Agent").await;
    let support = team_of(app, "Support", &[&ana, &ben, &cal]).await;
    add_rule(app, rule("Support turns", RoutingMethod::RoundRobin, &support.id)).await;
    if !policy.is_empty() {
        let both = |t: &mut pb::Team| {
            t.requeue_on_absence = true;
            t.keep_pending_on_absence = true;
        };
        change_team(app, &support.id, policy, both).await.expect("set the absence policy");
    }
    let mut cases = Vec::new();
    for subject in ["First", "Waiting on the customer", "Third"] {
        let case = pb::Case { owner_id: ana.id.clone(), team_id: support.id.clone(), ..new_case(&who, subject) };
        cases.push(open(app, case).await);
    }
    let pending = app
        .cases(AGENT)
        .set_case_status(pb::SetCaseStatusRequest {
            id: cases[1].id.clone(),
            status: pb::CaseStatus::Pending as i32,
            etag: cases[1].etag.clone(),
            reason: "Waiting for the customer".into(),
        })
        .await
        .expect("set pending")
        .into_inner();
    cases[1] = pending;
    let theirs = [owned(&support.id, &ana.id), pending_with(&support.id, &ana.id), owned(&support.id, &ana.id)];
    assert_eq!(places(app, &cases).await, theirs);
    Crew { ana, ben, cal, support, cases }
}

/// A case taken from `from`: `routed` trail rows naming the rule (none when
/// requeued), and the owner change, every row of the move giving `why`.
async fn assert_taken(app: &TestApp, case: &pb::Case, from: &pb::StaffUser, routed: usize, why: &str) {
    let now = get(app, &case.id).await;
    let routings = rows(app, &case.id, "routed_by").await;
    assert_eq!(routings.len(), routed, "{:?}: {routings:?}", case.subject);
    let owners = rows(app, &case.id, "owner_id").await;
    let change = owners
        .iter()
        .find(|e| e.old_value == from.id && e.new_value == now.owner_id)
        .unwrap_or_else(|| panic!("{:?}: no owner_id row from {} to {:?}: {owners:?}", case.subject, from.name, now.owner_id));
    for entry in routings.iter().chain([change]) {
        assert!(entry.reason.contains(why), "{:?}: the reason {:?} does not say {why:?}", case.subject, entry.reason);
    }
    if routed > 0 {
        assert_names(routings.last().map(|e| e.new_value.clone()), "Support turns");
    }
}

// ---- reopen and team moves -------------------------------------------------

async fn a_reopened_case_goes_back_to_its_owner_or_through_its_teams_rules(app: TestApp) {
    let who = customer(&app).await;
    let (ana, ben) = (staff_user(&app, "Ana Agent").await, staff_user(&app, "Ben Agent").await);
    let dee = staff_user(&app, "Dee Leaving").await;
    let support = team_of(&app, "Support", &[&dee, &ben, &ana]).await;
    let back_office = team(&app, "Back office").await;
    add_rule(&app, rule("Support turns", RoutingMethod::RoundRobin, &support.id)).await;
    let owned_by_name = |owner: &pb::StaffUser, subject: &str| pb::Case {
        owner_id: owner.id.clone(),
        team_id: support.id.clone(),
        ..new_case(&who, subject)
    };

    // Its owner can still take cases: back to them, no rule asked.
    let kept = open(&app, owned_by_name(&ana, "Back again")).await;
    close(&app, &kept).await;
    assert_eq!(placed(&reopen(&app, &kept.id).await), owned(&support.id, &ana.id));
    assert_eq!(routed_by(&app, &kept.id).await, None);

    // Dee becomes unavailable after her case closed: closed, it stays hers ...
    let left = open(&app, owned_by_name(&dee, "Dee's old case")).await;
    close(&app, &left).await;
    set_available(&app, &dee, false).await;
    let closed = get(&app, &left.id).await;
    assert_eq!((closed.owner_id.as_str(), closed.status()), (dee.id.as_str(), pb::CaseStatus::ClosedComplete));
    // ... and reopened it goes through Support's rule: the rotation starts at
    // the top, with Dee, who is unavailable, so Ben.
    assert_eq!(placed(&reopen(&app, &left.id).await), owned(&support.id, &ben.id));
    let routings = rows(&app, &left.id, "routed_by").await;
    assert_eq!(routings.len(), 1, "{routings:?}");
    assert_names(Some(routings[0].new_value.clone()), "Support turns");
    assert_eq!(routings[0].reason, REOPENED);
    let owners = rows(&app, &left.id, "owner_id").await;
    assert!(owners.iter().any(|e| e.old_value == dee.id && e.new_value == ben.id), "no owner change Dee -> Ben: {owners:?}");
    assert_eq!(owned_by(&app, &dee).await, 0);

    // Nobody's, in a team no rule routes to: it waits there again.
    let nobodys = open(&app, pb::Case { team_id: back_office.id.clone(), ..new_case(&who, "Nobody's") }).await;
    assert_eq!(placed(&nobodys), queued(&back_office.id));
    close(&app, &nobodys).await;
    assert_eq!(placed(&reopen(&app, &nobodys.id).await), queued(&back_office.id));
    assert_eq!(routed_by(&app, &nobodys.id).await, None);
}

async fn a_case_moved_to_another_team_without_an_owner_is_routed_there(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let (eve, fay) = (staff_user(&app, "Eve Expert").await, staff_user(&app, "Fay Expert").await);
    let first = team_of(&app, "First line", &[&ana]).await;
    let second = team_of(&app, "Second line", &[&eve, &fay]).await;
    add_rule(&app, rule("Second line by load", RoutingMethod::LeastLoaded, &second.id)).await;
    let in_team = |owner: &pb::StaffUser, team: &pb::Team, subject: &str| pb::Case {
        owner_id: owner.id.clone(),
        team_id: team.id.clone(),
        ..new_case(&who, subject)
    };
    // All High (3). Loads: Eve 3 over 1 case, Fay nothing.
    open(&app, in_team(&eve, &second, "Eve's work")).await;

    // AssignCase without an owner, to Second line: its rule picks Fay.
    let escalated = open(&app, in_team(&ana, &first, "Escalate me")).await;
    assert_eq!(placed(&assign(&app, &escalated, "", &second.id).await), owned(&second.id, &fay.id));
    assert_names(routed_by(&app, &escalated.id).await, "Second line by load");
    let owners = rows(&app, &escalated.id, "owner_id").await;
    assert!(owners.iter().any(|e| e.old_value == ana.id && e.new_value == fay.id), "{owners:?}");
    let teams = rows(&app, &escalated.id, "team_id").await;
    assert!(teams.iter().any(|e| e.old_value == first.id && e.new_value == second.id), "{teams:?}");

    // AssignCase naming the owner: as named, no rule (Eve 6, Fay 3).
    let named = open(&app, in_team(&ana, &first, "For Eve")).await;
    assert_eq!(placed(&assign(&app, &named, &eve.id, &second.id).await), owned(&second.id, &eve.id));
    assert_eq!(routed_by(&app, &named.id).await, None);

    // UpdateCase moving a case nobody owns (no rule routes to First line): Fay.
    let waiting = open(&app, pb::Case { team_id: first.id.clone(), ..new_case(&who, "Nobody's") }).await;
    assert_eq!(placed(&waiting), queued(&first.id));
    assert_eq!(placed(&move_to_team(&app, &waiting.id, &second.id).await), owned(&second.id, &fay.id));
    assert_names(routed_by(&app, &waiting.id).await, "Second line by load");

    // UpdateCase moving an owned case: the owner stays.
    let anas = open(&app, in_team(&ana, &first, "Stays Ana's")).await;
    assert_eq!(placed(&move_to_team(&app, &anas.id, &second.id).await), owned(&second.id, &ana.id));
    assert_eq!(routed_by(&app, &anas.id).await, None);
    assert_eq!([owned_by(&app, &eve).await, owned_by(&app, &fay).await, owned_by(&app, &ana).await], [2, 2, 1]);
}

// ---- absence -------------------------------------------------------------

/// The rotation from the top, passing over Ana, by priority then number: Ben,
/// Cal, Ben; the pending case stays pending with its new owner.
async fn an_unavailable_agents_open_cases_go_back_through_their_teams_rules(app: TestApp) {
    let Crew { ana, ben, cal, support, cases } = crew(&app, &[]).await;
    set_available(&app, &ana, false).await;
    // Right after the call returns.
    let moved = [owned(&support.id, &ben.id), pending_with(&support.id, &cal.id), owned(&support.id, &ben.id)];
    assert_eq!(places(&app, &cases).await, moved);
    for case in &cases {
        assert_taken(&app, case, &ana, 1, "unavailable").await;
    }
    assert_eq!(owned_by(&app, &ana).await, 0);
}

async fn a_team_that_keeps_pending_cases_leaves_them_with_the_absent_owner(app: TestApp) {
    let Crew { ana, ben, cal, support, cases } = crew(&app, &["keep_pending_on_absence"]).await;
    let policy = read_team(&app, &support.id).await;
    assert_eq!((policy.requeue_on_absence, policy.keep_pending_on_absence), (false, true));
    set_available(&app, &ana, false).await;
    // The pending case takes no turn.
    let moved = [owned(&support.id, &ben.id), pending_with(&support.id, &ana.id), owned(&support.id, &cal.id)];
    assert_eq!(places(&app, &cases).await, moved);
    for case in [&cases[0], &cases[2]] {
        assert_taken(&app, case, &ana, 1, "unavailable").await;
    }
    assert_eq!(routed_by(&app, &cases[1].id).await, None);
    assert_eq!(owned_by(&app, &ana).await, 1);
}

async fn a_team_that_requeues_on_absence_takes_the_cases_into_its_queue(app: TestApp) {
    let Crew { ana, ben, cal, support, cases } = crew(&app, &["requeue_on_absence"]).await;
    let policy = read_team(&app, &support.id).await;
    assert_eq!((policy.requeue_on_absence, policy.keep_pending_on_absence), (true, false));
    set_available(&app, &ana, false).await;
    // Nobody's, Active – New, the pending one too; the rule is not asked.
    assert_eq!(places(&app, &cases).await, [queued(&support.id), queued(&support.id), queued(&support.id)]);
    for case in &cases {
        assert_taken(&app, case, &ana, 0, "unavailable").await;
    }
    assert_eq!([owned_by(&app, &ana).await, owned_by(&app, &ben).await, owned_by(&app, &cal).await], [0, 0, 0]);
}

/// The sweep (every 200 ms in tests) notices the period begin.
async fn an_out_of_office_period_that_begins_later_moves_the_cases_when_it_begins(app: TestApp) {
    let Crew { ana, ben, cal, support, cases } = crew(&app, &[]).await;
    let before = places(&app, &cases).await;
    set_away_for(&app, &ana, 3, 86_400).await;
    assert_eq!(places(&app, &cases).await, before, "the period has not begun: her cases stay");
    eventually("Ana's cases to leave her once she is out of office", async || {
        let now = places(&app, &cases).await;
        if now.iter().all(|p| p.owner != ana.id) { Ok(()) } else { Err(format!("{now:?}")) }
    })
    .await;
    let moved = [owned(&support.id, &ben.id), pending_with(&support.id, &cal.id), owned(&support.id, &ben.id)];
    assert_eq!(places(&app, &cases).await, moved);
    for case in &cases {
        assert_taken(&app, case, &ana, 1, "out of office").await;
    }
}

async fn a_capacity_queue_hands_out_when_an_agents_out_of_office_ends(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let night = team_of(&app, "Night shift", &[&ana]).await;
    add_rule(&app, pb::AssignmentRule { capacity: 1, ..rule("Night queue", RoutingMethod::Capacity, &night.id) }).await;
    set_away_for(&app, &ana, -3_600, 4).await;
    let waiting = open(&app, new_case(&who, "Overnight")).await;
    assert_eq!(placed(&waiting), queued(&night.id), "Ana is away: the case waits");
    assert_names(routed_by(&app, &waiting.id).await, "Night queue");

    let handed = eventually("the waiting case to go to Ana once she is back", async || {
        let now = get(&app, &waiting.id).await;
        if placed(&now) == owned(&night.id, &ana.id) { Ok(now) } else { Err(format!("{:?}", placed(&now))) }
    })
    .await;
    assert_eq!(handed.status(), pb::CaseStatus::ActiveAssigned);
    let routings = rows(&app, &waiting.id, "routed_by").await;
    assert_eq!(routings.len(), 2, "queued, then handed out: {routings:?}");
    assert_names(Some(routings[1].new_value.clone()), "Night queue");
}

/// UpdateStaffUser and AddTeamMember settle routing before they answer.
async fn more_room_or_a_new_member_takes_a_waiting_case_at_once(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let desk = team_of(&app, "Help desk", &[&ana]).await;
    add_rule(&app, pb::AssignmentRule { capacity: 1, ..rule("One at a time", RoutingMethod::Capacity, &desk.id) }).await;
    let first = open(&app, new_case(&who, "First")).await;
    assert_eq!(placed(&first), owned(&desk.id, &ana.id));
    let second = open(&app, new_case(&who, "Second")).await;
    assert_eq!(placed(&second), queued(&desk.id), "Ana is full");

    // Her own limit of 2: the second case is hers when the call returns.
    let raised = change_staff(&app, &ana.id, &["case_capacity"], |u| u.case_capacity = 2).await.expect("raise the limit");
    assert_eq!(raised.case_capacity, 2);
    assert_eq!(placed(&get(&app, &second.id).await), owned(&desk.id, &ana.id));
    let routings = rows(&app, &second.id, "routed_by").await;
    assert_eq!(routings.len(), 2, "queued, then handed out: {routings:?}");
    assert_names(Some(routings[1].new_value.clone()), "One at a time");

    // Full again; Ben joins and has room (the rule's 1).
    let third = open(&app, new_case(&who, "Third")).await;
    assert_eq!(placed(&third), queued(&desk.id));
    let ben = staff_user(&app, "Ben Agent").await;
    let joined = app
        .staff(ADMIN)
        .add_team_member(pb::TeamMemberRequest { team_id: desk.id.clone(), staff_user_id: ben.id.clone() })
        .await
        .expect("add Ben")
        .into_inner();
    assert_eq!(joined.member_ids, [ana.id.clone(), ben.id.clone()]);
    assert_eq!(placed(&get(&app, &third.id).await), owned(&desk.id, &ben.id));
    assert_names(routed_by(&app, &third.id).await, "One at a time");
    assert_eq!(rows(&app, &third.id, "routed_by").await.len(), 2);
    assert_eq!([owned_by(&app, &ana).await, owned_by(&app, &ben).await], [2, 1]);
}

// ---- the team's policy -------------------------------------------------------

async fn a_teams_absence_policy_is_kept_and_a_malformed_team_id_refused(app: TestApp) {
    let support = team(&app, "Support").await;
    assert_eq!((support.requeue_on_absence, support.keep_pending_on_absence), (false, false));
    let flags = |t: &pb::Team| (t.requeue_on_absence, t.keep_pending_on_absence);

    // Only what the mask names changes.
    let both = |t: &mut pb::Team| {
        t.requeue_on_absence = true;
        t.keep_pending_on_absence = true;
    };
    let requeues = change_team(&app, &support.id, &["requeue_on_absence"], both).await.expect("set requeue");
    assert_eq!(flags(&requeues), (true, false));
    let read = read_team(&app, &support.id).await;
    assert_eq!((flags(&read), &read.etag), ((true, false), &requeues.etag));
    let swap = |t: &mut pb::Team| {
        t.requeue_on_absence = false;
        t.keep_pending_on_absence = true;
    };
    let keeps = change_team(&app, &support.id, &["requeue_on_absence", "keep_pending_on_absence"], swap).await.expect("swap");
    assert_eq!(flags(&keeps), (false, true));
    let read = read_team(&app, &support.id).await;
    assert_eq!((flags(&read), &read.etag), ((false, true), &keeps.etag));

    let before = app.row_counts().await;
    let update = |id: &str| pb::UpdateTeamRequest {
        team: Some(pb::Team { id: id.to_owned(), requeue_on_absence: true, ..keeps.clone() }),
        update_mask: mask(&["requeue_on_absence"]),
        reason: String::new(),
    };
    let malformed = app.staff(ADMIN).update_team(update("support")).await.unwrap_err();
    assert_field_error(&malformed, Code::InvalidArgument, "team.id");
    let agent = app.staff(AGENT).update_team(update(&support.id)).await.unwrap_err();
    assert_eq!(agent.code(), Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before, "a refused team change wrote something");
    assert_eq!(flags(&read_team(&app, &support.id).await), (false, true));
}
