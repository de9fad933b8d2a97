//! The storage port: what the services need from a database, and nothing about how.
//!
//! Engines (SQLite now, PostgreSQL next) implement [`Store`] and [`StoreTx`]. Queries cross
//! this seam as a small typed IR ([`Select`], [`Cond`], [`Term`]) built from the collection
//! schema, never as SQL text: each engine renders its own dialect, binds every value as a
//! parameter and quotes identifiers in one helper.
//!
//! Reads go through [`Store::select`]; everything that changes data or schema runs as a
//! [`WriteJob`], a closure executed inside one transaction on the engine's writer. Jobs are
//! synchronous on purpose: the SQLite engine runs them on its writer thread, and any engine
//! can run them on a blocking thread, which keeps multi-step writes (cascading deletes,
//! schema changes) free of async borrow gymnastics.
//!
//! Must not depend on: kulisse-core, HTTP types, SQL drivers.

mod affinity;
mod error;
pub mod geo;
mod limits;
mod lock;
pub mod migrations;
mod pool_status;
mod query;
mod rebuild;
mod shape;
mod slow;

use std::sync::Arc;

use async_trait::async_trait;
use kulisse_schema::Collection;
use serde_json::Value;

pub use affinity::Affinity;
pub use error::StoreError;
pub use limits::QueryLimits;
pub use lock::NamedLock;
pub use migrations::{Migration, Migrations};
pub use pool_status::PoolStatus;
pub use query::{CmpOp, Cond, Join, JoinSource, Literal, NaturalOrder, Order, Page, Select, Term};
pub use rebuild::{Carry, Conversion, index_changes, rebuild_plan, same_columns, same_table_shape};
pub use shape::SemiJoin;
pub use slow::{SlowQueries, SlowQuery};

/// One record as stored: column name → canonical JSON value.
pub type Row = serde_json::Map<String, Value>;

/// A transaction body. Returning `Err` rolls the whole job back; returning a hook asks the
/// engine to run it once the transaction has ended (see [`AfterCommit`]).
pub type WriteJob =
    Box<dyn FnOnce(&mut dyn StoreTx) -> Result<Option<AfterCommit>, StoreError> + Send>;

/// Runs when a successful job's transaction has ended: with `true` after COMMIT, with
/// `false` when the commit failed (or its outcome is unknown). The engine runs it on its
/// own thread, whether or not the caller still waits for the write (a request whose client
/// left), before the caller hears back, and for jobs committed together in the order they
/// ran, so whoever learns of committed changes through it learns of all of them, in order.
/// It must be quick and must not block.
pub type AfterCommit = Box<dyn FnOnce(bool) + Send>;

/// Which database engine serves a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A column of a view query, as the engine describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewColumn {
    /// Output column name.
    pub name: String,
    /// `(table, column)` when the column is a bare reference to a table column.
    pub source: Option<(String, String)>,
    /// Whether the expression is an integer aggregate such as `count(*)`.
    pub is_count: bool,
}

/// The LIKE pattern of PocketBase's `~` for a literal: a text with an unescaped `%` is
/// used as given (the user wrote a pattern); anything else becomes a "contains" match with
/// its wildcards escaped (`\\%` and `\\_` in the text stay literal). Every engine and the
/// in-memory evaluator use this with `ESCAPE '\\'`.
pub fn like_pattern(s: &str) -> String {
    let mut prev_backslash = false;
    let has_wildcard = s.chars().any(|c| {
        let hit = c == '%' && !prev_backslash;
        prev_backslash = c == '\\' && !prev_backslash;
        hit
    });
    if has_wildcard {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('%' | '_')) => {
                out.push('\\');
                out.extend(chars.next());
            }
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('%');
    out
}

/// Marks `count(…) AS name` output columns of a view query, which PocketBase types as
/// integer numbers. Engines describe columns; this reads the query text the same way for
/// every engine.
pub fn mark_count_columns(query: &str, cols: &mut [ViewColumn]) {
    let lower = query.to_ascii_lowercase();
    for c in cols.iter_mut().filter(|c| c.source.is_none()) {
        let alias = format!("as {}", c.name.to_ascii_lowercase());
        if let Some(pos) = lower.find(&alias) {
            let before = lower[..pos].trim_end();
            if before.ends_with(')')
                && before
                    .rfind("count(")
                    .is_some_and(|p| !before[p..].contains(','))
            {
                c.is_count = true;
            }
        }
    }
}

/// A key's window after a [`Store::hit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    /// Hits in the window, this one included.
    pub count: u64,
    /// When the window closes (unix seconds).
    pub closes: i64,
}

