//! Scheduled jobs (spec §8.5, superusers only): `GET /api/crons` and `POST /api/crons/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kulisse_core::crons::CronInfo;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Req;
use crate::json::Json;

/// `GET /api/crons`
pub async fn list(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<Vec<CronInfo>>, ApiError> {
    Ok(Json(s.services.crons.list(&req.auth)?))
}

/// `POST /api/crons/{id}`: 204 once the job is started.
pub async fn run(
    State(s): State<AppState>,
    Req(req): Req,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.services.crons.run(&req.auth, &id)?;
    Ok(StatusCode::NO_CONTENT)
}
