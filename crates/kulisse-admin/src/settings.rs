//! The settings: the application (name, address, batch requests, the proxy in front,
//! superusers' addresses, rate limits), mail (with a test message) and file storage (with
//! a test of the bucket). Each section is a form of its own that sends only its keys, as
//! a partial `PATCH /api/settings` would, through the settings service; a secret left
//! empty stays as it is.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use serde_json::{Map, Value, json};

use crate::csrf::Checked;
use crate::page::{self, Chrome};
use crate::params::Params;
use crate::session::Session;

/// The templates a test mail may use, as the API names them.
const TEST_TEMPLATES: [(&str, &str); 5] = [
    ("verification", "Verification"),
    ("password-reset", "Password reset"),
    ("email-change", "Email change"),
    ("otp", "One-time password"),
    ("login-alert", "Login alert"),
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    csrf: String,
    s: Value,
    /// A section's outcome: which, and what to say.
    notice: Option<(String, String)>,
    error: Option<(String, String)>,
    errors: Value,
    rate_rules: String,
    proxy_headers: String,
    superuser_ips: String,
    templates: [(&'static str, &'static str); 5],
}

impl SettingsPage {
    /// What to say under `section` after it was saved or tested.
    fn notice_for(&self, section: &str) -> Option<&str> {
        self.notice
            .as_ref()
            .filter(|(s, _)| s == section)
            .map(|(_, text)| text.as_str())
    }

    /// Why `section` was not saved, or its test failed.
    fn error_for(&self, section: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(s, _)| s == section)
            .map(|(_, text)| text.as_str())
    }

    /// The server's message for the setting at `path` (`meta.appName`).
    fn error_at(&self, path: &str) -> Option<String> {
        let mut v = &self.errors;
        for key in path.split('.') {
            v = &v[key];
        }
        v["message"].as_str().map(str::to_owned)
    }

    fn text(&self, path: &str) -> String {
        let mut v = &self.s;
        for key in path.split('.') {
            v = &v[key];
        }
        match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    fn on(&self, path: &str) -> bool {
        let mut v = &self.s;
        for key in path.split('.') {
            v = &v[key];
        }
        v.as_bool().unwrap_or(false)
    }
}

/// `GET /_/settings`
pub(crate) async fn view(
    State(state): State<AppState>,
    params: Params,
    session: Session,
) -> Response {
    let saved = Some(params.first("saved"))
        .filter(|section| !section.is_empty())
        .map(|section| (section.to_owned(), "Saved.".to_owned()));
    render(&state, &session, saved, None, Value::Null, StatusCode::OK)
}

/// `POST /_/settings`: one section's form.
pub(crate) async fn update(
    State(state): State<AppState>,
    Checked { session, form }: Checked<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        form.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
    };
    let text = |k: &str| json!(get(k).unwrap_or_default());
    let on = |k: &str| json!(get(k) == Some("true"));
    // Whole numbers as integers: the settings' counts and sizes are integers.
    let number = |k: &str| match get(k) {
        Some(v) => v
            .parse::<i64>()
            .map(|n| json!(n))
            .or_else(|_| v.parse::<f64>().map(|n| json!(n)))
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    let list = |k: &str| {
        json!(
            get(k)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        )
    };
    let section = get("section").unwrap_or_default().to_owned();
    let patch = match section.as_str() {
        "application" => {
            let rules = match serde_json::from_str::<Value>(get("rateLimits.rules").unwrap_or("[]"))
            {
                Ok(rules @ Value::Array(_)) => rules,
                _ => {
                    let errors = json!({"rateLimits": {"rules": {"code": "validation_invalid_json",
                        "message": "The rules must be a JSON list."}}});
                    return refused(&state, &session, &section, None, errors);
                }
            };
            json!({
                "meta": {"appName": text("meta.appName"), "appURL": text("meta.appURL"),
                         "hideControls": on("meta.hideControls")},
                "batch": {"enabled": on("batch.enabled"), "maxRequests": number("batch.maxRequests"),
                          "timeout": number("batch.timeout"), "maxBodySize": number("batch.maxBodySize")},
                "trustedProxy": {"headers": list("trustedProxy.headers"),
                                 "useLeftmostIP": on("trustedProxy.useLeftmostIP")},
                "superuserIPs": list("superuserIPs"),
                "rateLimits": {"enabled": on("rateLimits.enabled"), "rules": rules},
            })
        }
        "mail" => {
            let mut smtp = json!({
                "enabled": on("smtp.enabled"), "host": text("smtp.host"), "port": number("smtp.port"),
                "username": text("smtp.username"), "authMethod": text("smtp.authMethod"),
                "tls": on("smtp.tls"), "localName": text("smtp.localName"),
            });
            keep_secret(&mut smtp, "password", get("smtp.password"));
            json!({
                "meta": {"senderName": text("meta.senderName"), "senderAddress": text("meta.senderAddress")},
                "smtp": smtp,
            })
        }
        "storage" => {
            let mut s3 = json!({
                "enabled": on("s3.enabled"), "bucket": text("s3.bucket"), "region": text("s3.region"),
                "endpoint": text("s3.endpoint"), "accessKey": text("s3.accessKey"),
                "forcePathStyle": on("s3.forcePathStyle"),
            });
            keep_secret(&mut s3, "secret", get("s3.secret"));
            json!({ "s3": s3 })
        }
        _ => return page::bad_form(),
    };
    match state.services.settings.update(&session.auth, &patch).await {
        Ok(_) => Redirect::to(&format!("/_/settings?saved={section}")).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let body = e.body();
            let message = body["message"].as_str().map(str::to_owned);
            refused(&state, &session, &section, message, body["data"].clone())
        }
    }
}

