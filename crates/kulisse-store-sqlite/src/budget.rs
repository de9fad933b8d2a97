//! Stopping queries: past the time budget, when their request is dropped, at shutdown.
//!
//! Every reader and the writer connection carry one progress handler ([`install`]) that
//! SQLite calls every [`PROGRESS_OPS`] virtual-machine steps; it stops the statement (which
//! then fails with `SQLITE_INTERRUPT`, classified as [`StoreError::Interrupted`]) when the
//! job running on this thread holds a [`Ticket`] that is over: its deadline passed, the
//! request awaiting it was dropped (the client left), or the store is stopping.
//!
//! NOTE: the current ticket lives in a thread-local, not in the handler: SQLite calls the
//! handler on the thread that steps the statement, which is the thread running the job, so
//! the hot path is one thread-local read and no lock. A connection never runs statements of
//! two jobs at once.
//!
//! NOTE: `sqlite3_interrupt` (the other way to stop a statement) acts on whatever the
//! connection runs when it lands, so a late call could stop the next job's query; the
//! handler only ever judges the job it runs under.
//!
//! Only reads run under a ticket, on the writer too (rule checks inside a write job):
//! SQLite may roll back the whole transaction when an INSERT/UPDATE/DELETE is interrupted,
//! which would undo the other jobs of the group commit. Writes themselves are bounded by the
//! rows they touch; the unbounded part of a write job is the reads its rules make.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use kulisse_store::StoreError;
use rusqlite::Connection;

/// VM steps between checks. A step costs ~10–50 ns, so a check (a thread-local read and,
/// with a ticket, a clock read) every 1,000 steps costs well under 1 % and reacts within
/// ~50 µs. Point reads on runtime threads finish in fewer steps and never install it.
const PROGRESS_OPS: i32 = 1_000;

thread_local! {
    /// The ticket of the read running on this thread, if any.
    static CURRENT: RefCell<Option<Ticket>> = const { RefCell::new(None) };
}

/// When one job must stop. Cheap to clone (one reference count).
#[derive(Clone)]
pub(crate) struct Ticket(Arc<TicketState>);

struct TicketState {
    deadline: Instant,
    /// Set when the request awaiting the job is dropped.
    abandoned: AtomicBool,
    /// The store's flag: set by `Store::stop_queries` and at close.
    stopping: Arc<AtomicBool>,
}

impl Ticket {
    /// A ticket for a job that may run until `deadline`, stopped early by `stopping`.
    pub(crate) fn new(deadline: Instant, stopping: Arc<AtomicBool>) -> Ticket {
        Ticket(Arc::new(TicketState {
            deadline,
            abandoned: AtomicBool::new(false),
            stopping,
        }))
    }

    /// Whether the job should stop now.
    pub(crate) fn is_over(&self) -> bool {
        self.0.abandoned.load(Ordering::Relaxed)
            || self.0.stopping.load(Ordering::Relaxed)
            || Instant::now() >= self.0.deadline
    }

    /// A guard for the awaiting side: dropping it (the request's future was dropped, or
    /// the answer arrived) marks the job abandoned, so it stops at its next check.
    pub(crate) fn abandon_on_drop(&self) -> AbandonOnDrop {
        AbandonOnDrop(self.clone())
    }

    /// Runs `f` with this ticket judging the statements it steps on this thread.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.is_over() {
            return Err(StoreError::Interrupted);
        }
        let _restore = Restore(CURRENT.with_borrow_mut(|c| c.replace(self.clone())));
        f()
    }
}

/// Puts the previous ticket back, also when the job panics (the writer catches panics and
/// goes on: a stale ticket must not judge its `COMMIT`).
struct Restore(Option<Ticket>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                *c = previous;
            }
        });
    }
}

/// Marks its job abandoned when dropped ([`Ticket::abandon_on_drop`]).
pub(crate) struct AbandonOnDrop(Ticket);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.0.abandoned.store(true, Ordering::Relaxed);
    }
}

/// Installs the progress handler on a reader or writer connection.
pub(crate) fn install(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.progress_handler(
        PROGRESS_OPS,
        Some(|| {
            CURRENT
                .try_with(|c| {
                    c.try_borrow()
                        .is_ok_and(|t| t.as_ref().is_some_and(Ticket::is_over))
                })
                .unwrap_or(false)
        }),
    )
}
