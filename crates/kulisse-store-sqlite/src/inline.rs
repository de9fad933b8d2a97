//! Point reads on the calling thread.
//!
//! A read by primary key takes about as long as handing a job to a reader thread and
//! waking the caller again, so it runs right here on a per-thread read-only connection
//! (opened on first use with the same pragmas). Everything else — filtered lists, counts,
//! anything that can scan — goes to the reader pool so it never holds up a runtime thread.
//! NOTE: this is the one place a runtime worker touches SQLite; keep it to O(log n) work.
//!
//! Held snapshots: starting and ending a read transaction (the WAL-index and file locks, a
//! `fstat`) cost about as much as the read itself, so on a runtime worker that calls
//! [`release_thread_snapshots`] when it parks, a connection keeps its read transaction open
//! from one point read to the next while nothing was written. It ends the transaction when
//!
//! - the writer has finished a transaction since it began (counted by [`Pool::commits`]
//!   before any write is acknowledged, so a request that follows a write's answer always
//!   reads past it),
//! - it is [`MAX_SNAPSHOT_AGE`] old (a write by another process, such as the `sqlite3`
//!   shell, is seen within that time),
//! - the worker parks (an idle thread never holds back checkpoints),
//! - or a read fails.
//!
//! A transaction is begun only by the second read of a busy spell, and only when nothing
//! was written since the read before. A worker that serves one request per wake-up, and
//! reads under a steady write load, run in autocommit as before: the first pays no
//! `BEGIN`/`ROLLBACK` on top, the second does not keep the WAL from being restarted.
//!
//! [`Pool::commits`]: crate::pool::Pool::commits

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kulisse_schema::Collection;
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, StoreError, Term};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use crate::classify::classify;
use crate::{render, tx};

/// The longest a point read may reuse a read transaction.
const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(25);

thread_local! {
    /// Read-only connections of this thread, by store.
    static CONNECTIONS: RefCell<HashMap<u64, PointConn>> = RefCell::new(HashMap::new());

    /// Whether this thread calls [`release_thread_snapshots`] when idle, and so may hold
    /// snapshots. Blocking-pool and other threads never do.
    static HOLDS_SNAPSHOTS: Cell<bool> = const { Cell::new(false) };

    /// SQL of plain reads by id, per collection definition, keyed by the address of its
    /// `Arc`. The `Weak` beside each keeps that allocation, and so the address, from being
    /// reused by another definition while the entry lives.
    static BY_ID_SQL: RefCell<HashMap<usize, CachedSql>> = RefCell::new(HashMap::new());
}

/// A collection definition (held weakly) and the SQL that reads one of its records by id.
type CachedSql = (Weak<Collection>, Rc<str>);

/// Runs a point read ([`is_point_read`]) on `conn`. A plain read by id (no rule) takes its SQL from this
/// thread's cache: rendering it was ~5 % of a view's instructions, and it only changes
/// with the collection.
pub(crate) fn point_read(conn: &Connection, q: &Select) -> Result<Vec<Row>, StoreError> {
    let Some(id) = plain_id(q) else {
        return tx::select_rows(conn, q);
    };
    let key = Arc::as_ptr(&q.collection) as usize;
    let cached = BY_ID_SQL.with_borrow(|cache| cache.get(&key).map(|(_, sql)| Rc::clone(sql)));
    let sql = match cached {
        Some(sql) => sql,
        None => {
            let sql: Rc<str> = render::select_rows(q).text.into();
            BY_ID_SQL.with_borrow_mut(|cache| {
                cache.retain(|_, (c, _)| c.strong_count() > 0);
                cache.insert(key, (Arc::downgrade(&q.collection), Rc::clone(&sql)));
            });
            sql
        }
    };
    let params = [SqlValue::Text(id.to_owned())];
    tx::query_rows(conn, &sql, &params, &q.collection.fields)
}

/// The id of a point read with no condition besides `id = value`.
fn plain_id(q: &Select) -> Option<&str> {
    match &q.filter {
        Some(Cond::Compare {
            left: Term::Column(col),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(id)),
        }) if col == "id" => Some(id),
        _ => None,
    }
}

