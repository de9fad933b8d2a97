//! Extractors: the requester, PocketBase list parameters, and write bodies in any of the
//! three encodings PocketBase accepts. Every rejection is a PocketBase-shaped [`ApiError`].

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request,
};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use kulisse_core::query::RequestInfo;
use kulisse_core::records::{ListParams, Upload};
use kulisse_core::settings::TrustedProxy;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::AppState;
use super::error::ApiError;

/// Largest request body (PocketBase's default 32 MiB).
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// The requester plus what `@request.*` exposes.
pub struct Req(pub RequestInfo);

impl FromRequestParts<AppState> for Req {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let auth = state.services.auth.authenticate(header).await;
        if auth.is_superuser() {
            // `superuserIPs`: a superuser token from elsewhere is refused outright.
            let proxy = state.services.settings.trusted_proxy();
            let ip = real_ip(&parts.headers, peer(&parts.extensions), &proxy);
            state.services.settings.check_superuser_ip(ip)?;
        }
        let mut info = RequestInfo::for_auth(auth, parts.method.as_str());
        info.query = query_map(parts.uri.query().unwrap_or_default());
        info.headers = parts.headers.clone();
        info.now = Some(state.services.ambient.clock.now());
        Ok(Req(info))
    }
}

/// First value of each query parameter (PocketBase: duplicates, first wins).
pub fn query_map(query: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded_pairs(query) {
        out.entry(k).or_insert(v);
    }
    out
}

fn form_urlencoded_pairs(s: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(s).unwrap_or_default()
}

/// `page`, `perPage`, `sort`, `filter`, `skipTotal` with PocketBase's parsing rules.
pub fn list_params(query: &BTreeMap<String, String>) -> Result<ListParams, ApiError> {
    let mut p = ListParams::default();
    if let Some(v) = query.get("page").filter(|v| !v.is_empty()) {
        let n: i64 = v.parse().map_err(|_| ApiError::bad_request())?;
        p.page = u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(1);
    }
    if let Some(v) = query.get("perPage").filter(|v| !v.is_empty()) {
        let n: i64 = v.parse().map_err(|_| ApiError::bad_request())?;
        p.per_page = u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(30);
    }
    if let Some(v) = query.get("skipTotal").filter(|v| !v.is_empty()) {
        p.skip_total = parse_go_bool(v).ok_or_else(ApiError::bad_request)?;
    }
    p.sort = query.get("sort").cloned().unwrap_or_default();
    p.filter = query.get("filter").cloned().unwrap_or_default();
    p.expand = query.get("expand").cloned().unwrap_or_default();
    Ok(p)
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Which endpoint family a body belongs to; PocketBase words load failures differently.
pub trait BodyKind {
    /// Message of the 400 for an unreadable body.
    const MALFORMED: &'static str;
    /// Whether multipart file parts are taken (into temporary files) or refused.
    const FILES: bool = false;
    /// The largest body, when not the usual one (a record's file fields may raise that).
    const LIMIT: Option<usize> = None;
}

/// A backup's upload: one zip, as large as a backup gets. The handler reads it only after
/// checking that a superuser sends it.
pub struct BackupBody;
impl BodyKind for BackupBody {
    const MALFORMED: &'static str = "An error occurred while loading the submitted data.";
    const FILES: bool = true;
    const LIMIT: Option<usize> = Some(16 << 30);
}

/// Record create/update bodies.
pub struct RecordBody;
impl BodyKind for RecordBody {
    const MALFORMED: &'static str = kulisse_core::error::GENERIC_BAD_REQUEST;
    const FILES: bool = true;
}

/// Batch bodies, with file parts for their sub-requests (`requests.N.field`).
pub struct BatchBody;
impl BodyKind for BatchBody {
    const MALFORMED: &'static str = kulisse_core::error::GENERIC_BAD_REQUEST;
    const FILES: bool = true;
}

/// Collection definitions.
pub struct CollectionBody;
impl BodyKind for CollectionBody {
    const MALFORMED: &'static str =
        "Failed to load the collection type data due to invalid formatting.";
}

/// A realtime subscription request.
pub struct SubscriptionsBody;
impl BodyKind for SubscriptionsBody {
    const MALFORMED: &'static str = kulisse_core::error::GENERIC_BAD_REQUEST;
}

/// Fixed forms (auth endpoints).
pub struct FormBody;
impl BodyKind for FormBody {
    const MALFORMED: &'static str = "An error occurred while loading the submitted data.";
}

/// A write body decoded to a JSON object, from JSON, multipart or urlencoded input, and
/// its file parts.
pub struct WriteBody<K: BodyKind = RecordBody>(pub Map<String, Value>, pub Files<K>);

/// A body's file parts, each streamed into a temporary file that lives as long as this
/// (until the write is answered).
pub struct Files<K> {
    /// The uploads, in the order they came.
    pub uploads: Vec<Upload>,
    _temporary: Vec<tempfile::TempPath>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Default for Files<K> {
    fn default() -> Self {
        Files {
            uploads: Vec::new(),
            _temporary: Vec::new(),
            _kind: PhantomData,
        }
    }
}

impl<K: BodyKind> FromRequest<AppState> for WriteBody<K> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let malformed = || ApiError::malformed_body(K::MALFORMED);
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = |map| Ok(WriteBody(map, Files::default()));
        if content_type.starts_with("multipart/form-data") {
            let mut req = req;
            let limit = match (K::LIMIT, K::FILES) {
                (Some(limit), _) => limit,
                (None, true) => multipart_limit(req.uri().path(), state),
                (None, false) => MAX_BODY_BYTES,
            };
            DefaultBodyLimit::max(limit).apply(&mut req);
            let multipart = Multipart::from_request(req, state)
                .await
                .map_err(|_| malformed())?;
            let uploads = state.uploads_dir.as_deref();
            let (map, files) = read_multipart::<K>(multipart, uploads).await?;
            return Ok(WriteBody(map, files));
        }
        let known = content_type.is_empty()
            || content_type.starts_with("application/json")
            || content_type.starts_with("application/x-www-form-urlencoded");
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::too_large())?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return body(Map::new());
        }
        if !known {
            return Err(ApiError::unsupported_content_type());
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .map_err(|_| malformed())?;
            return body(collect_form(
                pairs.into_iter().map(|(k, v)| (k, infer_scalar(&v))),
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => body(map),
            Ok(Value::Null) => body(Map::new()),
            _ => Err(malformed()),
        }
    }
}

