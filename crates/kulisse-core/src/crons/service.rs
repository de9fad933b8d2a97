//! [`CronService`]: the jobs, the scheduler that runs them at their minutes, and running
//! one on demand.
//!
//! Every node runs the scheduler. At a job's minute each node claims it with a hit on the
//! key `cron:{id}:{minute}` ([`Store::hit`], counted in the database every node shares):
//! only the first claimer runs it. The run itself holds the lock `kulisse:cron:{id}`
//! ([`Store::try_lock`]), so a run that outlasts its next minute, or a run asked for by
//! hand meanwhile, is skipped rather than overlapped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kulisse_store::Store;
use serde::Serialize;

use super::{Job, MoreJobs};
use crate::collections::service::require_superuser;
use crate::error::CoreError;
use crate::{Ambient, Auth};

/// The scheduled jobs.
#[derive(Clone)]
pub struct CronService {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Vec<Job>,
    /// Jobs the settings make (the scheduled backup), asked for each time.
    more: MoreJobs,
    store: Arc<dyn Store>,
    ambient: Ambient,
}

impl Inner {
    /// The jobs now: the fixed ones, then those the settings make.
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = self.jobs.clone();
        jobs.extend((self.more)());
        jobs
    }
}

/// A job as `GET /api/crons` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CronInfo {
    /// Its id.
    pub id: String,
    /// Its cron expression.
    pub expression: String,
}

impl CronService {
    /// Schedules `jobs` (in the order `GET /api/crons` lists them) and those `more` makes
    /// at each minute, on this node, claiming each run in `store`; with `scheduled` false
    /// they only run when asked ([`CronService::run`]).
    pub fn start(
        scheduled: bool,
        store: Arc<dyn Store>,
        ambient: Ambient,
        jobs: Vec<Job>,
        more: MoreJobs,
    ) -> CronService {
        let inner = Arc::new(Inner {
            jobs,
            more,
            store,
            ambient,
        });
        if scheduled {
            tokio::spawn(schedule(Arc::downgrade(&inner)));
        }
        CronService { inner }
    }

    /// `GET /api/crons`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub fn list(&self, auth: &Auth) -> Result<Vec<CronInfo>, CoreError> {
        require_superuser(auth)?;
        Ok(self
            .inner
            .jobs()
            .iter()
            .map(|j| CronInfo {
                id: j.id.clone(),
                expression: j.expression.clone(),
            })
            .collect())
    }

    /// `POST /api/crons/{id}`: starts the job now (the answer does not wait for it).
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 404 for an unknown job.
    pub fn run(&self, auth: &Auth, id: &str) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let job = self
            .inner
            .jobs()
            .into_iter()
            .find(|j| j.id == id)
            .ok_or(CoreError::UnknownCron)?;
        tokio::spawn(run(Arc::clone(&self.inner.store), job));
        Ok(())
    }

    /// Runs the jobs due at `minute` (unix seconds of its start) that this node claims
    /// first; what the scheduler does each minute. The runs go on in the background.
    pub async fn tick(&self, minute: i64) {
        tick(&self.inner, minute).await;
    }
}

/// Wakes at every minute's start and runs what is due.
async fn schedule(inner: Weak<Inner>) {
    loop {
        let Some(now) = inner.upgrade().map(|i| i.ambient.clock.now()) else {
            return;
        };
        let second = now.as_second();
        let minute = second - second.rem_euclid(60) + 60;
        let wait = jiff::Timestamp::from_second(minute)
            .map(|at| at.duration_since(now))
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(60));
        tokio::time::sleep(wait).await;
        let Some(inner) = inner.upgrade() else { return };
        tick(&inner, minute).await;
    }
}

async fn tick(inner: &Arc<Inner>, minute: i64) {
    for job in inner.jobs().iter().filter(|j| j.is_due(minute)) {
        let key = format!("cron:{}:{minute}", job.id);
        match inner.store.hit(&key, 3600, minute).await {
            Ok(hits) if hits.count == 1 => {
                tokio::spawn(run(Arc::clone(&inner.store), job.clone()));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cron job not claimed"),
        }
    }
}

/// Runs `job` unless a run of it holds its lock (here or on another node).
async fn run(store: Arc<dyn Store>, job: Job) {
    let lock = match store.try_lock(&format!("kulisse:cron:{}", job.id)).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::info!(job = %job.id, "cron job still running: this run is skipped");
            return;
        }
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "cron job not run");
            return;
        }
    };
    let started = Instant::now();
    match (job.run)().await {
        Ok(()) => tracing::info!(job = %job.id, took = ?started.elapsed(), "cron job done"),
        Err(e) => tracing::warn!(job = %job.id, error = %e, "cron job failed"),
    }
    lock.release().await;
}
