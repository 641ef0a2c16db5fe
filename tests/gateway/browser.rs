//! Pages in a real browser: the suite (gateway and services on PostgreSQL)
//! starts here, and each Node script under `tests/browser/` drives Debian's
//! chromium through playwright-core, asserting what a user sees and saving a
//! screenshot of every step under `target/artifacts/browser/<script>/`.
//! `tests/run.sh` installs chromium and the npm packages.

use std::{path::Path, process::Stdio, time::Duration};

use crate::common::{AGENT, Backend, gateway::GatewayApp};

/// Runs `tests/browser/<script>` against `gw`; fails with its output.
async fn run_script(gw: &GatewayApp, script: &str) {
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
    run_script(&gw, "dev_mail.mjs").await;
}
