//! The port to other nodes sharing the database.

use kulisse_store::{StoreError, StoreTx};
use tokio::sync::broadcast;

use super::{ChangeSet, Event};

/// Carries committed change sets between nodes. Adapters implement it (PostgreSQL's
/// LISTEN/NOTIFY in `kulisse-feed-postgres`); a single node has none.
///
/// The feed carries whole change sets and decides nothing about them: which consumer
/// cares about which change is the consumers' business, on every node alike.
pub trait ChangeFeed: Send + Sync + 'static {
    /// Called inside the transaction, after its last write: queues `set` so that other
    /// nodes receive it if, and only if, the transaction commits.
    ///
    /// # Errors
    /// When the message cannot be queued; the transaction then rolls back.
    fn announce(&self, tx: &mut dyn StoreTx, set: &ChangeSet) -> Result<(), StoreError>;

    /// What other nodes committed from now on, in commit order, never this node's own
    /// sets. [`Event::Missed`] whenever some may have been lost: at every (re)connect of
    /// the feed, including the first, since anything committed before it is unknown.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
