//! How long streams last and how far back a reconnecting client can resume.

use std::time::Duration;

/// Realtime limits; the defaults are PocketBase's timeouts and kulisse's resume window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// A stream that sent nothing for this long ends (PocketBase: 5 minutes); the SDKs
    /// reconnect and subscribe again.
    pub idle: Duration,
    /// No stream lasts longer than this (PocketBase: 30 minutes).
    pub max_lifetime: Duration,
    /// How long a client whose stream dropped is kept for its reconnect to resume, and
    /// how old the oldest event it can be sent again may be. Zero turns resume off.
    pub resume_window: Duration,
    /// How many record events are kept to be sent again, at most.
    pub resume_events: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            idle: Duration::from_secs(5 * 60),
            max_lifetime: Duration::from_secs(30 * 60),
            resume_window: Duration::from_secs(5 * 60),
            resume_events: 10_000,
        }
    }
}
