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

/// A new store's collections, sorted.
const EVERY_COLLECTION: [&str; 6] = [
    "_authOrigins",
    "_externalAuths",
    "_mfas",
    "_otps",
    "_superusers",
    "users",
];

/// The collections step 2 adds to a data dir at step 1.
const AUTH_STATE: [&str; 4] = ["_authOrigins", "_externalAuths", "_mfas", "_otps"];

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
        assert_eq!(names(&*store).await, EVERY_COLLECTION);
        assert_eq!(store.param(VERSION_KEY).await.unwrap(), Some(json!(2)));
    })
    .await;
}

#[tokio::test]
async fn a_data_dir_from_before_the_series_is_adopted_and_gains_only_later_steps() {
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
        let mut expected = AUTH_STATE.to_vec();
        expected.push("_superusers");
        assert_eq!(names(&*store).await, expected, "`users` stays deleted");
        assert_eq!(store.param(VERSION_KEY).await.unwrap(), Some(json!(2)));
        store.close().await;
        let again = open().await;
        Services::start(Ports::new(Arc::clone(&again)))
            .await
            .unwrap();
        assert_eq!(names(&*again).await, expected);
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
                    known: 2
                }))
            ),
            "{:?}",
            refused.err()
        );
    })
    .await;
}

#[tokio::test]
async fn the_auth_state_step_creates_only_the_collections_missing() {
    on_both_engines(|open| async move {
        // A data dir at step 1 that already has an `_otps` (as PocketBase's do), with a
        // record in it.
        let store = open().await;
        let otps = collection::auth_system_collections()
            .into_iter()
            .find(|c| c.name == collection::OTPS)
            .map(Arc::new)
            .unwrap();
        let row = json!({"id": "otpid000000000a", "collectionRef": "c", "recordRef": "r",
            "password": "h", "sentTo": "", "created": "2026-01-01 00:00:00.000Z",
            "updated": "2026-01-01 00:00:00.000Z"});
        let def = Arc::clone(&otps);
        transact::<_, StoreError, _>(&*store, move |tx| {
            tx.create_collection(&collection::superusers())?;
            tx.create_collection(&def)?;
            tx.insert(&def, row.as_object().unwrap())?;
            tx.set_param(VERSION_KEY, &json!(1))
        })
        .await
        .unwrap();
        Services::start(Ports::new(Arc::clone(&store)))
            .await
            .unwrap();
        let mut expected = AUTH_STATE.to_vec();
        expected.push("_superusers");
        assert_eq!(names(&*store).await, expected);
        let kept = store
            .select(kulisse_store::Select::by_id(otps, "otpid000000000a"))
            .await
            .unwrap();
        assert_eq!(kept.rows.len(), 1, "the existing `_otps` keeps its records");
        assert_eq!(store.param(VERSION_KEY).await.unwrap(), Some(json!(2)));
    })
    .await;
}
