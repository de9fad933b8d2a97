//! The API error: PocketBase's `{"data","message","status"}`. This file is the only place
//! that picks HTTP status codes for domain errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kulisse_core::CoreError;
use kulisse_core::StoreError;
use kulisse_schema::errors::sentenize;
use serde_json::{Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    data: Value,
}

impl ApiError {
    /// Any status and message, empty `data`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            data: json!({}),
        }
    }

    /// 404 "The requested resource wasn't found."
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "The requested resource wasn't found.",
        )
    }

    /// 400 with PocketBase's generic message.
    pub fn bad_request() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            kulisse_core::error::GENERIC_BAD_REQUEST,
        )
    }

    /// 413 "Request entity too large."
    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
    }

    /// Replaces `data` (field errors).
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body (also embedded in batch failures).
    pub fn body(&self) -> Value {
        json!({"data": self.data, "message": sentenize(&self.message), "status": self.status.as_u16()})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, super::json::Json(self.body())).into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::UnknownCollection => {
                ApiError::new(StatusCode::NOT_FOUND, "Missing collection context.")
            }
            CoreError::NotFound => ApiError::not_found(),
            CoreError::Missing(msg) => ApiError::new(StatusCode::NOT_FOUND, msg),
            CoreError::SuperusersOnly => ApiError::new(
                StatusCode::FORBIDDEN,
                "Only superusers can perform this action.",
            ),
            CoreError::Forbidden(msg) => ApiError::new(StatusCode::FORBIDDEN, msg),
            CoreError::AuthRequired(msg) => ApiError::new(StatusCode::UNAUTHORIZED, msg),
            CoreError::Invalid { message, errors } => {
                ApiError::new(StatusCode::BAD_REQUEST, message).with_data(errors.to_json())
            }
            CoreError::BadRequest(msg) => ApiError::new(StatusCode::BAD_REQUEST, msg),
            CoreError::InvalidParam { param, reason } => ApiError::bad_request().with_data(
                json!({ param: {"code": format!("validation_invalid_{param}"), "message": reason} }),
            ),
            CoreError::ExpandTooLarge { max } => ApiError::bad_request().with_data(json!({
                "expand": {
                    "code": "validation_expand_too_large",
                    "message": format!("the expanded records would be more than {max}")
                }
            })),
            CoreError::Store(StoreError::Unavailable) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            ),
            // PocketBase answers a query stopped by its timeout (or a dropped client, whose
            // answer nobody reads) with its generic 400.
            CoreError::Store(StoreError::Interrupted) => {
                tracing::warn!("query interrupted: past the query timeout or abandoned");
                ApiError::bad_request()
            }
            CoreError::Store(cause) => {
                tracing::error!(error = %cause, "storage failure");
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    kulisse_core::error::GENERIC_BAD_REQUEST,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kulisse_schema::FieldErrors;

    use super::*;

    #[test]
    fn every_core_error_has_its_status() {
        let cases = [
            (CoreError::UnknownCollection, 404),
            (CoreError::NotFound, 404),
            (
                CoreError::Missing("Missing or invalid collection context."),
                404,
            ),
            (CoreError::SuperusersOnly, 403),
            (CoreError::Forbidden("x".into()), 403),
            (CoreError::AuthRequired("x".into()), 401),
            (CoreError::invalid("x", FieldErrors::new()), 400),
            (CoreError::BadRequest("x".into()), 400),
            (
                CoreError::InvalidParam {
                    param: "filter",
                    reason: "x".into(),
                },
                400,
            ),
            (CoreError::ExpandTooLarge { max: 1 }, 400),
            (CoreError::Store(StoreError::Unavailable), 503),
            (CoreError::Store(StoreError::Interrupted), 400),
            (
                CoreError::Store(StoreError::Other("secret detail".into())),
                400,
            ),
        ];
        for (err, status) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status);
            assert!(
                !api.message.contains("secret"),
                "internal causes never reach the body"
            );
        }
    }
}
