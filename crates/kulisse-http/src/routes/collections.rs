//! `/api/collections…` (superusers only).

use crate::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kulisse_core::CoreError;
use kulisse_core::error::Form;
use kulisse_schema::{Collection, CollectionKind};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{CollectionBody, Req, WriteBody, list_params};

pub(crate) fn to_json(c: &Collection) -> Value {
    serde_json::to_value(c.json(false)).unwrap_or(Value::Null)
}

/// `GET /api/collections`: paged, filtered and sorted like records.
pub async fn list_collections(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<Value>, ApiError> {
    let p = list_params(&req.query)?;
    let (items, total) = s.services.collections.list(&req.auth, &p)?;
    let per_page = p.per_page.clamp(1, 1000);
    let (total_items, total_pages) = match total {
        Some(t) => (t as i64, t.div_ceil(per_page) as i64),
        None => (-1, -1),
    };
    Ok(Json(
        json!({"items": items, "page": p.page.max(1), "perPage": per_page, "totalItems": total_items, "totalPages": total_pages}),
    ))
}

/// `POST /api/collections`
pub async fn create_collection(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<CollectionBody>,
) -> Result<Json<Value>, ApiError> {
    let c = s
        .services
        .collections
        .create(&req.auth, &Value::Object(body))
        .await?;
    Ok(Json(to_json(&c)))
}

/// `GET /api/collections/{collection}`
pub async fn view_collection(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    let c = s
        .services
        .collections
        .update(&req.auth, &c, &Value::Object(body))
        .await?;
    Ok(Json(to_json(&c)))
}

/// `DELETE /api/collections/{collection}`
pub async fn delete_collection(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.services.collections.delete(&req.auth, &c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/collections/{collection}/truncate`
pub async fn truncate_collection(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.services.collections.truncate(&req.auth, &c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/collections/import`
pub async fn import_collections(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<CollectionBody>,
) -> Result<StatusCode, ApiError> {
    let items = match body.get("collections") {
        Some(Value::Array(items)) => items.clone(),
        _ => {
            let mut errs = kulisse_schema::FieldErrors::new();
            errs.add("collections", kulisse_schema::FieldError::required());
            return Err(CoreError::invalid(Form::Request, errs).into());
        }
    };
    let delete_missing = body
        .get("deleteMissing")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.services
        .collections
        .import(&req.auth, &items, delete_missing)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/collections/meta/scaffolds`: blank definitions per type.
pub async fn scaffolds(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<Map<String, Value>>, ApiError> {
    s.services.collections.all(&req.auth)?;
    let mut out = Map::new();
    for kind in [
        CollectionKind::Auth,
        CollectionKind::Base,
        CollectionKind::View,
    ] {
        let mut c = Collection::new("", kind);
        c.id = String::new();
        c.created = String::new();
        c.updated = String::new();
        c.indexes.clear();
        out.insert(kind.as_str().to_owned(), to_json(&c));
    }
    Ok(Json(out))
}
