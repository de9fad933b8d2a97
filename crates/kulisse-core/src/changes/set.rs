//! The change set of one transaction.

use kulisse_store::Row;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Inserted.
    Create,
    /// Some of its fields changed (by the request, or by an unlink when a record it
    /// pointed to was deleted).
    Update,
    /// Deleted (by the request, or by a cascade).
    Delete,
}

/// One record a transaction touched.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    /// The collection's id.
    pub collection: String,
    /// The record's id.
    pub id: String,
    /// What happened.
    pub action: Action,
    /// A deleted record as it was, read inside the deleting transaction: it cannot be
    /// fetched afterwards, and realtime must tell subscribers what was deleted. `None` for
    /// creates and updates (the committed record is fetched by id), and for changes heard
    /// from another node (the feed carries ids only).
    pub before: Option<Row>,
}

/// Everything one committed transaction changed, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Records created, updated and deleted.
    pub records: Vec<RecordChange>,
    /// Ids of collections emptied by a truncate (their records are not listed one by one).
    pub truncated: Vec<String>,
    /// Collection definitions changed (created, altered or deleted).
    pub collections: bool,
    /// The parameter table changed (settings, secrets).
    pub params: bool,
}

impl ChangeSet {
    /// Whether the transaction changed nothing (a read-only write job, a refused write).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.truncated.is_empty() && !self.collections && !self.params
    }
}
