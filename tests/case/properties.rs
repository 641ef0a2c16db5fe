//! Property tests of the status machine through the real service: no
//! sequence of calls reaches an illegal state, and every change leaves
//! exactly one trail row per changed field (a refused call leaves none).

use docket_proto::case::v1::{self as pb, get_case_request::Lookup};
use proptest::{prelude::*, test_runner::TestRunner};
use tonic::Code;

use crate::{
    common::{AGENT, Backend, TestApp},
    fixtures::{case, customer, history, mask, staff_user},
};

#[derive(Debug, Clone)]
enum Op {
    Assign(Option<usize>),
    SetStatus(i32),
    Close(i32, bool),
    Reopen(bool),
    Update(&'static str, i32),
    PublicNote,
}

fn any_status() -> impl Strategy<Value = i32> {
    0..=5i32
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop::option::of(0..2usize).prop_map(Op::Assign),
        any_status().prop_map(Op::SetStatus),
        (any_status(), any::<bool>()).prop_map(|(s, r)| Op::Close(s, r)),
        any::<bool>().prop_map(Op::Reopen),
        (prop::sample::select(vec!["Line stopped", "Line slow"]), 1..=4i32).prop_map(|(s, p)| Op::Update(s, p)),
        Just(Op::PublicNote),
    ]
}

/// The fields whose changes the trail must show, as (trail field, value).
fn tracked(case: &pb::Case) -> Vec<(&'static str, String)> {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| format!("{}.{}", t.seconds, t.nanos)).unwrap_or_default();
    vec![
        ("status", case.status.to_string()),
        ("owner_id", case.owner_id.clone()),
        ("resolution_summary", case.resolution_summary.clone()),
        ("resolved_time", time(&case.resolved_time)),
        ("closed_time", time(&case.closed_time)),
        ("subject", case.subject.clone()),
        ("priority", case.priority.to_string()),
        ("first_response_time", time(&case.first_response_time)),
    ]
}

fn consistent(case: &pb::Case) -> bool {
    let owned = !case.owner_id.is_empty();
    match pb::CaseStatus::try_from(case.status) {
        Ok(pb::CaseStatus::ActiveNew) => !owned,
        Ok(pb::CaseStatus::ActiveAssigned | pb::CaseStatus::Pending) => owned,
        Ok(pb::CaseStatus::ClosedComplete | pb::CaseStatus::ClosedNoFault) => true,
        _ => false,
    }
}

async fn apply(app: &TestApp, owners: &[String], case: &pb::Case, op: &Op) -> Result<(), tonic::Status> {
    let mut cases = app.cases(AGENT);
    let id = case.id.clone();
    match op {
        Op::Assign(owner) => {
            let owner_id = owner.map(|i| owners[i].clone()).unwrap_or_default();
            cases.assign_case(pb::AssignCaseRequest { id, owner_id, ..Default::default() }).await.map(drop)
        }
        Op::SetStatus(status) => {
            cases.set_case_status(pb::SetCaseStatusRequest { id, status: *status, ..Default::default() }).await.map(drop)
        }
        Op::Close(status, with_resolution) => cases
            .close_case(pb::CloseCaseRequest {
                id,
                status: *status,
                resolution_summary: if *with_resolution { "Fixed it".into() } else { String::new() },
                ..Default::default()
            })
            .await
            .map(drop),
        Op::Reopen(with_reason) => cases
            .reopen_case(pb::ReopenCaseRequest {
                id,
                reason: if *with_reason { "Back again".into() } else { String::new() },
                etag: String::new(),
            })
            .await
            .map(drop),
        Op::Update(subject, priority) => cases
            .update_case(pb::UpdateCaseRequest {
                case: Some(pb::Case {
                    id,
                    etag: case.etag.clone(),
                    subject: (*subject).to_owned(),
                    priority: *priority,
                    ..Default::default()
                }),
                update_mask: mask(&["subject", "priority"]),
                reason: String::new(),
            })
            .await
            .map(drop),
        Op::PublicNote => cases
            .add_activity(pb::AddActivityRequest {
                activity: Some(pb::Activity {
                    case_id: id,
                    kind: pb::ActivityKind::Note as i32,
                    visibility: pb::Visibility::Public as i32,
                    body: "update".into(),
                    ..Default::default()
                }),
                idempotency_key: String::new(),
            })
            .await
            .map(drop),
    }
}

async fn get(app: &TestApp, id: &str) -> pb::Case {
    app.cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(id.to_owned())) })
        .await
        .expect("get case")
        .into_inner()
}

fn run(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (app, customer, owners) = rt.block_on(async {
        let app = TestApp::spawn(backend).await;
        let customer = customer(&app).await;
        let owners = vec![staff_user(&app, "Owner One").await.id, staff_user(&app, "Owner Two").await.id];
        (app, customer, owners)
    });
    let mut runner = TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() });
    let result = runner.run(&prop::collection::vec(any_op(), 1..25), |ops| {
        rt.block_on(async {
            let mut current = case(&app, &customer, "Line stopped").await;
            let mut trail_len = history(&app, &current.id).await.len();
            for op in &ops {
                let outcome = apply(&app, &owners, &current, op).await;
                let after = get(&app, &current.id).await;
                let after_trail = history(&app, &current.id).await;
                prop_assert!(consistent(&after), "illegal state {:?} after {op:?}", after);
                match outcome {
                    Err(status) => {
                        prop_assert!(
                            matches!(status.code(), Code::FailedPrecondition | Code::InvalidArgument),
                            "{op:?} failed with {status:?}"
                        );
                        prop_assert_eq!(&after, &current, "a refused call changed the case");
                        prop_assert_eq!(after_trail.len(), trail_len, "a refused call wrote trail rows");
                    }
                    Ok(()) => {
                        let before_fields = tracked(&current);
                        let changed: Vec<&str> = tracked(&after)
                            .into_iter()
                            .zip(before_fields)
                            .filter(|(a, b)| a.1 != b.1)
                            .map(|(a, _)| a.0)
                            .collect();
                        let new_rows: Vec<&str> = after_trail[trail_len..]
                            .iter()
                            .map(|e| e.field.as_str())
                            .filter(|f| *f != "activity_added")
                            .collect();
                        let mut expected = changed.clone();
                        expected.sort_unstable();
                        let mut written = new_rows.clone();
                        written.sort_unstable();
                        prop_assert_eq!(written, expected, "trail rows vs changed fields after {:?}", op);
                        let activity_rows = after_trail[trail_len..].iter().filter(|e| e.field == "activity_added").count();
                        prop_assert_eq!(activity_rows, usize::from(matches!(op, Op::PublicNote)));
                    }
                }
                trail_len = after_trail.len();
                current = after;
            }
            Ok(())
        })
    });
    drop(app);
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn no_sequence_of_calls_breaks_the_status_machine_or_the_trail_on_sqlite() {
    run(Backend::Sqlite, 24);
}

#[test]
fn no_sequence_of_calls_breaks_the_status_machine_or_the_trail_on_postgres() {
    run(Backend::Postgres, 12);
}
