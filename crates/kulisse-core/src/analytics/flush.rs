//! Writing the rollup into `_analytics`: each row added to the stored row of the same
//! dimensions (the same id on every node), in one transaction of the log's store.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Row, Select, Store, StoreError};
use serde_json::{Value, json};

use super::rollup::{Dims, Sums};

/// Adds `rows` to the stored sums.
pub(super) async fn write(
    store: &Arc<dyn Store>,
    collection: &Arc<Collection>,
    rows: Vec<(Dims, Sums)>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = Arc::new(rows);
    // Two nodes adding a row new to both: one insert fails as a duplicate, and that
    // node's transaction runs again, finding the row.
    let mut tries = 0;
    loop {
        let (c, batch) = (Arc::clone(collection), Arc::clone(&rows));
        let written = store
            .write(Box::new(move |tx| {
                for (dims, sums) in batch.iter() {
                    let id = dims.id();
                    let q = Select {
                        for_update: true,
                        ..Select::by_id(Arc::clone(&c), &id)
                    };
                    match tx.select(&q)?.into_iter().next() {
                        Some(stored) => tx.update(&c, &id, &added(&stored, sums))?,
                        None => tx.insert(&c, &new_row(id, dims, sums))?,
                    }
                }
                Ok(None)
            }))
            .await;
        match written {
            Err(StoreError::Unique(_)) if tries == 0 => tries += 1,
            other => return other,
        }
    }
}

/// The stored sums with `sums` added.
fn added(stored: &Row, sums: &Sums) -> Row {
    let mut total = super::read::sums(stored);
    total.add(sums);
    sums_row(&total)
}

fn sums_row(sums: &Sums) -> Row {
    let row = json!({
        "count": sums.count,
        "clientErrors": sums.client_errors,
        "serverErrors": sums.server_errors,
        "timeSum": sums.time_sum,
        "timeMax": sums.time_max,
    });
    match row {
        Value::Object(map) => map,
        _ => Row::new(),
    }
}

fn new_row(id: String, dims: &Dims, sums: &Sums) -> Row {
    let mut row = sums_row(sums);
    let hour = jiff::Timestamp::from_second(dims.hour).unwrap_or_default();
    for (name, value) in [
        ("id", id),
        ("hour", kulisse_schema::datetime::format(hour)),
        ("metric", dims.metric.as_str().to_owned()),
        ("collection", dims.collection.clone()),
        ("action", dims.action.clone()),
        ("route", dims.route.clone()),
        ("key", dims.key.clone()),
        ("detail", dims.detail.clone()),
    ] {
        row.insert(name.into(), Value::String(value));
    }
    row
}
