//! Resource bounds of the real binary: one request must not take the server's memory.
//!
//! The server runs as its own process (the built binary, as `binary.rs` starts it), so its
//! peak resident size (`VmHWM` in `/proc/<pid>/status`) is its own, not that of the tests
//! running beside it in this process.

use std::io::Read;
use std::sync::mpsc;

use serde_json::Value;

use crate::expand_graph::self_related_nodes;
use crate::process::ServerProcess;

/// Peak resident size a server may reach answering the expand below. PocketBase answers
/// the six-level request in 120 MB.
const MAX_PEAK_RSS: u64 = 200 << 20;

/// Records in the self-related collection (each links to the next five).
const NODES: usize = 300;

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
    let srv = ServerProcess::start().await;
    let client = reqwest::Client::new();
    self_related_nodes(&srv.base, &client, NODES).await;
    let before = srv.peak_rss();

    // PocketBase writes this one whole: 300 × (5 + 25 + … + 5^6) = 5.9 million embedded
    // records, 1.2 GB. It is over the budget of a million: PocketBase's generic 400.
    let res = client
        .get(format!(
            "{}/api/collections/nodes/records?perPage=1000&expand=self.self.self.self.self.self",
            srv.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.json::<Value>().await.unwrap();
    assert_eq!(
        body["message"], "Something went wrong while processing your request.",
        "{body}"
    );
    assert_eq!(
        body["data"]["expand"]["code"],
        "validation_expand_too_large"
    );

    // Just under the budget: 250 × (5 + … + 5^5) = 976,250 embedded records, ~200 MB of
    // JSON, streamed.
    let res = client
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
    let peak = srv.peak_rss();
    eprintln!(
        "answer {} MB; server peak RSS {} MB (before the expands {} MB)",
        bytes >> 20,
        peak >> 20,
        before >> 20
    );
    assert!(bytes > 150 << 20, "the answer was written whole: {bytes}");
    assert!(
        peak < MAX_PEAK_RSS,
        "peak RSS {} MB over {} MB",
        peak >> 20,
        MAX_PEAK_RSS >> 20
    );
}

kulisse_testkit::engine_tests!(a_six_level_self_expand_of_a_full_page_stays_within_bounded_memory);
