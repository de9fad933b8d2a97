//! The change feed between nodes: LISTEN on a dedicated connection, re-established when it
//! drops. Every (re)connect is announced too, because notifications sent while the
//! listener was down are lost and caches must be refreshed anyway.

use std::time::Duration;

use futures::StreamExt;
use kulisse_store::Change;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::ddl::CHANGES_CHANNEL;

/// Runs until aborted.
pub(crate) async fn run(url: String, changes: broadcast::Sender<Change>) {
    loop {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = message
                        && tx.send(Change::from_payload(n.payload())).is_err()
                    {
                        break;
                    }
                }
            });
            if client
                .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                .await
                .is_ok()
            {
                let _ = changes.send(Change::Schema);
                while let Some(change) = rx.recv().await {
                    let _ = changes.send(change);
                }
            }
            driver.abort();
            tracing::warn!("change listener disconnected; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
