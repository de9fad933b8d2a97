//! Collections as JSON: the export of every definition (PocketBase's format, no secrets),
//! and an import that is reviewed before it is applied (see `import_diff.rs`) and then
//! goes through the collections service's import, in one transaction.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use serde::Deserialize;
use serde_json::Value;

use crate::csrf::Checked;
use crate::import_diff::{Change, review};
use crate::page::{self, Chrome};
use crate::params::Params;
use crate::session::Session;

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    csrf: String,
    exported: String,
    sent: String,
    delete_missing: bool,
    changes: Option<Vec<Change>>,
    error: Option<String>,
    imported: bool,
}

/// Every collection as the API's JSON.
fn current(state: &AppState, session: &Session) -> Vec<Value> {
    let mut all = state
        .services
        .collections
        .all(&session.auth)
        .unwrap_or_default();
    all.sort_by(|a, b| (a.system, &a.name).cmp(&(b.system, &b.name)));
    all.iter()
        .filter_map(|c| serde_json::to_value(c.json(false)).ok())
        .collect()
}

/// `GET /_/import-collections`
pub(crate) async fn page(
    State(state): State<AppState>,
    params: Params,
    session: Session,
) -> Response {
    let imported = params.first("imported") == "1";
    render(
        &state,
        &session,
        String::new(),
        false,
        None,
        None,
        imported,
        StatusCode::OK,
    )
}

/// `GET /_/collections.json`: the export as a file.
pub(crate) async fn download(State(state): State<AppState>, session: Session) -> Response {
    let body = serde_json::to_string_pretty(&current(&state, &session)).unwrap_or_default();
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"collections.json\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The import form: the JSON, whether to delete what it leaves out, and which step.
#[derive(Debug, Deserialize)]
pub(crate) struct ImportForm {
    #[serde(default)]
    collections: String,
    #[serde(default, rename = "deleteMissing")]
    delete_missing: Option<String>,
    #[serde(default)]
    step: String,
}

/// `POST /_/import-collections`: `step=review` shows what would change; `step=apply`
/// imports.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Checked { session, form }: Checked<ImportForm>,
) -> Response {
    let delete_missing = form.delete_missing.as_deref() == Some("true");
    let items = match listed(&form.collections) {
        Ok(items) => items,
        Err(why) => {
            return render(
                &state,
                &session,
                form.collections,
                delete_missing,
                None,
                Some(why),
                false,
                StatusCode::BAD_REQUEST,
            );
        }
    };
    if form.step == "apply" {
        return match state
            .services
            .collections
            .import(&session.auth, &items, delete_missing)
            .await
        {
            Ok(()) => Redirect::to("/_/import-collections?imported=1").into_response(),
            Err(e) => {
                let e = ApiError::from(e);
                let body = e.body();
                let detail = first_message(&body["data"]).unwrap_or_default();
                let why = format!("{} {detail}", body["message"].as_str().unwrap_or_default());
                let changes = Some(review(&current(&state, &session), &items, delete_missing));
                render(
                    &state,
                    &session,
                    form.collections,
                    delete_missing,
                    changes,
                    Some(why.trim().to_owned()),
                    false,
                    e.status(),
                )
            }
        };
    }
    let changes = review(&current(&state, &session), &items, delete_missing);
    render(
        &state,
        &session,
        form.collections,
        delete_missing,
        Some(changes),
        None,
        false,
        StatusCode::OK,
    )
}

/// The collections a pasted text lists, or why it lists none.
fn listed(text: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if !items.is_empty() => Ok(items),
        Ok(Value::Array(_)) => Err("The list is empty: there is nothing to import.".to_owned()),
        Ok(_) => Err("Paste a JSON list of collections, as the export above writes it.".to_owned()),
        Err(e) => Err(format!("This is no JSON: {e}.")),
    }
}

/// The first message in an API error's `data`, with the path to it.
fn first_message(data: &Value) -> Option<String> {
    if let Some(m) = data["message"].as_str() {
        return Some(m.to_owned());
    }
    data.as_object()?
        .iter()
        .find_map(|(k, v)| first_message(v).map(|m| format!("{k}: {m}")))
}

#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    session: &Session,
    sent: String,
    delete_missing: bool,
    changes: Option<Vec<Change>>,
    error: Option<String>,
    imported: bool,
    status: StatusCode,
) -> Response {
    let exported = serde_json::to_string_pretty(&current(state, session)).unwrap_or_default();
    page::render(
        status,
        &ImportPage {
            chrome: Chrome::signed_in("Import and export", state, session, None),
            csrf: session.csrf.clone(),
            exported,
            sent,
            delete_missing,
            changes,
            error,
            imported,
        },
    )
}
