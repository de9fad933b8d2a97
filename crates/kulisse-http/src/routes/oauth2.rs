//! OAuth2 endpoints (spec §5.7): the code sign-in, and the redirect target of the SDKs'
//! popup flow (`GET`, and the `POST` form Apple sends).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kulisse_core::auth::Login;
use kulisse_core::auth::oauth2::{ExternalUser, OAuth2Form, Redirected};
use serde::Serialize;
use serde_json::{Map, Value};

use super::auth::{client, login_response, mfa_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{FormBody, RemoteIp, Req, WriteBody};

/// `POST …/auth-with-oauth2`: the auth response with the provider's user as `meta`
/// first, or the MFA challenge.
pub async fn auth_with_oauth2(
    State(s): State<AppState>,
    Req(req): Req,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
    Path(c): Path<String>,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<Response, ApiError> {
    let form = form(&body)?;
    let mfa = mfa_id(&req, &body).map(str::to_owned);
    let signed_in = s
        .services
        .oauth2
        .auth_with_oauth2(&req, &c, form, mfa.as_deref(), &client(&headers, ip))
        .await?;
    let meta = match &signed_in.login {
        Login::Token(..) => Some(Meta::of(&signed_in.user, signed_in.is_new)),
        Login::SecondFactor(..) => None,
    };
    login_response(&s, &req, ip, signed_in.login, meta).await
}

/// The form, PocketBase's way: text keys matched case-insensitively (`redirectUrl` is the
/// old name of `redirectURL`), `createData` an object.
fn form(body: &Map<String, Value>) -> Result<OAuth2Form, ApiError> {
    let get = |key: &str| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    };
    let text = |key: &str| match get(key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::malformed_body(
            <FormBody as crate::extract::BodyKind>::MALFORMED,
        )),
    };
    let provider = text("provider")?;
    let code = text("code")?;
    let code_verifier = text("codeVerifier")?;
    let redirect_url = text("redirectURL")?;
    let create_data = match get("createData") {
        None => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(ApiError::malformed_body(
                <FormBody as crate::extract::BodyKind>::MALFORMED,
            ));
        }
    };
    Ok(OAuth2Form {
        provider,
        code,
        code_verifier,
        redirect_url,
        create_data,
    })
}

/// `meta` of an OAuth2 auth response, in PocketBase's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Meta {
    id: String,
    name: String,
    username: String,
    email: String,
    #[serde(rename = "avatarURL")]
    avatar_url: String,
    #[serde(rename = "avatarUrl")]
    avatar_url_legacy: String,
    access_token: String,
    refresh_token: String,
    expiry: String,
    raw_user: Map<String, Value>,
    is_new: bool,
}

impl Meta {
    fn of(user: &ExternalUser, is_new: bool) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
            avatar_url_legacy: user.avatar_url.clone(),
            access_token: user.access_token.clone(),
            refresh_token: user.refresh_token.clone(),
            expiry: user.expiry.clone(),
            raw_user: user.raw.clone(),
            is_new,
        }
    }
}

/// `GET /api/oauth2-redirect?state=…&code=…`: 307 to the success or failure page.
pub async fn redirect_get(
    State(s): State<AppState>,
    RemoteIp(ip): RemoteIp,
    RawQuery(query): RawQuery,
) -> Response {
    redirect(
        &s,
        ip,
        query.unwrap_or_default().as_bytes(),
        StatusCode::TEMPORARY_REDIRECT,
    )
}

/// `POST /api/oauth2-redirect` with a form (Apple's `response_mode=form_post`): 303, so
/// the browser follows with a `GET`.
pub async fn redirect_post(
    State(s): State<AppState>,
    RemoteIp(ip): RemoteIp,
    body: Bytes,
) -> Response {
    redirect(&s, ip, &body, StatusCode::SEE_OTHER)
}

fn redirect(
    s: &AppState,
    ip: Option<std::net::IpAddr>,
    form: &[u8],
    status: StatusCode,
) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(form).unwrap_or_default();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let outcome = s
        .services
        .oauth2
        .redirect(value("state"), value("code"), value("error"), &ip);
    let page = match outcome {
        Redirected::Success => "oauth2-redirect-success",
        Redirected::Failure => "oauth2-redirect-failure",
    };
    let app_url = s.services.settings.snapshot().meta.app_url.clone();
    let location = format!("{}/_/#/auth/{page}", app_url.trim_end_matches('/'));
    (status, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keeps_pocketbase_key_order() {
        let user = ExternalUser {
            id: "1".into(),
            ..Default::default()
        };
        let out = serde_json::to_string(&Meta::of(&user, true)).unwrap_or_default();
        let keys: Vec<_> = serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        assert_eq!(keys.len(), 11);
        assert!(out.starts_with(r#"{"id":"1","name":"","username":"","email":"","avatarURL":"","avatarUrl":"","accessToken""#));
        assert!(out.ends_with(r#""rawUser":{},"isNew":true}"#));
    }
}
