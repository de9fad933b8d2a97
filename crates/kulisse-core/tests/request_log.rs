//! The request log never makes a request wait: with its writer held up, entries past the
//! queue's bound are dropped and counted, and recording stays immediate; once the writer
//! goes on, what was queued is stored. Past its CPU budget, the writer drops whole batches
//! (counted too).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kulisse_core::logs::{self, RequestFacts};
use kulisse_core::records::ListParams;
use kulisse_core::{Config, Ports, Services};
use kulisse_store::Store;
use kulisse_store_sqlite::SqliteStore;

fn facts(i: usize) -> RequestFacts {
    RequestFacts {
        route: "",
        action: "",
        collection: String::new(),
        method: http::Method::GET,
        url: format!("/api/health?n={i}"),
        status: 200,
        took: Duration::from_micros(50),
        remote_ip: None,
        user_ip: None,
        user_agent: String::new(),
        referer: String::new(),
        authorization: None,
        error: None,
        error_data: None,
    }
}

/// Services over SQLite in `dir`, with the request log in its `logs.db`, tuned by `config`;
/// and the log's store.
async fn with_log(dir: &std::path::Path, config: Config) -> (Services, Arc<dyn Store>) {
    let store = Arc::new(SqliteStore::open(&dir.join("data.db")).unwrap());
    let log_store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("logs.db")).unwrap());
    let mut ports = Ports::new(store);
    ports.log_store = Some(Arc::clone(&log_store));
    (
        Services::start_with(ports, config).await.unwrap(),
        log_store,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_queued_up_to_its_bound_and_the_rest_dropped_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (services, log_store) = with_log(dir.path(), Config::default()).await;
    let logs = services.logs.clone().unwrap();

    // Hold the log's writer thread for a while.
    let (held, release) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let log_store = Arc::clone(&log_store);
        async move {
            log_store
                .write(Box::new(move |_| {
                    let _ = release.recv_timeout(Duration::from_secs(10));
                    Ok(None)
                }))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let flood = 100_000;
    let started = Instant::now();
    assert!(logs.wants());
    let mut most_queued = 0;
    for i in 0..flood {
        logs.record(facts(i));
        most_queued = most_queued.max(logs.queued());
    }
    let took = started.elapsed();
    // Memory stays bounded: the queue never holds more than its bound, whatever comes.
    assert!(
        most_queued <= 16_384,
        "{most_queued} entries queued at once"
    );
    assert!(
        took < Duration::from_secs(2),
        "{flood} entries recorded in {took:?}: recording never waits"
    );
    let dropped = logs.dropped();
    assert!(dropped > 0, "past the bound entries are dropped");
    assert!(dropped < flood as u64, "up to the bound they are kept");

    held.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let kept = flood as u64 - dropped;
    // What was queued gets written.
    let su = support::superuser(&services).await;
    let one = ListParams {
        per_page: 1,
        ..ListParams::default()
    };
    let mut stored = 0;
    for _ in 0..500 {
        let page = logs.list(&su, &one).await.unwrap();
        stored = page.total_items;
        if u64::try_from(stored).unwrap() >= kept {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        u64::try_from(stored).unwrap(),
        kept,
        "every queued entry is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_cpu_budget_the_writer_drops_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    // A thousandth of a core: the bank (a second's worth, 1 ms) pays for the first batch
    // only; the next ones find it overspent for long after.
    let config = Config {
        logs: logs::Config {
            cpu_share: 0.001,
            ..logs::Config::default()
        },
        ..Config::default()
    };
    let (services, _) = with_log(dir.path(), config).await;
    let logs = services.logs.clone().unwrap();
    assert!(logs.wants());
    let (rounds, per_round) = (5, 1_000);
    for round in 0..rounds {
        for i in 0..per_round {
            logs.record(facts(round * per_round + i));
        }
        // Each round is a batch of its own: the writer gathers for 0.2 s.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let su = support::superuser(&services).await;
    let one = ListParams {
        per_page: 1,
        ..ListParams::default()
    };
    let total = (rounds * per_round) as u64;
    let mut stored = 0;
    for _ in 0..250 {
        stored = u64::try_from(logs.list(&su, &one).await.unwrap().total_items).unwrap();
        if stored + logs.dropped() == total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        stored + logs.dropped(),
        total,
        "every entry stored or counted"
    );
    assert!(stored >= 1, "the bank pays for a first batch");
    assert!(
        logs.dropped() >= 3 * per_round as u64,
        "later batches are dropped: {} of {total}",
        logs.dropped()
    );
}
