//! The dashboard at `/_/`: server-rendered pages for superusers.
//!
//! Every page is an askama template (checked when the crate compiles) rendered from what
//! the core services answer; htmx, vendored and embedded with the stylesheet, swaps parts
//! of a page where that saves a reload, and every page works without it. Every action calls
//! the same services as the REST API with the signed-in superuser as the requester, so
//! rules, validation and change events hold exactly as for an API client: there is no
//! second path to the data.
//!
//! Sign-in is a session cookie holding the superuser's auth token (`HttpOnly`,
//! `SameSite=Strict`, `Secure` behind TLS; `session.rs`); every state-changing form also
//! carries a token derived from the session and is refused from another origin
//! (`csrf.rs`). The first superuser is made through the install link `serve` prints while
//! there is none (`install.rs`).
//!
//! Must not depend on: kulisse-store, the engines or adapters (the services are the only
//! way in).

mod account;
mod assets;
mod bulk;
mod collection;
mod collection_form;
mod collections;
mod csrf;
mod export;
mod field_options;
mod import;
mod import_diff;
mod inputs;
mod install;
mod login;
mod page;
mod params;
mod picker;
mod record;
mod records;
mod session;
mod settings;
mod submitted;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use kulisse_http::{AppState, Pages};

pub use install::install_link;

/// The dashboard's routes, to be served beside the API.
pub fn dashboard() -> Pages {
    let routes: Vec<(&'static str, axum::routing::MethodRouter<AppState>)> = vec![
        ("/_", get(|| async { Redirect::permanent("/_/") })),
        ("/_/", get(collections::home)),
        ("/_/login", get(login::form).post(login::submit)),
        ("/_/login/code-request", post(login::request_code)),
        ("/_/login/code", post(login::submit_code)),
        ("/_/logout", post(login::logout)),
        (
            "/_/install/{token}",
            get(install::form).post(install::submit),
        ),
        ("/_/collections/{collection}", get(records::browse)),
        ("/_/collections/{collection}/count", get(records::count)),
        ("/_/collections/{collection}/export", get(export::export)),
        ("/_/collections/{collection}/pick", get(picker::pick)),
        (
            "/_/collections/{collection}/delete-selected",
            get(bulk::confirm).post(bulk::delete),
        ),
        (
            "/_/new-collection",
            get(collection::new).post(collection::create),
        ),
        ("/_/field-options", get(collection::new_field_options)),
        ("/_/settings", get(settings::view).post(settings::update)),
        (
            "/_/import-collections",
            get(import::page).post(import::submit),
        ),
        ("/_/collections.json", get(import::download)),
        ("/_/settings/test-mail", post(settings::test_mail)),
        ("/_/settings/test-s3", post(settings::test_s3)),
        (
            "/_/collections/{collection}/edit",
            get(collection::edit).post(collection::update),
        ),
        (
            "/_/collections/{collection}/delete",
            get(collection::confirm_delete).post(collection::delete),
        ),
        (
            "/_/collections/{collection}/records/new",
            get(record::new).post(record::create),
        ),
        (
            "/_/collections/{collection}/records/{id}",
            get(record::edit).post(record::update),
        ),
        (
            "/_/collections/{collection}/records/{id}/send-verification",
            post(account::send_verification),
        ),
        (
            "/_/collections/{collection}/records/{id}/send-password-reset",
            post(account::send_password_reset),
        ),
        (
            "/_/collections/{collection}/records/{id}/impersonate",
            post(account::impersonate),
        ),
        (
            "/_/collections/{collection}/records/{id}/delete",
            get(record::confirm_delete).post(record::delete),
        ),
        ("/_/assets/{stamp}/{file}", get(assets::serve)),
        ("/_/{*rest}", axum::routing::any(page::not_found)),
    ];
    let mut pages = Pages {
        router: Router::new(),
        templates: Vec::with_capacity(routes.len()),
    };
    for (path, handler) in routes {
        pages.router = pages.router.route(path, handler);
        pages.templates.push(path);
    }
    pages
}
