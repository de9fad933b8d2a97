//! The service every request and response passes through, around the route table:
//! PocketBase's CORS, `//` redirects, rate limits (`limits.rs`), the `fields` parameter,
//! security headers, axum's own statuses (405, 413, non-JSON 404) turned into
//! PocketBase's, the request log (`request_log.rs`), the request metrics
//! (`request_metrics.rs`) and the request's span (`request_trace.rs`).
//!
//! NOTE: this is one hand-written tower service, not `from_fn` middleware plus
//! tower-http's CORS layer. Those cloned their inner services (and the CORS
//! configuration's header lists) on every request, and tower-http's CORS answers differ
//! from PocketBase's (`Vary`, preflights, requests without `Origin`). Together they were
//! ~5k of a view's ~47k instructions.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_REQUEST_HEADERS, HeaderName, HeaderValue, ORIGIN, VARY, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use pin_project_lite::pin_project;
use tower::Service;
use tracing::Instrument;

use kulisse_core::Services;

use super::error::ApiError;
use super::fields::FieldsFilter;
use super::limits;
use super::middleware::{is_json, pick_fields, redirect_to_clean_path};
use super::request_log::Capture;
use super::request_metrics::{RequestTimer, RouteTemplates};
use super::request_trace;

/// The headers PocketBase sets on every response but preflights.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        HeaderName::from_static("x-xss-protection"),
        HeaderValue::from_static("1; mode=block"),
    ),
    (
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    ),
    (
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("SAMEORIGIN"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const ALLOWED_METHODS: HeaderValue = HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE");
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
const VARY_PREFLIGHT: [HeaderValue; 2] = [
    HeaderValue::from_static("Access-Control-Request-Method"),
    HeaderValue::from_static("Access-Control-Request-Headers"),
];

/// Which origins may read responses (PocketBase's `--origins`; empty or `*` = any).
#[derive(Debug)]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
}

impl Cors {
    /// The policy for the given origins.
    pub fn new(origins: &[String]) -> Self {
        let any = origins.is_empty() || origins.iter().any(|o| o == "*");
        Self {
            origins: (!any).then(|| {
                origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect()
            }),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin.filter(|o| !o.is_empty())?;
        match &self.origins {
            None => Some(ANY_ORIGIN),
            Some(list) => list.contains(origin).then(|| origin.clone()),
        }
    }

    /// A preflight's answer, as PocketBase gives it to every `OPTIONS` request: 204 with
    /// the allowed methods and the requested headers echoed, or a bare 204 for an origin
    /// that is missing or not allowed.
    fn preflight(&self, req: &Request) -> Response {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let headers = res.headers_mut();
        headers.append(VARY, VARY_ORIGIN);
        if let Some(origin) = self.allow(req.headers().get(ORIGIN)) {
            for v in VARY_PREFLIGHT {
                headers.append(VARY, v);
            }
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS);
            if let Some(requested) = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
        }
        res
    }
}

/// The application: the route table inside [`Finalize`]'s handling. Cloning it (hyper
/// does, per request) copies two reference counts.
#[derive(Clone)]
pub struct Finalize {
    routes: Router,
    /// Behind one reference count: the service is cloned for every request, and each
    /// count is a cache line every core writes.
    shared: Arc<Shared>,
}

/// What [`Finalize`] reads besides the routes.
struct Shared {
    cors: Cors,
    /// For the rate limits and the request log.
    services: Arc<Services>,
    /// The routes' templates, which the metrics and the request log's analytics group by.
    templates: RouteTemplates,
    /// Whether requests are counted and timed (metrics are on).
    metrics: bool,
}

impl Finalize {
    /// Wraps the route table, whose `templates` are given; with `metrics`, requests are
    /// counted and timed.
    pub(crate) fn new(
        routes: Router,
        cors: Cors,
        services: Arc<Services>,
        templates: RouteTemplates,
        metrics: bool,
    ) -> Self {
        Self {
            routes,
            shared: Arc::new(Shared {
                cors,
                services,
                templates,
                metrics,
            }),
        }
    }
}

/// What is done to the router's answer.
struct After {
    is_api: bool,
    allow_origin: Option<HeaderValue>,
    /// The request's log entry in the making (none while logging is off). Boxed: inline,
    /// it made every request's future bigger, logging or not.
    log: Option<Box<Capture>>,
    /// The request's timing for the metrics (none while metrics are off).
    timer: Option<RequestTimer>,
    /// The request's span (none while nothing records it). Boxed, as `log`.
    span: Option<Box<tracing::Span>>,
}

impl After {
    fn apply(self, mut res: Response) -> Response {
        match res.status() {
            StatusCode::METHOD_NOT_ALLOWED => res = ApiError::not_found().into_response(),
            StatusCode::PAYLOAD_TOO_LARGE if !is_json(&res) => {
                res = ApiError::too_large().into_response()
            }
            StatusCode::NOT_FOUND if self.is_api && !is_json(&res) => {
                res = ApiError::not_found().into_response()
            }
            _ => {}
        }
        // NOTE: no `reserve` here: `http::json` makes JSON answers' maps big enough.
        let framable = res.extensions().get::<Framable>().is_some();
        add_cors_and_security(res.headers_mut(), self.allow_origin, framable);
        if let Some(log) = self.log {
            log.finish(&res);
        }
        if let Some(timer) = self.timer {
            timer.finish(&res);
        }
        if let Some(span) = &self.span {
            request_trace::finish(span, res.status());
        }
        res
    }

    /// The request's span, to run its answer in.
    fn span(&self) -> Option<tracing::Span> {
        self.span.as_deref().cloned()
    }
}

/// `future`, boxed, inside `span` (if the request has one).
fn traced(
    span: Option<tracing::Span>,
    future: impl Future<Output = Response> + Send + 'static,
) -> Pin<Box<dyn Future<Output = Response> + Send>> {
    match span {
        Some(span) => Box::pin(future.instrument(span)),
        None => Box::pin(future),
    }
}

/// Marks a response that pages may show in a frame (a served file: an image or a PDF in
/// the app's own page), so it gets no `X-Frame-Options`, as PocketBase's file responses.
#[derive(Clone, Copy)]
pub(crate) struct Framable;

fn add_cors_and_security(
    headers: &mut HeaderMap,
    allow_origin: Option<HeaderValue>,
    framable: bool,
) {
    headers.append(VARY, VARY_ORIGIN);
    if let Some(origin) = allow_origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    for (name, value) in SECURITY_HEADERS {
        if !(framable && name == X_FRAME_OPTIONS) {
            headers.insert(name, value);
        }
    }
}

impl Service<Request> for Finalize {
    type Response = Response;
    type Error = Infallible;
    type Future = FinalizeFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.routes, cx)
    }

    fn call(&mut self, req: Request) -> FinalizeFuture {
        if req.method() == Method::OPTIONS {
            return FinalizeFuture::ready(self.shared.cors.preflight(&req));
        }
        if req.uri().path().contains("//") {
            // PB compat: the redirect comes before any of PocketBase's middleware, bare.
            return FinalizeFuture::ready(redirect_to_clean_path(req.uri()));
        }
        let route = limits::classify(req.method(), req.uri().path());
        let shared = &self.shared;
        let after = After {
            is_api: req.uri().path().starts_with("/api/"),
            allow_origin: shared.cors.allow(req.headers().get(ORIGIN)),
            log: Capture::start(&shared.services, &req, &shared.templates, &route).map(Box::new),
            timer: shared
                .metrics
                .then(|| RequestTimer::start(req.method(), shared.templates.of(req.uri().path()))),
            span: request_trace::start(req.method(), req.uri().path(), &shared.templates),
        };
        let fields = req
            .uri()
            .query()
            .and_then(|q| super::extract::query_map(q).remove("fields"))
            .map(|raw| FieldsFilter::parse(&raw));
        if self.shared.services.limits.may_apply(route.tags) {
            // A rule may be about this request: checked before routing, off the fast path.
            let (services, mut routes) = (Arc::clone(&self.shared.services), self.routes.clone());
            return FinalizeFuture::Boxed {
                inner: traced(after.span(), async move {
                    let (parts, body) = req.into_parts();
                    if let Some(refused) = limits::refusal(&services, &parts).await {
                        return after.apply(refused);
                    }
                    let res = match routes.call(Request::from_parts(parts, body)).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    };
                    match fields {
                        Some(Ok(Some(filter))) => after.apply(pick_fields(res, &filter).await),
                        Some(Err(e)) => after.apply(e.into_response()),
                        None | Some(Ok(None)) => after.apply(res),
                    }
                }),
            };
        }
        match fields {
            None | Some(Ok(None)) => FinalizeFuture::Routed {
                inner: self.routes.call(req),
                after: Some(after),
            },
            Some(Err(e)) => FinalizeFuture::ready(after.apply(e.into_response())),
            Some(Ok(Some(filter))) => {
                let inner = self.routes.call(req);
                FinalizeFuture::Boxed {
                    inner: traced(after.span(), async move {
                        let res = match inner.await {
                            Ok(res) => res,
                            Err(never) => match never {},
                        };
                        after.apply(pick_fields(res, &filter).await)
                    }),
                }
            }
        }
    }
}

pin_project! {
    /// [`Finalize`]'s answer: ready at once, the router's with the fix-ups applied, or a
    /// boxed future when more happens around the router: `fields` picking (which reads the
    /// whole body), or a rate limit checked first.
    #[project = FinalizeProj]
    pub enum FinalizeFuture {
        /// Answered without the router.
        Ready { response: Option<Response> },
        /// The router's answer, then [`After::apply`].
        Routed { #[pin] inner: RouteFuture<Infallible>, after: Option<After> },
        /// The router's answer after a rate-limit check or with `fields` picked.
        Boxed { inner: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl FinalizeFuture {
    fn ready(response: Response) -> Self {
        Self::Ready {
            response: Some(response),
        }
    }
}

impl Future for FinalizeFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            FinalizeProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            FinalizeProj::Routed { inner, after } => {
                let span = after.as_ref().and_then(After::span);
                let _entered = span.as_ref().map(tracing::Span::enter);
                match inner.poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(res)) => {
                        let after = after.take().expect("polled after completion");
                        Poll::Ready(Ok(after.apply(res)))
                    }
                    Poll::Ready(Err(never)) => match never {},
                }
            }
            FinalizeProj::Boxed { inner } => inner.as_mut().poll(cx).map(Ok),
        }
    }
}
