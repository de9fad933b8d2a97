//! Snapshots on SQLite. [`Store::snapshot`](kulisse_store::Store::snapshot): `VACUUM INTO`
//! on a connection of its own (read-only, outside the pool and its query timeout: a large
//! database takes longer than any request may). It reads in one transaction, so the copy
//! is of one moment, and in WAL mode writers go on meanwhile; the copy is flushed to disk
//! as it is written (`flush.rs`). (Copying with the backup API in steps on the writer
//! thread, so that no long read transaction held the WAL back, was tried: the writer then
//! dirtied the copy's pages itself, the kernel throttled it, and creates waited up to
//! 280 ms.) Restoring one: checked
//! (`PRAGMA integrity_check`), then copied into the live database with SQLite's backup
//! API, in one write transaction on a connection of its own: readers see the old data or
//! the restored data, never a mix.

use std::path::Path;

use kulisse_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::classify::classify;

/// Copies the database at `from` into the directory `into`, under its own file name.
pub(crate) fn vacuum_into(from: &Path, into: &Path) -> Result<(), StoreError> {
    let name = from
        .file_name()
        .ok_or_else(|| StoreError::Other(format!("no file name in {}", from.display())))?;
    let dest = into.join(name);
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Other(format!("not UTF-8: {}", dest.display())))?;
    let conn = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(classify)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(classify)?;
    crate::flush::while_writing(Path::new(dest), || conn.execute("VACUUM INTO ?1", [dest]))
        .map(drop)
        .map_err(classify)
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
    fn the_copy_holds_what_was_committed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("data.db");
        let conn = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('kept');",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let into = dir.path().join("copy");
        std::fs::create_dir(&into).unwrap_or_else(|e| panic!("{e}"));
        vacuum_into(&db, &into).unwrap_or_else(|e| panic!("{e}"));
        let copy = Connection::open(into.join("data.db")).unwrap_or_else(|e| panic!("{e}"));
        let a: String = copy
            .query_row("SELECT a FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, "kept");
    }
}
