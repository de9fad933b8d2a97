//! Resource bounds of the real binary: one request must not take the server's memory.
//!
//! The server runs as its own process (the built binary, as `binary.rs` starts it), so its
//! peak resident size (`VmHWM` in `/proc/<pid>/status`) is its own, not that of the tests
//! running beside it in this process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};

use crate::expand_graph::self_related_nodes;
use crate::server::{ENGINE, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestEngine, fresh_pg_database};

const BIN: &str = env!("CARGO_BIN_EXE_kulisse");

/// Peak resident size a server may reach answering the expand below. PocketBase answers
/// the six-level request in 120 MB.
const MAX_PEAK_RSS_KIB: u64 = 200 * 1024;

/// Records in the self-related collection (each links to the next five).
const NODES: usize = 300;

/// The built binary serving a fresh data dir (or PostgreSQL database), with a superuser.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = vec!["--dir".into(), dir.path().display().to_string()];
        if ENGINE.try_with(|e| *e).unwrap_or(TestEngine::Sqlite) == TestEngine::Postgres {
            args.extend(["--db".into(), fresh_pg_database().await]);
        }
        let created = Command::new(BIN)
            .args(["superuser", "create", SUPERUSER_EMAIL, SUPERUSER_PASSWORD])
            .args(&args)
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        let mut child = Command::new(BIN)
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first.strip_prefix("Server started at ").unwrap().to_owned();
        // Keep reading, so a full pipe never stalls the server.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Peak resident size so far, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a streamed answer chunk by chunk, never whole: checks it is one JSON value (on a
/// thread parsing as the chunks come) and counts the records in it.
async fn read_streamed_records(res: reqwest::Response) -> (u64, usize) {
    const MARK: &[u8] = br#""collectionName":"nodes""#;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    let parser = std::thread::spawn(move || {
        serde_json::from_reader::<_, serde::de::IgnoredAny>(ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        })
        .map(drop)
    });
    let (mut bytes, mut records) = (0u64, 0usize);
    let mut tail: Vec<u8> = Vec::new();
    let mut res = res;
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        // Marks cut between two chunks are found in the kept tail.
        tail.extend_from_slice(&chunk);
        records += tail.windows(MARK.len()).filter(|w| *w == MARK).count();
        let keep = tail.len().min(MARK.len() - 1);
        tail.drain(..tail.len() - keep);
        tx.send(chunk.to_vec()).unwrap();
    }
    drop(tx);
    parser
        .join()
        .unwrap()
        .expect("the streamed answer is valid JSON");
    (bytes, records)
}

/// A `Read` over chunks sent by the async side.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => (self.chunk, self.pos) = (chunk, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

async fn a_six_level_self_expand_of_a_full_page_stays_within_bounded_memory() {
    let srv = Server::start().await;
    self_related_nodes(&srv.base, &srv.client, NODES).await;
    let before = srv.peak_rss_kib();

    // PocketBase writes this one whole: 300 × (5 + 25 + … + 5^6) = 5.9 million embedded
    // records, 1.2 GB. It is over the budget of a million: PocketBase's generic 400.
    let res = srv
        .client
        .get(format!(
            "{}/api/collections/nodes/records?perPage=1000&expand=self.self.self.self.self.self",
            srv.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"data": {}, "message": "Something went wrong while processing your request.", "status": 400})
    );

    // Just under the budget: 250 × (5 + … + 5^5) = 976,250 embedded records, ~200 MB of
    // JSON, streamed.
    let res = srv
        .client
        .get(format!(
            "{}/api/collections/nodes/records?perPage=250&expand=self.self.self.self.self",
            srv.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (bytes, records) = read_streamed_records(res).await;
    assert_eq!(records, 250 + 250 * (5 + 25 + 125 + 625 + 3125));
    let peak = srv.peak_rss_kib();
    eprintln!(
        "answer {} MB; server peak RSS {} MB (before the expands {} MB)",
        bytes >> 20,
        peak >> 10,
        before >> 10
    );
    assert!(bytes > 150 << 20, "the answer was written whole: {bytes}");
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB over {MAX_PEAK_RSS_KIB} KiB"
    );
}

crate::engine_tests!(a_six_level_self_expand_of_a_full_page_stays_within_bounded_memory);
