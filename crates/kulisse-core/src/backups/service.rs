//! [`BackupService`]: making, listing, downloading and deleting backups.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use kulisse_store::{Engine, Store};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::paced::Pacer;
use super::scratch::Scratch;
use super::{BackupError, Progress, archive, name};
use crate::auth::AuthService;
use crate::changes::Writer;
use crate::collections::Registry;
use crate::collections::service::require_superuser;
use crate::error::CoreError;
use crate::files::store::{Blob, BlobStore};
use crate::files::{BlobStores, FileStorage};
use crate::mail::MailService;
use crate::settings::SettingsService;
use crate::{Ambient, Auth};

/// The lock every backup or restore holds, on every node.
const LOCK: &str = "kulisse:backups";

/// Backups of the data, the request log and the uploaded files.
#[derive(Clone)]
pub struct BackupService {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) data: Arc<dyn Store>,
    pub(super) logs: Option<Arc<dyn Store>>,
    pub(super) files: Option<FileStorage>,
    blobs: Arc<dyn BlobStores>,
    pub(super) settings: SettingsService,
    pub(super) auth: AuthService,
    /// Tells the superusers when a scheduled backup fails.
    pub(super) mail: Option<MailService>,
    pub(super) ambient: Ambient,
    pub(super) scratch: PathBuf,
    /// Set while this node makes or restores a backup.
    running: Arc<AtomicBool>,
    /// To reload after a restore, and tell every node.
    pub(super) registry: Registry,
    pub(super) writer: Writer,
}

/// What `GET /api/backups` lists of one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupInfo {
    /// Its name.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub modified: String,
}

/// What a backup is made of, and what a restore reloads.
pub struct Sources {
    /// The records' store.
    pub data: Arc<dyn Store>,
    /// The collections, reloaded after a restore.
    pub registry: Registry,
    /// Tells every node that everything may have changed after a restore.
    pub writer: Writer,
    /// The request log's store.
    pub logs: Option<Arc<dyn Store>>,
    /// The uploaded files, where the settings keep them.
    pub files: Option<FileStorage>,
}

impl BackupService {
    /// Backups of `sources`, kept in the data dir's `backups/` or the bucket
    /// `backups.s3` names (from `blobs`), assembled under `scratch`.
    pub fn new(
        sources: Sources,
        blobs: Arc<dyn BlobStores>,
        settings: SettingsService,
        auth: AuthService,
        mail: Option<MailService>,
        ambient: Ambient,
        scratch: PathBuf,
    ) -> BackupService {
        BackupService {
            inner: Arc::new(Inner {
                data: sources.data,
                logs: sources.logs,
                files: sources.files,
                blobs,
                settings,
                auth,
                mail,
                ambient,
                scratch,
                running: Arc::default(),
                registry: sources.registry,
                writer: sources.writer,
            }),
        }
    }

