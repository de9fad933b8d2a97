//! The dispatcher: one thread that takes committed changes in order and delivers each to
//! the subscriptions whose rules and filters the record passes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use kulisse_schema::{Collection, CollectionKind};
use kulisse_store::{Row, Select};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::client::{Client, State};
use super::joins::Fetched;
use super::log::{Log, Logged};
use super::service::{Inner, Message, RecordEvent};
use super::{Position, Subscription, Target};
use crate::Ambient;
use crate::auth::Auth;
use crate::changes::{Action, ChangeSet, Event, RecordChange};
use crate::collections::{Registry, Snapshot};
use crate::query::eval::matches_with;
use crate::query::{RequestInfo, Resolver, compile_filter};
use crate::records::rules::{Action as RuleAction, compile_rule};
use crate::records::{ExpandTree, RecordsService, visible};

/// What the dispatcher is asked to do, in order.
pub(crate) enum Work {
    /// Change set `number` (or a gap) was published.
    Published(u64, Event),
    /// A client resumed: send it what it missed.
    Resume(Arc<Client>),
}

/// Delivers committed changes to the connected clients (see the module doc).
pub(crate) struct Dispatcher {
    pub(crate) records: RecordsService,
    pub(crate) registry: Registry,
    pub(crate) ambient: Ambient,
    pub(crate) clients: Weak<Inner>,
    /// Set by the bus side when events were dropped.
    pub(crate) lagged: Arc<AtomicBool>,
    /// How many change sets were published (the bus side counts them).
    pub(crate) published: Arc<AtomicU64>,
    /// The recent change sets, for resuming clients. Only this thread touches it.
    pub(crate) log: Log,
}

