//! Designing collections: the form that creates one, the form that edits it (fields,
//! rules, indexes, a view's query), and deleting it after a confirmation. Saving goes
//! through the collections service, which validates exactly as for an API client; its
//! messages are shown beside the name, the field, or the rule they are about.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use kulisse_schema::Collection;
use serde_json::{Value, json};

use kulisse_core::records::ListParams;

use crate::collection_form::{FIELD_TYPES, Preview, Shown, shown, to_input};
use crate::csrf::Checked;
use crate::field_options::{self, OptionControl};
use crate::login::Empty;
use crate::page::{self, Chrome, collection_href};
use crate::params::Params;
use crate::records::cell;
use crate::session::Session;

#[derive(Template)]
#[template(path = "collection.html")]
struct CollectionPage {
    chrome: Chrome,
    action: String,
    editing: bool,
    system: bool,
    saved: bool,
    error: Option<String>,
    shown: Shown,
    name_error: Option<String>,
    query_error: Option<String>,
    indexes_error: Option<String>,
    field_names: String,
    types: [&'static str; 14],
    records_href: String,
    delete_href: String,
    csrf: String,
}

#[derive(Template)]
#[template(path = "collection_delete.html")]
struct DeletePage {
    chrome: Chrome,
    name: String,
    action: String,
    back: String,
    csrf: String,
}

/// `GET /_/new-collection`
pub(crate) async fn new(State(state): State<AppState>, session: Session) -> Response {
    let blank = json!({"name": "", "type": "base", "fields": [], "indexes": [],
        "listRule": null, "viewRule": null, "createRule": null, "updateRule": null, "deleteRule": null});
    render(
        &state,
        &session,
        None,
        shown(&blank, Value::Null, &names(&state, &session)),
        None,
        false,
        StatusCode::OK,
    )
}

/// `POST /_/new-collection`
pub(crate) async fn create(
    State(state): State<AppState>,
    Checked { session, form }: Checked<Vec<(String, String)>>,
) -> Response {
    let input = match to_input(&form, None) {
        Ok(input) => input,
        Err(errors) => return refused(&state, &session, None, &form, errors, None),
    };
    if previewing(&form) {
        return with_preview(&state, &session, None, input).await;
    }
    match state
        .services
        .collections
        .create(&session.auth, &input)
        .await
    {
        Ok(c) => {
            Redirect::to(&format!("{}/edit?saved=1", collection_href(&c.name))).into_response()
        }
        Err(e) => refused_by_server(&state, &session, None, &input, e),
    }
}

/// `GET /_/collections/{collection}/edit`
pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let definition = serde_json::to_value(c.json(false)).unwrap_or_default();
    let saved = params.first("saved") == "1";
    let mut shown = shown(&definition, Value::Null, &names(&state, &session));
    shown.preview = preview(&state, &session, &c).await;
    render(
        &state,
        &session,
        Some(&c),
        shown,
        None,
        saved,
        StatusCode::OK,
    )
}

/// `POST /_/collections/{collection}/edit`
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Checked { session, form }: Checked<Vec<(String, String)>>,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let input = match to_input(&form, Some(&c)) {
        Ok(input) => input,
        Err(errors) => return refused(&state, &session, Some(&c), &form, errors, None),
    };
    if previewing(&form) {
        return with_preview(&state, &session, Some(&c), input).await;
    }
    match state
        .services
        .collections
        .update(&session.auth, &c.id, &input)
        .await
    {
        Ok(c) => {
            Redirect::to(&format!("{}/edit?saved=1", collection_href(&c.name))).into_response()
        }
        Err(e) => refused_by_server(&state, &session, Some(&c), &input, e),
    }
}

/// `GET /_/collections/{collection}/delete`: asks first.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    session: Session,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let href = collection_href(&c.name);
    page::render(
        StatusCode::OK,
        &DeletePage {
            chrome: Chrome::signed_in(
                format!("Delete {}", c.name),
                &state,
                &session,
                Some(&c.name),
            ),
            name: c.name.clone(),
            action: format!("{href}/delete"),
            back: format!("{href}/edit"),
            csrf: session.csrf.clone(),
        },
    )
}

/// `POST /_/collections/{collection}/delete`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Checked {
        session,
        form: Empty {},
    }: Checked<Empty>,
) -> Response {
    match state
        .services
        .collections
        .delete(&session.auth, &name)
        .await
    {
        Ok(()) => Redirect::to("/_/").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.body()["message"].as_str().unwrap_or_default().to_owned();
            page::message(e.status(), "The collection was not deleted", message)
        }
    }
}

/// Every collection's id and name, for relation fields to point at.
fn names(state: &AppState, session: &Session) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = state
        .services
        .collections
        .all(&session.auth)
        .unwrap_or_default()
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

#[derive(Template)]
#[template(path = "field_options.html")]
struct NewFieldOptions {
    controls: Vec<OptionControl>,
}

/// `GET /_/field-options?new.type=…`: the new field row's common options for the type just
/// picked (loaded by htmx).
pub(crate) async fn new_field_options(
    State(state): State<AppState>,
    params: Params,
    session: Session,
) -> Response {
    let kind = match params.first("new.type") {
        "" => "text",
        kind => kind,
    };
    let controls = field_options::controls("new", kind, &Value::Null, &names(&state, &session));
    page::render(StatusCode::OK, &NewFieldOptions { controls })
}

/// Whether the form's "Preview rows" button sent it (the view's query is run, nothing is
/// saved).
fn previewing(form: &[(String, String)]) -> bool {
    form.iter().any(|(k, v)| k == "step" && v == "preview")
}

