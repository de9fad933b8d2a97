//! The store conformance suite on PostgreSQL (a fresh database per check; skipped without
//! `KULISSE_TEST_PG_URL`, a failure under `CI=true`).

use std::sync::Arc;

use kulisse_store_postgres::PostgresStore;
use kulisse_testkit_store::conformance::{Notify, Subject};

async fn open() -> Option<Subject> {
    let url = kulisse_testkit_store::pg::fresh_database().await?;
    let store = PostgresStore::connect(&url)
        .await
        .expect("connect to PostgreSQL");
    Some(Subject::new(Arc::new(store), Notify::Delivered { url }, ()))
}

kulisse_testkit_store::store_conformance!(open);
