//! The one error type engines report; each engine maps driver errors here in one place.

/// Why a storage operation failed. Clone: a failed commit fails every job of its batch
/// with the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist.
    #[error("no such row")]
    NotFound,
    /// A unique constraint failed on this column (the first one when several are involved).
    #[error("unique constraint on {0}")]
    Unique(String),
    /// A NOT NULL / CHECK / foreign key constraint failed.
    #[error("constraint failed: {0}")]
    Constraint(String),
    /// A query (e.g. a view's SELECT) does not compile; the text is safe to show superusers.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The database is closed, busy beyond our retries, or unreachable.
    #[error("database unavailable")]
    Unavailable,
    /// The query was stopped before it finished: it ran past the query time budget
    /// ([`crate::QueryLimits::timeout`]), its request was abandoned by the client, or the
    /// server is shutting down. Nothing it would have written was kept.
    #[error("query interrupted")]
    Interrupted,
    /// The write job asked for a rollback (its own error travels separately).
    #[error("transaction rolled back")]
    RolledBack,
    /// The database's system tables were migrated by a newer kulisse than this one
    /// ([`crate::migrations`]); it was left untouched.
    #[error(
        "the database's system tables are at version {found}, newer than this kulisse knows \
         (version {known}); open it with the newer kulisse that last migrated it"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
    },
    /// The disk (or the database server's) is full: nothing of the write was kept, and
    /// writes succeed again once there is room.
    #[error("no space left for the database")]
    NoSpace,
    /// The database's files could not be read or written (an I/O error): nothing of the
    /// write was kept. The message is for logs, never for clients.
    #[error("database I/O error: {0}")]
    Io(String),
    /// Anything else; the message is for logs, never for clients.
    #[error("storage error: {0}")]
    Other(String),
}