/// The storage port.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The engine behind this store.
    fn engine(&self) -> Engine;

    /// The stored collection definitions (full JSON, secrets included), in creation order.
    ///
    /// # Errors
    /// When the database cannot be read.
    async fn load_collections(&self) -> Result<Vec<Value>, StoreError>;

    /// Runs a read query.
    ///
    /// # Errors
    /// When the query cannot run (bad IR for the schema, database unavailable).
    async fn select(&self, query: Select) -> Result<Page, StoreError>;

    /// Runs `job` in one transaction; commits when it returns `Ok`.
    ///
    /// # Errors
    /// The job's own error, or a commit failure.
    async fn write(&self, job: WriteJob) -> Result<(), StoreError>;

    /// How many rows of `query` (its filter; its order and paging are ignored) have each
    /// value of `key`, read as text (NULL as ""), in ascending key order: the request
    /// log's hourly counts.
    ///
    /// # Errors
    /// When the query cannot run.
    async fn count_per(&self, query: Select, key: Term) -> Result<Vec<(String, u64)>, StoreError>;

    /// Reads a value from the key/value parameter table (settings, secrets).
    ///
    /// # Errors
    /// When the database cannot be read.
    async fn param(&self, key: &str) -> Result<Option<Value>, StoreError>;

    /// Counts a hit on `key` in its current window: a fixed window of `window_secs` that
    /// opens at the first hit after the last one closed (`now` is unix seconds, the
    /// services' clock). Every process on the database shares the count, so rate limits and
    /// attempt caps hold on several nodes. Counts are not data: a crash may forget them.
    ///
    /// # Errors
    /// When the database cannot be written.
    async fn hit(&self, key: &str, window_secs: i64, now: i64) -> Result<Hits, StoreError>;

    /// Interrupts every query running now and every one started from now on (they fail
    /// with [`StoreError::Interrupted`]); called when the server begins shutting down, so
    /// in-flight requests end at once instead of holding the shutdown for up to a query
    /// budget. [`Store::close`] still flushes and closes afterwards.
    fn stop_queries(&self);

    /// What the connections are doing now (for the metrics; cheap, never waits).
    fn pool_status(&self) -> PoolStatus;

    /// The reads slower than [`QueryLimits::slow`] since the last call, by shape (for the
    /// slow-query log; cheap, never waits on the database).
    fn drain_slow_queries(&self) -> Vec<SlowQuery>;

    /// Writes a consistent copy of this store's data into the directory `into`, while
    /// writes go on: on SQLite its database file under its own name (`data.db`), made by
    /// `VACUUM INTO` in one read transaction; on PostgreSQL `postgres-<schema>/<table>.copy`
    /// for each table of its schema, `COPY … TO STDOUT` in one repeatable-read
    /// transaction. Backups are made of these.
    ///
    /// # Errors
    /// When the database cannot be read or `into` written.
    async fn snapshot(&self, into: &std::path::Path) -> Result<(), StoreError>;

    /// Checks that the directory `from` holds a snapshot of this store that can be restored
    /// ([`Store::snapshot`]'s files, as a backup brought them back): on SQLite, that its
    /// file passes `PRAGMA integrity_check` and opens with this kulisse's migrations; on
    /// PostgreSQL, that it was made with the same migrations and its collections' definitions
    /// load.
    ///
    /// # Errors
    /// [`StoreError::Other`] saying what is wrong.
    async fn check_snapshot(&self, from: &std::path::Path) -> Result<(), StoreError>;

    /// Replaces this store's data with the checked snapshot in `from`, at once for every
    /// reader, while the server keeps running: on SQLite, SQLite's backup API copies the
    /// snapshot into the live database in one write transaction; on PostgreSQL, one
    /// transaction drops and remakes every collection and copies every table back in.
    ///
    /// # Errors
    /// When the copy fails (the live data is then as it was).
    async fn restore(&self, from: &std::path::Path) -> Result<(), StoreError>;

    /// Takes the lock named `name` if no process on this database holds it (`None` when
    /// one does): PostgreSQL's session advisory locks, held on a connection of their own;
    /// within the process on SQLite, which one process serves.
    ///
    /// # Errors
    /// When the database cannot be reached.
    async fn try_lock(&self, name: &str) -> Result<Option<NamedLock>, StoreError>;

    /// Flushes and closes; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);
}

