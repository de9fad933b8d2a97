//! The change feed between kulisse nodes sharing one PostgreSQL database: the
//! [`kulisse_core::ChangeFeed`] port on PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! A write transaction announces its change set with `NOTIFY` (through
//! `StoreTx::notify`), so other nodes hear of it exactly when it commits, in commit order,
//! and never of a rollback. A payload holds at most 8,000 bytes, so a change set travels
//! as ids (never record contents), split into numbered parts when it is longer; PostgreSQL
//! delivers one transaction's notifications together and in order, and the receiver puts
//! the parts back together (`wire`). Each node listens on its own connection (`listen`)
//! and reports every (re)connect as missed changes, since nothing sent while it was away
//! reaches it.
//!
//! Must not depend on: HTTP types, the storage engines.

mod listen;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};

use kulisse_core::changes::{ChangeFeed, ChangeSet, Event};
use kulisse_store::{StoreError, StoreTx};
use tokio::sync::broadcast;

/// The channel every node notifies and listens on.
const CHANNEL: &str = "kulisse_changes";

/// Change sets heard but not yet taken by the follower; past this a node resynchronises.
const BACKLOG: usize = 1024;

/// The feed of one node.
pub struct PostgresFeed {
    /// Tells this node's own notifications apart from the other nodes'.
    node: String,
    /// Numbers this node's announcements, to reassemble split change sets.
    sent: AtomicU64,
    events: broadcast::Sender<Event>,
    listener: tokio::task::JoinHandle<()>,
}

impl PostgresFeed {
    /// Starts listening on the database at `url` (and reconnecting whenever the
    /// connection drops, until the feed is dropped).
    pub fn start(url: &str) -> PostgresFeed {
        let node = wire::node_id();
        let (events, _) = broadcast::channel(BACKLOG);
        let listener = tokio::spawn(listen::run(url.to_owned(), node.clone(), events.clone()));
        PostgresFeed {
            node,
            sent: AtomicU64::new(0),
            events,
            listener,
        }
    }
}

impl Drop for PostgresFeed {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl ChangeFeed for PostgresFeed {
    fn announce(&self, tx: &mut dyn StoreTx, set: &ChangeSet) -> Result<(), StoreError> {
        let number = self.sent.fetch_add(1, Ordering::Relaxed);
        for payload in wire::encode(&self.node, number, set)? {
            tx.notify(CHANNEL, &payload)?;
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}
