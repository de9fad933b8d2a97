//! The settings service: the current [`Settings`] as an immutable snapshot, replaced
//! whole when a PATCH is saved or another node changed them.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kulisse_store::{Store, StoreError};
use serde_json::Value;

use super::document::{LoadFailed, apply_patch, decode_stored};
use super::error::SettingsError;
use super::model::{BatchLimits, Settings, TrustedProxy};
use super::validate::validate;
use crate::auth::{Auth, AuthError};
use crate::changes::Writer;
use crate::collections::service::require_superuser;
use crate::error::{CoreError, Form};

/// The `_params` key the settings document is stored under.
const PARAM_KEY: &str = "settings";

/// The settings service.
#[derive(Clone)]
pub struct SettingsService {
    store: Arc<dyn Store>,
    writer: Writer,
    current: Arc<RwLock<Arc<Settings>>>,
    /// Bumped whenever other settings are installed, for what is derived from them.
    version: Arc<AtomicU64>,
    /// Held from reading the store to installing the result, so that a reload which read
    /// older settings cannot install them over newer ones.
    installing: Arc<tokio::sync::Mutex<()>>,
}

impl SettingsService {
    /// Loads the stored settings over the defaults.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn load(store: Arc<dyn Store>, writer: Writer) -> Result<Self, CoreError> {
        let settings = read(&*store).await?;
        Ok(Self {
            store,
            writer,
            current: Arc::new(RwLock::new(Arc::new(settings))),
            version: Arc::default(),
            installing: Arc::default(),
        })
    }

    /// Re-reads the stored settings (another node changed them).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let _installing = self.installing.lock().await;
        let settings = read(&*self.store).await?;
        self.install(settings);
        Ok(())
    }

    /// The current settings, secrets included (for internal use). Cheap: callers keep
    /// the snapshot for as long as they need one consistent view.
    pub fn snapshot(&self) -> Arc<Settings> {
        self.current
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default()
    }

    /// Batch limits.
    pub fn batch(&self) -> BatchLimits {
        self.snapshot().batch_limits()
    }

    /// `superuserIPs`: a request authenticated as a superuser must come from a listed
    /// address or subnet (an empty list allows any). An unknown address is refused.
    ///
    /// # Errors
    /// `SuperuserIpNotAllowed` when the list does not include `ip`.
    pub fn check_superuser_ip(&self, ip: Option<IpAddr>) -> Result<(), CoreError> {
        if self.snapshot().superuser_ip_allowed(ip) {
            Ok(())
        } else {
            Err(AuthError::SuperuserIpNotAllowed.into())
        }
    }

    /// The `trustedProxy` settings.
    pub fn trusted_proxy(&self) -> TrustedProxy {
        self.snapshot().trusted_proxy()
    }

    /// `GET /api/settings` (secrets removed).
    ///
    /// # Errors
    /// Unless superuser.
    pub fn view(&self, auth: &Auth) -> Result<Value, CoreError> {
        require_superuser(auth)?;
        Ok(self.snapshot().to_view())
    }

    /// `PATCH /api/settings`: merges the partial body, validates, stores, returns the view.
    ///
    /// # Errors
    /// Unless superuser; 400 when the body does not fit the settings' types, or with
    /// field errors for invalid values.
    pub async fn update(&self, auth: &Auth, patch: &Value) -> Result<Value, CoreError> {
        require_superuser(auth)?;
        let Value::Object(patch) = patch else {
            return Err(SettingsError::NotAnObject.into());
        };
        let _installing = self.installing.lock().await;
        let next =
            apply_patch(&self.snapshot(), patch).map_err(|LoadFailed| SettingsError::Malformed)?;
        validate(&next).map_err(|errs| CoreError::invalid(Form::Settings, errs))?;
        save(&self.writer, &next).await?;
        let view = next.to_view();
        self.install(next);
        Ok(view)
    }

    fn install(&self, settings: Settings) {
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(settings);
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    /// Which settings are in force: changes whenever others are installed, so what is
    /// derived from them can be kept until then (a cheaper check than a snapshot).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// The stored settings over the defaults.
async fn read(store: &dyn Store) -> Result<Settings, CoreError> {
    let stored = store.param(PARAM_KEY).await?;
    Ok(decode_stored(stored.as_ref()))
}

/// Writes `settings` (secrets included) as the stored document.
async fn save(writer: &Writer, settings: &Settings) -> Result<(), CoreError> {
    let stored = settings.to_stored();
    writer
        .transact::<_, StoreError, _>(move |tx| tx.set_param(PARAM_KEY, &stored))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kulisse_store_sqlite::SqliteStore;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn secrets_are_stored_and_kept_through_a_patch_but_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
        let writer = Writer::new(Arc::clone(&store), None, crate::EventBus::default());
        let service = SettingsService::load(Arc::clone(&store), writer.clone())
            .await
            .unwrap();
        assert_eq!(
            *service.snapshot(),
            Settings::default(),
            "nothing stored yet"
        );
        let mut settings = Settings::default();
        settings.smtp.password = "smtp-pw".to_owned().into();
        settings.backups.s3.secret = "backup-secret".to_owned().into();
        save(&writer, &settings).await.unwrap();
        service.reload().await.unwrap();
        assert_eq!(*service.snapshot(), settings);

        let Value::Object(patch) = json!({"meta": {"appName": "Renamed"}}) else {
            unreachable!()
        };
        let next = apply_patch(&service.snapshot(), &patch).unwrap();
        save(&writer, &next).await.unwrap();
        let stored = store.param(PARAM_KEY).await.unwrap().unwrap();
        assert_eq!(stored["meta"]["appName"], "Renamed");
        assert_eq!(stored["smtp"]["password"], "smtp-pw");
        assert_eq!(stored["backups"]["s3"]["secret"], "backup-secret");
        let served = next.to_view().to_string();
        assert!(!served.contains("smtp-pw") && !served.contains("backup-secret"));
    }
}
