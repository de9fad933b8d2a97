//! Route table. Handler names follow PocketBase's action words.

mod analytics;
mod auth;
mod backups;
mod batch;
mod collections;
mod crons;
mod files;
mod health;
mod logs;
mod mailed;
pub(crate) mod metrics;
mod oauth2;
mod realtime;
mod records;
mod settings;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, delete, get, post, put};

use super::error::ApiError;

use super::AppState;

/// The route table, and its templates (for the request metrics).
pub(crate) struct Table {
    pub router: Router<AppState>,
    pub templates: Vec<&'static str>,
}

impl Table {
    fn new() -> Table {
        Table {
            router: Router::new(),
            templates: Vec::new(),
        }
    }

    pub(crate) fn route(mut self, path: &'static str, handlers: MethodRouter<AppState>) -> Table {
        self.router = self.router.route(path, handlers);
        self.templates.push(path);
        self
    }

    /// These routes and `pages`' together.
    pub(crate) fn merge(mut self, pages: &crate::Pages) -> Table {
        self.router = self.router.merge(pages.router.clone());
        self.templates.extend(&pages.templates);
        self
    }
}

/// All routes but the public directory's files.
pub(crate) fn api() -> Table {
    Table::new()
        .route("/api/health", get(health::health).head(health::health))
        .route(
            "/api/settings",
            get(settings::view_settings).patch(settings::update_settings),
        )
        .route("/api/settings/test/s3", post(settings::test_s3))
        .route("/api/settings/test/email", post(settings::test_email))
        .route("/api/logs", get(logs::list).delete(logs::clear))
        .route("/api/logs/stats", get(logs::stats))
        .route("/api/logs/{id}", get(logs::view))
        .route("/api/backups", get(backups::list).post(backups::create))
        .route("/api/backups/upload", post(backups::upload))
        .route("/api/backups/{key}/restore", post(backups::restore))
        .route(
            "/api/backups/{key}",
            get(backups::download).delete(backups::delete),
        )
        .route("/api/crons", get(crons::list))
        .route("/api/crons/{id}", post(crons::run))
        .route("/api/analytics/requests", get(analytics::requests))
        .route("/api/analytics/routes", get(analytics::routes))
        .route("/api/analytics/users", get(analytics::users))
        .route("/api/analytics/filters", get(analytics::filters))
        .route("/api/advisor/queries", get(analytics::slow_queries))
        .route("/api/advisor/suggestions", get(analytics::suggestions))
        .route(
            "/api/advisor/suggestions/{id}/apply",
            post(analytics::apply),
        )
        .route(
            "/api/settings/apple/generate-client-secret",
            post(settings::apple_client_secret),
        )
        .route("/api/batch", post(batch::batch))
        .route(
            "/api/realtime",
            get(realtime::connect).post(realtime::subscribe),
        )
        .route(
            "/api/collections",
            get(collections::list_collections).post(collections::create_collection),
        )
        .route(
            "/api/collections/import",
            put(collections::import_collections),
        )
        .route(
            "/api/collections/meta/scaffolds",
            get(collections::scaffolds),
        )
        .route(
            "/api/collections/{collection}",
            get(collections::view_collection)
                .patch(collections::update_collection)
                .delete(collections::delete_collection),
        )
        .route(
            "/api/collections/{collection}/truncate",
            delete(collections::truncate_collection),
        )
        .route(
            "/api/collections/{collection}/records",
            get(records::list_records).post(records::create_record),
        )
        .route(
            "/api/collections/{collection}/records/{id}",
            get(records::view_record)
                .patch(records::update_record)
                .delete(records::delete_record),
        )
        .route(
            "/api/collections/{collection}/auth-methods",
            get(auth::auth_methods),
        )
        .route(
            "/api/collections/{collection}/auth-with-password",
            post(auth::auth_with_password),
        )
        .route(
            "/api/collections/{collection}/auth-with-oauth2",
            post(oauth2::auth_with_oauth2),
        )
        .route(
            "/api/oauth2-redirect",
            get(oauth2::redirect_get).post(oauth2::redirect_post),
        )
        .route(
            "/api/collections/{collection}/request-otp",
            post(auth::request_otp),
        )
        .route(
            "/api/collections/{collection}/auth-with-otp",
            post(auth::auth_with_otp),
        )
        .route(
            "/api/collections/{collection}/auth-refresh",
            post(auth::auth_refresh),
        )
        .route(
            "/api/collections/{collection}/impersonate/{id}",
            post(auth::impersonate),
        )
        .route(
            "/api/collections/{collection}/request-verification",
            post(mailed::request_verification),
        )
        .route(
            "/api/collections/{collection}/confirm-verification",
            post(mailed::confirm_verification),
        )
        .route(
            "/api/collections/{collection}/request-password-reset",
            post(mailed::request_password_reset),
        )
        .route(
            "/api/collections/{collection}/confirm-password-reset",
            post(mailed::confirm_password_reset),
        )
        .route(
            "/api/collections/{collection}/request-email-change",
            post(mailed::request_email_change),
        )
        .route(
            "/api/collections/{collection}/confirm-email-change",
            post(mailed::confirm_email_change),
        )
        .route("/api/files/token", post(files::token))
        .route(
            "/api/files/{collection}/{id}/{filename}",
            get(files::download),
        )
        .route("/api/{*rest}", any(api_not_found))
}

/// API areas PocketBase serves that kulisse does not have yet: files (but downloads, routed
/// above), backups, crons. They are told apart inside the catch-all (a route each would make the
/// route table, and so every request's lookup, bigger).
const NOT_BUILT_YET: [&str; 3] = ["files", "backups", "crons"];

/// PocketBase's plain 404 for every method on the dashboard's path `/_/` when the server has
/// no dashboard, so neither a client nor the public directory takes it for a static file.
pub(crate) fn without_dashboard(table: Table) -> Table {
    ["/_", "/_/", "/_/{*rest}"].iter().fold(table, |t, path| {
        t.route(path, any(|| async { ApiError::not_found() }))
    })
}

/// PB compat: unknown API paths answer like PocketBase's static fallback for GET, an empty
/// 404 for HEAD, and the router's 404 otherwise; areas not built yet answer the router's
/// 404 for every method.
async fn api_not_found(method: Method, uri: Uri) -> Response {
    let area = uri.path().trim_start_matches("/api/").split('/').next();
    if area.is_some_and(|a| NOT_BUILT_YET.contains(&a)) {
        return ApiError::not_found().into_response();
    }
    match method {
        Method::GET => ApiError::file_not_found().into_response(),
        Method::HEAD => (StatusCode::NOT_FOUND, Body::empty()).into_response(),
        _ => ApiError::not_found().into_response(),
    }
}
