//! One realtime client: its requester, its subscriptions and the outbox of its current
//! stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use super::{Message, Position, RealtimeError, Subscription};
use crate::auth::Auth;
use crate::changes::RowsWanted;
use crate::metrics::series;

/// Messages a client may have waiting before it counts as too slow and is disconnected.
pub(crate) const OUTBOX: usize = 1024;

/// A client, connected or (for the resume window) dropped.
pub(crate) struct Client {
    /// The 40-character id sent in `PB_CONNECT`.
    pub(crate) id: String,
    /// Where it connected from (address and user agent): a new client takes over a
    /// dropped one only from the same place (see `resume.rs`).
    pub(crate) peer: Arc<str>,
    state: RwLock<State>,
    /// The open stream's queue; `None` once the client was disconnected.
    outbox: Mutex<Option<mpsc::Sender<Message>>>,
    /// Counts the streams the client had: a stream that ends after a newer one took the
    /// client over leaves it alone.
    streams: AtomicU64,
    /// Writes record changed records while any client is connected or may resume.
    _rows: RowsWanted,
}

/// What `POST /api/realtime` sets.
#[derive(Clone)]
pub(crate) struct State {
    /// The requester bound by the first subscription request (a guest until then).
    pub(crate) auth: Auth,
    /// Who that is, for grouping subscribers who see the same: empty for every guest, a
    /// record's collection and id otherwise.
    pub(crate) requester: Arc<str>,
    /// Whether a subscription request bound `auth` yet.
    pub(crate) bound: bool,
    pub(crate) subscriptions: Arc<Vec<Arc<Subscription>>>,
    /// Where the current stream started: what a `Last-Event-ID` naming only the client
    /// resumes from.
    pub(crate) origin: Position,
    /// Set while the client waits for the dispatcher to send it what it missed since this
    /// position; it gets no live events until then, so nothing overtakes the replay.
    pub(crate) resume: Option<Position>,
}

impl Client {
    /// A client whose stream starts after change set `origin`.
    pub(crate) fn new(id: String, peer: Arc<str>, origin: u64, rows: RowsWanted) -> Arc<Client> {
        Arc::new(Client {
            id,
            peer,
            state: RwLock::new(State {
                auth: Auth::Guest,
                requester: Arc::from(""),
                bound: false,
                subscriptions: Arc::default(),
                origin: Position::through(origin),
                resume: None,
            }),
            outbox: Mutex::new(None),
            streams: AtomicU64::new(0),
            _rows: rows,
        })
    }

    /// Opens a new outbox for a new stream (the first, or one resuming the client) and
    /// returns its receiving end and the stream's number; a previous stream's outbox is
    /// closed, so that stream ends.
    pub(crate) fn attach(&self) -> (mpsc::Receiver<Message>, u64) {
        let (outbox, messages) = mpsc::channel(OUTBOX);
        let mut current = self
            .outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Some(outbox);
        (messages, self.streams.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// Whether stream `number` is the client's latest.
    pub(crate) fn is_current(&self, number: u64) -> bool {
        self.streams.load(Ordering::Acquire) == number
    }

    /// Closes the outbox: the stream sends what is queued, then ends.
    pub(crate) fn close(&self) {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// A copy of the current state (cheap: the subscriptions are shared).
    pub(crate) fn state(&self) -> State {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the subscriptions on behalf of `auth`. The first request binds its
    /// requester; later ones must come from the same one, except that a guest client may
    /// become authenticated (PocketBase's rule).
    ///
    /// `build` makes the new subscriptions from the current state; it may also ask for a
    /// replay by setting `resume`, atomically with the subscriptions, so the dispatcher
    /// never sees one without the other.
    pub(crate) fn subscribe(
        &self,
        auth: &Auth,
        build: impl FnOnce(&State) -> (Vec<Arc<Subscription>>, Option<Position>),
    ) -> Result<(), RealtimeError> {
        let mut state = self
            .state
            .write()
            .map_err(|_| RealtimeError::UnknownClient)?;
        if state.bound && !same_requester(&state.auth, auth) && !matches!(state.auth, Auth::Guest) {
            return Err(RealtimeError::AuthMismatch);
        }
        let (subscriptions, resume) = build(&state);
        state.requester = requester(auth);
        state.auth = auth.clone();
        state.bound = true;
        state.subscriptions = Arc::new(subscriptions);
        if resume.is_some() {
            state.resume = resume;
        }
        Ok(())
    }

    /// Removes the subscription to `topic` (a custom topic whose one message was sent).
    pub(crate) fn drop_topic(&self, topic: &str) {
        if let Ok(mut state) = self.state.write() {
            let kept = state
                .subscriptions
                .iter()
                .filter(|s| &*s.topic != topic)
                .cloned()
                .collect();
            state.subscriptions = Arc::new(kept);
        }
    }

    /// Starts a new stream for a client that resumes from `from` (see [`State::resume`]).
    pub(crate) fn resume_from(&self, from: Position) {
        if let Ok(mut state) = self.state.write() {
            state.origin = from;
            state.resume = Some(from);
        }
    }

    /// Takes the pending replay request, if any.
    pub(crate) fn take_resume(&self) -> Option<Position> {
        self.state.write().ok()?.resume.take()
    }

    /// Replaces the bound requester's record (it changed) or drops it to a guest (it was
    /// deleted, or its token key changed, which revokes its tokens).
    pub(crate) fn reauthenticate(&self, auth: Auth) {
        if let Ok(mut state) = self.state.write() {
            state.requester = requester(&auth);
            state.auth = auth;
        }
    }

    /// Queues `message`; `false` when the outbox is full or the stream is gone.
    pub(crate) fn send(&self, message: Message) -> bool {
        let kind = message.kind();
        let queued = self
            .outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|o| o.try_send(message).is_ok());
        match queued {
            true => metrics::counter!(series::REALTIME_MESSAGES, "kind" => kind).increment(1),
            false => metrics::counter!(series::REALTIME_MESSAGES_REFUSED).increment(1),
        }
        queued
    }
}

/// Who a requester is: every guest alike, a record by its collection and id.
pub(crate) fn requester(auth: &Auth) -> Arc<str> {
    match auth {
        Auth::Guest => Arc::from(""),
        Auth::Record { collection, record } => {
            let id = record
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            Arc::from(format!("{}/{id}", collection.id))
        }
    }
}

/// Whether two requesters are the same guest or the same auth record.
fn same_requester(a: &Auth, b: &Auth) -> bool {
    match (a, b) {
        (Auth::Guest, Auth::Guest) => true,
        (
            Auth::Record {
                collection: ca,
                record: ra,
            },
            Auth::Record {
                collection: cb,
                record: rb,
            },
        ) => ca.id == cb.id && ra.get("id") == rb.get("id"),
        _ => false,
    }
}
