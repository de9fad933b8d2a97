//! Faults (issue #18): the disk fills up, and the WAL's writes fail with I/O errors, under
//! write bursts on SQLite. Each write the fault stops is refused with a clear error, reads
//! go on, writes succeed again once the fault is gone, and after a `kill -9` every
//! acknowledged write is there and `PRAGMA integrity_check` is ok.
//!
//! The full disk is a size-limited tmpfs (the test mounts it: it needs root, as CI has);
//! the I/O errors come from an `LD_PRELOAD` shim (`tests/fault_shim/wal_io_errors.c`,
//! built here with the C compiler).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash::{integrity_check, stored_ids};
use crate::process::ServerProcess;

/// Clients writing at once.
const WRITERS: usize = 4;

/// Whether a test that needs what `what` names may skip: only outside CI.
fn skip_unless_ci(what: &str) -> bool {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {what}"
    );
    eprintln!("skipped: {what}");
    true
}

/// A tmpfs of a given size mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    at: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let at = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { at })
    }

    /// Gives it `size` (more room: space returns).
    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.at.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.at.path())
            .status();
    }
}

/// A collection `acks` anyone may create in and list, with a text field `body`.
async fn acks(srv: &ServerProcess) {
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "acks", "listRule": "", "createRule": "",
                "fields": [{"name": "body", "type": "text", "max": 1_000_000}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// Creates records with a `payload`-byte body until one is refused: the refusal. The id of
/// each acknowledged one goes to `acked`.
async fn write_until_refused(
    base: String,
    payload: usize,
    acked: Arc<Mutex<Vec<String>>>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let body = "x".repeat(payload);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no write was ever refused");
        let res = http
            .post(format!("{base}/api/collections/acks/records"))
            .json(&json!({"body": body}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return (status, answer);
        }
        acked
            .lock()
            .unwrap()
            .push(answer["id"].as_str().unwrap().to_owned());
    }
}

/// [`WRITERS`] clients writing until each is refused, started now.
fn bursts(
    srv: &ServerProcess,
    payload: usize,
    acked: &Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<(u16, Value)>> {
    (0..WRITERS)
        .map(|_| {
            tokio::spawn(write_until_refused(
                srv.base.clone(),
                payload,
                Arc::clone(acked),
            ))
        })
        .collect()
}

/// Writes again, up to 10 s, until one is acknowledged: its id.
async fn writes_again(srv: &ServerProcess) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/acks/records",
                None,
                Some(json!({"body": "after the fault"})),
            )
            .await;
        if s == 200 {
            return body["id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "writes never resumed: {s} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads work while writes fail.
async fn reads_go_on(srv: &ServerProcess) {
    let (s, body) = srv
        .send(
            "GET",
            "/api/collections/acks/records?perPage=1&fields=id",
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// After a `kill -9`, every write in `acked` is there and the database checks ok.
async fn nothing_acknowledged_lost(srv: ServerProcess, acked: &[String]) {
    let srv = tokio::task::spawn_blocking(move || srv.kill_and_restart())
        .await
        .unwrap();
    let stored = stored_ids(&srv).await;
    let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(
        lost,
        0,
        "{lost} of {} acknowledged writes lost",
        acked.len()
    );
    assert_eq!(integrity_check(srv.dir()), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_writes_clearly_and_they_resume_when_space_returns() {
    let Some(disk) = Tmpfs::mount("24m") else {
        skip_unless_ci("no tmpfs can be mounted (the test needs root)");
        return;
    };
    let dir = tempfile::tempdir_in(disk.at.path()).unwrap();
    let srv = ServerProcess::start_in(dir, &[]).await;
    acks(&srv).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    for writer in bursts(&srv, 32 * 1024, &acked) {
        let (status, body) = writer.await.unwrap();
        assert_eq!(
            (status, body),
            (
                507,
                json!({"status": 507, "data": {},
                    "message": "Not enough disk space to save the change; nothing was saved."})
            )
        );
    }
    let filled = acked.lock().unwrap().len();
    assert!(filled > 100, "the disk filled after only {filled} writes");
    eprintln!("the disk filled after {filled} acknowledged writes");
    reads_go_on(&srv).await;

    disk.resize("64m");
    let after = writes_again(&srv).await;
    let mut acked = acked.lock().unwrap().clone();
    acked.push(after);
    nothing_acknowledged_lost(srv, &acked).await;
}

/// The fault shim, built into `dir`: its path.
fn build_shim(dir: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault_shim/wal_io_errors.c");
    let shim = dir.join("wal_io_errors.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .is_ok_and(|s| s.success());
    built.then_some(shim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wal_io_errors_refuse_writes_and_leave_the_database_consistent() {
    let tools = tempfile::tempdir().unwrap();
    let Some(shim) = build_shim(tools.path()) else {
        skip_unless_ci("the fault shim cannot be built (no C compiler)");
        return;
    };
    let trigger = tools.path().join("fail-now");
    let srv = ServerProcess::start_in(
        tempfile::tempdir().unwrap(),
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("KULISSE_FAULT_TRIGGER", trigger.to_str().unwrap()),
        ],
    )
    .await;
    acks(&srv).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers = bursts(&srv, 512, &acked);
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&trigger, b"").unwrap();
    for writer in writers {
        let (status, body) = writer.await.unwrap();
        assert_eq!(
            (status, body),
            (
                503,
                json!({"status": 503, "data": {},
                    "message": "The service is temporarily unavailable."})
            )
        );
    }
    let before = acked.lock().unwrap().len();
    assert!(before > 10, "only {before} writes before the fault");
    eprintln!("{before} acknowledged writes before the WAL failed");
    reads_go_on(&srv).await;

    std::fs::remove_file(&trigger).unwrap();
    let after = writes_again(&srv).await;
    let mut acked = acked.lock().unwrap().clone();
    acked.push(after);
    nothing_acknowledged_lost(srv, &acked).await;
}