/// Operations available inside a write transaction.
pub trait StoreTx {
    /// Reads rows (no totals) inside the transaction.
    ///
    /// # Errors
    /// When the query cannot run.
    fn select(&mut self, query: &Select) -> Result<Vec<Row>, StoreError>;
    /// Inserts a full row.
    ///
    /// # Errors
    /// Constraint violations as [`StoreError::Unique`] and friends.
    fn insert(&mut self, collection: &Collection, row: &Row) -> Result<(), StoreError>;
    /// Inserts `rows` into `collection`, each a value per field in the collection's field
    /// order, a JSON-stored field as its JSON text: bulk appends (the request log's) without
    /// a map and a rendered statement per row.
    ///
    /// # Errors
    /// As [`StoreTx::insert`]; a row with another number of values than the fields.
    fn append(&mut self, collection: &Collection, rows: &[Vec<Literal>]) -> Result<(), StoreError>;
    /// Updates the given columns of the row with `id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no such row exists; constraint violations.
    fn update(
        &mut self,
        collection: &Collection,
        id: &str,
        changes: &Row,
    ) -> Result<(), StoreError>;
    /// Deletes the row with `id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no such row exists.
    fn delete(&mut self, collection: &Collection, id: &str) -> Result<(), StoreError>;
    /// Deletes every row.
    ///
    /// # Errors
    /// When the table cannot be emptied.
    fn truncate(&mut self, collection: &Collection) -> Result<(), StoreError>;
    /// Creates the table (or view), its indexes and the metadata entry.
    ///
    /// # Errors
    /// When the DDL fails (e.g. an invalid view query).
    fn create_collection(&mut self, collection: &Collection) -> Result<(), StoreError>;
    /// Changes a collection's table to match `new`, keeping data of fields that survive
    /// (matched by field id, so renames keep their values).
    ///
    /// # Errors
    /// When the DDL fails; the transaction then rolls back.
    fn alter_collection(&mut self, old: &Collection, new: &Collection) -> Result<(), StoreError>;
    /// Drops the table (or view) and the metadata entry.
    ///
    /// # Errors
    /// When the DDL fails.
    fn drop_collection(&mut self, collection: &Collection) -> Result<(), StoreError>;
    /// Describes the columns a view query produces, without creating anything.
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] when the query does not compile.
    fn describe_view(&mut self, query: &str) -> Result<Vec<ViewColumn>, StoreError>;
    /// Writes a value into the key/value parameter table.
    ///
    /// # Errors
    /// When the write fails.
    fn set_param(&mut self, key: &str, value: &Value) -> Result<(), StoreError>;
    /// Refreshes the query planner's statistics where they are stale (SQLite's `PRAGMA
    /// optimize`, PostgreSQL's `ANALYZE`): PocketBase's nightly `__pbDBOptimize__`.
    ///
    /// # Errors
    /// When the database refuses.
    fn optimize(&mut self) -> Result<(), StoreError>;
    /// Queues `payload` for every process listening on `channel` of this database; it is
    /// delivered if, and only if, the transaction commits, so a listener never hears of a
    /// change that was rolled back, nor misses one that committed while it was connected
    /// (PostgreSQL's `NOTIFY`, at most [`MAX_NOTIFY_PAYLOAD`] bytes). Engines that serve a
    /// single process have nobody to tell and refuse it.
    ///
    /// # Errors
    /// When the engine has no such channel, or the payload is too long.
    fn notify(&mut self, channel: &str, payload: &str) -> Result<(), StoreError>;
}

/// The row an [`StoreTx::append`] row's `values` make, for stores that insert rows as maps:
/// each field's value, a JSON-stored field's text parsed back to its value.
///
/// # Errors
/// When there are not as many values as fields.
pub fn appended_row(collection: &Collection, values: &[Literal]) -> Result<Row, StoreError> {
    check_appended(collection, values)?;
    Ok(collection
        .fields
        .iter()
        .zip(values)
        .map(|(f, v)| {
            let value = match v {
                Literal::Null => Value::Null,
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Number(n) => {
                    serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
                }
                Literal::Text(t) if f.kind.is_json_stored() => {
                    serde_json::from_str(t).unwrap_or(Value::Null)
                }
                Literal::Text(t) => Value::String(t.clone()),
            };
            (f.name.clone(), value)
        })
        .collect())
}

/// Refuses an [`StoreTx::append`] row with another number of values than `collection` has
/// fields.
///
/// # Errors
/// Then.
pub fn check_appended(collection: &Collection, values: &[Literal]) -> Result<(), StoreError> {
    if values.len() == collection.fields.len() {
        return Ok(());
    }
    Err(StoreError::Other(format!(
        "append: {} values for {} fields",
        values.len(),
        collection.fields.len()
    )))
}

/// The longest payload [`StoreTx::notify`] carries (PostgreSQL's limit is 8,000 bytes,
/// counting the terminating byte).
pub const MAX_NOTIFY_PAYLOAD: usize = 7_999;

/// Runs a typed transaction on a store: the closure's value or its own error comes back.
///
/// # Errors
/// The closure's error, or the store's (converted with `From<StoreError>`).
pub async fn transact<T, E, F>(store: &dyn Store, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
{
    let slot: Arc<std::sync::Mutex<Option<Result<T, E>>>> = Arc::new(std::sync::Mutex::new(None));
    let inner = Arc::clone(&slot);
    let outcome = store
        .write(Box::new(move |tx| {
            let result = f(tx);
            let failed = result.is_err();
            if let Ok(mut guard) = inner.lock() {
                *guard = Some(result);
            }
            if failed {
                Err(StoreError::RolledBack)
            } else {
                Ok(None)
            }
        }))
        .await;
    let produced = slot.lock().ok().and_then(|mut g| g.take());
    match (outcome, produced) {
        (Ok(()), Some(result)) => result,
        (Err(StoreError::RolledBack), Some(Err(e))) => Err(e),
        (Err(e), _) => Err(E::from(e)),
        (Ok(()), None) => Err(E::from(StoreError::Other(
            "write job produced no result".into(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_follow_pocketbase() {
        assert_eq!(like_pattern("abc"), "%abc%");
        assert_eq!(like_pattern("W%ld"), "W%ld");
        assert_eq!(like_pattern("a\\%b"), "%a\\%b%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
        assert_eq!(like_pattern("50_"), "%50\\_%");
    }
}
