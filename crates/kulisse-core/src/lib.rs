//! The services of kulisse: collections, records and auth, on top of the storage port.
//!
//! Everything a request can do goes through a service here, so HTTP, the CLI and future
//! callers (admin UI, batch, realtime) share one implementation of rules, validation and
//! visibility. Services hold an `Arc<dyn Store>` and never see SQL.
//!
//! Layout: `changes` (change sets recorded in every write transaction, published after
//! commit on the event bus and to other nodes), `collections` (registry of schema
//! snapshots + schema changes), `records`
//! (CRUD with rules, input modifiers, output visibility), `auth` (passwords, tokens,
//! identities), `query` (filter/sort language → storage IR), `error` (the domain error).
//!
//! Must not depend on: axum/HTTP types, SQL drivers, engine crates.

pub mod advisor;
mod ambient;
pub mod analytics;
pub mod auth;
pub mod backups;
pub mod changes;
pub mod clock;
pub mod collections;
pub mod crons;
pub mod error;
pub mod files;
pub mod health;
pub mod ids;
pub mod limits;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod priority;
pub mod query;
pub mod realtime;
pub mod records;
pub mod settings;

use std::sync::Arc;

use kulisse_store::Store;

use crate::changes::Writer;

pub use ambient::Ambient;
pub use auth::{Auth, AuthService};
pub use changes::{ChangeFeed, EventBus};
pub use collections::{CollectionsService, Registry};
pub use error::CoreError;
/// A stored record and the storage failure inside [`CoreError::Store`]: the types callers
/// (HTTP) see, without access to the store itself.
pub use kulisse_store::{Row, StoreError};
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
    /// Sign-in through OAuth2 providers.
    pub oauth2: auth::oauth2::OAuth2Service,
    /// Application settings.
    pub settings: settings::SettingsService,
    /// The file store the settings pick (none without file storage).
    pub files: Option<files::FileStorage>,
    /// Mail through the settings' SMTP server (none without a mailer).
    pub mail: Option<mail::MailService>,
    /// Realtime clients and their subscriptions.
    pub realtime: realtime::RealtimeService,
    /// The settings' rate limits.
    pub limits: limits::RateLimits,
    /// The request log (none without a store for it), and the analytics rolled up from it.
    pub logs: Option<logs::LogService>,
    /// The slow-query log and the index advisor (none without the analytics).
    pub advisor: Option<advisor::AdvisorService>,
    /// Backups (none without a file store to keep them in).
    pub backups: Option<backups::BackupService>,
    /// The scheduled jobs.
    pub crons: crons::CronService,
    /// Scrapes of the metrics (none unless the operator turned metrics on).
    pub metrics: Option<metrics::MetricsService>,
    /// Committed changes, local and from other nodes.
    pub events: EventBus,
    /// The clock and id source every service reads.
    pub ambient: Ambient,
}

/// What the services run on: the store and the adapters `compose.rs` picked.
pub struct Ports {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Change sets to and from other nodes sharing the database, if any.
    pub feed: Option<Arc<dyn ChangeFeed>>,
    /// Time and randomness.
    pub ambient: Ambient,
    /// The stores uploaded files can live in; without them, file uploads are refused.
    pub blobs: Option<Arc<dyn files::BlobStores>>,
    /// Makes thumbnails; without it, `?thumb=` serves the original.
    pub thumbnailer: Option<Arc<dyn files::Thumbnailer>>,
    /// Opens SMTP mailers; without it, no mail is sent.
    pub mailers: Option<Arc<dyn mail::Mailers>>,
    /// Talks to OAuth2 providers; without it, no provider is known.
    pub identity_providers: Option<Arc<dyn auth::oauth2::IdentityProviders>>,
    /// Where the request log is kept; without it, requests are not logged.
    pub log_store: Option<Arc<dyn Store>>,
    /// Renders the metrics (installed as the process's recorder); without it, metrics are
    /// off.
    pub metrics: Option<Arc<dyn metrics::MetricsExporter>>,
    /// Where large temporary files go (a backup being assembled): the data dir's, so they
    /// never fill a small `/tmp`; the system's temporary directory without it.
    pub scratch: Option<std::path::PathBuf>,
}

impl Ports {
    /// One node on `store`, on the system clock, without file storage.
    pub fn new(store: Arc<dyn Store>) -> Ports {
        Ports {
            store,
            feed: None,
            ambient: Ambient::system(),
            blobs: None,
            thumbnailer: None,
            mailers: None,
            identity_providers: None,
            log_store: None,
            metrics: None,
            scratch: None,
        }
    }
}

/// What the operator tunes (from `kulisse serve`'s flags); the defaults are PocketBase's
/// behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Config {
    /// Realtime streams' timeouts and the resume window.
    pub realtime: realtime::Config,
    /// The request log's share of the CPU.
    pub logs: logs::Config,
    /// Opened for one command (`kulisse backup`, `kulisse superuser`), beside a server
    /// that may run on the same data: scheduled jobs are left to the server (on SQLite
    /// their claims do not reach across processes, so both would run them).
    pub one_shot: bool,
}

