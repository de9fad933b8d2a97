//! Cross-site request forgery: no other site can make a signed-in browser change anything.
//!
//! Two independent guards on every state-changing request. The browser's own word on where
//! the request came from (`Sec-Fetch-Site`, else `Origin` against `Host`) must be this
//! site; and a form must carry a token derived from the session cookie, which a page of
//! another site can neither read nor compute. (The session cookie is also
//! `SameSite=Strict`.) The token is a hash of the session's token, so it needs no state
//! and every node agrees on it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use kulisse_http::AppState;
use kulisse_http::extract::{Files, RecordBody, WriteBody};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::page;
use crate::session::Session;

/// The form field that carries the token.
pub(crate) const FIELD: &str = "_csrf";

/// The largest form the dashboard reads.
const MAX_FORM_BYTES: usize = 1 << 20;

/// The token a session's forms carry.
pub(crate) fn token(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"kulisse dashboard form\0")
        .chain_update(session_token.as_bytes())
        .finalize();
    data_encoding::BASE64URL_NOPAD.encode(&digest)
}

/// Whether the browser says the request comes from this site's own pages. A client that
/// is no browser sends neither header and is let through: forgery is a browser's problem,
/// and the form token still stands.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = get(header::ORIGIN.as_str()) else {
        return true;
    };
    let authority = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest.trim_end_matches('/'));
    let hosts = [get("x-forwarded-host"), get(header::HOST.as_str())];
    !authority.is_empty()
        && hosts
            .into_iter()
            .flatten()
            .any(|h| h.eq_ignore_ascii_case(authority))
}

/// A state-changing form from a signed-in superuser, checked: from this site, with the
/// session's token. Anything else is refused with 403 before the handler runs.
pub(crate) struct Checked<T> {
    /// Who sent it.
    pub session: Session,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Checked<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(page::forgery());
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| page::bad_form())?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| page::bad_form())?;
        let sent = pairs
            .iter()
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.as_str());
        if !sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(session.csrf.as_bytes()))) {
            return Err(page::forgery());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| page::bad_form())?;
        Ok(Checked { session, form })
    }
}

/// A record form (multipart, with files) from a signed-in superuser, checked as
/// [`Checked`] is, and decoded as the API decodes a record's body (the files streamed to
/// temporary files that live as long as this).
pub(crate) struct CheckedRecord {
    /// Who sent it.
    pub session: Session,
    /// The fields, without the form token.
    pub fields: Map<String, Value>,
    /// The file parts.
    pub files: Files<RecordBody>,
}

impl FromRequest<AppState> for CheckedRecord {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(page::forgery());
        }
        let req = Request::from_parts(parts, body);
        let WriteBody(mut fields, files) = WriteBody::<RecordBody>::from_request(req, state)
            .await
            .map_err(|_| page::bad_form())?;
        let sent = match fields.remove(FIELD) {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
            return Err(page::forgery());
        }
        Ok(CheckedRecord {
            session,
            fields,
            files,
        })
    }
}

/// A form sent before there is a session (login, install): from this site only.
pub(crate) struct SameOrigin<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SameOrigin<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Response> {
        if !same_origin(req.headers()) {
            return Err(page::forgery());
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| page::bad_form())?;
        serde_urlencoded::from_bytes(&bytes)
            .map(SameOrigin)
            .map_err(|_| page::bad_form())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_this_sites_pages_pass() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "http://evil:1"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "null"),
            ("host", "a:1")
        ])));
        assert!(same_origin(&headers(&[("host", "a:1")])));
    }

    #[test]
    fn tokens_differ_by_session() {
        assert_ne!(token("a"), token("b"));
        assert_eq!(token("a"), token("a"));
    }
}
