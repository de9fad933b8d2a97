//! Deleted records take their files with them: after COMMIT, through the change event, so
//! a cascade, a batch or a truncate deletes the files of every record it deleted, and a
//! rolled-back delete deletes none.

use tokio::runtime::Handle;

use super::{FileStorage, record_prefix};
use crate::changes::{Action, Event, Subscriber};
use crate::collections::Registry;

/// The bus subscriber that deletes deleted records' files.
pub struct Janitor {
    storage: FileStorage,
    registry: Registry,
    /// The runtime the deletions run on (the bus calls back on the writer's thread, which
    /// must not wait for them).
    runtime: Handle,
}

impl Janitor {
    /// A janitor for `storage`; must be made on the runtime.
    pub fn new(storage: FileStorage, registry: Registry) -> Janitor {
        Janitor {
            storage,
            registry,
            runtime: Handle::current(),
        }
    }
}

impl Subscriber for Janitor {
    fn on_event(&self, event: &Event) {
        let Event::Committed(set) = event else {
            return;
        };
        let schema = self.registry.snapshot();
        let mut prefixes: Vec<String> = set
            .records
            .iter()
            .filter(|c| c.action == Action::Delete)
            .filter(|c| {
                schema
                    .get(&c.collection)
                    .is_some_and(|c| crate::records::has_files(c))
            })
            .map(|c| record_prefix(&c.collection, &c.id))
            .collect();
        // A truncate too big to list its records, or a dropped collection: its whole
        // directory.
        prefixes.extend(set.truncated.iter().map(|c| format!("{c}/")));
        if prefixes.is_empty() {
            return;
        }
        let blobs = match self.storage.current() {
            Ok(blobs) => blobs,
            Err(e) => {
                tracing::warn!(error = %e, ?prefixes, "cannot delete deleted records' files");
                return;
            }
        };
        self.runtime.spawn(async move {
            for prefix in prefixes {
                if let Err(e) = blobs.delete_prefix(&prefix).await {
                    tracing::warn!(error = %e, %prefix, "cannot delete a deleted record's files");
                }
            }
        });
    }
}
