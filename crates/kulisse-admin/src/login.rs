//! Signing in and out.
//!
//! A login here is the API's own: `auth-with-password` on `_superusers`, and with the
//! superusers' OTP on, `request-otp` and `auth-with-otp` (alone, or as the second factor
//! MFA asks for after the password, or the password after a code). The same services, the
//! same rate limits (counted under the API's routes, so the two doors share one budget),
//! the same `superuserIPs`. The token becomes the session cookie.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_core::auth::{Auth, Client, Login};
use kulisse_core::limits::Attempt;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use kulisse_http::extract::RemoteIp;
use kulisse_schema::collection::SUPERUSERS;
use serde::Deserialize;
use serde_json::json;

use crate::csrf::{Checked, SameOrigin};
use crate::page::{self, Chrome};
use crate::params::Params;
use crate::session;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    email: String,
    error: Option<String>,
    /// The MFA session a code opened: the password is the second factor.
    mfa_id: Option<String>,
    /// Whether superusers may sign in with a mailed code.
    otp: bool,
}

#[derive(Template)]
#[template(path = "otp.html")]
struct CodePage {
    chrome: Chrome,
    next: String,
    email: String,
    otp_id: String,
    mfa_id: String,
    error: Option<String>,
}

/// `GET /_/login?next=` (the page to go back to)
pub(crate) async fn form(State(state): State<AppState>, params: Params) -> Response {
    let next = Some(params.first("next")).filter(|n| !n.is_empty());
    login_page(&state, StatusCode::OK, next, "", None, None)
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: Option<&str>,
    email: &str,
    error: Option<String>,
    mfa_id: Option<String>,
) -> Response {
    page::render(
        status,
        &LoginPage {
            chrome: Chrome::public("Sign in", Some(state)),
            next: session::after_login(next),
            email: email.to_owned(),
            error,
            mfa_id,
            otp: otp_enabled(state),
        },
    )
}

fn otp_enabled(state: &AppState) -> bool {
    state
        .services
        .collections
        .registry()
        .get(SUPERUSERS)
        .and_then(|c| c.auth.as_ref().map(|a| a.otp().enabled))
        .unwrap_or(false)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    #[serde(default, rename = "mfaId")]
    mfa_id: String,
}

/// `POST /_/login`
pub(crate) async fn submit(
    State(state): State<AppState>,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    SameOrigin(form): SameOrigin<Credentials>,
) -> Response {
    let next = form.next.as_deref();
    let mfa_id = Some(form.mfa_id.clone()).filter(|m| !m.is_empty());
    let again = |status, message: &str| {
        let mfa = mfa_id.clone();
        login_page(
            &state,
            status,
            next,
            &form.email,
            Some(message.to_owned()),
            mfa,
        )
    };
    let password = (
        "/api/collections/_superusers/auth-with-password",
        &["authWithPassword", "auth"][..],
    );
    if let Some(wait) = limited(&state, ip, password).await {
        return again(StatusCode::TOO_MANY_REQUESTS, &wait);
    }
    let login = state
        .services
        .auth
        .auth_with_password(
            SUPERUSERS,
            form.email.trim(),
            &form.password,
            None,
            mfa_id.as_deref(),
            &client(ip, &headers),
        )
        .await;
    match login {
        Err(e) => {
            let e = ApiError::from(e);
            let message = match e.status() {
                StatusCode::BAD_REQUEST => "Wrong email or password.".to_owned(),
                _ => e.body()["message"].as_str().unwrap_or_default().to_owned(),
            };
            again(e.status(), &message)
        }
        Ok(login) => finish(&state, ip, &headers, next, form.email.trim(), login).await,
    }
}

/// What a login that went through leads to: the session, or the other factor.
async fn finish(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    next: Option<&str>,
    email: &str,
    login: Login,
) -> Response {
    match login {
        Login::Token(collection, _, token) => {
            if state.services.settings.check_superuser_ip(ip).is_err() {
                return page::forbidden();
            }
            let lifetime = collection
                .auth
                .as_ref()
                .map_or(0, |a| a.auth_token.duration);
            let mut response = Redirect::to(&session::after_login(next)).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::start(&token, lifetime, headers),
            );
            response
        }
        // The password came first: a mailed code is the other factor.
        Login::SecondFactor(_, mfa_id) if otp_enabled(state) => {
            send_code(state, ip, next, email, &mfa_id).await
        }
        Login::SecondFactor(..) => page::message(
            StatusCode::UNAUTHORIZED,
            "A second factor is needed",
            "Superusers must prove a second factor (MFA), and the only one the dashboard can ask for is a mailed one-time code, which is off for superusers. Turn on OTP for _superusers, or sign in through the API.",
        ),
    }
}

