//! The transaction wrapper that writes the change set down as the write happens.

use std::sync::Arc;

use kulisse_schema::{Collection, CollectionKind};
use kulisse_store::{Literal, Row, Select, StoreError, StoreTx, ViewColumn};
use serde_json::Value;

use super::{Action, ChangeSet, RecordChange};

/// The most records of a truncated table listed one by one in the change set.
pub const LISTED_TRUNCATE: u64 = 10_000;

/// A [`StoreTx`] that passes every operation on and records what it changed. Services
/// never see the engine's transaction itself, only this, so no write can go unrecorded.
pub struct Recorder<'a> {
    tx: &'a mut dyn StoreTx,
    set: ChangeSet,
    /// Whether to read each changed record into the change set.
    rows: bool,
    /// Whether to read deleted records into it (also for other nodes, which cannot read a
    /// deleted record afterwards: then even without local interest).
    deleted_rows: bool,
}

impl<'a> Recorder<'a> {
    /// Starts recording on `tx`; with `rows`, each changed record itself is recorded too
    /// (one more read per update and delete), with `deleted_rows` at least each deleted
    /// one.
    pub fn new(tx: &'a mut dyn StoreTx, rows: bool, deleted_rows: bool) -> Recorder<'a> {
        Recorder {
            tx,
            set: ChangeSet::default(),
            rows,
            deleted_rows: rows || deleted_rows,
        }
    }

    /// Reads record `id` of `c` inside the transaction, when `wanted`.
    fn read(&mut self, c: &Collection, id: &str, wanted: bool) -> Result<Option<Row>, StoreError> {
        if !wanted {
            return Ok(None);
        }
        Ok(self
            .tx
            .select(&Select::by_id(Arc::new(c.clone()), id))?
            .into_iter()
            .next())
    }

    /// The transaction and what was recorded on it.
    pub fn into_parts(self) -> (&'a mut dyn StoreTx, ChangeSet) {
        (self.tx, self.set)
    }

    fn record(&mut self, c: &Collection, id: &str, action: Action, row: Option<Row>) {
        self.set.records.push(RecordChange {
            collection: c.id.clone(),
            id: id.to_owned(),
            action,
            row,
        });
    }
}

impl StoreTx for Recorder<'_> {
    fn select(&mut self, query: &Select) -> Result<Vec<Row>, StoreError> {
        self.tx.select(query)
    }

    fn insert(&mut self, c: &Collection, row: &Row) -> Result<(), StoreError> {
        self.tx.insert(c, row)?;
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
        let stored = self.rows.then(|| row.clone());
        self.record(c, id, Action::Create, stored);
        Ok(())
    }

    fn append(&mut self, c: &Collection, rows: &[Vec<Literal>]) -> Result<(), StoreError> {
        for values in rows {
            self.insert(c, &kulisse_store::appended_row(c, values)?)?;
        }
        Ok(())
    }

    fn update(&mut self, c: &Collection, id: &str, changes: &Row) -> Result<(), StoreError> {
        self.tx.update(c, id, changes)?;
        let after = self.read(c, id, self.rows)?;
        self.record(c, id, Action::Update, after);
        Ok(())
    }

    fn delete(&mut self, c: &Collection, id: &str) -> Result<(), StoreError> {
        let before = self.read(c, id, self.deleted_rows)?;
        self.tx.delete(c, id)?;
        self.record(c, id, Action::Delete, before);
        Ok(())
    }

    /// Records each deleted record, as PocketBase announces a truncate (a delete event per
    /// record), up to [`LISTED_TRUNCATE`] records; a bigger table is recorded as truncated
    /// as a whole, so a truncate never holds millions of rows in memory.
    fn truncate(&mut self, c: &Collection) -> Result<(), StoreError> {
        let listed = Select {
            limit: Some(LISTED_TRUNCATE + 1),
            ..Select::all(Arc::new(c.clone()))
        };
        let rows = self.tx.select(&listed)?;
        self.tx.truncate(c)?;
        if rows.len() > LISTED_TRUNCATE as usize {
            self.set.truncated.push(c.id.clone());
            return Ok(());
        }
        for row in rows {
            let id = row
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            self.record(c, &id, Action::Delete, Some(row));
        }
        Ok(())
    }

    fn create_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.tx.create_collection(c)?;
        self.set.collections = true;
        Ok(())
    }

    fn alter_collection(&mut self, old: &Collection, new: &Collection) -> Result<(), StoreError> {
        self.tx.alter_collection(old, new)?;
        self.set.collections = true;
        Ok(())
    }

    fn drop_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.tx.drop_collection(c)?;
        self.set.collections = true;
        if c.kind != CollectionKind::View {
            self.set.truncated.push(c.id.clone());
        }
        Ok(())
    }

    fn describe_view(&mut self, query: &str) -> Result<Vec<ViewColumn>, StoreError> {
        self.tx.describe_view(query)
    }

    fn set_param(&mut self, key: &str, value: &Value) -> Result<(), StoreError> {
        self.tx.set_param(key, value)?;
        self.set.params = true;
        Ok(())
    }

    fn optimize(&mut self) -> Result<(), StoreError> {
        self.tx.optimize()
    }

    fn notify(&mut self, channel: &str, payload: &str) -> Result<(), StoreError> {
        self.tx.notify(channel, payload)
    }
}
