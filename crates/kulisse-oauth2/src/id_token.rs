//! ID tokens (OpenID Connect): a token counts only when its signature checks against the
//! provider's published keys (JWKS), it was issued to this app (`aud`), by the expected
//! issuer, and has not expired. Symmetric algorithms are refused: the token must be signed
//! by the provider, not by anyone who knows the client secret.
//!
//! Key sets are kept per node and read again when a token names a key they lack (the
//! provider rotated its keys), at most once a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kulisse_core::auth::oauth2::{ProviderConfig, ProviderError};
use serde_json::{Map, Value};

/// The `extra` key of the provider's key set URL (PocketBase's name).
pub(crate) const JWKS_KEY: &str = "jwksURL";
/// The `extra` key of the accepted issuers (PocketBase's name).
pub(crate) const ISSUERS_KEY: &str = "issuers";
/// Clock difference tolerated on `exp`, `iat` and `nbf` (PocketBase: 5 minutes).
const LEEWAY_SECS: u64 = 300;
/// The soonest a key set is read again for an unknown key id.
const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// The algorithms a provider may sign with.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The keys and issuers of the providers whose ID tokens kulisse checks without
/// configuration.
fn known_keys(provider: &str) -> Option<(&'static str, &'static [&'static str])> {
    match provider {
        "apple" => Some((
            "https://appleid.apple.com/auth/keys",
            &["https://appleid.apple.com"],
        )),
        "google" => Some((
            "https://www.googleapis.com/oauth2/v3/certs",
            &["https://accounts.google.com", "accounts.google.com"],
        )),
        _ => None,
    }
}

/// The key sets read, by URL.
#[derive(Default)]
pub(crate) struct KeySets {
    read: Mutex<HashMap<String, (Instant, JwkSet)>>,
}

impl KeySets {
    /// The claims of `token`, checked; `None` when kulisse has no keys for the provider
    /// (its user data then comes from the user info endpoint alone).
    pub(crate) async fn verify(
        &self,
        http: &reqwest::Client,
        provider: &ProviderConfig,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, ProviderError> {
        let known = known_keys(&provider.name);
        let jwks_url = match provider.extra_text(JWKS_KEY) {
            "" => match known {
                Some((url, _)) => url,
                None => return Ok(None),
            },
            url => url,
        };
        let mut issuers: Vec<String> = provider
            .extra
            .get(ISSUERS_KEY)
            .and_then(Value::as_array)
            .map(|i| {
                i.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if issuers.is_empty()
            && let Some((_, defaults)) = known
        {
            issuers = defaults.iter().map(|s| (*s).to_owned()).collect();
        }
        let bad = |why: &str| ProviderError::Token(format!("ID token refused: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|e| bad(&e.to_string()))?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(bad("not signed with the provider's key"));
        }
        let kid = header.kid.unwrap_or_default();
        let jwk = match self.key(http, jwks_url, &kid, false).await? {
            Some(jwk) => Some(jwk),
            None => self.key(http, jwks_url, &kid, true).await?,
        }
        .ok_or_else(|| bad("signed with an unknown key"))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| bad(&e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[provider.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        if !issuers.is_empty() {
            validation.set_issuer(&issuers);
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Some(data.claims))
    }

    /// The key `kid` of the set at `url` (the set's only key when the token names none);
    /// `fresh` reads the set again unless it was read within the last minute.
    async fn key(
        &self,
        http: &reqwest::Client,
        url: &str,
        kid: &str,
        fresh: bool,
    ) -> Result<Option<jsonwebtoken::jwk::Jwk>, ProviderError> {
        let kept = self.read.lock().ok().and_then(|r| r.get(url).cloned());
        let set = match kept {
            Some((at, set)) if !fresh || at.elapsed() < REFRESH_AFTER => set,
            _ => {
                let set: JwkSet = crate::fetch_json(http, url)
                    .await
                    .map_err(|e| ProviderError::Token(format!("{url}: {e}")))?;
                if let Ok(mut read) = self.read.lock() {
                    read.insert(url.to_owned(), (Instant::now(), set.clone()));
                }
                set
            }
        };
        Ok(if kid.is_empty() && set.keys.len() == 1 {
            set.keys.first().cloned()
        } else {
            set.find(kid).cloned()
        })
    }
}
