//! The request log (spec §8.3): every API request is logged off the request path, in
//! batches, into a store of its own (the data dir's `logs.db` on SQLite, so logging never
//! waits for record writes; a schema of its own on PostgreSQL), and read back by
//! superusers with the records' filter and sort language.
//!
//! A request hands its facts to [`LogService::record`], which only queues them: when the
//! queue is full the entry is dropped and counted, and the request never waits. A writer
//! task turns queued facts into PocketBase's log entries (applying the `logs` settings)
//! and stores them a batch per transaction, within a share of one core ([`Config`]): a
//! batch past it is dropped and counted too. A cleanup task deletes entries older than
//! `logs.maxDays`.

mod budget;
mod entry;
mod read;
mod retention;
mod service;
mod writer;

pub use entry::{Level, RequestFacts};
pub(crate) use service::ensure_table;

/// How the request log may use the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The share of one core its writer may use, in (0, 1]; batches past it are dropped
    /// and counted. 1 (the default, as PocketBase) writes every entry whatever it costs.
    pub cpu_share: f64,
    /// How often a node adds its analytics' rollup to the stored sums (and so how late
    /// its requests show on other nodes; a node's own show within a second, once its log's
    /// writer took them).
    pub rollup_every: std::time::Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cpu_share: 1.0,
            rollup_every: std::time::Duration::from_secs(60),
        }
    }
}
pub use read::{LogPage, LogStats};
pub use service::LogService;
