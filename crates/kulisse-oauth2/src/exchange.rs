//! The code exchange (RFC 6749 §4.1.3): the authorization code, with the PKCE verifier and
//! the redirect URL it was asked for with, for the provider's tokens.
//!
//! Written out rather than through a typed OAuth2 client: providers answer in more shapes
//! than the RFC's (Twitch sends `scope` as a list, GitHub errors with status 200), and the
//! exchange is one form post.

use kulisse_core::auth::oauth2::{CodeGrant, ProviderConfig, ProviderError};
use serde_json::{Map, Value};

/// The provider's tokens.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    /// When the access token expires (`YYYY-MM-DD HH:MM:SS.mmmZ`), or empty.
    pub(crate) expiry: String,
    /// The OpenID Connect ID token, when the provider sent one.
    pub(crate) id_token: Option<String>,
}

/// How the app proves itself at the token endpoint: `client_secret_basic` (an
/// `Authorization: Basic` header, the default) or `client_secret_post` (in the form; what
/// Twitch takes, and what a discovery document may say).
pub(crate) const TOKEN_AUTH_KEY: &str = "tokenAuthMethod";

fn sends_secret_in_form(provider: &ProviderConfig) -> bool {
    match provider.extra_text(TOKEN_AUTH_KEY) {
        "client_secret_post" => true,
        "client_secret_basic" => false,
        _ => provider.name == "twitch",
    }
}

/// Redeems `grant` at `provider`'s token endpoint.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    grant: &CodeGrant,
) -> Result<Tokens, ProviderError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", grant.code.as_str()),
        ("redirect_uri", grant.redirect_url.as_str()),
    ];
    if provider.pkce && !grant.code_verifier.is_empty() {
        form.push(("code_verifier", grant.code_verifier.as_str()));
    }
    let mut request = http
        .post(&provider.token_url)
        .header(reqwest::header::ACCEPT, "application/json");
    if sends_secret_in_form(provider) {
        form.push(("client_id", provider.client_id.as_str()));
        form.push(("client_secret", provider.client_secret.as_str()));
    } else {
        // RFC 6749 §2.3.1: both are form-encoded before the Basic encoding.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        request = request.basic_auth(
            encode(&provider.client_id),
            Some(encode(&provider.client_secret)),
        );
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| ProviderError::Token(e.to_string()))?;
    let status = response.status();
    let body: Map<String, Value> = response
        .json()
        .await
        .map_err(|e| ProviderError::Token(format!("{status}: {e}")))?;
    if !status.is_success() || body.contains_key("error") {
        let error = body.get("error").map(Value::to_string).unwrap_or_default();
        return Err(ProviderError::Token(format!("{status} {error}")));
    }
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let access_token = text("access_token");
    if access_token.is_empty() {
        return Err(ProviderError::Token("no access_token".into()));
    }
    let expires_in = body
        .get("expires_in")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .filter(|s| *s > 0);
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        expiry: expires_in.map(expiry_in).unwrap_or_default(),
        id_token: Some(text("id_token")).filter(|t| !t.is_empty()),
    })
}

/// The time `seconds` from now, as PocketBase writes datetimes.
fn expiry_in(seconds: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    at.strftime("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}