/// Whether `q` is a lookup by primary key that cannot scan: `id = value`, possibly ANDed
/// with conditions on that one row that need no joins (an owner rule, say), on a table.
/// A view's row by id runs the view's query, which can scan, join or never end: it goes
/// to the readers, where the time budget applies.
pub(crate) fn is_point_read(q: &Select) -> bool {
    if q.collection.kind == kulisse_schema::CollectionKind::View {
        return false;
    }
    let by_id = |c: &Cond| matches!(c, Cond::Compare { left: Term::Column(col), op: CmpOp::Eq, right: Term::Value(_) } if col == "id");
    let filter_ok = match &q.filter {
        Some(c) if by_id(c) => true,
        Some(Cond::All(items)) => items.iter().any(by_id) && items.iter().all(Cond::is_row_local),
        _ => false,
    };
    filter_ok
        && q.limit == Some(1)
        && !q.count_total
        && q.order.is_empty()
        && q.virtual_row.is_none()
}

/// A point-read connection and the read transaction it holds open, if any.
struct PointConn {
    conn: Connection,
    held: Option<Held>,
    /// The writer's count at this connection's last read since the thread last parked.
    last_commits: Option<u64>,
}

/// An open read transaction: the writer's count before it began, and when.
struct Held {
    commits: u64,
    since: Instant,
}

impl PointConn {
    /// Makes the connection ready for a read at writer count `commits`: reuses the held
    /// transaction when still current, else ends it and (on a holding thread, when
    /// nothing was written since the last read) begins a new one.
    ///
    /// NOTE: `BEGIN` is deferred, so the snapshot is taken by the read that follows, after
    /// `commits` was loaded: a held transaction never claims a count newer than its data.
    fn prepare(&mut self, commits: u64) -> rusqlite::Result<()> {
        if let Some(h) = &self.held {
            if h.commits == commits && h.since.elapsed() < MAX_SNAPSHOT_AGE {
                return Ok(());
            }
            self.end();
        }
        let quiet = self.last_commits == Some(commits);
        self.last_commits = Some(commits);
        if quiet && HOLDS_SNAPSHOTS.get() {
            crate::pool::control(&self.conn, "BEGIN")?;
            self.held = Some(Held {
                commits,
                since: Instant::now(),
            });
        }
        Ok(())
    }

    /// Ends the held read transaction as the thread goes idle. The next read (the first
    /// of the next busy spell) runs in autocommit: a worker that serves one request per
    /// wake-up would otherwise pay a `BEGIN` and a `ROLLBACK` on top of every read.
    fn park(&mut self) {
        self.end();
        self.last_commits = None;
    }

    /// Ends the held read transaction, if any.
    fn end(&mut self) {
        if self.held.take().is_some() && !self.conn.is_autocommit() {
            // A read-only transaction: rolling back and committing are the same.
            let _ = crate::pool::control(&self.conn, "ROLLBACK");
        }
    }
}

/// Runs `f` on this thread's connection for store `id` at `path`; `commits` is the store's
/// writer count ([`crate::pool::Pool::commits`]).
pub(crate) fn with_connection<T>(
    id: u64,
    path: &Path,
    commits: &AtomicU64,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    CONNECTIONS.with(|cell| {
        let mut conns = cell.borrow_mut();
        let pc = match conns.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => v.insert(PointConn {
                conn: crate::pool::open(path, crate::pool::Role::Point).map_err(classify)?,
                held: None,
                last_commits: None,
            }),
        };
        pc.prepare(commits.load(Ordering::Acquire))
            .map_err(classify)?;
        let result = f(&pc.conn);
        if result.is_err() {
            pc.end();
        }
        result
    })
}

/// Ends this thread's held read transactions and lets the thread hold them from now on.
///
/// For the async runtime's `on_thread_park` hook: only threads that call it when they go
/// idle keep snapshots between point reads (see the module docs); elsewhere every point
/// read is its own transaction.
pub fn release_thread_snapshots() {
    HOLDS_SNAPSHOTS.set(true);
    CONNECTIONS.with(|cell| {
        if let Ok(mut conns) = cell.try_borrow_mut() {
            conns.values_mut().for_each(PointConn::park);
        }
    });
}

/// Drops this thread's connection for a closed store (other threads' go when they exit).
pub(crate) fn forget(id: u64) {
    CONNECTIONS.with(|cell| {
        cell.borrow_mut().remove(&id);
    });
}

/// Whether this thread's connection for store `id` holds a read transaction open.
#[cfg(test)]
pub(crate) fn holds_snapshot(id: u64) -> bool {
    CONNECTIONS.with_borrow(|conns| conns.get(&id).is_some_and(|pc| !pc.conn.is_autocommit()))
}
