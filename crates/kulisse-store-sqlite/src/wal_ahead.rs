//! Keeping the WAL ready ahead of the writer: its next stretch read into the page cache,
//! and allocated on disk before the WAL grows into it.
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
//!
//! NOTE: when the WAL grows past its longest yet (while a backup's snapshot holds it, it
//! grew to ~460 MB), each new block is allocated by the kernel's writeback, which holds the
//! file's block-map lock meanwhile (and may read allocation bitmaps from a busy disk); the
//! writer's next frame into a new block waited for that lock, up to 50-70 ms. Allocating
//! [`GROW`] at a time, [`GROW_BEFORE`] before the WAL reaches the end of what is allocated,
//! leaves writeback nothing to allocate. The allocation is beyond the file's end (its size
//! is unchanged, so SQLite reads nothing new), less than [`GROW`] + [`GROW_BEFORE`] (96 MiB)
//! past the longest the WAL has been, and freed with the WAL when the database closes.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// How far ahead of the writer the WAL is read: at ~200 MB/s of WAL writes (creates from 16
/// clients on two cores), 16 MiB is 80 ms, more than a read waits behind the disk's queue.
const AHEAD: u64 = 16 << 20;

/// The read-ahead is asked for again each time the WAL grows by this much.
const STEP: u64 = 4 << 20;

/// How much disk is allocated for the WAL at a time.
const GROW: u64 = 64 << 20;

/// How far before the end of what is allocated the next [`GROW`] is allocated.
const GROW_BEFORE: u64 = 32 << 20;

/// The WAL file's header, in bytes (SQLite's file format).
const WAL_HEADER: u64 = 32;

/// A frame's header, in bytes (SQLite's file format).
const FRAME_HEADER: u64 = 24;

/// Where the WAL ends after `frames` frames of `page_size`-byte pages: where the next frame
/// will be written.
pub(crate) fn end_of(frames: u64, page_size: u64) -> u64 {
    WAL_HEADER + frames * (page_size + FRAME_HEADER)
}

/// Has the writer's connection `conn` to the database at `path` keep its WAL ready ahead
/// after each commit (Linux; elsewhere this does nothing).
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
        allocated: 0,
    };
    conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
        ahead.after_commit(end_of(u64::try_from(frames).unwrap_or(0), page_size));
        Ok(())
    }))
}

/// The writer's read-ahead and allocation state.
struct ReadAhead {
    path: PathBuf,
    /// Opened at the first commit, when the WAL surely exists.
    file: Option<File>,
    /// The [`STEP`] the WAL's end was in at the last read-ahead.
    last_step: u64,
    /// Bytes of the WAL allocated on disk, as far as known.
    allocated: u64,
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
            self.file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .ok();
            self.allocated = self.file.as_ref().map_or(0, allocated);
        }
        let Some(file) = &self.file else {
            return;
        };
        read_ahead(file, end);
        if end + GROW_BEFORE > self.allocated {
            let from = self.allocated.max(end);
            if allocate(file, from, GROW) {
                self.allocated = from + GROW;
            }
        }
    }
}

/// Bytes of `file` allocated on disk.
fn allocated(file: &File) -> u64 {
    use std::os::unix::fs::MetadataExt;
    file.metadata().map_or(0, |m| m.blocks() * 512)
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

/// Allocates `len` bytes of `file` from `from` on disk, keeping its size; whether it could
/// (a file system without `fallocate` leaves the allocation to writeback, as before).
#[cfg(target_os = "linux")]
fn allocate(file: &File, from: u64, len: u64) -> bool {
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, from, len).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn allocate(_: &File, _: u64, _: u64) -> bool {
    false
}

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
    /// WAL hook would fail the commit), and the WAL has room allocated ahead of its end
    /// without growing (SQLite never reads past it).
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
        let wal =
            std::fs::File::open(dir.path().join("data.db-wal")).unwrap_or_else(|e| panic!("{e}"));
        let size = wal.metadata().unwrap_or_else(|e| panic!("{e}")).len();
        // Where the file system can allocate ahead at all (tmpfs and ext4 can).
        let probe =
            std::fs::File::create(dir.path().join("probe")).unwrap_or_else(|e| panic!("{e}"));
        if allocate(&probe, 0, 4096) {
            assert!(
                allocated(&wal) >= size + GROW_BEFORE,
                "allocated {} for {size} bytes",
                allocated(&wal)
            );
        }
        drop(conn);
        let copy = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        let n: i64 = copy
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 2_000, "reopened (the WAL's spare room is no frame)");
    }
}
