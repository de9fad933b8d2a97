//! The `IdentityProviders` adapter: what kulisse says to OAuth2 providers.
//!
//! A sign-in is three calls: the code exchange at the token endpoint (`exchange.rs`), the
//! user's data at the user info endpoint or from the ID token (`users.rs`, checked against
//! the provider's keys in `id_token.rs`), and for OpenID Connect providers configured by
//! their discovery document, that document (`discovery.rs`). Avatars are downloaded with a
//! size cap (`download.rs`).
//!
//! Every call has a timeout, and nothing a provider sends is trusted beyond what it
//! vouches for: an email counts only when the provider marks it verified.

mod discovery;
mod download;
mod exchange;
mod id_token;
mod users;

use std::sync::OnceLock;
use std::time::Duration;

use kulisse_core::auth::oauth2::{
    CodeGrant, ExternalUser, IdentityProviders, ProviderConfig, ProviderError,
};

/// How long a provider may take to answer one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The providers' HTTP client, with the discovery documents and signing keys read so far.
#[derive(Default)]
pub struct Providers {
    /// Made on first use: loading the platform's root certificates cost a server that
    /// never signs anyone in with OAuth2 ~17M instructions at startup, and their memory.
    http: OnceLock<reqwest::Client>,
    documents: discovery::Documents,
    keys: id_token::KeySets,
}

impl Providers {
    /// The adapter; its HTTP client is made when first needed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The HTTP client (TLS through rustls with the platform's roots).
    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CALL_TIMEOUT)
            .user_agent(concat!("kulisse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Token(format!("no HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| http))
    }
}

/// The JSON a provider publishes at `url` (a discovery document, a key set).
async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, reqwest::Error> {
    http.get(url).send().await?.error_for_status()?.json().await
}

#[async_trait::async_trait]
impl IdentityProviders for Providers {
    async fn endpoints(&self, provider: &ProviderConfig) -> Result<ProviderConfig, ProviderError> {
        self.documents.resolve(self.http()?, provider).await
    }

    async fn identify(
        &self,
        provider: &ProviderConfig,
        grant: &CodeGrant,
    ) -> Result<ExternalUser, ProviderError> {
        let http = self.http()?;
        let provider = self.endpoints(provider).await?;
        let tokens = exchange::exchange(http, &provider, grant).await?;
        let claims = match &tokens.id_token {
            Some(token) => self.keys.verify(http, &provider, token).await?,
            None => None,
        };
        let mut user = users::read(http, &provider, &tokens, claims.as_ref()).await?;
        user.access_token = tokens.access_token;
        user.refresh_token = tokens.refresh_token;
        user.expiry = tokens.expiry;
        Ok(user)
    }

    async fn download(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, ProviderError> {
        download::download(self.http()?, url, max_bytes).await
    }
}
