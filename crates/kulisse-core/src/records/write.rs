//! Creating, updating and deleting records (spec §2.6–§2.8, §2.10): the entry points and
//! the prepared write that travels between the two halves of every write.
//!
//! [`RecordsService::prepare`] (`prepare.rs`) does what needs no database state: the rule's
//! `null`-ness, bcrypt work (which must never run on the writer thread), and for creates
//! the whole would-be record with its field validation ([`Draft`]). [`apply`] (`apply.rs`)
//! runs inside the write transaction and does everything that reads or writes records, so
//! a batch can run many writes in one transaction, each seeing the ones before it; the one
//! writer thread is what creates queue on, so it gets no other work. The rules themselves
//! are in `rules.rs`, what a delete does to references in `references.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::Row;
use serde_json::{Map, Value};

use super::ExpandTree;
use super::apply::{Draft, apply};
use super::files::{self, Staged, Upload};
use super::prepare::HashedPasswords;
use super::rules::Rule;
use super::service::RecordsService;
use crate::Ambient;
use crate::error::{CoreError, Form};
use crate::query::RequestInfo;

/// A requested write.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create from a body.
    Create(Map<String, Value>),
    /// Update `id` with a partial body.
    Update(String, Map<String, Value>),
    /// Update when `body.id` exists, else create (batch `PUT`).
    Upsert(Map<String, Value>),
    /// Delete `id`.
    Delete(String),
}

/// A write checked and prepared outside the transaction.
pub struct PreparedWrite {
    pub(super) collection: Arc<Collection>,
    /// The request with its submitted body; shared with the response side (visibility,
    /// expand) instead of copied.
    pub(super) req: Arc<RequestInfo>,
    /// The rule; create and update rules are compiled inside the transaction, where
    /// `@request.body` is known after modifiers.
    pub(super) rule: Rule,
    pub(super) step: Step,
    /// What the transaction needs from outside it.
    pub(super) inputs: Inputs,
}

/// What a write brings into its transaction: password hashes made beforehand, and the
/// clock and id source that stamp the record.
pub(super) struct Inputs {
    pub(super) passwords: HashedPasswords,
    pub(super) ambient: Ambient,
}

pub(super) enum Step {
    Create {
        draft: Draft,
    },
    Update {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Batch `PUT` on a non-auth collection: update when `id` exists, else create.
    Upsert {
        id: String,
        /// The update rule (the create rule is the write's own).
        update_rule: Rule,
    },
}

impl PreparedWrite {
    /// The collection written to.
    pub fn collection(&self) -> &Arc<Collection> {
        &self.collection
    }

    /// The id of the record written (a new record's, already drawn).
    pub(super) fn record_id(&self) -> &str {
        match &self.step {
            Step::Create { draft } => draft.id(),
            Step::Update { id } | Step::Delete { id } | Step::Upsert { id, .. } => id,
        }
    }
}

impl RecordsService {
    /// `POST /records`, with the request's file parts. 200 with the record; 403 for a
    /// `null` rule; 400 for validation or a failed create rule.
    ///
    /// # Errors
    /// As described, plus 404 for an unknown collection.
    pub async fn create(
        &self,
        req: RequestInfo,
        collection: &str,
        mut body: Map<String, Value>,
        uploads: Vec<Upload>,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let c = self.collection_for_write(collection)?;
        let staged = self
            .stage(&c, &mut body, uploads, None, Form::RecordCreate)
            .await?;
        let prepared = self.prepare_in(req, c, WriteOp::Create(body)).await?;
        let id = prepared.record_id().to_owned();
        self.commit_with_files(prepared, &id, staged, expand).await
    }

    /// `PATCH /records/{id}`, with the request's file parts: the update rule is checked on
    /// the stored record.
    ///
    /// # Errors
    /// 403 for a `null` rule, 404 for a missing/hidden record, 400 for validation.
    pub async fn update(
        &self,
        req: RequestInfo,
        collection: &str,
        id: &str,
        mut body: Map<String, Value>,
        uploads: Vec<Upload>,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let c = self.collection_for_write(collection)?;
        let staged = self
            .stage(&c, &mut body, uploads, Some(id), Form::RecordUpdate)
            .await?;
        let prepared = self
            .prepare_in(req, c, WriteOp::Update(id.to_owned(), body))
            .await?;
        self.commit_with_files(prepared, id, staged, expand).await
    }

