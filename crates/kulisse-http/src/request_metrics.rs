//! Requests as metrics: counted by route template, method and status, and timed, in
//! [`Finalize`](crate::Finalize) as the answer goes out. Nothing here runs while metrics
//! are off: the routes are not tagged and no request is timed.
//!
//! The route template (`/api/collections/{collection}/records/{id}`) is what a dashboard
//! groups by: the path itself would make a series of every record. Each route's handlers
//! are wrapped ([`RouteTemplate`]) to put their template on the answer, so nothing is
//! looked up per request (axum's `MatchedPath` would clone and insert one into every
//! request's extensions, metrics or not).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use metrics::SharedString;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Counter, by `route`, `method` and `status`: answered requests.
const REQUESTS: &str = "kulisse_http_requests_total";
/// Histogram, by `route` and `method`: time from the request's head to its answer's head.
const DURATION: &str = "kulisse_http_request_duration_seconds";
/// The `route` of answers no route gave (the public directory's files, redirects).
const NO_ROUTE: &str = "other";

/// Gives the recorder the help text of the request series.
pub(crate) fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route template and status"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request (to the answer's head), by route template"
    );
}

/// A route's template, put on each of its answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteTemplate(pub &'static str);

impl<S> Layer<S> for RouteTemplate {
    type Service = Tagged<S>;

    fn layer(&self, inner: S) -> Tagged<S> {
        Tagged {
            inner,
            template: self.0,
        }
    }
}

/// A route's handlers, tagging their answers.
#[derive(Debug, Clone)]
pub(crate) struct Tagged<S> {
    inner: S,
    template: &'static str,
}

impl<S> Service<Request> for Tagged<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TaggedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        TaggedFuture {
            inner: self.inner.call(req),
            template: self.template,
        }
    }
}

pin_project! {
    /// A handler's answer, tagged with its route's template.
    pub(crate) struct TaggedFuture<F> {
        #[pin]
        inner: F,
        template: &'static str,
    }
}

impl<F, E> Future for TaggedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        res.extensions_mut().insert(RouteTemplate(this.template));
        Poll::Ready(Ok(res))
    }
}

/// A request being timed.
pub(crate) struct RequestTimer {
    started: Instant,
    method: &'static str,
}

impl RequestTimer {
    /// Starts timing a request with `method`.
    pub(crate) fn start(method: &Method) -> RequestTimer {
        RequestTimer {
            started: Instant::now(),
            method: method_label(method),
        }
    }

    /// Counts and times the request, answered with `res`.
    pub(crate) fn finish(self, res: &Response) {
        let route = res
            .extensions()
            .get::<RouteTemplate>()
            .map_or(NO_ROUTE, |t| t.0);
        let status = status_label(res.status());
        metrics::counter!(REQUESTS, "route" => route, "method" => self.method, "status" => status)
            .increment(1);
        metrics::histogram!(DURATION, "route" => route, "method" => self.method)
            .record(self.started.elapsed());
    }
}

/// The method as a label; methods no route takes are one label, so a client cannot
/// make series up.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status code as a label: the codes kulisse answers with are borrowed, any other is
/// spelled out.
fn status_label(status: StatusCode) -> SharedString {
    let known = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        206 => "206",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        307 => "307",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        416 => "416",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return SharedString::from(status.as_str().to_owned()),
    };
    SharedString::const_str(known)
}
