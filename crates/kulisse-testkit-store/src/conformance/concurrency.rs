//! Write jobs running at once: no lost updates, and readers see committed states only.

use std::sync::Arc;

use kulisse_store::{Row, Select, StoreError};
use serde_json::json;

use super::{Subject, counters, create_with, row, write};

const JOBS: i64 = 24;

/// `JOBS` jobs started at once, each reading a counter (`for_update`, as the services read
/// before a `views+` update) and writing it back plus one, all land: no job works from a
/// value another job has since replaced.
pub async fn concurrent_read_then_update_jobs_lose_no_update(s: &Subject) {
    let c = counters();
    create_with(&s.store, &c, vec![json!({"id": "c1", "n": 0})]).await;
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        let (store, c) = (Arc::clone(&s.store), Arc::clone(&c));
        jobs.push(tokio::spawn(async move {
            write(&store, move |tx| {
                let read = Select {
                    for_update: true,
                    ..Select::by_id(Arc::clone(&c), "c1")
                };
                let rows = tx.select(&read)?;
                let n = rows.first().and_then(count).ok_or(StoreError::NotFound)?;
                tx.update(&c, "c1", &row(json!({"n": n + 1})))
            })
            .await
        }));
    }
    for job in jobs {
        job.await.unwrap().unwrap();
    }
    let page = s.store.select(Select::by_id(c, "c1")).await.unwrap();
    assert_eq!(page.rows[0]["n"], JOBS);
}

/// While jobs move one unit from `b` to `a` at a time (and some fail halfway), every read
/// of both rows sees `a + b == 0`, no read (of both, or of `a` by id) sees a failed job's
/// write or an older state than a read before it, and the last read sees every move.
pub async fn readers_see_only_committed_states(s: &Subject) {
    let c = counters();
    create_with(
        &s.store,
        &c,
        vec![json!({"id": "a", "n": 0}), json!({"id": "b", "n": 0})],
    )
    .await;
    const READERS: usize = 3;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The moves start once every reader has read once, so reads and writes overlap.
    let started = Arc::new(tokio::sync::Barrier::new(READERS + 1));
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let (store, c, done) = (Arc::clone(&s.store), Arc::clone(&c), Arc::clone(&done));
        let started = Arc::clone(&started);
        readers.push(tokio::spawn(async move {
            let (mut last, mut reads) = (0, 0);
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let page = store.select(Select::all(Arc::clone(&c))).await.unwrap();
                let n = |id: &str| {
                    page.rows
                        .iter()
                        .find(|r| r["id"] == id)
                        .and_then(count)
                        .unwrap()
                };
                let (a, b) = (n("a"), n("b"));
                assert_eq!(a + b, 0, "a half-done move was seen: a={a} b={b}");
                assert!(a < 1000, "a failed job's write was seen: a={a}");
                assert!(a >= last, "a read went back in time: {a} after {last}");
                // A point read by id (an engine may serve it on another path, SQLite inline).
                let alone = store
                    .select(Select::by_id(Arc::clone(&c), "a"))
                    .await
                    .unwrap();
                let alone = alone.rows.first().and_then(count).unwrap();
                assert!(
                    alone < 1000,
                    "a failed job's write was read by id: a={alone}"
                );
                assert!(
                    alone >= a,
                    "a read by id went back in time: {alone} after {a}"
                );
                last = alone;
                reads += 1;
                if reads == 1 {
                    started.wait().await;
                }
                if finished {
                    return last;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), started.wait())
        .await
        .expect("every reader read once");
    let mut moves = Vec::new();
    for i in 0..JOBS {
        let (store, c) = (Arc::clone(&s.store), Arc::clone(&c));
        moves.push(tokio::spawn(async move {
            write(&store, move |tx| {
                let read = Select {
                    for_update: true,
                    ..Select::all(Arc::clone(&c))
                };
                let rows = tx.select(&read)?;
                let n = |id: &str| rows.iter().find(|r| r["id"] == id).and_then(count);
                let (a, b) = (n("a").unwrap_or(0), n("b").unwrap_or(0));
                tx.update(&c, "a", &row(json!({"n": a + 1})))?;
                if i % 4 == 3 {
                    tx.update(&c, "a", &row(json!({"n": a + 1000})))?;
                    return Err(StoreError::Constraint("fails halfway".into()));
                }
                tx.update(&c, "b", &row(json!({"n": b - 1})))
            })
            .await
        }));
    }
    let mut landed = 0;
    for m in moves {
        landed += i64::from(m.await.unwrap().is_ok());
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        let last = r.await.unwrap();
        assert_eq!(last, landed, "the last read sees every committed move");
    }
    assert_eq!(landed, JOBS - JOBS / 4);
}

/// A counter's value (numbers may come back as integers or as floats with no fraction).
#[allow(clippy::cast_possible_truncation)]
fn count(r: &Row) -> Option<i64> {
    r["n"].as_f64().map(|n| n as i64)
}
