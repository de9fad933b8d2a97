//! `GET /api/files/{collection}/{recordId}/{filename}` (spec §7.3): a record's file,
//! streamed from the file store; `POST /api/files/token` (§7.5): file tokens.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    LAST_MODIFIED,
};
use axum::response::{IntoResponse, Response};
use kulisse_core::Auth;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Req;
use crate::finalize::Framable;
use crate::json::Json;

/// PocketBase's policy for served files: a file can never run script on the app's
/// origin, even an uploaded HTML or SVG opened directly.
const POLICY: &str = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
/// PocketBase's caching: file names never change content.
const CACHING: &str = "max-age=2592000, stale-while-revalidate=86400";

/// `POST /api/files/token`: `{"token": …}` for the requester's record; 401 for a guest.
pub async fn token(State(s): State<AppState>, Req(req): Req) -> Result<Response, ApiError> {
    let token = s.services.auth.file_token(&req.auth)?;
    Ok(Json(serde_json::json!({ "token": token })).into_response())
}

/// `GET /api/files/{collection}/{recordId}/{filename}`; `?token=` is a file token (only
/// a protected field's files need one).
pub async fn download(
    State(s): State<AppState>,
    Req(req): Req,
    Path((collection, id, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let holder = match req.query.get("token").filter(|t| !t.is_empty()) {
        Some(token) => s.services.auth.file_token_auth(token).await,
        None => Auth::Guest,
    };
    let file = s
        .services
        .records
        .open_file(&collection, &id, &name, &holder)
        .await?;
    let forced = req.query.get("download").is_some_and(|v| parse_bool(v));
    let disposition = if forced || !inline(&file.content_type) {
        "attachment"
    } else {
        "inline"
    };
    let modified = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_millis(
            u64::try_from(file.blob.modified.as_millisecond()).unwrap_or_default(),
        );
    let mut response = Response::new(Body::from_stream(file.blob.body));
    response.extensions_mut().insert(Framable);
    let headers = response.headers_mut();
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| ApiError::not_found());
    headers.insert(CONTENT_TYPE, value(&file.content_type)?);
    headers.insert(
        CONTENT_DISPOSITION,
        value(&format!("{disposition}; filename=\"{name}\""))?,
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(file.blob.size));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHING));
    headers.insert(LAST_MODIFIED, value(&httpdate::fmt_http_date(modified))?);
    Ok(response)
}

/// Whether a file of this type is shown in the browser rather than downloaded
/// (PocketBase's list: images, common audio and video, PDF). Anything else, HTML, SVG and
/// text included, is an attachment.
fn inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/x-icon"
            | "image/vnd.microsoft.icon"
            | "image/bmp"
            | "application/pdf"
    ) || ((content_type.starts_with("video/") || content_type.starts_with("audio/"))
        && !content_type.contains("xml"))
}

/// Go's `strconv.ParseBool` truths, as PocketBase reads `?download=`.
fn parse_bool(text: &str) -> bool {
    matches!(text, "1" | "t" | "T" | "true" | "TRUE" | "True")
}
