//! Static files and the helpers of [`super::finalize`].

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use super::error::ApiError;
use super::fields::FieldsFilter;

/// Largest JSON body `fields` will re-encode.
const MAX_PICK_BYTES: usize = 64 << 20;

/// Serves the public dir with an `index.html` fallback for client-side routes, or a
/// PocketBase 404 when there is none.
pub fn static_files(dir: Option<&Path>) -> axum::routing::MethodRouter {
    match dir.filter(|d| d.is_dir()) {
        Some(dir) => {
            let index = dir.join("index.html");
            let serve = ServeDir::new(dir).append_index_html_on_directories(true);
            if index.is_file() {
                axum::routing::get_service(serve.fallback(ServeFile::new(index)))
            } else {
                axum::routing::get_service(serve)
            }
        }
        None => axum::routing::any(|method: Method| async move {
            if method == Method::GET {
                ApiError::new(StatusCode::NOT_FOUND, "File not found.")
            } else {
                ApiError::not_found()
            }
        }),
    }
}

/// PocketBase redirects `//` paths to their cleaned form.
pub(super) fn redirect_to_clean_path(uri: &axum::http::Uri) -> Response {
    let mut clean = String::with_capacity(uri.path().len());
    for c in uri.path().chars() {
        if !(c == '/' && clean.ends_with('/')) {
            clean.push(c);
        }
    }
    if let Some(q) = uri.query() {
        clean.push('?');
        clean.push_str(q);
    }
    let location = HeaderValue::from_str(&clean).unwrap_or(HeaderValue::from_static("/"));
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response()
}

pub(super) fn is_json(res: &Response) -> bool {
    res.headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

pub(super) async fn pick_fields(res: Response, filter: &FieldsFilter) -> Response {
    let picked = res
        .extensions()
        .get::<super::fields::FieldsPicked>()
        .is_some();
    if picked || !res.status().is_success() || !is_json(&res) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PICK_BYTES).await else {
        return ApiError::bad_request().into_response();
    };
    let picked = match serde_json::from_slice(&bytes) {
        Ok(value) => Bytes::from(serde_json::to_vec(&filter.apply(value)).unwrap_or_default()),
        Err(_) => bytes,
    };
    let mut res = Response::from_parts(parts, Body::from(picked));
    res.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    res
}
