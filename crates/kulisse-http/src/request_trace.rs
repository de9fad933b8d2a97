//! A span per request, for tracing: `INFO` on the target `kulisse::request`, named as
//! OpenTelemetry names server spans (`GET /api/collections/{collection}/records`) with its
//! semantic attributes (`http.request.method`, `http.route`, `url.path`,
//! `http.response.status_code`). A build with the `otel` feature exports these spans; with
//! `RUST_LOG=kulisse::request=info` the log lines of a request carry its span.
//!
//! When nothing listens for the span (the default), the macro stops at one comparison of
//! levels: no template is looked up and nothing is allocated.

use axum::http::{Method, StatusCode};
use tracing::Span;
use tracing::field::Empty;

use super::request_metrics::RouteTemplates;

/// The span of a request with `method` to `path`; none when nothing would record it.
pub(crate) fn start(method: &Method, path: &str, templates: &RouteTemplates) -> Option<Box<Span>> {
    let span = tracing::info_span!(
        target: "kulisse::request",
        "request",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = Empty,
        url.path = path,
        http.response.status_code = Empty,
    );
    if span.is_disabled() {
        return None;
    }
    let route = templates.of(path);
    span.record("http.route", route);
    span.record("otel.name", format!("{method} {route}"));
    Some(Box::new(span))
}

/// Records the answer's `status` on `span` (a server error also marks the span failed, as
/// OpenTelemetry's HTTP conventions say; a 4xx is the client's).
pub(crate) fn finish(span: &Span, status: StatusCode) {
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}