    /// Runs `work` holding the right to make, upload or restore a backup, on every node;
    /// when this returns, the right is free again on every node (a client that makes a
    /// backup and then uploads one is not told another operation runs).
    ///
    /// # Errors
    /// 400 while another backup or restore runs; `work`'s own errors.
    pub(super) async fn exclusively<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let lock = self
            .inner
            .data
            .try_lock(LOCK)
            .await?
            .ok_or(BackupError::Busy)?;
        let running = Running::start(&self.inner.running);
        let done = work.await;
        drop(running);
        lock.release().await;
        done
    }

    /// Whether this node could start a backup now (`/api/health`'s `canBackup`): none is
    /// being made or restored here.
    pub fn can_backup(&self) -> bool {
        !self.inner.running.load(Ordering::Relaxed)
    }

    /// Where backups are kept now, in words.
    fn destination_name(&self) -> String {
        let settings = self.inner.settings.snapshot();
        if settings.backups.s3.enabled {
            format!("the bucket {}", settings.backups.s3.bucket)
        } else {
            "the data dir's backups/".to_owned()
        }
    }

    /// Where backups are kept now.
    pub(super) fn destination(&self) -> Result<Arc<dyn BlobStore>, CoreError> {
        let settings = self.inner.settings.snapshot();
        if settings.backups.s3.enabled {
            return self.inner.blobs.s3(&settings.backups.s3).map_err(|e| {
                BackupError::Failed(format!("The backups bucket cannot be used: {e}")).into()
            });
        }
        Ok(self.inner.blobs.local_backups())
    }

    /// `GET /api/backups`: newest first.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 when the backups cannot be listed.
    pub async fn list(&self, auth: &Auth) -> Result<Vec<BackupInfo>, CoreError> {
        require_superuser(auth)?;
        self.list_as_operator().await
    }

    /// The backups, newest first, for the command line (`kulisse backup list`): whoever
    /// runs it reads the data dir anyway.
    ///
    /// # Errors
    /// When the backups cannot be listed.
    pub async fn list_as_operator(&self) -> Result<Vec<BackupInfo>, CoreError> {
        let store = self.destination()?;
        let failed = |e: crate::files::store::BlobError| {
            BackupError::Failed(format!("Failed to retrieve backup items. Raw error: {e}"))
        };
        let mut items = Vec::new();
        for key in store.list("").await.map_err(failed)? {
            if !name::is_stored(&key) {
                continue;
            }
            let blob = match store.get(&key, None).await {
                Ok(blob) => blob,
                // Deleted since it was listed (a pruning, another request).
                Err(crate::files::store::BlobError::NotFound) => continue,
                Err(e) => return Err(failed(e).into()),
            };
            items.push(BackupInfo {
                key,
                size: blob.size,
                modified: kulisse_schema::datetime::format(blob.modified),
            });
        }
        items.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.key.cmp(&b.key)));
        Ok(items)
    }

    /// `POST /api/backups`: makes a backup named `name` (PocketBase's default name when
    /// none); its key.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 for an invalid name, while another backup
    /// or restore runs, or when the backup cannot be made (the cause is logged).
    pub async fn create(&self, auth: &Auth, name: Option<&str>) -> Result<String, CoreError> {
        require_superuser(auth)?;
        self.create_as_operator(name, &super::unwatched).await
    }

    /// [`Self::create`] for the command line (`kulisse backup create`), telling `progress`
    /// each step.
    ///
    /// # Errors
    /// As [`Self::create`], but for the token.
    pub async fn create_as_operator(
        &self,
        name: Option<&str>,
        progress: &Progress,
    ) -> Result<String, CoreError> {
        let inner = &self.inner;
        let now = inner.ambient.clock.now();
        let key = match name.filter(|n| !n.is_empty()) {
            Some(n) => name::checked(n)?.to_owned(),
            None => name::default(&inner.settings.snapshot().meta.app_name, now),
        };
        self.make_named(&key, now, progress).await?;
        Ok(key)
    }

    /// Makes the backup `key` (already checked), holding the backups' lock.
    pub(super) async fn make_named(
        &self,
        key: &str,
        now: jiff::Timestamp,
        progress: &Progress,
    ) -> Result<(), CoreError> {
        self.exclusively(async {
            let work = Scratch::new(&self.inner.scratch)?;
            let made = self.make(work.path(), key, now, progress).await;
            made.map_err(|e| {
                tracing::error!(backup = %key, error = %e, "backup failed");
                BackupError::NotMade(e).into()
            })
        })
        .await
    }

    /// Makes the backup `key` in `work` and stores it.
    pub(super) async fn make(
        &self,
        work: &Path,
        key: &str,
        now: jiff::Timestamp,
        progress: &Progress,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let content = work.join("content");
        tokio::fs::create_dir_all(&content)
            .await
            .map_err(in_step("preparing the scratch dir"))?;
        progress("snapshot of the data");
        inner
            .data
            .snapshot(&content)
            .await
            .map_err(in_step("snapshot of the data"))?;
        if let Some(logs) = &inner.logs {
            progress("snapshot of the request log");
            logs.snapshot(&content)
                .await
                .map_err(in_step("snapshot of the request log"))?;
        }
        if let Some(files) = &inner.files {
            progress("copying the uploaded files");
            let copying = "copying the uploaded files";
            let store = files.current().map_err(in_step(copying))?;
            let pacer = Pacer::new(&content).map_err(in_step(copying))?;
            copy_files(&*store, &content.join("storage"), pacer)
                .await
                .map_err(in_step(copying))?;
        }
        let engine = match inner.data.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        };
        let zip = work.join(key);
        let created = kulisse_schema::datetime::format(now);
        let (from, to) = (content.clone(), zip.clone());
        progress("zipping");
        // On a thread of its own, behind requests: compressing a large database is seconds
        // of CPU that creates arriving meanwhile would otherwise wait for.
        let (zipped, zipping) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("backup-zip".into())
            .spawn(move || {
                crate::priority::run_behind_requests();
                let _ = zipped.send(archive::write(&from, &to, engine, created));
            })
            .map_err(in_step("zipping"))?;
        zipping
            .await
            .map_err(in_step("zipping"))?
            .map_err(in_step("zipping"))?;
        progress("storing the backup");
        let storing = format!("storing the backup in {}", self.destination_name());
        self.destination()
            .map_err(in_step(&storing))?
            .put(key, &zip)
            .await
            .map_err(in_step(&storing))
    }

    /// Whether `auth` may upload a backup: asked before its body is read, so nobody else
    /// can fill the disk with one.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub fn may_upload(&self, auth: &Auth) -> Result<(), CoreError> {
        require_superuser(auth)
    }

    /// `POST /api/backups/upload`: stores the zip `file` (its name as uploaded, and where
    /// its bytes are).
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 (on `file`) without one, for a name the rule
    /// refuses, a file that is no zip, or a name a backup already has.
    pub async fn upload(&self, auth: &Auth, file: Option<(&str, &Path)>) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let invalid = |code: &'static str, message: &str| {
            let mut errors = kulisse_schema::FieldErrors::default();
            errors.add("file", kulisse_schema::FieldError::new(code, message));
            CoreError::invalid(crate::error::Form::Request, errors)
        };
        let Some((name, path)) = file else {
            return Err(invalid("validation_required", "Cannot be blank."));
        };
        if !name::is_valid(name) {
            return Err(invalid(
                "validation_match_invalid",
                "The file name must be a backup's: a-z, 0-9, _ and - before .zip.",
            ));
        }
        let mut head = [0u8; 4];
        let is_zip = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && head == *b"PK\x03\x04";
        if !is_zip {
            return Err(invalid(
                "validation_invalid_mime_type",
                "The file must be a zip archive.",
            ));
        }
        self.exclusively(async {
            let store = self.destination()?;
            if store.get(name, None).await.is_ok() {
                return Err(invalid(
                    "validation_backup_exists",
                    "A backup with this name exists.",
                ));
            }
            store.put(name, path).await.map_err(|e| {
                tracing::error!(backup = %name, error = %e, "backup upload not stored");
                BackupError::Failed("Failed to upload the backup.".into()).into()
            })
        })
        .await
    }

    /// `DELETE /api/backups/{key}`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 for a key that names no backup.
    pub async fn delete(&self, auth: &Auth, key: &str) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let store = self.destination()?;
        self.existing(&*store, key).await?;
        store
            .delete(&[key.to_owned()])
            .await
            .map_err(|e| BackupError::Failed(format!("Failed to delete backup. Raw error: {e}")))?;
        Ok(())
    }

    /// `GET /api/backups/{key}?token=`: the backup, for a superuser's file token.
    ///
    /// # Errors
    /// 403 without a superuser's file token; 400 for a key that names no backup.
    pub async fn download(&self, token: &str, key: &str) -> Result<Blob, CoreError> {
        if !self.inner.auth.file_token_auth(token).await.is_superuser() {
            return Err(BackupError::NoAccess.into());
        }
        let store = self.destination()?;
        self.existing(&*store, key).await
    }

    /// The backup `key` in `store`.
    pub(super) async fn existing(
        &self,
        store: &dyn BlobStore,
        key: &str,
    ) -> Result<Blob, CoreError> {
        let missing = || BackupError::Failed(format!("Missing or invalid backup file: {key}"));
        if !name::is_stored(key) {
            return Err(missing().into());
        }
        store.get(key, None).await.map_err(|_| missing().into())
    }
}

