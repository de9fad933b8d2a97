//! Related records for evaluating rules in memory, read from the store at most once per
//! event however many subscribers' rules ask for them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Row, Select, Store};
use tokio::runtime::Handle;

use crate::collections::Snapshot;
use crate::query::eval::JoinData;
use crate::records::references::refers_to;

/// The related records one event's rule checks have asked for so far. Reads block the
/// dispatcher thread (never a runtime thread) on the store; a failed read counts as
/// nothing found, so a rule that needs it does not match.
pub(crate) struct Fetched<'a> {
    store: &'a dyn Store,
    schema: &'a Snapshot,
    handle: &'a Handle,
    records: RefCell<HashMap<(String, String), Option<Row>>>,
    referencing: RefCell<HashMap<(String, String, String), Vec<Row>>>,
    all: RefCell<HashMap<String, Vec<Row>>>,
}

impl<'a> Fetched<'a> {
    pub(crate) fn new(store: &'a dyn Store, schema: &'a Snapshot, handle: &'a Handle) -> Self {
        Fetched {
            store,
            schema,
            handle,
            records: RefCell::default(),
            referencing: RefCell::default(),
            all: RefCell::default(),
        }
    }

    fn rows(&self, query: Select) -> Vec<Row> {
        self.handle
            .block_on(self.store.select(query))
            .map(|page| page.rows)
            .unwrap_or_default()
    }

    fn collection(&self, c: &Collection) -> Option<Arc<Collection>> {
        self.schema.get(&c.id).cloned()
    }
}

impl JoinData for Fetched<'_> {
    fn record(&self, collection: &Collection, id: &str) -> Option<Row> {
        let key = (collection.id.clone(), id.to_owned());
        if let Some(found) = self.records.borrow().get(&key) {
            return found.clone();
        }
        let found = self
            .collection(collection)
            .and_then(|c| self.rows(Select::by_id(c, id)).into_iter().next());
        self.records.borrow_mut().insert(key, found.clone());
        found
    }

    fn referencing(&self, collection: &Collection, field: &str, id: &str) -> Vec<Row> {
        let key = (collection.id.clone(), field.to_owned(), id.to_owned());
        if let Some(found) = self.referencing.borrow().get(&key) {
            return found.clone();
        }
        let found = match (self.collection(collection), collection.field(field)) {
            (Some(c), Some(f)) => self.rows(Select::all(Arc::clone(&c)).and(refers_to(f, id))),
            _ => Vec::new(),
        };
        self.referencing.borrow_mut().insert(key, found.clone());
        found
    }

    fn all(&self, collection: &Collection) -> Vec<Row> {
        if let Some(found) = self.all.borrow().get(&collection.id) {
            return found.clone();
        }
        let found = self
            .collection(collection)
            .map(|c| self.rows(Select::all(c)))
            .unwrap_or_default();
        self.all
            .borrow_mut()
            .insert(collection.id.clone(), found.clone());
        found
    }
}
