//! `/api/collections…` (superusers only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kulisse_schema::{Collection, CollectionKind};
use serde_json::{Map, Value, json};

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{CollectionBody, Req, WriteBody, list_params};

fn to_json(c: &Collection) -> Value {
    serde_json::to_value(c.json(false)).unwrap_or(Value::Null)
}

/// `GET /api/collections`: paged like records; the filter applies to `name` and `type`
/// equality only for now.
pub async fn list_collections(State(s): State<AppState>, Req(req): Req) -> Result<Json<Value>, ApiError> {
    let all = s.services.collections.list(&req.auth)?;
    let p = list_params(&req.query)?;
    let per_page = p.per_page.clamp(1, 1000);
    let offset = usize::try_from((p.page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let items: Vec<Value> = all.iter().map(|c| to_json(c)).collect();
    let items = filter_collections(items, &p.filter)?;
    let total = items.len() as u64;
    let page_items: Vec<Value> = items.into_iter().skip(offset).take(usize::try_from(per_page).unwrap_or(usize::MAX)).collect();
    let (total_items, total_pages) = if p.skip_total { (-1, -1) } else { (total as i64, total.div_ceil(per_page) as i64) };
    Ok(Json(json!({"items": page_items, "page": p.page, "perPage": per_page, "totalItems": total_items, "totalPages": total_pages})))
}

/// Supports the `name = '…'` / `type = '…'` / `system = …` filters clients send; anything
/// else is refused rather than silently ignored.
fn filter_collections(items: Vec<Value>, filter: &str) -> Result<Vec<Value>, ApiError> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(items);
    }
    let (key, raw) = filter.split_once('=').ok_or_else(ApiError::bad_request)?;
    let key = key.trim();
    let raw = raw.trim().trim_matches(|c| c == '\'' || c == '"');
    if !["name", "type", "id", "system"].contains(&key) {
        return Err(ApiError::bad_request());
    }
    Ok(items
        .into_iter()
        .filter(|c| match &c[key] {
            Value::String(s) => s == raw,
            Value::Bool(b) => b.to_string() == raw,
            _ => false,
        })
        .collect())
}

/// `POST /api/collections`
pub async fn create_collection(State(s): State<AppState>, Req(req): Req, WriteBody(body, _): WriteBody<CollectionBody>) -> Result<Json<Value>, ApiError> {
    let c = s.services.collections.create(&req.auth, &Value::Object(body)).await?;
    Ok(Json(to_json(&c)))
}

/// `GET /api/collections/{collection}`
pub async fn view_collection(State(s): State<AppState>, Req(req): Req, Path(c): Path<String>) -> Result<Json<Value>, ApiError> {
    let c = s.services.collections.view(&req.auth, &c)?;
    Ok(Json(to_json(&c)))
}

/// `PATCH /api/collections/{collection}`
pub async fn update_collection(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody<CollectionBody>,
) -> Result<Json<Value>, ApiError> {
    let c = s.services.collections.update(&req.auth, &c, &Value::Object(body)).await?;
    Ok(Json(to_json(&c)))
}

/// `DELETE /api/collections/{collection}`
pub async fn delete_collection(State(s): State<AppState>, Req(req): Req, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    s.services.collections.delete(&req.auth, &c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/collections/{collection}/truncate`
pub async fn truncate_collection(State(s): State<AppState>, Req(req): Req, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    s.services.collections.truncate(&req.auth, &c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/collections/import`
pub async fn import_collections(State(s): State<AppState>, Req(req): Req, WriteBody(body, _): WriteBody<CollectionBody>) -> Result<StatusCode, ApiError> {
    let items = match body.get("collections") {
        Some(Value::Array(items)) => items.clone(),
        _ => {
            let mut errs = kulisse_schema::FieldErrors::new();
            errs.add("collections", kulisse_schema::FieldError::required());
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "An error occurred while validating the submitted data.").with_data(errs.to_json()));
        }
    };
    let delete_missing = body.get("deleteMissing").and_then(Value::as_bool).unwrap_or(false);
    s.services.collections.import(&req.auth, &items, delete_missing).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/collections/meta/scaffolds`: blank definitions per type.
pub async fn scaffolds(State(s): State<AppState>, Req(req): Req) -> Result<Json<Map<String, Value>>, ApiError> {
    s.services.collections.list(&req.auth)?;
    let mut out = Map::new();
    for kind in [CollectionKind::Auth, CollectionKind::Base, CollectionKind::View] {
        let mut c = Collection::new("", kind);
        c.id = String::new();
        c.created = String::new();
        c.updated = String::new();
        c.indexes.clear();
        out.insert(kind.as_str().to_owned(), to_json(&c));
    }
    Ok(Json(out))
}
