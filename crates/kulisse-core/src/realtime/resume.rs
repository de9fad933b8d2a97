//! Clients whose stream dropped, kept for the resume window so that their reconnect gets
//! what it missed.
//!
//! A reconnect finds its old client in one of two ways:
//! - **By `Last-Event-ID`** (a browser's own `EventSource` reconnect, or any SSE client
//!   that sends it): the header names the client and its last event exactly, so the
//!   client continues under its old id and subscriptions from that event. It must come
//!   from the same address and user agent.
//! - **By taking over** (the official SDKs, which open a new `EventSource`, get a new
//!   client id and send their subscriptions again): when the *server* ended a client's
//!   stream (its maximum lifetime, the idle timeout, or it was too slow), a new client's
//!   first subscription request takes over the most recently ended client with the same
//!   requester, the same address and user agent, and the same set of topics, and gets
//!   what that client missed after the last event its stream wrote. A stream the client
//!   closed is never taken over this way: the SDKs close it on `unsubscribe()` and open a
//!   new one on the next `subscribe()` (a page change in a single-page app), and that new
//!   page has loaded its data afresh; replaying the gap would duplicate it. Nothing on
//!   the wire tells that apart from a network drop, so an SDK reconnect after a network
//!   drop starts afresh, as with PocketBase.
//!
//! Either way the dispatcher sends the missed events (`log.rs`) before any live one, or
//! `PB_RESYNC` when they are no longer all there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Position;
use super::client::Client;

/// Most dropped clients kept at once; the oldest go first.
const MAX_DROPPED: usize = 10_000;

/// A client whose stream ended.
pub(crate) struct Dropped {
    pub(crate) client: Arc<Client>,
    /// The last event its stream wrote.
    pub(crate) at: Position,
    /// Whether the server ended the stream (so an SDK's reconnect may take it over).
    ended_by_server: bool,
    when: Instant,
}

/// The dropped clients, oldest first.
pub(crate) struct DroppedClients {
    clients: VecDeque<Dropped>,
    window: Duration,
}

impl DroppedClients {
    pub(crate) fn new(window: Duration) -> DroppedClients {
        DroppedClients {
            clients: VecDeque::new(),
            window,
        }
    }

    /// Keeps `client`, whose stream ended after the event at `at`.
    pub(crate) fn keep(&mut self, client: Arc<Client>, at: Position, ended_by_server: bool) {
        if self.window.is_zero() {
            return;
        }
        self.expire();
        if self.clients.len() >= MAX_DROPPED {
            self.clients.pop_front();
        }
        self.clients.push_back(Dropped {
            client,
            at,
            ended_by_server,
            when: Instant::now(),
        });
    }

    /// Removes and returns the dropped client with id `id` that connected from `peer`.
    pub(crate) fn take_by_id(&mut self, id: &str, peer: &str) -> Option<Dropped> {
        self.expire();
        let i = self
            .clients
            .iter()
            .position(|d| d.client.id == id && *d.client.peer == *peer)?;
        self.clients.remove(i)
    }

    /// Removes and returns the most recently dropped client whose stream the server ended
    /// and that `matches`.
    pub(crate) fn take_latest(&mut self, matches: impl Fn(&Client) -> bool) -> Option<Dropped> {
        self.expire();
        let i = self
            .clients
            .iter()
            .rposition(|d| d.ended_by_server && matches(&d.client))?;
        self.clients.remove(i)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Forgets every dropped client (the server is shutting down).
    pub(crate) fn clear(&mut self) {
        self.clients.clear();
    }

    /// Forgets the clients dropped longer ago than the window (they also stop writes from
    /// recording rows for them).
    pub(crate) fn expire(&mut self) {
        let now = Instant::now();
        while self
            .clients
            .front()
            .is_some_and(|d| now.duration_since(d.when) > self.window)
        {
            self.clients.pop_front();
        }
    }
}
