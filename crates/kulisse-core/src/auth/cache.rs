//! Auth records by id, so a request with a token needs no database read.
//!
//! A token is verified with its record's `tokenKey`, which changes whenever the record's
//! password or email does. The cache is therefore invalidated by every write to an auth
//! record (locally by the records service, from other nodes through the store's change
//! feed) and emptied on every schema reload, which is what keeps it safe: a revoked token
//! stops working at the next request, as it does without the cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kulisse_store::Row;

/// Entries above this are dropped all at once (simple and bounded).
const MAX_ENTRIES: usize = 50_000;

/// `(collection id, record id)` → stored auth record.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<(String, String), Arc<Row>>>,
    /// Bumped by every invalidation: a record read before an invalidation must not be
    /// cached after it (the read may have seen the old row).
    generation: AtomicU64,
}

impl AuthCache {
    /// The cached record, if any.
    pub fn get(&self, collection: &str, id: &str) -> Option<Arc<Row>> {
        let entries = self.entries.read().ok()?;
        entries
            .get(&(collection.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Call before reading a record from the store; pass the result to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a record read from the store, unless something was invalidated since
    /// `generation` was taken.
    pub fn put(&self, collection: &str, id: &str, record: Arc<Row>, generation: u64) {
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert((collection.to_owned(), id.to_owned()), record);
        }
    }

    /// Forgets one record (it was written or deleted).
    pub fn invalidate(&self, collection: &str, id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove(&(collection.to_owned(), id.to_owned()));
        }
    }

    /// Forgets everything (schema reload, deletes that may cascade).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_older_than_an_invalidation_is_not_cached() {
        let cache = AuthCache::default();
        let generation = cache.generation();
        cache.invalidate("c", "r");
        cache.put("c", "r", Arc::new(Row::new()), generation);
        assert!(cache.get("c", "r").is_none());
        let generation = cache.generation();
        cache.put("c", "r", Arc::new(Row::new()), generation);
        assert!(cache.get("c", "r").is_some());
        cache.invalidate("c", "r");
        assert!(cache.get("c", "r").is_none());
    }
}
