//! PocketBase's built-in jobs, in the order `GET /api/crons` lists them.

use std::sync::Arc;

use kulisse_store::Store;

use super::{Job, Run};
use crate::auth::AuthService;
use crate::logs::LogService;

/// The built-in jobs over the records' store `data`, the accounts and the request log.
pub(crate) fn builtin(
    data: Arc<dyn Store>,
    auth: AuthService,
    logs: Option<LogService>,
) -> Vec<Job> {
    let mut stores = vec![data];
    stores.extend(logs.as_ref().map(|l| Arc::clone(l.store())));
    let optimize: Run = Arc::new(move || {
        let stores = stores.clone();
        Box::pin(async move {
            for store in stores {
                store
                    .write(Box::new(|tx| tx.optimize().map(|()| None)))
                    .await?;
            }
            Ok(())
        })
    });
    let mfas = auth.clone();
    let mfa_cleanup: Run = Arc::new(move || {
        let auth = mfas.clone();
        Box::pin(async move { auth.delete_expired_mfas().await.map(drop) })
    });
    let otp_cleanup: Run = Arc::new(move || {
        let auth = auth.clone();
        Box::pin(async move { auth.delete_expired_otps().await.map(drop) })
    });
    let mut jobs = vec![
        job("__pbDBOptimize__", "0 0 * * *", optimize),
        job("__pbMFACleanup__", "0 * * * *", mfa_cleanup),
        job("__pbOTPCleanup__", "0 * * * *", otp_cleanup),
    ];
    if let Some(logs) = logs {
        let logs_cleanup: Run = Arc::new(move || {
            let logs = logs.clone();
            Box::pin(async move { logs.delete_old().await.map(drop) })
        });
        jobs.push(job("__pbLogsCleanup__", "0 */6 * * *", logs_cleanup));
    }
    jobs
}

fn job(id: &str, expression: &str, run: Run) -> Job {
    // The expressions above are constants, and tested.
    Job::new(id, expression, run).unwrap_or_else(|e| unreachable!("{id}: {e}"))
}
