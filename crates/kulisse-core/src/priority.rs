//! Background work yields the CPU to requests.
//!
//! Fanning one change out to thousands of subscribers is a burst of CPU work (rule checks,
//! then one socket write per subscriber), and writing the request log costs more than a
//! cheap request itself. On a small machine that work would delay the requests arriving
//! meanwhile, which is PocketBase's weakness this design avoids. The threads doing it (the
//! realtime dispatcher, the runtime that writes the streams, the request log's writer)
//! run at a lower CPU priority: requests go first, and the background takes whatever CPU
//! is left, which on a machine not saturated by requests is all it needs.
//!
//! The request log goes further: its writer runs only on a core that would otherwise idle
//! ([`run_only_when_idle`]). Its entries may wait, and past the queue's bound be dropped
//! (counted), but they never take CPU from a request: at nice 10 the writer still took a
//! fifth of a saturated machine's view throughput, since a woken request waited for the
//! writer's time slice.

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

/// Lets the calling thread run only when a core would otherwise idle (Linux's
/// `SCHED_IDLE`: any other thread that wakes takes the core at once); elsewhere, as
/// [`run_behind_requests`]. For work that may be late or dropped, never for work a client
/// waits for.
pub fn run_only_when_idle() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::debug!(error = ?e, "cannot make a background thread idle-only");
            run_behind_requests();
        }
    }
    #[cfg(not(target_os = "linux"))]
    run_behind_requests();
}
