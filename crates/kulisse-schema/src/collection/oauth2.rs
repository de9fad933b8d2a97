//! The `oauth2` options of an auth collection: sign-in through other sites' accounts.
//!
//! The options are kept verbatim (for round trips) and read typed here. The catalogue of
//! providers kulisse knows is here too, as data: the names a collection may configure and
//! the endpoints a provider uses when the configuration leaves them empty. How to talk to
//! each provider (its token exchange and user data) is the OAuth2 adapter's business.

use serde_json::{Map, Value};

use super::AuthOptions;
use crate::errors::{FieldError, FieldErrors};

/// A provider kulisse can sign in with, and its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownProvider {
    /// The name a collection's `providers[].name` uses (PocketBase's).
    pub name: &'static str,
    /// Shown on login pages when the configuration names none.
    pub display_name: &'static str,
    /// The authorization endpoint (empty: the configuration must give it).
    pub auth_url: &'static str,
    /// The token endpoint.
    pub token_url: &'static str,
    /// Where the user's data is read with the access token (empty: from the ID token).
    pub user_info_url: &'static str,
    /// The scopes asked for.
    pub scopes: &'static [&'static str],
    /// Whether PKCE is used when the configuration does not say.
    pub pkce: bool,
    /// Authorization URL parameters the provider needs besides the standard ones.
    pub auth_params: &'static [(&'static str, &'static str)],
}

/// The generic OpenID Connect providers: PocketBase offers three slots so that a
/// collection can sign in with three different OIDC servers.
const OIDC_SCOPES: &[&str] = &["openid", "email", "profile"];

