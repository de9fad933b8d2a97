//! The realtime service: connected clients, their subscriptions, and the bus subscription
//! that feeds the dispatcher.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};

use kulisse_schema::{FieldError, FieldErrors};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Client, requester};
use super::dispatch::{Dispatcher, Work};
use super::log::Log;
use super::resume::DroppedClients;
use super::{Config, Position, RealtimeError, Subscription};
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

/// The clients connected to a node, counted for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Clients with a stream open.
    pub clients: usize,
    /// Their subscriptions, summed.
    pub subscriptions: usize,
}

/// One message for a client's stream.
#[derive(Debug)]
pub enum Message {
    /// A record event, shared by every subscriber who sees it alike.
    Record(Arc<RecordEvent>, Position),
    /// Events may have been lost (this node's feed from the other nodes reconnected, the
    /// dispatcher fell behind, or a resuming client was gone too long): a client that
    /// keeps state from events should reload it. Sent as `PB_RESYNC`, which the official
    /// SDKs ignore.
    Resync(Position),
    /// A message on a custom topic (`@oauth2`: the OAuth2 redirect hands the popup's code
    /// to the SDK waiting on it), with its `data` JSON. Not a change: it has no position
    /// of its own and is not sent again on a resume.
    Custom {
        /// The topic, which is the event's name.
        topic: Arc<str>,
        /// The event's data.
        data: Vec<u8>,
    },
}

impl Message {
    /// What kind of message this is, for the metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Message::Record(..) => "record",
            Message::Resync(_) => "resync",
            Message::Custom { .. } => "custom",
        }
    }

    /// Where the client is once it has this message (its event id), if it is a change.
    pub fn position(&self) -> Option<Position> {
        match self {
            Message::Record(_, at) | Message::Resync(at) => Some(*at),
            Message::Custom { .. } => None,
        }
    }
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
    /// Clients with an open stream.
    pub(crate) clients: RwLock<HashMap<String, Arc<Client>>>,
    /// Clients whose stream dropped, for the resume window.
    dropped: Mutex<DroppedClients>,
    /// Set at shutdown: ending streams are not kept for a resume.
    closing: AtomicBool,
    ambient: Ambient,
    bus: EventBus,
    config: Config,
    /// How many events the bus has handed to the dispatcher's queue.
    published: Arc<AtomicU64>,
    /// The dispatcher's queue, for resume requests.
    work: mpsc::Sender<Work>,
}

impl Inner {
    pub(crate) fn dropped(&self) -> MutexGuard<'_, DroppedClients> {
        self.dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the dispatcher to send `client` what it missed, now rather than with the next
    /// change set (it would also do it then, should its queue be full).
    fn wake_for(&self, client: &Arc<Client>) {
        let _ = self.work.try_send(Work::Resume(Arc::clone(client)));
    }
}

/// An open client stream. Dropping it (the HTTP stream ended) detaches the client, which
/// is kept for the resume window.
pub struct Connection {
    /// The client id to announce in `PB_CONNECT`.
    pub client_id: String,
    client: Arc<Client>,
    /// Which of the client's streams this is.
    stream: u64,
    messages: mpsc::Receiver<Message>,
    /// The last message handed out (or where the stream started).
    at: Position,
    /// Whether the server ended the stream (rather than the client leaving).
    ended: bool,
    idle: std::time::Duration,
    ends: Instant,
    service: Weak<Inner>,
}

impl Connection {
    /// The next message, in delivery order; `None` when the stream ends: it was idle for
    /// [`Config::idle`], reached [`Config::max_lifetime`], or its client was disconnected
    /// for not keeping up (after what was queued).
    pub async fn next(&mut self) -> Option<Message> {
        let wait = self
            .idle
            .min(self.ends.saturating_duration_since(Instant::now()));
        let message = tokio::time::timeout(wait, self.messages.recv())
            .await
            .ok()
            .flatten();
        match &message {
            Some(m) => self.at = m.position().unwrap_or(self.at),
            None => self.ended = true,
        }
        message
    }

