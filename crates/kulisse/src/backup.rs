//! `kulisse backup create|list|restore`: the backups API for whoever runs the server (who
//! can read the data dir anyway, so no token), with a spinner naming each step of a long
//! run on a terminal.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kulisse::compose;
use kulisse_core::CoreError;
use kulisse_core::backups::BackupError;
use kulisse_store::QueryLimits;

use crate::cli::BackupAction;

/// Runs `action` on the data dir `dir` (or the PostgreSQL database `db`).
pub async fn run(dir: &Path, db: Option<&str>, action: BackupAction) -> anyhow::Result<()> {
    let (store, services) = compose::open(
        dir,
        db,
        QueryLimits::default(),
        compose::Options::one_shot(),
    )
    .await?;
    let backups = services
        .backups
        .clone()
        .context("backups need the file storage")?;
    let result = match action {
        BackupAction::Create { name } => {
            let bar = spinner();
            let progress = {
                let bar = bar.clone();
                move |step: &'static str| bar.set_message(step)
            };
            let made = backups.create_as_operator(name.as_deref(), &progress).await;
            bar.finish_and_clear();
            made.map(|key| crate::say(&format!("Backup {key} made.")))
        }
        BackupAction::List => backups.list_as_operator().await.map(|items| {
            for b in items {
                crate::say(&format!("{:<60} {:>14} {}", b.key, b.size, b.modified));
            }
        }),
        BackupAction::Restore { key } => {
            let bar = spinner();
            let progress = {
                let bar = bar.clone();
                move |step: &'static str| bar.set_message(step)
            };
            let restored = backups.restore_as_operator(&key, &progress).await;
            bar.finish_and_clear();
            restored.map(|()| crate::say(&format!("Backup {key} restored.")))
        }
    };
    if let Some(logs) = &services.logs {
        logs.close().await;
    }
    store.close().await;
    result.map_err(|e| match e {
        // Whoever runs the command reads the server's log anyway: the cause, not only
        // what an API client is told.
        CoreError::Backups(BackupError::NotMade(cause)) => {
            anyhow::anyhow!("Failed to create backup: {cause}")
        }
        other => anyhow::anyhow!("{}", other.message()),
    })
}

/// A spinner on stderr (drawn only on a terminal) with the current step as its message.
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
