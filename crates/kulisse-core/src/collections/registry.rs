//! The current schema as an immutable snapshot, swapped atomically after each change.
//!
//! Every request reads one `Arc<Snapshot>` without locking across awaits; a schema change
//! builds a new snapshot from the store after its transaction commits, so readers see the
//! old or the new schema, never a mix.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kulisse_schema::Collection;
use kulisse_store::{Store, StoreError};

use crate::auth::AuthCache;
use crate::changes::Writer;
use crate::error::CoreError;

/// One consistent view of all collections.
#[derive(Debug, Default)]
pub struct Snapshot {
    list: Vec<Arc<Collection>>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Snapshot {
    /// This snapshot with `c` in place of the collection of the same id (or added).
    pub(crate) fn with(&self, c: &Collection) -> Snapshot {
        let mut list: Vec<Collection> = self
            .list
            .iter()
            .map(|o| (**o).clone())
            .filter(|o| o.id != c.id)
            .collect();
        list.push(c.clone());
        Snapshot::new(list)
    }

    /// This snapshot without the collection `id`.
    pub(crate) fn without(&self, id: &str) -> Snapshot {
        Snapshot::new(
            self.list
                .iter()
                .filter(|o| o.id != id)
                .map(|o| (**o).clone())
                .collect(),
        )
    }

    pub(crate) fn new(list: Vec<Collection>) -> Self {
        let list: Vec<Arc<Collection>> = list.into_iter().map(Arc::new).collect();
        let by_id = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let by_name = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.to_ascii_lowercase(), i))
            .collect();
        Self {
            list,
            by_id,
            by_name,
        }
    }

    /// Looks a collection up by id or (case-insensitive) name, as every route allows.
    pub fn get(&self, id_or_name: &str) -> Option<&Arc<Collection>> {
        // Names are matched case-insensitively; most arrive lower-case already, and then
        // need no lower-cased copy.
        let by_name = || {
            if id_or_name.bytes().any(|b| b.is_ascii_uppercase()) {
                self.by_name.get(&id_or_name.to_ascii_lowercase())
            } else {
                self.by_name.get(id_or_name)
            }
        };
        self.by_id
            .get(id_or_name)
            .or_else(by_name)
            .map(|&i| &self.list[i])
    }

    /// All collections in creation order.
    pub fn all(&self) -> &[Arc<Collection>] {
        &self.list
    }
}

/// Shared handle to the current snapshot.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    current: Arc<RwLock<Arc<Snapshot>>>,
    auth_cache: Arc<AuthCache>,
    /// Serialises reloads. Two overlapping reloads (a local change and another node's
    /// announcement) could otherwise finish out of order and install the older schema
    /// last.
    reloading: Arc<tokio::sync::Mutex<()>>,
}

impl Registry {
    /// Loads the schema, first creating the system collections the store lacks
    /// (`system.rs`).
    ///
    /// # Errors
    /// When the store cannot be read or written.
    pub async fn load(store: Arc<dyn Store>, writer: &Writer) -> Result<Registry, CoreError> {
        let registry = Registry {
            store: Arc::clone(&store),
            current: Arc::new(RwLock::new(Arc::default())),
            auth_cache: Arc::default(),
            reloading: Arc::default(),
        };
        super::system::bring_up_to_date(&*store, writer).await?;
        registry.reload().await?;
        Ok(registry)
    }

    /// Rebuilds the snapshot from the store (after a schema change, or when another node
    /// announced one).
    ///
    /// # Errors
    /// When the store cannot be read or holds an unreadable definition.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let _reloading = self.reloading.lock().await;
        let docs = self.store.load_collections().await?;
        let mut list = Vec::with_capacity(docs.len());
        for doc in &docs {
            match Collection::from_stored(doc) {
                Ok(c) => list.push(c),
                Err(e) => {
                    return Err(CoreError::Store(StoreError::Other(format!(
                        "unreadable collection definition: {e:?}"
                    ))));
                }
            }
        }
        let snapshot = Arc::new(Snapshot::new(list));
        if let Ok(mut cur) = self.current.write() {
            *cur = snapshot;
        }
        self.auth_cache.clear();
        Ok(())
    }

    /// Auth records cached for token checks (emptied on every reload).
    pub fn auth_cache(&self) -> &AuthCache {
        &self.auth_cache
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default()
    }

    /// Shortcut: one collection by id or name.
    pub fn get(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.snapshot().get(id_or_name).cloned()
    }
}
