//! The scratch directories backups and restores work in, and removing them without holding
//! writes up.
//!
//! NOTE: a backup's scratch directory holds a copy of the whole database (1.4 GB for the
//! 1 GB of `bench/backup-stall`). Removed in one go, from the async task that made the
//! backup, the file system freed all of that file's blocks in one call: the runtime thread
//! waited for it, and on a disk mounted with `discard` every freed extent was a discard the
//! disk did before the writes and reads queued behind it, so creates paused for up to
//! 135 ms as a backup ended. The directory is now removed on a blocking thread, each large
//! file first shortened a [`SLICE`] at a time with a [`PAUSE`] between (as RocksDB's
//! rate-limited deletes do, for the same reason).

use std::path::Path;
use std::time::Duration;

use crate::error::CoreError;

use super::BackupError;

/// How much of a file is freed at a time.
const SLICE: u64 = 16 << 20;

/// The pause between two slices: at most 800 MB/s is freed.
const PAUSE: Duration = Duration::from_millis(20);

/// A fresh directory for one backup or restore, removed (in the background) when dropped.
pub(super) struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    /// A fresh directory under `scratch` (created if missing).
    ///
    /// # Errors
    /// [`BackupError::NotMade`] when the directory cannot be made (a full or read-only disk).
    pub(super) fn new(scratch: &Path) -> Result<Scratch, CoreError> {
        std::fs::create_dir_all(scratch)
            .and_then(|()| {
                tempfile::Builder::new()
                    .prefix("backup-")
                    .tempdir_in(scratch)
            })
            .map(|dir| Scratch(Some(dir)))
            .map_err(|e| {
                tracing::error!(error = %e, dir = %scratch.display(), "no room for a backup");
                BackupError::NotMade(format!("no room in {}: {e}", scratch.display())).into()
            })
    }

    pub(super) fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map_or(Path::new(""), tempfile::TempDir::path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(dir) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || remove(dir))),
            Err(_) => remove(dir),
        }
    }
}

/// Removes `dir`, shortening its large files a slice at a time first.
fn remove(dir: tempfile::TempDir) {
    shrink_files_in(dir.path());
    if let Err(e) = dir.close() {
        tracing::warn!(error = %e, "cannot remove a backup's scratch directory");
    }
}

fn shrink_files_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => shrink_files_in(&entry.path()),
            Ok(kind) if kind.is_file() => shrink(&entry.path()),
            _ => {}
        }
    }
}

/// Shortens the file at `path` to at most one slice, a slice at a time. A file with another
/// link (the finished zip, linked into a local backups directory) is left alone: shortening
/// it would shorten the stored backup.
fn shrink(path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.nlink() != 1 || meta.len() <= SLICE {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) else {
        return;
    };
    let mut len = meta.len();
    while len > SLICE {
        len -= SLICE;
        if file.set_len(len).is_err() {
            return;
        }
        std::thread::sleep(PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| entries.count())
    }

    /// Dropped outside a runtime, the directory is gone at once; a large file in it with
    /// another link keeps every byte.
    #[test]
    fn dropping_removes_the_directory_and_spares_linked_files() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let scratch = Scratch::new(root.path()).unwrap_or_else(|e| panic!("{e}"));
        let big = scratch.path().join("content").join("data.db");
        std::fs::create_dir_all(big.parent().unwrap_or(Path::new("")))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&big, vec![7_u8; 40 << 20]).unwrap_or_else(|e| panic!("{e}"));
        let zip = scratch.path().join("stall.zip");
        std::fs::write(&zip, vec![1_u8; 20 << 20]).unwrap_or_else(|e| panic!("{e}"));
        let kept = root.path().join("kept.zip");
        std::fs::hard_link(&zip, &kept).unwrap_or_else(|e| panic!("{e}"));
        let dir = scratch.path().to_owned();
        drop(scratch);
        assert!(!dir.exists());
        assert_eq!(files_under(root.path()), 1);
        let bytes = std::fs::read(&kept).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes.len(), 20 << 20);
        assert!(bytes.iter().all(|&b| b == 1));
    }

    /// Dropped inside a runtime, it is removed in the background, without blocking the task.
    #[tokio::test]
    async fn dropping_on_the_runtime_removes_it_in_the_background() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let scratch = Scratch::new(root.path()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(scratch.path().join("data.db"), vec![0_u8; 40 << 20])
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = scratch.path().to_owned();
        drop(scratch);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while dir.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "still there after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
