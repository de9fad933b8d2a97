//! The dashboard's home: the first of the app's collections.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_http::AppState;

use crate::page::{self, Chrome};
use crate::session::Session;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
}

/// `GET /_/`: the first of the app's own collections, by name (the system collections
/// when there is none).
pub(crate) async fn home(State(state): State<AppState>, session: Session) -> Response {
    let mut collections = state
        .services
        .collections
        .all(&session.auth)
        .unwrap_or_default();
    collections.sort_by(|a, b| (a.system, &a.name).cmp(&(b.system, &b.name)));
    match collections.iter().find(|c| !c.system) {
        Some(c) => Redirect::to(&page::collection_href(&c.name)).into_response(),
        None => page::render(
            StatusCode::OK,
            &Home {
                chrome: Chrome::signed_in("Collections", &state, &session, None),
            },
        ),
    }
}
