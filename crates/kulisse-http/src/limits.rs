//! Rate limits at the door: [`Finalize`](crate::Finalize) reads a request's route from its
//! path before routing ([`classify`], no allocation) and asks the services whether any
//! rule could be about it; only then is the request checked ([`refusal`]) and, over its
//! rule, answered with PocketBase's 429 plus a `Retry-After` header (which PocketBase does
//! not send).
//!
//! The request is described in the terms the rules use: the route's tags, the collection
//! by its name (whatever the URL spelled: an id, another case, percent-encoding) and the
//! decoded path with that name in it, so no spelling of a URL counts apart from another.
//!
//! NOTE: this runs inside `Finalize` rather than as `from_fn` middleware around the
//! routes: that middleware cost every request ~4–5k instructions (18 % of a view) even
//! when no rule was about it; here such a request costs a path split and a scan of the
//! rules.

use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use kulisse_core::Services;
use kulisse_core::limits::Attempt;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;
use crate::extract::{peer, real_ip};

/// What the limits need to know of a route, read from a request's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    /// PocketBase's rate-limit tags of the route (its action words; logins also `auth`).
    pub tags: &'static [&'static str],
    /// The collection segment of a record, auth or file route, as the URL spells it.
    pub collection: Option<&'a str>,
}

/// The route of `path` for the limits: the record, auth and file routes by their shapes
/// (the route table's `/api/collections/{collection}/records[/{id}]`,
/// `/api/collections/{collection}/<action>`, `/api/files/{collection}/{id}/{filename}`);
/// any other path has no tags.
pub(crate) fn classify<'a>(method: &Method, path: &'a str) -> Route<'a> {
    let none = Route {
        tags: &[],
        collection: None,
    };
    if let Some(rest) = path.strip_prefix("/api/files/") {
        let mut segments = rest.split('/');
        return match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some(c), Some(_), Some(_), None) if *method == Method::GET => Route {
                tags: &["file"],
                collection: Some(c),
            },
            _ => none,
        };
    }
    let Some(rest) = path.strip_prefix("/api/collections/") else {
        return none;
    };
    let mut segments = rest.split('/');
    let (Some(c), Some(action)) = (segments.next(), segments.next()) else {
        return none;
    };
    let (id, more) = (segments.next(), segments.next());
    let tags: &'static [&'static str] = match (action, id, more) {
        ("records", None, _) => match *method {
            Method::GET => &["list"],
            Method::POST => &["create"],
            _ => &[],
        },
        ("records", Some(id), None) if !id.is_empty() => match *method {
            Method::GET => &["view"],
            Method::PATCH => &["update"],
            Method::DELETE => &["delete"],
            _ => &[],
        },
        (action, None, _) => action_tags(action),
        _ => &[],
    };
    Route {
        tags,
        collection: Some(c),
    }
}

/// The tags of the auth routes `/api/collections/{collection}/<action>`.
fn action_tags(action: &str) -> &'static [&'static str] {
    match action {
        "auth-methods" => &["listAuthMethods"],
        "auth-refresh" => &["authRefresh"],
        "auth-with-password" => &["authWithPassword", "auth"],
        "auth-with-oauth2" => &["authWithOAuth2", "auth"],
        "request-otp" => &["requestOTP"],
        "auth-with-otp" => &["authWithOTP", "auth"],
        "request-verification" => &["requestVerification"],
        "confirm-verification" => &["confirmVerification"],
        "request-password-reset" => &["requestPasswordReset"],
        "confirm-password-reset" => &["confirmPasswordReset"],
        "request-email-change" => &["requestEmailChange"],
        "confirm-email-change" => &["confirmEmailChange"],
        _ => &[],
    }
}

/// Counts the request of `req` (its head) against the rule about it: `Some(429)` when it
/// is over.
pub(crate) async fn refusal(services: &Services, req: &Parts) -> Option<Response> {
    let route = classify(&req.method, req.uri.path());
    let decoded = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let collection = route.collection.map(decoded).and_then(|c| {
        services
            .collections
            .registry()
            .get(&c)
            .map(|c| c.name.clone())
    });
    let mut path = decoded(req.uri.path());
    if let (Some(raw), Some(name)) = (route.collection, &collection) {
        // The collection as it is named, where the URL had its id or another spelling.
        let raw = decoded(raw);
        for prefix in ["/api/collections/", "/api/files/"] {
            if let Some(rest) = path
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix(raw.as_str()))
            {
                path = format!("{prefix}{name}{rest}");
                break;
            }
        }
    }
    let proxy = services.settings.trusted_proxy();
    let attempt = Attempt {
        method: req.method.as_str(),
        path: &path,
        collection: collection.as_deref(),
        tags: route.tags,
        ip: real_ip(&req.headers, peer(&req.extensions), &proxy),
    };
    if !services.limits.may_limit(&attempt) {
        return None;
    }
    let header = req.headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok());
    let auth = services.auth.authenticate(header).await;
    let limited = services.limits.check(&attempt, &auth).await.err()?;
    let mut res = ApiError::too_many_requests().into_response();
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(limited.retry_after));
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_told_by_their_shapes() {
        let cases: [(Method, &str, &[&str], Option<&str>); 12] = [
            (
                Method::GET,
                "/api/collections/users/records",
                &["list"],
                Some("users"),
            ),
            (
                Method::POST,
                "/api/collections/users/records",
                &["create"],
                Some("users"),
            ),
            (
                Method::GET,
                "/api/collections/users/records/abc",
                &["view"],
                Some("users"),
            ),
            (
                Method::PATCH,
                "/api/collections/users/records/abc",
                &["update"],
                Some("users"),
            ),
            (
                Method::DELETE,
                "/api/collections/users/records/abc",
                &["delete"],
                Some("users"),
            ),
            (
                Method::GET,
                "/api/files/users/abc/a.png",
                &["file"],
                Some("users"),
            ),
            (
                Method::POST,
                "/api/collections/USERS/auth-with-password",
                &["authWithPassword", "auth"],
                Some("USERS"),
            ),
            (
                Method::POST,
                "/api/collections/users/auth-with-otp",
                &["authWithOTP", "auth"],
                Some("users"),
            ),
            (
                Method::GET,
                "/api/collections/users/auth-methods",
                &["listAuthMethods"],
                Some("users"),
            ),
            (Method::GET, "/api/health", &[], None),
            (Method::GET, "/api/collections/users", &[], None),
            (
                Method::GET,
                "/api/collections/users/records/abc/x",
                &[],
                Some("users"),
            ),
        ];
        for (method, path, tags, collection) in cases {
            let route = classify(&method, path);
            assert_eq!(
                (route.tags, route.collection),
                (tags, collection),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn every_tag_a_route_carries_is_one_the_limits_know() {
        let actions = [
            "auth-methods",
            "auth-refresh",
            "auth-with-password",
            "auth-with-oauth2",
            "request-otp",
            "auth-with-otp",
            "request-verification",
            "confirm-verification",
            "request-password-reset",
            "confirm-password-reset",
            "request-email-change",
            "confirm-email-change",
        ];
        let records = ["list", "create", "view", "update", "delete", "file"];
        for tag in actions.iter().flat_map(|a| action_tags(a)).chain(&records) {
            assert!(kulisse_core::limits::TAGS.contains(tag), "{tag}");
        }
    }
}
