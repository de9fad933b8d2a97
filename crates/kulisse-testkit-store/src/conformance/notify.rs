//! `StoreTx::notify`: heard by other connections if, and only if, the job commits (or
//! refused, on an engine that serves one process).

use std::time::Duration;

use futures::StreamExt;
use kulisse_store::{MAX_NOTIFY_PAYLOAD, StoreError};
use tokio_postgres::AsyncMessage;

use super::{Notify, Subject, write};

const CHANNEL: &str = "kt_conformance";

/// On PostgreSQL a listener on its own connection hears a committed job's notification and
/// never a rolled-back one's, and a payload over the limit fails its job; on SQLite
/// `notify` is refused and the store keeps working.
pub async fn notifications_are_delivered_only_on_commit(s: &Subject) {
    match &s.notify {
        Notify::Refused => {
            let refused = write(&s.store, |tx| tx.notify(CHANNEL, "hello")).await;
            assert!(refused.is_err(), "{refused:?}");
            write(&s.store, |tx| {
                tx.set_param("kt_after", &serde_json::json!(1))
            })
            .await
            .unwrap();
        }
        Notify::Delivered { url } => delivered(s, url).await,
    }
}

async fn delivered(s: &Subject, url: &str) {
    let (client, mut conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (heard, mut hear) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(
        futures::stream::poll_fn(move |cx| conn.poll_message(cx)).for_each(move |m| {
            if let Ok(AsyncMessage::Notification(n)) = m {
                let _ = heard.send(n.payload().to_owned());
            }
            futures::future::ready(())
        }),
    );
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .unwrap();

    let rolled_back = write(&s.store, |tx| {
        tx.notify(CHANNEL, "rolled back")?;
        Err::<(), _>(StoreError::Constraint("refused".into()))
    })
    .await;
    assert!(rolled_back.is_err());
    let too_long = "x".repeat(MAX_NOTIFY_PAYLOAD + 1);
    let refused = write(&s.store, move |tx| tx.notify(CHANNEL, &too_long)).await;
    assert!(
        refused.is_err(),
        "a payload over {MAX_NOTIFY_PAYLOAD} bytes fails its job"
    );
    let longest = "y".repeat(MAX_NOTIFY_PAYLOAD);
    let sent = longest.clone();
    write(&s.store, move |tx| {
        tx.notify(CHANNEL, "committed")?;
        tx.notify(CHANNEL, &sent)
    })
    .await
    .unwrap();

    let first = tokio::time::timeout(Duration::from_secs(5), hear.recv()).await;
    assert_eq!(
        first.unwrap().as_deref(),
        Some("committed"),
        "the rolled-back one never arrives"
    );
    let second = tokio::time::timeout(Duration::from_secs(5), hear.recv()).await;
    assert_eq!(second.unwrap(), Some(longest));
    let more = tokio::time::timeout(Duration::from_millis(300), hear.recv()).await;
    assert!(more.is_err(), "nothing else was heard: {more:?}");
}
