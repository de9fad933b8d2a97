//! Sign-in through OAuth2 providers (spec §5.7): the providers `auth-methods` lists, the
//! code flow's sign-in, the redirect that hands a popup's code to the page that opened it
//! through realtime (`@oauth2`), and Apple's client secret.

mod apple;
mod port;
mod redirect;
mod sign_in;
mod start;

use std::sync::Arc;

use crate::Ambient;
use crate::auth::AuthService;
use crate::error::CoreError;
use crate::realtime::RealtimeService;
use crate::records::RecordsService;

/// A provider's configuration, as the port takes it.
pub use kulisse_schema::collection::ProviderConfig;
pub use port::{CodeGrant, ExternalUser, IdentityProviders, ProviderError};
pub use redirect::Redirected;
pub use sign_in::{OAuth2Form, OAuth2Login};
pub use start::ProviderStart;

/// OAuth2 sign-in: needs the records service, since a first sign-in creates a record like
/// any create.
#[derive(Clone)]
pub struct OAuth2Service {
    auth: AuthService,
    records: RecordsService,
    realtime: RealtimeService,
    ambient: Ambient,
    /// The providers' adapter (none: every provider is unknown).
    providers: Option<Arc<dyn IdentityProviders>>,
}

impl OAuth2Service {
    pub(crate) fn new(
        auth: AuthService,
        records: RecordsService,
        realtime: RealtimeService,
        ambient: Ambient,
        providers: Option<Arc<dyn IdentityProviders>>,
    ) -> Self {
        Self {
            auth,
            records,
            realtime,
            ambient,
            providers,
        }
    }

    /// The `auth-methods` entries of collection `collection`'s providers, each with a
    /// fresh state and PKCE verifier (empty while OAuth2 is off). A provider whose
    /// discovery document cannot be read is left out (and logged).
    ///
    /// # Errors
    /// When `collection` is no auth collection.
    pub async fn providers(&self, collection: &str) -> Result<Vec<ProviderStart>, CoreError> {
        let c = self.auth.auth_collection(collection)?;
        let options = c.auth.as_ref().map(|a| a.oauth2()).unwrap_or_default();
        let Some(port) = self.providers.as_ref().filter(|_| options.enabled) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(options.providers.len());
        for provider in &options.providers {
            match port.endpoints(provider).await {
                Ok(resolved) => out.push(start::start(&resolved, &self.ambient)),
                Err(e) => {
                    tracing::warn!(provider = %provider.name, error = %e, "OAuth2 provider left out of auth-methods")
                }
            }
        }
        Ok(out)
    }
}
