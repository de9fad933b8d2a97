//! The realtime service: connected clients, their subscriptions, and the bus subscription
//! that feeds the dispatcher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use kulisse_schema::{FieldError, FieldErrors};
use tokio::sync::mpsc;

use super::client::Client;
use super::dispatch::Dispatcher;
use super::{RealtimeError, Subscription};
use crate::Ambient;
use crate::auth::Auth;
use crate::changes::{Event, EventBus, Subscriber};
use crate::collections::Registry;
use crate::error::{CoreError, Form};
use crate::records::{Record, RecordsService};

/// Alphabet and length of client ids (PocketBase's).
const CLIENT_ID_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const CLIENT_ID_LEN: usize = 40;
/// Most subscriptions per client, and longest topic (PocketBase's limits).
pub const MAX_SUBSCRIPTIONS: usize = 1000;
/// Longest topic, in bytes.
pub const MAX_TOPIC_LEN: usize = 2500;
/// Longest client id a subscription request may name (PocketBase's limit).
pub const MAX_CLIENT_ID_LEN: usize = 255;
/// Committed changes waiting for the dispatcher; past this, clients are told to
/// resynchronise instead of writers waiting.
const BACKLOG: usize = 4096;

/// One message for a client's stream.
#[derive(Debug)]
pub enum Message {
    /// A record event, shared by every subscriber who sees it alike.
    Record(Arc<RecordEvent>),
    /// Events may have been lost (this node's feed from the other nodes reconnected, or
    /// the dispatcher fell behind): a client that keeps state from events should reload
    /// it. Sent as `PB_RESYNC`, which the official SDKs ignore.
    Resync,
}

/// A record event as its subscribers see it. Subscribers with the same requester and the
/// same subscription see exactly the same thing, so they share one, and its JSON is
/// written once for all of them.
#[derive(Debug)]
pub struct RecordEvent {
    /// The subscription's topic, exactly as sent: the event's name.
    pub event: Arc<str>,
    /// The record as these subscribers may see it, expanded.
    pub record: Record,
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    /// The subscription's `fields` option, applied when the data is written.
    pub fields: Option<Arc<str>>,
    /// The event's `data` JSON, written by whichever stream sends it first.
    pub data: OnceLock<Vec<u8>>,
}

/// The realtime service; cheap to clone.
#[derive(Clone)]
pub struct RealtimeService {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) clients: RwLock<HashMap<String, Arc<Client>>>,
    ambient: Ambient,
    bus: EventBus,
    /// How many events the bus has handed to the dispatcher's queue.
    published: Arc<AtomicU64>,
}

/// An open client stream: its id and its messages. Dropping it (the HTTP stream ended)
/// forgets the client and its subscriptions.
pub struct Connection {
    /// The client id to announce in `PB_CONNECT`.
    pub client_id: String,
    /// Messages in delivery order; ends when the client was disconnected for being slow.
    pub messages: mpsc::Receiver<Message>,
    service: Weak<Inner>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(inner) = self.service.upgrade()
            && let Ok(mut clients) = inner.clients.write()
        {
            clients.remove(&self.client_id);
        }
    }
}

/// Queues committed changes for the dispatcher; called on the writer's thread, so it only
/// queues. When the dispatcher is [`BACKLOG`] events behind, events are dropped and the
/// dispatcher is told it missed some rather than the writer waiting.
struct Queue {
    events: mpsc::Sender<(u64, Event)>,
    lagged: Arc<AtomicBool>,
    /// Numbers the events in publish (commit) order.
    published: Arc<AtomicU64>,
}

impl Subscriber for Queue {
    fn on_event(&self, event: &Event) {
        let number = self.published.fetch_add(1, Ordering::AcqRel) + 1;
        if self.events.try_send((number, event.clone())).is_err() {
            self.lagged.store(true, Ordering::Release);
        }
    }
}

