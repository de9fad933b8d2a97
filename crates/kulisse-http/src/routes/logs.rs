//! The request log (spec §8.3, superusers only): `GET /api/logs`, `GET /api/logs/stats`,
//! `GET /api/logs/{id}` and `DELETE /api/logs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kulisse_core::Row;
use kulisse_core::logs::LogService;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Req, list_params};
use crate::json::Json;

fn service(s: &AppState) -> Result<&LogService, ApiError> {
    s.services.logs.as_ref().ok_or_else(ApiError::not_found)
}

/// An entry in PocketBase's key order (`id, created, data, message, level`).
pub struct Entry(Row);

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        for key in ["id", "created", "data", "message", "level"] {
            map.serialize_entry(key, self.0.get(key).unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

/// A page of entries, as PocketBase lists them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    items: Vec<Entry>,
    page: u64,
    per_page: u64,
    total_items: i64,
    total_pages: i64,
}

/// Entries in one hour.
#[derive(Serialize)]
pub struct Hour {
    date: String,
    total: u64,
}

/// `GET /api/logs`
pub async fn list(State(s): State<AppState>, Req(req): Req) -> Result<Json<Page>, ApiError> {
    let p = list_params(&req.query)?;
    let page = service(&s)?.list(&req.auth, &p).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Entry).collect(),
        page: page.page,
        per_page: page.per_page,
        total_items: page.total_items,
        total_pages: page.total_pages,
    }))
}

/// `GET /api/logs/stats?filter=`
pub async fn stats(State(s): State<AppState>, Req(req): Req) -> Result<Json<Vec<Hour>>, ApiError> {
    let filter = req.query.get("filter").map_or("", String::as_str);
    let hours = service(&s)?.stats(&req.auth, filter).await?;
    Ok(Json(
        hours
            .into_iter()
            .map(|h| Hour {
                date: h.date,
                total: h.total,
            })
            .collect(),
    ))
}

/// `GET /api/logs/{id}`
pub async fn view(
    State(s): State<AppState>,
    Req(req): Req,
    Path(id): Path<String>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(Entry(service(&s)?.view(&req.auth, &id).await?)))
}

/// `DELETE /api/logs`
pub async fn clear(State(s): State<AppState>, Req(req): Req) -> Result<StatusCode, ApiError> {
    service(&s)?.clear(&req.auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
