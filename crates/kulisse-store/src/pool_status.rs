//! [`PoolStatus`]: what an engine's connections are doing, read when metrics are scraped.

/// A snapshot of an engine's connections and queues. The two engines queue differently:
/// SQLite's reads wait for a reader thread and its writes for the one writer thread (whose
/// queue the group commit folds into batches); PostgreSQL's reads and writes alike wait for
/// a pooled connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now.
    pub open: usize,
    /// The most connections the engine opens.
    pub max: usize,
    /// Open connections nobody uses now; `None` where the engine cannot tell (SQLite's
    /// threads take work from a queue).
    pub idle: Option<usize>,
    /// Reads (on PostgreSQL: any query or transaction) waiting for a connection.
    pub waiting_reads: usize,
    /// Write jobs waiting for SQLite's writer thread; 0 on PostgreSQL, whose writes count
    /// among `waiting_reads`.
    pub waiting_writes: usize,
}
