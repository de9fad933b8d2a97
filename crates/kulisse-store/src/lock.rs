//! Locks by name that every process on the database sees: what keeps a scheduled job
//! (a cleanup, a backup) from running on two nodes at once.

/// A held lock ([`crate::Store::try_lock`]); released when dropped, or when the process
/// holding it dies.
pub struct NamedLock {
    _held: Box<dyn Send + Sync>,
}

impl NamedLock {
    /// A lock released when `held` is dropped.
    pub fn new(held: impl Send + Sync + 'static) -> NamedLock {
        NamedLock {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for NamedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamedLock")
    }
}
