//! Readiness: whether this node can serve, for `/api/health`'s superuser detail. The
//! answer itself stays PocketBase's (200 "API is healthy." while the process answers), so
//! monitors written for PocketBase keep working; a superuser's monitor reads `data.ready`
//! and which check failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kulisse_store::{Engine, Store};

use crate::Services;

/// Longest a check may take before it counts as failed: a probe must answer quickly even
/// when the database does not.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the checks found.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// The database the records are in.
    pub database: StoreCheck,
    /// The request log's store and queue (none without a request log).
    pub logs: Option<LogCheck>,
    /// Realtime clients connected to this node.
    pub realtime_clients: usize,
}

/// A round trip to a store.
#[derive(Debug, Clone)]
pub struct StoreCheck {
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// The read came back in time.
    pub ok: bool,
    /// How long it took.
    pub took: Duration,
    /// Why it failed (empty when it did not).
    pub error: String,
}

/// The request log's state.
#[derive(Debug, Clone)]
pub struct LogCheck {
    /// Its store answered.
    pub store: StoreCheck,
    /// Entries waiting for the writer.
    pub queued: usize,
    /// Entries dropped since the process started.
    pub dropped: u64,
}

impl Services {
    /// Reads once from each store (the records' and the log's) and gathers the queues.
    pub async fn readiness(&self) -> Readiness {
        let database = check(&self.records.store).await;
        let logs = match &self.logs {
            Some(logs) => Some(LogCheck {
                store: check(logs.store()).await,
                queued: logs.queued(),
                dropped: logs.dropped(),
            }),
            None => None,
        };
        Readiness {
            ready: database.ok && logs.as_ref().is_none_or(|l| l.store.ok),
            database,
            logs,
            realtime_clients: self.realtime.census().clients,
        }
    }
}

/// One read of a parameter: the path every request's reads take (a connection or a
/// reader thread, a query), without touching any app data.
async fn check(store: &Arc<dyn Store>) -> StoreCheck {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, store.param("kulisse.health")).await;
    let error = match outcome {
        Ok(Ok(_)) => String::new(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
    };
    StoreCheck {
        engine: match store.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        },
        ok: error.is_empty(),
        took: started.elapsed(),
        error,
    }
}
