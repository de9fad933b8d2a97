//! JSON answers.

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Buffer a JSON answer starts with: a typical record (~700 bytes with a 400-character
/// text) fits without regrowing. axum's own `Json` starts at 128 bytes and copied a
/// record's answer through three reallocations.
const INITIAL_BUFFER: usize = 1024;

/// Headers an answer ends up with: content type and length, `Vary`, PocketBase's four
/// security headers and an allowed origin. A map made for fewer (axum's default holds six)
/// regrew and rehashed on every answer.
const ANSWER_HEADERS: usize = 8;

/// A JSON answer (`application/json`), what handlers return.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(INITIAL_BUFFER);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => {
                let mut res = Response::new(Body::from(buf));
                let headers = res.headers_mut();
                *headers = HeaderMap::with_capacity(ANSWER_HEADERS);
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                res
            }
            Err(e) => {
                // Only a value serde cannot encode gets here (none of ours); not an
                // `ApiError`, whose own body is encoded by this very type.
                tracing::error!(error = %e, "response encoding failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}
