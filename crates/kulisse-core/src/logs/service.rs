//! [`LogService`]: the queue requests hand their facts to, and the tasks behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kulisse_schema::Collection;
use kulisse_schema::collection::logs;
use kulisse_store::{Store, StoreError};
use tokio::sync::mpsc;

use super::RequestFacts;
use crate::Ambient;
use crate::analytics::AnalyticsService;
use crate::auth::AuthService;
use crate::collections::Registry;
use crate::error::CoreError;
use crate::settings::SettingsService;

/// Entries waiting to be written; past this, new ones are dropped (and counted).
const QUEUE: usize = 16_384;

/// The request log.
#[derive(Clone)]
pub struct LogService {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// The log's own store.
    pub(super) store: Arc<dyn Store>,
    /// `_logs`.
    pub(super) collection: Arc<Collection>,
    pub(super) settings: SettingsService,
    pub(super) auth: AuthService,
    pub(super) ambient: Ambient,
    /// Sums of every request the writer takes.
    pub(super) analytics: AnalyticsService,
    queue: mpsc::Sender<(jiff::Timestamp, RequestFacts)>,
    /// Whether the settings keep logs (`logs.maxDays` above 0), as of `settings_version`.
    enabled: AtomicBool,
    /// Whether `trustedProxy` names headers, as of `settings_version`.
    behind_proxy: AtomicBool,
    /// Set while the writer's CPU budget is spent: requests are then not captured at all
    /// (only counted as dropped), so a pause costs them nothing.
    pub(super) paused: AtomicBool,
    settings_version: AtomicU64,
    /// Entries dropped because the queue was full, the writer's CPU budget spent, or
    /// their batch failed (shared with the analytics, which count them per hour).
    pub(super) dropped: Arc<AtomicU64>,
}

impl LogService {
    /// Opens the log in `store` (creating its tables the first time) and starts its
    /// writer and its analytics (of the collections in `registry`, whose records are in
    /// `data`). Old entries are deleted by a scheduled job ([`crate::crons`]).
    ///
    /// # Errors
    /// When the log's tables can neither be found nor created.
    pub async fn start(
        store: Arc<dyn Store>,
        data: Arc<dyn Store>,
        registry: Registry,
        settings: SettingsService,
        auth: AuthService,
        ambient: Ambient,
        config: super::Config,
    ) -> Result<LogService, CoreError> {
        let collection = Arc::new(ensure_table(&store, logs()).await?);
        let dropped = Arc::new(AtomicU64::new(0));
        let analytics = AnalyticsService::start(
            Arc::clone(&store),
            data,
            registry,
            ambient.clone(),
            Arc::clone(&dropped),
            config.rollup_every,
        )
        .await?;
        let (queue, received) = mpsc::channel(QUEUE);
        let inner = Arc::new(Inner {
            store,
            collection,
            settings,
            auth,
            ambient,
            analytics,
            queue,
            enabled: AtomicBool::new(false),
            behind_proxy: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            settings_version: AtomicU64::new(u64::MAX),
            dropped,
        });
        tokio::spawn(super::writer::run(Arc::clone(&inner), received, config));
        Ok(LogService { inner })
    }

    /// Whether requests are logged now (`logs.maxDays` above 0, and the writer's CPU
    /// budget not spent): callers ask before they gather a request's facts, so that
    /// logging turned off costs nothing. A request not wanted during a pause is counted
    /// as dropped.
    pub fn wants(&self) -> bool {
        let inner = &self.inner;
        let version = inner.settings.version();
        if inner.settings_version.load(Ordering::Relaxed) != version {
            let settings = inner.settings.snapshot();
            inner
                .enabled
                .store(settings.logs.max_days > 0, Ordering::Relaxed);
            inner.behind_proxy.store(
                !settings.trusted_proxy.headers.is_empty(),
                Ordering::Relaxed,
            );
            inner.settings_version.store(version, Ordering::Relaxed);
        }
        if !inner.enabled.load(Ordering::Relaxed) {
            return false;
        }
        if inner.paused.load(Ordering::Relaxed) {
            inner.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Whether `trustedProxy` names headers, so a client's address needs working out (as
    /// of the last [`Self::wants`]).
    pub fn behind_proxy(&self) -> bool {
        self.inner.behind_proxy.load(Ordering::Relaxed)
    }

    /// Queues a request's entry; never waits. Dropped (and counted) when the queue is
    /// full or the writer's CPU budget is spent.
    pub fn record(&self, facts: RequestFacts) {
        let inner = &self.inner;
        if inner.paused.load(Ordering::Relaxed) {
            inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let at = inner.ambient.clock.now();
        if inner.queue.try_send((at, facts)).is_err() {
            inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lets the writer store what is queued (for up to a second) and the analytics their
    /// rollup, then closes the log's store: the server is stopping.
    pub async fn close(&self) {
        let queue = &self.inner.queue;
        for _ in 0..100 {
            if queue.capacity() == queue.max_capacity() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Errors are logged by the flush.
        let _ = self.inner.analytics.flush().await;
        self.inner.store.close().await;
    }

    /// The analytics rolled up from the log.
    pub fn analytics(&self) -> &AnalyticsService {
        &self.inner.analytics
    }

    /// Deletes the entries older than `logs.maxDays` (PocketBase's `__pbLogsCleanup__`,
    /// every six hours, see [`crate::crons`]); how many.
    ///
    /// # Errors
    /// When the log's store fails.
    pub async fn delete_old(&self) -> Result<u64, CoreError> {
        Ok(super::retention::clean(&self.inner).await?)
    }

    /// Entries dropped so far (a full queue, a failed write).
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Entries waiting for the writer.
    pub fn queued(&self) -> usize {
        let queue = &self.inner.queue;
        queue.max_capacity() - queue.capacity()
    }

    /// The store the log is kept in.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
}

/// The log store's table `wanted` (`_logs`, `_analytics`), created when missing (another
/// node may create it at the same moment: then its table is the one).
pub(crate) async fn ensure_table(
    store: &Arc<dyn Store>,
    wanted: Collection,
) -> Result<Collection, CoreError> {
    let name = wanted.name.clone();
    let has = |stored: &[serde_json::Value]| {
        stored
            .iter()
            .any(|c| c.get("name").and_then(serde_json::Value::as_str) == Some(name.as_str()))
    };
    if has(&store.load_collections().await?) {
        return Ok(wanted);
    }
    let create = wanted.clone();
    let created = store
        .write(Box::new(move |tx| {
            tx.create_collection(&create).map(|()| None)
        }))
        .await;
    match created {
        Ok(()) => Ok(wanted),
        Err(_) if has(&store.load_collections().await?) => Ok(wanted),
        Err(e) => Err(CoreError::Store(StoreError::Other(format!(
            "cannot create the log's table {name}: {e}"
        )))),
    }
}