/// Held while a backup is made, uploaded or restored.
/// Marks this node as making or restoring a backup ([`BackupService::can_backup`]) until
/// dropped, even when the operation is given up half-way.
struct Running<'a>(&'a AtomicBool);

impl Running<'_> {
    fn start(flag: &AtomicBool) -> Running<'_> {
        flag.store(true, Ordering::Relaxed);
        Running(flag)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Names the step of making a backup that failed with an error: what the log and the
/// superusers' mail show.
fn in_step<E: std::fmt::Display>(step: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{step}: {e}")
}

/// Copies every blob of `store` into `to`, under its key, flushing as `pacer` says.
pub(super) async fn copy_files(
    store: &dyn BlobStore,
    to: &Path,
    mut pacer: Pacer,
) -> Result<(), String> {
    for key in store.list("").await.map_err(|e| e.to_string())? {
        // Keys are the store's own (`{collectionId}/{recordId}/{name}`); none climbs out.
        if key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            continue;
        }
        let path = to.join(&key);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut blob = store.get(&key, None).await.map_err(|e| e.to_string())?;
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| e.to_string())?;
        while let Some(chunk) = blob.body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
            if pacer.wrote(chunk.len() as u64) {
                file.flush().await.map_err(|e| e.to_string())?;
                pacer.flush_async().await.map_err(|e| e.to_string())?;
            }
        }
        file.flush().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
