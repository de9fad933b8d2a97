//! The SQLite engine: [`SqliteStore`] implements the storage port on an embedded database.
//!
//! Layout: `pool` (threads, connections, group commit), `render` (query IR → SQL), `ddl`
//! (tables, views, indexes, metadata), `hits` (the in-memory hit counters), `codec` (values ⇄ columns), `tx` (the write
//! transaction), `classify` (driver errors → `StoreError`), `budget` (stopping queries past
//! the time budget, of dropped requests, at shutdown), `migrations` (the versioned system
//! tables, brought up to date at open). Every collection is a real table with typed columns
//! and real indexes; `_collections` and `_params` hold metadata, `_migrations` the version.
//!
//! Must not depend on: kulisse-core, HTTP types, other engines.

mod budget;
mod checkpoint;
mod classify;
mod codec;
mod ddl;
mod flush;
mod functions;
mod hits;
mod inline;
mod locks;
mod migrations;
mod pool;
mod render;
mod slow;
mod snapshot;
mod tx;
mod wal_ahead;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kulisse_store::{
    Engine, Hits, NamedLock, Page, PoolStatus, QueryLimits, Select, SlowQueries, SlowQuery, Store,
    StoreError, Term, WriteJob,
};
use serde_json::Value;

use crate::classify::classify;
pub use crate::inline::release_thread_snapshots;
pub use crate::migrations::SYSTEM_MIGRATIONS;
pub use crate::pool::describe_metrics;
use crate::pool::{Lane, Pool};

/// The embedded SQLite store.
pub struct SqliteStore {
    pool: Pool,
    path: PathBuf,
    /// Identifies this store's per-thread connections (see `inline`).
    id: u64,
    /// The hit counters ([`Store::hit`]).
    hits: hits::Counters,
    /// Reads slower than the limits' threshold, since the last drain.
    slow: Arc<SlowQueries>,
    /// The names locked by [`Store::try_lock`].
    locks: locks::Locks,
}

/// Source of store ids for per-thread connections.
static NEXT_STORE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, brings its system tables up to
    /// date ([`SYSTEM_MIGRATIONS`]) and starts its threads, with the default [`QueryLimits`].
    ///
    /// # Errors
    /// When the file cannot be opened, a migration fails, or the data dir was migrated by a
    /// newer kulisse ([`StoreError::SchemaTooNew`], and the file is left as it was).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, QueryLimits::default())
    }

    /// [`SqliteStore::open`] with `limits`.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_with(path: &Path, limits: QueryLimits) -> Result<SqliteStore, StoreError> {
        let writer = pool::open(path, pool::Role::Write).map_err(classify)?;
        migrations::run(&writer, &SYSTEM_MIGRATIONS)?;
        // One reader per core, plus the one reserved for single-table reads (`Lane`).
        let readers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8)
            + 1;
        let pool = Pool::start(path, writer, readers, limits).map_err(classify)?;
        let id = NEXT_STORE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SqliteStore {
            pool,
            path: path.to_owned(),
            id,
            hits: hits::Counters::default(),
            slow: Arc::new(SlowQueries::new(limits.slow)),
            locks: locks::Locks::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn load_collections(&self) -> Result<Vec<Value>, StoreError> {
        self.pool
            .read(Lane::OneTable, |conn| {
                let mut stmt = conn
                    .prepare("SELECT data FROM _collections ORDER BY rowid")
                    .map_err(classify)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(classify)?;
                let mut out = Vec::new();
                for data in rows {
                    let data = data.map_err(classify)?;
                    out.push(
                        serde_json::from_str(&data)
                            .map_err(|e| StoreError::Other(e.to_string()))?,
                    );
                }
                Ok(out)
            })
            .await
    }

    async fn select(&self, query: Select) -> Result<Page, StoreError> {
        if inline::is_point_read(&query) && !self.pool.is_closed() {
            let rows = inline::with_connection(self.id, &self.path, self.pool.commits(), |conn| {
                inline::point_read(conn, &query)
            })?;
            return Ok(Page { rows, total: None });
        }
        let lane = if query.is_single_table() {
            Lane::OneTable
        } else {
            Lane::Joins
        };
        let slow = Arc::clone(&self.slow);
        self.pool
            .read(lane, move |conn| {
                let sql = render::select_rows(&query);
                let rows = slow::timed(&slow, conn, &sql, || {
                    tx::query_rows(conn, &sql.text, &sql.params, &query.collection.fields)
                })?;
                let total = if query.count_total {
                    let sql = render::count_rows(&query);
                    Some(slow::timed(&slow, conn, &sql, || tx::count(conn, &sql))?)
                } else {
                    None
                };
                Ok(Page { rows, total })
            })
            .await
    }

    async fn write(&self, job: WriteJob) -> Result<(), StoreError> {
        self.pool.write(job).await
    }

    async fn count_per(&self, query: Select, key: Term) -> Result<Vec<(String, u64)>, StoreError> {
        self.pool
            .read(Lane::OneTable, move |conn| {
                tx::count_per(conn, &query, &key)
            })
            .await
    }

    async fn param(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let key = key.to_owned();
        self.pool
            .read(Lane::OneTable, move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT value FROM _params WHERE key = ?1")
                    .map_err(classify)?;
                let mut rows = stmt.query([&key]).map_err(classify)?;
                match rows.next().map_err(classify)? {
                    Some(r) => {
                        let s: Option<String> = r.get(0).map_err(classify)?;
                        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
                    }
                    None => Ok(None),
                }
            })
            .await
    }

    async fn hit(&self, key: &str, window_secs: i64, now: i64) -> Result<Hits, StoreError> {
        Ok(self.hits.hit(key, window_secs, now))
    }

    fn stop_queries(&self) {
        self.pool.stop_queries();
    }

    fn drain_slow_queries(&self) -> Vec<SlowQuery> {
        self.slow.drain()
    }

    async fn try_lock(&self, name: &str) -> Result<Option<NamedLock>, StoreError> {
        Ok(self.locks.try_lock(name))
    }

    async fn snapshot(&self, into: &Path) -> Result<(), StoreError> {
        let (from, into) = (self.path.clone(), into.to_owned());
        tokio::task::spawn_blocking(move || snapshot::vacuum_into(&from, &into))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?
    }

    async fn check_snapshot(&self, from: &Path) -> Result<(), StoreError> {
        let file = snapshot::file_in(&self.path, from)?;
        let checked = file.clone();
        tokio::task::spawn_blocking(move || snapshot::integrity_check(&checked))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))??;
        // Opening runs this kulisse's migrations on the copy, as a start on it would.
        let copy = SqliteStore::open(&file)?;
        let loaded = copy.load_collections().await;
        copy.close().await;
        loaded.map(drop)
    }

    async fn restore(&self, from: &Path) -> Result<(), StoreError> {
        let (live, file) = (self.path.clone(), snapshot::file_in(&self.path, from)?);
        tokio::task::spawn_blocking(move || snapshot::copy_into(&file, &live))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?
    }

    fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }

    async fn close(&self) {
        inline::forget(self.id);
        self.pool.shutdown();
    }
}

#[cfg(test)]
mod tests;
