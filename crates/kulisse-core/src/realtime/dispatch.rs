//! The dispatcher: one thread that takes committed changes in order and delivers each to
//! the subscriptions whose rules and filters the record passes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use kulisse_schema::{Collection, CollectionKind};
use kulisse_store::{Row, Select};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::client::{Client, State};
use super::joins::Fetched;
use super::service::{Inner, Message, RecordEvent};
use super::{Subscription, Target};
use crate::Ambient;
use crate::auth::Auth;
use crate::changes::{Action, ChangeSet, Event, RecordChange};
use crate::collections::{Registry, Snapshot};
use crate::query::eval::matches_with;
use crate::query::{RequestInfo, Resolver, compile_filter};
use crate::records::rules::{Action as RuleAction, compile_rule};
use crate::records::{ExpandTree, RecordsService, visible};

/// Delivers committed changes to the connected clients (see the module doc).
pub(crate) struct Dispatcher {
    pub(crate) records: RecordsService,
    pub(crate) registry: Registry,
    pub(crate) ambient: Ambient,
    pub(crate) clients: Weak<Inner>,
    /// Set by the bus side when events were dropped.
    pub(crate) lagged: Arc<AtomicBool>,
}

impl Dispatcher {
    /// Runs on its own thread until the service is gone: record reads and rule checks
    /// block it, never a runtime worker or the writer.
    pub(crate) fn spawn(self, mut events: mpsc::Receiver<(u64, Event)>) {
        let handle = Handle::current();
        let spawned = std::thread::Builder::new()
            .name("realtime".into())
            .spawn(move || {
                while let Some((number, event)) = events.blocking_recv() {
                    let Some(inner) = self.clients.upgrade() else {
                        return;
                    };
                    if self.lagged.swap(false, Ordering::AcqRel) {
                        self.missed(&inner, &handle);
                    }
                    match event {
                        Event::Committed(set) => self.deliver(&inner, number, &set, &handle),
                        Event::Missed => self.missed(&inner, &handle),
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

    /// Changes may have been lost: every bound requester is read again, and every client
    /// is told, so none misses events silently.
    fn missed(&self, inner: &Inner, handle: &Handle) {
        for client in Self::clients(inner) {
            self.refresh_auth(&client, handle);
            if !client.send(Message::Resync) {
                Self::disconnect(inner, &client);
            }
        }
    }

    /// Forgets a client that cannot keep up: its stream ends, so it can never hold up the
    /// others or the writers (the SDKs reconnect).
    fn disconnect(inner: &Inner, client: &Client) {
        if let Ok(mut all) = inner.clients.write() {
            all.remove(&client.id);
        }
    }

    /// Delivers change set `number` (in publish order) to the subscriptions set before it
    /// was published.
    fn deliver(&self, inner: &Inner, number: u64, set: &ChangeSet, handle: &Handle) {
        let clients = Self::clients(inner);
        if clients.is_empty() {
            return;
        }
        let schema = self.registry.snapshot();
        // A table too big to list its deleted records: its subscribers start over.
        for c in set.truncated.iter().filter_map(|id| schema.get(id)) {
            for client in &clients {
                let listens = client.state().subscriptions.iter().any(|s| {
                    matches!(&s.target, Target::Collection(n) | Target::Record(n, _) if names(n, c))
                });
                if listens && !client.send(Message::Resync) {
                    Self::disconnect(inner, client);
                }
            }
        }
        // Requesters first: a user deleted together with records (an unlink, a cascade)
        // no longer sees those changes as themselves.
        for change in set.records.iter().filter(|c| c.action != Action::Create) {
            self.follow_auth_change(&clients, change, handle);
        }
        for change in &set.records {
            let Some(c) = schema.get(&change.collection).cloned() else {
                continue;
            };
            if c.kind == CollectionKind::View {
                continue;
            }
            let mut matching: Vec<(&Arc<Client>, State, Arc<Subscription>)> = Vec::new();
            for client in &clients {
                let state = client.state();
                for s in state
                    .subscriptions
                    .iter()
                    .filter(|s| s.since < number && targets(s, &c, &change.id))
                {
                    matching.push((client, state.clone(), Arc::clone(s)));
                }
            }
            if matching.is_empty() {
                continue;
            }
            let Some(row) = self.record(&c, change, handle) else {
                continue;
            };
            let joins = Fetched::new(&*self.records.store, &schema, handle);
            let event = Happened {
                c: &c,
                schema: &schema,
                row: &row,
                action: change.action,
                joins: &joins,
                handle,
            };
            // Subscribers with the same requester and subscription see the same thing:
            // the rule is checked and the message built once per such group.
            let mut built: HashMap<Group, Option<Arc<RecordEvent>>> = HashMap::new();
            for (client, state, subscription) in matching {
                let group = (state.requester, Arc::clone(&subscription.topic));
                let message = built
                    .entry(group)
                    .or_insert_with(|| {
                        self.message(&event, &state.auth, &subscription)
                            .map(Arc::new)
                    })
                    .clone();
                if let Some(message) = message
                    && !client.send(Message::Record(message))
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
fn targets(s: &Subscription, c: &Collection, id: &str) -> bool {
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
