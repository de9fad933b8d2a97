//! `GET /api/files/{collection}/{recordId}/{filename}` (spec §7.3): a record's file,
//! streamed from the file store; `POST /api/files/token` (§7.5): file tokens.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    LAST_MODIFIED, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kulisse_core::files::ByteRange;
use kulisse_core::records::RecordsError;
use kulisse_core::{Auth, CoreError};

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
/// a protected field's files need one). A single `Range` is answered with 206 (one past
/// the end with 416); `If-None-Match` and `If-Modified-Since` with 304; `If-Range` that
/// no longer matches turns a range into the whole file.
pub async fn download(
    State(s): State<AppState>,
    Req(req): Req,
    Path((collection, id, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let holder = match req.query.get("token").filter(|t| !t.is_empty()) {
        Some(token) => s.services.auth.file_token_auth(token).await,
        None => Auth::Guest,
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let range = text(RANGE).and_then(parse_range);
    let thumb = req.query.get("thumb").map(String::as_str);
    let open = |range| {
        s.services
            .records
            .open_file(&collection, &id, &name, &holder, range, thumb)
    };
    let mut file = match open(range).await {
        Ok(file) => file,
        Err(CoreError::Records(RecordsError::RangeNotSatisfiable { size })) => {
            let mut response =
                ApiError::from(CoreError::from(RecordsError::RangeNotSatisfiable { size }))
                    .into_response();
            let unsatisfied = HeaderValue::from_str(&format!("bytes */{size}"))
                .map_err(|_| ApiError::not_found())?;
            response.headers_mut().insert(CONTENT_RANGE, unsatisfied);
            return Ok(response);
        }
        Err(e) => return Err(e.into()),
    };
    let modified = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(
                u64::try_from(file.blob.modified.as_second()).unwrap_or_default(),
            ),
    );
    let etag = format!(
        "\"{:x}-{:x}\"",
        file.blob.size,
        file.blob.modified.as_millisecond()
    );
    if file.blob.range.is_some()
        && text(IF_RANGE).is_some_and(|validator| validator != etag && validator != modified)
    {
        file = open(None).await?;
    }
    let unchanged = match text(IF_NONE_MATCH) {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => text(IF_MODIFIED_SINCE)
            .and_then(|since| httpdate::parse_http_date(since).ok())
            .is_some_and(|since| {
                since
                    .duration_since(std::time::UNIX_EPOCH)
                    .is_ok_and(|since| since.as_secs() as i64 >= file.blob.modified.as_second())
            }),
    };
    let forced = req.query.get("download").is_some_and(|v| parse_bool(v));
    let disposition = if forced || !inline(&file.content_type) {
        "attachment"
    } else {
        "inline"
    };
    let (status, length) = match file.blob.range {
        _ if unchanged => (StatusCode::NOT_MODIFIED, None),
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, Some(last - first + 1)),
        None => (StatusCode::OK, Some(file.blob.size)),
    };
    let body = if unchanged {
        Body::empty()
    } else {
        Body::from_stream(file.blob.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.extensions_mut().insert(Framable);
    let out = response.headers_mut();
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| ApiError::not_found());
    out.insert(CONTENT_TYPE, value(&file.content_type)?);
    out.insert(
        CONTENT_DISPOSITION,
        value(&format!("{disposition}; filename=\"{}\"", file.name))?,
    );
    if let Some(length) = length {
        out.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let (Some((first, last)), false) = (file.blob.range, unchanged) {
        let size = file.blob.size;
        out.insert(
            CONTENT_RANGE,
            value(&format!("bytes {first}-{last}/{size}"))?,
        );
    }
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    out.insert(CACHE_CONTROL, HeaderValue::from_static(CACHING));
    out.insert(LAST_MODIFIED, value(&modified)?);
    out.insert(ETAG, value(&etag)?);
    Ok(response)
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); anything else, several ranges included, is
/// ignored and the whole file served, as HTTP allows.
fn parse_range(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Last),
        (a, "") => a.parse().ok().map(ByteRange::From),
        (a, b) => Some(ByteRange::Between(a.parse().ok()?, b.parse().ok()?)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_is_read_and_anything_else_ignored() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::Between(0, 9)));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Last(3)));
        for ignored in ["bytes=0-1,4-5", "items=0-1", "bytes=a-b", "bytes=-", "0-9"] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }
}