    /// The position of the last change this stream handed out (or where it started): the
    /// id of a message that has none of its own.
    pub fn position(&self) -> Position {
        self.at
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Some(inner) = self.service.upgrade() else {
            return;
        };
        // A newer stream resumed the client: it is that stream's now.
        if !self.client.is_current(self.stream) {
            return;
        }
        // Read before taking the dropped clients' lock: a subscription request takes that
        // lock while holding the client's state.
        let resumable = !inner.closing.load(Ordering::Acquire) && self.client.state().bound;
        // The client leaves the live clients and joins the dropped ones under the dropped
        // clients' lock: a change set delivered in between would otherwise find it in
        // neither, and forget what its resume is owed.
        let mut dropped = inner.dropped();
        if let Ok(mut clients) = inner.clients.write() {
            clients.remove(&self.client_id);
        }
        self.client.close();
        if resumable {
            dropped.keep(Arc::clone(&self.client), self.at, self.ended);
        }
    }
}

/// Queues committed changes for the dispatcher; called on the writer's thread, so it only
/// queues. When the dispatcher is [`BACKLOG`] events behind, events are dropped and the
/// dispatcher is told it missed some rather than the writer waiting.
struct Queue {
    events: mpsc::Sender<Work>,
    lagged: Arc<AtomicBool>,
    /// Numbers the events in publish (commit) order.
    published: Arc<AtomicU64>,
}

