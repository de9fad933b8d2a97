//! `GET/PATCH /api/settings`, `POST /api/settings/test/s3`,
//! `POST /api/settings/test/email` and `POST /api/settings/apple/generate-client-secret`
//! (superusers only).

use crate::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kulisse_core::CoreError;
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

/// `POST /api/settings/apple/generate-client-secret` → `{"secret"}`
pub async fn apple_client_secret(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Json<Value>, ApiError> {
    let secret = s
        .services
        .oauth2
        .apple_client_secret(&req.auth, &Value::Object(body))?;
    Ok(Json(serde_json::json!({ "secret": secret })))
}

/// `POST /api/settings/test/s3` `{"filesystem": "storage" | "backups"}`: 204 when a test
/// file could be written to and deleted from that bucket.
pub async fn test_s3(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let filesystem = body
        .get("filesystem")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let files = s.services.files.as_ref().ok_or(CoreError::NotFound)?;
    files
        .test_s3(&req.auth, filesystem, &*s.services.ambient.ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/settings/test/email` `{"email", "template", "collection"}`: 204 once the
/// template was sent.
pub async fn test_email(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let mail = s.services.mail.as_ref().ok_or(CoreError::NotFound)?;
    mail.test_email(&req.auth, &Value::Object(body)).await?;
    Ok(StatusCode::NO_CONTENT)
}