/// The body limit of a multipart write: the usual one, or more when the collection's
/// file fields allow more (a field for videos).
fn multipart_limit(path: &str, state: &AppState) -> usize {
    let collection = path
        .strip_prefix("/api/collections/")
        .and_then(|rest| rest.split('/').next());
    let allowance = collection.map_or(0, |c| state.services.records.upload_allowance(c));
    // Room for the form's other parts and the multipart framing.
    let needed = allowance.saturating_add(1 << 20);
    MAX_BODY_BYTES.max(usize::try_from(needed).unwrap_or(usize::MAX))
}

/// The connection's peer address: cheap, for handlers that need the client's address only
/// sometimes (see [`real_ip`]).
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(&parts.extensions)))
    }
}

/// The connection's address.
pub(crate) fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address (see [`real_ip`]; formatted only where it is shown).
pub struct RemoteIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for RemoteIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let proxy = state.services.settings.trusted_proxy();
        Ok(RemoteIp(real_ip(
            &parts.headers,
            peer(&parts.extensions),
            &proxy,
        )))
    }
}

/// The client's address: the connection's `peer`, unless `trustedProxy` names headers set
/// by a proxy in front (PocketBase's `RealIP`: the last instance of the first header
/// present, its rightmost valid address, or the leftmost with `useLeftmostIP`).
pub fn real_ip(
    headers: &axum::http::HeaderMap,
    peer: Option<IpAddr>,
    proxy: &TrustedProxy,
) -> Option<IpAddr> {
    for name in &proxy.headers {
        let Some(list) = headers
            .get_all(name.as_str())
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let mut candidates = list.split(',').map(|ip| ip.trim().parse::<IpAddr>());
        let found = if proxy.use_leftmost_ip {
            candidates.find_map(Result::ok)
        } else {
            candidates.rev().find_map(Result::ok)
        };
        if found.is_some() {
            return found;
        }
    }
    peer
}

