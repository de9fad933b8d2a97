//! Scheduled jobs (spec §8.5): PocketBase's built-in jobs on their cron expressions (UTC),
//! listed and started on demand by superusers, each run on one node at a time.
//!
//! | id | expression | does |
//! |---|---|---|
//! | `__pbDBOptimize__` | `0 0 * * *` | refreshes the planner's statistics of the data and the log (`PRAGMA optimize`, `ANALYZE`) |
//! | `__pbMFACleanup__` | `0 * * * *` | deletes MFA sessions past their collection's `mfa.duration` |
//! | `__pbOTPCleanup__` | `0 * * * *` | deletes one-time passwords past their collection's `otp.duration` |
//! | `__pbLogsCleanup__` | `0 */6 * * *` | deletes request log entries older than `logs.maxDays` |
//! | `__auto_pb_backup__` | `backups.cron` | a backup, keeping the last `backups.cronMaxKeep` (listed only while set) |

mod builtin;
mod job;
mod service;

pub(crate) use builtin::builtin;
pub use job::{Job, MoreJobs, Run};
pub use service::{CronInfo, CronService};
