//! Connections and threads: one writer thread with group commit, N reader threads, a
//! background checkpointer, WAL.
//!
//! SQLite allows one writer at a time; funnelling every write through one thread means no
//! request ever sees "database is locked", and batching the jobs that queue up while a
//! commit is running into one transaction (each job in its own savepoint) turns many small
//! fsync-bound commits into one. Readers never block the writer in WAL mode.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kulisse_store::{AfterCommit, PoolStatus, QueryLimits, StoreError, WriteJob};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

use crate::budget::Ticket;
use crate::checkpoint::Checkpointer;
use crate::classify::classify;
use crate::tx::SqliteTx;

/// A read job; `None` tells one reader thread to stop.
type ReadTask = Option<Box<dyn FnOnce(&Connection) + Send>>;
type WriteTask = (WriteJob, Ticket, oneshot::Sender<Result<(), StoreError>>);

/// Most jobs folded into one commit; bounds the latency one slow batch can add.
const MAX_BATCH: usize = 256;

/// The running threads and the channels that feed them.
pub(crate) struct Pool {
    /// Shared by every request without a lock (the hot path); closing is signalled by
    /// `closed` and one stop message per reader.
    reads: flume::Sender<ReadTask>,
    readers: usize,
    /// Permits to run a read that may be slow ([`Lane::Joins`]): one fewer than there are
    /// readers, so slow reads can never take every reader.
    joins: Semaphore,
    closed: AtomicBool,
    /// Set by [`Pool::stop_queries`]: every job's [`Ticket`] reads it.
    stopping: Arc<AtomicBool>,
    limits: QueryLimits,
    /// Counts the writer's transactions; bumped after each one ends and before its jobs
    /// are answered, so a reader that sees an unchanged count holds a current snapshot
    /// ([`crate::inline`]).
    commits: Arc<AtomicU64>,
    writes: Mutex<Option<flume::Sender<WriteTask>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Which reads a read job may wait behind.
///
/// NOTE: a read through relations can be combinatorial (five chained back-relations took
/// minutes) while a read of one table costs one pass at most. Slow reads that keep coming
/// (a client that waits for its answer is never abandoned) would otherwise fill every
/// reader for up to the time budget each, and every list behind them waited. Reads that
/// may be slow wait for one of `readers - 1` permits, so one reader always serves the
/// single-table reads; the pool has one reader more than it had before this lane, so
/// joining reads keep the parallelism they had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Reads of one table ([`kulisse_store::Select::is_single_table`]), metadata.
    OneTable,
    /// Anything else: joins, views.
    Joins,
}

/// What a connection is for; it decides how the connection reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The one writer.
    Write,
    /// Reader-pool connections: filtered lists, counts, anything that scans.
    Scan,
    /// Point reads by primary key on a runtime thread ([`crate::inline`]).
    Point,
    /// The background checkpointer ([`crate::checkpoint`]).
    Checkpoint,
}

/// Opens a connection with the pragmas every kulisse connection uses.
///
/// NOTE: only scanning readers memory-map the file. A scan touches every page, and reading
/// them from the map instead of copying each into the page cache made filtered lists ~40 %
/// cheaper. Point reads touch a handful of pages: they were ~15 % faster from a small page
/// cache than from the map (measured, 20k records), and every connection's map counts the
/// pages it touched into the process's RSS once more, so the writer and the point-read
/// connections keep bounded caches instead.
pub(crate) fn open(path: &Path, role: Role) -> rusqlite::Result<Connection> {
    let flags = if matches!(role, Role::Write | Role::Checkpoint) {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(256);
    if role == Role::Write {
        switch_to_wal(&conn)?;
        // The checkpointer copies the WAL back (crate::checkpoint).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        crate::wal_ahead::install(&mut conn, path)?;
    }
    // NOTE: synchronous=NORMAL in WAL mode keeps every commit once the process dies (the WAL
    // is written before the commit returns); only an OS crash or power loss can drop the most
    // recent commits. This is PocketBase's durability mode too.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    let (mmap_bytes, cache_kib) = match role {
        Role::Write => (0, 8_000),
        Role::Scan => (256 << 20, 2_000),
        Role::Point => (0, 2_000),
        // It reads only the WAL and its index, and writes the file directly.
        Role::Checkpoint => (0, 500),
    };
    conn.pragma_update(None, "mmap_size", mmap_bytes)?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    crate::functions::register(&conn)?;
    if matches!(role, Role::Write | Role::Scan) {
        crate::budget::install(&mut conn)?;
    }
    Ok(conn)
}

