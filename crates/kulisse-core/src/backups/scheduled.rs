//! The scheduled backup: while `backups.cron` is set, the job `__auto_pb_backup__` makes a
//! backup named `@auto_pb_backup_<app>_<time>.zip` at its minutes and then deletes the
//! oldest scheduled ones beyond `backups.cronMaxKeep` (backups made by hand are kept).
//! When it fails, every superuser is mailed: nobody watches a nightly job's log.

use std::sync::Arc;

use super::name::{self, AUTO_PREFIX};
use super::{BackupError, BackupService};
use crate::crons::{Job, Run};
use crate::error::CoreError;

/// PocketBase's id of the job.
const AUTO_JOB: &str = "__auto_pb_backup__";

impl BackupService {
    /// The job of `backups.cron`, while it is set (and valid: the settings check it).
    pub fn scheduled_job(&self) -> Option<Job> {
        let cron = self.inner.settings.snapshot().backups.cron.clone();
        if cron.is_empty() {
            return None;
        }
        let service = self.clone();
        let run: Run = Arc::new(move || {
            let service = service.clone();
            Box::pin(async move {
                let made = service.scheduled_backup().await;
                if let Err(e) = &made {
                    service.tell_superusers(e).await;
                }
                made
            })
        });
        Job::new(AUTO_JOB, &cron, run).ok()
    }

    /// Mails every superuser that the scheduled backup failed with `error` (when mail is
    /// set up; otherwise the cron's log line is all there is).
    async fn tell_superusers(&self, error: &CoreError) {
        let Some(mail) = &self.inner.mail else {
            return;
        };
        let emails = match self.inner.auth.superuser_emails().await {
            Ok(emails) => emails,
            Err(e) => {
                tracing::warn!(error = %e, "the superusers to tell of a failed backup are unknown");
                return;
            }
        };
        let why = match error {
            CoreError::Backups(BackupError::NotMade(cause)) => cause.clone(),
            other => other.to_string(),
        };
        let text = format!(
            "The scheduled backup ({AUTO_JOB}) failed: {why}. The backups made so far are \
             listed under Settings > Backups; the server's log has the details."
        );
        for email in emails {
            mail.send_later(mail.notice(&email, "Scheduled backup failed", &text));
        }
    }

    /// Makes a scheduled backup, then keeps the newest `cronMaxKeep` scheduled ones.
    async fn scheduled_backup(&self) -> Result<(), CoreError> {
        let settings = self.inner.settings.snapshot();
        let now = self.inner.ambient.clock.now();
        let key = format!(
            "{AUTO_PREFIX}{}",
            name::default(&settings.meta.app_name, now)
        );
        self.make_named(&key, now, &super::unwatched).await?;
        let store = self.destination()?;
        let failed = |e: crate::files::store::BlobError| {
            BackupError::Failed(format!("Failed to prune the scheduled backups: {e}"))
        };
        let mut scheduled = Vec::new();
        for key in store.list("").await.map_err(failed)? {
            if key.starts_with(AUTO_PREFIX) && name::is_stored(&key) {
                match store.get(&key, None).await {
                    Ok(blob) => scheduled.push((blob.modified, key)),
                    Err(crate::files::store::BlobError::NotFound) => {}
                    Err(e) => return Err(failed(e).into()),
                }
            }
        }
        scheduled.sort_by(|a, b| b.cmp(a));
        let keep = usize::try_from(settings.backups.cron_max_keep.max(1)).unwrap_or(1);
        let old: Vec<String> = scheduled.into_iter().skip(keep).map(|(_, k)| k).collect();
        if !old.is_empty() {
            store.delete(&old).await.map_err(failed)?;
        }
        Ok(())
    }
}
