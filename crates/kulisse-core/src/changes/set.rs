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
    /// The record as the transaction left it (creates and updates) or as it was (deletes),
    /// read inside the transaction when a consumer wants rows ([`super::EventBus::want_rows`]:
    /// realtime with clients connected). A deleted record cannot be read afterwards, and a
    /// record read after the commit may already have changed again. `None` when nobody
    /// wanted rows, and for changes heard from another node (the feed carries ids only).
    pub row: Option<Row>,
}

/// Everything one committed transaction changed, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Records created, updated and deleted.
    pub records: Vec<RecordChange>,
    /// Ids of collections emptied by a truncate of more records than the change set lists
    /// one by one ([`super::recorder::LISTED_TRUNCATE`]; smaller truncates are listed as
    /// deletes), or dropped with their table: whatever a consumer derived from their
    /// records (their files too) must be dropped.
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
