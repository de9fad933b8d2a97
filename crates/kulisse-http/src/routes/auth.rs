//! Auth endpoints of auth collections: password and OTP logins (each possibly the first
//! of two MFA factors), refresh, impersonation, the methods.

use crate::json::{Json, records_answer};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::response::{IntoResponse, Response};
use kulisse_core::auth::{Client, Login};
use kulisse_core::records::Record;
use serde::Serialize;
use std::sync::Arc;

use kulisse_core::Row;
use kulisse_core::query::RequestInfo;
use kulisse_schema::Collection;
use serde_json::{Map, Value, json};

use super::oauth2::Meta;
use super::records::expand_of;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{BodyKind, FormBody, RemoteIp, Req, WriteBody};

/// `{"record", "token"}` with the record shown (and expanded) as its owner sees it, after
/// an OAuth2 sign-in's `meta`.
async fn auth_response(
    s: &AppState,
    req: &RequestInfo,
    c: &Arc<Collection>,
    record: Row,
    token: String,
    meta: Option<Meta>,
) -> Result<Response, ApiError> {
    let mut as_owner = req.clone();
    as_owner.auth = kulisse_core::Auth::Record {
        collection: Arc::clone(c),
        record: Arc::new(record.clone()),
    };
    let mut rows = [kulisse_core::records::visible(c, record, &as_owner.auth).into()];
    s.services
        .records
        .expand(&as_owner, c, &mut rows, &expand_of(req))
        .await?;
    let [record] = rows;
    let embedded = record.embedded();
    Ok(records_answer(
        AuthAnswer {
            meta,
            record,
            token,
        },
        embedded,
    ))
}

/// `{"meta", "record", "token"}` (`meta` after OAuth2 only).
#[derive(Serialize)]
struct AuthAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<Meta>,
    record: Record,
    token: String,
}

/// Fixed-form bodies match keys case-insensitively, as PocketBase's form binding does.
fn form_str<'a>(body: &'a Map<String, Value>, key: &str) -> &'a str {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// The MFA session a second login method continues: `mfaId` in the body or the query.
pub(super) fn mfa_id<'a>(req: &'a RequestInfo, body: &'a Map<String, Value>) -> Option<&'a str> {
    Some(form_str(body, "mfaId"))
        .filter(|id| !id.is_empty())
        .or_else(|| req.query.get("mfaId").map(String::as_str))
}

/// A finished login: the auth response, or PocketBase's bare 401 `{"mfaId"}` when a
/// second method must follow. A superuser from outside `superuserIPs` gets neither.
pub(super) async fn login_response(
    s: &AppState,
    req: &RequestInfo,
    ip: Option<std::net::IpAddr>,
    login: Login,
    meta: Option<Meta>,
) -> Result<Response, ApiError> {
    let c = match &login {
        Login::Token(c, ..) | Login::SecondFactor(c, _) => c,
    };
    if c.is_superusers() {
        // PB compat: checked once the method succeeded (a wrong password stays a 400).
        s.services.settings.check_superuser_ip(ip)?;
    }
    match login {
        Login::Token(c, record, token) => auth_response(s, req, &c, record, token, meta).await,
        Login::SecondFactor(_, mfa_id) => {
            Ok((StatusCode::UNAUTHORIZED, Json(json!({ "mfaId": mfa_id }))).into_response())
        }
    }
}

/// Refuses a body whose `keys` are present but not text, as PocketBase's form loading does.
fn text_fields(body: &Map<String, Value>, keys: &[&str]) -> Result<(), ApiError> {
    let wrong = body.iter().any(|(k, v)| {
        keys.iter().any(|key| k.eq_ignore_ascii_case(key)) && !v.is_null() && !v.is_string()
    });
    if wrong {
        return Err(ApiError::malformed_body(FormBody::MALFORMED));
    }
    Ok(())
}

/// The client of a login, for its origin and alert.
pub(super) fn client(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> Client {
    Client {
        ip,
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// `POST …/auth-with-password`
pub async fn auth_with_password(
    State(s): State<AppState>,
    Req(req): Req,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Response, ApiError> {
    let identity_field = Some(form_str(&body, "identityField")).filter(|f| !f.is_empty());
    let login = s
        .services
        .auth
        .auth_with_password(
            &c,
            form_str(&body, "identity"),
            form_str(&body, "password"),
            identity_field,
            mfa_id(&req, &body),
            &client(&headers, ip),
        )
        .await?;
    login_response(&s, &req, ip, login, None).await
}

/// `POST …/request-otp` → `{"otpId"}`
pub async fn request_otp(
    State(s): State<AppState>,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Json<Value>, ApiError> {
    text_fields(&body, &["email"])?;
    let body = Value::Object(body);
    let otp_id = s.services.auth.request_otp(&c, &body).await?;
    Ok(Json(json!({ "otpId": otp_id })))
}

/// `POST …/auth-with-otp`
pub async fn auth_with_otp(
    State(s): State<AppState>,
    Req(req): Req,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Response, ApiError> {
    text_fields(&body, &["otpId", "password", "mfaId"])?;
    let mfa = mfa_id(&req, &body).map(str::to_owned);
    let form = json!({"otpId": form_str(&body, "otpId"), "password": form_str(&body, "password")});
    let login = s
        .services
        .auth
        .auth_with_otp(&c, &form, mfa.as_deref(), &client(&headers, ip))
        .await?;
    login_response(&s, &req, ip, login, None).await
}

/// `POST …/auth-refresh`
pub async fn auth_refresh(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(kulisse_core::auth::bare_token);
    let (c, record, token) = s.services.auth.refresh(&req.auth, &c, presented).await?;
    auth_response(&s, &req, &c, record, token, None).await
}

/// `POST …/impersonate/{id}` (superusers only)
pub async fn impersonate(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Response, ApiError> {
    // PB compat: a duration that is no number is a body that cannot be loaded.
    if body
        .get("duration")
        .is_some_and(|d| !d.is_null() && !d.is_number())
    {
        return Err(ApiError::malformed_body(FormBody::MALFORMED));
    }
    let body = Value::Object(body);
    let (c, record, token) = s
        .services
        .auth
        .impersonate(&req.auth, &c, &id, &body)
        .await?;
    auth_response(&s, &req, &c, record, token, None).await
}

/// `GET …/auth-methods`
pub async fn auth_methods(
    State(s): State<AppState>,
    Path(c): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let m = s.services.auth.methods(&c)?;
    let providers = s.services.oauth2.providers(&c).await?;
    let enabled = |key: &str| {
        m.extra
            .get(key)
            .and_then(|v| v.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let duration = |key: &str| {
        if enabled(key) {
            m.extra
                .get(key)
                .and_then(|v| v.get("duration"))
                .cloned()
                .unwrap_or(json!(0))
        } else {
            json!(0)
        }
    };
    let has = |f: &str| m.password_enabled && m.identity_fields.iter().any(|i| i == f);
    // The pre-0.23 list (the SDKs' `authProviders`): the same entries, logo left empty.
    let legacy: Vec<Value> = providers
        .iter()
        .map(|p| {
            let mut v = json!(p);
            v["logo"] = json!("");
            v
        })
        .collect();
    Ok(Json(json!({
        "password": {"identityFields": m.identity_fields, "enabled": m.password_enabled},
        "oauth2": {"providers": providers, "enabled": enabled("oauth2")},
        "mfa": {"enabled": enabled("mfa"), "duration": duration("mfa")},
        "otp": {"enabled": enabled("otp"), "duration": duration("otp")},
        "authProviders": legacy,
        "usernamePassword": has("username"),
        "emailPassword": has("email"),
    })))
}
