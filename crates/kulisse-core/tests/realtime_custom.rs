//! Custom realtime topics (`@oauth2`): a message reaches the connected client subscribed
//! to exactly that topic from the same address, once, and nobody else.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use kulisse_core::realtime::{Message, RealtimeError};
use kulisse_core::{Auth, Ports, Services};
use kulisse_store_sqlite::SqliteStore;
use serde_json::json;

#[tokio::test]
async fn a_custom_topic_message_reaches_only_its_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    let services = Services::start(Ports::new(store)).await.unwrap();
    let realtime = &services.realtime;
    let mut waiting = realtime.connect("10.0.0.1 browser", None);
    let mut other = realtime.connect("10.0.0.1 browser", None);
    let topics = |t: &[&str]| t.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    realtime
        .set_subscriptions(&waiting.client_id, &Auth::Guest, &topics(&["@oauth2"]))
        .unwrap();
    realtime
        .set_subscriptions(&other.client_id, &Auth::Guest, &topics(&["users/*"]))
        .unwrap();

    let data = json!({"state": waiting.client_id, "code": "abc"});
    assert_eq!(
        realtime.send_once(&waiting.client_id, "10.0.0.2", "@oauth2", &data),
        Err(RealtimeError::UnknownClient),
        "another address"
    );
    realtime
        .send_once(&waiting.client_id, "10.0.0.1", "@oauth2", &data)
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), waiting.next())
        .await
        .unwrap()
        .unwrap();
    let Message::Custom { topic, data: sent } = message else {
        panic!("not a custom message: {message:?}");
    };
    assert_eq!(&*topic, "@oauth2");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sent).unwrap(),
        data
    );

    assert_eq!(
        realtime.send_once(&waiting.client_id, "10.0.0.1", "@oauth2", &data),
        Err(RealtimeError::UnknownClient),
        "the subscription ended with its message"
    );
    assert_eq!(
        realtime.send_once(&other.client_id, "10.0.0.1", "@oauth2", &data),
        Err(RealtimeError::UnknownClient),
        "not subscribed to it"
    );
    assert_eq!(
        realtime.send_once("nobody", "10.0.0.1", "@oauth2", &data),
        Err(RealtimeError::UnknownClient)
    );
    let nothing = tokio::time::timeout(Duration::from_millis(200), other.next()).await;
    assert!(nothing.is_err(), "the other client got nothing");
}
