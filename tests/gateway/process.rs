//! `docket serve gateway` as an operator runs it: a process of its own with
//! no database, configured from the environment, refusing a bad setting at
//! start naming the key, and stopping cleanly on SIGTERM.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::{AGENT, Backend, Running, SERVICE, TestApp, eventually_within, free_port, gateway::SECRET};

fn gateway_command(case_url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command
        .args(["serve", "gateway"])
        // No database answers here: the gateway must not need one.
        .env("DOCKET__DATABASE__URL", "postgres://nobody@127.0.0.1:1/nothing")
        .env("DOCKET__GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
        .env("DOCKET__GATEWAY__CASE_SERVICE_URL", case_url)
        .env("DOCKET__GATEWAY__PORTAL_SERVICE_URL", case_url)
        .env("DOCKET__GATEWAY__BILLING_SERVICE_URL", case_url)
        .env("DOCKET__GATEWAY__KNOWLEDGE_SERVICE_URL", case_url)
        .env("DOCKET__GATEWAY__SERVICE_TOKEN", SERVICE)
        .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// The status line of a plain HTTP/1.1 GET, or `None` while nothing answers.
async fn status_of(port: u16, path: &str, token: Option<&str>) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_process_needs_no_database_and_stops_cleanly_on_sigterm() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let port = free_port();
    let mut gateway = Running(
        gateway_command(&format!("http://{}", app.addr), port)
            .env("DOCKET__GATEWAY__SECRET_KEY", SECRET)
            .spawn()
            .expect("start docket serve gateway"),
    );
    eventually_within(Duration::from_secs(10), "the gateway to answer /readyz with 200", async || {
        match status_of(port, "/readyz", None).await {
            Some(line) if line == "HTTP/1.1 200 OK" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(status_of(port, "/api/v1/accounts", Some(AGENT)).await.as_deref(), Some("HTTP/1.1 200 OK"));

    let pid = gateway.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = eventually_within(Duration::from_secs(10), "the gateway to stop after SIGTERM", async || {
        gateway.0.try_wait().unwrap().ok_or("still running")
    })
    .await;
    assert!(status.success(), "the gateway exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_a_secret_key_or_with_a_bad_setting_does_not_start() {
    let port = free_port();
    for (extra, key) in [
        (vec![], "gateway.secret_key"),
        (vec![("DOCKET__GATEWAY__SECRET_KEY", SECRET), ("DOCKET__GATEWAY__BRAND_COLOR", "#ffff00")], "gateway.brand_color"),
        (
            vec![("DOCKET__GATEWAY__SECRET_KEY", SECRET), ("DOCKET__GATEWAY__BODY_LIMIT_BYTES", "huge")],
            "gateway.body_limit_bytes",
        ),
    ] {
        let mut command = gateway_command("http://127.0.0.1:1", port);
        for (name, value) in &extra {
            command.env(name, value);
        }
        let output = command.output().expect("run docket serve gateway");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {extra:?}");
        assert!(stderr.contains(key), "the error does not name {key}: {stderr}");
    }
}
