//! AssignmentRuleService: where a case created without an owner goes, each
//! method checked against outcomes worked out here from the staff and cases
//! made; the routing settings, the staff fields routing reads, the case's web
//! form, and two replicas: one rotation shared, and rules changed through
//! one routing the other's next case.

use std::collections::BTreeMap;

use docket_proto::case::v1::{self as pb, RoutingMethod, get_case_request::Lookup};
use prost_types::Timestamp;
use tonic::{Code, Status};

use crate::{
    common::{ADMIN, AGENT, Backend, TestApp, VIEWER, assert_field_error, eventually, field_violations},
    fixtures::{Customer, contact, customer, history, mask, new_case, staff_user, staff_user_as, team, team_of, unique},
    on_both_backends,
};

on_both_backends!(
    rules_are_listed_in_order_and_changed_by_admins_with_etags,
    bad_rules_are_refused_and_write_nothing,
    a_reorder_names_every_rule_once_and_routing_follows_it,
    a_case_without_an_owner_takes_the_first_rule_that_matches_it,
    a_case_given_a_team_keeps_it_and_a_case_given_an_owner_is_not_routed,
    a_person_rule_falls_back_to_a_queue_while_the_person_is_away,
    round_robin_takes_turns_in_team_order_passing_over_who_cannot_take_cases,
    least_loaded_picks_the_lightest_open_work_weighted_by_priority,
    capacity_stops_at_each_agents_limit_and_then_queues_the_case,
    a_case_waiting_for_room_goes_to_whoever_has_room_most_urgent_first,
    routing_settings_name_the_default_team_and_are_checked,
    staff_keep_a_case_capacity_and_out_of_office_periods,
    a_case_keeps_the_web_form_it_came_through,
);

// ---- helpers -------------------------------------------------------------

pub(crate) fn rule(name: &str, method: RoutingMethod, team_id: &str) -> pb::AssignmentRule {
    pb::AssignmentRule {
        name: name.to_owned(),
        method: method as i32,
        team_id: team_id.to_owned(),
        active: true,
        ..Default::default()
    }
}

fn create_rule(rule: pb::AssignmentRule) -> pb::CreateAssignmentRuleRequest {
    pb::CreateAssignmentRuleRequest { rule: Some(rule), idempotency_key: String::new() }
}

pub(crate) async fn add_rule(app: &TestApp, rule: pb::AssignmentRule) -> pb::AssignmentRule {
    app.assignment_rules(ADMIN).create_assignment_rule(create_rule(rule)).await.expect("create an assignment rule").into_inner()
}

/// Every rule (active or not), in the order List answers.
async fn all_rules(app: &TestApp) -> Vec<pb::AssignmentRule> {
    app.assignment_rules(VIEWER)
        .list_assignment_rules(pb::ListAssignmentRulesRequest { include_inactive: true })
        .await
        .expect("list assignment rules")
        .into_inner()
        .rules
}

fn names(rules: &[pb::AssignmentRule]) -> Vec<&str> {
    rules.iter().map(|r| r.name.as_str()).collect()
}

async fn set_default_team(app: &TestApp, team_id: &str) -> Result<pb::RoutingSettings, Status> {
    app.assignment_rules(ADMIN)
        .update_routing_settings(pb::UpdateRoutingSettingsRequest {
            settings: Some(pb::RoutingSettings { default_team_id: team_id.to_owned(), update_time: None }),
        })
        .await
        .map(|r| r.into_inner())
}

/// Where a case ended up.
#[derive(Debug, PartialEq)]
pub(crate) struct Placed {
    pub(crate) team: String,
    pub(crate) owner: String,
    pub(crate) status: pb::CaseStatus,
}

pub(crate) fn placed(case: &pb::Case) -> Placed {
    Placed { team: case.team_id.clone(), owner: case.owner_id.clone(), status: case.status() }
}

/// Waiting in a team's queue (or in no team), nobody's.
pub(crate) fn queued(team: &str) -> Placed {
    Placed { team: team.to_owned(), owner: String::new(), status: pb::CaseStatus::ActiveNew }
}

pub(crate) fn owned(team: &str, owner: &str) -> Placed {
    Placed { team: team.to_owned(), owner: owner.to_owned(), status: pb::CaseStatus::ActiveAssigned }
}

/// Creates a case; what CreateCase answered must be what is stored.
pub(crate) async fn open(app: &TestApp, case: pb::Case) -> pb::Case {
    let created = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .expect("create case")
        .into_inner();
    assert_eq!(placed(&get(app, &created.id).await), placed(&created), "CreateCase answered where the case went");
    created
}

/// The new value of the case's `routed_by` trail row, if it has one.
pub(crate) async fn routed_by(app: &TestApp, case_id: &str) -> Option<String> {
    history(app, case_id).await.into_iter().find(|e| e.field == "routed_by").map(|e| e.new_value)
}

/// The reason of the case's `case.routed` event, as its outbox row holds it.
async fn routed_reason(app: &TestApp, case_id: &str) -> String {
    use prost::Message;
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.case_db().await;
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT envelope FROM outbox WHERE event_type = 'case.routed' AND subject = {}",
        docket_kit::db::placeholder(backend, 1)
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [case_id.into()]))
        .await
        .expect("read the outbox")
        .unwrap_or_else(|| panic!("no case.routed event of {case_id}"));
    let envelope =
        docket_proto::events::v1::Envelope::decode(row.try_get::<Vec<u8>>("", "envelope").unwrap().as_slice()).unwrap();
    let payload = envelope.payload.expect("a payload");
    docket_proto::events::v1::CaseRouted::decode(payload.value.as_slice()).expect("a CaseRouted").reason
}

#[track_caller]
pub(crate) fn assert_names(routed: Option<String>, what: &str) {
    let routed = routed.unwrap_or_else(|| panic!("no routed_by row; expected one naming {what:?}"));
    assert!(routed.contains(what), "routed_by {routed:?} does not name {what:?}");
}

pub(crate) async fn get(app: &TestApp, id: &str) -> pb::Case {
    app.cases(VIEWER).get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(id.to_owned())) }).await.unwrap().into_inner()
}

pub(crate) async fn close(app: &TestApp, case: &pb::Case) {
    app.cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: case.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Done.".into(),
            etag: case.etag.clone(),
            reason: String::new(),
        })
        .await
        .expect("close the case");
}

fn staff_ids(people: &[&pb::StaffUser]) -> Vec<String> {
    people.iter().map(|p| p.id.clone()).collect()
}

