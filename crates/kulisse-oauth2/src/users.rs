//! Who signed in: each provider's user data in PocketBase's terms.
//!
//! The email is kept only when the provider vouches for it: OpenID Connect's
//! `email_verified`, GitHub's verified primary address, GitLab's confirmed address,
//! Discord's `verified`; Facebook and Twitch only ever share confirmed addresses.
//! Microsoft Graph's `mail` is whatever the tenant's admin typed (the "nOAuth" attack),
//! so a Microsoft email is never used.

use kulisse_core::auth::oauth2::{ExternalUser, ProviderConfig, ProviderError};
use serde_json::{Map, Value};

use crate::exchange::Tokens;

/// Reads the user of `tokens`: from the user info endpoint, or from the checked ID token
/// `claims` for a provider that has none (Apple, an OIDC provider without one).
pub(crate) async fn read(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    tokens: &Tokens,
    claims: Option<&Map<String, Value>>,
) -> Result<ExternalUser, ProviderError> {
    let raw = if provider.user_info_url.is_empty() {
        claims
            .cloned()
            .ok_or_else(|| ProviderError::User("no user info endpoint and no ID token".into()))?
    } else {
        let raw = get(
            http,
            provider,
            &provider.user_info_url,
            &tokens.access_token,
        )
        .await?;
        // OpenID Connect core §5.3.2: the user info must be the ID token's subject.
        if let (Some(claims), Some(sub)) = (claims, raw.get("sub"))
            && claims.get("sub") != Some(sub)
        {
            return Err(ProviderError::User("user info of another subject".into()));
        }
        raw
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let field = |key: &str| text(raw.get(key));
    let mut user = ExternalUser::default();
    match provider.name.as_str() {
        "github" => {
            user.id = field("id");
            user.name = field("name");
            user.username = field("login");
            user.avatar_url = field("avatar_url");
            let emails = format!("{}/emails", provider.user_info_url.trim_end_matches('/'));
            user.email = github_email(http, provider, &emails, &tokens.access_token).await;
        }
        "microsoft" => {
            user.id = field("id");
            user.name = field("displayName");
        }
        "gitlab" => {
            user.id = field("id");
            user.name = field("name");
            user.username = field("username");
            user.avatar_url = field("avatar_url");
            if raw.get("confirmed_at").is_some_and(|c| !c.is_null()) {
                user.email = field("email");
            }
        }
        "discord" => {
            user.id = field("id");
            user.username = field("username");
            user.name = Some(field("global_name"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| user.username.clone());
            let avatar = field("avatar");
            if !avatar.is_empty() {
                user.avatar_url = format!(
                    "https://cdn.discordapp.com/avatars/{}/{avatar}.png",
                    user.id
                );
            }
            if raw.get("verified") == Some(&Value::Bool(true)) {
                user.email = field("email");
            }
        }
        "facebook" => {
            user.id = field("id");
            user.name = field("name");
            user.email = field("email");
            user.avatar_url = text(raw.get("picture").and_then(|p| p.pointer("/data/url")));
        }
        "twitch" => {
            let first = raw.get("data").and_then(|d| d.get(0));
            let of = |key: &str| text(first.and_then(|u| u.get(key)));
            user.id = of("id");
            user.name = of("display_name");
            user.username = of("login");
            user.email = of("email");
            user.avatar_url = of("profile_image_url");
        }
        // OpenID Connect: the generic slots, Google and Apple.
        _ => {
            user.id = field("sub");
            user.name = field("name");
            user.username = field("preferred_username");
            user.avatar_url = field("picture");
            if truthy(raw.get("email_verified")) {
                user.email = field("email");
            }
        }
    }
    if user.id.is_empty() {
        return Err(ProviderError::User("no user id".into()));
    }
    user.raw = raw;
    Ok(user)
}

/// OpenID Connect's booleans, which some providers (Apple) send as text.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// A JSON object from `url` with the access token.
async fn get(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, ProviderError> {
    let mut request = http
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json");
    if provider.name == "twitch" {
        // Twitch's API needs the app's id with every call.
        request = request.header("Client-Id", &provider.client_id);
    }
    let fail = |e: reqwest::Error| ProviderError::User(format!("{url}: {e}"));
    request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fail)?
        .json()
        .await
        .map_err(fail)
}

/// GitHub's verified primary address (`/user` shows only a public one, unverified).
async fn github_email(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    url: &str,
    access_token: &str,
) -> String {
    let mut request = http.get(url).bearer_auth(access_token);
    request = request.header(reqwest::header::ACCEPT, "application/json");
    let Ok(response) = request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
    else {
        tracing::info!(provider = %provider.name, "GitHub emails unreadable; signing in without one");
        return String::new();
    };
    let emails: Vec<Value> = response.json().await.unwrap_or_default();
    emails
        .iter()
        .find(|e| {
            e.get("primary") == Some(&Value::Bool(true))
                && e.get("verified") == Some(&Value::Bool(true))
        })
        .and_then(|e| e.get("email"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
