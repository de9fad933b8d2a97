//! Signing in and out.
//!
//! A login here is the API's `auth-with-password` on `_superusers`: the same service, the
//! same rate limit (counted under the API's own route, so the two doors share one budget),
//! the same `superuserIPs`. Its token becomes the session cookie.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_core::auth::{Auth, Client, Login};
use kulisse_core::limits::Attempt;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use kulisse_http::extract::RemoteIp;
use kulisse_schema::collection::SUPERUSERS;
use serde::Deserialize;

use crate::csrf::{Checked, SameOrigin};
use crate::page::{self, Chrome};
use crate::session;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    email: String,
    error: Option<String>,
}

/// `?next=`: the page to go back to.
#[derive(Debug, Default, Deserialize)]
struct Next {
    next: Option<String>,
}

/// `GET /_/login`
pub(crate) async fn form(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let q: Next =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    login_page(&state, StatusCode::OK, q.next.as_deref(), "", None)
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: Option<&str>,
    email: &str,
    error: Option<String>,
) -> Response {
    page::render(
        status,
        &LoginPage {
            chrome: Chrome::public("Sign in", Some(state)),
            next: session::after_login(next),
            email: email.to_owned(),
            error,
        },
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /_/login`
pub(crate) async fn submit(
    State(state): State<AppState>,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    SameOrigin(form): SameOrigin<Credentials>,
) -> Response {
    let services = &state.services;
    let attempt = Attempt {
        method: "POST",
        path: "/api/collections/_superusers/auth-with-password",
        collection: Some(SUPERUSERS),
        tags: &["authWithPassword", "auth"],
        ip,
    };
    let again = |status, message: &str| {
        login_page(
            &state,
            status,
            form.next.as_deref(),
            &form.email,
            Some(message.to_owned()),
        )
    };
    if let Err(limited) = services.limits.check(&attempt, &Auth::Guest).await {
        let wait = limited.retry_after;
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many sign-in attempts. Try again in {wait} seconds."),
        );
    }
    let client = Client {
        ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    };
    let login = services
        .auth
        .auth_with_password(
            SUPERUSERS,
            form.email.trim(),
            &form.password,
            None,
            None,
            &client,
        )
        .await;
    match login {
        Ok(Login::Token(collection, _, token)) => {
            if services.settings.check_superuser_ip(ip).is_err() {
                return page::forbidden();
            }
            let lifetime = collection
                .auth
                .as_ref()
                .map_or(0, |a| a.auth_token.duration);
            let mut response =
                Redirect::to(&session::after_login(form.next.as_deref())).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::start(&token, lifetime, &headers),
            );
            response
        }
        Ok(Login::SecondFactor(..)) => again(
            StatusCode::UNAUTHORIZED,
            "This superuser must also prove a second factor (MFA), which the dashboard does not ask for yet. Sign in through the API.",
        ),
        Err(e) => {
            let e = ApiError::from(e);
            let message = if e.status() == StatusCode::BAD_REQUEST {
                "Wrong email or password.".to_owned()
            } else {
                e.body()["message"].as_str().unwrap_or_default().to_owned()
            };
            again(e.status(), &message)
        }
    }
}

/// `POST /_/logout`
pub(crate) async fn logout(headers: HeaderMap, checked: Checked<Empty>) -> Response {
    let Checked {
        session,
        form: Empty {},
    } = checked;
    tracing::info!(superuser = %session.email, "signed out of the dashboard");
    let mut response = Redirect::to("/_/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::end(&headers));
    response
}

/// A form with nothing but its token.
#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}
