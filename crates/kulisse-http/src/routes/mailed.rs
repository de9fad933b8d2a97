//! The mailed auth flows of auth collections (spec §5.8): request and confirm a
//! verification or a password reset. Each answers 204.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{FormBody, WriteBody};

/// `POST /api/collections/{collection}/request-verification`
pub async fn request_verification(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .request_verification(&collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{collection}/confirm-verification`
pub async fn confirm_verification(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .confirm_verification(&collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{collection}/request-password-reset`
pub async fn request_password_reset(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .request_password_reset(&collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{collection}/confirm-password-reset`
pub async fn confirm_password_reset(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .confirm_password_reset(&collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
