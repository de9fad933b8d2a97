//! The PostgreSQL engine: [`PostgresStore`] implements the storage port on a PostgreSQL
//! server, so several stateless kulisse nodes can share one database.
//!
//! Layout: `render` (query IR → SQL with SQLite's comparison semantics), `ddl` (tables,
//! indexes, metadata), `migrations` (the versioned system tables and helper functions,
//! brought up to date at connect), `codec` (values ⇄ parameters and columns), `tx`
//! (write transactions), `classify` (driver errors → `StoreError`), `cancel` (stopping the
//! queries of dropped requests and at shutdown). Same logical schema as the SQLite engine:
//! every collection is a table with typed columns, plus `_collections` and `_params`.
//! Write transactions can `NOTIFY` (`StoreTx::notify`); listening, and what the messages
//! mean, belong to the change feed adapter (`kulisse-feed-postgres`).
//!
//! Must not depend on: kulisse-core, HTTP types, other engines.

mod cancel;
mod classify;
mod codec;
mod ddl;
mod locks;
mod migrations;
mod render;
mod restore;
mod slow;
mod snapshot;
mod tx;

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use kulisse_store::{
    Engine, Hits, NamedLock, Page, PoolStatus, QueryLimits, Select, SlowQueries, SlowQuery, Store,
    StoreError, Term, WriteJob,
};
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio_postgres::NoTls;

use crate::cancel::{Lease, until_stopped};
use crate::classify::{classify, pool_error};
pub use crate::migrations::SYSTEM_MIGRATIONS;
use crate::tx::PgTx;

/// How long a request waits for a connection before it fails with 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    /// Permits for reads that may be slow (joins, views): a quarter of the pool stays for
    /// single-table reads and writes, so slow reads that keep coming can never take every
    /// connection (the SQLite engine's `Lane`, for the same reason).
    joins: Semaphore,
    /// True once [`Store::stop_queries`] was called.
    stop: watch::Sender<bool>,
    limits: QueryLimits,
    /// Hits counted by this node, to sweep closed windows now and then.
    hits_seen: AtomicU64,
    /// Reads slower than the limits' threshold, since the last drain.
    slow: SlowQueries,
}

