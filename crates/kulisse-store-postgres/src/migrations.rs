//! The PostgreSQL engine's system migrations: the steps (SQL in `migrations/`, numbered and
//! named as the SQLite engine's) and their runner. The design, including how a database
//! made before versioning is adopted, is in [`kulisse_store::migrations`].
//!
//! Each step runs in its own transaction that first takes the schema advisory lock
//! ([`crate::ddl::SCHEMA_LOCK`], the lock every schema change holds) and only then reads
//! the version: nodes opening the same database at once take turns, and the later ones find
//! the work done. The lock ends with the transaction, so a node that dies mid-step releases
//! it and leaves nothing of that step behind.

use kulisse_store::migrations::{CREATE_VERSION_TABLE, READ_VERSION, RECORD_VERSION};
use kulisse_store::{Migration, Migrations, StoreError};
use tokio_postgres::{Client, Transaction};

use crate::classify::classify;
use crate::ddl::SCHEMA_LOCK;

/// This engine's migrations, oldest first.
pub static SYSTEM_MIGRATIONS: Migrations = Migrations::new(&[
    Migration {
        version: 1,
        name: "system_tables",
        sql: include_str!("migrations/0001_system_tables.sql"),
    },
    Migration {
        version: 2,
        name: "hits",
        sql: include_str!("migrations/0002_hits.sql"),
    },
]);

/// Brings the database behind `client` up to the newest step of `list`.
///
/// # Errors
/// [`StoreError::SchemaTooNew`] when the database was migrated by a newer kulisse (nothing
/// is changed), or the error of the step that failed (that step is rolled back; the steps
/// before it stay applied).
pub(crate) async fn run(client: &mut Client, list: &Migrations) -> Result<(), StoreError> {
    loop {
        let tx = client.transaction().await.map_err(|e| classify(&e, None))?;
        // Dropping `tx` without a commit rolls it back.
        if !apply_next(&tx, list).await? {
            return Ok(());
        }
        tx.commit().await.map_err(|e| classify(&e, None))?;
    }
}

/// Applies the step after the database's version inside `tx`; false when the database is
/// up to date.
async fn apply_next(tx: &Transaction<'_>, list: &Migrations) -> Result<bool, StoreError> {
    let err = |e: tokio_postgres::Error| classify(&e, None);
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(err)?;
    let current: i64 = if has_table(tx, kulisse_store::migrations::VERSION_TABLE).await? {
        tx.query_one(READ_VERSION, &[]).await.map_err(err)?.get(0)
    } else {
        0
    };
    let Some(step) = list.next_after(current)? else {
        return Ok(false);
    };
    if current == 0 && has_table(tx, "_collections").await? {
        tracing::info!("adopting a database made before versioned migrations");
    }
    tx.batch_execute(CREATE_VERSION_TABLE).await.map_err(err)?;
    tx.batch_execute(step.sql).await.map_err(err)?;
    tx.execute(
        RECORD_VERSION,
        &[&step.version, &step.name, &kulisse_schema::datetime::now()],
    )
    .await
    .map_err(err)?;
    tracing::info!(
        version = step.version,
        name = step.name,
        "applied a system migration"
    );
    Ok(true)
}

/// Whether `name` resolves to a table on the connection's search path (where the system
/// tables are created).
async fn has_table(tx: &Transaction<'_>, name: &str) -> Result<bool, StoreError> {
    tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .map(|r| r.get(0))
        .map_err(|e| classify(&e, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_are_numbered_from_one_without_gaps() {
        SYSTEM_MIGRATIONS.check().unwrap();
    }
}
