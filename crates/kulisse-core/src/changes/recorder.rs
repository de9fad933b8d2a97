//! The transaction wrapper that writes the change set down as the write happens.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Row, Select, StoreError, StoreTx, ViewColumn};
use serde_json::Value;

use super::{Action, ChangeSet, RecordChange};

/// A [`StoreTx`] that passes every operation on and records what it changed. Services
/// never see the engine's transaction itself, only this, so no write can go unrecorded.
pub struct Recorder<'a> {
    tx: &'a mut dyn StoreTx,
    set: ChangeSet,
}

impl<'a> Recorder<'a> {
    /// Starts recording on `tx`.
    pub fn new(tx: &'a mut dyn StoreTx) -> Recorder<'a> {
        Recorder {
            tx,
            set: ChangeSet::default(),
        }
    }

    /// The transaction and what was recorded on it.
    pub fn into_parts(self) -> (&'a mut dyn StoreTx, ChangeSet) {
        (self.tx, self.set)
    }

    fn record(&mut self, c: &Collection, id: &str, action: Action, before: Option<Row>) {
        self.set.records.push(RecordChange {
            collection: c.id.clone(),
            id: id.to_owned(),
            action,
            before,
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
        self.record(c, id, Action::Create, None);
        Ok(())
    }

    fn update(&mut self, c: &Collection, id: &str, changes: &Row) -> Result<(), StoreError> {
        self.tx.update(c, id, changes)?;
        self.record(c, id, Action::Update, None);
        Ok(())
    }

    fn delete(&mut self, c: &Collection, id: &str) -> Result<(), StoreError> {
        let before = self
            .tx
            .select(&Select::by_id(Arc::new(c.clone()), id))?
            .into_iter()
            .next();
        self.tx.delete(c, id)?;
        self.record(c, id, Action::Delete, before);
        Ok(())
    }

    fn truncate(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.tx.truncate(c)?;
        self.set.truncated.push(c.id.clone());
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

    fn notify(&mut self, channel: &str, payload: &str) -> Result<(), StoreError> {
        self.tx.notify(channel, payload)
    }
}
