//! Snapshots on SQLite. [`Store::snapshot`](kulisse_store::Store::snapshot): SQLite's
//! online backup API, driven by the writer thread in small steps between its commits
//! ([`copy_in_steps`]). Restoring one: checked (`PRAGMA integrity_check`), then copied into
//! the live database with the backup API, in one write transaction on a connection of its
//! own: readers see the old data or the restored data, never a mix.
//!
//! NOTE: the snapshot was `VACUUM INTO` on a connection of its own: one read transaction
//! for the whole copy (seconds on 1 GB). No checkpoint can copy the WAL past an open read
//! transaction, so the WAL grew by every write meanwhile, and copying that backlog back
//! afterwards, hundreds of MB, made creates wait up to 0.8 s (`bench/backup-stall`). The
//! backup API reads each step in a transaction of its own, and when its source connection
//! is the writer, SQLite applies the writer's own commits to the copy as they happen, so
//! the copy is of the moment it ends and never starts over. Each step of
//! [`STEP_PAGES`] pages holds up the writes queued behind it for about a millisecond.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kulisse_store::StoreError;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::classify::classify;

/// Pages copied per step (4 MiB): a step takes about as long as a commit.
const STEP_PAGES: std::ffi::c_int = 1024;

/// Where the snapshot of the database at `from` goes in the directory `into`: a file of
/// the same name.
pub(crate) fn target(from: &Path, into: &Path) -> Result<PathBuf, StoreError> {
    let name = from
        .file_name()
        .ok_or_else(|| StoreError::Other(format!("no file name in {}", from.display())))?;
    Ok(into.join(name))
}

/// Copies the database of `conn` (the writer's connection) into a new file at `dest`, in
/// steps, calling `between` after each one (the writer commits what queued meanwhile).
pub(crate) fn copy_in_steps(
    conn: &Connection,
    dest: &Path,
    mut between: impl FnMut(),
) -> Result<(), StoreError> {
    let mut copy = Connection::open(dest).map_err(classify)?;
    // The copy needs no journal and no fsync of its own until it is whole.
    copy.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(classify)?;
    let done = AtomicBool::new(false);
    let copied = std::thread::scope(|s| {
        s.spawn(|| flush_while_written(dest, &done));
        let copied = (|| {
            let backup = Backup::new(conn, &mut copy).map_err(classify)?;
            loop {
                match backup.step(STEP_PAGES).map_err(classify)? {
                    StepResult::Done => return Ok(()),
                    StepResult::More => {}
                    // Another process writes: its commit is awaited between steps.
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
                between();
            }
        })();
        done.store(true, Ordering::Release);
        copied
    });
    copied?;
    copy.close().map_err(|(_, e)| classify(e))?;
    std::fs::File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Other(format!("syncing the snapshot: {e}")))
}

/// How often the copy is flushed to disk while it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Flushes `path` to disk every [`FLUSH_EVERY`] until `done`.
///
/// NOTE: left to the kernel, the copy of a large database sat in the page cache as
/// gigabytes of dirty pages, and the live database's next fsync (a checkpoint's) waited for
/// their writeback as well. Flushed as it is written, the backlog stays at what 50 ms of
/// copying writes.
fn flush_while_written(path: &Path, done: &AtomicBool) {
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(FLUSH_EVERY);
        if let Ok(file) = std::fs::File::open(path) {
            let _ = file.sync_data();
        }
    }
}

/// The snapshot of the database at `live` in the directory `from`: its file of the same
/// name.
pub(crate) fn file_in(live: &Path, from: &Path) -> Result<std::path::PathBuf, StoreError> {
    let name = live
        .file_name()
        .ok_or_else(|| StoreError::Other(format!("no file name in {}", live.display())))?;
    let file = from.join(name);
    if !file.is_file() {
        return Err(StoreError::Other(format!(
            "the backup has no {}",
            name.to_string_lossy()
        )));
    }
    Ok(file)
}

/// `PRAGMA integrity_check` of the database at `file`.
pub(crate) fn integrity_check(file: &Path) -> Result<(), StoreError> {
    let conn =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(classify)?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| StoreError::Other(format!("the database is damaged: {e}")))?;
    if verdict != "ok" {
        return Err(StoreError::Other(format!(
            "the database is damaged: {verdict}"
        )));
    }
    Ok(())
}

/// Copies the database at `file` into the live one at `live`, in one step.
pub(crate) fn copy_into(file: &Path, live: &Path) -> Result<(), StoreError> {
    let source =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(classify)?;
    let mut dest = Connection::open(live).map_err(classify)?;
    dest.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(classify)?;
    let backup = rusqlite::backup::Backup::new(&source, &mut dest).map_err(classify)?;
    // All pages in one step (-1): one write transaction, so no reader sees half a restore.
    // Busy while a write commits: tried again, for up to the busy timeout's 30 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match backup.step(-1).map_err(classify)? {
            rusqlite::backup::StepResult::Done => return Ok(()),
            _ if std::time::Instant::now() > deadline => {
                return Err(StoreError::Other(
                    "the database stayed busy: the restore was not applied".into(),
                ));
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_what_was_committed_and_what_the_writer_commits_meanwhile() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("data.db");
        let conn = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('kept');
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO t SELECT hex(randomblob(2000)) FROM n;",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let into = dir.path().join("copy");
        std::fs::create_dir(&into).unwrap_or_else(|e| panic!("{e}"));
        let dest = target(&db, &into).unwrap_or_else(|e| panic!("{e}"));
        let mut steps = 0;
        copy_in_steps(&conn, &dest, || {
            steps += 1;
            conn.execute("INSERT INTO t VALUES (?1)", [format!("between {steps}")])
                .unwrap_or_else(|e| panic!("{e}"));
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(steps > 1, "copied in {steps} steps");
        let copy = Connection::open(&dest).unwrap_or_else(|e| panic!("{e}"));
        let count = |sql: &str| -> i64 {
            copy.query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(count("SELECT count(*) FROM t WHERE a = 'kept'"), 1);
        assert_eq!(
            count("SELECT count(*) FROM t WHERE a LIKE 'between %'"),
            steps,
            "every commit made between steps is in the copy"
        );
        let verdict: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verdict, "ok");
    }
}
