//! The HTTP API: PocketBase's routes on axum.
//!
//! Request flow: [`Finalize`] (CORS, security headers, `fields`, status fix-ups) → route
//! → extractors ([`extract::Req`] resolves the token into the requester, list params and
//! bodies are decoded with PocketBase's rules) → one service call → JSON.
//! Handlers contain no SQL, rules or validation; errors become [`error::ApiError`].
//!
//! Must not depend on: kulisse-store, the engines or adapters, SQL drivers (the services
//! are the only way in).

pub mod error;
pub mod extract;
pub mod fields;
mod finalize;
mod json;
mod limits;
mod middleware;
mod request_log;
mod request_metrics;
mod request_trace;
mod routes;
mod serve;

use std::path::PathBuf;

use kulisse_core::Services;

pub use finalize::Finalize;
pub use routes::metrics::serve_metrics;
pub use serve::serve;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The services (behind one `Arc`: every extractor clones the state).
    pub services: std::sync::Arc<Services>,
    /// Where uploads wait for their write ([`HttpOptions::uploads_dir`]).
    pub uploads_dir: Option<std::sync::Arc<std::path::Path>>,
}

/// Pages served beside the API by a crate of their own (the dashboard at `/_/`, which
/// builds on this crate's state and extractors): their routes, and the routes' templates
/// for the request metrics.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    /// The routes, on the API's state.
    pub router: axum::Router<AppState>,
    /// Every route's path template.
    pub templates: Vec<&'static str>,
}

/// Server options that shape the router.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Directory served at `/` (the team's frontend), if it exists.
    pub public_dir: Option<PathBuf>,
    /// Allowed CORS origins; empty means `*`.
    pub origins: Vec<String>,
    /// Where uploaded files wait, streamed to disk, until their write is answered: the
    /// data dir's, so they are never in memory (the OS temp dir may be a tmpfs). `None`:
    /// the OS temp dir.
    pub uploads_dir: Option<PathBuf>,
    /// With metrics on: the bearer token that opens `GET /metrics` on the API's address.
    /// `None`: no `/metrics` there (metrics may be served on an address of their own,
    /// [`serve_metrics`]).
    pub metrics_token: Option<String>,
    /// The dashboard's pages under `/_/`; without them `/_/` answers PocketBase's 404.
    pub dashboard: Option<Pages>,
}

/// The whole application as one service: PocketBase's routes inside [`Finalize`].
pub type App = Finalize;

/// Builds the whole application (used by `serve` and the tests alike).
pub fn router(services: Services, opts: &HttpOptions) -> App {
    let state = AppState {
        services: std::sync::Arc::new(services),
        uploads_dir: opts.uploads_dir.as_deref().map(std::sync::Arc::from),
    };
    let services = std::sync::Arc::clone(&state.services);
    let mut table = routes::api();
    table = match &opts.dashboard {
        Some(pages) => table.merge(pages),
        None => routes::without_dashboard(table),
    };
    if let Some(metrics) = &services.metrics {
        request_metrics::describe();
        if let Some(token) = &opts.metrics_token {
            let token = Some(std::sync::Arc::from(token.as_str()));
            table = table.route("/metrics", routes::metrics::scrape(metrics.clone(), token));
        }
    }
    let templates = request_metrics::RouteTemplates::new(&table.templates);
    let metrics = services.metrics.is_some();
    let routes = table
        .router
        .with_state(state)
        .fallback_service(middleware::static_files(opts.public_dir.as_deref()));
    Finalize::new(
        routes,
        finalize::Cors::new(&opts.origins),
        services,
        templates,
        metrics,
    )
}