/// A multipart read failure: 413 past the body limit, else the generic 400.
fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::bad_request()
    }
}

async fn read_multipart<K: BodyKind>(
    mut mp: Multipart,
    uploads_dir: Option<&std::path::Path>,
) -> Result<(Map<String, Value>, Files<K>), ApiError> {
    let mut pairs = Vec::new();
    let mut payload = None;
    let mut files = Files::default();
    while let Some(mut field) = mp.next_field().await.map_err(|e| multipart_error(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            if !K::FILES {
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                // An empty part without a name is a form's unselected file input.
                if file_name.is_empty() && bytes.is_empty() {
                    continue;
                }
                return Err(ApiError::files_not_taken(&name));
            }
            let temporary = match uploads_dir {
                Some(dir) => tempfile::NamedTempFile::new_in(dir),
                None => tempfile::NamedTempFile::new(),
            }
            .map_err(|_| ApiError::bad_request())?
            .into_temp_path();
            let mut out = tokio::fs::File::create(&temporary)
                .await
                .map_err(|_| ApiError::bad_request())?;
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                size += chunk.len() as u64;
                out.write_all(&chunk)
                    .await
                    .map_err(|_| ApiError::bad_request())?;
            }
            out.flush().await.map_err(|_| ApiError::bad_request())?;
            // An empty part without a name is a form's unselected file input.
            if file_name.is_empty() && size == 0 {
                continue;
            }
            files.uploads.push(Upload {
                key: name,
                name: file_name,
                path: temporary.to_path_buf(),
                size,
            });
            files._temporary.push(temporary);
            continue;
        }
        let text = field.text().await.map_err(|_| ApiError::bad_request())?;
        if name == "@jsonPayload" {
            payload =
                Some(serde_json::from_str::<Value>(&text).map_err(|_| ApiError::bad_request())?);
        } else {
            pairs.push((name, infer_scalar(&text)));
        }
    }
    let mut map = collect_form(pairs);
    if let Some(Value::Object(extra)) = payload {
        map.extend(extra);
    }
    Ok((map, files))
}

/// A key given once is a scalar; given N times, an array (PocketBase form semantics).
fn collect_form(pairs: impl IntoIterator<Item = (String, Value)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            None => {
                map.insert(k, v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    map
}

/// PB compat: `"true"`/`"false"` become bools, and a string whose shortest number
/// formatting is itself (`3`, `-1.5`, not `1.50` or `007`) becomes a number.
pub fn infer_scalar(s: &str) -> Value {
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        let n = kulisse_schema::value::number(f);
        let canonical = n.to_string();
        if canonical == s {
            return n;
        }
    }
    Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn form_values_are_inferred_like_pocketbase() {
        assert_eq!(infer_scalar("3"), json!(3));
        assert_eq!(infer_scalar("-1.5"), json!(-1.5));
        assert_eq!(infer_scalar("1.50"), json!("1.50"));
        assert_eq!(infer_scalar("007"), json!("007"));
        assert_eq!(infer_scalar("true"), json!(true));
        assert_eq!(infer_scalar(""), json!(""));
        let map = collect_form([
            ("a".into(), json!(1)),
            ("b".into(), json!("x")),
            ("a".into(), json!(2)),
        ]);
        assert_eq!(Value::Object(map), json!({"a":[1,2],"b":"x"}));
    }

    #[test]
    fn list_params_follow_pocketbase() {
        let q = |s: &str| list_params(&query_map(s));
        let p = q("page=0&perPage=5000&skipTotal=1").unwrap();
        assert_eq!((p.page, p.per_page, p.skip_total), (1, 5000, true));
        assert!(q("perPage=1.5").is_err());
        assert!(q("page=abc").is_err());
        assert!(q("skipTotal=yes").is_err());
        assert_eq!(q("perPage=-1").unwrap().per_page, 30);
    }
}
