//! Cross-cutting response handling: CORS, security headers, `fields` picking, and turning
//! axum's own statuses (405, 413, preflight 200) into PocketBase's.

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use super::error::ApiError;
use super::fields::FieldsFilter;

/// Largest JSON body `fields` will re-encode.
const MAX_PICK_BYTES: usize = 64 << 20;

/// CORS as PocketBase configures it: `*` unless origins are given, PB's method list, and
/// the requested headers echoed back.
pub fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.is_empty() || origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
}

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

/// Security headers on every response, status fix-ups, and the `fields` parameter.
pub async fn finalize(req: Request, next: Next) -> Response {
    if req.uri().path().contains("//") {
        return redirect_to_clean_path(req.uri());
    }
    let is_preflight = req.method() == Method::OPTIONS;
    let is_api = req.uri().path().starts_with("/api/");
    let fields = req
        .uri()
        .query()
        .and_then(|q| super::extract::query_map(q).remove("fields"))
        .map(|raw| FieldsFilter::parse(&raw));
    let mut res = match fields {
        Some(Err(e)) => e.into_response(),
        Some(Ok(filter)) => {
            let res = next.run(req).await;
            match filter {
                Some(filter) => pick_fields(res, &filter).await,
                None => res,
            }
        }
        None => next.run(req).await,
    };
    match res.status() {
        StatusCode::METHOD_NOT_ALLOWED => res = ApiError::not_found().into_response(),
        StatusCode::PAYLOAD_TOO_LARGE if !is_json(&res) => {
            res = ApiError::too_large().into_response()
        }
        StatusCode::NOT_FOUND if is_api && !is_json(&res) => {
            res = ApiError::not_found().into_response()
        }
        StatusCode::OK if is_preflight => *res.status_mut() = StatusCode::NO_CONTENT,
        _ => {}
    }
    let headers = res.headers_mut();
    for (name, value) in [
        ("x-xss-protection", "1; mode=block"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    res
}

/// PocketBase redirects `//` paths to their cleaned form.
fn redirect_to_clean_path(uri: &axum::http::Uri) -> Response {
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

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

async fn pick_fields(res: Response, filter: &FieldsFilter) -> Response {
    if !res.status().is_success() || !is_json(&res) {
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
