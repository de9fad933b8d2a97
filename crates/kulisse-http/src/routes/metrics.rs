//! `GET /metrics`: every series for a scraper, in the exporter's format (Prometheus
//! text). Off unless the operator turns it on: on the API's address behind a bearer token,
//! or on an address of its own (`--metrics-http`, such as a private interface), where a
//! token is optional.

use std::sync::Arc;

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use kulisse_core::metrics::MetricsService;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use crate::error::ApiError;

/// The scrape route: `token`, when set, must come as `Authorization: Bearer <token>`.
pub(crate) fn scrape<S>(metrics: MetricsService, token: Option<Arc<str>>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move |headers: HeaderMap| {
        let (metrics, token) = (metrics.clone(), token.clone());
        async move {
            if let Some(token) = token
                && !carries(&headers, &token)
            {
                let mut refused =
                    ApiError::unauthorized("The request requires the metrics bearer token.")
                        .into_response();
                refused
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return refused;
            }
            // Rendering walks every series (and reads /proc): off the async workers.
            let text = {
                let metrics = metrics.clone();
                tokio::task::spawn_blocking(move || metrics.render()).await
            };
            match text {
                Ok(text) => ([(CONTENT_TYPE, metrics.content_type())], text).into_response(),
                Err(_) => ApiError::bad_request().into_response(),
            }
        }
    })
}

/// Whether `headers` carry `token` as a bearer token (compared in constant time).
fn carries(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())))
}

/// Serves `/metrics` alone on `listener` (`--metrics-http`), until the task is aborted:
/// a scrape in flight at shutdown is not worth waiting for.
///
/// # Errors
/// When the listener fails.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: MetricsService,
    token: Option<String>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", scrape(metrics, token.map(Arc::from)))
        .fallback(|| async { ApiError::not_found() });
    axum::serve(listener, app).await
}