/// The form as sent, with the typed query's first rows, or why the query cannot be a view.
async fn with_preview(
    state: &AppState,
    session: &Session,
    c: Option<&Collection>,
    mut input: Value,
) -> Response {
    if let Some(c) = c {
        input["type"] = json!(c.kind.as_str());
    }
    let query = input["viewQuery"].as_str().unwrap_or_default().to_owned();
    let previewed = state
        .services
        .collections
        .preview_view(&session.auth, &query, PREVIEW_ROWS)
        .await;
    let (errors, status, preview) = match previewed {
        Ok(p) => {
            let rows = p
                .rows
                .iter()
                .map(|r| p.columns.iter().map(|col| cell(r.get(col))).collect())
                .collect();
            let preview = Preview {
                columns: p.columns,
                rows,
                saved: false,
            };
            (Value::Null, StatusCode::OK, Some(preview))
        }
        Err(e) => {
            let e = ApiError::from(e);
            let mut data = e.body()["data"].clone();
            // Whatever is wrong with the query is shown beside the query.
            if data["viewQuery"].is_null() {
                let why = data
                    .as_object()
                    .and_then(|o| o.values().find_map(|v| v["message"].as_str()))
                    .unwrap_or("The query cannot be a view.")
                    .to_owned();
                data = json!({"viewQuery": {"code": "validation_invalid_view", "message": why}});
            }
            (data, StatusCode::BAD_REQUEST, None)
        }
    };
    let mut shown = shown(&input, errors, &names(state, session));
    shown.preview = preview;
    render(state, session, c, shown, None, false, status)
}

/// Rows a view collection shows at most in its form.
const PREVIEW_ROWS: u64 = 10;

/// A view collection's first rows, listed through the records service as the superuser.
async fn preview(state: &AppState, session: &Session, c: &Collection) -> Option<Preview> {
    if c.kind != kulisse_schema::CollectionKind::View {
        return None;
    }
    let req = session.request(state, "GET");
    let params = ListParams {
        per_page: PREVIEW_ROWS,
        skip_total: true,
        ..ListParams::default()
    };
    let list = state
        .services
        .records
        .list(&req, &c.name, &params)
        .await
        .ok()?;
    let columns: Vec<String> = c.fields.iter().map(|f| f.name.clone()).collect();
    let rows = list
        .items
        .iter()
        .map(|r| columns.iter().map(|col| cell(r.fields.get(col))).collect())
        .collect();
    Some(Preview {
        columns,
        rows,
        saved: true,
    })
}

/// The form again, as sent, with the server's messages.
fn refused_by_server(
    state: &AppState,
    session: &Session,
    c: Option<&Collection>,
    input: &Value,
    e: kulisse_core::CoreError,
) -> Response {
    let e = ApiError::from(e);
    let body = e.body();
    let message = body["message"]
        .as_str()
        .map(|m| format!("{m} The reasons are shown beside what they are about."));
    let mut sent = input.clone();
    if let Some(c) = c {
        sent["type"] = json!(c.kind.as_str());
        // What was sent has no `system` flags: the stored fields say which are.
        if let Some(fields) = sent["fields"].as_array_mut() {
            for f in fields {
                let system = c
                    .fields
                    .iter()
                    .any(|s| s.system && Some(s.id.as_str()) == f["id"].as_str());
                f["system"] = json!(system);
            }
        }
    }
    render(
        state,
        session,
        c,
        shown(&sent, body["data"].clone(), &names(state, session)),
        message,
        false,
        StatusCode::BAD_REQUEST,
    )
}

fn refused(
    state: &AppState,
    session: &Session,
    c: Option<&Collection>,
    form: &[(String, String)],
    errors: Value,
    message: Option<String>,
) -> Response {
    // Options that are no JSON: show the stored definition (or a blank one) with the
    // message; what was typed is in the browser's history.
    let definition = match c {
        Some(c) => serde_json::to_value(c.json(false)).unwrap_or_default(),
        None => {
            json!({"name": form.iter().find(|(k, _)| k == "name").map(|(_, v)| v.as_str()).unwrap_or_default(),
            "type": "base", "fields": []})
        }
    };
    let message = message.unwrap_or_else(|| "The collection was not saved.".to_owned());
    render(
        state,
        session,
        c,
        shown(&definition, errors, &names(state, session)),
        Some(message),
        false,
        StatusCode::BAD_REQUEST,
    )
}

fn render(
    state: &AppState,
    session: &Session,
    c: Option<&Collection>,
    shown: Shown,
    error: Option<String>,
    saved: bool,
    status: StatusCode,
) -> Response {
    let message = |k: &str| shown.errors[k]["message"].as_str().map(str::to_owned);
    let indexes_error = message("indexes").or_else(|| {
        shown.errors["indexes"].as_object().and_then(|o| {
            o.values()
                .find_map(|v| v["message"].as_str().map(str::to_owned))
        })
    });
    let (title, action, href) = match c {
        Some(c) => {
            let href = collection_href(&c.name);
            (
                format!("Collection {}", c.name),
                format!("{href}/edit"),
                href,
            )
        }
        None => (
            "New collection".to_owned(),
            "/_/new-collection".to_owned(),
            String::new(),
        ),
    };
    let field_names = shown
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    page::render(
        status,
        &CollectionPage {
            chrome: Chrome::signed_in(title, state, session, c.map(|c| c.name.as_str())),
            editing: c.is_some(),
            system: c.is_some_and(|c| c.system),
            saved,
            error,
            name_error: message("name"),
            query_error: message("viewQuery"),
            indexes_error,
            field_names,
            types: FIELD_TYPES,
            records_href: href.clone(),
            delete_href: format!("{href}/delete"),
            action,
            shown,
            csrf: session.csrf.clone(),
        },
    )
}
