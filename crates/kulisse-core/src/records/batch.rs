//! `/api/batch` (spec §2.9): several writes in one transaction, each with its own rules.

use std::time::{Duration, Instant};

use kulisse_store::{Row, StoreError};

use super::apply::apply;
use super::error::{BatchError, RecordsError};
use super::service::RecordsService;
use super::write::{PreparedWrite, WriteOp};
use crate::error::CoreError;
use crate::query::RequestInfo;
use crate::settings::BatchLimits;

/// One sub-request: its collection and write.
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
        for (index, item) in items.into_iter().enumerate() {
            let is_delete = matches!(item.op, WriteOp::Delete(_));
            let mut sub = req.clone();
            sub.query = item.query;
            sub.header_overrides.extend(item.headers);
            let p = self
                .prepare(sub, &item.collection, item.op)
                .await
                .map_err(|error| BatchFailure {
                    index,
                    error: unknown_collection(error),
                })?;
            prepared.push((p, is_delete));
        }
        let snapshot = self.registry.snapshot();
        let auth = req.auth.clone();
        self.writer
            .transact::<_, BatchFailure, _>(move |tx| {
                let mut out = Vec::with_capacity(prepared.len());
                for (index, (p, is_delete)) in prepared.into_iter().enumerate() {
                    if started.elapsed() > budget {
                        return Err(BatchFailure {
                            index,
                            error: BatchError::Timeout.into(),
                        });
                    }
                    let c = std::sync::Arc::clone(p.collection());
                    let row = apply(tx, &snapshot, p).map_err(|error| BatchFailure {
                        index,
                        error: unknown_collection(error),
                    })?;
                    out.push(((!is_delete).then(|| super::visible(&c, row, &auth)), c));
                }
                Ok(out)
            })
            .await
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