impl Subscriber for Queue {
    fn on_event(&self, event: &Event) {
        let number = self.published.fetch_add(1, Ordering::AcqRel) + 1;
        if self
            .events
            .try_send(Work::Published(number, event.clone()))
            .is_err()
        {
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
        config: Config,
    ) -> RealtimeService {
        let (work, queue) = mpsc::channel(BACKLOG);
        let inner = Arc::new(Inner {
            clients: RwLock::default(),
            dropped: Mutex::new(DroppedClients::new(config.resume_window)),
            closing: AtomicBool::new(false),
            ambient: ambient.clone(),
            bus: bus.clone(),
            config,
            published: Arc::default(),
            work: work.clone(),
        });
        let lagged = Arc::new(AtomicBool::new(false));
        bus.subscribe(Arc::new(Queue {
            events: work,
            lagged: Arc::clone(&lagged),
            published: Arc::clone(&inner.published),
        }));
        Dispatcher {
            records,
            registry,
            ambient,
            clients: Arc::downgrade(&inner),
            lagged,
            published: Arc::clone(&inner.published),
            log: Log::new(config.resume_window, config.resume_events),
        }
        .spawn(queue);
        RealtimeService { inner }
    }

    /// A client and its stream. `peer` says where it connects from (address and user
    /// agent). `last_event_id` is the `Last-Event-ID` header of a reconnecting
    /// `EventSource`: when it names a client dropped within the resume window, that client
    /// continues from there; otherwise the new client's stream starts with `PB_RESYNC`.
    pub fn connect(&self, peer: &str, last_event_id: Option<&str>) -> Connection {
        let inner = &self.inner;
        // A client resumes only from where it connected (address and user agent): its id
        // alone must not hand its requester's events to someone else.
        let resumed = last_event_id.map(|id| {
            let (id, at) = Position::parse_event_id(id)?;
            // Still connected as far as this node knows (the old connection's end has not
            // been noticed yet): the client moves to the new stream.
            let live = {
                let mut clients = inner.clients.write().ok()?;
                match clients.get(id) {
                    Some(c) if *c.peer == *peer => clients.remove(id),
                    _ => None,
                }
            };
            let client = match live {
                Some(client) => client,
                None => inner.dropped().take_by_id(id, peer)?.client,
            };
            let from = at.unwrap_or(client.state().origin);
            Some((client, from))
        });
        let now = inner.published.load(Ordering::Acquire);
        let client = match &resumed {
            Some(Some((client, from))) => {
                client.resume_from(*from);
                Arc::clone(client)
            }
            _ => {
                let id = inner.ambient.ids.random(CLIENT_ID_ALPHABET, CLIENT_ID_LEN);
                Client::new(id, Arc::from(peer), now, inner.bus.want_rows())
            }
        };
        let (messages, stream) = client.attach();
        if let Ok(mut clients) = inner.clients.write() {
            clients.insert(client.id.clone(), Arc::clone(&client));
        }
        if matches!(resumed, Some(Some(_))) {
            // The old stream may have ended between being taken over and the attach
            // above, and kept the client as dropped: it is live again.
            inner.dropped().take_by_id(&client.id, peer);
        }
        match resumed {
            Some(Some(_)) => inner.wake_for(&client),
            // A resume that came too late: the client is told, so it reloads.
            Some(None) => {
                client.send(Message::Resync(Position::through(now)));
            }
            None => {}
        }
        Connection {
            client_id: client.id.clone(),
            at: client.state().origin,
            client,
            stream,
            ended: false,
            messages,
            idle: inner.config.idle,
            ends: Instant::now() + inner.config.max_lifetime,
            service: Arc::downgrade(inner),
        }
    }

    /// How many clients are connected to this node now, and their subscriptions.
    pub fn census(&self) -> Census {
        let Ok(clients) = self.inner.clients.read() else {
            return Census::default();
        };
        Census {
            clients: clients.len(),
            subscriptions: clients
                .values()
                .map(|c| c.state().subscriptions.len())
                .sum(),
        }
    }

    /// Ends every client's stream (the server is shutting down: an open stream would
    /// otherwise hold the graceful shutdown for up to its idle timeout). The SDKs
    /// reconnect to whichever node is up.
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::Release);
        if let Ok(mut clients) = self.inner.clients.write() {
            for client in clients.values() {
                client.close();
            }
            clients.clear();
        }
        self.inner.dropped().clear();
    }

    /// Sends `data` once on the custom topic `topic` (such as `@oauth2`) to client
    /// `client_id`, which must be connected to this node from address `ip` and subscribed
    /// to exactly that topic; the subscription ends with it (a popup's code goes to the
    /// page that asked for it, and only once).
    ///
    /// # Errors
    /// [`RealtimeError::UnknownClient`] otherwise, or when its outbox is full.
    pub fn send_once(
        &self,
        client_id: &str,
        ip: &str,
        topic: &str,
        data: &serde_json::Value,
    ) -> Result<(), RealtimeError> {
        let client = self
            .inner
            .clients
            .read()
            .ok()
            .and_then(|c| c.get(client_id).cloned())
            .ok_or(RealtimeError::UnknownClient)?;
        let from_ip = client.peer.split(' ').next() == Some(ip);
        let subscribed = client
            .state()
            .subscriptions
            .iter()
            .any(|s| &*s.topic == topic);
        if !from_ip || !subscribed {
            return Err(RealtimeError::UnknownClient);
        }
        client.drop_topic(topic);
        let message = Message::Custom {
            topic: Arc::from(topic),
            data: data.to_string().into_bytes(),
        };
        if client.send(message) {
            Ok(())
        } else {
            Err(RealtimeError::UnknownClient)
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
        let inner = &self.inner;
        let client = inner
            .clients
            .read()
            .ok()
            .and_then(|c| c.get(client_id).cloned())
            .ok_or(RealtimeError::UnknownClient)?;
        // PB compat: a topic sent twice is one subscription (one event, not two).
        let mut seen = HashSet::new();
        let topics: Vec<&str> = topics
            .iter()
            .map(String::as_str)
            .filter(|t| seen.insert(*t))
            .collect();
        let now = inner.published.load(Ordering::Acquire);
        let mut resumed = false;
        client.subscribe(auth, |state| {
            // A fresh client's first subscriptions may be an SDK's reconnect after the
            // server ended its stream: it takes over the client it replaces (see
            // `resume.rs`).
            let taken = (!state.bound && !topics.is_empty())
                .then(|| {
                    let who = requester(auth);
                    inner.dropped().take_latest(|old| {
                        old.peer == client.peer && {
                            let old = old.state();
                            old.requester == who && same_topics(&old.subscriptions, &seen)
                        }
                    })
                })
                .flatten();
            let subscriptions = match &taken {
                // The same topics: the client's subscriptions as they were, in their order
                // (a message's position depends on it).
                Some(old) => old.client.state().subscriptions.to_vec(),
                // A new subscription hears of changes published from now on; one kept from
                // the previous set keeps its start, so nothing it was owed is skipped.
                None => topics
                    .iter()
                    .map(|t| {
                        let mut s = Subscription::parse(t);
                        s.since = state
                            .subscriptions
                            .iter()
                            .find(|old| old.topic == s.topic)
                            .map_or(now, |old| old.since);
                        Arc::new(s)
                    })
                    .collect(),
            };
            resumed = taken.is_some();
            (subscriptions, taken.map(|old| old.at))
        })?;
        if resumed {
            inner.wake_for(&client);
        }
        Ok(())
    }
}

/// Whether `subscriptions` are exactly the topics in `topics`.
fn same_topics(subscriptions: &[Arc<Subscription>], topics: &HashSet<&str>) -> bool {
    subscriptions.len() == topics.len() && subscriptions.iter().all(|s| topics.contains(&*s.topic))
}
