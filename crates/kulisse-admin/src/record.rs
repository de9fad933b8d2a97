//! One record: the form that creates it, the form that edits it, and deleting it after a
//! confirmation. Every write goes through the records service as the signed-in superuser,
//! so validation, relations, files and change events are the API's own; a refused form
//! comes back with what was sent and the server's message beside each field.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_core::records::ExpandTree;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use kulisse_schema::Collection;
use serde_json::{Map, Value};

use crate::csrf::{Checked, CheckedRecord};
use crate::inputs::{FileLinks, Input, inputs};
use crate::login::Empty;
use crate::page::{self, Chrome, collection_href, segment};
use crate::params::Params;
use crate::session::Session;
use crate::submitted::to_body;

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    collection: String,
    list_href: String,
    action: String,
    id: Option<String>,
    delete_href: String,
    inputs: Vec<Input>,
    error: Option<String>,
    csrf: String,
    /// An auth record's actions (mail, impersonate), where to post them.
    account: Option<String>,
    /// What was just mailed, to say so.
    sent: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "delete.html")]
struct DeletePage {
    chrome: Chrome,
    collection: String,
    id: String,
    action: String,
    back: String,
    csrf: String,
}

/// `GET /_/collections/{collection}/records/new`
pub(crate) async fn new(
    State(state): State<AppState>,
    Path(name): Path<String>,
    session: Session,
) -> Response {
    let Some(c) = collection(&state, &session, &name) else {
        return page::not_found().await;
    };
    render(
        &state,
        &session,
        &c,
        None,
        &Map::new(),
        &Value::Null,
        None,
        StatusCode::OK,
    )
}

/// `POST /_/collections/{collection}/records/new`
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    form: CheckedRecord,
) -> Response {
    let Some(c) = collection(&state, &form.session, &name) else {
        return page::not_found().await;
    };
    let mut body = form.fields.clone();
    if let Err(errors) = to_body(&c, &mut body) {
        return refused(&state, &form, &c, None, errors, None);
    }
    let req = form.session.request(&state, "POST");
    let uploads = form.files.uploads.clone();
    match state
        .services
        .records
        .create(req, &c.name, body, uploads, &ExpandTree::default())
        .await
    {
        Ok(_) => Redirect::to(&collection_href(&c.name)).into_response(),
        Err(e) => refused_by_server(&state, &form, &c, None, e),
    }
}

/// `GET /_/collections/{collection}/records/{id}` (`?sent=` after a mail was sent)
pub(crate) async fn edit(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    params: Params,
    session: Session,
) -> Response {
    let sent = match params.first("sent") {
        "verification" => Some("A verification mail is on its way."),
        "password-reset" => Some("A password-reset mail is on its way."),
        _ => None,
    };
    let Some(c) = collection(&state, &session, &name) else {
        return page::not_found().await;
    };
    let req = session.request(&state, "GET");
    match state
        .services
        .records
        .view(&req, &c.name, &id, &ExpandTree::default())
        .await
    {
        Ok(record) => {
            let mut page = form_page(
                &state,
                &session,
                &c,
                Some(&id),
                &record.fields,
                &Value::Null,
                None,
            );
            page.sent = sent;
            page::render(StatusCode::OK, &page)
        }
        Err(_) => page::not_found().await,
    }
}

/// `POST /_/collections/{collection}/records/{id}`
pub(crate) async fn update(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    form: CheckedRecord,
) -> Response {
    let Some(c) = collection(&state, &form.session, &name) else {
        return page::not_found().await;
    };
    let mut body = form.fields.clone();
    if let Err(errors) = to_body(&c, &mut body) {
        return refused(&state, &form, &c, Some(&id), errors, None);
    }
    let req = form.session.request(&state, "PATCH");
    let uploads = form.files.uploads.clone();
    match state
        .services
        .records
        .update(req, &c.name, &id, body, uploads, &ExpandTree::default())
        .await
    {
        Ok(_) => Redirect::to(&collection_href(&c.name)).into_response(),
        Err(e) => refused_by_server(&state, &form, &c, Some(&id), e),
    }
}

