//! `POST /api/batch` (spec §2.9).

use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use kulisse_core::CoreError;
use kulisse_core::error::Form;
use kulisse_core::query::normalize_header_name;
use kulisse_core::records::{
    BatchFailure, BatchItem, ExpandBudget, ExpandTree, WriteOp, admit_batch,
};
use kulisse_schema::{FieldError, FieldErrors};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{BatchBody, Req, WriteBody, query_map};
use crate::fields::FieldsFilter;
use crate::json::records_answer;
use crate::routes::records::RecordAnswer;

/// One parsed sub-request.
struct SubRequest {
    item: BatchItem,
}

/// Methods a sub-request may name (GET passes this check and fails when run, as in PB).
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `POST /api/batch`
pub async fn batch(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, mut files): WriteBody<BatchBody>,
) -> Result<Response, ApiError> {
    let limits = s.services.settings.batch();
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    admit_batch(&limits, requests.len()).map_err(CoreError::from)?;
    let mut form_errs = FieldErrors::new();
    for (i, r) in requests.iter().enumerate() {
        let mut e = FieldErrors::new();
        if !r
            .get("method")
            .and_then(Value::as_str)
            .is_some_and(|m| METHODS.contains(&m))
        {
            e.add(
                "method",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        if r.get("url")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            e.add("url", FieldError::required());
        }
        form_errs.add_nested(i.to_string(), e);
    }
    if !form_errs.is_empty() {
        let mut errs = FieldErrors::new();
        errs.add_nested("requests", form_errs);
        return Err(CoreError::invalid(Form::Batch, errs).into());
    }
    let mut subs = Vec::with_capacity(requests.len());
    for (index, r) in requests.iter().enumerate() {
        subs.push(
            parse_sub_request(r)
                .ok_or_else(|| ApiError::batch_failed(index, &ApiError::bad_request()))?,
        );
    }
    // `requests.N.field` goes to sub-request N as `field`; parts naming no sub-request
    // are ignored, as unknown form keys are. (`files` keeps the temporary files until
    // the batch is answered.)
    for mut upload in std::mem::take(&mut files.uploads) {
        let Some((index, key)) = upload
            .key
            .strip_prefix("requests.")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(n, key)| Some((n.parse::<usize>().ok()?, key.to_owned())))
        else {
            continue;
        };
        if let Some(sub) = subs.get_mut(index) {
            upload.key = key;
            sub.item.uploads.push(upload);
        }
    }
    let queries: Vec<_> = subs.iter().map(|s| s.item.query.clone()).collect();
    let items = subs.into_iter().map(|s| s.item).collect();
    let budget = Duration::from_secs(limits.timeout_secs.max(1));
    let outcomes = s
        .services
        .records
        .batch(&req, items, budget)
        .await
        .map_err(|BatchFailure { index, error }| {
            ApiError::batch_failed(index, &ApiError::from(error))
        })?;
    let mut out = Vec::with_capacity(outcomes.len());
    // One budget for the whole answer, however many sub-requests expand.
    let mut budget = ExpandBudget::per_response();
    let mut embedded: u64 = 0;
    for ((row, c), query) in outcomes.into_iter().zip(queries) {
        let Some(row) = row else {
            out.push(SubAnswer {
                body: None,
                status: 204,
            });
            continue;
        };
        let mut rows = [row.into()];
        let expand = ExpandTree::parse(query.get("expand").map_or("", String::as_str));
        s.services
            .records
            .expand_within(&req, &c, &mut rows, &expand, &mut budget)
            .await?;
        let [record] = rows;
        embedded = embedded.saturating_add(record.embedded());
        let fields = FieldsFilter::parse(query.get("fields").map_or("", String::as_str))?;
        out.push(SubAnswer {
            body: Some(RecordAnswer { record, fields }),
            status: 200,
        });
    }
    Ok(records_answer(out, embedded))
}

/// One sub-request's answer: `{"body", "status"}`.
#[derive(Serialize)]
struct SubAnswer {
    body: Option<RecordAnswer>,
    status: u16,
}

/// `{method, url, body}` → a write; only record create/update/upsert/delete are allowed.
fn parse_sub_request(r: &Value) -> Option<SubRequest> {
    let method = r.get("method")?.as_str()?.to_ascii_uppercase();
    let uri: Uri = r.get("url")?.as_str()?.parse().ok()?;
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let body = r
        .get("body")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let (collection, id) = match segments.as_slice() {
        ["api", "collections", c, "records"] => (*c, None),
        ["api", "collections", c, "records", id] => (*c, Some((*id).to_owned())),
        _ => return None,
    };
    let op = match (method.as_str(), id) {
        ("POST", None) => WriteOp::Create(body),
        ("PUT", None) => WriteOp::Upsert(body),
        ("PATCH", Some(id)) => WriteOp::Update(id, body),
        ("DELETE", Some(id)) => WriteOp::Delete(id),
        _ => return None,
    };
    let headers = r
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((normalize_header_name(k), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let query = query_map(uri.query().unwrap_or_default());
    Some(SubRequest {
        item: BatchItem {
            collection: collection.to_owned(),
            op,
            query,
            headers,
            uploads: Vec::new(),
        },
    })
}
