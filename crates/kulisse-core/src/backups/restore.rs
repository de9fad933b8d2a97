//! Restoring a backup, checked before anything live is touched:
//!
//! 1. the archive is fetched into a scratch directory and unpacked there, every entry
//!    checked against the manifest (size, SHA-256, a plain file inside the directory) as it
//!    is read ([`super::archive::unpack`]);
//! 2. each store checks its snapshot ([`Store::check_snapshot`]: on SQLite
//!    `PRAGMA integrity_check` and this kulisse's migrations on the copy; on PostgreSQL the
//!    same migrations and loadable collections);
//! 3. a backup of the data as it is now is made (`pre_restore_<time>.zip`), so a restore
//!    can be undone by restoring that one;
//! 4. only then is the data replaced ([`Store::restore`]: at once for every reader, the
//!    server running on), the uploaded files put back, and the collections and settings
//!    reloaded, here and (through the change feed) on every other node, every subscriber
//!    told that anything may have changed.
//!
//! A damaged, altered or foreign archive is refused at step 1 or 2 with a reason, and the
//! live data is as it was.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use kulisse_store::{Engine, Store, StoreError};
use tokio::io::AsyncWriteExt;

use super::scratch::Scratch;
use super::{BackupError, BackupService, Progress, archive};
use crate::Auth;
use crate::collections::service::require_superuser;
use crate::error::CoreError;
use crate::files::store::BlobStore;

impl BackupService {
    /// `POST /api/backups/{key}/restore`: 204 once the data is the backup's.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 for a missing backup, while another backup
    /// or restore runs, and for a backup that cannot be restored (with the reason; nothing
    /// live was touched).
    pub async fn restore(&self, auth: &Auth, key: &str) -> Result<(), CoreError> {
        require_superuser(auth)?;
        self.restore_as_operator(key, &super::unwatched).await
    }

    /// [`Self::restore`] for the command line (`kulisse backup restore`), telling
    /// `progress` each step.
    ///
    /// # Errors
    /// As [`Self::restore`], but for the token.
    pub async fn restore_as_operator(
        &self,
        key: &str,
        progress: &Progress,
    ) -> Result<(), CoreError> {
        let backups = self.destination()?;
        let blob = self.existing(&*backups, key).await?;
        self.exclusively(self.restore_holding(key, blob, progress))
            .await
    }

    /// Restores backup `key`, whose archive is `blob`, holding the backups' lock.
    async fn restore_holding(
        &self,
        key: &str,
        blob: crate::files::store::Blob,
        progress: &Progress,
    ) -> Result<(), CoreError> {
        let inner = &self.inner;
        let work = Scratch::new(&inner.scratch)?;
        let refused = |why: String| -> CoreError { BackupError::Unrestorable(why).into() };
        let zip = work.path().join("archive.zip");
        progress("fetching the backup");
        save(blob, &zip).await.map_err(refused)?;
        let content = work.path().join("content");
        let engine = match inner.data.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        };
        let (from, to) = (zip.clone(), content.clone());
        progress("unpacking and checking");
        tokio::task::spawn_blocking(move || archive::unpack(&from, &to, engine))
            .await
            .map_err(|e| refused(e.to_string()))?
            .map_err(refused)?;
        // The log's snapshot too: every backup made here has it.
        let stores: Vec<&Arc<dyn Store>> = std::iter::once(&inner.data)
            .chain(inner.logs.as_ref())
            .collect();
        for store in &stores {
            store.check_snapshot(&content).await.map_err(unrestorable)?;
        }
        let now = inner.ambient.clock.now();
        let rollback = format!("pre_restore_{}.zip", now.strftime("%Y%m%d%H%M%S"));
        let undo = work.path().join("undo");
        tokio::fs::create_dir_all(&undo)
            .await
            .map_err(|e| refused(e.to_string()))?;
        progress("backing up the data as it is");
        self.make(&undo, &rollback, now, progress)
            .await
            .map_err(|e| {
                refused(format!(
                    "the data as it is could not be backed up first: {e}"
                ))
            })?;
        progress("restoring");
        for store in &stores {
            store.restore(&content).await.map_err(unrestorable)?;
        }
        if let Some(files) = &inner.files {
            let current = files.current().map_err(|e| refused(e.to_string()))?;
            put_back(&*current, &content.join("storage"))
                .await
                .map_err(refused)?;
        }
        inner.registry.reload().await?;
        inner.settings.reload().await?;
        inner.writer.announce_reset().await?;
        tracing::warn!(backup = %key, rollback = %rollback, "backup restored");
        Ok(())
    }
}

fn unrestorable(e: StoreError) -> CoreError {
    let why = match e {
        StoreError::Other(why) => why,
        other => other.to_string(),
    };
    BackupError::Unrestorable(why).into()
}

/// Writes `blob` to `to`.
async fn save(mut blob: crate::files::store::Blob, to: &Path) -> Result<(), String> {
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| e.to_string())?;
    while let Some(chunk) = blob.body.next().await {
        file.write_all(&chunk.map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())
}

/// Makes the files of `store` those under `from` (keys relative to it): puts each, then
/// deletes those the backup does not have.
async fn put_back(store: &dyn BlobStore, from: &Path) -> Result<(), String> {
    let mut kept = std::collections::HashSet::new();
    let mut pending = vec![from.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            continue;
        };
        while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
            let path = entry.path();
            if entry.file_type().await.map_err(|e| e.to_string())?.is_dir() {
                pending.push(path);
                continue;
            }
            let key = path
                .strip_prefix(from)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            store.put(&key, &path).await.map_err(|e| e.to_string())?;
            kept.insert(key);
        }
    }
    let gone: Vec<String> = store
        .list("")
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|k| !kept.contains(k))
        .collect();
    if !gone.is_empty() {
        store.delete(&gone).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
