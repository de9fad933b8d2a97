//! Scheduled jobs run once per minute they are due, however many nodes schedule them, and
//! never overlap: the claim and the lock live in the database every node shares.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kulisse_core::Ambient;
use kulisse_core::crons::{CronService, Job, Run};
use kulisse_store::Store;
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;

/// 2026-12-05 06:00 UTC: a minute `0 */6 * * *` names.
const SIX: i64 = 1_796_450_400;

/// A job on `expression` counting its runs in `runs`, each taking `takes`.
fn counting(expression: &str, runs: &Arc<AtomicUsize>, takes: Duration) -> Job {
    let runs = Arc::clone(runs);
    let run: Run = Arc::new(move || {
        let runs = Arc::clone(&runs);
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(takes).await;
            Ok(())
        })
    });
    Job::new("__count__", expression, run).unwrap()
}

async fn until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no run of the counting job holds its lock (`kulisse:cron:{id}`): a run
/// counts itself as it starts, and releases the lock a moment after it ends.
async fn until_over(store: &dyn Store) {
    let start = Instant::now();
    loop {
        if let Some(lock) = store.try_lock("kulisse:cron:__count__").await.unwrap() {
            lock.release().await;
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two nodes (`a`, `b`: stores on one database) tick the same minutes.
async fn a_due_job_runs_once_per_minute_on_one_node(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let watch = Arc::clone(&a);
    let runs = Arc::new(AtomicUsize::new(0));
    let job = || counting("0 */6 * * *", &runs, Duration::ZERO);
    let node_a = CronService::start(false, a, Ambient::system(), vec![job()], Arc::new(Vec::new));
    let node_b = CronService::start(false, b, Ambient::system(), vec![job()], Arc::new(Vec::new));
    node_a.tick(SIX).await;
    node_b.tick(SIX).await;
    until("the 06:00 run", || runs.load(Ordering::SeqCst) == 1).await;
    until_over(&*watch).await;
    node_b.tick(SIX + 60).await;
    node_a.tick(SIX + 6 * 3600).await;
    node_b.tick(SIX + 6 * 3600).await;
    until("the 12:00 run", || runs.load(Ordering::SeqCst) == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "06:01 is not due; 12:00 ran once"
    );
}

/// A run still going when the next is due makes the next one skip.
async fn a_run_never_overlaps_the_last(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let job = || counting("* * * * *", &runs, Duration::from_secs(2));
    let node_a = CronService::start(false, a, Ambient::system(), vec![job()], Arc::new(Vec::new));
    let node_b = CronService::start(false, b, Ambient::system(), vec![job()], Arc::new(Vec::new));
    // A day after the other test's minutes: claims are per job and minute.
    let first = SIX + 86_400;
    node_a.tick(first).await;
    until("the first run", || runs.load(Ordering::SeqCst) == 1).await;
    node_b.tick(first + 60).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the 06:01 run overlapped the 06:00 one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_once_and_never_overlap_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    a_due_job_runs_once_per_minute_on_one_node(Arc::clone(&store), Arc::clone(&store)).await;
    a_run_never_overlaps_the_last(Arc::clone(&store), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_once_and_never_overlap_on_two_postgres_nodes() {
    let Some(url) = kulisse_testkit_store::pg::fresh_database().await else {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    };
    let node = || async { Arc::new(PostgresStore::connect(&url).await.unwrap()) as Arc<dyn Store> };
    a_due_job_runs_once_per_minute_on_one_node(node().await, node().await).await;
    a_run_never_overlaps_the_last(node().await, node().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_lock_is_free_again_once_dropped() {
    let Some(url) = kulisse_testkit_store::pg::fresh_database().await else {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    };
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    let held = a.try_lock("job").await.unwrap();
    assert!(held.is_some());
    assert!(
        b.try_lock("job").await.unwrap().is_none(),
        "another node's lock"
    );
    assert!(b.try_lock("other").await.unwrap().is_some());
    drop(held);
    let start = Instant::now();
    while b.try_lock("job").await.unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the lock was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_postgres_lock_is_free_at_once() {
    let Some(url) = kulisse_testkit_store::pg::fresh_database().await else {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    };
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    for round in 0..20 {
        let held = a.try_lock("job").await.unwrap().expect("free");
        assert!(b.try_lock("job").await.unwrap().is_none(), "round {round}");
        held.release().await;
        let taken = b.try_lock("job").await.unwrap();
        assert!(taken.is_some(), "round {round}: not free once released");
        taken.unwrap().release().await;
    }
}