impl RealtimeService {
    /// Starts the dispatcher and subscribes it to `bus`.
    pub(crate) fn start(
        records: RecordsService,
        registry: Registry,
        ambient: Ambient,
        bus: &EventBus,
    ) -> RealtimeService {
        let inner = Arc::new(Inner {
            clients: RwLock::default(),
            ambient: ambient.clone(),
            bus: bus.clone(),
            published: Arc::default(),
        });
        let (queue, events) = mpsc::channel(BACKLOG);
        let lagged = Arc::new(AtomicBool::new(false));
        bus.subscribe(Arc::new(Queue {
            events: queue,
            lagged: Arc::clone(&lagged),
            published: Arc::clone(&inner.published),
        }));
        Dispatcher {
            records,
            registry,
            ambient,
            clients: Arc::downgrade(&inner),
            lagged,
        }
        .spawn(events);
        RealtimeService { inner }
    }

    /// A new client and its stream.
    pub fn connect(&self) -> Connection {
        let id = self
            .inner
            .ambient
            .ids
            .random(CLIENT_ID_ALPHABET, CLIENT_ID_LEN);
        let (client, messages) = Client::new(id.clone(), self.inner.bus.want_rows());
        if let Ok(mut clients) = self.inner.clients.write() {
            clients.insert(id.clone(), client);
        }
        Connection {
            client_id: id,
            messages,
            service: Arc::downgrade(&self.inner),
        }
    }

    /// Ends every client's stream (the server is shutting down: an open stream would
    /// otherwise hold the graceful shutdown for up to its idle timeout). The SDKs
    /// reconnect to whichever node is up.
    pub fn close(&self) {
        if let Ok(mut clients) = self.inner.clients.write() {
            clients.clear();
        }
    }

    /// `POST /api/realtime`: replaces the client's subscriptions with `topics`, bound to
    /// `auth`.
    ///
    /// # Errors
    /// PocketBase's validation of the form (`clientId` required, of at most
    /// [`MAX_CLIENT_ID_LEN`] characters, at most
    /// [`MAX_SUBSCRIPTIONS`] topics of at most [`MAX_TOPIC_LEN`] bytes), then
    /// [`RealtimeError::UnknownClient`], [`RealtimeError::AuthMismatch`].
    pub fn set_subscriptions(
        &self,
        client_id: &str,
        auth: &Auth,
        topics: &[String],
    ) -> Result<(), CoreError> {
        let mut errs = FieldErrors::new();
        if client_id.is_empty() {
            errs.add("clientId", FieldError::required());
        } else if client_id.chars().count() > MAX_CLIENT_ID_LEN {
            errs.add(
                "clientId",
                FieldError::length_out_of_range(1, MAX_CLIENT_ID_LEN as u64),
            );
        }
        if topics.len() > MAX_SUBSCRIPTIONS {
            errs.add(
                "subscriptions",
                FieldError::too_long(MAX_SUBSCRIPTIONS as u64),
            );
        } else {
            let mut long = FieldErrors::new();
            for (i, topic) in topics.iter().enumerate() {
                if topic.len() > MAX_TOPIC_LEN {
                    long.add(i.to_string(), FieldError::too_long(MAX_TOPIC_LEN as u64));
                }
            }
            if !long.0.is_empty() {
                errs.add_nested("subscriptions", long);
            }
        }
        if !errs.0.is_empty() {
            return Err(CoreError::invalid(Form::Realtime, errs));
        }
        let client = self
            .inner
            .clients
            .read()
            .ok()
            .and_then(|c| c.get(client_id).cloned())
            .ok_or(RealtimeError::UnknownClient)?;
        // A new subscription hears of changes published from now on; one kept from the
        // previous set keeps its start, so nothing it was owed is skipped.
        let now = self.inner.published.load(Ordering::Acquire);
        let before = client.state().subscriptions;
        // PB compat: a topic sent twice is one subscription (one event, not two).
        let mut seen = std::collections::HashSet::new();
        let subscriptions = topics
            .iter()
            .filter(|t| seen.insert(t.as_str()))
            .map(|t| {
                let mut s = Subscription::parse(t);
                s.since = before
                    .iter()
                    .find(|old| old.topic == s.topic)
                    .map_or(now, |old| old.since);
                Arc::new(s)
            })
            .collect();
        client.subscribe(auth, subscriptions)?;
        Ok(())
    }
}
