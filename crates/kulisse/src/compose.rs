//! Composition root: the only place that picks an engine and wires services to HTTP.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use kulisse_blob::Stores;
use kulisse_core::auth::oauth2::IdentityProviders;
use kulisse_core::files::{BlobStores, Thumbnailer};
use kulisse_core::mail::Mailers;
use kulisse_core::metrics::MetricsExporter;
use kulisse_core::{ChangeFeed, Config, Ports, Services};
use kulisse_feed_postgres::PostgresFeed;
use kulisse_mail::Smtp;
use kulisse_metrics::Prometheus;
use kulisse_oauth2::Providers;
use kulisse_store::{QueryLimits, Store};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use kulisse_thumbs::Thumbnails;

/// The PostgreSQL schema the request log lives in (its tables never mix with the app's).
const LOG_SCHEMA: &str = "kulisse_logs";
/// Connections a node's request log may hold: its writes come in batches.
const LOG_CONNECTIONS: usize = 2;

/// The most pixels an image may declare for a thumb to be made of it (a 50-megapixel
/// photo; about 200 MB decoded): larger ones, and decompression bombs, are served as they
/// are.
const THUMB_MAX_PIXELS: u64 = 50_000_000;

/// How the services are put together, besides where their data lives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The services' tuning (from `serve`'s flags).
    pub config: Config,
    /// Record metrics: installs the Prometheus recorder (the process's; before any store is
    /// opened, so the stores' own series are recorded too).
    pub metrics: bool,
}

impl Options {
    /// For a command that opens the data for one task (`kulisse backup`, `kulisse
    /// superuser`) while a server may run on it.
    pub fn one_shot() -> Options {
        Options {
            config: Config {
                one_shot: true,
                ..Config::default()
            },
            metrics: false,
        }
    }
}

/// The whole application `serve` runs: the API with the dashboard at `/_/`.
pub fn app(services: Services, opts: &kulisse_http::HttpOptions) -> kulisse_http::App {
    let opts = kulisse_http::HttpOptions {
        dashboard: Some(kulisse_admin::dashboard()),
        ..opts.clone()
    };
    kulisse_http::router(services, &opts)
}

/// Opens the store (PostgreSQL when `db` is given, else SQLite in the data dir), bounding
/// its queries by `limits`, and starts the services on it as `options` say.
pub async fn open(
    dir: &Path,
    db: Option<&str>,
    limits: QueryLimits,
    options: Options,
) -> anyhow::Result<(Arc<dyn Store>, Services)> {
    let exporter = metrics_exporter(options.metrics)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let store: Arc<dyn Store> = match db {
        Some(url) => Arc::new(
            PostgresStore::connect_with(url, limits)
                .await
                .with_context(|| "cannot connect to PostgreSQL (--db)".to_owned())?,
        ),
        None => {
            let path = dir.join("data.db");
            Arc::new(
                SqliteStore::open_with(&path, limits)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            )
        }
    };
    let services = start_on(Arc::clone(&store), db, options.config, dir, exporter).await?;
    Ok((store, services))
}

/// The metrics exporter, installed as the process's recorder when metrics are on.
fn metrics_exporter(on: bool) -> anyhow::Result<Option<Arc<dyn MetricsExporter>>> {
    if !on {
        return Ok(None);
    }
    let prometheus = Prometheus::install().context("cannot turn metrics on")?;
    kulisse_store_sqlite::describe_metrics();
    Ok(Some(prometheus as Arc<dyn MetricsExporter>))
}

/// Starts the services on `store` as `options` say, with uploaded files under the data
/// dir `dir`'s `storage/` (or in the bucket the settings name) and the request log in its
/// `logs.db`; on the PostgreSQL database `db`, joined to the other nodes sharing it
/// through its change feed, with the log in the database's schema `kulisse_logs`.
///
/// # Errors
/// When the schema cannot be loaded, or the file storage, the log or the metrics cannot
/// be opened.
pub async fn start(
    store: Arc<dyn Store>,
    db: Option<&str>,
    options: Options,
    dir: &Path,
) -> anyhow::Result<Services> {
    let exporter = metrics_exporter(options.metrics)?;
    start_on(store, db, options.config, dir, exporter).await
}

async fn start_on(
    store: Arc<dyn Store>,
    db: Option<&str>,
    config: Config,
    dir: &Path,
    exporter: Option<Arc<dyn MetricsExporter>>,
) -> anyhow::Result<Services> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let storage = dir.join("storage");
    let storage = storage.as_path();
    // The log's own reads are the operator's, not the app's: no slow-query log there.
    let log_limits = QueryLimits {
        slow: None,
        ..QueryLimits::default()
    };
    let log_store: Arc<dyn Store> = match db {
        Some(url) => Arc::new(
            PostgresStore::connect_in_schema(url, LOG_SCHEMA, log_limits, LOG_CONNECTIONS)
                .await
                .context("cannot open the request log's schema")?,
        ),
        None => {
            let path = dir.join("logs.db");
            Arc::new(
                SqliteStore::open_with(&path, log_limits)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            )
        }
    };
    let mut ports = Ports::new(store);
    ports.log_store = Some(log_store);
    ports.feed = db.map(|url| Arc::new(PostgresFeed::start(url)) as Arc<dyn ChangeFeed>);
    let blobs = Stores::new(storage, &dir.join("backups"))
        .with_context(|| format!("cannot create the file storage {}", storage.display()))?;
    ports.blobs = Some(Arc::new(blobs) as Arc<dyn BlobStores>);
    ports.thumbnailer = Some(Arc::new(Thumbnails::new(THUMB_MAX_PIXELS)) as Arc<dyn Thumbnailer>);
    ports.mailers = Some(Arc::new(Smtp) as Arc<dyn Mailers>);
    ports.identity_providers = Some(Arc::new(Providers::new()) as Arc<dyn IdentityProviders>);
    ports.metrics = exporter;
    ports.scratch = Some(dir.join(".scratch"));
    Services::start_with(ports, config)
        .await
        .context("cannot load the schema")
}

/// For the runtime's `on_thread_park` hook: a worker going idle gives back what it holds
/// between requests (SQLite's point-read snapshots, which it keeps only because it calls
/// this).
pub fn on_worker_park() {
    kulisse_store_sqlite::release_thread_snapshots();
}
