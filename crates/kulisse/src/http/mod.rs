//! The HTTP API: PocketBase's routes on axum.
//!
//! Request flow: `finalize` middleware (security headers, `fields`, status fix-ups) → CORS
//! → route → extractors ([`extract::Req`] resolves the token into the requester, list
//! params and bodies are decoded with PocketBase's rules) → one service call → JSON.
//! Handlers contain no SQL, rules or validation; errors become [`error::ApiError`].

pub mod error;
pub mod extract;
pub mod fields;
mod middleware;
mod routes;

use std::path::PathBuf;

use std::convert::Infallible;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use kulisse_core::Services;
use tower::ServiceBuilder;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The services (behind one `Arc`: every extractor clones the state).
    pub services: std::sync::Arc<Services>,
}

/// Server options that shape the router.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Directory served at `/` (the team's frontend), if it exists.
    pub public_dir: Option<PathBuf>,
    /// Allowed CORS origins; empty means `*`.
    pub origins: Vec<String>,
}

/// The whole application as one service: PocketBase's routes under the layers every
/// response goes through.
pub type App = tower::util::BoxCloneService<Request, Response, Infallible>;

/// Builds the whole application (used by `serve` and the tests alike).
pub fn router(services: Services, opts: &HttpOptions) -> App {
    let state = AppState {
        services: std::sync::Arc::new(services),
    };
    let routes = routes::api()
        .with_state(state)
        .fallback_service(middleware::static_files(opts.public_dir.as_deref()));
    // NOTE: the layers wrap the router once instead of going through `Router::layer`, which
    // wraps every route in them: axum then cloned each boxed layer per request (a dozen
    // allocations on every call). Nor is the result put back into a `Router`: that took a
    // second route lookup on every request.
    ServiceBuilder::new()
        .boxed_clone()
        .layer(axum::middleware::from_fn(middleware::finalize))
        .layer(middleware::cors(&opts.origins))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .service(routes)
}
