//! A committed write is announced even when its caller stopped waiting for it: the auth
//! cache never keeps a user that a request deleted and then abandoned.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kulisse_core::auth::{Client, Login};
use kulisse_core::query::RequestInfo;
use kulisse_core::records::ExpandTree;
use kulisse_core::{Auth, Ports, Services};
use kulisse_schema::Collection;
use kulisse_store::{Select, Store};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

/// Returns whether the abandoned delete committed.
async fn abandoned_delete_is_still_announced(store: Arc<dyn Store>) -> bool {
    let services = Services::start(Ports::new(Arc::clone(&store)))
        .await
        .unwrap();
    let su = support::superuser(&services).await;
    let Value::Object(body) =
        json!({"email": "u@example.com", "password": "12345678", "passwordConfirm": "12345678"})
    else {
        unreachable!()
    };
    let user = services
        .records
        .create(
            RequestInfo::for_auth(su.clone(), "POST"),
            "users",
            body,
            Vec::new(),
            &ExpandTree::default(),
        )
        .await
        .unwrap();
    let id = user.id().unwrap().to_owned();
    let Ok(Login::Token(_, _, token)) = services
        .auth
        .auth_with_password(
            "users",
            "u@example.com",
            "12345678",
            None,
            None,
            &Client::default(),
        )
        .await
    else {
        panic!("a password login without MFA gives a token")
    };
    assert!(matches!(
        services.auth.authenticate(Some(&token)).await,
        Auth::Record { .. }
    ));

    // Hold the user's row (a lock on PostgreSQL, the one writer on SQLite), so the delete
    // is still waiting when its caller gives up on it.
    let users: Arc<Collection> = services.collections.registry().get("users").unwrap();
    let (held, row) = (Arc::clone(&store), id.clone());
    let blocker = tokio::spawn(async move {
        held.write(Box::new(move |tx| {
            tx.select(&Select {
                for_update: true,
                ..Select::by_id(users, &row)
            })?;
            std::thread::sleep(Duration::from_millis(300));
            Ok(None)
        }))
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let delete = services
        .records
        .delete(RequestInfo::for_auth(su, "DELETE"), "users", &id);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), delete)
            .await
            .is_err()
    );
    blocker.await.unwrap().unwrap();
    // Whether an abandoned write still commits is the engine's business (SQLite stops its
    // reads when the caller leaves, so the delete rolls back; PostgreSQL finishes it); what
    // must hold is that the token works exactly while the user exists.
    let exists = || async {
        let users = services.collections.registry().get("users").unwrap();
        !store
            .select(Select::by_id(users, &id))
            .await
            .unwrap()
            .rows
            .is_empty()
    };
    let settled = Instant::now() + Duration::from_secs(2);
    while exists().await && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let works = matches!(
        services.auth.authenticate(Some(&token)).await,
        Auth::Record { .. }
    );
    let exists = exists().await;
    assert_eq!(
        works, exists,
        "the token works exactly while the user exists"
    );
    !exists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_delete_is_announced_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    abandoned_delete_is_still_announced(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_delete_is_announced_on_postgres() {
    let Some(url) = kulisse_testkit_store::pg::fresh_database().await else {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    };
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let committed = abandoned_delete_is_still_announced(store).await;
    assert!(committed, "PostgreSQL finishes a write whose caller left");
}
