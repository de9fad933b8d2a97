//! JWTs the way PocketBase signs them: HS256, key = record `tokenKey` + collection secret.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Token types (the `type` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Authenticates requests.
    Auth,
    /// Grants access to protected files.
    File,
    /// Confirms an address (mailed; carries `email`).
    Verification,
    /// Sets a new password (mailed; carries `email`).
    PasswordReset,
    /// Confirms a new address (mailed to it; carries `email` and `newEmail`).
    EmailChange,
    /// Lets its holder create the first superuser (the install link; no record).
    Install,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Auth => "auth",
            TokenKind::File => "file",
            TokenKind::Verification => "verification",
            TokenKind::PasswordReset => "passwordReset",
            TokenKind::EmailChange => "emailChange",
            TokenKind::Install => "install",
        }
    }
}

/// PocketBase's claims. There is no `iat`: two logins in one second give the same token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// Collection of the record.
    pub collection_id: String,
    /// The address a mailed token was sent for (it must still be the record's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Record id.
    pub id: String,
    /// An email change's new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// Whether auth-refresh may extend it (false for impersonation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    /// Token type.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Claims {
    /// A token of `kind` for record `id` of collection `collection_id`, valid
    /// `duration_secs` from `now` (unix seconds); auth tokens are refreshable.
    pub(crate) fn new(
        kind: TokenKind,
        collection_id: &str,
        id: &str,
        duration_secs: u64,
        now: i64,
    ) -> Claims {
        Claims {
            collection_id: collection_id.to_owned(),
            email: None,
            exp: now.saturating_add(i64::try_from(duration_secs).unwrap_or(i64::MAX / 2)),
            id: id.to_owned(),
            new_email: None,
            refreshable: (kind == TokenKind::Auth).then_some(true),
            kind: kind.as_str().to_owned(),
        }
    }
}

/// Signs `claims` with `key`.
pub(crate) fn sign(claims: &Claims, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap_or_default()
}

/// Reads the claims without verifying, to find the record whose key verifies the token.
pub(crate) fn peek(token: &str) -> Option<Claims> {
    jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(token).ok()
}

/// Verifies signature with the record's key, and expiry at `now` (unix seconds, the
/// services' clock rather than the library's system time, so expiry is testable).
pub(crate) fn verify(token: &str, key: &str, kind: TokenKind, now: i64) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation,
    )
    .ok()?;
    (data.claims.kind == kind.as_str() && data.claims.exp >= now).then_some(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn tokens_verify_only_with_their_key() {
        let t = sign(
            &Claims::new(TokenKind::Auth, "pbc_1", "abc", 60, NOW),
            "key1",
        );
        let peeked = peek(&t).unwrap();
        assert_eq!(
            (peeked.id.as_str(), peeked.kind.as_str(), peeked.refreshable),
            ("abc", "auth", Some(true))
        );
        assert!(verify(&t, "key1", TokenKind::Auth, NOW).is_some());
        assert!(verify(&t, "key2", TokenKind::Auth, NOW).is_none());
        assert!(verify(&t, "key1", TokenKind::File, NOW).is_none());
        assert!(peek("garbage").is_none());
    }

    #[test]
    fn a_token_is_valid_up_to_its_expiry_second_by_the_clock_given() {
        let t = sign(
            &Claims::new(TokenKind::Auth, "pbc_1", "abc", 60, NOW),
            "key1",
        );
        assert!(verify(&t, "key1", TokenKind::Auth, NOW + 60).is_some());
        assert!(verify(&t, "key1", TokenKind::Auth, NOW + 61).is_none());
    }
}
