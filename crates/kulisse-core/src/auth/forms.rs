//! What the auth endpoints read: a form's values, a stored row's columns, a password
//! against its hash. Shared by the mailed flows, OTP and MFA.

use kulisse_schema::FieldErrors;
use kulisse_schema::value::required_email;
use kulisse_store::Row;
use serde_json::Value;

use super::verify_password;
use crate::error::{CoreError, Form};

/// `body[key]` as text.
pub(super) fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The request's `email`, required and valid.
pub(super) fn requested_email(body: &Value) -> Result<&str, CoreError> {
    let email = text(body, "email").trim();
    required_email(email).map(|()| email).map_err(|e| {
        let mut errs = FieldErrors::new();
        errs.add("email", e);
        CoreError::invalid(Form::Request, errs)
    })
}

/// A column of a stored row (`null` when missing).
pub(super) fn field<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

/// Whether `password` is the one `hash` was made of (bcrypt, off the runtime threads).
pub(super) async fn password_matches(password: &str, hash: Option<String>) -> bool {
    let Some(hash) = hash else {
        return false;
    };
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// `row` for `{RECORD:field}` placeholders: all but its password hash and token key.
pub(super) fn public(row: &Row) -> serde_json::Map<String, Value> {
    row.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "password" | "tokenKey"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
