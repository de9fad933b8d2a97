//! The port to OAuth2 providers: the HTTP calls of a sign-in, which an adapter makes
//! (`kulisse-oauth2`). The services decide what a provider's answer means for accounts.

use kulisse_schema::collection::ProviderConfig;
use serde_json::{Map, Value};

/// Talks to the providers a collection configures.
#[async_trait::async_trait]
pub trait IdentityProviders: Send + Sync + 'static {
    /// `provider` with the endpoints it leaves empty filled in from its discovery
    /// document (`extra.discoveryURL` of an OpenID Connect provider); as it is otherwise.
    ///
    /// # Errors
    /// [`ProviderError::Discovery`] when the document cannot be read.
    async fn endpoints(&self, provider: &ProviderConfig) -> Result<ProviderConfig, ProviderError>;

    /// Redeems an authorization code at the provider and reads who signed in: the
    /// provider's user, with an email only when the provider vouches that it is verified.
    ///
    /// # Errors
    /// [`ProviderError::Token`] when the code is refused or the answer is no valid token
    /// (an ID token whose signature, issuer, audience or expiry fails its checks
    /// included); [`ProviderError::User`] when the user cannot be read.
    async fn identify(
        &self,
        provider: &ProviderConfig,
        grant: &CodeGrant,
    ) -> Result<ExternalUser, ProviderError>;

    /// Downloads a provider's avatar image, of at most `max_bytes`.
    ///
    /// # Errors
    /// [`ProviderError::Download`] when it cannot be fetched or is too big.
    async fn download(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, ProviderError>;
}

/// What the client brings back from the provider's authorization page.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The authorization code.
    pub code: String,
    /// The PKCE verifier the code was asked for with (empty without PKCE).
    pub code_verifier: String,
    /// The redirect URL the code was asked for with.
    pub redirect_url: String,
}

/// A provider's user, in PocketBase's terms (`meta` of the answer).
#[derive(Debug, Clone, Default)]
pub struct ExternalUser {
    /// The user's id at the provider (never empty).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Username or login.
    pub username: String,
    /// The email, only when the provider says it is verified; empty otherwise.
    pub email: String,
    /// The avatar image's URL.
    pub avatar_url: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token, if any.
    pub refresh_token: String,
    /// When the access token expires (`YYYY-MM-DD HH:MM:SS.mmmZ`; empty when unknown).
    pub expiry: String,
    /// The user data as the provider sent it.
    pub raw: Map<String, Value>,
}

/// Why a provider call failed (told to the operator's log, not to the client).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The discovery document could not be read.
    #[error("cannot read the OpenID configuration: {0}")]
    Discovery(String),
    /// The code exchange failed.
    #[error("cannot fetch the token: {0}")]
    Token(String),
    /// The user data could not be read.
    #[error("cannot fetch the user: {0}")]
    User(String),
    /// The avatar could not be downloaded.
    #[error("cannot download the avatar: {0}")]
    Download(String),
}
