//! Faults (issue #18): `kill -9` in the middle of write bursts on SQLite loses no write the
//! server acknowledged, and the database passes `PRAGMA integrity_check` every time.
//!
//! CI runs 5 crashes; the long run is `KULISSE_CRASH_RUNS=50 cargo test -p kulisse --test it
//! crash` (results in docs/reliability.md).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kulisse_testkit::TestEngine;
use serde_json::{Value, json};

use crate::process::ServerProcess;

/// Clients writing at once during a burst.
const WRITERS: usize = 8;

/// The ids of every record of `acks`, read page by page.
pub async fn stored_ids(srv: &ServerProcess) -> HashSet<String> {
    let mut ids = HashSet::new();
    for page in 1.. {
        let (s, body) = srv
            .send(
                "GET",
                &format!(
                    "/api/collections/acks/records?perPage=1000&page={page}&skipTotal=1&fields=id"
                ),
                None,
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if items.len() < 1000 {
            return ids;
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let runs: usize = std::env::var("KULISSE_CRASH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let mut srv = ServerProcess::start_on_engine(TestEngine::Sqlite).await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "acks", "listRule": "", "createRule": "",
                "fields": [{"name": "n", "type": "number"}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    for run in 0..runs {
        let base = srv.base.clone();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (base, acknowledged) = (base.clone(), Arc::clone(&acknowledged));
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for n in 0.. {
                        let sent = http
                            .post(format!("{base}/api/collections/acks/records"))
                            .json(&json!({"n": w * 1_000_000 + n}))
                            .send()
                            .await;
                        // Once the server is gone, the burst is over.
                        let Ok(res) = sent else { return };
                        if res.status() != 200 {
                            return;
                        }
                        let Ok(record) = res.json::<Value>().await else {
                            return;
                        };
                        // Acknowledged: the client has the answer.
                        let id = record["id"].as_str().unwrap_or_default().to_owned();
                        acknowledged.lock().unwrap().push(id);
                    }
                })
            })
            .collect();
        // Somewhere between 150 and 450 ms into the burst.
        tokio::time::sleep(Duration::from_millis(150 + (run as u64 * 97) % 300)).await;
        srv = tokio::task::spawn_blocking(move || srv.kill_and_restart())
            .await
            .unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let stored = stored_ids(&srv).await;
        let acked = acknowledged.lock().unwrap().clone();
        let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
        assert!(
            lost.is_empty(),
            "run {run}: {} of {} acknowledged writes lost",
            lost.len(),
            acked.len()
        );
        let verdict = integrity_check(srv.dir());
        assert_eq!(verdict, "ok", "run {run}");
    }
    let total = acknowledged.lock().unwrap().len();
    eprintln!("{runs} crashes, {total} acknowledged writes, none lost");
    assert!(total > runs, "the bursts wrote too little to test anything");
}

/// What `PRAGMA integrity_check` says of the data dir `dir`'s database.
pub fn integrity_check(dir: &std::path::Path) -> String {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("data.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}
