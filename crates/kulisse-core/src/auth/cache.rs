//! Auth records by id, so a request with a token needs no database read.
//!
//! A token is verified with its record's `tokenKey`, which changes whenever the record's
//! password or email does. The cache is therefore invalidated by every write to an auth
//! record (locally by the records service, from other nodes through the store's change
//! feed) and emptied on every schema reload, which is what keeps it safe: a revoked token
//! stops working at the next request, as it does without the cache.
//!
//! Tokens that verified against a cached record are remembered too: checking the signature
//! (HMAC-SHA256) and decoding the claims was most of the cost of a request with a token.
//! A remembered token only counts while its record's cache entry is the very one it was
//! verified against, so any invalidation of the record forgets its tokens as well.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use kulisse_store::Row;

use super::tokens::{Claims, TokenKind};

/// Entries above this are dropped all at once (simple and bounded).
const MAX_ENTRIES: usize = 50_000;

/// A token whose signature checked out against `record`.
struct Verified {
    kind: TokenKind,
    collection: String,
    id: String,
    exp: i64,
    /// The cache entry it was verified against (weak: a replaced entry may go).
    record: Weak<Row>,
}

/// `(collection id, record id)` → stored auth record.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<(String, String), Arc<Row>>>,
    /// Token → what verifying it established.
    tokens: RwLock<HashMap<String, Verified>>,
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
        if let Ok(mut tokens) = self.tokens.write() {
            tokens.clear();
        }
    }

    /// The collection id and record of a token verified before, if it has not expired at
    /// `now` (unix seconds) and its record's cache entry is still the one it verified
    /// against.
    pub(crate) fn verified(
        &self,
        token: &str,
        kind: TokenKind,
        now: i64,
    ) -> Option<(String, Arc<Row>)> {
        let (collection, id, record) = {
            let tokens = self.tokens.read().ok()?;
            let v = tokens
                .get(token)
                .filter(|v| v.kind == kind && v.exp >= now)?;
            (v.collection.clone(), v.id.clone(), v.record.upgrade()?)
        };
        let current = self.get(&collection, &id)?;
        Arc::ptr_eq(&current, &record).then_some((collection, current))
    }

    /// Remembers that `token` verified against `record` (as cached now).
    pub(crate) fn remember_verified(
        &self,
        token: &str,
        kind: TokenKind,
        claims: &Claims,
        record: &Arc<Row>,
    ) {
        if let Ok(mut tokens) = self.tokens.write() {
            if tokens.len() >= MAX_ENTRIES {
                tokens.clear();
            }
            tokens.insert(
                token.to_owned(),
                Verified {
                    kind,
                    collection: claims.collection_id.clone(),
                    id: claims.id.clone(),
                    exp: claims.exp,
                    record: Arc::downgrade(record),
                },
            );
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

    #[test]
    fn a_verified_token_counts_only_while_its_record_entry_stands() {
        let cache = AuthCache::default();
        let record = Arc::new(Row::new());
        cache.put("c", "r", Arc::clone(&record), cache.generation());
        let claims = Claims::new(TokenKind::Auth, "c", "r", 100, 0);
        cache.remember_verified("t", TokenKind::Auth, &claims, &record);
        assert!(cache.verified("t", TokenKind::Auth, 100).is_some());
        assert!(
            cache.verified("t", TokenKind::Auth, 101).is_none(),
            "expired"
        );
        assert!(
            cache.verified("t", TokenKind::File, 100).is_none(),
            "other kind"
        );
        assert!(cache.verified("u", TokenKind::Auth, 100).is_none());
        cache.invalidate("c", "r");
        cache.put("c", "r", Arc::new(Row::new()), cache.generation());
        assert!(
            cache.verified("t", TokenKind::Auth, 100).is_none(),
            "the record was written since"
        );
    }
}
