//! Flushing a file to disk while it is written, so its dirty pages never pile up.
//!
//! NOTE: left to the kernel, a large write (`VACUUM INTO`'s copy of a 1 GB database, or a
//! checkpoint copying hundreds of MB of WAL back) sat in the page cache as gigabytes of
//! dirty pages. The writer's next fsync, and its WAL writes once the kernel throttled the
//! process, waited for their writeback: creates paused for up to 0.8 s during a backup
//! (`bench/backup-stall`). Flushed as it is written, the backlog stays at what 50 ms of
//! writing makes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the file is flushed.
const EVERY: Duration = Duration::from_millis(50);

/// Runs `work`, which writes `path`, while a thread flushes `path` every [`EVERY`].
pub(crate) fn while_writing<T>(path: &Path, work: impl FnOnce() -> T) -> T {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let flusher = s.spawn(|| {
            loop {
                std::thread::park_timeout(EVERY);
                if done.load(Ordering::Acquire) {
                    return;
                }
                if let Ok(file) = std::fs::File::open(path) {
                    let _ = file.sync_data();
                }
            }
        });
        let result = work();
        done.store(true, Ordering::Release);
        // Woken, it ends at once: a short `work` does not wait out its sleep.
        flusher.thread().unpark();
        result
    })
}
