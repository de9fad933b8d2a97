//! Deleting entries older than `logs.maxDays` (PocketBase's `__pbLogsCleanup__`, a scheduled
//! job every six hours: see [`crate::crons`]). Deleting what another node deleted is
//! harmless.

use std::sync::Arc;

use jiff::SignedDuration;
use kulisse_store::{CmpOp, Cond, Literal, Select, StoreError, Term};
use serde_json::Value;

use super::service::Inner;

/// Entries deleted per transaction (the writer goes on between them).
const CHUNK: u64 = 5_000;

/// Deletes the entries older than `logs.maxDays` (all of them when it is 0, logging off);
/// how many.
pub(super) async fn clean(inner: &Arc<Inner>) -> Result<u64, StoreError> {
    let days = inner.settings.snapshot().logs.max_days.max(0);
    let cutoff = inner.ambient.clock.now() - SignedDuration::from_hours(24 * days);
    let old = Cond::Compare {
        left: Term::Column("created".into()),
        op: CmpOp::Lt,
        right: Term::Value(Literal::Text(kulisse_schema::datetime::format(cutoff))),
    };
    let mut deleted = 0;
    loop {
        let q = Select {
            limit: Some(CHUNK),
            ..Select::all(Arc::clone(&inner.collection))
        }
        .and(old.clone());
        let ids: Vec<String> = inner
            .store
            .select(q)
            .await?
            .rows
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let n = ids.len() as u64;
        if n == 0 {
            return Ok(deleted);
        }
        let c = Arc::clone(&inner.collection);
        inner
            .store
            .write(Box::new(move |tx| {
                for id in &ids {
                    match tx.delete(&c, id) {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(None)
            }))
            .await?;
        deleted += n;
        if n < CHUNK {
            return Ok(deleted);
        }
    }
}
