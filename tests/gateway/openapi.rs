//! The OpenAPI document matches what the API does: schemathesis generates
//! requests from the document (valid and invalid ones, and sequences that
//! follow the links between operations) against a running gateway and
//! case service on PostgreSQL, and fails on any server error, any answer
//! the document does not describe (status, content type, headers, schema),
//! any request the document calls valid that is refused, and any it calls
//! invalid that is taken.

use std::{process::Stdio, time::Duration};

use crate::{
    api::{account_and_contact, new_case},
    common::{ADMIN, Backend, gateway::GatewayApp},
};

/// How many cases schemathesis generates per operation in the fuzzing
/// phase: enough to cover every operation. (The coverage phase, which
/// makes the boundary cases of every constraint, takes most of the run.)
const EXAMPLES_PER_OPERATION: &str = "10";

/// What schemathesis is told besides the document: the checks, and where
/// the document cannot say what is valid (each with why; none of these is a
/// mismatch between the document and the API). `@ACCOUNT_ID@`,
/// `@CONTACT_ID@` and `@CASE_ID@` stand for records the test made (not
/// `{account}` and the like: the operations' paths are written so).
const CONFIG: &str = r#"
# The checks: no server error, every answer as documented, and both
# directions of the document's promise: what it calls valid is taken
# (positive_data_acceptance), what it calls invalid is refused
# (negative_data_rejection).
[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_headers_conformance.enabled = true
response_schema_conformance.enabled = true
unsupported_method.enabled = true
negative_data_rejection.enabled = true

# A well-formed etag that is not the record's current one is refused with
# 412: the state of the record, like 409, not the shape of the request.
[checks.positive_data_acceptance]
enabled = true
# Likewise 422: an Idempotency-Key used before with another request.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]

# References: a well-formed id of a record that does not exist is refused,
# and no schema can say which ids exist; so references name records that do.
# A page token is opaque (only the tokens a list returned are valid); the
# stateful phase pages the lists.
[parameters]
"query.page_token" = ""
"body.type_id" = "technical_issue"
"body.case_type_id" = "technical_issue"
"body.account_id" = "@ACCOUNT_ID@"
"body.contact_id" = "@CONTACT_ID@"
"body.contacts" = [{ contact_id = "@CONTACT_ID@", primary = true }]
"body.team_id" = ""
"body.service_contract_id" = ""
"body.service_contract_number" = ""
# A form's fields have rules across fields (unique names, one field per
# target, options only on a select, a length within its target's) that JSON
# Schema cannot say; tests/gateway/bad_input.rs and staff_api.rs test them.
"body.fields" = [{ name = "email", label = "Email", kind = "email", target = "contact_email", required = true }]
# Knowledge base: an article's category and related articles, a category's
# parent and a linked case must exist.
"body.category_id" = ""
"body.related_article_ids" = []
"body.parent_id" = ""
"body.case_id" = "@CASE_ID@"

# A publish time more than ten years away is refused; a date-time schema
# cannot bound a date, so generated valid publishes name none (now).
[[operations]]
include-path = "/kb/articles/{article}/publish"
include-method = "POST"
parameters = { "body.publish_time" = "2030-01-01T00:00:00Z" }

# An upload's bytes must be a file of a kind the service takes (PNG, JPEG,
# GIF, WebP, PDF or UTF-8 text, read from its first bytes), which no schema
# says; tests/gateway/kb_api.rs uploads real files. Invalid data is still checked.
[[operations]]
include-path = "/kb/articles/{article}/attachments"
include-method = "POST"
checks.positive_data_acceptance.enabled = false

# Whether a search holds a word to look for once quotes, `-` and `or` are
# read is the search syntax's rule, not a pattern's; and deflection statistics
# need a period that ends after it starts, at most two years long. Invalid
# data is still checked.
[[operations]]
include-path = ["/kb/search", "/kb/deflection"]
include-method = "GET"
checks.positive_data_acceptance.enabled = false

# A new case's owner: none (an update cannot name one).
[[operations]]
include-path = "/cases"
include-method = "POST"
parameters = { "body.owner_id" = "" }

# Assigning names an owner, who must be a staff user that exists; the test
# has none, and fuzzing does not apply a pinned `body.owner_id` to this
# operation. Invalid data is still checked; tests/gateway/api.rs assigns.
[[operations]]
include-path = "/cases/{case}/assign"
include-method = "POST"
checks.positive_data_acceptance.enabled = false

# Exactly one of `contract_id` and `sla_policy_id`, and a period that ends
# after it starts: OpenAPI cannot say how parameters depend on each other,
# so most generated "valid" requests are not. Invalid ones are still checked.
[[operations]]
include-path = "/sla/compliance"
include-method = "GET"
checks.positive_data_acceptance.enabled = false

# The examples and coverage phases do not apply the references above (the
# `body.` values of [parameters]), so their "valid" creates and updates of
# cases and forms name records that do not exist. Fuzzing and the stateful
# phase check these operations' valid data; every phase checks the rest.
[[operations]]
include-path = ["/cases", "/cases/{case}", "/forms", "/forms/{form}"]
include-method = ["POST", "PATCH"]
phases.examples.checks.positive_data_acceptance.enabled = false
phases.coverage.checks.positive_data_acceptance.enabled = false
# The stateful phase links a contact from one response to a case of another
# account; "a case's contacts belong to its account" is a rule across
# records that no schema can state.
phases.stateful.checks.positive_data_acceptance.enabled = false

# A period report needs its period, forwards and at most two years, and a
# repeat report a window of 1 to 365 days and its key: rules across
# parameters, which OpenAPI cannot state (as for /sla/compliance). Invalid
# requests are still checked; tests/gateway/reports.rs covers valid ones.
[[operations]]
include-path = ["/reports/volume", "/reports/resolution-times", "/reports/repeat-cases"]
include-method = "GET"
checks.positive_data_acceptance.enabled = false

# An assignment rule names a team (a person for `person` rules, a capacity
# for `capacity` rules) that must exist; a reorder names every rule once;
# the default team must exist. Records the test does not have, and rules
# across fields and records that no schema can state. Invalid data is
# still checked; tests/gateway/routing.rs covers valid data.
[[operations]]
include-path = ["/routing/rules", "/routing/rules/{rule}", "/routing/rules/order", "/routing/settings"]
include-method = ["POST", "PATCH", "PUT"]
checks.positive_data_acceptance.enabled = false

# The stateful phase infers links from every response field to every path
# parameter, and feeds a field that is null (a form's `account_id`) into a
# path as the text "None", which the document's id pattern already refuses;
# it is not valid data, so the valid-data check does not apply to updates by
# id there. Fuzzing checks these operations' valid data.
[[operations]]
include-path = ["/accounts/{account}", "/contacts/{contact}", "/cases/{case}", "/forms/{form}", "/portal-users/{contact}"]
include-method = ["PATCH", "DELETE"]
phases.stateful.checks.positive_data_acceptance.enabled = false
"#;

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
    let config = CONFIG
        .replace("@ACCOUNT_ID@", account["id"].as_str().expect("an account id"))
        .replace("@CONTACT_ID@", contact["id"].as_str().expect("a contact id"));
    let case = new_case(&gw, &account, &contact, "Printer on fire").await;
    let config = config.replace("@CASE_ID@", case["id"].as_str().expect("a case id"));

    let workdir = tempfile::tempdir().expect("a work folder");
    std::fs::write(workdir.path().join("schemathesis.toml"), config).expect("the schemathesis configuration");
    let run = tokio::process::Command::new("schemathesis")
        .current_dir(workdir.path())
        .args(["--config-file", "schemathesis.toml", "run", &format!("{}/api/v1/openapi.json", gw.base)])
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
        // One worker: with several, CPython 3.11 can fail inside hypothesis
        // ("AST constructor recursion depth mismatch") — a crash of the
        // checker, not of the API.
        .args(["--workers", "1", "--no-color", "--generation-database", "none", "--request-timeout", "30"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // A guard against a hang (each request has its own 30 s timeout): a run
    // takes ~3 minutes alone on a fast 2-core machine and longer on a slow
    // one (its generator is CPU-bound), and tests/run.sh runs it beside the
    // other tests.
    let output = tokio::time::timeout(Duration::from_secs(3600), run)
        .await
        .expect("schemathesis finished within 60 minutes")
        .expect("schemathesis ran");
    let report = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found problems:\n{report}");
    assert!(report.contains("72 selected / 72 total"), "schemathesis did not see every operation:\n{report}");
    // An `[[operations]]` entry that names no operation is one whose
    // exception silently does not apply.
    assert!(!report.contains("Unmatched filters"), "an [[operations]] entry of CONFIG names no operation:\n{report}");
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
    assert_eq!(operations, 72);
    for (name, response) in doc["components"]["responses"].as_object().expect("shared responses") {
        let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/Problem", "{name}");
    }
}
