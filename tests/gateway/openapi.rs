//! The OpenAPI document matches what the API does: schemathesis generates
//! requests from the document (valid and invalid ones, and sequences that
//! follow the links between operations) against a running gateway and
//! case service on PostgreSQL, and fails on any server error or any answer
//! the document does not describe (status, content type, headers, schema).

use std::{process::Stdio, time::Duration};

use crate::{
    api::{account_and_contact, new_case},
    common::{ADMIN, Backend, gateway::GatewayApp},
};

/// How many cases schemathesis generates per operation and phase: enough
/// to cover every operation, few enough for a run of well under a minute.
const EXAMPLES_PER_OPERATION: &str = "12";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    let version = std::process::Command::new("schemathesis").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "schemathesis is not installed: run `python3 -m pip install schemathesis` (tests/run.sh does)"
    );
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    // Records for the reads to find, besides the ones schemathesis creates.
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    new_case(&gw, &account, &contact, "Printer on fire").await;

    let workdir = tempfile::tempdir().expect("a work folder");
    let run = tokio::process::Command::new("schemathesis")
        .current_dir(workdir.path())
        .args(["run", &format!("{}/api/v1/openapi.json", gw.base)])
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,unsupported_method",
        ])
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
        // One worker: with several, CPython 3.11 can fail inside hypothesis
        // ("AST constructor recursion depth mismatch") — a crash of the
        // checker, not of the API.
        .args(["--workers", "1", "--no-color", "--generation-database", "none", "--request-timeout", "30"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("schemathesis finished within 5 minutes")
        .expect("schemathesis ran");
    let report = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found problems:\n{report}");
    assert!(report.contains("37 selected / 37 total"), "schemathesis did not see every operation:\n{report}");
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_the_problems_the_gateway_can_answer() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    // The document is public: tools fetch it before they have a token.
    let doc = gw.send(http::Method::GET, "/api/v1/openapi.json", None, &[], None).await.expect(200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("an item") {
            operations += 1;
            let responses = operation["responses"].as_object().expect("responses");
            let mut expected = vec!["400", "401", "403", "500", "503", "504"];
            if operation.get("requestBody").is_some() {
                expected.extend(["413", "415"]);
            }
            for status in expected {
                assert!(responses.contains_key(status), "{method} {path} does not document {status}");
            }
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} documents no success");
        }
    }
    assert_eq!(operations, 37);
    for (name, response) in doc["components"]["responses"].as_object().expect("shared responses") {
        let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/Problem", "{name}");
    }
}
