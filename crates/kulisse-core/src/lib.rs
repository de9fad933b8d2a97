//! The services of kulisse: collections, records and auth, on top of the storage port.
//!
//! Everything a request can do goes through a service here, so HTTP, the CLI and future
//! callers (admin UI, batch, realtime) share one implementation of rules, validation and
//! visibility. Services hold an `Arc<dyn Store>` and never see SQL.
//!
//! Layout: `collections` (registry of schema snapshots + schema changes), `records`
//! (CRUD with rules, input modifiers, output visibility), `auth` (passwords, tokens,
//! identities), `query` (filter/sort language → storage IR), `error` (the domain error).
//!
//! Must not depend on: axum/HTTP types, SQL drivers, engine crates.

pub mod auth;
pub mod collections;
pub mod error;
pub mod query;
pub mod records;
pub mod settings;

use std::sync::Arc;

use kulisse_store::Store;

pub use auth::{Auth, AuthService};
pub use collections::{CollectionsService, Registry};
pub use error::CoreError;
pub use records::RecordsService;

/// All services, cheap to clone; built once at startup.
#[derive(Clone)]
pub struct Services {
    /// Collection definitions and schema changes.
    pub collections: CollectionsService,
    /// Record CRUD.
    pub records: RecordsService,
    /// Login, tokens, identities.
    pub auth: AuthService,
    /// Application settings.
    pub settings: settings::SettingsService,
}

impl Services {
    /// Loads the schema from `store` (bootstrapping a new data dir) and wires the services.
    ///
    /// # Errors
    /// When the store cannot be read or bootstrapped.
    pub async fn start(store: Arc<dyn Store>) -> Result<Services, CoreError> {
        let registry = Registry::load(Arc::clone(&store)).await?;
        let collections = CollectionsService::new(Arc::clone(&store), registry.clone());
        let auth = AuthService::new(Arc::clone(&store), registry.clone());
        let settings = settings::SettingsService::load(Arc::clone(&store)).await?;
        if let Some(changes) = store.changes() {
            tokio::spawn(follow_changes(changes, registry.clone(), settings.clone()));
        }
        let records = RecordsService::new(store, registry);
        Ok(Services {
            collections,
            records,
            auth,
            settings,
        })
    }
}

/// Keeps this node's schema, settings and auth-record cache in step with other nodes
/// sharing the database: schema changes reload both snapshots (a lagging feed counts as
/// one), auth record changes drop that record from the cache.
async fn follow_changes(
    mut changes: tokio::sync::broadcast::Receiver<kulisse_store::Change>,
    registry: Registry,
    settings: settings::SettingsService,
) {
    use kulisse_store::Change;
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(Change::Record { collection, id }) => {
                registry.auth_cache().invalidate(&collection, &id)
            }
            Ok(Change::Schema) | Err(RecvError::Lagged(_)) => {
                if let Err(e) = registry.reload().await {
                    tracing::warn!(error = %e, "schema reload after a change failed");
                }
                if let Err(e) = settings.reload().await {
                    tracing::warn!(error = %e, "settings reload after a change failed");
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
