//! The auth record cache's subscription to committed changes.

use crate::changes::{Action, Event, Subscriber};
use crate::collections::Registry;

/// Keeps the auth record cache true: a changed or deleted auth record is forgotten, with
/// the tokens verified against it, before the write that changed it is answered; a
/// truncated auth collection, a schema change or missed events empty the cache.
pub(crate) struct ForgetChangedRecords {
    registry: Registry,
}

impl ForgetChangedRecords {
    pub(crate) fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

impl Subscriber for ForgetChangedRecords {
    fn on_event(&self, event: &Event) {
        let cache = self.registry.auth_cache();
        let Event::Committed(set) = event else {
            cache.clear();
            return;
        };
        let is_auth = |id: &str| self.registry.get(id).is_some_and(|c| c.is_auth());
        if set.collections || set.truncated.iter().any(|c| is_auth(c)) {
            cache.clear();
            return;
        }
        // A created record cannot be cached yet (nothing could read it before it existed),
        // so creates, the most common change, cost no lookup here.
        let changed = set.records.iter().filter(|r| r.action != Action::Create);
        for change in changed.filter(|r| is_auth(&r.collection)) {
            cache.invalidate(&change.collection, &change.id);
        }
    }
}
