//! Listening on a dedicated connection, re-established when it drops.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kulisse_core::changes::Event;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::CHANNEL;
use crate::wire::Assembler;

/// Runs until aborted: connects, LISTENs, announces [`Event::Missed`] (whatever was sent
/// before this point is unknown to this node), then forwards other nodes' change sets.
pub(crate) async fn run(url: String, node: String, events: broadcast::Sender<Event>) {
    loop {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = message
                        && tx.send(n.payload().to_owned()).is_err()
                    {
                        break;
                    }
                }
            });
            if client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .is_ok()
            {
                let _ = events.send(Event::Missed);
                let mut parts = Assembler::new(node.clone());
                while let Some(payload) = rx.recv().await {
                    match parts.push(&payload) {
                        Ok(Some(set)) => {
                            let _ = events.send(Event::Committed(Arc::new(set)));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable change notification");
                            let _ = events.send(Event::Missed);
                        }
                    }
                }
            }
            driver.abort();
            tracing::warn!("change listener disconnected; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
