//! The dashboard's stylesheet and scripts, embedded in the binary.
//!
//! Each is served at `/_/assets/<stamp>/<name>`, where the stamp is the start of its
//! SHA-256: a new build with a changed file gets a new address, so browsers may keep every
//! address forever (`immutable`) and never run a stale script. Gzipped once, on first
//! request, for clients that take it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "assets/"]
struct Files;

/// Hex digits of the content hash in an asset's address.
const STAMP_LEN: usize = 12;

/// Every asset's stamp, by name.
static STAMPS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Files::iter()
        .filter_map(|name| {
            let file = Files::get(&name)?;
            let hex = data_encoding::HEXLOWER.encode(&file.metadata.sha256_hash());
            Some((name.into_owned(), hex[..STAMP_LEN].to_owned()))
        })
        .collect()
});

/// Gzipped bodies made so far, by name.
static GZIPPED: LazyLock<Mutex<HashMap<String, &'static [u8]>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The address of the embedded asset `name` (`admin.css`).
pub(crate) fn url(name: &str) -> String {
    let stamp = STAMPS.get(name).map_or("missing", String::as_str);
    format!("/_/assets/{stamp}/{name}")
}

/// `GET /_/assets/{stamp}/{file}`: the asset, if the stamp is its current one.
pub(crate) async fn serve(
    Path((stamp, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (Some(file), Some(current)) = (Files::get(&name), STAMPS.get(&name)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if *current != stamp {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = match gzip.then(|| gzipped(&name, &file.data)).flatten() {
        Some(body) => {
            let mut r = body.into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => file.data.into_owned().into_response(),
    };
    let h = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, mime);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// `data` gzipped, made once per asset and kept for the life of the process (a few
/// dozen kilobytes in all).
fn gzipped(name: &str, data: &[u8]) -> Option<&'static [u8]> {
    let mut made = GZIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(body) = made.get(name) {
        return Some(body);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).ok()?;
    let body: &'static [u8] = Vec::leak(encoder.finish().ok()?);
    made.insert(name.to_owned(), body);
    Some(body)
}
