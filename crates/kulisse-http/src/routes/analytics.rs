//! Usage analytics and the index advisor (superusers only): `GET /api/analytics/requests`,
//! `/routes`, `/users` and `/filters`; `GET /api/advisor/queries` and `/suggestions`, and
//! `POST /api/advisor/suggestions/{id}/apply`. Every report takes `from` and `to` (dates or
//! datetimes; the last seven days by default).

use axum::extract::{Path, State};
use kulisse_core::advisor::{AdvisorService, SlowReport, Suggestion, SuggestionsReport};
use kulisse_core::analytics::{
    AnalyticsService, FiltersReport, RequestsReport, RoutesReport, UsersReport, Window,
};
use kulisse_core::query::RequestInfo;
use serde::Serialize;
use serde_json::Value;

use super::collections::to_json;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Req;
use crate::json::Json;

/// The most items a report lists.
const MAX_LIMIT: usize = 500;

fn analytics(s: &AppState) -> Result<&AnalyticsService, ApiError> {
    s.services
        .logs
        .as_ref()
        .map(|l| l.analytics())
        .ok_or_else(ApiError::not_found)
}

fn advisor(s: &AppState) -> Result<&AdvisorService, ApiError> {
    s.services.advisor.as_ref().ok_or_else(ApiError::not_found)
}

fn param<'a>(req: &'a RequestInfo, name: &str) -> &'a str {
    req.query.get(name).map_or("", String::as_str)
}

fn window(s: &AppState, req: &RequestInfo) -> Result<Window, ApiError> {
    let now = s.services.ambient.clock.now();
    Ok(Window::parse(param(req, "from"), param(req, "to"), now)?)
}

/// `limit` (20 by default, at most [`MAX_LIMIT`]); anything else is ignored, as
/// PocketBase ignores a malformed `perPage`.
fn limit(req: &RequestInfo) -> usize {
    param(req, "limit")
        .parse::<usize>()
        .map_or(20, |n| n.clamp(1, MAX_LIMIT))
}

/// `GET /api/analytics/requests?interval=hour|day&collection=`
pub async fn requests(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<RequestsReport>, ApiError> {
    let window = window(&s, &req)?;
    let report = analytics(&s)?
        .requests(
            &req.auth,
            window,
            param(&req, "interval"),
            param(&req, "collection"),
        )
        .await?;
    Ok(Json(report))
}

/// `GET /api/analytics/routes?limit=`
pub async fn routes(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<RoutesReport>, ApiError> {
    let window = window(&s, &req)?;
    let report = analytics(&s)?
        .routes(&req.auth, window, limit(&req))
        .await?;
    Ok(Json(report))
}

/// `GET /api/analytics/users`
pub async fn users(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<UsersReport>, ApiError> {
    let window = window(&s, &req)?;
    Ok(Json(analytics(&s)?.users(&req.auth, window).await?))
}

/// `GET /api/analytics/filters?collection=&limit=`
pub async fn filters(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<FiltersReport>, ApiError> {
    let window = window(&s, &req)?;
    let report = analytics(&s)?
        .filters(&req.auth, window, param(&req, "collection"), limit(&req))
        .await?;
    Ok(Json(report))
}

/// `GET /api/advisor/queries?limit=`
pub async fn slow_queries(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<SlowReport>, ApiError> {
    let window = window(&s, &req)?;
    let report = advisor(&s)?
        .slow_queries(&req.auth, window, limit(&req))
        .await?;
    Ok(Json(report))
}

/// `GET /api/advisor/suggestions`
pub async fn suggestions(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<SuggestionsReport>, ApiError> {
    let window = window(&s, &req)?;
    Ok(Json(advisor(&s)?.suggestions(&req.auth, window).await?))
}

/// What applying a suggestion answers.
#[derive(Serialize)]
pub struct Applied {
    suggestion: Suggestion,
    /// The collection with its new index, as `GET /api/collections/{collection}` shows it.
    collection: Value,
}

/// `POST /api/advisor/suggestions/{id}/apply`
pub async fn apply(
    State(s): State<AppState>,
    Req(req): Req,
    Path(id): Path<String>,
) -> Result<Json<Applied>, ApiError> {
    let window = window(&s, &req)?;
    let (suggestion, collection) = advisor(&s)?.apply(&req.auth, window, &id).await?;
    Ok(Json(Applied {
        suggestion,
        collection: to_json(&collection),
    }))
}
