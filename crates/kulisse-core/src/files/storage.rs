//! The file store in use: the data dir's, or the S3-compatible bucket the settings name
//! (`s3`). Each file operation asks for it, so saving settings switches every node, this
//! one at once and the others when they reload the settings from the shared database.
//! As in PocketBase, files are not moved when the store changes.

use std::sync::{Arc, RwLock};

use super::{BlobError, BlobStore};
use crate::auth::Auth;
use crate::collections::service::require_superuser;
use crate::error::{CoreError, Form};
use crate::ids::IdSource;
use crate::settings::{S3Settings, SettingsError, SettingsService};
use kulisse_schema::{FieldError, FieldErrors};

/// Opens the stores files can live in. The adapter (`kulisse-blob`) implements it.
pub trait BlobStores: Send + Sync + 'static {
    /// The data dir's `storage/`.
    fn local(&self) -> Arc<dyn BlobStore>;

    /// The data dir's `backups/`.
    fn local_backups(&self) -> Arc<dyn BlobStore>;

    /// The bucket `s3` names (connections are made when it is first used).
    ///
    /// # Errors
    /// When the settings cannot name a bucket (a malformed endpoint).
    fn s3(&self, s3: &S3Settings) -> Result<Arc<dyn BlobStore>, BlobError>;
}

/// The file store the settings pick.
#[derive(Clone)]
pub struct FileStorage {
    stores: Arc<dyn BlobStores>,
    settings: SettingsService,
    /// The bucket last opened, with the settings it was opened with: a client keeps its
    /// connections until the settings change.
    bucket: Arc<RwLock<Option<OpenBucket>>>,
}

/// A bucket's store and the settings it was opened with.
type OpenBucket = (S3Settings, Arc<dyn BlobStore>);

impl FileStorage {
    /// Files in `stores`, as `settings` pick.
    pub fn new(stores: Arc<dyn BlobStores>, settings: SettingsService) -> FileStorage {
        FileStorage {
            stores,
            settings,
            bucket: Arc::default(),
        }
    }

    /// The store files are written to and read from now.
    ///
    /// # Errors
    /// When the settings' bucket cannot be opened.
    pub fn current(&self) -> Result<Arc<dyn BlobStore>, BlobError> {
        let settings = self.settings.snapshot();
        if !settings.s3.enabled {
            return Ok(self.stores.local());
        }
        if let Ok(cached) = self.bucket.read()
            && let Some((opened_with, store)) = cached.as_ref()
            && *opened_with == settings.s3
        {
            return Ok(Arc::clone(store));
        }
        let store = self.stores.s3(&settings.s3)?;
        if let Ok(mut cached) = self.bucket.write() {
            *cached = Some((settings.s3.clone(), Arc::clone(&store)));
        }
        Ok(store)
    }

    /// `POST /api/settings/test/s3`: writes and deletes a small file in the bucket of
    /// `filesystem` (`storage`: `s3`; `backups`: `backups.s3`), as saved.
    ///
    /// # Errors
    /// Unless superuser; a form error for a missing or unknown `filesystem`;
    /// [`SettingsError::S3Test`] when that bucket is off or refuses.
    pub async fn test_s3(
        &self,
        auth: &Auth,
        filesystem: &str,
        ids: &dyn IdSource,
    ) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let settings = self.settings.snapshot();
        let s3 = match filesystem {
            "storage" => &settings.s3,
            "backups" => &settings.backups.s3,
            other => {
                let mut errs = FieldErrors::new();
                errs.add(
                    "filesystem",
                    if other.is_empty() {
                        FieldError::required()
                    } else {
                        FieldError::new("validation_in_invalid", "Must be a valid value.")
                    },
                );
                return Err(CoreError::invalid(Form::TestS3, errs));
            }
        };
        if !s3.enabled {
            return Err(
                SettingsError::S3Test("S3 storage filesystem is not enabled.".into()).into(),
            );
        }
        let failed = |e: BlobError| SettingsError::S3Test(e.to_string());
        let bucket = self.stores.s3(s3).map_err(failed)?;
        let key = format!(
            "kulisse_settings_test_{}/test.txt",
            ids.random(kulisse_schema::ids::RECORD_ID_ALPHABET, 10)
        );
        let bytes = bytes::Bytes::from_static(b"test");
        bucket.put_bytes(&key, bytes).await.map_err(|e| {
            SettingsError::S3Test(format!("failed to upload a test file: [key: {key}] {e}"))
        })?;
        bucket
            .delete(std::slice::from_ref(&key))
            .await
            .map_err(|e| {
                SettingsError::S3Test(format!("failed to delete a test file: [key: {key}] {e}"))
            })?;
        Ok(())
    }
}
