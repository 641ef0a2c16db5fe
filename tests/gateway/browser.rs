//! Pages in a real browser: the suite (gateway and services on PostgreSQL)
//! starts here, and each Node script under `tests/browser/` drives Debian's
//! chromium through playwright-core, asserting what a user sees and saving a
//! screenshot of every step under `target/artifacts/browser/<script>/`.
//! `tests/run.sh` installs chromium and the npm packages.

use std::{path::Path, process::Stdio, time::Duration};

use docket_proto::notification::v1 as nb;

use crate::common::{ADMIN, AGENT, Backend, TestApp, free_port, gateway::GatewayApp, smtp::SmtpSink};

/// Runs `tests/browser/<script>` against `gw` with `env` added; fails with its output.
async fn run_script(gw: &GatewayApp, script: &str, env: &[(&str, String)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run tests/run.sh, or `apt-get install chromium`"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run tests/run.sh, or `npm ci` in tests/browser"
    );
    let artifacts = root.join("target/artifacts/browser");
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join(script))
        .current_dir(&browser_dir)
        .env("DOCKET_BASE_URL", &gw.base)
        .env("DOCKET_TOKEN", AGENT)
        .env("DOCKET_ARTIFACTS", &artifacts)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 3 minutes"))
        .expect("node runs");
    let report = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{script} failed:\n{report}");
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_finds_the_confirmation_of_a_new_case_in_the_dev_mailbox() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    run_script(&gw, "dev_mail.mjs", &[]).await;
}

/// The customer's way from the web form to a conversation in the portal,
/// with the emails going through a real SMTP server; and the form embedded
/// in an iframe on an allowed site and on another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_becomes_a_portal_customer_and_talks_with_staff() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| sink.receive_from(settings)).await;
    let gw = GatewayApp::in_front_of(app, false).await;
    // Links in emails lead to this gateway.
    let current =
        gw.app.notifications(ADMIN).get_settings(nb::GetSettingsRequest {}).await.expect("notification settings").into_inner();
    gw.app
        .notifications(ADMIN)
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(nb::Settings { portal_base_url: format!("{}/portal", gw.base), ..current }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["portal_base_url".to_owned()] }),
            reason: String::new(),
        })
        .await
        .expect("point email links at the test gateway");
    let (allowed_port, other_port) = (free_port(), free_port());
    let mut form = crate::web_forms::support_form(&gw).await;
    form.allowed_origins = vec![format!("http://127.0.0.1:{allowed_port}")];
    let form = gw
        .app
        .web_forms(ADMIN)
        .update_web_form(docket_proto::portal::v1::UpdateWebFormRequest {
            web_form: Some(form),
            update_mask: Some(prost_types::FieldMask { paths: vec!["allowed_origins".to_owned()] }),
            reason: "embedded on the test shop".to_owned(),
        })
        .await
        .expect("allow the test shop")
        .into_inner();
    run_script(
        &gw,
        "portal_flow.mjs",
        &[
            ("DOCKET_FORM_SLUG", form.slug.clone()),
            ("DOCKET_MAILDIR", sink.maildir().display().to_string()),
            ("DOCKET_EMBED_ALLOWED_PORT", allowed_port.to_string()),
            ("DOCKET_EMBED_OTHER_PORT", other_port.to_string()),
        ],
    )
    .await;
}

/// The help center read in a browser, with the accessibility check on
/// every page, and an article suggested live while a customer types the
/// subject of a new case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_center_reads_well_and_suggests_answers_as_a_customer_types() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let shelf = crate::help::shelf(&gw).await;
    let world = crate::support::world(&gw.app).await;
    run_script(
        &gw,
        "help_center.mjs",
        &[
            ("DOCKET_ARTICLE_TITLE", shelf.public.title.clone()),
            ("DOCKET_CUSTOMER_EMAIL", world.colleague.contact.email.clone()),
            ("DOCKET_PASSWORD", crate::support::PASSWORD.to_owned()),
        ],
    )
    .await;
}
