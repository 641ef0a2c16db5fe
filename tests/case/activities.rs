//! Activities on a case: notes, calls, emails; first response.

use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::{
    common::{AGENT, SERVICE, TestApp, VIEWER},
    fixtures::{case, customer, history, unique},
    on_both_backends,
};

on_both_backends!(
    activities_are_listed_in_the_order_they_happened,
    only_the_first_public_staff_reply_sets_the_first_response_time,
    a_retried_activity_is_added_once,
);

fn note(case_id: &str, body: &str, visibility: pb::Visibility) -> pb::AddActivityRequest {
    pb::AddActivityRequest {
        activity: Some(pb::Activity {
            case_id: case_id.to_owned(),
            kind: pb::ActivityKind::Note as i32,
            visibility: visibility as i32,
            body: body.to_owned(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

fn email(case_id: &str, direction: pb::Direction) -> pb::AddActivityRequest {
    pb::AddActivityRequest {
        activity: Some(pb::Activity {
            case_id: case_id.to_owned(),
            kind: pb::ActivityKind::Email as i32,
            body: "Hello, any news?".into(),
            email: Some(pb::EmailDetail {
                direction: direction as i32,
                from: "petra@acme.example".into(),
                to: vec!["support@docket.example".into()],
                subject: "Re: conveyor".into(),
            }),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

async fn activities_are_listed_in_the_order_they_happened(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Timeline").await;
    let mut cases = app.cases(AGENT);
    cases.add_activity(note(&created.id, "Checked logs", pb::Visibility::Internal)).await.unwrap();
    let call = cases
        .add_activity(pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: created.id.clone(),
                kind: pb::ActivityKind::Call as i32,
                body: "Customer called for an update".into(),
                call: Some(pb::CallDetail { direction: pb::Direction::Inbound as i32, duration_seconds: 240 }),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(call.visibility, pb::Visibility::Internal as i32, "calls are internal unless said otherwise");
    assert_eq!(call.call.as_ref().unwrap().duration_seconds, 240);
    let mail = cases.add_activity(email(&created.id, pb::Direction::Inbound)).await.unwrap().into_inner();
    assert_eq!(mail.visibility, pb::Visibility::Public as i32, "emails are public unless said otherwise");
    assert_eq!(mail.email.as_ref().unwrap().to, vec!["support@docket.example".to_owned()]);
    cases.add_activity(note(&created.id, "We ordered the part", pb::Visibility::Public)).await.unwrap();

    let all = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest { case_id: created.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(all.iter().map(|a| a.sequence).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(all[0].body, "Checked logs");
    assert_eq!(all[0].author, "agent:agent");

    let public = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest { case_id: created.id.clone(), public_only: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(public.iter().map(|a| a.sequence).collect::<Vec<_>>(), [3, 4]);

    // Pages of two.
    let first = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest { case_id: created.id.clone(), page_size: 2, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let second = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest {
            case_id: created.id.clone(),
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.activities.iter().map(|a| a.sequence).collect::<Vec<_>>(), [3, 4]);
    assert!(second.next_page_token.is_empty());

    let missing = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest { case_id: uuid::Uuid::now_v7().to_string(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn only_the_first_public_staff_reply_sets_the_first_response_time(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Response clock").await;
    let get = || {
        let mut cases = app.cases(VIEWER);
        let id = created.id.clone();
        async move {
            cases.get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(id)) }).await.unwrap().into_inner()
        }
    };
    app.cases(AGENT).add_activity(note(&created.id, "internal only", pb::Visibility::Internal)).await.unwrap();
    app.cases(AGENT).add_activity(email(&created.id, pb::Direction::Inbound)).await.unwrap();
    app.cases(SERVICE).add_activity(note(&created.id, "posted by a system", pb::Visibility::Public)).await.unwrap();
    assert!(get().await.first_response_time.is_none(), "no public staff reply yet");

    app.cases(AGENT).add_activity(email(&created.id, pb::Direction::Outbound)).await.unwrap();
    let first = get().await.first_response_time.expect("the outbound email is the first response");
    app.cases(AGENT).add_activity(note(&created.id, "second reply", pb::Visibility::Public)).await.unwrap();
    assert_eq!(get().await.first_response_time, Some(first), "later replies do not move it");

    let trail = history(&app, &created.id).await;
    assert_eq!(trail.iter().filter(|e| e.field == "first_response_time").count(), 1);
    assert_eq!(trail.iter().filter(|e| e.field == "activity_added").count(), 5);
}

async fn a_retried_activity_is_added_once(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Retry").await;
    let request = pb::AddActivityRequest { idempotency_key: unique("note"), ..note(&created.id, "once", pb::Visibility::Public) };
    let first = app.cases(AGENT).add_activity(request.clone()).await.unwrap().into_inner();
    let again = app.cases(AGENT).add_activity(request).await.unwrap().into_inner();
    assert_eq!(first, again);
    let all = app
        .cases(VIEWER)
        .list_activities(pb::ListActivitiesRequest { case_id: created.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(all.len(), 1);
}
