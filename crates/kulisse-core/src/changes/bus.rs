//! The in-process event bus: committed change sets, delivered to subscribers in the order
//! they are published.

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

/// The bus: cheap to clone, shared by the services of one node.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Arc<RwLock<Vec<Arc<dyn Subscriber>>>>,
}

impl EventBus {
    /// Adds a subscriber; it hears every event published from now on.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        if let Ok(mut list) = self.subscribers.write() {
            list.push(subscriber);
        }
    }

    /// Delivers `event` to every subscriber.
    pub fn publish(&self, event: &Event) {
        let list = match self.subscribers.read() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for subscriber in &list {
            subscriber.on_event(event);
        }
    }
}
