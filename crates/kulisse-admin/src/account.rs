//! What a superuser does to an auth record besides editing it: mail it a verification or
//! password-reset link, and impersonate it (a token to act as that record, as
//! `POST /api/collections/{c}/impersonate/{id}` gives). Setting a password and marking the
//! record verified are fields of the record form.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_core::records::ExpandTree;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::csrf::Checked;
use crate::login::Empty;
use crate::page::{self, Chrome, collection_href, segment};
use crate::session::Session;

#[derive(Template)]
#[template(path = "impersonate.html")]
struct TokenPage {
    chrome: Chrome,
    collection: String,
    email: String,
    token: String,
    duration: String,
    back: String,
}

/// Which mail to send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mailed {
    Verification,
    PasswordReset,
}

/// `POST /_/collections/{collection}/records/{id}/send-verification`
pub(crate) async fn send_verification(
    state: State<AppState>,
    path: Path<(String, String)>,
    checked: Checked<Empty>,
) -> Response {
    send(state, path, checked, Mailed::Verification).await
}

/// `POST /_/collections/{collection}/records/{id}/send-password-reset`
pub(crate) async fn send_password_reset(
    state: State<AppState>,
    path: Path<(String, String)>,
    checked: Checked<Empty>,
) -> Response {
    send(state, path, checked, Mailed::PasswordReset).await
}

async fn send(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Checked {
        session,
        form: Empty {},
    }: Checked<Empty>,
    which: Mailed,
) -> Response {
    let email = match email_of(&state, &session, &name, &id).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let auth = &state.services.auth;
    let body = json!({ "email": email });
    let sent = match which {
        Mailed::Verification => auth.request_verification(&name, &body).await,
        Mailed::PasswordReset => auth.request_password_reset(&name, &body).await,
    };
    let what = match which {
        Mailed::Verification => "verification",
        Mailed::PasswordReset => "password-reset",
    };
    match sent {
        Ok(()) => Redirect::to(&format!(
            "{}/records/{}?sent={what}",
            collection_href(&name),
            segment(&id)
        ))
        .into_response(),
        Err(e) => failed(e, "The mail was not sent"),
    }
}

/// The impersonation form's duration, in seconds (empty: the collection's token duration).
#[derive(Debug, Deserialize)]
pub(crate) struct Duration {
    #[serde(default)]
    duration: String,
}

/// `POST /_/collections/{collection}/records/{id}/impersonate`
pub(crate) async fn impersonate(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Checked { session, form }: Checked<Duration>,
) -> Response {
    let seconds: f64 = form.duration.trim().parse().unwrap_or(0.0);
    let made = state
        .services
        .auth
        .impersonate(&session.auth, &name, &id, &json!({ "duration": seconds }))
        .await;
    match made {
        Ok((c, record, token)) => {
            let lifetime = match seconds >= 1.0 {
                true => seconds as u64,
                false => c.auth.as_ref().map_or(0, |a| a.auth_token.duration),
            };
            page::render(
                StatusCode::OK,
                &TokenPage {
                    chrome: Chrome::signed_in(
                        format!("Impersonate {id}"),
                        &state,
                        &session,
                        Some(&c.name),
                    ),
                    collection: c.name.clone(),
                    email: record
                        .get("email")
                        .and_then(Value::as_str)
                        .unwrap_or(&id)
                        .to_owned(),
                    token,
                    duration: format!("{lifetime} seconds"),
                    back: format!("{}/records/{}", collection_href(&c.name), segment(&id)),
                },
            )
        }
        Err(e) => failed(e, "No token was made"),
    }
}

/// The record's address, read as the superuser.
async fn email_of(
    state: &AppState,
    session: &Session,
    name: &str,
    id: &str,
) -> Result<String, Response> {
    let req = session.request(state, "GET");
    let record = state
        .services
        .records
        .view(&req, name, id, &ExpandTree::default())
        .await
        .map_err(|e| failed(e, "No such record"))?;
    Ok(record
        .fields
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

fn failed(e: kulisse_core::CoreError, heading: &'static str) -> Response {
    let e = ApiError::from(e);
    let message = e.body()["message"].as_str().unwrap_or_default().to_owned();
    page::message(e.status(), heading, message)
}
