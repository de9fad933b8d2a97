//! Requests as metrics: counted by route template, method and status, and timed, in
//! [`Finalize`](crate::Finalize) as the answer goes out. While metrics are off no request
//! is counted or timed.
//!
//! The route template (`/api/collections/{collection}/records/{id}`) is what a dashboard
//! groups by: the path itself would make a series of every record. [`RouteTemplates`]
//! finds a request's template with the router axum itself matches with (matchit), over the
//! route table's own templates, as the request comes in; the request log (for the
//! analytics) and the request's trace span name requests by it too, each only when on.
//!
//! NOTE: tagging each route's answers instead (a layer on every route, the template in
//! the answer's extensions) cost ~1.5k instructions a request: axum boxes and clones a
//! layered route's service per request, and the extensions' map is allocated per answer.

use std::cell::RefCell;
use std::time::Instant;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rustc_hash::FxHashMap;

/// Counter, by `route`, `method` and `status`: answered requests.
const REQUESTS: &str = "kulisse_http_requests_total";
/// Histogram, by `route` and `method`: time from the request's head to its answer's head.
const DURATION: &str = "kulisse_http_request_duration_seconds";
/// The `route` of requests no route takes (the public directory's files).
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

/// The route table's templates, for finding a request's.
pub(crate) struct RouteTemplates {
    router: matchit::Router<&'static str>,
}

impl RouteTemplates {
    /// Matches the route table's `templates` (axum's syntax, which is matchit's).
    pub(crate) fn new(templates: &[&'static str]) -> RouteTemplates {
        let mut router = matchit::Router::new();
        for template in templates {
            // The route table accepted them, so they do not conflict.
            let _ = router.insert(*template, *template);
        }
        RouteTemplates { router }
    }

    /// The template `path` is routed by; [`NO_ROUTE`] for the public directory's files.
    pub(crate) fn of(&self, path: &str) -> &'static str {
        self.router.at(path).map_or(NO_ROUTE, |m| *m.value)
    }
}

/// A request being timed.
pub(crate) struct RequestTimer {
    started: Instant,
    route: &'static str,
    method: &'static str,
}

impl RequestTimer {
    /// Starts timing a request with `method` to `route` (its template).
    pub(crate) fn start(method: &Method, route: &'static str) -> RequestTimer {
        RequestTimer {
            started: Instant::now(),
            route,
            method: method_label(method),
        }
    }

    /// Counts and times the request, answered with `res`.
    pub(crate) fn finish(self, res: &Response) {
        let route = self.route;
        let took = self.started.elapsed();
        let key = (
            route.as_ptr() as usize,
            self.method.as_ptr() as usize,
            res.status(),
        );
        SERIES.with_borrow_mut(|series| {
            let (count, time) = series.entry(key).or_insert_with(|| {
                // Once per thread and series: the label's allocation does not matter.
                let status = res.status().as_str().to_owned();
                (
                    metrics::counter!(REQUESTS, "route" => route, "method" => self.method, "status" => status),
                    metrics::histogram!(DURATION, "route" => route, "method" => self.method),
                )
            });
            count.increment(1);
            time.record(took);
        });
    }
}

/// A request series' handles: its count and its latency histogram.
type Series = (metrics::Counter, metrics::Histogram);

thread_local! {
    /// Each worker thread's handles, by route template, method (each a `&'static str`,
    /// known by its address) and status. Registering a series looks its labels up in the
    /// recorder (hashing, comparing and sorting them: ~4k instructions, 6 % of a view); a
    /// handle is a pointer to the series. Routes, methods and statuses are few, so the map
    /// stays small.
    static SERIES: RefCell<FxHashMap<(usize, usize, StatusCode), Series>> = RefCell::default();
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
