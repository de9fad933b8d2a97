//! The install link: creating the first superuser (see core's `auth/install.rs` for the
//! token and its once-only rule).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_core::Services;
use kulisse_core::auth::FirstSuperuser;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use serde::Deserialize;

use crate::csrf::SameOrigin;
use crate::page::{self, Chrome};
use crate::session;

/// The link `serve` prints while there is no superuser (`base` is the server's address,
/// `http://127.0.0.1:8090`); `None` once there is one.
///
/// # Errors
/// When the superusers cannot be read.
pub async fn install_link(
    services: &Services,
    base: &str,
) -> Result<Option<String>, kulisse_core::CoreError> {
    Ok(services
        .auth
        .install_token()
        .await?
        .map(|token| format!("{base}/_/install/{token}")))
}

#[derive(Template)]
#[template(path = "install.html")]
struct InstallPage {
    chrome: Chrome,
    action: String,
    email: String,
    error: Option<String>,
    email_error: Option<String>,
    password_error: Option<String>,
    confirm_error: Option<String>,
}

impl InstallPage {
    fn new(state: &AppState, token: &str) -> InstallPage {
        InstallPage {
            chrome: Chrome::public("Create the first superuser", Some(state)),
            action: format!("/_/install/{token}"),
            email: String::new(),
            error: None,
            email_error: None,
            password_error: None,
            confirm_error: None,
        }
    }
}

/// `GET /_/install/{token}`
pub(crate) async fn form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if let Some(refusal) = refused(&state, &token).await {
        return refusal;
    }
    page::render(StatusCode::OK, &InstallPage::new(&state, &token))
}

/// The install form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct NewSuperuser {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "passwordConfirm")]
    password_confirm: String,
}

/// `POST /_/install/{token}`
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    SameOrigin(form): SameOrigin<NewSuperuser>,
) -> Response {
    if let Some(refusal) = refused(&state, &token).await {
        return refusal;
    }
    let made = state
        .services
        .auth
        .install(
            &token,
            FirstSuperuser {
                email: &form.email,
                password: &form.password,
                password_confirm: &form.password_confirm,
            },
        )
        .await;
    match made {
        Ok((collection, _, session_token)) => {
            let lifetime = collection
                .auth
                .as_ref()
                .map_or(0, |a| a.auth_token.duration);
            let mut response = Redirect::to("/_/").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::start(&session_token, lifetime, &headers),
            );
            response
        }
        Err(e) => {
            let e = ApiError::from(e);
            let body = e.body();
            let field = |name: &str| body["data"][name]["message"].as_str().map(str::to_owned);
            let page = InstallPage {
                email: form.email.clone(),
                email_error: field("email"),
                password_error: field("password"),
                confirm_error: field("passwordConfirm"),
                error: body["message"].as_str().map(str::to_owned),
                ..InstallPage::new(&state, &token)
            };
            page::render(e.status(), &page)
        }
    }
}

/// The answer for a link that cannot be used: a superuser exists, or the token is bad.
async fn refused(state: &AppState, token: &str) -> Option<Response> {
    let auth = &state.services.auth;
    match auth.has_superuser().await {
        Ok(true) => Some(Redirect::to("/_/login").into_response()),
        Ok(false) if auth.install_token_valid(token) => None,
        Ok(false) => Some(page::message(
            StatusCode::NOT_FOUND,
            "This install link does not work",
            "It is wrong or has expired. Restart kulisse: it prints a new link while there is no superuser.",
        )),
        Err(e) => Some(ApiError::from(e).into_response()),
    }
}
