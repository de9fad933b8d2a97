//! Keeps what a backup writes from piling up in the page cache.
//!
//! NOTE: a backup writes about twice the database's size (the snapshot, then the zip).
//! Left to the kernel, gigabytes of it sat dirty in the page cache, and the next fsync of
//! the live database (the checkpoint that lets the WAL start over) waited for their
//! writeback too: creates paused for up to 0.8 s during a backup of a 1 GB database
//! (`bench/backup-stall`). Flushing the file system every few MiB as the backup writes
//! keeps that backlog small; the backup takes a little longer, the writes do not wait.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

/// Bytes a backup writes between two flushes.
const FLUSH_EVERY: u64 = 8 << 20;

/// Counts what a backup writes under one directory and flushes its file system every
/// [`FLUSH_EVERY`] bytes.
#[derive(Clone)]
pub(super) struct Pacer {
    /// The directory, opened: `syncfs` takes any file of the file system.
    fs: Arc<File>,
    unflushed: u64,
}

impl Pacer {
    /// A pacer of what is written under `dir`.
    pub(super) fn new(dir: &Path) -> std::io::Result<Pacer> {
        Ok(Pacer {
            fs: Arc::new(File::open(dir)?),
            unflushed: 0,
        })
    }

    /// Counts `n` bytes written; true when the file system should be flushed now.
    pub(super) fn wrote(&mut self, n: u64) -> bool {
        self.unflushed += n;
        if self.unflushed < FLUSH_EVERY {
            return false;
        }
        self.unflushed = 0;
        true
    }

    /// Flushes the file system (blocking until its dirty data is written).
    pub(super) fn flush(&self) -> std::io::Result<()> {
        rustix::fs::syncfs(&*self.fs).map_err(std::io::Error::from)
    }

    /// [`Pacer::flush`] off the async runtime.
    pub(super) async fn flush_async(&self) -> std::io::Result<()> {
        let pacer = self.clone();
        tokio::task::spawn_blocking(move || pacer.flush())
            .await
            .map_err(std::io::Error::other)?
    }
}

/// A writer that [`Pacer`] flushes as it writes.
pub(super) struct Paced<W> {
    inner: W,
    pacer: Pacer,
}

impl<W> Paced<W> {
    pub(super) fn new(inner: W, pacer: Pacer) -> Paced<W> {
        Paced { inner, pacer }
    }

    pub(super) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.pacer.wrote(n as u64) {
            self.inner.flush()?;
            self.pacer.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Seek> Seek for Paced<W> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