impl Dispatcher {
    /// Runs on its own thread until the service is gone: record reads and rule checks
    /// block it, never a runtime worker or the writer.
    pub(crate) fn spawn(mut self, mut work: mpsc::Receiver<Work>) {
        let handle = Handle::current();
        let spawned = std::thread::Builder::new()
            .name("realtime".into())
            .spawn(move || {
                crate::priority::run_behind_requests();
                while let Some(next) = work.blocking_recv() {
                    let Some(inner) = self.clients.upgrade() else {
                        return;
                    };
                    if self.lagged.swap(false, Ordering::AcqRel) {
                        self.missed(&inner, &handle, None);
                    }
                    match next {
                        Work::Published(number, Event::Committed(set)) => {
                            self.deliver(&inner, number, set, &handle);
                        }
                        Work::Published(number, Event::Missed) => {
                            self.missed(&inner, &handle, Some(number));
                        }
                        Work::Resume(client) => self.resume(&inner, &client, &handle),
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the realtime dispatcher");
        }
    }

    fn clients(inner: &Inner) -> Vec<Arc<Client>> {
        inner
            .clients
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Changes may have been lost (at change set number `gap`, or somewhere when the queue
    /// overflowed): nothing before now can be sent again, every bound requester is read
    /// again, and every client that was there before is told, so none misses events
    /// silently.
    fn missed(&mut self, inner: &Inner, handle: &Handle, gap: Option<u64>) {
        let now = self.published.load(Ordering::Acquire);
        self.log.forget_through(now);
        for client in Self::clients(inner) {
            // A client whose stream started after the gap was announced holds nothing
            // from before it (a node's first feed connect, just after its clients came).
            if gap.is_some_and(|gap| client.state().origin.set >= gap) {
                continue;
            }
            self.refresh_auth(&client, handle);
            if !client.send(Message::Resync(Position::through(now))) {
                Self::disconnect(inner, &client);
            }
        }
    }

    /// Disconnects a client that cannot keep up: its stream sends what is queued and
    /// ends, so it can never hold up the others or the writers. It can resume.
    fn disconnect(inner: &Inner, client: &Client) {
        client.close();
        if let Ok(mut all) = inner.clients.write() {
            all.remove(&client.id);
        }
    }

    /// Logs change set `number` and delivers it to the clients connected live, then sends
    /// resuming clients what they missed (this set included).
    fn deliver(&mut self, inner: &Inner, number: u64, set: Arc<ChangeSet>, handle: &Handle) {
        if set.records.is_empty() && set.truncated.is_empty() {
            return;
        }
        let clients = Self::clients(inner);
        let resumable = {
            let mut dropped = inner.dropped();
            dropped.expire();
            !dropped.is_empty()
        };
        if clients.is_empty() && !resumable {
            // Nobody connected and nobody who may resume: no one can be owed this set.
            self.log.forget_through(number);
            return;
        }
        // Requesters first: a user deleted together with records (an unlink, a cascade)
        // no longer sees those changes as themselves.
        for change in set.records.iter().filter(|c| c.action != Action::Create) {
            self.follow_auth_change(&clients, change, handle);
        }
        // Each client's state once per set: a subscription request that lands meanwhile
        // applies from the next set on (or, for a resume, through the replay, which
        // includes this set).
        let states: Vec<(Arc<Client>, State)> = clients
            .into_iter()
            .map(|c| {
                let state = c.state();
                (c, state)
            })
            .collect();
        let (live, resuming): (Vec<_>, Vec<_>) =
            states.into_iter().partition(|(_, s)| s.resume.is_none());
        self.log.push(number, set);
        if let Some(logged) = self.log.latest() {
            self.send(inner, logged, &live, None, handle);
        }
        for (client, _) in &resuming {
            self.resume(inner, client, handle);
        }
    }

    /// Sends `client` what it missed since its resume position, from the log, then lets
    /// live events through; `PB_RESYNC` when the log no longer reaches back that far.
    fn resume(&self, inner: &Inner, client: &Arc<Client>, handle: &Handle) {
        let Some(from) = client.take_resume() else {
            return;
        };
        let state = client.state();
        let target = [(Arc::clone(client), state)];
        match self.log.after(from) {
            Some(missed) => {
                for logged in missed {
                    self.send(inner, logged, &target, Some(from), handle);
                }
            }
            None => {
                let now = Position::through(self.published.load(Ordering::Acquire));
                if !client.send(Message::Resync(now)) {
                    Self::disconnect(inner, client);
                }
            }
        }
    }

    /// Delivers a logged change set to `targets`, skipping messages at or before `after`
    /// (a resuming client had them).
    fn send(
        &self,
        inner: &Inner,
        logged: &Logged,
        targets: &[(Arc<Client>, State)],
        after: Option<Position>,
        handle: &Handle,
    ) {
        if targets.is_empty() {
            return;
        }
        let (number, set) = (logged.number, &logged.set);
        let schema = self.registry.snapshot();
        let owed = |at: Position| after.is_none_or(|after| !at.is_behind(after));
        // A table too big to list its deleted records: its subscribers start over.
        for c in set.truncated.iter().filter_map(|id| schema.get(id)) {
            for (client, state) in targets {
                let listens = state.subscriptions.iter().any(|s| {
                    matches!(&s.target, Target::Collection(n) | Target::Record(n, _) if names(n, c))
                });
                let at = Position::through(number);
                if listens && owed(at) && !client.send(Message::Resync(at)) {
                    Self::disconnect(inner, client);
                }
            }
        }
        for (i, change) in set.records.iter().enumerate() {
            let Some(c) = schema.get(&change.collection).cloned() else {
                continue;
            };
            if c.kind == CollectionKind::View {
                continue;
            }
            let mut matching: Vec<(&Arc<Client>, &State, &Arc<Subscription>, Position)> =
                Vec::new();
            for (client, state) in targets {
                for (j, s) in state.subscriptions.iter().enumerate() {
                    let at = Position::message(number, i, j);
                    if s.since < number && owed(at) && targets_record(s, &c, &change.id) {
                        matching.push((client, state, s, at));
                    }
                }
            }
            if matching.is_empty() {
                continue;
            }
            let Some(row) = logged.row(i, || self.record(&c, change, handle)) else {
                // A record deleted on another node whose row did not fit the feed's
                // message: no rule can be checked, so no one is shown it; its subscribers
                // are told they missed something instead. (A create or update that is
                // gone by now is followed by its delete.)
                if change.action == Action::Delete {
                    let mut told: Vec<&Arc<Client>> = Vec::new();
                    for (client, _, _, at) in matching {
                        if !told.iter().any(|t| Arc::ptr_eq(t, client)) {
                            told.push(client);
                            if !client.send(Message::Resync(at)) {
                                Self::disconnect(inner, client);
                            }
                        }
                    }
                }
                continue;
            };
            let joins = Fetched::new(&*self.records.store, &schema, handle);
            let event = Happened {
                c: &c,
                schema: &schema,
                row,
                action: change.action,
                joins: &joins,
                handle,
            };
            // Subscribers with the same requester and subscription see the same thing:
            // the rule is checked and the message built once per such group.
            let mut built: HashMap<Group, Option<Arc<RecordEvent>>> = HashMap::new();
            for (client, state, subscription, at) in matching {
                let group = (
                    Arc::clone(&state.requester),
                    Arc::clone(&subscription.topic),
                );
                let message = built
                    .entry(group)
                    .or_insert_with(|| {
                        self.message(&event, &state.auth, subscription)
                            .map(Arc::new)
                    })
                    .clone();
                if let Some(message) = message
                    && !client.send(Message::Record(message, at))
                {
                    Self::disconnect(inner, client);
                }
            }
        }
    }

    /// The record as the transaction left it, or as it was before a delete: carried by the
    /// change when it was recorded; otherwise (a client connected meanwhile, a change from
    /// another node) creates and updates are read now, once per change, and a delete
    /// cannot be told.
    fn record(&self, c: &Arc<Collection>, change: &RecordChange, handle: &Handle) -> Option<Row> {
        if let Some(row) = &change.row {
            return Some(row.clone());
        }
        match change.action {
            Action::Delete => None,
            Action::Create | Action::Update => handle
                .block_on(
                    self.records
                        .store
                        .select(Select::by_id(Arc::clone(c), &change.id)),
                )
                .ok()
                .and_then(|page| page.rows.into_iter().next()),
        }
    }

    /// The message for one subscription, if its rule and filter let the subscriber see
    /// the record.
    fn message(
        &self,
        event: &Happened<'_>,
        auth: &Auth,
        subscription: &Subscription,
    ) -> Option<RecordEvent> {
        let Happened {
            c,
            schema,
            row,
            action,
            joins,
            handle,
        } = *event;
        let req = request(auth, subscription, &self.ambient);
        let rule = match subscription.target {
            Target::Record(..) => RuleAction::View,
            _ => RuleAction::List,
        };
        let rule = RecordsService::rule_text(c, rule, &req).ok()?;
        if let Some(rule) = rule.filter(|r| !r.trim().is_empty()) {
            let cond = compile_rule(&rule, c, schema, &req).ok()?;
            if !matches_with(c, &cond, row, joins) {
                return None;
            }
        }
        if let Some(filter) = &subscription.options.filter {
            let resolver = Resolver {
                collection: c,
                schema,
                request: &req,
                allow_hidden: auth.is_superuser(),
            };
            if let Some(cond) = compile_filter(filter, &resolver).ok()?
                && !matches_with(c, &cond, row, joins)
            {
                return None;
            }
        }
        let mut records = [visible(c, row.clone(), auth).into()];
        if let Some(expand) = &subscription.options.expand {
            let tree = ExpandTree::parse(expand);
            handle
                .block_on(self.records.expand(&req, c, &mut records, &tree))
                .ok()?;
        }
        let [record] = records;
        Some(RecordEvent {
            event: Arc::clone(&subscription.topic),
            record,
            action: match action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            },
            fields: subscription.options.fields.clone(),
            data: OnceLock::new(),
        })
    }

    /// A bound requester whose record changed is read again: deleted, or with a new token
    /// key (its tokens revoked), it becomes a guest.
    fn follow_auth_change(&self, clients: &[Arc<Client>], change: &RecordChange, handle: &Handle) {
        for client in clients {
            if let Auth::Record { collection, record } = client.state().auth
                && collection.id == change.collection
                && record.get("id").and_then(|v| v.as_str()) == Some(change.id.as_str())
            {
                self.refresh_auth(client, handle);
            }
        }
    }

    fn refresh_auth(&self, client: &Client, handle: &Handle) {
        let Auth::Record { collection, record } = client.state().auth else {
            return;
        };
        let id = record
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let current = handle
            .block_on(
                self.records
                    .store
                    .select(Select::by_id(Arc::clone(&collection), id)),
            )
            .ok()
            .and_then(|page| page.rows.into_iter().next());
        let key = |r: &Row| r.get("tokenKey").cloned();
        let auth = match current {
            Some(row) if key(&row) == key(&record) => Auth::Record {
                collection,
                record: Arc::new(row),
            },
            _ => Auth::Guest,
        };
        client.reauthenticate(auth);
    }
}

/// One record change being delivered, with what every subscription's check shares.
#[derive(Clone, Copy)]
struct Happened<'a> {
    c: &'a Arc<Collection>,
    schema: &'a Snapshot,
    /// The record as committed, or as it was before a delete.
    row: &'a Row,
    action: Action,
    /// Related records, read at most once for all subscriptions.
    joins: &'a Fetched<'a>,
    handle: &'a Handle,
}

/// Subscribers who see an event alike: the same requester (see `client::State`) and the
/// same subscription topic.
type Group = (Arc<str>, Arc<str>);

/// Whether `s` listens to record `id` of `c`.
fn targets_record(s: &Subscription, c: &Collection, id: &str) -> bool {
    match &s.target {
        Target::Collection(n) => names(n, c),
        Target::Record(n, record) => record == id && names(n, c),
        Target::Custom => false,
    }
}

/// Whether a topic's collection part `n` names `c` (by id, or by name in any case).
fn names(n: &str, c: &Collection) -> bool {
    n == c.id || n.eq_ignore_ascii_case(&c.name)
}

/// The request a subscription's rule sees: its requester, `GET` in the `realtime`
/// context, and the options' query and headers.
fn request(auth: &Auth, s: &Subscription, ambient: &Ambient) -> RequestInfo {
    let mut req = RequestInfo::for_auth(auth.clone(), "GET");
    req.context = "realtime";
    req.query = s.options.query.clone();
    req.header_overrides = s.options.headers.clone();
    req.now = Some(ambient.clock.now());
    req
}
