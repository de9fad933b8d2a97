//! The one way services write: a transaction that yields its change set, published after
//! COMMIT.

use std::sync::Arc;

use kulisse_store::{Store, StoreError, StoreTx};

use super::{ChangeFeed, ChangeSet, Event, EventBus, Recorder};

/// Runs write transactions and announces what they changed.
#[derive(Clone)]
pub struct Writer {
    store: Arc<dyn Store>,
    feed: Option<Arc<dyn ChangeFeed>>,
    bus: EventBus,
}

/// Why a transaction failed: its own error (nothing was written), or the store's, after
/// the job may already have succeeded.
enum Failure<E> {
    Job(E),
    Store(StoreError),
}

impl<E> From<StoreError> for Failure<E> {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl Writer {
    /// A writer on `store` publishing to `bus`, and to other nodes through `feed`.
    pub fn new(store: Arc<dyn Store>, feed: Option<Arc<dyn ChangeFeed>>, bus: EventBus) -> Writer {
        Writer { store, feed, bus }
    }

    /// The bus this writer publishes on.
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Runs `f` in one transaction on a [`Recorder`]. When it commits, its change set is
    /// published on the bus (before this returns, so the caller's next request already
    /// sees every consumer's reaction) and, through the feed, reaches the other nodes.
    /// When `f` fails nothing was written and nothing is published. When the store fails
    /// after `f` succeeded (a failed or interrupted COMMIT) the outcome is unknown, and
    /// [`Event::Missed`] is published instead.
    ///
    /// # Errors
    /// `f`'s own error, or the store's converted with `From<StoreError>`.
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let feed = self.feed.clone();
        #[allow(clippy::disallowed_methods)] // the one caller: it records and publishes
        let outcome = kulisse_store::transact::<_, Failure<E>, _>(&*self.store, move |tx| {
            let mut recorder = Recorder::new(tx);
            let value = f(&mut recorder).map_err(Failure::Job)?;
            let (tx, set) = recorder.into_parts();
            if let Some(feed) = feed.filter(|_| !set.is_empty()) {
                feed.announce(tx, &set)
                    .map_err(|e| Failure::Job(E::from(e)))?;
            }
            Ok((value, set))
        })
        .await;
        match outcome {
            Ok((value, set)) => {
                self.publish(set);
                Ok(value)
            }
            Err(Failure::Job(e)) => Err(e),
            Err(Failure::Store(e)) => {
                self.bus.publish(&Event::Missed);
                Err(E::from(e))
            }
        }
    }

    fn publish(&self, set: ChangeSet) {
        if !set.is_empty() {
            self.bus.publish(&Event::Committed(Arc::new(set)));
        }
    }
}
