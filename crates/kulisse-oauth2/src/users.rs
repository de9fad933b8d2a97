//! Who signed in: each provider's user data in PocketBase's terms.
//!
//! The email is kept only when the provider vouches for it: OpenID Connect's
//! `email_verified`, GitHub's verified primary address, GitLab's confirmed address,
//! Discord's `verified`, Bitbucket's confirmed primary address; Facebook and Twitch only
//! ever share confirmed addresses. Microsoft Graph's `mail` is whatever the tenant's admin
//! typed (the "nOAuth" attack), Spotify says its addresses are unverified, and Gitea's
//! depend on the instance's settings: their emails are never used. X shares none.

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
    let mut user = user_of(&provider.name, &raw);
    if let Some(shape) = EmailList::of(&provider.name) {
        let emails = format!("{}/emails", provider.user_info_url.trim_end_matches('/'));
        user.email = primary_email(http, provider, shape, &emails, &tokens.access_token).await;
    }
    if user.id.is_empty() {
        return Err(ProviderError::User("no user id".into()));
    }
    user.raw = raw;
    Ok(user)
}

/// The user in `raw`, as provider `provider` shapes it.
fn user_of(provider: &str, raw: &Map<String, Value>) -> ExternalUser {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let field = |key: &str| text(raw.get(key));
    let mut user = ExternalUser::default();
    match provider {
        "github" => {
            user.id = field("id");
            user.name = field("name");
            user.username = field("login");
            user.avatar_url = field("avatar_url");
            // The email is read from `/user/emails` (see `primary_email`).
        }
        "bitbucket" => {
            user.id = field("uuid");
            user.name = field("display_name");
            user.username = field("username");
            user.avatar_url = text(raw.get("links").and_then(|l| l.pointer("/avatar/href")));
            // The email is read from `/user/emails` (see `primary_email`).
        }
        "gitea" => {
            user.id = field("id");
            user.name = field("full_name");
            user.username = field("login");
            user.avatar_url = field("avatar_url");
        }
        "spotify" => {
            user.id = field("id");
            user.name = field("display_name");
            user.avatar_url = text(raw.get("images").and_then(|i| i.pointer("/0/url")));
        }
        "twitter" => {
            let data = raw.get("data");
            let of = |key: &str| text(data.and_then(|u| u.get(key)));
            user.id = of("id");
            user.name = of("name");
            user.username = of("username");
            user.avatar_url = of("profile_image_url");
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
    user
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

/// How a provider lists a user's addresses at `{userInfoURL}/emails`.
#[derive(Clone, Copy)]
enum EmailList {
    /// GitHub: `[{email, primary, verified}]` (`/user` shows only a public one, unverified).
    GitHub,
    /// Bitbucket: `{values: [{email, is_primary, is_confirmed}]}`.
    Bitbucket,
}

impl EmailList {
    fn of(provider: &str) -> Option<Self> {
        match provider {
            "github" => Some(Self::GitHub),
            "bitbucket" => Some(Self::Bitbucket),
            _ => None,
        }
    }

    /// The verified primary address in `list`.
    fn primary(self, list: &Value) -> Option<&str> {
        let (items, email, primary, verified) = match self {
            Self::GitHub => (list.as_array()?, "email", "primary", "verified"),
            Self::Bitbucket => (
                list.get("values")?.as_array()?,
                "email",
                "is_primary",
                "is_confirmed",
            ),
        };
        let yes = Some(&Value::Bool(true));
        items
            .iter()
            .find(|e| e.get(primary) == yes && e.get(verified) == yes)?
            .get(email)?
            .as_str()
    }
}

/// The user's verified primary address from the provider's address list (empty when
/// there is none, or the list cannot be read: the sign-in goes on without an email).
async fn primary_email(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    shape: EmailList,
    url: &str,
    access_token: &str,
) -> String {
    let request = http
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json");
    let Ok(response) = request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
    else {
        tracing::info!(provider = %provider.name, "address list unreadable; signing in without an email");
        return String::new();
    };
    let list: Value = response.json().await.unwrap_or_default();
    shape.primary(&list).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(provider: &str, raw: Value) -> ExternalUser {
        user_of(provider, raw.as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn each_provider_maps_its_user_and_keeps_only_vouched_emails() {
        let oidc = of(
            "google",
            json!({"sub": "1", "name": "Ann", "email": "a@x.test", "email_verified": "true", "picture": "p"}),
        );
        assert_eq!(
            (
                oidc.id.as_str(),
                oidc.email.as_str(),
                oidc.avatar_url.as_str()
            ),
            ("1", "a@x.test", "p")
        );
        assert_eq!(
            of(
                "apple",
                json!({"sub": "1", "email": "a@x.test", "email_verified": false})
            )
            .email,
            ""
        );
        let ms = of(
            "microsoft",
            json!({"id": "m", "displayName": "Mo", "mail": "ceo@x.test"}),
        );
        assert_eq!(
            (ms.id.as_str(), ms.name.as_str(), ms.email.as_str()),
            ("m", "Mo", "")
        );
        let gitlab = of(
            "gitlab",
            json!({"id": 7, "username": "gl", "email": "g@x.test", "confirmed_at": null}),
        );
        assert_eq!((gitlab.id.as_str(), gitlab.email.as_str()), ("7", ""));
        let gitlab = of(
            "gitlab",
            json!({"id": 7, "email": "g@x.test", "confirmed_at": "2020-01-01"}),
        );
        assert_eq!(gitlab.email, "g@x.test");
        let discord = of(
            "discord",
            json!({"id": "9", "username": "dd", "global_name": null, "avatar": "h", "email": "d@x.test", "verified": true}),
        );
        assert_eq!(discord.name, "dd");
        assert_eq!(
            discord.avatar_url,
            "https://cdn.discordapp.com/avatars/9/h.png"
        );
        assert_eq!(discord.email, "d@x.test");
        assert_eq!(
            of(
                "discord",
                json!({"id": "9", "email": "d@x.test", "verified": false})
            )
            .email,
            ""
        );
        let fb = of(
            "facebook",
            json!({"id": "f", "name": "Fi", "email": "f@x.test", "picture": {"data": {"url": "u"}}}),
        );
        assert_eq!(
            (fb.email.as_str(), fb.avatar_url.as_str()),
            ("f@x.test", "u")
        );
        let twitch = of(
            "twitch",
            json!({"data": [{"id": "t", "login": "tw", "display_name": "Tw", "email": "t@x.test", "profile_image_url": "i"}]}),
        );
        assert_eq!(
            (
                twitch.id.as_str(),
                twitch.username.as_str(),
                twitch.name.as_str()
            ),
            ("t", "tw", "Tw")
        );
        let github = of(
            "github",
            json!({"id": 5, "login": "octo", "email": "public@x.test"}),
        );
        assert_eq!(
            (
                github.id.as_str(),
                github.username.as_str(),
                github.email.as_str()
            ),
            ("5", "octo", "")
        );
    }

    #[test]
    fn only_a_verified_primary_address_counts() {
        let github = json!([
            {"email": "old@x.test", "primary": false, "verified": true},
            {"email": "new@x.test", "primary": true, "verified": false},
        ]);
        assert_eq!(EmailList::GitHub.primary(&github), None);
        let github = json!([{"email": "me@x.test", "primary": true, "verified": true}]);
        assert_eq!(EmailList::GitHub.primary(&github), Some("me@x.test"));
        let bitbucket =
            json!({"values": [{"email": "b@x.test", "is_primary": true, "is_confirmed": true}]});
        assert_eq!(EmailList::Bitbucket.primary(&bitbucket), Some("b@x.test"));
        let unconfirmed =
            json!({"values": [{"email": "b@x.test", "is_primary": true, "is_confirmed": false}]});
        assert_eq!(EmailList::Bitbucket.primary(&unconfirmed), None);
    }
}
