//! The in-process event bus: committed change sets, delivered to subscribers in the order
//! they are published.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use super::ChangeSet;

/// What subscribers hear.
#[derive(Debug, Clone)]
pub enum Event {
    /// A transaction committed, on this node or another one.
    Committed(Arc<ChangeSet>),
    /// Changes may have been missed: the feed from other nodes (re)connected or fell
    /// behind, or a commit failed in a way that leaves its outcome unknown. Whatever a
    /// subscriber derived from earlier events must be rebuilt.
    Missed,
}

/// A consumer of events.
///
/// Subscribers are called on the publishing task, right after the commit and before the
/// write's response is sent: a cache that forgets a changed record there can never serve
/// it to the next request. So they must be quick and never block; one with slow work
/// (fan-out to realtime clients, writing logs) queues the event and does it elsewhere.
pub trait Subscriber: Send + Sync {
    /// Handles one event.
    fn on_event(&self, event: &Event);
}

/// Everyone subscribed, as one immutable list.
type Subscribers = Arc<Vec<Arc<dyn Subscriber>>>;

/// The bus: cheap to clone, shared by the services of one node.
#[derive(Clone, Default)]
pub struct EventBus {
    /// Replaced whole on subscribe (rare), so publishing (every write) takes one reference
    /// to the current list and calls it without holding the lock: a subscriber may
    /// subscribe another without deadlocking.
    subscribers: Arc<RwLock<Subscribers>>,
    /// How many [`RowsWanted`] are alive.
    rows: Arc<AtomicUsize>,
}

/// While alive, writes record each changed record in their change sets
/// ([`super::RecordChange::row`]). Realtime holds one per connected client: without
/// clients, writes skip those reads.
pub struct RowsWanted(Arc<AtomicUsize>);

impl Drop for RowsWanted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EventBus {
    /// Adds a subscriber; it hears every event published from now on.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        if let Ok(mut list) = self.subscribers.write() {
            let mut next = Vec::clone(&list);
            next.push(subscriber);
            *list = Arc::new(next);
        }
    }

    /// Asks writes to record changed records until the guard is dropped.
    pub fn want_rows(&self) -> RowsWanted {
        self.rows.fetch_add(1, Ordering::AcqRel);
        RowsWanted(Arc::clone(&self.rows))
    }

    /// Whether anyone wants changed records now.
    pub fn rows_wanted(&self) -> bool {
        self.rows.load(Ordering::Acquire) > 0
    }

    /// Delivers `event` to every subscriber.
    pub fn publish(&self, event: &Event) {
        let list = match self.subscribers.read() {
            Ok(list) => Arc::clone(&list),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        for subscriber in list.iter() {
            subscriber.on_event(event);
        }
    }
}