/// A secret field: sent only when something was typed (it is never shown).
fn keep_secret(section: &mut Value, key: &str, typed: Option<&str>) {
    if let (Some(typed), Some(o)) = (typed.filter(|t| !t.is_empty()), section.as_object_mut()) {
        o.insert(key.to_owned(), json!(typed));
    }
}

/// The address and template of a test mail.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TestMail {
    email: String,
    template: String,
}

/// `POST /_/settings/test-mail`
pub(crate) async fn test_mail(
    State(state): State<AppState>,
    Checked { session, form }: Checked<TestMail>,
) -> Response {
    let Some(mail) = &state.services.mail else {
        return page::not_found().await;
    };
    let body = json!({"email": form.email.trim(), "template": form.template});
    match mail.test_email(&session.auth, &body).await {
        Ok(()) => {
            let said = format!("A test message was sent to {}.", form.email.trim());
            render(
                &state,
                &session,
                Some(("mail".into(), said)),
                None,
                Value::Null,
                StatusCode::OK,
            )
        }
        Err(e) => failed_test(&state, &session, "mail", e),
    }
}

/// `POST /_/settings/test-s3`
pub(crate) async fn test_s3(
    State(state): State<AppState>,
    Checked {
        session,
        form: crate::login::Empty {},
    }: Checked<crate::login::Empty>,
) -> Response {
    let Some(files) = &state.services.files else {
        return page::not_found().await;
    };
    match files
        .test_s3(&session.auth, "storage", &*state.services.ambient.ids)
        .await
    {
        Ok(()) => {
            let said = "The bucket took a test file and deleted it.".to_owned();
            render(
                &state,
                &session,
                Some(("storage".into(), said)),
                None,
                Value::Null,
                StatusCode::OK,
            )
        }
        Err(e) => failed_test(&state, &session, "storage", e),
    }
}

fn failed_test(
    state: &AppState,
    session: &Session,
    section: &str,
    e: kulisse_core::CoreError,
) -> Response {
    let e = ApiError::from(e);
    let body = e.body();
    let data = body["data"].as_object().cloned().unwrap_or_default();
    let detail = data
        .values()
        .find_map(|v| v["message"].as_str())
        .or(body["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    let error = Some((section.to_owned(), format!("The test failed: {detail}")));
    render(state, session, None, error, Value::Null, e.status())
}

fn refused(
    state: &AppState,
    session: &Session,
    section: &str,
    message: Option<String>,
    errors: Value,
) -> Response {
    let message = message.unwrap_or_else(|| "The settings were not saved.".to_owned());
    let error = Some((section.to_owned(), message));
    render(state, session, None, error, errors, StatusCode::BAD_REQUEST)
}

fn render(
    state: &AppState,
    session: &Session,
    notice: Option<(String, String)>,
    error: Option<(String, String)>,
    errors: Value,
    status: StatusCode,
) -> Response {
    let s = state
        .services
        .settings
        .view(&session.auth)
        .unwrap_or_default();
    let joined = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let page = SettingsPage {
        chrome: Chrome::signed_in("Settings", state, session, None),
        csrf: session.csrf.clone(),
        rate_rules: serde_json::to_string_pretty(&s["rateLimits"]["rules"]).unwrap_or_default(),
        proxy_headers: joined(&s["trustedProxy"]["headers"]),
        superuser_ips: joined(&s["superuserIPs"]),
        s,
        notice,
        error,
        errors: if errors.is_object() {
            errors
        } else {
            Value::Object(Map::new())
        },
        templates: TEST_TEMPLATES,
    };
    page::render(status, &page)
}
