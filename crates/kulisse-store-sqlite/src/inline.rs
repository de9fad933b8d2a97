//! Point reads on the calling thread.
//!
//! A read by primary key takes about as long as handing a job to a reader thread and
//! waking the caller again, so it runs right here on a per-thread read-only connection
//! (opened on first use with the same pragmas). Everything else — filtered lists, counts,
//! anything that can scan — goes to the reader pool so it never holds up a runtime thread.
//! NOTE: this is the one place a runtime worker touches SQLite; keep it to O(log n) work.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use kulisse_schema::Collection;
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, StoreError, Term};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use crate::classify::classify;
use crate::{render, tx};

thread_local! {
    /// Read-only connections of this thread, by store.
    static CONNECTIONS: RefCell<HashMap<u64, Connection>> = RefCell::new(HashMap::new());

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
/// with conditions on that one row that need no joins (an owner rule, say).
pub(crate) fn is_point_read(q: &Select) -> bool {
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

/// Runs `f` on this thread's connection for store `id` at `path`.
pub(crate) fn with_connection<T>(
    id: u64,
    path: &Path,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    CONNECTIONS.with(|cell| {
        let mut conns = cell.borrow_mut();
        let conn = match conns.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                v.insert(crate::pool::open(path, crate::pool::Role::Point).map_err(classify)?)
            }
        };
        f(conn)
    })
}

/// Drops this thread's connection for a closed store (other threads' go when they exit).
pub(crate) fn forget(id: u64) {
    CONNECTIONS.with(|cell| {
        cell.borrow_mut().remove(&id);
    });
}
