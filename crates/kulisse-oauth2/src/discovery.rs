//! OpenID Connect discovery: an OIDC provider configured with `extra.discoveryURL` (its
//! `…/.well-known/openid-configuration`) takes the endpoints, signing keys and issuer its
//! configuration leaves empty from that document. Documents are kept an hour per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kulisse_core::auth::oauth2::{ProviderConfig, ProviderError};
use serde_json::Value;

use crate::exchange::TOKEN_AUTH_KEY;
use crate::id_token::{ISSUERS_KEY, JWKS_KEY};

/// The `extra` key naming the discovery document.
pub(crate) const DISCOVERY_KEY: &str = "discoveryURL";
/// How long a document is used before it is read again.
const KEEP: Duration = Duration::from_secs(3600);

/// The documents read, by URL.
#[derive(Default)]
pub(crate) struct Documents {
    read: Mutex<HashMap<String, (Instant, Value)>>,
}

impl Documents {
    /// `provider` completed from its discovery document, if it names one.
    pub(crate) async fn resolve(
        &self,
        http: &reqwest::Client,
        provider: &ProviderConfig,
    ) -> Result<ProviderConfig, ProviderError> {
        let url = provider.extra_text(DISCOVERY_KEY);
        if url.is_empty() {
            return Ok(provider.clone());
        }
        let document = self.document(http, url).await?;
        let text = |key: &str| {
            document
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let mut out = provider.clone();
        for (slot, key) in [
            (&mut out.auth_url, "authorization_endpoint"),
            (&mut out.token_url, "token_endpoint"),
            (&mut out.user_info_url, "userinfo_endpoint"),
        ] {
            if slot.is_empty() {
                *slot = text(key).to_owned();
            }
        }
        if out.auth_url.is_empty() || out.token_url.is_empty() {
            return Err(ProviderError::Discovery(format!(
                "{url} names no authorization or token endpoint"
            )));
        }
        if out.extra_text(JWKS_KEY).is_empty() && !text("jwks_uri").is_empty() {
            out.extra
                .insert(JWKS_KEY.into(), Value::from(text("jwks_uri")));
        }
        if out.extra.get(ISSUERS_KEY).is_none() && !text("issuer").is_empty() {
            out.extra
                .insert(ISSUERS_KEY.into(), Value::from(vec![text("issuer")]));
        }
        let methods: Vec<&str> = document
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if out.extra_text(TOKEN_AUTH_KEY).is_empty()
            && !methods.is_empty()
            && !methods.contains(&"client_secret_basic")
            && methods.contains(&"client_secret_post")
        {
            out.extra
                .insert(TOKEN_AUTH_KEY.into(), Value::from("client_secret_post"));
        }
        Ok(out)
    }

    async fn document(&self, http: &reqwest::Client, url: &str) -> Result<Value, ProviderError> {
        if let Some((at, document)) = self.read.lock().ok().and_then(|r| r.get(url).cloned())
            && at.elapsed() < KEEP
        {
            return Ok(document);
        }
        let document: Value = crate::fetch_json(http, url)
            .await
            .map_err(|e| ProviderError::Discovery(format!("{url}: {e}")))?;
        if let Ok(mut read) = self.read.lock() {
            read.insert(url.to_owned(), (Instant::now(), document.clone()));
        }
        Ok(document)
    }
}