/// Puts the database in WAL mode. The switch locks the database file exclusively, and
/// SQLite answers a lock it could only wait for in a deadlock (this connection reading,
/// another one about to write, as when several processes open a fresh data dir together)
/// with `SQLITE_BUSY` at once instead of calling the busy handler, so the switch is retried
/// here for as long as the busy timeout would have waited.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            done => return done,
        }
    }
}

impl Pool {
    /// Starts the writer (on `writer`) and `readers` reader threads on `path` (at least two,
    /// so [`Lane::Joins`] has one).
    pub(crate) fn start(
        path: &Path,
        writer: Connection,
        readers: usize,
        limits: QueryLimits,
    ) -> rusqlite::Result<Pool> {
        let readers = readers.max(2);
        let (read_tx, read_rx) = flume::unbounded::<ReadTask>();
        let (write_tx, write_rx) = flume::unbounded::<WriteTask>();
        let mut threads = Vec::new();
        for i in 0..readers {
            let conn = open(path, Role::Scan)?;
            let rx = read_rx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("sqlite-read-{i}"))
                .spawn(move || {
                    while let Ok(Some(task)) = rx.recv() {
                        task(&conn);
                    }
                })
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            threads.push(handle);
        }
        let commits = Arc::new(AtomicU64::new(0));
        let writer_commits = Arc::clone(&commits);
        let batches = Batches::new(path);
        let checkpointer = Checkpointer::start(open(path, Role::Checkpoint)?, path, &batches.db)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let handle = std::thread::Builder::new()
            .name("sqlite-write".into())
            .spawn(move || {
                writer_loop(writer, write_rx, &writer_commits, &batches, checkpointer);
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        threads.push(handle);
        Ok(Pool {
            reads: read_tx,
            readers,
            joins: Semaphore::new(readers - 1),
            closed: AtomicBool::new(false),
            stopping: Arc::new(AtomicBool::new(false)),
            limits,
            commits,
            writes: Mutex::new(Some(write_tx)),
            threads: Mutex::new(threads),
        })
    }

    /// The writer's transaction count (see the field).
    pub(crate) fn commits(&self) -> &AtomicU64 {
        &self.commits
    }

    /// Whether `shutdown` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A ticket for a job starting now (a timeout too large for the clock never ends).
    fn ticket(&self) -> Ticket {
        let now = Instant::now();
        let deadline = now
            .checked_add(self.limits.timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
        Ticket::new(deadline, Arc::clone(&self.stopping))
    }

    /// Runs `f` on a reader connection, in `lane`. It is stopped with
    /// [`StoreError::Interrupted`] past the time budget (counted from now, so time queued
    /// counts, as PocketBase's request context does), when this future is dropped, or when
    /// the store stops.
    pub(crate) async fn read<T, F>(&self, lane: Lane, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable);
        }
        let ticket = self.ticket();
        let _abandon = ticket.abandon_on_drop();
        let _permit = match lane {
            Lane::OneTable => None,
            Lane::Joins => Some(
                tokio::time::timeout(self.limits.timeout, self.joins.acquire())
                    .await
                    .map_err(|_| StoreError::Interrupted)?
                    .map_err(|_| StoreError::Unavailable)?,
            ),
        };
        let (tx, rx) = oneshot::channel();
        self.reads
            .send(Some(Box::new(move |conn| {
                let _ = tx.send(ticket.run(|| f(conn)));
            })))
            .map_err(|_| StoreError::Unavailable)?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }

