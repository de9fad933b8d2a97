//! `/api/batch` (spec §2.9): several writes in one transaction, each with its own rules.

use std::time::{Duration, Instant};

use kulisse_store::{Row, StoreError};

use serde_json::Value;

use super::apply::apply;
use super::error::{BatchError, RecordsError};
use super::files::{Staged, Upload};
use super::service::RecordsService;
use super::write::{PreparedWrite, WriteOp};
use crate::error::{CoreError, Form};
use crate::query::RequestInfo;
use crate::settings::BatchLimits;

/// One sub-request: its collection, write and files.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// Collection id or name from the sub-request URL.
    pub collection: String,
    /// The write.
    pub op: WriteOp,
    /// Query parameters of the sub-request URL (its `@request.query`).
    pub query: std::collections::BTreeMap<String, String>,
    /// Sub-request headers, merged over the outer request's (snake_case names).
    pub headers: std::collections::BTreeMap<String, String>,
    /// Its file parts (`requests.N.field`, keyed by the field part).
    pub uploads: Vec<Upload>,
}

/// Which sub-request failed, and why; the whole batch was rolled back.
#[derive(Debug)]
pub struct BatchFailure {
    /// Index of the failed sub-request.
    pub index: usize,
    /// Its error.
    pub error: CoreError,
}

/// Result of a sub-request: the stored row (`None` for deletes) and its collection.
pub type BatchOutcome = (Option<Row>, std::sync::Arc<kulisse_schema::Collection>);

impl RecordsService {
    /// Runs every item in one transaction, in order; any failure rolls all back. The time
    /// budget is checked between sub-requests inside the transaction, so an expired batch
    /// never commits.
    ///
    /// # Errors
    /// The first failing sub-request, with its index.
    pub async fn batch(
        &self,
        req: &RequestInfo,
        items: Vec<BatchItem>,
        budget: Duration,
    ) -> Result<Vec<BatchOutcome>, BatchFailure> {
        let started = Instant::now();
        let mut req = req.clone();
        req.context = "batch";
        let mut prepared: Vec<(PreparedWrite, bool)> = Vec::with_capacity(items.len());
        let mut staged: Vec<Staged> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let fail = |error| BatchFailure {
                index,
                error: unknown_collection(error),
            };
            let is_delete = matches!(item.op, WriteOp::Delete(_));
            let mut sub = req.clone();
            sub.query = item.query;
            sub.header_overrides.extend(item.headers);
            if is_delete {
                let p = self
                    .prepare(sub, &item.collection, item.op)
                    .await
                    .map_err(fail)?;
                prepared.push((p, true));
                staged.push(Staged::default());
                continue;
            }
            let c = self.collection_for_write(&item.collection).map_err(fail)?;
            let mut op = item.op;
            let files = match &mut op {
                WriteOp::Create(body) => {
                    self.stage(&c, body, item.uploads, None, Form::RecordCreate)
                        .await
                }
                WriteOp::Upsert(body) => {
                    let id = body.get("id").and_then(Value::as_str).map(str::to_owned);
                    let form = match id {
                        Some(_) => Form::RecordUpdate,
                        None => Form::RecordCreate,
                    };
                    self.stage(&c, body, item.uploads, id.as_deref(), form)
                        .await
                }
                WriteOp::Update(id, body) => {
                    self.stage(
                        &c,
                        body,
                        item.uploads,
                        Some(id.as_str()),
                        Form::RecordUpdate,
                    )
                    .await
                }
                WriteOp::Delete(_) => Ok(Staged::default()),
            }
            .map_err(fail)?;
            let p = self.prepare_in(sub, c, op).await.map_err(fail)?;
            prepared.push((p, false));
            staged.push(files);
        }
        let put = self.put_batch_files(&prepared, &staged).await?;
        let snapshot = self.registry.snapshot();
        let auth = req.auth.clone();
        let committed = self
            .writer
            .transact::<_, BatchFailure, _>(move |tx| {
                let mut out = Vec::with_capacity(prepared.len());
                let mut dropped = Vec::new();
                for (index, ((p, is_delete), files)) in prepared.into_iter().zip(staged).enumerate()
                {
                    if started.elapsed() > budget {
                        return Err(BatchFailure {
                            index,
                            error: BatchError::Timeout.into(),
                        });
                    }
                    let c = std::sync::Arc::clone(p.collection());
                    let id = p.record_id().to_owned();
                    let row = apply(tx, &snapshot, p).map_err(|error| BatchFailure {
                        index,
                        error: unknown_collection(error),
                    })?;
                    if !is_delete {
                        dropped.push((std::sync::Arc::clone(&c), id, files.dropped(&c, &row)));
                    }
                    out.push(((!is_delete).then(|| super::visible(&c, row, &auth)), c));
                }
                Ok((out, dropped))
            })
            .await;
        match committed {
            Ok((out, dropped)) => {
                for (c, id, names) in dropped {
                    if names.is_empty() {
                        continue;
                    }
                    match self.blob_store() {
                        Ok(blobs) => super::files::delete_dropped(&blobs, &c, &id, names),
                        Err(e) => tracing::warn!(error = %e, ?names, "cannot delete dropped files"),
                    }
                }
                Ok(out)
            }
            Err(e) => {
                if let Some((blobs, keys)) = put {
                    super::files::delete_later(&blobs, keys);
                }
                Err(e)
            }
        }
    }

    /// Puts the new files of every sub-request under its record before the transaction;
    /// when one fails, those already put are deleted again. Returns the store and the
    /// keys put (`None` when no sub-request uploads).
    async fn put_batch_files(
        &self,
        prepared: &[(PreparedWrite, bool)],
        staged: &[Staged],
    ) -> Result<Option<(super::files::Blobs, Vec<String>)>, BatchFailure> {
        let Some(first) = staged.iter().position(Staged::has_new) else {
            return Ok(None);
        };
        let blobs = self.blob_store().map_err(|error| BatchFailure {
            index: first,
            error,
        })?;
        let mut put = Vec::new();
        for (index, ((p, _), files)) in prepared.iter().zip(staged).enumerate() {
            if !files.has_new() {
                continue;
            }
            match super::files::put(&blobs, p.collection(), p.record_id(), files).await {
                Ok(keys) => put.extend(keys),
                Err(error) => {
                    super::files::delete_later(&blobs, put);
                    return Err(BatchFailure { index, error });
                }
            }
        }
        Ok(Some((blobs, put)))
    }
}