/// Reads a staff user, lets `edit` change it, and sends it back with `paths`.
pub(crate) async fn change_staff(
    app: &TestApp,
    id: &str,
    paths: &[&str],
    edit: impl FnOnce(&mut pb::StaffUser),
) -> Result<pb::StaffUser, Status> {
    let mut staff = app.staff(ADMIN);
    let mut user =
        staff.get_staff_user(pb::GetStaffUserRequest { id: id.to_owned() }).await.expect("read staff user").into_inner();
    edit(&mut user);
    staff
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(user),
            update_mask: mask(paths),
            reason: "routing test".into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// A moment `days` from now, in whole seconds (so it reads back equal).
fn days_from_now(days: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: chrono::Utc::now().timestamp() + days * 86_400, nanos: 0 })
}

fn away(from_days: i64, to_days: i64, note: &str) -> pb::OutOfOffice {
    pb::OutOfOffice { start_time: days_from_now(from_days), end_time: days_from_now(to_days), note: note.to_owned() }
}

async fn set_away(app: &TestApp, user: &pb::StaffUser, periods: Vec<pb::OutOfOffice>) {
    change_staff(app, &user.id, &["out_of_office"], |u| u.out_of_office = periods).await.expect("set out of office");
}

pub(crate) async fn set_available(app: &TestApp, user: &pb::StaffUser, available: bool) {
    change_staff(app, &user.id, &["available"], |u| u.available = available).await.expect("set available");
}

/// Deactivates a staff user (they left).
async fn deactivate(app: &TestApp, user: &pb::StaffUser) {
    change_staff(app, &user.id, &["active"], |u| u.active = false).await.expect("deactivate");
}