impl Services {
    /// Loads the schema from the store (bootstrapping a new data dir) and wires the
    /// services; with a feed, change sets travel to and from the other nodes sharing the
    /// database.
    ///
    /// # Errors
    /// When the store cannot be read or bootstrapped.
    pub async fn start(ports: Ports) -> Result<Services, CoreError> {
        Self::start_with(ports, Config::default()).await
    }

    /// [`Services::start`] tuned by `config`.
    ///
    /// # Errors
    /// When the store cannot be read or bootstrapped.
    pub async fn start_with(ports: Ports, config: Config) -> Result<Services, CoreError> {
        let Ports {
            store,
            feed,
            ambient,
            blobs,
            thumbnailer,
            mailers,
            identity_providers,
            log_store,
            metrics,
            scratch,
        } = ports;
        let events = EventBus::default();
        // Subscribe before anything is loaded: a change heard while loading must not be
        // lost, and the first feed event is a "missed" that reloads whatever was read.
        let remote = feed.as_ref().map(|f| f.subscribe());
        let writer = Writer::new(Arc::clone(&store), feed, events.clone());
        let registry = Registry::load(Arc::clone(&store), &writer).await?;
        events.subscribe(Arc::new(auth::ForgetChangedRecords::new(registry.clone())));
        let collections = CollectionsService::new(writer.clone(), registry.clone());
        let settings = settings::SettingsService::load(Arc::clone(&store), writer.clone()).await?;
        let mail = mailers
            .map(|mailers| mail::MailService::new(mailers, settings.clone(), registry.clone()));
        let auth = AuthService::new(
            Arc::clone(&store),
            writer.clone(),
            registry.clone(),
            ambient.clone(),
            mail.clone(),
        );
        if let Some(remote) = remote {
            tokio::spawn(changes::follow_feed(
                remote,
                registry.clone(),
                settings.clone(),
                events.clone(),
            ));
        }
        let limits = limits::RateLimits::new(Arc::clone(&store), settings.clone(), ambient.clone());
        let files = blobs
            .clone()
            .map(|stores| files::FileStorage::new(stores, settings.clone()));
        if let Some(files) = &files {
            events.subscribe(Arc::new(files::Janitor::new(
                files.clone(),
                registry.clone(),
            )));
        }
        let thumbs = thumbnailer.map(|maker| {
            // One generation per core: more would only queue for the CPU.
            let at_once = std::thread::available_parallelism().map_or(1, usize::from);
            files::Thumbs::new(maker, at_once, files::MAX_THUMB_ORIGINAL)
        });
        let records = RecordsService::new(
            store,
            writer.clone(),
            registry.clone(),
            ambient.clone(),
            files.clone(),
            thumbs,
        );
        let realtime = realtime::RealtimeService::start(
            records.clone(),
            registry.clone(),
            ambient.clone(),
            &events,
            config.realtime,
        );
        let logs = match log_store {
            Some(store) => Some(
                logs::LogService::start(
                    store,
                    Arc::clone(&records.store),
                    registry.clone(),
                    settings.clone(),
                    auth.clone(),
                    ambient.clone(),
                    config.logs,
                )
                .await?,
            ),
            None => None,
        };
        let advisor = logs.as_ref().map(|l| {
            advisor::AdvisorService::new(
                l.analytics().clone(),
                collections.clone(),
                Arc::clone(&records.store),
            )
        });
        let backups = blobs.map(|blobs| {
            backups::BackupService::new(
                backups::Sources {
                    data: Arc::clone(&records.store),
                    registry: collections.registry().clone(),
                    writer: writer.clone(),
                    logs: logs.as_ref().map(|l| Arc::clone(l.store())),
                    files: files.clone(),
                },
                blobs,
                settings.clone(),
                auth.clone(),
                mail.clone(),
                ambient.clone(),
                scratch.unwrap_or_else(std::env::temp_dir),
            )
        });
        let crons = crons::CronService::start(
            !config.one_shot,
            Arc::clone(&records.store),
            ambient.clone(),
            crons::builtin(Arc::clone(&records.store), auth.clone(), logs.clone()),
            match backups.clone() {
                Some(b) => Arc::new(move || b.scheduled_job().into_iter().collect()),
                None => Arc::new(Vec::new),
            },
        );
        let metrics = metrics.map(|exporter| {
            metrics::MetricsService::new(
                exporter,
                Arc::clone(&records.store),
                realtime.clone(),
                logs.clone(),
            )
        });
        let oauth2 = auth::oauth2::OAuth2Service::new(
            auth.clone(),
            records.clone(),
            realtime.clone(),
            ambient.clone(),
            identity_providers,
        );
        Ok(Services {
            collections,
            records,
            auth,
            oauth2,
            settings,
            files,
            mail,
            realtime,
            limits,
            logs,
            advisor,
            backups,
            crons,
            metrics,
            events,
            ambient,
        })
    }
}