/// Mails a code to `email` and asks for it (`mfa_id`: the session it completes, if any).
async fn send_code(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    next: Option<&str>,
    email: &str,
    mfa_id: &str,
) -> Response {
    let request = (
        "/api/collections/_superusers/request-otp",
        &["requestOTP"][..],
    );
    if let Some(wait) = limited(state, ip, request).await {
        return login_page(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            email,
            Some(wait),
            None,
        );
    }
    match state
        .services
        .auth
        .request_otp(SUPERUSERS, &json!({ "email": email }))
        .await
    {
        Ok(otp_id) => code_page(state, StatusCode::OK, next, email, &otp_id, mfa_id, None),
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.body()["message"].as_str().unwrap_or_default().to_owned();
            login_page(state, e.status(), next, email, Some(message), None)
        }
    }
}

fn code_page(
    state: &AppState,
    status: StatusCode,
    next: Option<&str>,
    email: &str,
    otp_id: &str,
    mfa_id: &str,
    error: Option<String>,
) -> Response {
    page::render(
        status,
        &CodePage {
            chrome: Chrome::public("Enter the code", Some(state)),
            next: session::after_login(next),
            email: email.to_owned(),
            otp_id: otp_id.to_owned(),
            mfa_id: mfa_id.to_owned(),
            error,
        },
    )
}

/// The one-time-code forms' fields.
#[derive(Debug, Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    email: String,
    #[serde(default, rename = "otpId")]
    otp_id: String,
    #[serde(default, rename = "mfaId")]
    mfa_id: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// `POST /_/login/code-request`: mails a code to the address typed (whether or not it is
/// a superuser's: the answer does not tell).
pub(crate) async fn request_code(
    State(state): State<AppState>,
    RemoteIp(ip): RemoteIp,
    SameOrigin(form): SameOrigin<CodeForm>,
) -> Response {
    send_code(&state, ip, form.next.as_deref(), form.email.trim(), "").await
}

/// `POST /_/login/code`
pub(crate) async fn submit_code(
    State(state): State<AppState>,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    SameOrigin(form): SameOrigin<CodeForm>,
) -> Response {
    let next = form.next.as_deref();
    let again = |status, message: String| {
        code_page(
            &state,
            status,
            next,
            &form.email,
            &form.otp_id,
            &form.mfa_id,
            Some(message),
        )
    };
    let with_otp = (
        "/api/collections/_superusers/auth-with-otp",
        &["authWithOTP", "auth"][..],
    );
    if let Some(wait) = limited(&state, ip, with_otp).await {
        return again(StatusCode::TOO_MANY_REQUESTS, wait);
    }
    let body = json!({ "otpId": form.otp_id, "password": form.code.trim() });
    let mfa_id = Some(form.mfa_id.as_str()).filter(|m| !m.is_empty());
    let login = state
        .services
        .auth
        .auth_with_otp(SUPERUSERS, &body, mfa_id, &client(ip, &headers))
        .await;
    match login {
        // The code came first: the password is the other factor.
        Ok(Login::SecondFactor(_, mfa_id)) => login_page(
            &state,
            StatusCode::OK,
            next,
            &form.email,
            Some("Now your password, the second factor.".to_owned()),
            Some(mfa_id),
        ),
        Ok(login) => finish(&state, ip, &headers, next, &form.email, login).await,
        Err(e) => {
            let e = ApiError::from(e);
            let message = e.body()["message"].as_str().unwrap_or_default().to_owned();
            again(e.status(), message)
        }
    }
}

/// `Some(why)` when the API's rate limit for `route` (path, tags) refuses this client now.
async fn limited(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    (path, tags): (&str, &[&str]),
) -> Option<String> {
    let attempt = Attempt {
        method: "POST",
        path,
        collection: Some(SUPERUSERS),
        tags,
        ip,
    };
    let limited = state
        .services
        .limits
        .check(&attempt, &Auth::Guest)
        .await
        .err()?;
    Some(format!(
        "Too many attempts. Try again in {} seconds.",
        limited.retry_after
    ))
}

fn client(ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> Client {
    Client {
        ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
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