async fn customer_of_tier(app: &TestApp, tier: pb::AccountTier) -> Customer {
    let account = app
        .accounts(AGENT)
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account { name: unique("Globex"), tier: tier as i32, ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create account")
        .into_inner();
    assert_eq!(account.tier, tier as i32);
    let contact = contact(app, &account.id, "Hank Scorpio", &format!("{}@globex.example", unique("hank"))).await;
    Customer { account, contact }
}

// ---- managing rules --------------------------------------------------------

async fn rules_are_listed_in_order_and_changed_by_admins_with_etags(app: TestApp) {
    use pb::CasePriority::{Critical, High};
    let queue = team(&app, "Support").await;
    let who = customer(&app).await;
    let form = uuid::Uuid::now_v7().to_string();
    let rich = pb::AssignmentRule {
        position: 0,
        case_type_ids: vec!["technical_issue".into()],
        priorities: vec![High as i32, Critical as i32],
        channels: vec![pb::CaseChannel::Email as i32],
        account_ids: vec![who.account.id.clone()],
        account_tiers: vec![pb::AccountTier::Premium as i32],
        web_form_ids: vec![form.clone()],
        tags: vec!["outage".into()],
        subject_words: vec!["down".into()],
        ..rule("Zulu", RoutingMethod::TeamQueue, &queue.id)
    };
    let zulu = add_rule(&app, rich.clone()).await;
    assert!(!zulu.id.is_empty() && !zulu.etag.is_empty() && zulu.create_time.is_some() && zulu.update_time.is_some());
    let bare =
        pb::AssignmentRule { id: String::new(), etag: String::new(), create_time: None, update_time: None, ..zulu.clone() };
    assert_eq!(bare, rich, "the rule reads back as it was sent");
    let beta = add_rule(&app, pb::AssignmentRule { position: 1, ..rule("Beta", RoutingMethod::TeamQueue, &queue.id) }).await;
    add_rule(&app, pb::AssignmentRule { position: 1, ..rule("Alpha", RoutingMethod::TeamQueue, &queue.id) }).await;
    add_rule(&app, pb::AssignmentRule { active: false, ..rule("Dormant", RoutingMethod::TeamQueue, &queue.id) }).await;

    // Anyone with a staff token reads them: position, then name.
    for token in [VIEWER, AGENT] {
        let mut rules = app.assignment_rules(token);
        let read = rules.get_assignment_rule(pb::GetAssignmentRuleRequest { id: zulu.id.clone() }).await.unwrap().into_inner();
        assert_eq!(read, zulu);
        let active = rules.list_assignment_rules(pb::ListAssignmentRulesRequest::default()).await.unwrap().into_inner().rules;
        assert_eq!(names(&active), ["Zulu", "Alpha", "Beta"], "inactive rules are left out");
    }
    assert_eq!(names(&all_rules(&app).await), ["Dormant", "Zulu", "Alpha", "Beta"]);

    // Only the masked fields change; the etag must be the last one read.
    let mut rules = app.assignment_rules(ADMIN);
    let update = |etag: &str, position: i32| pb::UpdateAssignmentRuleRequest {
        rule: Some(pb::AssignmentRule {
            id: beta.id.clone(),
            etag: etag.to_owned(),
            position,
            subject_words: vec!["ignored".into()],
            ..rule("Beta", RoutingMethod::TeamQueue, &queue.id)
        }),
        update_mask: mask(&["position"]),
    };
    let moved = rules.update_assignment_rule(update(&beta.etag, 0)).await.unwrap().into_inner();
    assert_eq!(moved.position, 0);
    assert!(moved.subject_words.is_empty(), "not in the mask: {:?}", moved.subject_words);
    assert_ne!(moved.etag, beta.etag);
    assert_eq!(moved.create_time, beta.create_time);
    assert_eq!(names(&all_rules(&app).await), ["Beta", "Dormant", "Zulu", "Alpha"]);

    let before = (app.row_counts().await, all_rules(&app).await);
    let stale = rules.update_assignment_rule(update(&beta.etag, 5)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "stale etag: {stale:?}");
    let agent = app.assignment_rules(AGENT).update_assignment_rule(update(&moved.etag, 5)).await.unwrap_err();
    assert_eq!(agent.code(), Code::PermissionDenied);
    let delete = |etag: &str| pb::DeleteAssignmentRuleRequest { id: beta.id.clone(), etag: etag.to_owned() };
    let stale = rules.delete_assignment_rule(delete(&beta.etag)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "stale etag: {stale:?}");
    let viewer = app.assignment_rules(VIEWER).delete_assignment_rule(delete(&moved.etag)).await.unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    assert_eq!((app.row_counts().await, all_rules(&app).await), before, "refused changes change nothing");

    rules.delete_assignment_rule(delete(&moved.etag)).await.unwrap();
    let gone = rules.get_assignment_rule(pb::GetAssignmentRuleRequest { id: beta.id.clone() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(names(&all_rules(&app).await), ["Dormant", "Zulu", "Alpha"]);
}

async fn bad_rules_are_refused_and_write_nothing(app: TestApp) {
    let queue = team(&app, "Support").await;
    let alex = staff_user(&app, "Alex Agent").await;
    let who = customer(&app).await;
    add_rule(&app, rule("Taken", RoutingMethod::TeamQueue, &queue.id)).await;
    let before = (app.row_counts().await, all_rules(&app).await);

    let valid = || rule("Valid", RoutingMethod::TeamQueue, &queue.id);
    let unknown = || uuid::Uuid::now_v7().to_string();
    let method = |method: RoutingMethod| pb::AssignmentRule { method: method as i32, ..valid() };
    let refused: Vec<(pb::AssignmentRule, &str)> = vec![
        (pb::AssignmentRule { name: String::new(), ..valid() }, "rule.name"),
        (pb::AssignmentRule { name: "   ".into(), ..valid() }, "rule.name"),
        (pb::AssignmentRule { method: 0, ..valid() }, "rule.method"),
        (pb::AssignmentRule { team_id: String::new(), ..method(RoutingMethod::TeamQueue) }, "rule.team_id"),
        (pb::AssignmentRule { team_id: String::new(), ..method(RoutingMethod::RoundRobin) }, "rule.team_id"),
        (pb::AssignmentRule { team_id: String::new(), ..method(RoutingMethod::LeastLoaded) }, "rule.team_id"),
        (pb::AssignmentRule { team_id: String::new(), capacity: 3, ..method(RoutingMethod::Capacity) }, "rule.team_id"),
        (pb::AssignmentRule { team_id: unknown(), ..valid() }, "rule.team_id"),
        (method(RoutingMethod::Person), "rule.owner_id"),
        (pb::AssignmentRule { owner_id: unknown(), ..method(RoutingMethod::Person) }, "rule.owner_id"),
        (pb::AssignmentRule { owner_id: alex.id.clone(), ..valid() }, "rule.owner_id"),
        (pb::AssignmentRule { owner_id: alex.id.clone(), ..method(RoutingMethod::RoundRobin) }, "rule.owner_id"),
        (method(RoutingMethod::Capacity), "rule.capacity"),
        (pb::AssignmentRule { capacity: -2, ..method(RoutingMethod::Capacity) }, "rule.capacity"),
        (pb::AssignmentRule { capacity: 3, ..valid() }, "rule.capacity"),
        (pb::AssignmentRule { capacity: 3, ..method(RoutingMethod::LeastLoaded) }, "rule.capacity"),
        (pb::AssignmentRule { case_type_ids: vec!["no_such_type".into()], ..valid() }, "rule.case_type_ids[0]"),
        (pb::AssignmentRule { account_ids: vec!["not-an-id".into()], ..valid() }, "rule.account_ids[0]"),
        (pb::AssignmentRule { account_ids: vec![unknown()], ..valid() }, "rule.account_ids[0]"),
        (pb::AssignmentRule { web_form_ids: vec!["form-1".into()], ..valid() }, "rule.web_form_ids[0]"),
        (pb::AssignmentRule { subject_words: vec!["  ".into()], ..valid() }, "rule.subject_words[0]"),
        (pb::AssignmentRule { position: -1, ..valid() }, "rule.position"),
    ];
    let mut rules = app.assignment_rules(ADMIN);
    for (bad, field) in refused {
        let Err(status) = rules.create_assignment_rule(create_rule(bad.clone())).await else {
            panic!("accepted: {bad:?}");
        };
        assert_field_error(&status, Code::InvalidArgument, field);
    }
    // A bad value in an enum list: the list is named, or the entry in it.
    for (bad, list, index) in [
        (pb::AssignmentRule { priorities: vec![0], ..valid() }, "rule.priorities", 0),
        (pb::AssignmentRule { priorities: vec![pb::CasePriority::Low as i32, 99], ..valid() }, "rule.priorities", 1),
        (pb::AssignmentRule { channels: vec![99], ..valid() }, "rule.channels", 0),
        (pb::AssignmentRule { account_tiers: vec![0], ..valid() }, "rule.account_tiers", 0),
    ] {
        let Err(status) = rules.create_assignment_rule(create_rule(bad.clone())).await else {
            panic!("accepted: {bad:?}");
        };
        let (fields, entry) = (field_violations(&status), format!("{list}[{index}]"));
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(fields.iter().any(|(f, _)| f == list || *f == entry), "expected `{list}` or `{entry}`: {fields:?}");
    }
    let duplicate = rules.create_assignment_rule(create_rule(rule("Taken", RoutingMethod::TeamQueue, &queue.id))).await;
    assert_eq!(duplicate.unwrap_err().code(), Code::AlreadyExists);
    for token in [VIEWER, AGENT] {
        let status = app.assignment_rules(token).create_assignment_rule(create_rule(valid())).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{token}");
    }
    assert_eq!((app.row_counts().await, all_rules(&app).await), before, "a refused rule wrote something");

    // The same rules, well-formed, are taken: the refusals were about the field named.
    let good = pb::AssignmentRule {
        account_ids: vec![who.account.id.clone()],
        web_form_ids: vec![unknown()],
        subject_words: vec!["invoice".into()],
        ..valid()
    };
    add_rule(&app, good).await;
    add_rule(&app, pb::AssignmentRule { owner_id: alex.id.clone(), ..rule("Alex", RoutingMethod::Person, "") }).await;
    add_rule(&app, pb::AssignmentRule { capacity: 3, ..rule("Capped", RoutingMethod::Capacity, &queue.id) }).await;
    assert_eq!(all_rules(&app).await.len(), before.1.len() + 3);
}

async fn a_reorder_names_every_rule_once_and_routing_follows_it(app: TestApp) {
    let who = customer(&app).await;
    let (first_team, second_team) = (team(&app, "First line").await, team(&app, "Second line").await);
    let first = add_rule(&app, rule("First", RoutingMethod::TeamQueue, &first_team.id)).await;
    let second =
        add_rule(&app, pb::AssignmentRule { position: 1, ..rule("Second", RoutingMethod::TeamQueue, &second_team.id) }).await;
    let off = add_rule(
        &app,
        pb::AssignmentRule { position: 2, active: false, ..rule("Off", RoutingMethod::TeamQueue, &first_team.id) },
    )
    .await;
    let case = open(&app, new_case(&who, "Before the reorder")).await;
    assert_eq!(placed(&case), queued(&first_team.id));
    assert_names(routed_by(&app, &case.id).await, "First");

    let before = (app.row_counts().await, all_rules(&app).await);
    let ids = |rules: &[&pb::AssignmentRule]| rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let mut with_unknown = ids(&[&second, &first]);
    with_unknown.push(uuid::Uuid::now_v7().to_string());
    for rule_ids in [
        ids(&[&second, &first]),               // one missing
        ids(&[&second, &first, &off, &first]), // one twice
        with_unknown,                          // one unknown in place of another
        Vec::new(),
    ] {
        let Err(status) = app
            .assignment_rules(ADMIN)
            .reorder_assignment_rules(pb::ReorderAssignmentRulesRequest { rule_ids: rule_ids.clone() })
            .await
        else {
            panic!("accepted: {rule_ids:?}");
        };
        assert_field_error(&status, Code::InvalidArgument, "rule_ids");
    }
    let viewer = app
        .assignment_rules(VIEWER)
        .reorder_assignment_rules(pb::ReorderAssignmentRulesRequest { rule_ids: ids(&[&off, &second, &first]) })
        .await
        .unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    assert_eq!((app.row_counts().await, all_rules(&app).await), before, "a refused reorder changed something");

    let answered = app
        .assignment_rules(ADMIN)
        .reorder_assignment_rules(pb::ReorderAssignmentRulesRequest { rule_ids: ids(&[&off, &second, &first]) })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(names(&answered), ["Off", "Second", "First"]);
    assert_eq!(names(&all_rules(&app).await), ["Off", "Second", "First"]);
    let active =
        app.assignment_rules(AGENT).list_assignment_rules(pb::ListAssignmentRulesRequest::default()).await.unwrap().into_inner();
    assert_eq!(names(&active.rules), ["Second", "First"]);

    let case = open(&app, new_case(&who, "After the reorder")).await;
    assert_eq!(placed(&case), queued(&second_team.id));
    assert_names(routed_by(&app, &case.id).await, "Second");
}

// ---- what a rule matches ---------------------------------------------------

async fn a_case_without_an_owner_takes_the_first_rule_that_matches_it(app: TestApp) {
    use pb::{CaseChannel as Ch, CasePriority as P};
    let plain = customer(&app).await;
    let vip = customer(&app).await;
    let big = customer_of_tier(&app, pb::AccountTier::Enterprise).await;
    let form = uuid::Uuid::now_v7().to_string();
    let front_desk = team(&app, "Front desk").await;
    set_default_team(&app, &front_desk.id).await.unwrap();

    let no_conditions = pb::AssignmentRule::default;
    let conditions: Vec<(&str, pb::AssignmentRule)> = vec![
        ("Subject invoice", pb::AssignmentRule { subject_words: vec!["invoice".into()], ..no_conditions() }),
        ("Warranty type", pb::AssignmentRule { case_type_ids: vec!["warranty_claim".into()], ..no_conditions() }),
        ("Critical priority", pb::AssignmentRule { priorities: vec![P::Critical as i32], ..no_conditions() }),
        ("Email channel", pb::AssignmentRule { channels: vec![Ch::Email as i32], ..no_conditions() }),
        ("VIP account", pb::AssignmentRule { account_ids: vec![vip.account.id.clone()], ..no_conditions() }),
        ("Enterprise tier", pb::AssignmentRule { account_tiers: vec![pb::AccountTier::Enterprise as i32], ..no_conditions() }),
        ("Web form rule", pb::AssignmentRule { web_form_ids: vec![form.clone()], ..no_conditions() }),
        ("Outage tag", pb::AssignmentRule { tags: vec!["outage".into()], ..no_conditions() }),
        (
            "Low from the portal",
            pb::AssignmentRule { priorities: vec![P::Low as i32], channels: vec![Ch::Portal as i32], ..no_conditions() },
        ),
    ];
    let mut teams = BTreeMap::new();
    // Switched off, first, and matching everything: never used.
    let nobody = team(&app, "Nobody").await;
    add_rule(&app, pb::AssignmentRule { active: false, ..rule("Switched off", RoutingMethod::TeamQueue, &nobody.id) }).await;
    for (position, (name, conditions)) in conditions.into_iter().enumerate() {
        let queue = team(&app, name).await;
        let made = pb::AssignmentRule {
            name: name.to_owned(),
            position: position as i32 + 1,
            method: RoutingMethod::TeamQueue as i32,
            team_id: queue.id.clone(),
            active: true,
            ..conditions
        };
        add_rule(&app, made).await;
        teams.insert(name, queue.id);
    }

    let case = |who: &Customer, subject: &str| new_case(who, subject);
    let plan: Vec<(pb::Case, Option<&str>)> = vec![
        (case(&plain, "Invoice wrong"), Some("Subject invoice")),
        (case(&plain, "Wrong INVOICE again"), Some("Subject invoice")),
        (case(&plain, "Invoices overdue"), None),
        (pb::Case { type_id: "warranty_claim".into(), ..case(&plain, "Broken arm") }, Some("Warranty type")),
        // Matches two rules: the first decides.
        (pb::Case { type_id: "warranty_claim".into(), ..case(&plain, "invoice for a repair") }, Some("Subject invoice")),
        (pb::Case { priority: P::Critical as i32, ..case(&plain, "Line down") }, Some("Critical priority")),
        (pb::Case { channel: Ch::Email as i32, ..case(&plain, "Mailed in") }, Some("Email channel")),
        (case(&vip, "Our usual"), Some("VIP account")),
        (case(&big, "Big customer"), Some("Enterprise tier")),
        (
            pb::Case { channel: Ch::WebForm as i32, web_form_id: form.clone(), ..case(&plain, "From the form") },
            Some("Web form rule"),
        ),
        (
            pb::Case { channel: Ch::WebForm as i32, web_form_id: uuid::Uuid::now_v7().to_string(), ..case(&plain, "Other form") },
            None,
        ),
        (pb::Case { tags: vec!["billing".into(), "outage".into()], ..case(&plain, "Tagged") }, Some("Outage tag")),
        (pb::Case { tags: vec!["billing".into()], ..case(&plain, "Tagged otherwise") }, None),
        (pb::Case { priority: P::Low as i32, channel: Ch::Portal as i32, ..case(&plain, "Both") }, Some("Low from the portal")),
        (pb::Case { priority: P::Low as i32, ..case(&plain, "Low, by phone") }, None),
        (pb::Case { priority: P::Medium as i32, channel: Ch::Portal as i32, ..case(&plain, "Medium, portal") }, None),
        (case(&plain, "Nothing special"), None),
    ];
    for (case, by) in plan {
        let subject = case.subject.clone();
        let made = open(&app, case).await;
        let (expected, named) = match by {
            Some(rule) => (queued(&teams[rule]), rule),
            None => (queued(&front_desk.id), "default team"),
        };
        assert_eq!(placed(&made), expected, "{subject:?} should go by {named:?}");
        assert_names(routed_by(&app, &made.id).await, named);
    }
}

async fn a_case_given_a_team_keeps_it_and_a_case_given_an_owner_is_not_routed(app: TestApp) {
    let who = customer(&app).await;
    let (alex, sam) = (staff_user(&app, "Alex Agent").await, staff_user(&app, "Sam Support").await);
    let support = team_of(&app, "Support", &[&alex, &sam]).await;
    let (sales, other) = (team(&app, "Sales").await, team(&app, "Other").await);
    add_rule(&app, rule("Everything to sales", RoutingMethod::TeamQueue, &sales.id)).await;
    add_rule(
        &app,
        pb::AssignmentRule {
            position: 1,
            priorities: vec![pb::CasePriority::Critical as i32],
            owner_id: sam.id.clone(),
            ..rule("Critical support to Sam", RoutingMethod::Person, &support.id)
        },
    )
    .await;
    add_rule(&app, pb::AssignmentRule { position: 2, ..rule("Support rotation", RoutingMethod::RoundRobin, &support.id) }).await;
    let in_team = |team: &pb::Team, subject: &str| pb::Case { team_id: team.id.clone(), ..new_case(&who, subject) };

    let free = open(&app, new_case(&who, "No team")).await;
    assert_eq!(placed(&free), queued(&sales.id));
    assert_names(routed_by(&app, &free.id).await, "Everything to sales");

    // Given Support, it stays there: the first rule (another team's) is not tried.
    let first_turn = &support.member_ids[0];
    let second_turn = &support.member_ids[1];
    let rotated = open(&app, in_team(&support, "For support")).await;
    assert_eq!(placed(&rotated), owned(&support.id, first_turn));
    assert_names(routed_by(&app, &rotated.id).await, "Support rotation");
    let critical =
        open(&app, pb::Case { priority: pb::CasePriority::Critical as i32, ..in_team(&support, "Critical for support") }).await;
    assert_eq!(placed(&critical), owned(&support.id, &sam.id));
    assert_names(routed_by(&app, &critical.id).await, "Critical support to Sam");
    let rotated = open(&app, in_team(&support, "For support again")).await;
    assert_eq!(placed(&rotated), owned(&support.id, second_turn), "the rotation goes on where it was");

    // A team no rule routes to: the case waits there.
    let waiting = open(&app, in_team(&other, "For other")).await;
    assert_eq!(placed(&waiting), queued(&other.id));

    // An owner named by the creator: no rule runs.
    let mine = open(&app, pb::Case { owner_id: alex.id.clone(), ..new_case(&who, "Mine") }).await;
    assert_eq!(placed(&mine), owned("", &alex.id));
    assert_eq!(routed_by(&app, &mine.id).await, None);
    let mine = open(&app, pb::Case { owner_id: alex.id.clone(), ..in_team(&other, "Mine, in other") }).await;
    assert_eq!(placed(&mine), owned(&other.id, &alex.id));
    assert_eq!(routed_by(&app, &mine.id).await, None);
}

// ---- methods ---------------------------------------------------------------

async fn a_person_rule_falls_back_to_a_queue_while_the_person_is_away(app: TestApp) {
    let who = customer(&app).await;
    let alex = staff_user(&app, "Alex Agent").await;
    let (escalations, front_desk) = (team(&app, "Escalations").await, team(&app, "Front desk").await);
    set_default_team(&app, &front_desk.id).await.unwrap();
    let person = |name: &str, team: &str, tag: &str| pb::AssignmentRule {
        owner_id: alex.id.clone(),
        tags: vec![tag.to_owned()],
        ..rule(name, RoutingMethod::Person, team)
    };
    add_rule(&app, person("Alex for VIPs", &escalations.id, "vip")).await;
    add_rule(&app, person("Alex alone", "", "solo")).await;
    let tagged = |tag: &str| pb::Case { tags: vec![tag.to_owned()], ..new_case(&who, &format!("Tagged {tag}")) };

    let vip = open(&app, tagged("vip")).await;
    assert_eq!(placed(&vip), owned(&escalations.id, &alex.id));
    assert_names(routed_by(&app, &vip.id).await, "Alex for VIPs");
    assert_eq!(routed_reason(&app, &vip.id).await, "rule \"Alex for VIPs\": person in Escalations");
    let solo = open(&app, tagged("solo")).await;
    assert_eq!((solo.owner_id.as_str(), solo.status()), (alex.id.as_str(), pb::CaseStatus::ActiveAssigned));
    assert_names(routed_by(&app, &solo.id).await, "Alex alone");
    assert_eq!(routed_reason(&app, &solo.id).await, "rule \"Alex alone\": person");

    // Unavailable: the rule's team, else the default team, waits for him.
    set_available(&app, &alex, false).await;
    let vip = open(&app, tagged("vip")).await;
    assert_eq!(placed(&vip), queued(&escalations.id));
    assert_names(routed_by(&app, &vip.id).await, "Alex for VIPs");
    let away_reason = |rule: &str, team: &str| format!("rule \"{rule}\": person in {team} (the person is away: into the queue)");
    assert_eq!(routed_reason(&app, &vip.id).await, away_reason("Alex for VIPs", "Escalations"));
    let solo = open(&app, tagged("solo")).await;
    assert_eq!(placed(&solo), queued(&front_desk.id));
    assert_eq!(routed_reason(&app, &solo.id).await, away_reason("Alex alone", "Front desk"));
    set_available(&app, &alex, true).await;

    // Out of office now: the same.
    set_away(&app, &alex, vec![away(-1, 2, "Conference")]).await;
    assert_eq!(placed(&open(&app, tagged("vip")).await), queued(&escalations.id));
    assert_eq!(placed(&open(&app, tagged("solo")).await), queued(&front_desk.id));

    // Periods that are over or still to come do not count.
    set_away(&app, &alex, vec![away(-10, -3, "Last week"), away(3, 10, "Next week")]).await;
    assert_eq!(placed(&open(&app, tagged("vip")).await), owned(&escalations.id, &alex.id));

    // Gone: nobody hands him cases.
    deactivate(&app, &alex).await;
    assert_eq!(placed(&open(&app, tagged("vip")).await), queued(&escalations.id));
    assert_eq!(placed(&open(&app, tagged("solo")).await), queued(&front_desk.id));
}

async fn round_robin_takes_turns_in_team_order_passing_over_who_cannot_take_cases(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let vic = staff_user_as(&app, "Vic Viewer", pb::StaffRole::Viewer).await;
    let cal = staff_user(&app, "Cal Agent").await;
    let dee = staff_user(&app, "Dee Unavailable").await;
    let eve = staff_user(&app, "Eve Away").await;
    let gus = staff_user(&app, "Gus Agent").await;
    let fay = staff_user(&app, "Fay Former").await;
    let members = [&ana, &vic, &cal, &dee, &eve, &gus, &fay];
    let rotation = team_of(&app, "Rotation", &members).await;
    assert_eq!(rotation.member_ids, members.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), "join order");
    set_available(&app, &dee, false).await;
    set_away(&app, &eve, vec![away(-1, 1, "Sick")]).await;
    deactivate(&app, &fay).await;
    // Away last week and next week: in the rotation now.
    set_away(&app, &ana, vec![away(-9, -2, "Trip")]).await;
    set_away(&app, &cal, vec![away(2, 9, "Leave")]).await;
    add_rule(&app, rule("Take turns", RoutingMethod::RoundRobin, &rotation.id)).await;

    let mut owners = Vec::new();
    for i in 0..6 {
        let made = open(&app, new_case(&who, &format!("Turn {i}"))).await;
        assert_eq!(made.status(), pb::CaseStatus::ActiveAssigned);
        assert_eq!(made.team_id, rotation.id);
        assert_names(routed_by(&app, &made.id).await, "Take turns");
        owners.push(made.owner_id);
    }
    assert_eq!(owners, staff_ids(&[&ana, &cal, &gus, &ana, &cal, &gus]));

    // Dee is back. Gus had the last turn; after him Fay (gone), then from the
    // top: Ana, Cal, Dee, (Eve is away) Gus.
    set_available(&app, &dee, true).await;
    let mut owners = Vec::new();
    for i in 0..4 {
        owners.push(open(&app, new_case(&who, &format!("Later turn {i}"))).await.owner_id);
    }
    assert_eq!(owners, staff_ids(&[&ana, &cal, &dee, &gus]));
}

async fn least_loaded_picks_the_lightest_open_work_weighted_by_priority(app: TestApp) {
    use pb::CasePriority::{Critical, High, Low, Medium};
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let ben = staff_user(&app, "Ben Agent").await;
    let cal = staff_user(&app, "Cal Agent").await;
    let dee = staff_user(&app, "Dee Unavailable").await;
    let queue = team_of(&app, "Workshop", &[&ana, &ben, &cal, &dee]).await;
    set_available(&app, &dee, false).await;

    // Work they already have, given to them by name (not routed).
    let mut cases = app.cases(AGENT);
    let give = async |owner: &pb::StaffUser, priority: pb::CasePriority| {
        let case = pb::Case {
            owner_id: owner.id.clone(),
            team_id: queue.id.clone(),
            priority: priority as i32,
            ..new_case(&who, "Existing work")
        };
        open(&app, case).await
    };
    give(&ana, Critical).await; // Ana: 4 over 1 case
    give(&ben, Low).await;
    let pending = give(&ben, Low).await; // Ben: 1 + 1 = 2 over 2 cases, one of them pending
    cases
        .set_case_status(pb::SetCaseStatusRequest {
            id: pending.id.clone(),
            status: pb::CaseStatus::Pending as i32,
            etag: pending.etag.clone(),
            reason: "waiting for parts".into(),
        })
        .await
        .unwrap();
    give(&cal, Medium).await; // Cal: 2 over 1 case ...
    let closed = give(&cal, Critical).await; // ... and a closed one, which weighs nothing
    close(&app, &closed).await;
    add_rule(&app, rule("Lightest first", RoutingMethod::LeastLoaded, &queue.id)).await;

    // New High cases (3 each). Loads as (sum, open cases):
    //   Ana (4,1) Ben (2,2) Cal (2,1): Ben and Cal tie on 2, Cal has fewer -> Cal (5,2)
    //   Ana (4,1) Ben (2,2) Cal (5,2): Ben -> (5,3)
    //   Ana (4,1) Ben (5,3) Cal (5,2): Ana -> (7,2)
    //   Ana (7,2) Ben (5,3) Cal (5,2): Cal has fewer -> (8,3)
    //   Ana (7,2) Ben (5,3) Cal (8,3): Ben
    // Dee, with nothing, is unavailable throughout.
    let mut owners = Vec::new();
    for i in 0..5 {
        let made = open(&app, pb::Case { priority: High as i32, ..new_case(&who, &format!("New work {i}")) }).await;
        assert_eq!(placed(&made), owned(&queue.id, &made.owner_id));
        assert_names(routed_by(&app, &made.id).await, "Lightest first");
        owners.push(made.owner_id);
    }
    assert_eq!(owners, staff_ids(&[&cal, &ben, &ana, &cal, &ben]));
}

async fn capacity_stops_at_each_agents_limit_and_then_queues_the_case(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let ben = staff_user(&app, "Ben Agent").await;
    let cal = staff_user(&app, "Cal Agent").await;
    let queue = team_of(&app, "Field service", &[&ana, &ben, &cal]).await;
    // Ana takes 1, Ben the rule's 2, Cal 3.
    for (user, limit) in [(&ana, 1), (&cal, 3)] {
        let changed = change_staff(&app, &user.id, &["case_capacity"], |u| u.case_capacity = limit).await.unwrap();
        assert_eq!(changed.case_capacity, limit);
    }
    add_rule(&app, pb::AssignmentRule { capacity: 2, ..rule("Within limits", RoutingMethod::Capacity, &queue.id) }).await;

    // Medium cases (2 each), loads as (sum, open cases), ties to team order:
    //   all empty -> Ana (now full); Ben and Cal empty -> Ben; Cal -> Cal;
    //   Ben (2,1) and Cal (2,1) tie -> Ben (now full); then Cal, Cal (now full).
    let mut owners = Vec::new();
    for i in 0..6 {
        let made =
            open(&app, pb::Case { priority: pb::CasePriority::Medium as i32, ..new_case(&who, &format!("Job {i}")) }).await;
        assert_eq!(placed(&made), owned(&queue.id, &made.owner_id));
        assert_names(routed_by(&app, &made.id).await, "Within limits");
        owners.push(made.owner_id);
    }
    assert_eq!(owners, staff_ids(&[&ana, &ben, &cal, &ben, &cal, &cal]));

    // Everyone is full: the next cases wait in the team's queue, even a critical one.
    for priority in [pb::CasePriority::Medium, pb::CasePriority::Critical] {
        let made = open(&app, pb::Case { priority: priority as i32, ..new_case(&who, "No room") }).await;
        assert_eq!(placed(&made), queued(&queue.id));
        assert_names(routed_by(&app, &made.id).await, "Within limits");
    }
    let open_now = app
        .cases(VIEWER)
        .list_cases(pb::ListCasesRequest { team_id: queue.id.clone(), page_size: 100, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .cases;
    let count = |owner: &str| open_now.iter().filter(|c| c.owner_id == owner).count();
    assert_eq!([count(&ana.id), count(&ben.id), count(&cal.id), count("")], [1, 2, 3, 2]);
}

/// The proto's CAPACITY comment: a case waiting because everyone was full is
/// handed out, most urgent and oldest first, as soon as someone has room.
async fn a_case_waiting_for_room_goes_to_whoever_has_room_most_urgent_first(app: TestApp) {
    use pb::CasePriority::{Critical, Medium};
    let who = customer(&app).await;
    let (ana, ben) = (staff_user(&app, "Ana Agent").await, staff_user(&app, "Ben Agent").await);
    let queue = team_of(&app, "Depot", &[&ana, &ben]).await;
    add_rule(&app, pb::AssignmentRule { capacity: 1, ..rule("One each", RoutingMethod::Capacity, &queue.id) }).await;
    let job = async |priority: pb::CasePriority, subject: &str| {
        open(&app, pb::Case { priority: priority as i32, ..new_case(&who, subject) }).await
    };
    let anas = job(Medium, "Ana's").await;
    let bens = job(Medium, "Ben's").await;
    assert_eq!([placed(&anas), placed(&bens)], [owned(&queue.id, &ana.id), owned(&queue.id, &ben.id)]);
    let oldest = job(Medium, "Waiting longest").await;
    let urgent = job(Critical, "Waiting, critical").await;
    let newest = job(Medium, "Waiting, newest").await;
    for waiting in [&oldest, &urgent, &newest] {
        assert_eq!(placed(waiting), queued(&queue.id));
    }
    let handed_to = async |case: &pb::Case, owner: &pb::StaffUser| {
        eventually("the waiting case to be handed out", async || {
            let now = get(&app, &case.id).await;
            if placed(&now) == owned(&queue.id, &owner.id) { Ok(()) } else { Err(format!("{:?}", placed(&now))) }
        })
        .await
    };
    close(&app, &anas).await;
    handed_to(&urgent, &ana).await;
    close(&app, &bens).await;
    handed_to(&oldest, &ben).await;
    // Both are full again: the newest still waits.
    assert_eq!(placed(&get(&app, &newest.id).await), queued(&queue.id));
}

// ---- settings, staff, cases -------------------------------------------------

async fn routing_settings_name_the_default_team_and_are_checked(app: TestApp) {
    let who = customer(&app).await;
    let front_desk = team(&app, "Front desk").await;
    let read = async || app.assignment_rules(VIEWER).get_routing_settings(pb::GetRoutingSettingsRequest {}).await;
    assert_eq!(read().await.unwrap().into_inner().default_team_id, "");
    let nowhere = open(&app, new_case(&who, "No rules, no default")).await;
    assert_eq!(placed(&nowhere), queued(""));

    let before = app.row_counts().await;
    let unknown = set_default_team(&app, &uuid::Uuid::now_v7().to_string()).await.unwrap_err();
    assert_field_error(&unknown, Code::InvalidArgument, "settings.default_team_id");
    let malformed = set_default_team(&app, "front-desk").await.unwrap_err();
    assert_field_error(&malformed, Code::InvalidArgument, "settings.default_team_id");
    let agent = app
        .assignment_rules(AGENT)
        .update_routing_settings(pb::UpdateRoutingSettingsRequest {
            settings: Some(pb::RoutingSettings { default_team_id: front_desk.id.clone(), update_time: None }),
        })
        .await
        .unwrap_err();
    assert_eq!(agent.code(), Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before);
    assert_eq!(read().await.unwrap().into_inner().default_team_id, "", "refused settings changed nothing");

    let set = set_default_team(&app, &front_desk.id).await.unwrap();
    assert_eq!(set.default_team_id, front_desk.id);
    assert!(set.update_time.is_some());
    assert_eq!(read().await.unwrap().into_inner(), set);
    let waiting = open(&app, new_case(&who, "No rules")).await;
    assert_eq!(placed(&waiting), queued(&front_desk.id));
    assert_names(routed_by(&app, &waiting.id).await, "default team");

    let cleared = set_default_team(&app, "").await.unwrap();
    assert_eq!(cleared.default_team_id, "");
    assert_eq!(placed(&open(&app, new_case(&who, "No default again")).await), queued(""));
}

async fn staff_keep_a_case_capacity_and_out_of_office_periods(app: TestApp) {
    let alex = staff_user(&app, "Alex Agent").await;
    assert_eq!((alex.case_capacity, alex.out_of_office.len()), (0, 0));
    let read =
        async || app.staff(VIEWER).get_staff_user(pb::GetStaffUserRequest { id: alex.id.clone() }).await.unwrap().into_inner();

    let limited = change_staff(&app, &alex.id, &["case_capacity"], |u| u.case_capacity = 5).await.unwrap();
    assert_eq!(limited.case_capacity, 5);
    let periods = vec![away(-7, -5, "Training"), away(10, 24, "Holiday")];
    let away_set = change_staff(&app, &alex.id, &["out_of_office"], |u| u.out_of_office = periods.clone()).await.unwrap();
    assert_eq!(away_set.out_of_office, periods);
    let current = read().await;
    assert_eq!((current.case_capacity, &current.out_of_office), (5, &periods));
    assert_eq!(current, away_set);

    let before = app.row_counts().await;
    let negative = change_staff(&app, &alex.id, &["case_capacity"], |u| u.case_capacity = -1).await.unwrap_err();
    assert_field_error(&negative, Code::InvalidArgument, "staff_user.case_capacity");
    let no_start = pb::OutOfOffice { start_time: None, ..away(1, 2, "Open start") };
    for (period, field) in [
        (away(5, 4, "Backwards"), "staff_user.out_of_office[0].end_time"),
        (away(1, 401, "Sabbatical"), "staff_user.out_of_office[0].end_time"),
        (no_start, "staff_user.out_of_office[0].start_time"),
    ] {
        let Err(refused) = change_staff(&app, &alex.id, &["out_of_office"], |u| u.out_of_office = vec![period.clone()]).await
        else {
            panic!("accepted: {period:?}");
        };
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    assert_eq!(app.row_counts().await, before, "a refused staff change wrote something");
    assert_eq!(read().await, current);

    // Clearing them leaves the capacity.
    let back = change_staff(&app, &alex.id, &["out_of_office"], |u| u.out_of_office.clear()).await.unwrap();
    assert!(back.out_of_office.is_empty());
    assert_eq!(read().await.case_capacity, 5);
}

async fn a_case_keeps_the_web_form_it_came_through(app: TestApp) {
    let who = customer(&app).await;
    let form = uuid::Uuid::now_v7().to_string();
    let from_form =
        open(&app, pb::Case { web_form_id: form.clone(), channel: pb::CaseChannel::WebForm as i32, ..new_case(&who, "Form") })
            .await;
    assert_eq!(from_form.web_form_id, form);
    assert_eq!(get(&app, &from_form.id).await.web_form_id, form);
    assert_eq!(open(&app, new_case(&who, "Phone")).await.web_form_id, "");

    let before = app.row_counts().await;
    let refused = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { web_form_id: "contact-us".into(), ..new_case(&who, "Bad form") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "case.web_form_id");
    assert_eq!(app.row_counts().await, before, "a refused case wrote something");
}

// ---- two replicas ------------------------------------------------------------

/// Two case services on one PostgreSQL database share one rotation: 40
/// cases created at once, half through each, give each of 4 agents 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_fair_across_two_replicas_on_postgres() {
    const AGENTS: usize = 4;
    const CASES: usize = 40;
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = TestApp::spawn_with(Backend::Postgres, |s| s.database = first.settings.database.clone()).await;
    let mut agents = Vec::new();
    for name in ["Ana", "Ben", "Cal", "Dee"] {
        agents.push(staff_user(&first, &format!("{name} Agent")).await);
    }
    let queue = team_of(&first, "Shared rotation", &agents.iter().collect::<Vec<_>>()).await;
    add_rule(&first, rule("Share alike", RoutingMethod::RoundRobin, &queue.id)).await;
    let who = customer(&first).await;

    let replicas = [&first, &second];
    let results = futures::future::join_all((0..CASES).map(|i| {
        let mut cases = replicas[i % 2].cases(AGENT);
        let case = new_case(&who, &format!("Concurrent {i}"));
        async move {
            cases.create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None }).await
        }
    }))
    .await;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for result in results {
        let case = result.expect("every concurrent create succeeds").into_inner();
        assert_eq!(placed(&case), owned(&queue.id, &case.owner_id));
        *per_owner.entry(case.owner_id).or_default() += 1;
    }
    let fair: BTreeMap<String, usize> = agents.iter().map(|a| (a.id.clone(), CASES / AGENTS)).collect();
    assert_eq!(per_owner, fair, "each agent gets the same share");

    // As stored, read through each replica.
    for (replica, agent) in replicas.iter().cycle().zip(&agents) {
        let theirs = replica
            .cases(VIEWER)
            .list_cases(pb::ListCasesRequest { owner_id: agent.id.clone(), page_size: 100, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .cases;
        assert_eq!(theirs.len(), CASES / AGENTS, "{}", agent.name);
    }
}

/// Each replica keeps the rules in memory and reads their version with
/// every create: a rule added, changed, reordered or deleted through one
/// replica routes the very next case created through the other. (On
/// SQLite there is one process; the tests of each rule change above run
/// on it too, through the same kept rules.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_changed_through_one_replica_route_the_others_next_case_on_postgres() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = TestApp::spawn_with(Backend::Postgres, |s| s.database = first.settings.database.clone()).await;
    let (desk, field) = (team(&first, "Desk").await, team(&first, "Field").await);
    let who = customer(&first).await;
    let through_second = async |subject: &str| placed(&open(&second, new_case(&who, subject)).await);
    assert_eq!(through_second("Before any rule").await, queued(""), "no rule, no default team");

    let desk_rule = add_rule(&first, rule("Desk", RoutingMethod::TeamQueue, &desk.id)).await;
    assert_eq!(through_second("A rule added").await, queued(&desk.id));

    let mut rules = first.assignment_rules(ADMIN);
    let moved = rules
        .update_assignment_rule(pb::UpdateAssignmentRuleRequest {
            rule: Some(pb::AssignmentRule {
                id: desk_rule.id.clone(),
                etag: desk_rule.etag.clone(),
                ..rule("Desk", RoutingMethod::TeamQueue, &field.id)
            }),
            update_mask: mask(&["team_id"]),
        })
        .await
        .expect("point the rule at the field team")
        .into_inner();
    assert_eq!(through_second("A rule changed").await, queued(&field.id));

    let urgent = add_rule(
        &first,
        pb::AssignmentRule {
            position: 5,
            subject_words: vec!["urgent".into()],
            ..rule("Urgent", RoutingMethod::TeamQueue, &desk.id)
        },
    )
    .await;
    assert_eq!(through_second("Urgent: a rule behind another").await, queued(&field.id), "the first rule still matches first");
    rules
        .reorder_assignment_rules(pb::ReorderAssignmentRulesRequest { rule_ids: vec![urgent.id.clone(), moved.id.clone()] })
        .await
        .expect("urgent first");
    assert_eq!(through_second("Urgent: reordered").await, queued(&desk.id));

    for rule in [&urgent, &moved] {
        let current =
            rules.get_assignment_rule(pb::GetAssignmentRuleRequest { id: rule.id.clone() }).await.expect("the rule").into_inner();
        rules
            .delete_assignment_rule(pb::DeleteAssignmentRuleRequest { id: rule.id.clone(), etag: current.etag })
            .await
            .expect("delete the rule");
    }
    assert_eq!(through_second("Urgent: every rule deleted").await, queued(""));
}

/// A create routed only by rules that read (or by none) goes without a
/// transaction on PostgreSQL: its reads and its one insert on one held
/// connection (issue 15). A replica whose kept rules say so, and then finds
/// a rule that takes a team's turn added through another replica, gives
/// that connection back and routes the case in a transaction that takes the
/// turn. Here on a pool of one connection: kept across the fall-back (or
/// a retry's look-up), it would leave the transaction none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_takes_turns_added_elsewhere_routes_the_next_case_in_a_transaction_on_postgres() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database = first.settings.database.clone();
        s.database.max_connections = 1;
    })
    .await;
    let (ana, ben) = (staff_user(&first, "Ana Agent").await, staff_user(&first, "Ben Agent").await);
    let rotation = team_of(&first, "Rotation", &[&ana, &ben]).await;
    let who = customer(&first).await;
    let before = open(&second, new_case(&who, "Before any rule")).await;
    assert_eq!(placed(&before), queued(""), "no rule, no default team: kept as no rules");

    add_rule(&first, rule("Take turns", RoutingMethod::RoundRobin, &rotation.id)).await;
    let mut owners = Vec::new();
    let mut numbers = vec![before.case_number.clone()];
    for subject in ["Turn one", "Turn two"] {
        let case = open(&second, new_case(&who, subject)).await;
        assert_eq!(placed(&case), owned(&rotation.id, &case.owner_id), "{subject}: routed by the rule's turn");
        owners.push(case.owner_id.clone());
        numbers.push(case.case_number.clone());
    }
    owners.sort();
    let mut both = vec![ana.id.clone(), ben.id.clone()];
    both.sort();
    assert_eq!(owners, both, "the turn passed from one agent to the other");
    let order: Vec<u64> = numbers.iter().map(|n| n.trim_start_matches("C-").parse().expect("a case number")).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "numbers increase: {numbers:?}");

    // Given an owner it is not routed: it goes without a transaction, and
    // its retry finds the first case on the one connection it holds.
    let keyed = pb::CreateCaseRequest {
        case: Some(pb::Case { owner_id: ana.id.clone(), ..new_case(&who, "Keyed") }),
        idempotency_key: unique("keyed"),
        sender: None,
    };
    let made = second.cases(AGENT).create_case(keyed.clone()).await.expect("a keyed create").into_inner();
    let again = second.cases(AGENT).create_case(keyed).await.expect("its retry").into_inner();
    assert_eq!(again, made, "the retry answers the first case");
}
