//! The command line: configuration errors, migrations, help.

use std::process::Command;

use crate::common::{check_postgres, postgres_url};

fn docket() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command.env_remove("RUST_LOG").env("DOCKET__TELEMETRY__LOG_FILTER", "warn");
    command
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    for (key, value, named) in [
        ("DOCKET__GRPC__REQUEST_TIMEOUT_SECS", "soon", "grpc.request_timeout_secs"),
        ("DOCKET__DATABASE__URL", "mysql://db/docket", "database.url"),
        ("DOCKET__GRPC__LISTEN", "everywhere", "grpc.listen"),
        ("DOCKET__TELEMETRY__LOG_FORMAT", "xml", "telemetry.log_format"),
        ("DOCKET__TELEMETRY__METRICS_LISTEN", "port 9464", "telemetry.metrics_listen"),
    ] {
        let output = docket().args(["serve", "case"]).env(key, value).output().expect("run docket");
        assert_eq!(output.status.code(), Some(2), "{key}={value} must stop start-up");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{key}={value}: the message should name `{named}`, got: {stderr}");
    }
}

#[test]
fn every_command_has_help() {
    for args in
        [&["--help"][..], &["serve", "--help"], &["dev", "--help"], &["migrate", "--help"], &["migrate", "down", "--help"]]
    {
        let output = docket().args(args).output().expect("run docket");
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let text = String::from_utf8(docket().arg("--help").output().unwrap().stdout).unwrap();
    for command in ["serve", "dev", "migrate"] {
        assert!(text.contains(command), "{command} missing from help: {text}");
    }
}

#[tokio::test]
async fn migrate_applies_reports_and_rolls_back_a_schema() {
    check_postgres().await;
    let prefix = format!("t{}_", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    let run = |args: &[&str]| {
        let output = docket()
            .args(["migrate"])
            .args(args)
            .env("DOCKET__DATABASE__URL", postgres_url())
            .env("DOCKET__DATABASE__SCHEMA_PREFIX", &prefix)
            .output()
            .expect("run docket migrate");
        assert!(output.status.success(), "migrate {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(run(&["status"]).contains("pending"));
    let up = run(&["up"]);
    assert!(up.contains("case: up to date") && up.contains("notification: up to date"), "{up}");
    let status = run(&["status"]);
    assert!(status.contains("m20261123_000001_create_case_schema applied"), "{status}");
    run(&["down", "--steps", "1"]);
    assert!(run(&["status"]).contains("pending"));

    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    for service in docket_migrations::SERVICES {
        docket_kit::db::drop_schema(&db, &format!("{prefix}{service}")).await.unwrap();
    }
}
