//! `/api/v1/reports/...`: the case service's reports as JSON and as CSV,
//! the CSV read back with a CSV parser and checked against the JSON.

use std::collections::BTreeMap;

use docket_proto::case::v1 as pb;
use serde_json::Value;

use crate::{
    api::{account_and_contact, new_case},
    common::{ADMIN, AGENT, Backend, VIEWER, gateway::GatewayApp, gateway::HttpResponse},
};

/// The rows of a CSV answer, after checking it is one and its header row.
fn csv_rows(answer: &HttpResponse, header: &[&str]) -> Vec<Vec<String>> {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(answer.text().contains("\r\n"), "RFC 4180 ends records with CRLF");
    let mut reader = csv::Reader::from_reader(answer.body.as_slice());
    let found: Vec<String> = reader.headers().expect("a header row").iter().map(str::to_owned).collect();
    assert_eq!(found, header);
    reader.records().map(|r| r.expect("a well-formed record").iter().map(str::to_owned).collect()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_answer_as_json_and_as_csv_that_reads_back_the_same() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    // Names a spreadsheet must get back whole: a comma, quotes, a dash.
    let team = gw
        .app
        .staff(ADMIN)
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team { name: "Support, \"Tier 2\" – Nord".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .expect("a team")
        .into_inner();
    let owner = gw
        .app
        .staff(ADMIN)
        .create_staff_user(pb::CreateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                name: "Ann O'Neil, Jr.".into(),
                email: "ann@staff.example".into(),
                role: pb::StaffRole::Agent as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("a staff user")
        .into_inner();
    for subject in ["Printer on fire", "Scanner jammed"] {
        new_case(&gw, &account, &contact, subject).await;
    }
    let owned = new_case(&gw, &account, &contact, "Toner low").await;
    let etag = owned["etag"].as_str().expect("an etag").to_owned();
    gw.app
        .cases(AGENT)
        .assign_case(pb::AssignCaseRequest {
            id: owned["id"].as_str().unwrap().to_owned(),
            owner_id: owner.id.clone(),
            team_id: team.id.clone(),
            etag,
            reason: String::new(),
        })
        .await
        .expect("assign");

    let json = gw.get("/api/v1/reports/queue", VIEWER).await.expect(200);
    assert_eq!((json["open"].as_i64(), json["unassigned"].as_i64()), (Some(3), Some(2)));
    assert_eq!(json["by_status"][0], serde_json::json!({"status": "active_new", "name": "Active – New", "count": 2}));
    assert_eq!(json["by_priority"][0], serde_json::json!({"priority": "critical", "name": "Critical", "count": 3}));
    assert_eq!(json["by_team"][0]["team_id"], Value::Null, "no team's queue, the larger");
    assert_eq!(json["by_team"][1]["team_name"], team.name);
    assert_eq!(json["by_owner"], serde_json::json!([{"owner_id": owner.id, "owner_name": owner.name, "count": 1}]));

    let header = ["dimension", "key", "name", "count"];
    let by_format = csv_rows(&gw.get("/api/v1/reports/queue?format=csv", VIEWER).await, &header);
    let by_accept = csv_rows(
        &gw.send(http::Method::GET, "/api/v1/reports/queue", Some(VIEWER), &[("accept", "text/csv;q=0.9, */*;q=0.1")], None)
            .await,
        &header,
    );
    assert_eq!(by_format, by_accept);
    let counts: BTreeMap<(String, String), (String, i64)> = by_format
        .iter()
        .map(|row| ((row[0].clone(), row[1].clone()), (row[2].clone(), row[3].parse().expect("a count"))))
        .collect();
    assert_eq!(counts.len(), by_format.len(), "one row per count");
    let count = |dimension: &str, key: &str| counts.get(&(dimension.to_owned(), key.to_owned())).map(|(_, n)| *n);
    assert_eq!(count("total", "open"), json["open"].as_i64());
    assert_eq!(count("total", "unassigned"), json["unassigned"].as_i64());
    for (list, dimension, key) in [("by_status", "status", "status"), ("by_priority", "priority", "priority")] {
        for entry in json[list].as_array().unwrap() {
            let (name, n) = &counts[&(dimension.to_owned(), entry[key].as_str().unwrap().to_owned())];
            assert_eq!((Some(*n), name.as_str()), (entry["count"].as_i64(), entry["name"].as_str().unwrap()), "{dimension}");
            assert!(!name.is_empty(), "{dimension} {entry}: a spreadsheet shows the name");
        }
    }
    assert_eq!(counts[&("team".to_owned(), team.id.clone())], (team.name.clone(), 1), "the name read back whole");
    assert_eq!(counts[&("team".to_owned(), String::new())].1, 2);
    assert_eq!(counts[&("owner".to_owned(), owner.id.clone())], (owner.name.clone(), 1));

    let aging = gw.get("/api/v1/reports/backlog-aging?priority=critical&priority=high", AGENT).await.expect(200);
    assert_eq!(aging["open"], 3);
    assert_eq!(aging["buckets"][0]["count"], 3, "all made just now");
    assert_eq!(aging["buckets"][5]["max_age_hours"], Value::Null);
    let rows = csv_rows(
        &gw.get("/api/v1/reports/backlog-aging?priority=low&format=csv", AGENT).await,
        &["label", "min_age_hours", "max_age_hours", "count"],
    );
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0], ["under 1 day", "0", "24", "0"], "no low-priority case");
    assert_eq!(rows[5], ["over 30 days", "720", "", "0"]);
    let team_only = gw.get(&format!("/api/v1/reports/backlog-aging?team_id={}", team.id), AGENT).await.expect(200);
    assert_eq!(team_only["open"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_refuse_bad_parameters_with_a_problem() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    for path in [
        "/api/v1/reports/queue?format=xml",
        "/api/v1/reports/backlog-aging?priority=urgent",
        "/api/v1/reports/backlog-aging?format=CSV",
    ] {
        gw.get(path, VIEWER).await.problem(400);
    }
    for path in ["/api/v1/reports/queue?team_id=nope", "/api/v1/reports/backlog-aging?team_id=nope"] {
        gw.get(path, VIEWER).await.bad_field("team_id");
    }
    let unknown = uuid::Uuid::now_v7();
    let missing = gw.get(&format!("/api/v1/reports/queue?team_id={unknown}"), VIEWER).await.problem(404);
    assert_eq!(missing["detail"], format!("no team has the id {unknown}"));
    gw.send(http::Method::GET, "/api/v1/reports/queue", None, &[], None).await.problem(401);
    // A problem stays JSON even when CSV was asked for.
    let refused = gw.send(http::Method::GET, "/api/v1/reports/queue?format=csv", None, &[("accept", "text/csv")], None).await;
    assert_eq!(refused.header("content-type"), Some("application/problem+json"));
}

/// The period reports over REST: today's counts of cases made through the
/// API, as JSON and as CSV read back the same; bad periods named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_reports_answer_as_json_and_csv_and_name_bad_periods() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    for subject in ["Printer on fire", "Scanner jammed"] {
        new_case(&gw, &account, &contact, subject).await;
    }
    let today = chrono::Utc::now().date_naive();
    let query = format!("start_time={today}T00:00:00Z&end_time={}T00:00:00Z", today + chrono::Days::new(1));
    let volume = crate::common::eventually("the consumer to count today's cases", async || {
        let volume = gw.get(&format!("/api/v1/reports/volume?{query}&group_by=priority"), VIEWER).await.expect(200);
        if volume["created"] == 2 { Ok(volume) } else { Err(volume.to_string()) }
    })
    .await;
    assert_eq!(volume["rows"][0]["step"], today.to_string());
    assert_eq!((volume["rows"][0]["key"].as_str(), volume["rows"][0]["name"].as_str()), (Some("critical"), Some("Critical")));
    let header = ["step", "key", "name", "created", "closed", "reopened", "assigned"];
    let rows = csv_rows(&gw.get(&format!("/api/v1/reports/volume?{query}&group_by=priority&format=csv"), VIEWER).await, &header);
    assert_eq!(rows, [[today.to_string(), "critical".into(), "Critical".into(), "2".into(), "0".into(), "0".into(), "0".into()]]);

    let times = gw.get(&format!("/api/v1/reports/resolution-times?{query}"), AGENT).await.expect(200);
    assert_eq!(times["total"]["resolution"]["count"], 0, "nothing closed yet");
    assert_eq!(times["rows"], serde_json::json!([]));
    let header = [
        "key",
        "name",
        "resolved",
        "resolution_mean_minutes",
        "resolution_median_minutes",
        "resolution_p90_minutes",
        "first_responses",
        "first_response_mean_minutes",
        "first_response_median_minutes",
        "first_response_p90_minutes",
        "reopened",
        "reopen_rate",
    ];
    let rows = csv_rows(
        &gw.send(
            http::Method::GET,
            &format!("/api/v1/reports/resolution-times?{query}"),
            Some(AGENT),
            &[("accept", "text/csv")],
            None,
        )
        .await,
        &header,
    );
    assert_eq!(rows.len(), 1, "the total");
    assert_eq!((rows[0][1].as_str(), rows[0][2].as_str()), ("All cases", "0"));

    let year_ago = today - chrono::Days::new(800);
    for (path, field) in [
        ("/api/v1/reports/volume".to_owned(), "start_time"),
        (format!("/api/v1/reports/volume?end_time={today}T00:00:00Z"), "start_time"),
        (format!("/api/v1/reports/volume?start_time={today}T00:00:00Z"), "end_time"),
        (format!("/api/v1/reports/volume?start_time={today}T00:00:00Z&end_time={year_ago}T00:00:00Z"), "period"),
        (format!("/api/v1/reports/resolution-times?start_time={year_ago}T00:00:00Z&end_time={today}T00:00:00Z"), "period"),
        (format!("/api/v1/reports/volume?{query}&granularity=hour"), "granularity"),
        (format!("/api/v1/reports/resolution-times?{query}&group_by=mood"), "group_by"),
        ("/api/v1/reports/volume?start_time=yesterday".to_owned(), "start_time"),
    ] {
        gw.get(&path, VIEWER).await.bad_field(field);
    }
}

/// Repeat cases over REST: two cases of one account today are one repeat
/// within a day; JSON and CSV agree; bad windows are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_cases_answer_as_json_and_csv() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    for subject in ["Printer on fire", "Printer on fire again"] {
        new_case(&gw, &account, &contact, subject).await;
    }
    let today = chrono::Utc::now().date_naive();
    let query =
        format!("start_time={today}T00:00:00Z&end_time={}T00:00:00Z&within_days=1&by=account", today + chrono::Days::new(1));
    let report = crate::common::eventually("the consumer to keep today's cases", async || {
        let report = gw.get(&format!("/api/v1/reports/repeat-cases?{query}"), VIEWER).await.expect(200);
        if report["cases"] == 2 { Ok(report) } else { Err(report.to_string()) }
    })
    .await;
    assert_eq!(report["repeats"], 1);
    assert_eq!(report["rows"], serde_json::json!([{"key": account["id"], "name": "Acme Ltd", "cases": 2, "repeats": 1}]));
    let rows = csv_rows(
        &gw.get(&format!("/api/v1/reports/repeat-cases?{query}&format=csv"), VIEWER).await,
        &["key", "name", "cases", "repeats"],
    );
    assert_eq!(rows, [[account["id"].as_str().unwrap().to_owned(), "Acme Ltd".into(), "2".into(), "1".into()]]);
    let by_asset =
        gw.get(&format!("/api/v1/reports/repeat-cases?{}", query.replace("by=account", "by=asset")), VIEWER).await.expect(200);
    assert_eq!((by_asset["cases"].as_i64(), by_asset["rows"].as_array().map(Vec::len)), (Some(0), Some(0)), "no assets named");
    for (change, field) in [("within_days=1", "within_days=0"), ("within_days=1", "within_days=400"), ("by=account", "by=colour")]
    {
        let path = format!("/api/v1/reports/repeat-cases?{}", query.replace(change, field));
        gw.get(&path, VIEWER).await.bad_field(field.split('=').next().unwrap());
    }
}
