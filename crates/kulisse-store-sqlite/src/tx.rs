//! [`StoreTx`] on the writer connection (inside the batch transaction and a savepoint).

use kulisse_schema::{Collection, CollectionKind, Field};
use kulisse_store::{Literal, Row, Select, StoreError, StoreTx, ViewColumn};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::budget::Ticket;
use crate::classify::classify;
use crate::render::{self, quote};
use crate::{codec, ddl};

/// A write transaction's view of the writer connection.
pub(crate) struct SqliteTx<'c> {
    conn: &'c Connection,
    /// Bounds the job's reads (see [`crate::budget`] for why only reads).
    ticket: Option<Ticket>,
}

impl<'c> SqliteTx<'c> {
    pub(crate) fn new(conn: &'c Connection, ticket: Option<Ticket>) -> Self {
        Self { conn, ticket }
    }
}

/// Runs a select on any connection (readers use it too).
pub(crate) fn select_rows(conn: &Connection, q: &Select) -> Result<Vec<Row>, StoreError> {
    let sql = render::select_rows(q);
    query_rows(conn, &sql.text, &sql.params, &q.collection.fields)
}

/// Runs rendered select SQL whose columns are `fields` in order.
pub(crate) fn query_rows(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    fields: &[Field],
) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(classify)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            codec::decode_row(fields, r)
        })
        .map_err(classify)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(classify)
}

/// Runs rendered `COUNT(*)` SQL: how many rows a select matches.
pub(crate) fn count(conn: &Connection, sql: &render::Sql) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(&sql.text).map_err(classify)?;
    let n: i64 = stmt
        .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))
        .map_err(classify)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn count_per(
    conn: &Connection,
    q: &Select,
    key: &kulisse_store::Term,
) -> Result<Vec<(String, u64)>, StoreError> {
    let sql = render::count_per(q, key);
    let mut stmt = conn.prepare_cached(&sql.text).map_err(classify)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })
        .map_err(classify)?;
    rows.map(|r| r.map_err(classify)).collect()
}

fn encoded(c: &Collection, row: &Row) -> (Vec<String>, Vec<SqlValue>) {
    let mut cols = Vec::with_capacity(row.len());
    let mut vals = Vec::with_capacity(row.len());
    for f in &c.fields {
        if let Some(v) = row.get(&f.name) {
            cols.push(quote(&f.name));
            vals.push(codec::encode(f, v));
        }
    }
    (cols, vals)
}

impl StoreTx for SqliteTx<'_> {
    fn select(&mut self, query: &Select) -> Result<Vec<Row>, StoreError> {
        match &self.ticket {
            Some(ticket) => ticket.run(|| select_rows(self.conn, query)),
            None => select_rows(self.conn, query),
        }
    }

    fn insert(&mut self, c: &Collection, row: &Row) -> Result<(), StoreError> {
        let (cols, vals) = encoded(c, row);
        let marks = vec!["?"; cols.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quote(&c.name),
            cols.join(", ")
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(classify)?;
        stmt.execute(rusqlite::params_from_iter(vals.iter()))
            .map_err(classify)?;
        Ok(())
    }

    fn append(&mut self, c: &Collection, rows: &[Vec<Literal>]) -> Result<(), StoreError> {
        let cols: Vec<String> = c.fields.iter().map(|f| quote(&f.name)).collect();
        let marks = vec!["?"; cols.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quote(&c.name),
            cols.join(", ")
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(classify)?;
        for row in rows {
            kulisse_store::check_appended(c, row)?;
            let values = row.iter().map(|v| match v {
                Literal::Null => SqlValue::Null,
                Literal::Bool(b) => SqlValue::Integer(i64::from(*b)),
                Literal::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                    SqlValue::Integer(*n as i64)
                }
                Literal::Number(n) => SqlValue::Real(*n),
                Literal::Text(t) => SqlValue::Text(t.clone()),
            });
            stmt.execute(rusqlite::params_from_iter(values))
                .map_err(classify)?;
        }
        Ok(())
    }

    fn update(&mut self, c: &Collection, id: &str, changes: &Row) -> Result<(), StoreError> {
        let (cols, mut vals) = encoded(c, changes);
        if cols.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> = cols.iter().map(|c| format!("{c} = ?")).collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE \"id\" = ?",
            quote(&c.name),
            sets.join(", ")
        );
        vals.push(SqlValue::Text(id.to_owned()));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(classify)?;
        match stmt
            .execute(rusqlite::params_from_iter(vals.iter()))
            .map_err(classify)?
        {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    fn delete(&mut self, c: &Collection, id: &str) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE \"id\" = ?", quote(&c.name));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(classify)?;
        match stmt.execute([id]).map_err(classify)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    fn truncate(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("DELETE FROM {}", quote(&c.name)))
            .map_err(classify)
    }

    fn create_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        ddl::create_collection(self.conn, c).map_err(ddl_error)
    }

    fn alter_collection(&mut self, old: &Collection, new: &Collection) -> Result<(), StoreError> {
        if kulisse_store::same_table_shape(old, new) {
            return ddl::update_meta(self.conn, new).map_err(classify);
        }
        if kulisse_store::same_columns(old, new) && new.kind != CollectionKind::View {
            ddl::change_indexes(self.conn, old, new).map_err(ddl_error)?;
            return ddl::update_meta(self.conn, new).map_err(classify);
        }
        ddl::alter_collection(self.conn, old, new).map_err(ddl_error)
    }

    fn drop_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        ddl::drop_collection(self.conn, c).map_err(classify)
    }

    fn describe_view(&mut self, query: &str) -> Result<Vec<ViewColumn>, StoreError> {
        let stmt = self
            .conn
            .prepare(query)
            .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
        if !stmt.readonly() {
            return Err(StoreError::InvalidQuery(
                "the view query must be a single SELECT statement".into(),
            ));
        }
        let mut out = Vec::new();
        for col in stmt.columns_with_metadata() {
            let source = match (col.table_name(), col.origin_name()) {
                (Some(t), Some(c)) => Some((t.to_owned(), c.to_owned())),
                _ => None,
            };
            out.push(ViewColumn {
                name: col.name().to_owned(),
                source,
                is_count: false,
            });
        }
        kulisse_store::mark_count_columns(query, &mut out);
        Ok(out)
    }

    fn set_param(&mut self, key: &str, value: &Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO _params (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value.to_string()),
            )
            .map(|_| ())
            .map_err(classify)
    }

    fn optimize(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA optimize").map_err(classify)
    }

    /// One process owns a SQLite data dir: there is nobody to notify.
    fn notify(&mut self, _channel: &str, _payload: &str) -> Result<(), StoreError> {
        Err(StoreError::Other(
            "SQLite has no other processes to notify".into(),
        ))
    }
}

/// DDL failures that come from user-written SQL (view queries) are safe to report.
fn ddl_error(e: rusqlite::Error) -> StoreError {
    match classify(e) {
        StoreError::Other(msg) => StoreError::InvalidQuery(msg),
        other => other,
    }
}
