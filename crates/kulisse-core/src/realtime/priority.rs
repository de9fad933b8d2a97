//! Realtime work yields the CPU to requests.
//!
//! Fanning one change out to thousands of subscribers is a burst of CPU work (rule checks,
//! then one socket write per subscriber). On a small machine that burst would delay the
//! requests arriving meanwhile, so the write that caused it and the ones after would get
//! slower with every subscriber, which is PocketBase's weakness this design avoids. The
//! threads doing that work (the dispatcher, and the runtime that writes the streams) run
//! at a lower CPU priority: requests go first, and the fan-out takes whatever CPU is
//! left, which on a machine not saturated by requests is all it needs.

/// The nice value of realtime threads (requests run at 0): such a thread gets about a
/// tenth of the CPU share of a request thread when both want the same core.
const NICENESS: i32 = 10;

/// Lowers the calling thread's CPU priority (Linux; elsewhere this does nothing). Failing
/// to is harmless: the thread runs at normal priority.
pub fn run_behind_requests() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICENESS) {
        tracing::debug!(error = %e, "cannot lower a realtime thread's priority");
    }
}
