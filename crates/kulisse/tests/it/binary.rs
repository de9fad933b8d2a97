//! The built binary: CLI commands, startup output, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kulisse");

#[test]
fn version_and_help_describe_the_cli() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("kulisse "));
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--http") && help.contains("--publicDir") && help.contains("--origins"),
        "{help}"
    );
}

#[test]
fn superuser_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    assert!(
        run(&["superuser", "create", "a@example.com", "1234567890"])
            .status
            .success()
    );
    assert!(
        !run(&["superuser", "create", "a@example.com", "1234567890"])
            .status
            .success(),
        "create refuses duplicates"
    );
    assert!(
        run(&["superuser", "upsert", "a@example.com", "0987654321"])
            .status
            .success()
    );
    assert!(
        !run(&["superuser", "upsert", "not-an-email", "0987654321"])
            .status
            .success()
    );
    assert!(
        run(&["superuser", "delete", "a@example.com"])
            .status
            .success()
    );
    assert!(
        !run(&["superuser", "delete", "a@example.com"])
            .status
            .success()
    );
}

#[test]
fn serve_answers_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("Server started at ").unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("{addr}/api/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["message"], "API is healthy.");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("database closed")),
        "{rest:?}"
    );
    assert!(dir.path().join("data.db").exists());
}
