//! `/api/collections/{collection}/records[/{id}]`.

use crate::http::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kulisse_core::query::RequestInfo;
use kulisse_core::records::{ExpandTree, ListResult, Record};
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Req, WriteBody, list_params};

/// The list envelope, in PocketBase's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEnvelope {
    items: Vec<Record>,
    page: u64,
    per_page: u64,
    total_items: i64,
    total_pages: i64,
}

impl From<ListResult> for ListEnvelope {
    fn from(r: ListResult) -> Self {
        Self {
            items: r.items,
            page: r.page,
            per_page: r.per_page,
            total_items: r.total_items,
            total_pages: r.total_pages,
        }
    }
}

/// The `expand` query parameter.
pub fn expand_of(req: &RequestInfo) -> ExpandTree {
    ExpandTree::parse(req.query.get("expand").map_or("", String::as_str))
}

/// `GET …/records`
pub async fn list_records(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
) -> Result<Json<ListEnvelope>, ApiError> {
    let params = list_params(&req.query)?;
    Ok(Json(
        s.services.records.list(&req, &c, &params).await?.into(),
    ))
}

/// `GET …/records/{id}`
pub async fn view_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
) -> Result<Json<Record>, ApiError> {
    let expand = expand_of(&req);
    Ok(Json(s.services.records.view(&req, &c, &id, &expand).await?))
}

/// `POST …/records` (200, as PocketBase answers creates).
pub async fn create_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody,
) -> Result<Json<Record>, ApiError> {
    let expand = expand_of(&req);
    Ok(Json(
        s.services.records.create(req, &c, body, &expand).await?,
    ))
}

/// `PATCH …/records/{id}`
pub async fn update_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
    WriteBody(body, _): WriteBody,
) -> Result<Json<Record>, ApiError> {
    let expand = expand_of(&req);
    Ok(Json(
        s.services
            .records
            .update(req, &c, &id, body, &expand)
            .await?,
    ))
}

/// `DELETE …/records/{id}` (204, empty body).
pub async fn delete_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.services.records.delete(req, &c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
