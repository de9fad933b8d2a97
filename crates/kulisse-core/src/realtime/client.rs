//! One connected realtime client: its requester, its subscriptions and its outbox.

use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use super::{Message, RealtimeError, Subscription};
use crate::auth::Auth;
use crate::changes::RowsWanted;

/// Messages a client may have waiting before it counts as too slow and is disconnected.
pub(crate) const OUTBOX: usize = 1024;

/// A connected client.
pub(crate) struct Client {
    /// The 40-character id sent in `PB_CONNECT`.
    pub(crate) id: String,
    state: RwLock<State>,
    outbox: mpsc::Sender<Message>,
    /// Writes record changed records while any client is connected.
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
    bound: bool,
    pub(crate) subscriptions: Arc<Vec<Arc<Subscription>>>,
}

impl Client {
    pub(crate) fn new(id: String, rows: RowsWanted) -> (Arc<Client>, mpsc::Receiver<Message>) {
        let (outbox, messages) = mpsc::channel(OUTBOX);
        let client = Client {
            id,
            state: RwLock::new(State {
                auth: Auth::Guest,
                requester: Arc::from(""),
                bound: false,
                subscriptions: Arc::default(),
            }),
            outbox,
            _rows: rows,
        };
        (Arc::new(client), messages)
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
    pub(crate) fn subscribe(
        &self,
        auth: &Auth,
        subscriptions: Vec<Arc<Subscription>>,
    ) -> Result<(), RealtimeError> {
        let mut state = self
            .state
            .write()
            .map_err(|_| RealtimeError::UnknownClient)?;
        if state.bound && !same_requester(&state.auth, auth) && !matches!(state.auth, Auth::Guest) {
            return Err(RealtimeError::AuthMismatch);
        }
        state.requester = requester(auth);
        state.auth = auth.clone();
        state.bound = true;
        state.subscriptions = Arc::new(subscriptions);
        Ok(())
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
        self.outbox.try_send(message).is_ok()
    }
}

/// Who a requester is: every guest alike, a record by its collection and id.
fn requester(auth: &Auth) -> Arc<str> {
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
