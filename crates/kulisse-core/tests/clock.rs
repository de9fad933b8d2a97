//! The services read time and ids from their `Ambient`: a test moves the clock instead of
//! sleeping, and seeds the ids.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use kulisse_core::clock::{Clock, ManualClock};
use kulisse_core::ids::SeededIds;
use kulisse_core::query::RequestInfo;
use kulisse_core::records::ExpandTree;
use kulisse_core::{Ambient, Auth, Ports, Services};
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

const START: i64 = 1_800_000_000;

async fn services_at(clock: Arc<ManualClock>, dir: &tempfile::TempDir) -> Services {
    let store = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    let mut ports = Ports::new(store);
    ports.ambient = Ambient {
        clock,
        ids: Arc::new(SeededIds::new(1)),
    };
    Services::start(ports).await.unwrap()
}

#[tokio::test]
async fn a_superuser_token_expires_when_the_clock_passes_its_duration() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(START).unwrap()));
    let services = services_at(Arc::clone(&clock), &dir).await;
    let (_, _, token) = support::superuser_login(&services).await;
    // `_superusers` tokens last 86,400 s by default.
    clock.advance(SignedDuration::from_secs(86_400));
    assert!(
        services
            .auth
            .authenticate(Some(&token))
            .await
            .is_superuser()
    );
    clock.advance(SignedDuration::from_secs(1));
    assert!(
        !services
            .auth
            .authenticate(Some(&token))
            .await
            .is_superuser()
    );
}

#[tokio::test]
async fn records_are_stamped_and_named_by_the_ambient() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(START).unwrap()));
    let services = services_at(Arc::clone(&clock), &dir).await;
    let mut req = RequestInfo::for_auth(Auth::Guest, "POST");
    req.now = Some(clock.now());
    let body =
        json!({"email": "a@example.com", "password": "12345678", "passwordConfirm": "12345678"});
    let Value::Object(body) = body else {
        unreachable!()
    };
    let created = services
        .records
        .create(req, "users", body, Vec::new(), &ExpandTree::default())
        .await
        .unwrap();
    let row = &created.fields;
    assert_eq!(row["created"], "2027-01-15 08:00:00.000Z");
    let expected_id = kulisse_core::ids::IdSource::record_id(&SeededIds::new(1));
    assert_eq!(row["id"], expected_id.as_str());
}
