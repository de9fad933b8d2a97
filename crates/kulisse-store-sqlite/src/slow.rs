//! Timing [`Store::select`](kulisse_store::Store::select)'s reads into the slow-query log,
//! with SQLite's plan of each slow shape.

use std::time::{Duration, Instant};

use kulisse_store::{SlowQueries, StoreError};
use rusqlite::Connection;

use crate::render::Sql;

/// Runs `read` of `sql` on `conn`, and records it in `slow` when it took long enough.
pub(crate) fn timed<T>(
    slow: &SlowQueries,
    conn: &Connection,
    sql: &Sql,
    read: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = read()?;
    observe(slow, conn, sql, started.elapsed());
    Ok(result)
}

fn observe(slow: &SlowQueries, conn: &Connection, sql: &Sql, took: Duration) {
    if !slow.is_slow(took) {
        return;
    }
    let plan = slow
        .wants_plan(&sql.text)
        .then(|| plan(conn, sql).unwrap_or_default());
    slow.record(&sql.text, took, plan);
}

/// `EXPLAIN QUERY PLAN` of `sql` with its own parameters, as SQLite's shell prints it.
fn plan(conn: &Connection, sql: &Sql) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))?;
    let steps = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(indent(&steps))
}

/// A plan's steps (`(id, parent, detail)`, parents before children) as lines indented
/// two spaces a level.
fn indent(steps: &[(i64, i64, String)]) -> String {
    let mut depth = std::collections::HashMap::new();
    let mut lines = Vec::with_capacity(steps.len());
    for (id, parent, detail) in steps {
        let level = depth.get(parent).map_or(0, |d| d + 1);
        depth.insert(*id, level);
        lines.push(format!("{}{detail}", "  ".repeat(level)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_indent_by_depth() {
        let steps = [
            (2, 0, "SCAN posts".to_owned()),
            (5, 0, "CORRELATED SCALAR SUBQUERY 1".to_owned()),
            (9, 5, "SEARCH users USING INDEX idx (id=?)".to_owned()),
        ];
        assert_eq!(
            indent(&steps),
            "SCAN posts\nCORRELATED SCALAR SUBQUERY 1\n  SEARCH users USING INDEX idx (id=?)"
        );
    }

    #[test]
    fn a_slow_read_is_recorded_with_its_plan() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x');")
            .unwrap();
        let slow = SlowQueries::new(Some(Duration::ZERO));
        let sql = Sql {
            text: "SELECT a FROM t WHERE a = ?".into(),
            params: vec![rusqlite::types::Value::Text("x".into())],
        };
        let n = timed(&slow, &conn, &sql, || Ok(1)).unwrap();
        assert_eq!(n, 1);
        let drained = slow.drain();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].sql, sql.text);
        assert!(drained[0].plan.starts_with("SCAN t"), "{}", drained[0].plan);
    }
}
