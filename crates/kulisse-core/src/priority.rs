//! Background work yields the CPU to requests.
//!
//! Fanning one change out to thousands of subscribers is a burst of CPU work (rule checks,
//! then one socket write per subscriber), and writing the request log costs more than a
//! cheap request itself. On a small machine that work would delay the requests arriving
//! meanwhile, which is PocketBase's weakness this design avoids. The threads doing it (the
//! realtime dispatcher, the runtime that writes the streams, the request log's writer)
//! run at a lower CPU priority: requests go first, and the background takes whatever CPU
//! is left, which on a machine not saturated by requests is all it needs. A saturated
//! machine's request log falls behind, and past its queue's bound drops entries (counted)
//! rather than slow the requests.

/// The nice value of background threads (requests run at 0): such a thread gets about a
/// tenth of the CPU share of a request thread when both want the same core.
const NICENESS: i32 = 10;

/// Lowers the calling thread's CPU priority (Linux; elsewhere this does nothing). Failing
/// to is harmless: the thread runs at normal priority.
pub fn run_behind_requests() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICENESS) {
        tracing::debug!(error = %e, "cannot lower a background thread's priority");
    }
}
