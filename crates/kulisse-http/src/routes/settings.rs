//! `GET/PATCH /api/settings` (superusers only).

use crate::json::Json;
use axum::extract::State;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{FormBody, Req, WriteBody};

/// `GET /api/settings`
pub async fn view_settings(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.services.settings.view(&req.auth)?))
}

/// `PATCH /api/settings`
pub async fn update_settings(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        s.services
            .settings
            .update(&req.auth, &Value::Object(body))
            .await?,
    ))
}
