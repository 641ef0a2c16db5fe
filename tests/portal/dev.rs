//! `docket dev`, as a newcomer runs it: the real binary seeds portal logins
//! that work with the printed password, and a `support` web form whose
//! confirmation email lands in the dev mailbox; the knowledge base's demo
//! categories and articles.

use std::{
    collections::HashMap,
    process::{Command, Stdio},
    time::Duration,
};

use docket_proto::portal::v1::{
    self as portal, portal_auth_service_client::PortalAuthServiceClient, portal_case_service_client::PortalCaseServiceClient,
    web_form_service_client::WebFormServiceClient,
};
use tonic::transport::Channel;

use crate::common::{Bearer, ServingStatus, wait_for_health};

/// The dev tokens `docket dev` accepts (see src/dev.rs).
const DEV_SERVICE_TOKEN: &str = "docket-dev-service-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docket_dev_seeds_portal_logins_and_a_support_form_that_work() {
    let data = tempfile::tempdir().unwrap();
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (port, http_port, metrics_port) = (free_port(), free_port(), free_port());
    let mut dev = Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["dev", "--data-dir"])
        .arg(data.path())
        .args(["--grpc-port", &port.to_string()])
        .args(["--http-port", &http_port.to_string()])
        .args(["--metrics-port", &metrics_port.to_string()])
        .env_remove("RUST_LOG")
        .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
    wait_for_health(channel.clone(), ServingStatus::Serving, Duration::from_secs(60)).await;
    let bearer = Bearer(Some(format!("Bearer {DEV_SERVICE_TOKEN}").parse().unwrap()));

    let session = PortalAuthServiceClient::with_interceptor(channel.clone(), bearer.clone())
        .login(portal::LoginRequest {
            email: "petra.schmidt@acme.example".into(),
            password: docket_portal::demo::DEV_PASSWORD.into(),
            client_ip: "127.0.0.1".into(),
            device_token: String::new(),
        })
        .await
        .expect("the printed dev password logs the demo contact in")
        .into_inner();
    assert!(session.portal_manager);
    let cases = PortalCaseServiceClient::with_interceptor(channel.clone(), bearer.clone())
        .list_my_cases(portal::ListMyCasesRequest { session_id: session.session_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!cases.cases.is_empty(), "the portal manager sees Acme's demo cases");

    // The knowledge base starts with the help center's demo categories.
    let categories = docket_proto::knowledge::v1::category_service_client::CategoryServiceClient::with_interceptor(
        channel.clone(),
        bearer.clone(),
    )
    .list_categories(docket_proto::knowledge::v1::ListCategoriesRequest {})
    .await
    .unwrap()
    .into_inner();
    let names: Vec<&str> = categories.categories.iter().map(|c| c.name.as_str()).collect();
    let demo: Vec<&str> = docket_knowledge::demo::CATEGORIES.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, demo);
    // ... and published articles: the public ones for anyone.
    let found = docket_proto::knowledge::v1::article_service_client::ArticleServiceClient::with_interceptor(
        channel.clone(),
        bearer.clone(),
    )
    .search_articles(docket_proto::knowledge::v1::SearchArticlesRequest { query: "printer".into(), ..Default::default() })
    .await
    .unwrap()
    .into_inner();
    let titles: Vec<&str> = found.hits.iter().map(|hit| hit.title.as_str()).collect();
    assert_eq!(titles, ["Printer shows error E-13 (paper jam)"], "only the public printer article, for a visitor");

    let email = format!("newcomer-{}@example.org", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let values: HashMap<String, String> = [
        ("name", "New Comer"),
        ("email", email.as_str()),
        ("subject", "Coffee machine leaks"),
        ("message", "Water all over the floor."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let answer = WebFormServiceClient::with_interceptor(channel, bearer)
        .submit_form(portal::SubmitFormRequest {
            slug: "support".into(),
            values,
            submission_id: uuid::Uuid::now_v7().to_string(),
            client_ip: "127.0.0.1".into(),
            origin: String::new(),
        })
        .await
        .expect("the demo support form takes a submission")
        .into_inner();
    let mailbox = data.path().join("mailbox");
    // The email links to the portal this docket dev serves (--http-port).
    let portal_link = format!("http://127.0.0.1:{http_port}/portal/cases/{}", answer.case_number);
    let confirmed = crate::common::eventually_within(Duration::from_secs(20), "the confirmation email", async || {
        let found = std::fs::read_dir(&mailbox).into_iter().flatten().flatten().any(|entry| {
            let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
            raw.contains(&email) && raw.contains(&answer.case_number) && raw.contains(&portal_link)
        });
        if found { Ok(true) } else { Err("not there yet") }
    })
    .await;
    // The same metrics as `docket serve`, on the port asked for.
    let metrics = crate::common::metrics::scrape(metrics_port).await.expect("docket dev serves /metrics");
    let login = crate::common::metrics::sample(
        &metrics,
        "docket_grpc_requests_total",
        &["method=\"/docket.portal.v1.PortalAuthService/Login\"", "code=\"OK\""],
    );
    assert_eq!(login, Some(1.0), "the login call is counted: {metrics}");
    let logins = crate::common::metrics::sample(&metrics, "docket_portal_logins_total", &["outcome=\"ok\""]);
    assert_eq!(logins, Some(1.0), "the portal counts the login: {metrics}");
    let _ = dev.kill();
    let output = dev.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains(docket_portal::demo::DEV_PASSWORD), "docket dev prints the portal password: {printed}");
    assert!(printed.contains("petra.schmidt@acme.example"), "{printed}");
    assert!(
        printed.contains(&format!("http://127.0.0.1:{metrics_port}/metrics")),
        "docket dev prints where its metrics are: {printed}"
    );
    assert!(
        confirmed,
        "the confirmation of {} to {email}, linking {portal_link}, is in {}",
        answer.case_number,
        mailbox.display()
    );
}
