//! Composition root: the only place that picks an engine and wires services to HTTP.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use kulisse_core::Services;
use kulisse_store::Store;
use kulisse_store_sqlite::SqliteStore;

/// Opens the data dir's database and starts the services on it.
pub async fn open(dir: &Path) -> anyhow::Result<(Arc<dyn Store>, Services)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let db = dir.join("data.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))?);
    let services = Services::start(Arc::clone(&store))
        .await
        .context("cannot load the schema")?;
    Ok((store, services))
}
