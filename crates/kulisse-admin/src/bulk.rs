//! Deleting the records chosen in the browser: the table's checkboxes lead to a page that
//! lists them and asks; its form deletes them one by one through the records service
//! (each delete with its own references handled), and says which were not deleted and why.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_http::AppState;
use kulisse_http::error::ApiError;

use crate::csrf::Checked;
use crate::page::{self, Chrome, collection_href};
use crate::params::Params;
use crate::session::Session;

/// The most records one confirmation deletes (a page of the browser at its largest).
const MAX_CHOSEN: usize = 500;

#[derive(Template)]
#[template(path = "bulk_delete.html")]
struct ConfirmPage {
    chrome: Chrome,
    collection: String,
    ids: Vec<String>,
    action: String,
    back: String,
    csrf: String,
    failures: Vec<(String, String)>,
}

/// `GET /_/collections/{collection}/delete-selected?ids=…`: asks first.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let ids = chosen(params.all("ids"));
    if ids.is_empty() {
        return Redirect::to(&collection_href(&c.name)).into_response();
    }
    render(&state, &session, &c.name, ids, Vec::new(), StatusCode::OK)
}

/// `POST /_/collections/{collection}/delete-selected`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Checked { session, form }: Checked<Vec<(String, String)>>,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let mut failures = Vec::new();
    for id in chosen(
        form.iter()
            .filter(|(k, _)| k == "ids")
            .map(|(_, v)| v.as_str()),
    ) {
        let req = session.request(&state, "DELETE");
        if let Err(e) = state.services.records.delete(req, &c.name, &id).await {
            let e = ApiError::from(e);
            failures.push((
                id,
                e.body()["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    if failures.is_empty() {
        return Redirect::to(&collection_href(&c.name)).into_response();
    }
    let ids = failures.iter().map(|(id, _)| id.clone()).collect();
    render(
        &state,
        &session,
        &c.name,
        ids,
        failures,
        StatusCode::BAD_REQUEST,
    )
}

/// The ids a form or address chose, each once, at most [`MAX_CHOSEN`].
fn chosen<'a>(sent: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in sent {
        if !id.is_empty() && !ids.iter().any(|i| i == id) && ids.len() < MAX_CHOSEN {
            ids.push(id.to_owned());
        }
    }
    ids
}

fn render(
    state: &AppState,
    session: &Session,
    name: &str,
    ids: Vec<String>,
    failures: Vec<(String, String)>,
    status: StatusCode,
) -> Response {
    let href = collection_href(name);
    page::render(
        status,
        &ConfirmPage {
            chrome: Chrome::signed_in(
                format!("Delete {} records", ids.len()),
                state,
                session,
                Some(name),
            ),
            collection: name.to_owned(),
            ids,
            action: format!("{href}/delete-selected"),
            back: href,
            csrf: session.csrf.clone(),
            failures,
        },
    )
}
