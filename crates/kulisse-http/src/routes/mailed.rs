//! The mailed auth flows of auth collections (spec §5.8): request and confirm a
//! verification, a password reset or an email change. Each answers 204.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{FormBody, Req, WriteBody};

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

/// `POST /api/collections/{collection}/request-email-change` (by a record of it)
pub async fn request_email_change(
    State(s): State<AppState>,
    Req(req): Req,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .request_email_change(&req.auth, &collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/collections/{collection}/confirm-email-change`
pub async fn confirm_email_change(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    let body = Value::Object(body);
    s.services
        .auth
        .confirm_email_change(&collection, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
