//! JSON answers.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Buffer a JSON answer starts with: a typical record (~700 bytes with a 400-character
/// text) fits without regrowing. axum's own `Json` starts at 128 bytes and copied a
/// record's answer through three reallocations.
const INITIAL_BUFFER: usize = 1024;

/// A JSON answer (`application/json`), what handlers return.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(INITIAL_BUFFER);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                buf,
            )
                .into_response(),
            Err(e) => {
                // Only a value serde cannot encode gets here (none of ours); not an
                // `ApiError`, whose own body is encoded by this very type.
                tracing::error!(error = %e, "response encoding failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}
