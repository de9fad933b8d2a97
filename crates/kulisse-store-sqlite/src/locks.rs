//! [`Store::try_lock`](kulisse_store::Store::try_lock) on SQLite: one process serves a data
//! dir, so a lock is a name in this store's set, removed when its guard drops.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use kulisse_store::NamedLock;

/// The names locked now.
#[derive(Default)]
pub(crate) struct Locks(Arc<Mutex<HashSet<String>>>);

impl Locks {
    /// Locks `name`, unless it is locked already.
    pub(crate) fn try_lock(&self, name: &str) -> Option<NamedLock> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(name.to_owned()).then(|| {
            NamedLock::new(Release {
                locks: Arc::clone(&self.0),
                name: name.to_owned(),
            })
        })
    }
}

struct Release {
    locks: Arc<Mutex<HashSet<String>>>,
    name: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        let mut held = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_once_until_its_guard_drops() {
        let locks = Locks::default();
        let first = locks.try_lock("job");
        assert!(first.is_some());
        assert!(locks.try_lock("job").is_none());
        assert!(locks.try_lock("other").is_some());
        drop(first);
        assert!(locks.try_lock("job").is_some());
    }
}
