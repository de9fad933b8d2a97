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
        help.contains("--http")
            && help.contains("--publicDir")
            && help.contains("--origins")
            && help.contains("--query-timeout"),
        "{help}"
    );
}

#[test]
fn backup_commands_make_list_and_restore_backups() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    assert!(run(&["superuser", "upsert", "a@example.com", "1234567890"]).0);
    let (ok, out, err) = run(&["backup", "create", "by-cli.zip"]);
    assert!(ok, "{err}");
    assert_eq!(out, "Backup by-cli.zip made.\n");
    assert!(dir.path().join("backups/by-cli.zip").is_file());
    let (ok, out, _) = run(&["backup", "list"]);
    assert!(ok && out.starts_with("by-cli.zip "), "{out}");
    let (ok, _, err) = run(&["backup", "create", "Not Valid.zip"]);
    assert!(!ok);
    assert!(
        err.contains("An error occurred while validating the submitted data."),
        "{err}"
    );
    assert!(run(&["superuser", "delete", "a@example.com"]).0);
    let (ok, out, err) = run(&["backup", "restore", "by-cli.zip"]);
    assert!(ok, "{err}");
    assert_eq!(out, "Backup by-cli.zip restored.\n");
    // The superuser deleted after the backup is back.
    let (ok, _, err) = run(&["superuser", "create", "a@example.com", "1234567890"]);
    assert!(!ok, "the restored superuser exists: {err}");
    let (ok, _, err) = run(&["backup", "restore", "nothing.zip"]);
    assert!(!ok && err.contains("nothing.zip"), "{err}");
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
fn log_lines_can_be_json_for_a_collector() {
    let dir = tempfile::tempdir().unwrap();
    let run = |format: &str, dir: &std::path::Path| {
        Command::new(BIN)
            .args(["superuser", "upsert", "a@example.com", "1234567890"])
            .args(["--log-format", format, "--dir"])
            .arg(dir)
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    };
    // A new data dir's migrations are logged at `info`: one JSON object per line.
    let out = run("json", dir.path());
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let migration = lines
        .iter()
        .find(|l| l["fields"]["message"] == "applied a system migration")
        .unwrap_or_else(|| panic!("no migration line in {stderr}"));
    assert_eq!(migration["level"], "INFO");
    assert!(migration["fields"]["version"].is_u64(), "{migration}");
    assert!(migration["timestamp"].is_string());
    // Text stays the default.
    let other = tempfile::tempdir().unwrap();
    let out = run("text", other.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("applied a system migration") && !stderr.starts_with('{'));
    assert!(
        !run("yaml", other.path()).status.success(),
        "unknown formats are refused"
    );
}

/// `kulisse serve` on a free port over `dir`: the process, its address, and its stdout's
/// remaining lines.
fn serve_in(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    String,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("Server started at ").unwrap().to_owned();
    (child, addr, lines)
}

/// Sends SIGTERM and waits, at most 10 s, for the graceful shutdown to end: the process
/// exits 0. Panics (killing it) past the bound.
fn terminate(child: &mut std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let signalled = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if signalled.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still running 10 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

/// The rest of a server's stdout says it closed its database (the last step of a
/// graceful shutdown).
fn closed_its_database(lines: std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("database closed")),
        "{rest:?}"
    );
}

#[test]
fn serve_answers_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, lines) = serve_in(dir.path());
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
    terminate(&mut child);
    closed_its_database(lines);
    assert!(dir.path().join("data.db").exists());
}

/// SIGTERM the moment the server says it started still shuts it down gracefully: the
/// handlers are installed before it announces itself (a handler installed lazily let an
/// early signal kill the process outright).
#[test]
fn sigterm_right_after_start_shuts_down_gracefully() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _addr, lines) = serve_in(dir.path());
        terminate(&mut child);
        closed_its_database(lines);
    }
}

/// SIGTERM with a realtime client connected: its stream is ended, so the graceful
/// shutdown does not wait out the stream's idle timeout.
#[test]
fn sigterm_ends_open_realtime_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, lines) = serve_in(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let _stream = rt.block_on(kulisse_testkit::Sse::connect(&client, &addr));
    terminate(&mut child);
    closed_its_database(lines);
}

/// SIGTERM while a query would run forever (a view with an endless recursive CTE, under
/// the default 30 s timeout): the query is interrupted, the request answered, and the
/// process exits at once. Before, the shutdown waited for the query, which never ended.
fn sigterm_interrupts_a_query_that_never_ends(db: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let with_db = |cmd: &mut Command| {
        cmd.arg("--dir").arg(dir.path());
        if let Some(url) = &db {
            cmd.args(["--db", url]);
        }
    };
    let mut upsert = Command::new(BIN);
    upsert.args(["superuser", "upsert", "admin@example.com", "1234567890"]);
    with_db(&mut upsert);
    assert!(upsert.output().unwrap().status.success());
    let mut serve = Command::new(BIN);
    serve
        .args(["serve", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped());
    with_db(&mut serve);
    let mut child = serve.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("Server started at ").unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    // The request runs as a task on `rt`, answered (or not) after the signal.
    #[allow(clippy::async_yields_async)]
    let in_flight = rt.block_on(async {
        let auth: serde_json::Value = http
            .post(format!(
                "{addr}/api/collections/_superusers/auth-with-password"
            ))
            .json(&serde_json::json!({"identity": "admin@example.com", "password": "1234567890"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = auth["token"].as_str().unwrap().to_owned();
        let created = http
            .post(format!("{addr}/api/collections"))
            .header("Authorization", &token)
            .json(&serde_json::json!({"name": "endless", "type": "view",
                "viewQuery": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) \
                              SELECT 'forever' AS id, max(x) AS top FROM r"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
        let request = http
            .get(format!("{addr}/api/collections/endless/records"))
            .header("Authorization", &token)
            .send();
        let in_flight = tokio::spawn(request);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        in_flight
    });
    terminate(&mut child);
    let answer = rt.block_on(in_flight).unwrap().unwrap();
    assert_eq!(answer.status(), 400, "the interrupted request is answered");
}

#[test]
fn sigterm_interrupts_a_query_that_never_ends_on_sqlite() {
    sigterm_interrupts_a_query_that_never_ends(None);
}

#[test]
fn sigterm_interrupts_a_query_that_never_ends_on_postgres() {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt
        .block_on(kulisse_testkit::fresh_database())
        .expect("a PostgreSQL server");
    sigterm_interrupts_a_query_that_never_ends(Some(url));
}
