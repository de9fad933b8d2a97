//! A scheduled job: an id, a cron expression and what it runs.

use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::CoreError;

/// What a job runs: a fresh future each time.
pub type Run = Arc<dyn Fn() -> BoxFuture<'static, Result<(), CoreError>> + Send + Sync>;

/// Jobs made from the settings as they are now (the scheduled backup of `backups.cron`).
pub type MoreJobs = Arc<dyn Fn() -> Vec<Job> + Send + Sync>;

/// A job and when it runs.
#[derive(Clone)]
pub struct Job {
    /// PocketBase's id (`__pbLogsCleanup__`), what `POST /api/crons/{id}` names.
    pub id: String,
    /// Its five-field cron expression, in UTC (`0 */6 * * *`).
    pub expression: String,
    schedule: croner::Cron,
    pub(super) run: Run,
}

impl Job {
    /// A job running `run` at the minutes `expression` names.
    ///
    /// # Errors
    /// When `expression` is not a five-field cron expression.
    pub fn new(id: &str, expression: &str, run: Run) -> Result<Job, croner::errors::CronError> {
        Ok(Job {
            id: id.to_owned(),
            expression: expression.to_owned(),
            schedule: croner::Cron::from_str(expression)?,
            run,
        })
    }

    /// Whether the job runs at `minute` (unix seconds of a minute's start, UTC).
    pub(super) fn is_due(&self, minute: i64) -> bool {
        chrono::DateTime::from_timestamp(minute, 0)
            .is_some_and(|at| self.schedule.is_time_matching(&at).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(expression: &str) -> Job {
        Job::new("test", expression, Arc::new(|| Box::pin(async { Ok(()) })))
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// 2026-12-05 00:00 UTC.
    const MIDNIGHT: i64 = 1_796_428_800;

    #[test]
    fn jobs_are_due_at_the_minutes_their_expression_names() {
        let six_hourly = job("0 */6 * * *");
        assert!(six_hourly.is_due(MIDNIGHT));
        assert!(six_hourly.is_due(MIDNIGHT + 6 * 3600));
        assert!(!six_hourly.is_due(MIDNIGHT + 3600));
        assert!(!six_hourly.is_due(MIDNIGHT + 60));
        let hourly = job("0 * * * *");
        assert!(hourly.is_due(MIDNIGHT + 3600));
        assert!(!hourly.is_due(MIDNIGHT + 3600 + 60));
        assert!(job("* * * * *").is_due(MIDNIGHT + 60));
    }

    #[test]
    fn nonsense_is_refused() {
        let run: Run = Arc::new(|| Box::pin(async { Ok(()) }));
        assert!(Job::new("x", "every hour", Arc::clone(&run)).is_err());
        assert!(Job::new("x", "61 * * * *", run).is_err());
    }
}