    /// Interrupts every running read (on readers and inside write jobs) and every later
    /// one ([`kulisse_store::Store::stop_queries`]).
    pub(crate) fn stop_queries(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// The threads and what waits for them.
    pub(crate) fn status(&self) -> PoolStatus {
        let waiting_writes = self
            .writes
            .lock()
            .map_or(0, |w| w.as_ref().map_or(0, flume::Sender::len));
        PoolStatus {
            open: self.readers + 1,
            max: self.readers + 1,
            idle: None,
            waiting_reads: self.reads.len(),
            waiting_writes,
        }
    }

    /// Queues a write job and waits for its commit.
    pub(crate) async fn write(&self, job: WriteJob) -> Result<(), StoreError> {
        let ticket = self.ticket();
        let _abandon = ticket.abandon_on_drop();
        let (tx, rx) = oneshot::channel();
        let sender = self
            .writes
            .lock()
            .map_err(|_| StoreError::Unavailable)?
            .clone()
            .ok_or(StoreError::Unavailable)?;
        sender
            .send((job, ticket, tx))
            .map_err(|_| StoreError::Unavailable)?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }

    /// Stops accepting work, lets queued jobs finish, checkpoints and joins the threads.
    pub(crate) fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stop_queries();
        for _ in 0..self.readers {
            let _ = self.reads.send(None);
        }
        if let Ok(mut w) = self.writes.lock() {
            w.take();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// The writer's metrics: how many jobs each commit folds together, and how long each
/// transaction takes, labelled with the database file's name (`data`, `logs`). Looked up
/// per batch (a batch costs an fsync; the lookup is nothing beside it), so a recorder
/// installed after the store opened still gets them.
struct Batches {
    db: Arc<str>,
}

/// Histogram: write jobs per commit.
const BATCH_JOBS: &str = "kulisse_sqlite_commit_batch_jobs";
/// Histogram: time from BEGIN to COMMIT of a batch.
const BATCH_SECONDS: &str = "kulisse_sqlite_commit_seconds";

/// Gives the recorder the help text of the writer's series.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        BATCH_JOBS,
        "Write jobs folded into one SQLite commit (the group commit)"
    );
    metrics::describe_histogram!(
        BATCH_SECONDS,
        metrics::Unit::Seconds,
        "Time from BEGIN to COMMIT of one batch on SQLite's writer thread"
    );
}

impl Batches {
    fn new(path: &Path) -> Batches {
        let db = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Batches { db: Arc::from(db) }
    }

    fn record(&self, jobs: usize, took: Duration) {
        metrics::histogram!(BATCH_JOBS, "db" => Arc::clone(&self.db)).record(jobs as f64);
        metrics::histogram!(BATCH_SECONDS, "db" => Arc::clone(&self.db)).record(took);
    }
}

fn writer_loop(
    conn: Connection,
    rx: flume::Receiver<WriteTask>,
    commits: &AtomicU64,
    batches: &Batches,
    checkpointer: Checkpointer,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(task) => batch.push(task),
                Err(_) => break,
            }
        }
        let (jobs, started) = (batch.len(), Instant::now());
        run_batch(&conn, batch, commits);
        batches.record(jobs, started.elapsed());
        checkpointer.after_commit(&conn);
    }
    checkpointer.stop();
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
}

/// Runs queued jobs in one transaction, each inside a savepoint so one job's failure only
/// undoes that job. Replies go out after COMMIT, so a success is always durable, and after
/// `commits` counts it, so whoever got a reply reads past it. The jobs' after-commit hooks
/// run before any reply, in the order the jobs ran (the commit order).
fn run_batch(conn: &Connection, batch: Vec<WriteTask>, commits: &AtomicU64) {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        let err = classify(e);
        for (_, _, reply) in batch {
            let _ = reply.send(Err(err.clone()));
        }
        return;
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for (job, ticket, reply) in batch {
        let result = run_job(conn, job, ticket);
        outcomes.push((reply, result));
    }
    let committed = control(conn, "COMMIT");
    commits.fetch_add(1, Ordering::Release);
    let failure = committed.err().map(|e| {
        let _ = control(conn, "ROLLBACK");
        classify(e)
    });
    let replies: Vec<_> = outcomes
        .into_iter()
        .map(|(reply, result)| {
            let result = result.map(|hook| {
                if let Some(hook) = hook {
                    hook(failure.is_none());
                }
            });
            (reply, result)
        })
        .collect();
    for (reply, result) in replies {
        let result = match &failure {
            None => result,
            Some(err) => result.and(Err(err.clone())),
        };
        let _ = reply.send(result);
    }
}

fn run_job(
    conn: &Connection,
    job: WriteJob,
    ticket: Ticket,
) -> Result<Option<AfterCommit>, StoreError> {
    control(conn, "SAVEPOINT job").map_err(classify)?;
    let mut tx = SqliteTx::new(conn, Some(ticket));
    let result = catch_unwind(AssertUnwindSafe(|| job(&mut tx)))
        .unwrap_or_else(|_| Err(StoreError::Other("write job panicked".into())));
    let end = if result.is_ok() {
        control(conn, "RELEASE job")
    } else {
        control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job"))
    };
    match end {
        Ok(()) => result,
        Err(e) => Err(classify(e)),
    }
}

/// Runs a transaction-control statement from the statement cache: `execute_batch` parsed
/// these four to six statements again for every write job.
pub(crate) fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}