    /// `DELETE /records/{id}` with PocketBase's reference handling: cascade, unlink, or
    /// refuse when a required relation still points at the record. Its files (and those
    /// of records deleted with it) go after the commit (`janitor.rs`).
    ///
    /// # Errors
    /// Unknown collection, 403/404 per the rule, 400 for required references.
    pub async fn delete(
        &self,
        req: RequestInfo,
        collection: &str,
        id: &str,
    ) -> Result<(), CoreError> {
        let prepared = self
            .prepare(req, collection, WriteOp::Delete(id.to_owned()))
            .await?;
        self.commit_row(prepared).await.map(|_| ())
    }

    /// Checks and names the uploads of a write to `c` (record `id` for an update, whose
    /// files the body may keep) into `body`.
    pub(super) async fn stage(
        &self,
        c: &Arc<Collection>,
        body: &mut Map<String, Value>,
        uploads: Vec<Upload>,
        id: Option<&str>,
        form: Form,
    ) -> Result<Staged, CoreError> {
        if !files::has_files(c) {
            return Ok(Staged::default());
        }
        let staged = files::stage(c, body, uploads, &*self.ambient.ids, form).await?;
        let before = match id {
            Some(id) => self
                .fetch(c, id, None)
                .await?
                .map(|row| files::names_in(c, &row))
                .unwrap_or_default(),
            None => HashSet::new(),
        };
        files::check_names(c, body, &before, &staged.names(), form)?;
        Ok(staged.with_before(before))
    }

    /// Puts the staged files under record `id`, commits, and then deletes the files the
    /// write dropped; if the write fails, the new files are deleted instead.
    async fn commit_with_files(
        &self,
        prepared: PreparedWrite,
        id: &str,
        staged: Staged,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        // Only a write with new files needs the store before it commits (a misconfigured
        // bucket must not stop the others).
        let blobs = match staged.has_new() {
            true => Some(self.blob_store()?),
            false => None,
        };
        let put = match &blobs {
            Some(blobs) => files::put(blobs, &prepared.collection, id, &staged).await?,
            None => Vec::new(),
        };
        match self.commit_row(prepared).await {
            Ok((c, req, row)) => {
                let dropped = staged.dropped(&c, &row);
                if !dropped.is_empty() {
                    match blobs.map_or_else(|| self.blob_store(), Ok) {
                        Ok(blobs) => files::delete_dropped(&blobs, &c, id, dropped),
                        Err(e) => {
                            tracing::warn!(error = %e, ?dropped, "cannot delete dropped files")
                        }
                    }
                }
                self.answer(&c, &req, row, expand).await
            }
            Err(e) => {
                if let Some(blobs) = &blobs {
                    files::delete_later(blobs, put);
                }
                Err(e)
            }
        }
    }

    /// Runs the write in a transaction: the collection, the request and the stored row.
    async fn commit_row(
        &self,
        prepared: PreparedWrite,
    ) -> Result<(Arc<Collection>, Arc<RequestInfo>, Row), CoreError> {
        let snapshot = self.registry.snapshot();
        let (c, req) = (Arc::clone(&prepared.collection), Arc::clone(&prepared.req));
        let row = self
            .writer
            .transact::<_, CoreError, _>(move |tx| apply(tx, &snapshot, prepared))
            .await?;
        Ok((c, req, row))
    }

    /// The written record as the requester sees it, expanded.
    async fn answer(
        &self,
        c: &Arc<Collection>,
        req: &RequestInfo,
        row: Row,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let mut rows = [super::visible(c, row, &req.auth).into()];
        self.expand(req, c, &mut rows, expand).await?;
        let [row] = rows;
        Ok(row)
    }
}
