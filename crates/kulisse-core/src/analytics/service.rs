//! [`AnalyticsService`]: the rollup the request log's writer adds to, its flushes, and the
//! reads of what was flushed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use jiff::Timestamp;
use kulisse_schema::Collection;
use kulisse_schema::collection::analytics;
use kulisse_store::Store;

use super::rollup::{Requester, Rollup};
use crate::Ambient;
use crate::collections::Registry;
use crate::error::CoreError;
use crate::logs::RequestFacts;

/// Usage analytics: hourly sums of the requests the log's writer sees and of the slow
/// reads of the data store, kept in the log's store beyond the log's own retention.
#[derive(Clone)]
pub struct AnalyticsService {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// The log's store, where `_analytics` lives.
    pub(super) store: Arc<dyn Store>,
    /// `_analytics`.
    pub(super) collection: Arc<Collection>,
    /// The records' store: its slow reads, and the sign-ups of its auth collections.
    pub(super) data: Arc<dyn Store>,
    pub(super) registry: Registry,
    pub(super) ambient: Ambient,
    rollup: Mutex<Rollup>,
    /// Requests the log dropped, all told (the log's counter), and as of the last flush.
    dropped: Arc<AtomicU64>,
    flushed_dropped: AtomicU64,
    /// One flush at a time, so two never add the same rows twice.
    flushing: tokio::sync::Mutex<()>,
}

impl AnalyticsService {
    /// Opens `_analytics` in the log's `store` (creating it the first time) and flushes
    /// the rollup there every `every`; counts the request log's `dropped` requests too.
    ///
    /// # Errors
    /// When the table can neither be found nor created.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        data: Arc<dyn Store>,
        registry: Registry,
        ambient: Ambient,
        dropped: Arc<AtomicU64>,
        every: Duration,
    ) -> Result<AnalyticsService, CoreError> {
        let collection = Arc::new(crate::logs::ensure_table(&store, analytics()).await?);
        let inner = Arc::new(Inner {
            store,
            collection,
            data,
            registry,
            ambient,
            rollup: Mutex::default(),
            flushed_dropped: AtomicU64::new(dropped.load(Ordering::Relaxed)),
            dropped,
            flushing: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(flush_every(Arc::downgrade(&inner), every));
        Ok(AnalyticsService { inner })
    }

    /// Adds requests the log's writer took: when each was answered, its facts, and who
    /// made it (an auth collection's name and a record id; empty for a guest).
    pub(crate) fn add<'a>(
        &self,
        requests: impl Iterator<Item = (Timestamp, &'a RequestFacts, &'a str, &'a str)>,
    ) {
        let snapshot = self.inner.registry.snapshot();
        let mut rollup = self.inner.rollup.lock().unwrap_or_else(|p| p.into_inner());
        for (at, facts, auth_collection, auth_id) in requests {
            let collection = if facts.collection.is_empty() {
                ""
            } else {
                snapshot
                    .get(&facts.collection)
                    .map_or("", |c| c.name.as_str())
            };
            let requester = (!auth_id.is_empty()).then_some(Requester {
                collection: auth_collection,
                id: auth_id,
            });
            rollup.add_request(at, facts, collection, requester);
        }
    }

    /// Writes what this node summed since its last flush: the requests, the data store's
    /// slow reads and the requests the log dropped.
    ///
    /// # Errors
    /// When the log's store fails; what was to be written is then lost (and logged).
    pub async fn flush(&self) -> Result<(), CoreError> {
        let inner = &self.inner;
        let _one = inner.flushing.lock().await;
        let now = inner.ambient.clock.now();
        let dropped = inner.dropped.load(Ordering::Relaxed);
        let new_drops =
            dropped.saturating_sub(inner.flushed_dropped.swap(dropped, Ordering::Relaxed));
        let slow = inner.data.drain_slow_queries();
        let rows = {
            let mut rollup = inner.rollup.lock().unwrap_or_else(|p| p.into_inner());
            rollup.add_slow(now, slow);
            rollup.add_dropped(now, new_drops);
            if rollup.is_empty() {
                return Ok(());
            }
            rollup.take(now)
        };
        let n = rows.len();
        super::flush::write(&inner.store, &inner.collection, rows)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, rows = n, "analytics lost"))?;
        Ok(())
    }
}

async fn flush_every(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        // Errors are logged by the flush.
        let _ = AnalyticsService { inner }.flush().await;
    }
}
