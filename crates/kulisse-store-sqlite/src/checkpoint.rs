//! The background checkpointer: copies the WAL back into the database file on a thread of
//! its own, so that commits do not wait for that copy and its fsync.
//!
//! NOTE: SQLite's automatic checkpoint runs inside the commit that finds the WAL past
//! `wal_autocheckpoint` pages. On a 1 GB database that commit copied ~10,000 pages to
//! places all over the file and fsynced it while every queued write waited: creates
//! paused for up to 115 ms (`bench/backup-stall`); after a backup's long read transaction,
//! which no checkpoint can copy past, the backlog was far larger and creates paused for
//! 0.8 s. A PASSIVE checkpoint on a connection of its own runs beside the writer, since it
//! never takes the write lock, so the automatic checkpoint is off. But a checkpoint beside
//! a stream of writes never finishes (frames arrive while it copies), and only a finished
//! one lets the next write start the WAL over. So once the WAL is long and the
//! checkpointer has just caught up, the writer copies the last few frames itself, between
//! two commits ([`Checkpointer::after_commit`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long the checkpointer lets a burst of commits gather before it copies them.
///
/// NOTE: each checkpoint costs CPU and ends with an fsync of the database file. Every
/// 100 ms, creates from 16 clients on two cores had twice the p99 (2.2 ms against 1.2 ms
/// at 400 ms); at 400 ms the WAL reaches ~100 MB under that load before it starts over.
const GATHER: Duration = Duration::from_millis(400);

/// WAL length, in frames (pages), from which the writer finishes a checkpoint the
/// checkpointer caught up with, so that the WAL starts over (~40 MB).
pub(crate) const START_OVER_AT: i64 = 10_000;

/// At most this many frames may be left to copy when the checkpointer says it caught up:
/// the writer's share stays small.
const CAUGHT_UP_WITHIN: i64 = 500;

/// Passes the checkpointer makes over what arrived while it copied a long WAL, at most.
const MORE_PASSES: usize = 3;

/// A pass quicker than this left so little behind that another is not worth it.
const QUICK: Duration = Duration::from_millis(5);

/// The checkpointer thread and the writer's way to tell it about commits.
pub(crate) struct Checkpointer {
    commits: flume::Sender<()>,
    /// Set by the checkpointer when the WAL is long and it just copied nearly all of it.
    caught_up: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the checkpointer on `conn` (a read-write connection of its own to the
    /// database at `path`).
    pub(crate) fn start(
        conn: Connection,
        path: &Path,
        name: &str,
    ) -> std::io::Result<Checkpointer> {
        // One pending wake-up is enough: a checkpoint copies everything committed so far.
        let (commits, wakes) = flume::bounded(1);
        let caught_up = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&caught_up);
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name(format!("sqlite-ckpt-{name}"))
            .spawn(move || run(&conn, &path, &wakes, &flag))?;
        Ok(Checkpointer {
            commits,
            caught_up,
            thread,
        })
    }

    /// Called by the writer on `conn` after each commit: tells the checkpointer (never
    /// waiting), and finishes the checkpoint when the checkpointer has just caught up with
    /// a long WAL (copying only what was committed since).
    pub(crate) fn after_commit(&self, conn: &Connection) {
        if self.caught_up.swap(false, Ordering::AcqRel) {
            checkpoint(conn);
        }
        let _ = self.commits.try_send(());
    }

    /// Stops it after the checkpoint it may be running, so the writer's last checkpoint
    /// (which truncates the WAL) does not wait for it.
    pub(crate) fn stop(self) {
        drop(self.commits);
        let _ = self.thread.join();
    }
}

fn run(conn: &Connection, path: &Path, wakes: &flume::Receiver<()>, caught_up: &AtomicBool) {
    // Set while the last checkpoint left frames behind (a reader still needed them): it is
    // tried again without waiting for another commit.
    let mut behind = false;
    loop {
        let woken = if behind {
            match wakes.recv_timeout(GATHER) {
                Ok(()) | Err(flume::RecvTimeoutError::Timeout) => true,
                Err(flume::RecvTimeoutError::Disconnected) => false,
            }
        } else {
            wakes.recv().is_ok()
        };
        if !woken {
            return;
        }
        std::thread::sleep(GATHER);
        let started = Instant::now();
        // The database file is flushed while the WAL is copied into it (crate::flush).
        let (mut wal_frames, mut copied) = crate::flush::while_writing(path, || checkpoint(conn));
        let mut took = started.elapsed();
        // A long WAL all copied: each pass over what arrived during the last one is shorter,
        // and the writer is left only the last few frames to copy.
        for _ in 0..MORE_PASSES {
            if wal_frames < START_OVER_AT || wal_frames - copied > CAUGHT_UP_WITHIN || took < QUICK
            {
                break;
            }
            let started = Instant::now();
            (wal_frames, copied) = checkpoint(conn);
            took = started.elapsed();
        }
        behind = copied < wal_frames;
        if wal_frames >= START_OVER_AT && wal_frames - copied <= CAUGHT_UP_WITHIN {
            caught_up.store(true, Ordering::Release);
        }
    }
}

/// Copies what it can of the WAL into the database file without waiting for readers or
/// the writer: the WAL's length and how much of it is copied, in frames. Readers of a fully
/// copied WAL read the database file directly instead of looking every page up in the WAL
/// index first (point reads after a burst of writes were ~5 % dearer otherwise).
fn checkpoint(conn: &Connection) -> (i64, i64) {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    outcome.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "WAL checkpoint failed");
        (0, 0)
    })
}