/// `GET /_/collections/{collection}/records/{id}/delete`: asks first.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    session: Session,
) -> Response {
    let Some(c) = collection(&state, &session, &name) else {
        return page::not_found().await;
    };
    let record_href = format!("{}/records/{}", collection_href(&c.name), segment(&id));
    page::render(
        StatusCode::OK,
        &DeletePage {
            chrome: Chrome::signed_in(format!("Delete {id}"), &state, &session, Some(&c.name)),
            collection: c.name.clone(),
            action: format!("{record_href}/delete"),
            back: record_href,
            id,
            csrf: session.csrf.clone(),
        },
    )
}

/// `POST /_/collections/{collection}/records/{id}/delete`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    checked: Checked<Empty>,
) -> Response {
    let Some(c) = collection(&state, &checked.session, &name) else {
        return page::not_found().await;
    };
    let req = checked.session.request(&state, "DELETE");
    match state.services.records.delete(req, &c.name, &id).await {
        Ok(()) => Redirect::to(&collection_href(&c.name)).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.body()["message"].as_str().unwrap_or_default().to_owned();
            page::message(e.status(), "The record was not deleted", message)
        }
    }
}

fn collection(state: &AppState, session: &Session, name: &str) -> Option<Arc<Collection>> {
    state
        .services
        .collections
        .view(&session.auth, name)
        .ok()
        .filter(|c| c.kind != kulisse_schema::CollectionKind::View)
}

/// The form again, with what was sent, after the server refused it.
fn refused_by_server(
    state: &AppState,
    form: &CheckedRecord,
    c: &Collection,
    id: Option<&str>,
    e: kulisse_core::CoreError,
) -> Response {
    let e = ApiError::from(e);
    let body = e.body();
    let message = body["message"].as_str().map(str::to_owned);
    refused(state, form, c, id, body["data"].clone(), message).into_response()
}

fn refused(
    state: &AppState,
    form: &CheckedRecord,
    c: &Collection,
    id: Option<&str>,
    errors: Value,
    message: Option<String>,
) -> Response {
    let message = message.unwrap_or_else(|| "The record was not saved.".to_owned());
    render(
        state,
        &form.session,
        c,
        id,
        &form.fields,
        &errors,
        Some(message),
        StatusCode::BAD_REQUEST,
    )
}

#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    session: &Session,
    c: &Collection,
    id: Option<&str>,
    values: &Map<String, Value>,
    errors: &Value,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    page::render(
        status,
        &form_page(state, session, c, id, values, errors, error),
    )
}

/// Relation controls get their collection's name and the picker's address.
fn with_pickers(state: &AppState, session: &Session, mut inputs: Vec<Input>) -> Vec<Input> {
    for input in inputs.iter_mut().filter(|i| i.kind == "relation") {
        if let Ok(target) = state
            .services
            .collections
            .view(&session.auth, &input.target)
        {
            input.pick_href = format!(
                "{}/pick?{}",
                collection_href(&target.name),
                serde_urlencoded::to_string([("for", input.id.as_str())]).unwrap_or_default()
            );
            input.target = target.name.clone();
        }
    }
    inputs
}

fn form_page(
    state: &AppState,
    session: &Session,
    c: &Collection,
    id: Option<&str>,
    values: &Map<String, Value>,
    errors: &Value,
    error: Option<String>,
) -> RecordPage {
    let token = state
        .services
        .auth
        .file_token(&session.auth)
        .unwrap_or_default();
    let links = id.map(|id| FileLinks {
        collection_id: &c.id,
        record_id: id,
        token: &token,
    });
    let list_href = collection_href(&c.name);
    let (title, action) = match id {
        Some(id) => (
            format!("{} {id}", c.name),
            format!("{list_href}/records/{}", segment(id)),
        ),
        None => (
            format!("New {} record", c.name),
            format!("{list_href}/records/new"),
        ),
    };
    RecordPage {
        chrome: Chrome::signed_in(title, state, session, Some(&c.name)),
        collection: c.name.clone(),
        delete_href: format!("{action}/delete"),
        account: (c.is_auth() && id.is_some()).then(|| action.clone()),
        action,
        list_href,
        id: id.map(str::to_owned),
        inputs: with_pickers(state, session, inputs(c, values, errors, links.as_ref())),
        error,
        csrf: session.csrf.clone(),
        sent: None,
    }
}