impl PostgresStore {
    /// Connects and brings the system tables up to date ([`SYSTEM_MIGRATIONS`], under an
    /// advisory lock, so nodes starting together take turns), with the default
    /// [`QueryLimits`].
    ///
    /// # Errors
    /// When the URL is invalid, the server cannot be reached, a migration fails, or the
    /// database was migrated by a newer kulisse ([`StoreError::SchemaTooNew`], and the
    /// database is left as it was).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(url, QueryLimits::default()).await
    }

    /// [`PostgresStore::connect`] with `limits`.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_with(url: &str, limits: QueryLimits) -> Result<PostgresStore, StoreError> {
        let size = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .clamp(4, 32);
        Self::connect_to(url, limits, None, size).await
    }

    /// A store of its own in schema `schema` of the database at `url` (created when
    /// missing), with at most `connections` connections: the request log's, so that its
    /// tables never mix with the app's and its writes never take the app's connections.
    ///
    /// # Errors
    /// As [`Self::connect_with`]; an invalid schema name.
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        limits: QueryLimits,
        connections: usize,
    ) -> Result<PostgresStore, StoreError> {
        if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(StoreError::Other(format!("invalid schema name {schema:?}")));
        }
        Self::connect_to(url, limits, Some(schema), connections.max(1)).await
    }

    async fn connect_to(
        url: &str,
        limits: QueryLimits,
        schema: Option<&str>,
        size: usize,
    ) -> Result<PostgresStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid database url: {e}")))?;
        // The time budget, enforced by the server on every statement of every pooled
        // connection; options given in the URL come first and stay. PostgreSQL's largest
        // timeout is i32::MAX ms (~24 days).
        let millis = limits.timeout.as_millis().clamp(1, i32::MAX as u128);
        let mut budget = format!("-c statement_timeout={millis}");
        if let Some(schema) = schema {
            budget.push_str(&format!(" -c search_path={schema}"));
        }
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {budget}"),
            _ => budget,
        };
        config.options(options);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| pool_error(&e))?;
        if let Some(schema) = schema {
            // Two nodes may create it at once; the loser's error is no failure.
            let created = client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await;
            if let Err(e) = created {
                let exists = client
                    .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
                    .await
                    .map_err(|e| classify(&e, None))?;
                if exists.is_none() {
                    return Err(classify(&e, None));
                }
            }
        }
        migrations::run(&mut client, &SYSTEM_MIGRATIONS).await?;
        drop(client);
        Ok(PostgresStore {
            pool,
            joins: Semaphore::new((size - size / 4).max(1)),
            stop: watch::Sender::new(false),
            limits,
            hits_seen: AtomicU64::new(0),
            slow: SlowQueries::new(limits.slow),
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn load_collections(&self) -> Result<Vec<Value>, StoreError> {
        let client = self.pool.get().await.map_err(|e| pool_error(&e))?;
        let rows = client
            .query("SELECT data FROM _collections ORDER BY _rowid", &[])
            .await
            .map_err(|e| classify(&e, None))?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.get::<_, String>(0))
                    .map_err(|e| StoreError::Other(e.to_string()))
            })
            .collect()
    }

    async fn select(&self, query: Select) -> Result<Page, StoreError> {
        let _permit = if query.is_single_table() {
            None
        } else {
            Some(
                tokio::time::timeout(self.limits.timeout, self.joins.acquire())
                    .await
                    .map_err(|_| StoreError::Interrupted)?
                    .map_err(|_| StoreError::Unavailable)?,
            )
        };
        let lease = Lease::new(self.pool.get().await.map_err(|e| pool_error(&e))?);
        let client = lease.client();
        let slow = &self.slow;
        let page = until_stopped(&self.stop.subscribe(), client, async {
            let sql = render::select_rows(&query);
            let rows = slow::timed(slow, client, &sql, tx::rows_of(client, &query, &sql)).await?;
            let total = if query.count_total {
                let sql = render::count_rows(&query);
                Some(slow::timed(slow, client, &sql, tx::count(client, &query, &sql)).await?)
            } else {
                None
            };
            Ok(Page { rows, total })
        })
        .await;
        lease.release();
        page
    }

    async fn count_per(&self, query: Select, key: Term) -> Result<Vec<(String, u64)>, StoreError> {
        let lease = Lease::new(self.pool.get().await.map_err(|e| pool_error(&e))?);
        let client = lease.client();
        let counts = until_stopped(&self.stop.subscribe(), client, async {
            tx::count_per(client, &query, &key).await
        })
        .await;
        lease.release();
        counts
    }

    async fn write(&self, job: WriteJob) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(|e| pool_error(&e))?;
        let handle = tokio::runtime::Handle::current();
        let stop = self.stop.subscribe();
        tokio::task::spawn_blocking(move || {
            handle
                .block_on(client.batch_execute("BEGIN"))
                .map_err(|e| classify(&e, None))?;
            let mut tx = PgTx {
                client: &client,
                handle: handle.clone(),
                stop: &stop,
            };
            let result = catch_unwind(AssertUnwindSafe(|| job(&mut tx)))
                .unwrap_or_else(|_| Err(StoreError::Other("write job panicked".into())));
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = handle.block_on(client.batch_execute(end));
            // The job's hook runs here, on this blocking thread, which finishes even when
            // the caller stopped waiting.
            let result = result.map(|hook| {
                if let Some(hook) = hook {
                    hook(ended.is_ok());
                }
            });
            match ended {
                Ok(()) => result,
                Err(e) => Err(classify(&e, None)),
            }
        })
        .await
        .map_err(|_| StoreError::Other("write task failed".into()))?
    }

    async fn param(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let client = self.pool.get().await.map_err(|e| pool_error(&e))?;
        let rows = client
            .query("SELECT value FROM _params WHERE key = $1", &[&key])
            .await
            .map_err(|e| classify(&e, None))?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    async fn hit(&self, key: &str, window_secs: i64, now: i64) -> Result<Hits, StoreError> {
        let client = self.pool.get().await.map_err(|e| pool_error(&e))?;
        // One statement, so concurrent hits on one key queue on its row and each sees the
        // count with its own hit. Every thousandth hit of this node sweeps closed windows.
        let row = client
            .query_one(
                "INSERT INTO _hits (key, closes, hits) VALUES ($1::text, $2::bigint + $3::bigint, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 hits = CASE WHEN _hits.closes <= $2::bigint THEN 1 ELSE _hits.hits + 1 END, \
                 closes = CASE WHEN _hits.closes <= $2::bigint THEN $2::bigint + $3::bigint ELSE _hits.closes END \
                 RETURNING hits, closes",
                &[&key, &now, &window_secs],
            )
            .await
            .map_err(|e| classify(&e, None))?;
        if self.hits_seen.fetch_add(1, Ordering::Relaxed) % 1000 == 999 {
            client
                .execute("DELETE FROM _hits WHERE closes <= $1::bigint", &[&now])
                .await
                .map_err(|e| classify(&e, None))?;
        }
        Ok(Hits {
            count: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            closes: row.get(1),
        })
    }

    fn stop_queries(&self) {
        self.stop.send_replace(true);
    }

    fn drain_slow_queries(&self) -> Vec<SlowQuery> {
        self.slow.drain()
    }

    async fn try_lock(&self, name: &str) -> Result<Option<NamedLock>, StoreError> {
        locks::try_lock(&self.pool, name).await
    }

    async fn snapshot(&self, into: &std::path::Path) -> Result<(), StoreError> {
        snapshot::copy_out(&self.pool, into).await
    }

    async fn check_snapshot(&self, from: &std::path::Path) -> Result<(), StoreError> {
        restore::check(&self.pool, from).await
    }

    async fn restore(&self, from: &std::path::Path) -> Result<(), StoreError> {
        restore::restore(&self.pool, from).await
    }

    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            open: status.size,
            max: status.max_size,
            idle: Some(status.available),
            waiting_reads: status.waiting,
            waiting_writes: 0,
        }
    }

    async fn close(&self) {
        self.pool.close();
    }
}
