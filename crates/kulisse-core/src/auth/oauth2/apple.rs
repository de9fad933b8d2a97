//! `POST /api/settings/apple/generate-client-secret` (superusers only): Apple's "client
//! secret" is no fixed string but a JWT the app signs with its Sign in with Apple key
//! (ES256), valid for at most six months. kulisse makes it as PocketBase does, so the
//! `apple` provider's `clientSecret` can be filled in without outside tools.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kulisse_schema::{FieldError, FieldErrors};
use serde_json::{Value, json};

use super::OAuth2Service;
use crate::Auth;
use crate::collections::service::require_superuser;
use crate::error::{CoreError, Form};

/// Apple's longest accepted lifetime (about six months).
const MAX_DURATION: i64 = 15_777_000;
/// Apple's team and key ids are ten characters.
const APPLE_ID_LEN: usize = 10;

impl OAuth2Service {
    /// The client secret for `{"clientId", "teamId", "keyId", "privateKey", "duration"}`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; PocketBase's 400 "Invalid client secret data."
    /// with the fields' errors.
    pub fn apple_client_secret(&self, auth: &Auth, form: &Value) -> Result<String, CoreError> {
        require_superuser(auth)?;
        let text = |key: &str| form.get(key).and_then(Value::as_str).unwrap_or_default();
        let mut errs = FieldErrors::new();
        if text("clientId").is_empty() {
            errs.add("clientId", FieldError::required());
        }
        for key in ["teamId", "keyId"] {
            match text(key).chars().count() {
                0 => errs.add(key, FieldError::required()),
                APPLE_ID_LEN => {}
                _ => errs.add(
                    key,
                    FieldError::new(
                        "validation_length_invalid",
                        format!("The length must be exactly {APPLE_ID_LEN}."),
                    )
                    .with_param("max", APPLE_ID_LEN)
                    .with_param("min", APPLE_ID_LEN),
                ),
            }
        }
        let key = match text("privateKey").trim() {
            "" => {
                errs.add("privateKey", FieldError::required());
                None
            }
            pem => {
                let key = EncodingKey::from_ec_pem(pem.as_bytes()).ok();
                if key.is_none() {
                    errs.add("privateKey", FieldError::invalid_format());
                }
                key
            }
        };
        let duration = form.get("duration").and_then(Value::as_i64).unwrap_or(0);
        if duration <= 0 {
            errs.add("duration", FieldError::required());
        } else if duration > MAX_DURATION {
            errs.add(
                "duration",
                FieldError::new(
                    "validation_max_less_equal_than_required",
                    format!("Must be no greater than {MAX_DURATION}."),
                )
                .with_param("threshold", MAX_DURATION),
            );
        }
        let (Some(key), true) = (key, errs.is_empty()) else {
            return Err(CoreError::invalid(Form::AppleClientSecret, errs));
        };
        let now = self.ambient.clock.now().as_second();
        let claims = json!({
            "iss": text("teamId"),
            "sub": text("clientId"),
            "aud": ["https://appleid.apple.com"],
            "exp": now.saturating_add(duration),
            "iat": now,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(text("keyId").to_owned());
        jsonwebtoken::encode(&header, &claims, &key).map_err(|_| {
            let mut errs = FieldErrors::new();
            errs.add("privateKey", FieldError::invalid_format());
            CoreError::invalid(Form::AppleClientSecret, errs)
        })
    }
}
