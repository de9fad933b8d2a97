//! The request log's table, `_logs`, as a collection: it lives in a store of its own (the
//! data dir's `logs.db` on SQLite, its own schema on PostgreSQL), never in the app's
//! registry, and is a collection only so that the log API filters and sorts it with the
//! records' filter language and the engines' renderers (PocketBase's fields: `id`,
//! `created`, `level`, `message`, `data.*`).

use super::{Collection, CollectionKind};
use crate::field::{Field, FieldKind};

/// The log table's name (PocketBase's, in its `auxiliary.db`).
pub const LOGS: &str = "_logs";

/// The `_logs` collection.
pub fn logs() -> Collection {
    let mut c = Collection::new(LOGS, CollectionKind::Base);
    c.id = "_kulisse_logs".into();
    c.system = true;
    c.fields.push(
        Field::new(
            "level",
            FieldKind::Number {
                min: None,
                max: None,
                only_int: true,
            },
        )
        .system(),
    );
    c.fields.push(
        Field::new(
            "message",
            FieldKind::Text {
                min: 0,
                max: 0,
                pattern: String::new(),
                autogenerate_pattern: String::new(),
                primary_key: false,
            },
        )
        .system(),
    );
    c.fields
        .push(Field::new("data", FieldKind::Json { max_size: 0 }).system());
    c.fields.push(
        Field::new(
            "created",
            FieldKind::Autodate {
                on_create: true,
                on_update: false,
            },
        )
        .system(),
    );
    // Retention deletes and the sorts go by time. No more: each index is paid for by
    // every request's entry.
    c.indexes = vec!["CREATE INDEX `idx_logs_created` ON `_logs` (`created`)".into()];
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_collection_is_valid_and_indexed_by_time() {
        let c = logs();
        assert!(c.validate().is_empty(), "{:?}", c.validate().to_json());
        assert!(c.index_defs().iter().any(|d| d.name == "idx_logs_created"));
        let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "level", "message", "data", "created"]);
    }
}
