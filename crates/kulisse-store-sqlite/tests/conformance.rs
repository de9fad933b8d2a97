//! The store conformance suite on SQLite (a fresh data dir per check).

use std::sync::Arc;

use kulisse_store_sqlite::SqliteStore;
use kulisse_testkit_store::conformance::{Notify, Subject};

async fn open() -> Option<Subject> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("data.db")).expect("open SQLite");
    Some(Subject::new(Arc::new(store), Notify::Refused, dir))
}

kulisse_testkit_store::store_conformance!(open);
