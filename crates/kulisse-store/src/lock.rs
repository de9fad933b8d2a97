//! Locks by name that every process on the database sees: what keeps a scheduled job
//! (a cleanup, a backup) from running on two nodes at once.

/// A held lock ([`crate::Store::try_lock`]); released when dropped, or when the process
/// holding it dies. Dropping may release it a moment later (PostgreSQL notices the closed
/// connection by itself); [`NamedLock::release`] returns once it is free.
pub struct NamedLock {
    _held: Box<dyn Send + Sync>,
    release: Option<Release>,
}

/// Frees a lock now.
type Release = Box<
    dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

impl NamedLock {
    /// A lock released when `held` is dropped.
    pub fn new(held: impl Send + Sync + 'static) -> NamedLock {
        NamedLock {
            _held: Box::new(held),
            release: None,
        }
    }

    /// A lock that `release` frees at once, or dropping `held` later.
    pub fn releasing<F>(held: impl Send + Sync + 'static, release: F) -> NamedLock
    where
        F: FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            + Send
            + Sync
            + 'static,
    {
        NamedLock {
            _held: Box::new(held),
            release: Some(Box::new(release)),
        }
    }

    /// Frees the lock, returning once another process can take it.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            release().await;
        }
    }
}

impl std::fmt::Debug for NamedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamedLock")
    }
}
