//! The dashboard's sign-in: a cookie holding the superuser's auth token.
//!
//! The token is the one the API would hand out, so it expires with the superusers'
//! auth-token duration, every node accepts it, and changing the password (a new token key)
//! ends every session. The cookie is `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it), limited to `/_/` (the API never sees it, so it can never
//! authorise an API call made by another site), and `Secure` when the request came over TLS
//! through a proxy.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use kulisse_core::auth::Auth;
use kulisse_core::query::RequestInfo;
use kulisse_http::AppState;
use kulisse_http::extract::RemoteIp;

use crate::csrf;
use crate::page;

/// The cookie's name.
const COOKIE: &str = "kulisse_session";
/// The cookie's path: the dashboard's pages only.
const COOKIE_PATH: &str = "/_/";

/// A signed-in superuser, for handlers that need one. A request without a valid session
/// is sent to the login form, and back here after it.
pub(crate) struct Session {
    /// The superuser, as the services take a requester.
    pub auth: Auth,
    /// Their address.
    pub email: String,
    /// The token state-changing forms must carry (see [`csrf`]).
    pub csrf: String,
}

impl Session {
    /// This superuser's request, as the services read a requester (`method` as the API's
    /// route for the same action would have it; the services' clock for `@now`).
    pub(crate) fn request(&self, state: &AppState, method: &str) -> RequestInfo {
        let mut req = RequestInfo::for_auth(self.auth.clone(), method);
        req.now = Some(state.services.ambient.clock.now());
        req
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = token(&parts.headers);
        let auth = match &token {
            Some(token) => state.services.auth.authenticate(Some(token)).await,
            None => Auth::Guest,
        };
        let (Some(token), true) = (token, auth.is_superuser()) else {
            let from_htmx = parts.headers.contains_key("hx-request");
            // htmx's own requests come back to the page they were made from.
            let page = parts
                .headers
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(|url| url.find("/_/").map(|at| &url[at..]));
            let here = match (from_htmx, page) {
                (true, Some(page)) => page,
                _ => parts.uri.path_and_query().map_or("/_/", |p| p.as_str()),
            };
            return Err(to_login(here, from_htmx));
        };
        let Ok(RemoteIp(ip)) = RemoteIp::from_request_parts(parts, state).await;
        if state.services.settings.check_superuser_ip(ip).is_err() {
            return Err(page::forbidden());
        }
        let email = match &auth {
            Auth::Record { record, .. } => record
                .get("email")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Auth::Guest => String::new(),
        };
        Ok(Session {
            csrf: csrf::token(&token),
            auth,
            email,
        })
    }
}

/// The session token the request's cookie holds.
pub(crate) fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A redirect to the login form that comes back to `next` after it. For htmx's own
/// requests (a count, the picker), the whole page goes there: a redirect the browser
/// followed by itself would put the login form inside the part being loaded.
fn to_login(next: &str, from_htmx: bool) -> Response {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    let login = format!("/_/login?{query}");
    if from_htmx {
        let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&login) {
            response.headers_mut().insert("hx-redirect", v);
        }
        return response;
    }
    Redirect::to(&login).into_response()
}

/// Where to go after signing in: `next` when it is a dashboard page (never another site).
pub(crate) fn after_login(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/_/") && !n.contains("//") && !n.contains('\\') => n.to_owned(),
        _ => "/_/".to_owned(),
    }
}

/// `Set-Cookie` starting a session with `token`, for `max_age` seconds.
pub(crate) fn start(token: &str, max_age: u64, headers: &HeaderMap) -> HeaderValue {
    let seconds = i64::try_from(max_age).unwrap_or(i64::MAX);
    cookie_header(
        Cookie::build((COOKIE, token.to_owned())).max_age(cookie::time::Duration::seconds(seconds)),
        headers,
    )
}

/// `Set-Cookie` ending the session.
pub(crate) fn end(headers: &HeaderMap) -> HeaderValue {
    cookie_header(
        Cookie::build((COOKIE, "")).max_age(cookie::time::Duration::ZERO),
        headers,
    )
}

fn cookie_header(cookie: cookie::CookieBuilder<'static>, headers: &HeaderMap) -> HeaderValue {
    let cookie = cookie
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(headers))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Whether the browser reached us over TLS: kulisse itself speaks plain HTTP, so only a
/// proxy in front says so (`X-Forwarded-Proto: https`, or `Forwarded: proto=https`).
/// Believing a forged header only makes the cookie stricter.
fn over_tls(headers: &HeaderMap) -> bool {
    let says_https = |name: &str, prefix: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split([',', ';'])
                    .any(|part| part.trim().eq_ignore_ascii_case(prefix))
            })
        })
    };
    says_https("x-forwarded-proto", "https") || says_https("forwarded", "proto=https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_pages_are_gone_back_to() {
        assert_eq!(
            after_login(Some("/_/collections/posts?page=2")),
            "/_/collections/posts?page=2"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/_/",
            "/_//evil.example",
            "/api/x",
            "/_/\\evil",
        ] {
            assert_eq!(after_login(Some(bad)), "/_/", "{bad}");
        }
        assert_eq!(after_login(None), "/_/");
    }

    #[test]
    fn htmx_is_sent_to_the_login_page_whole() {
        let plain = to_login("/_/x", false);
        assert_eq!(plain.status(), axum::http::StatusCode::SEE_OTHER);
        let htmx = to_login("/_/collections/a?page=2", true);
        assert_eq!(htmx.status(), axum::http::StatusCode::NO_CONTENT);
        assert_eq!(
            htmx.headers()["hx-redirect"],
            "/_/login?next=%2F_%2Fcollections%2Fa%3Fpage%3D2"
        );
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_tls() {
        let plain = start("tok", 60, &HeaderMap::new());
        let plain = plain.to_str().unwrap();
        for flag in [
            "kulisse_session=tok",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/_/",
            "Max-Age=60",
        ] {
            assert!(plain.contains(flag), "{plain}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        let mut tls = HeaderMap::new();
        tls.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(start("tok", 60, &tls).to_str().unwrap().contains("Secure"));
        let mut forwarded = HeaderMap::new();
        forwarded.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert!(end(&forwarded).to_str().unwrap().contains("Secure"));
    }
}