impl From<StoreError> for BatchFailure {
    fn from(e: StoreError) -> Self {
        BatchFailure {
            index: 0,
            error: e.into(),
        }
    }
}

/// Whether a batch of `requests` sub-requests may run at all under `limits`.
///
/// # Errors
/// When batches are off, or there are no or too many requests.
pub fn admit_batch(limits: &BatchLimits, requests: usize) -> Result<(), BatchError> {
    if !limits.enabled {
        Err(BatchError::Disabled)
    } else if requests == 0 {
        Err(BatchError::NoRequests)
    } else if requests > limits.max_requests {
        Err(BatchError::TooManyRequests {
            max: limits.max_requests,
        })
    } else {
        Ok(())
    }
}

/// PB compat: inside a batch every write names a missing collection like a read does.
fn unknown_collection(e: CoreError) -> CoreError {
    match e {
        CoreError::Records(RecordsError::UnknownCollectionForWrite) => CoreError::UnknownCollection,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_refused_when_off_empty_or_over_the_limit_in_that_order() {
        let limits = |enabled| BatchLimits {
            enabled,
            max_requests: 2,
            timeout_secs: 3,
        };
        assert_eq!(admit_batch(&limits(false), 9), Err(BatchError::Disabled));
        assert_eq!(admit_batch(&limits(true), 0), Err(BatchError::NoRequests));
        assert_eq!(
            admit_batch(&limits(true), 3),
            Err(BatchError::TooManyRequests { max: 2 })
        );
        assert_eq!(admit_batch(&limits(true), 2), Ok(()));
    }
}
