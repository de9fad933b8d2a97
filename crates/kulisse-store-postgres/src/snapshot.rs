//! [`Store::snapshot`](kulisse_store::Store::snapshot) on PostgreSQL: every table of the
//! store's schema copied out (`COPY … TO STDOUT`, PostgreSQL's text format) in one
//! repeatable-read, read-only transaction, so the tables are of one moment while writers
//! go on. It is a logical copy of kulisse's own tables; `pg_dump` or a provider's
//! point-in-time recovery remain the tools for the whole database.

use std::path::Path;

use futures::StreamExt;
use kulisse_store::StoreError;
use tokio::io::AsyncWriteExt;
use tokio_postgres::IsolationLevel;

use crate::classify::{classify, pool_error};
use crate::render::quote;

/// Writes `into/postgres-<schema>/<table>.copy` for each table of the current schema.
pub(crate) async fn copy_out(
    pool: &deadpool_postgres::Pool,
    into: &Path,
) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Other(format!("cannot write the snapshot: {e}"));
    let mut client = pool.get().await.map_err(|e| pool_error(&e))?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| classify(&e, None))?;
    let schema: String = tx
        .query_one("SELECT current_schema()", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| classify(&e, None))?;
    let tables: Vec<String> = tx
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
            &[],
        )
        .await
        .map_err(|e| classify(&e, None))?
        .iter()
        .filter_map(|r| r.try_get(0).ok())
        .collect();
    let dir = into.join(format!("postgres-{schema}"));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    for table in tables {
        let mut file = tokio::fs::File::create(dir.join(format!("{table}.copy")))
            .await
            .map_err(io)?;
        let stream = tx
            .copy_out(&format!("COPY {} TO STDOUT", quote(&table)))
            .await
            .map_err(|e| classify(&e, None))?;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(&e, None))?;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
    }
    tx.commit().await.map_err(|e| classify(&e, None))
}
