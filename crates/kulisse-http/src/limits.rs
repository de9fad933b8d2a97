//! Rate limits at the door: one middleware around every matched route asks the services'
//! [`RateLimits`](kulisse_core::limits::RateLimits) before the handler runs, and answers
//! PocketBase's 429 (with a `Retry-After` header, which PocketBase does not send) when the
//! client is over its rule.
//!
//! It describes the request in the terms the rules use: the route's tags (from the route
//! table), the collection by its name (whatever the URL spelled) and the path rebuilt from
//! the matched route, so no spelling of a URL counts apart from another.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kulisse_core::limits::Attempt;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{peer, real_ip};
use crate::routes;

/// The middleware (`route_layer`, so only matched routes reach it).
pub async fn rate_limit(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(template) = parts.extensions.get::<MatchedPath>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let tags = routes::tags(&parts.method, template.as_str());
    let params = RawPathParams::from_request_parts(&mut parts, &s).await.ok();
    let param = |name: &str| {
        params
            .as_ref()
            .and_then(|p| p.iter().find(|(k, _)| *k == name).map(|(_, v)| v))
    };
    let collection = param("collection")
        .and_then(|c| s.services.collections.registry().get(c))
        .map(|c| c.name.clone());
    let path = canonical_path(template.as_str(), collection.as_deref(), param);
    let proxy = s.services.settings.trusted_proxy();
    let attempt = Attempt {
        method: parts.method.as_str(),
        path: &path,
        collection: collection.as_deref(),
        tags,
        ip: real_ip(&parts.headers, peer(&parts.extensions), &proxy),
    };
    let limits = &s.services.limits;
    if limits.may_limit(&attempt) {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let auth = s.services.auth.authenticate(header).await;
        if let Err(limited) = limits.check(&attempt, &auth).await {
            let mut res = ApiError::too_many_requests().into_response();
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(limited.retry_after));
            return res;
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The request's path as the route table spells it: `template` with the collection's name
/// and the other parameters' decoded values.
fn canonical_path<'a>(
    template: &str,
    collection: Option<&str>,
    param: impl Fn(&str) -> Option<&'a str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    for (i, segment) in template.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some("collection") => out.push_str(
                collection
                    .or_else(|| param("collection"))
                    .unwrap_or_default(),
            ),
            Some(name) => out.push_str(param(name.trim_start_matches('*')).unwrap_or_default()),
            None => out.push_str(segment),
        }
    }
    out
}
