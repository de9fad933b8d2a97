//! Timing [`Store::select`](kulisse_store::Store::select)'s reads into the slow-query log,
//! with PostgreSQL's plan of each slow shape.

use std::future::Future;
use std::time::Instant;

use kulisse_store::{SlowQueries, StoreError};

use crate::render::Sql;
use crate::tx;

/// Runs `read` of `sql` on `client`, and records it in `slow` when it took long enough.
pub(crate) async fn timed<T>(
    slow: &SlowQueries,
    client: &deadpool_postgres::Client,
    sql: &Sql,
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = read.await?;
    let took = started.elapsed();
    if slow.is_slow(took) {
        let plan = if slow.wants_plan(&sql.text) {
            Some(plan(client, sql).await.unwrap_or_default())
        } else {
            None
        };
        slow.record(&sql.text, took, plan);
    }
    Ok(result)
}

/// `EXPLAIN` of `sql` with its own parameters: the plan's lines.
async fn plan(client: &deadpool_postgres::Client, sql: &Sql) -> Result<String, StoreError> {
    let explain = Sql {
        text: format!("EXPLAIN {}", sql.text),
        params: sql.params.clone(),
    };
    let rows = tx::query(client, &explain, None).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<_, String>(0).ok())
        .collect::<Vec<_>>()
        .join("\n"))
}
