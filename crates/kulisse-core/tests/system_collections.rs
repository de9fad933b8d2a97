//! kulisse's own collections are created in numbered steps: a new store gets them all, an
//! older data dir only the steps it lacks, and a store from a newer kulisse is refused.
#![allow(clippy::unwrap_used)]
// Stores are set up as earlier releases left them, below the services.
#![allow(clippy::disallowed_methods)]

use std::future::Future;
use std::sync::Arc;

use kulisse_core::{CoreError, Ports, Services};
use kulisse_schema::collection;
use kulisse_store::{Store, StoreError, transact};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use serde_json::json;

const VERSION_KEY: &str = "systemCollections";

/// Runs `check` on a fresh SQLite store, then on a fresh PostgreSQL database when a test
/// server is configured; `open` reopens the same store (a restart).
async fn on_both_engines<F, Fut>(check: F)
where
    F: Fn(Box<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Arc<dyn Store>>>>>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let path = dir.path().join("data.db");
    check(Box::new(move || {
        let path = path.clone();
        Box::pin(async move { Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn Store> })
    }))
    .await;
    if let Some(url) = kulisse_testkit_store::pg::fresh_database().await {
        check(Box::new(move || {
            let url = url.clone();
            Box::pin(async move {
                Arc::new(PostgresStore::connect(&url).await.unwrap()) as Arc<dyn Store>
            })
        }))
        .await;
    }
}

async fn names(store: &dyn Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .load_collections()
        .await
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_new_store_gets_every_system_collection_and_the_version() {
    on_both_engines(|open| async move {
        let store = open().await;
        Services::start(Ports::new(Arc::clone(&store)))
            .await
            .unwrap();
        assert_eq!(names(&*store).await, ["_superusers", "users"]);
        assert_eq!(store.param(VERSION_KEY).await.unwrap(), Some(json!(1)));
    })
    .await;
}

#[tokio::test]
async fn a_data_dir_from_before_the_series_is_adopted_without_creating_anything() {
    on_both_engines(|open| async move {
        // What an earlier release left after its owner deleted `users`: collections, no
        // version.
        let store = open().await;
        transact::<_, StoreError, _>(&*store, |tx| {
            tx.create_collection(&collection::superusers())
        })
        .await
        .unwrap();
        Services::start(Ports::new(Arc::clone(&store)))
            .await
            .unwrap();
        assert_eq!(
            names(&*store).await,
            ["_superusers"],
            "`users` stays deleted"
        );
        assert_eq!(store.param(VERSION_KEY).await.unwrap(), Some(json!(1)));
        store.close().await;
        let again = open().await;
        Services::start(Ports::new(Arc::clone(&again)))
            .await
            .unwrap();
        assert_eq!(names(&*again).await, ["_superusers"]);
    })
    .await;
}

#[tokio::test]
async fn a_store_from_a_newer_kulisse_is_refused() {
    on_both_engines(|open| async move {
        let store = open().await;
        Services::start(Ports::new(Arc::clone(&store)))
            .await
            .unwrap();
        transact::<_, StoreError, _>(&*store, |tx| tx.set_param(VERSION_KEY, &json!(99)))
            .await
            .unwrap();
        let refused = Services::start(Ports::new(Arc::clone(&store))).await;
        assert!(
            matches!(
                refused,
                Err(CoreError::Store(StoreError::SchemaTooNew {
                    found: 99,
                    known: 1
                }))
            ),
            "{:?}",
            refused.err()
        );
    })
    .await;
}