/// Every provider kulisse signs in with.
pub const KNOWN_PROVIDERS: &[KnownProvider] = &[
    oidc("oidc"),
    oidc("oidc2"),
    oidc("oidc3"),
    KnownProvider {
        name: "google",
        display_name: "Google",
        auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        user_info_url: "https://www.googleapis.com/oauth2/v3/userinfo",
        scopes: &[
            "https://www.googleapis.com/auth/userinfo.profile",
            "https://www.googleapis.com/auth/userinfo.email",
        ],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "github",
        display_name: "GitHub",
        auth_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        user_info_url: "https://api.github.com/user",
        scopes: &["read:user", "user:email"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "microsoft",
        display_name: "Microsoft",
        auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        user_info_url: "https://graph.microsoft.com/v1.0/me",
        scopes: &["User.Read"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "apple",
        display_name: "Apple",
        auth_url: "https://appleid.apple.com/auth/authorize",
        token_url: "https://appleid.apple.com/auth/token",
        user_info_url: "",
        scopes: &["name", "email"],
        pkce: true,
        // Apple posts the code back (and only then shares the name and email scopes).
        auth_params: &[("response_mode", "form_post")],
    },
    KnownProvider {
        name: "gitlab",
        display_name: "GitLab",
        auth_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        user_info_url: "https://gitlab.com/api/v4/user",
        scopes: &["read_user"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "discord",
        display_name: "Discord",
        auth_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        user_info_url: "https://discord.com/api/users/@me",
        scopes: &["identify", "email"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "facebook",
        display_name: "Facebook",
        auth_url: "https://www.facebook.com/v20.0/dialog/oauth",
        token_url: "https://graph.facebook.com/v20.0/oauth/access_token",
        user_info_url: "https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        scopes: &["email"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "twitch",
        display_name: "Twitch",
        auth_url: "https://id.twitch.tv/oauth2/authorize",
        token_url: "https://id.twitch.tv/oauth2/token",
        user_info_url: "https://api.twitch.tv/helix/users",
        scopes: &["user:read:email"],
        pkce: false,
        auth_params: &[],
    },
    KnownProvider {
        name: "twitter",
        display_name: "X/Twitter",
        auth_url: "https://twitter.com/i/oauth2/authorize",
        token_url: "https://api.twitter.com/2/oauth2/token",
        user_info_url: "https://api.twitter.com/2/users/me?user.fields=id,name,username,profile_image_url",
        scopes: &["users.read", "tweet.read"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "spotify",
        display_name: "Spotify",
        auth_url: "https://accounts.spotify.com/authorize",
        token_url: "https://accounts.spotify.com/api/token",
        user_info_url: "https://api.spotify.com/v1/me",
        scopes: &["user-read-private", "user-read-email"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "gitea",
        display_name: "Gitea",
        auth_url: "https://gitea.com/login/oauth/authorize",
        token_url: "https://gitea.com/login/oauth/access_token",
        user_info_url: "https://gitea.com/api/v1/user",
        scopes: &["read:user"],
        pkce: true,
        auth_params: &[],
    },
    KnownProvider {
        name: "bitbucket",
        display_name: "Bitbucket",
        auth_url: "https://bitbucket.org/site/oauth2/authorize",
        token_url: "https://bitbucket.org/site/oauth2/access_token",
        user_info_url: "https://api.bitbucket.org/2.0/user",
        scopes: &["account", "email"],
        pkce: false,
        auth_params: &[],
    },
];

const fn oidc(name: &'static str) -> KnownProvider {
    KnownProvider {
        name,
        display_name: "OIDC",
        auth_url: "",
        token_url: "",
        user_info_url: "",
        scopes: OIDC_SCOPES,
        pkce: true,
        auth_params: &[],
    }
}

/// The provider named `name`, if kulisse knows it.
pub fn known_provider(name: &str) -> Option<&'static KnownProvider> {
    KNOWN_PROVIDERS.iter().find(|p| p.name == name)
}

/// Whether `name` is one of the generic OpenID Connect slots.
pub fn is_oidc(name: &str) -> bool {
    matches!(name, "oidc" | "oidc2" | "oidc3")
}

/// `oauth2`: sign-in through providers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuth2Options {
    /// Whether `auth-with-oauth2` answers.
    pub enabled: bool,
    /// Which of the collection's fields take the provider's user data.
    pub mapped_fields: MappedFields,
    /// The configured providers, in the order the collection lists them.
    pub providers: Vec<ProviderConfig>,
}

/// `oauth2.mappedFields`: field names (empty: not mapped).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappedFields {
    /// Takes the provider's user id.
    pub id: String,
    /// Takes the user's name.
    pub name: String,
    /// Takes the user's username.
    pub username: String,
    /// Takes the avatar: its URL, or the downloaded image in a file field.
    pub avatar_url: String,
}

/// One `oauth2.providers[]` entry, with the catalogue's defaults for what it leaves empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderConfig {
    /// The provider's name in the catalogue.
    pub name: String,
    /// The app's id at the provider.
    pub client_id: String,
    /// The app's secret at the provider (never output).
    pub client_secret: String,
    /// The authorization endpoint.
    pub auth_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The user data endpoint.
    pub user_info_url: String,
    /// The name shown on login pages.
    pub display_name: String,
    /// Whether the code flow uses PKCE.
    pub pkce: bool,
    /// Provider-specific settings (`jwksURL`, `issuers`, `discoveryURL` for OIDC).
    pub extra: Map<String, Value>,
    /// The scopes asked for.
    pub scopes: &'static [&'static str],
    /// The catalogue's extra authorization URL parameters.
    pub auth_params: &'static [(&'static str, &'static str)],
}

impl ProviderConfig {
    /// A text setting of `extra` (empty when missing).
    pub fn extra_text(&self, key: &str) -> &str {
        self.extra
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn text(o: &Map<String, Value>, key: &str) -> String {
    o.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn or_default(configured: String, default: &str) -> String {
    if configured.is_empty() {
        default.to_owned()
    } else {
        configured
    }
}

impl AuthOptions {
    /// The `oauth2` options, each provider completed with the catalogue's defaults
    /// (providers kulisse does not know are left out).
    pub fn oauth2(&self) -> OAuth2Options {
        let Some(o) = self.extra.get("oauth2").and_then(Value::as_object) else {
            return OAuth2Options::default();
        };
        let mapped = o
            .get("mappedFields")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let providers = o
            .get("providers")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|p| {
                let known = known_provider(p.get("name")?.as_str()?)?;
                Some(ProviderConfig {
                    name: known.name.to_owned(),
                    client_id: text(p, "clientId"),
                    client_secret: text(p, "clientSecret"),
                    auth_url: or_default(text(p, "authURL"), known.auth_url),
                    token_url: or_default(text(p, "tokenURL"), known.token_url),
                    user_info_url: or_default(text(p, "userInfoURL"), known.user_info_url),
                    display_name: or_default(text(p, "displayName"), known.display_name),
                    pkce: p.get("pkce").and_then(Value::as_bool).unwrap_or(known.pkce),
                    extra: p
                        .get("extra")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                    scopes: known.scopes,
                    auth_params: known.auth_params,
                })
            })
            .collect();
        OAuth2Options {
            enabled: o.get("enabled").and_then(Value::as_bool).unwrap_or(false),
            mapped_fields: MappedFields {
                id: text(&mapped, "id"),
                name: text(&mapped, "name"),
                username: text(&mapped, "username"),
                avatar_url: text(&mapped, "avatarURL"),
            },
            providers,
        }
    }
}

/// Whether a submitted `oauth2` has the types PocketBase loads.
pub(crate) fn loadable(o: &Map<String, Value>) -> bool {
    let text_or_null = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.is_string());
    let providers_ok = match o.get("providers") {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().all(|p| {
            p.as_object().is_some_and(|p| {
                [
                    "name",
                    "clientId",
                    "clientSecret",
                    "authURL",
                    "tokenURL",
                    "userInfoURL",
                    "displayName",
                ]
                .iter()
                .all(|k| text_or_null(p.get(*k)))
                    && p.get("pkce").is_none_or(|v| v.is_null() || v.is_boolean())
                    && p.get("extra").is_none_or(|v| v.is_null() || v.is_object())
            })
        }),
        Some(_) => false,
    };
    let mapped_ok = match o.get("mappedFields") {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.values().all(|v| v.is_null() || v.is_string()),
        Some(_) => false,
    };
    providers_ok
        && mapped_ok
        && o.get("enabled")
            .is_none_or(|v| v.is_null() || v.is_boolean())
}

/// Keeps the stored client secrets of providers a change lists without one: the secret is
/// never output, so a client that saves what it read sends none. Matched by provider name
/// (PocketBase matches by position, which hands a secret to another provider when the list
/// is reordered).
pub(crate) fn keep_secrets(old: Option<&Value>, new: &mut Value) {
    let secret_of = |name: &str| {
        old?.get("providers")?
            .as_array()?
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
            .get("clientSecret")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let Some(providers) = new.get_mut("providers").and_then(Value::as_array_mut) else {
        return;
    };
    for p in providers.iter_mut().filter_map(Value::as_object_mut) {
        let missing = p
            .get("clientSecret")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if missing
            && let Some(name) = p.get("name").and_then(Value::as_str)
            && let Some(secret) = secret_of(name)
        {
            p.insert("clientSecret".into(), Value::String(secret));
        }
    }
}

/// `oauth2` as output: the providers without their client secrets.
pub(crate) fn without_secrets(oauth2: &Value) -> Value {
    let mut out = oauth2.clone();
    if let Some(providers) = out.get_mut("providers").and_then(Value::as_array_mut) {
        for p in providers.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("clientSecret");
        }
    }
    out
}

/// PocketBase's checks of the providers, plus kulisse's: valid endpoint URLs, and an OIDC
/// provider that can be reached at all. Only while OAuth2 is enabled.
pub(crate) fn validate(auth: &AuthOptions, errs: &mut FieldErrors) {
    let Some(o) = auth.extra.get("oauth2").and_then(Value::as_object) else {
        return;
    };
    if !o.get("enabled").and_then(Value::as_bool).unwrap_or(false) {
        return;
    }
    let items = o
        .get("providers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut all = FieldErrors::new();
    for (i, p) in items.iter().enumerate() {
        let Some(p) = p.as_object() else { continue };
        let mut e = FieldErrors::new();
        let name = text(p, "name");
        if known_provider(&name).is_none() {
            e.add(
                "name",
                FieldError::new(
                    "validation_missing_provider",
                    format!("Invalid or missing provider with name {name}."),
                )
                .with_param("name", name.clone()),
            );
        } else if items[..i]
            .iter()
            .any(|o| o.get("name").and_then(Value::as_str) == Some(name.as_str()))
        {
            e.add(
                "name",
                FieldError::new(
                    "validation_duplicated_provider",
                    format!("The provider {name} is already registered."),
                )
                .with_param("name", name.clone()),
            );
        }
        for key in ["clientId", "clientSecret"] {
            if text(p, key).is_empty() {
                e.add(key, FieldError::required());
            }
        }
        for key in ["authURL", "tokenURL", "userInfoURL"] {
            let url = text(p, key);
            if !url.is_empty() && !is_url(&url) {
                e.add(
                    key,
                    FieldError::new("validation_is_url", "Must be a valid URL."),
                );
            }
        }
        let discovery = p
            .get("extra")
            .and_then(|x| x.get("discoveryURL"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if is_oidc(&name) && discovery.is_empty() {
            // kulisse: PocketBase saves an OIDC provider without endpoints, which then
            // fails every sign-in.
            for key in ["authURL", "tokenURL"] {
                if text(p, key).is_empty() {
                    e.add(key, FieldError::required());
                }
            }
        }
        if !discovery.is_empty() && !is_url(discovery) {
            let mut x = FieldErrors::new();
            x.add(
                "discoveryURL",
                FieldError::new("validation_is_url", "Must be a valid URL."),
            );
            e.add_nested("extra", x);
        }
        all.add_nested(i.to_string(), e);
    }
    let mut oauth2 = FieldErrors::new();
    oauth2.add_nested("providers", all);
    errs.add_nested("oauth2", oauth2);
}

fn is_url(s: &str) -> bool {
    crate::value::url_host(s).is_some()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_kept_by_provider_name() {
        let old = json!({"providers": [{"name": "github", "clientSecret": "gh"}, {"name": "google", "clientSecret": "go"}]});
        let mut new = json!({"providers": [{"name": "google"}, {"name": "github", "clientSecret": "new"}, {"name": "gitlab"}]});
        keep_secrets(Some(&old), &mut new);
        assert_eq!(new["providers"][0]["clientSecret"], "go");
        assert_eq!(new["providers"][1]["clientSecret"], "new");
        assert!(new["providers"][2].get("clientSecret").is_none());
        assert!(
            without_secrets(&new)["providers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p.get("clientSecret").is_none())
        );
    }

    #[test]
    fn unknown_duplicate_and_incomplete_providers_are_refused() {
        let mut auth = AuthOptions::new(1);
        auth.extra.insert(
            "oauth2".into(),
            json!({"enabled": true, "providers": [
                {"name": "github", "clientId": "a", "clientSecret": "b"},
                {"name": "nope", "clientId": "a", "clientSecret": "b"},
                {"name": "github", "clientId": "a"},
                {"name": "oidc", "clientId": "a", "clientSecret": "b", "userInfoURL": "not a url"},
                {"name": "oidc2", "clientId": "a", "clientSecret": "b", "extra": {"discoveryURL": "https://id.example.com/.well-known/openid-configuration"}},
            ]}),
        );
        let mut errs = FieldErrors::new();
        validate(&auth, &mut errs);
        let out = errs.to_json();
        let p = &out["oauth2"]["providers"];
        assert!(p.get("0").is_none(), "{p}");
        assert_eq!(p["1"]["name"]["code"], "validation_missing_provider");
        assert_eq!(p["2"]["name"]["code"], "validation_duplicated_provider");
        assert_eq!(p["2"]["clientSecret"]["code"], "validation_required");
        assert_eq!(p["3"]["userInfoURL"]["code"], "validation_is_url");
        assert_eq!(p["3"]["authURL"]["code"], "validation_required");
        assert!(p.get("4").is_none(), "{p}");
        let typed = auth.oauth2();
        assert_eq!(typed.providers.len(), 4, "the unknown one is left out");
        assert_eq!(
            typed.providers[0].auth_url,
            "https://github.com/login/oauth/authorize"
        );
        assert_eq!(typed.providers[0].display_name, "GitHub");
    }
}
