//! Backups (spec §8.4, superusers only): a zip of a consistent snapshot of the records'
//! store ([`Store::snapshot`](kulisse_store::Store::snapshot): SQLite's `VACUUM INTO`, or
//! PostgreSQL's tables copied out in one repeatable-read transaction), of the request
//! log's, and of the uploaded files, with a manifest of every entry's size and SHA-256.
//! Writes go on while it is made. Backups are kept in the data dir's `backups/`, or in the
//! bucket `backups.s3` names. One backup or restore runs at a time, across nodes.
//!
//! While `backups.cron` is set, a scheduled job makes one at its minutes and keeps the
//! newest `backups.cronMaxKeep` of those. A restore checks the whole archive and the
//! snapshot before it replaces anything, then tells every node (see `restore.rs`).

mod archive;
mod error;
mod name;
mod paced;
mod restore;
mod scheduled;
mod scratch;
mod service;

pub use error::BackupError;
pub use service::{BackupInfo, BackupService, Sources};

/// Told each step of a backup or restore as it starts (the command line shows them).
pub type Progress = dyn Fn(&'static str) + Send + Sync;

/// The progress of an operation nobody watches (one the API started).
pub fn unwatched(_step: &'static str) {}
