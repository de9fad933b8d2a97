//! Reading the WAL's next stretch into the page cache before the writer gets there.
//!
//! NOTE: a WAL frame is a 24-byte header and a page (4,120 bytes for 4 KiB pages), so every
//! frame SQLite writes covers the ends of two file-system blocks only in part. When such a
//! block is no longer in the page cache, the kernel must read it from disk before the write
//! can go on, and the writer thread waits for that read with every queued write behind it.
//! After the WAL starts over, the writer overwrites blocks it wrote seconds earlier, which
//! the kernel may have evicted meanwhile once they were written back (under memory pressure,
//! or, on the VMs we measure on, by DAMON's proactive reclaim). Under a load of creates on a
//! 1 GB database (`bench/backup-stall`) the writer made ~850 such reads in 10 s, up to 35 ms
//! each behind the disk's queue of writes, and creates paused for 45-62 ms without any backup.
//! Asking for the next [`AHEAD`] bytes each time the WAL passes another [`STEP`] lets the
//! kernel read them while the writer is still committing before them: the writer's reads
//! fell to a handful, and the longest create without a backup to 24-29 ms.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// How far ahead of the writer the WAL is read: at ~200 MB/s of WAL writes (creates from 16
/// clients on two cores), 16 MiB is 80 ms, more than a read waits behind the disk's queue.
const AHEAD: u64 = 16 << 20;

/// The read-ahead is asked for again each time the WAL grows by this much.
const STEP: u64 = 4 << 20;

/// The WAL file's header, in bytes (SQLite's file format).
const WAL_HEADER: u64 = 32;

/// A frame's header, in bytes (SQLite's file format).
const FRAME_HEADER: u64 = 24;

/// Where the WAL ends after `frames` frames of `page_size`-byte pages: where the next frame
/// will be written.
pub(crate) fn end_of(frames: u64, page_size: u64) -> u64 {
    WAL_HEADER + frames * (page_size + FRAME_HEADER)
}

/// Has the writer's connection `conn` to the database at `path` read its WAL ahead after
/// each commit (Linux; elsewhere this does nothing).
pub(crate) fn install(conn: &mut Connection, path: &Path) -> rusqlite::Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let page_size = u64::try_from(page_size).unwrap_or(4096);
    let mut wal_path = path.as_os_str().to_owned();
    wal_path.push("-wal");
    let mut ahead = ReadAhead {
        path: PathBuf::from(wal_path),
        file: None,
        last_step: u64::MAX,
    };
    conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
        ahead.after_commit(end_of(u64::try_from(frames).unwrap_or(0), page_size));
        Ok(())
    }))
}

/// The writer's read-ahead state.
struct ReadAhead {
    path: PathBuf,
    /// Opened at the first commit, when the WAL surely exists.
    file: Option<File>,
    /// The [`STEP`] the WAL's end was in at the last read-ahead.
    last_step: u64,
}

impl ReadAhead {
    /// After a commit that left the WAL ending at `end`.
    fn after_commit(&mut self, end: u64) {
        let step = end / STEP;
        if step == self.last_step {
            return;
        }
        self.last_step = step;
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        if let Some(file) = &self.file {
            read_ahead(file, end);
        }
    }
}

/// Asks the kernel to read `file` from `from` on into the page cache, without waiting.
/// Failing to is harmless: the writer reads what it needs itself, as it would anyway.
#[cfg(target_os = "linux")]
fn read_ahead(file: &File, from: u64) {
    let _ = rustix::fs::fadvise(
        file,
        from,
        std::num::NonZeroU64::new(AHEAD),
        rustix::fs::Advice::WillNeed,
    );
}

#[cfg(not(target_os = "linux"))]
fn read_ahead(_: &File, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets the read-ahead aims at are where SQLite really writes: after commits, the
    /// WAL file ends where [`end_of`] says for the frame count the hook is given.
    #[test]
    fn the_wal_ends_where_the_hook_says() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("data.db");
        let mut conn = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (a BLOB);",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(0_i32));
        let hook_seen = std::sync::Arc::clone(&seen);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
            *hook_seen.lock().unwrap_or_else(|e| panic!("{e}")) = frames;
            Ok(())
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..20 {
            conn.execute("INSERT INTO t VALUES (zeroblob(10000))", [])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let frames = *seen.lock().unwrap_or_else(|e| panic!("{e}"));
        assert!(frames > 20, "{frames} frames");
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        let page_size = u64::try_from(page_size).unwrap_or_else(|e| panic!("{e}"));
        let wal = std::fs::metadata(dir.path().join("data.db-wal"))
            .unwrap_or_else(|e| panic!("{e}"))
            .len();
        assert_eq!(end_of(u64::try_from(frames).unwrap_or(0), page_size), wal);
    }

    /// Installed on a writer, commits go on as before (the hook returns OK: an error from a
    /// WAL hook would fail the commit).
    #[test]
    fn commits_succeed_with_the_read_ahead() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("data.db");
        let mut conn = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (a BLOB);")
            .unwrap_or_else(|e| panic!("{e}"));
        install(&mut conn, &db).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2_000 {
            conn.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 2_000);
    }
}
