//! Deleting spent sign-in state: one-time passwords and MFA sessions older than their
//! auth collection's `otp.duration` or `mfa.duration` (PocketBase's hourly
//! `__pbOTPCleanup__` and `__pbMFACleanup__`). Expired rows are refused anyway; this keeps
//! the tables small.

use std::sync::Arc;

use kulisse_schema::collection::{MFAS, OTPS};
use kulisse_schema::{AuthOptions, CollectionKind};
use kulisse_store::{CmpOp, Cond, Literal, Select, StoreError, Term};
use serde_json::Value;

use super::AuthService;
use crate::error::CoreError;

/// Rows deleted per transaction (writes go on between them).
const CHUNK: u64 = 1_000;

impl AuthService {
    /// Deletes the one-time passwords past their collection's `otp.duration`; how many.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete_expired_otps(&self) -> Result<u64, CoreError> {
        self.delete_expired(OTPS, |a| a.otp().duration).await
    }

    /// Deletes the MFA sessions past their collection's `mfa.duration`; how many.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete_expired_mfas(&self) -> Result<u64, CoreError> {
        self.delete_expired(MFAS, |a| a.mfa().duration).await
    }

    async fn delete_expired(
        &self,
        system: &str,
        duration: impl Fn(&AuthOptions) -> i64,
    ) -> Result<u64, CoreError> {
        let table = self.system_collection(system)?;
        let mut deleted = 0;
        for c in self.registry.snapshot().all() {
            let (CollectionKind::Auth, Some(auth)) = (c.kind, c.auth.as_ref()) else {
                continue;
            };
            let expired = Select {
                limit: Some(CHUNK),
                ..Select::all(Arc::clone(&table))
            }
            .and(Cond::Compare {
                left: Term::Column("collectionRef".into()),
                op: CmpOp::Eq,
                right: Term::Value(Literal::Text(c.id.clone())),
            })
            .and(Cond::Compare {
                left: Term::Column("created".into()),
                op: CmpOp::Lt,
                right: Term::Value(Literal::Text(self.cutoff(duration(auth)))),
            });
            loop {
                let ids: Vec<String> = self
                    .store
                    .select(expired.clone())
                    .await?
                    .rows
                    .iter()
                    .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                let n = ids.len() as u64;
                let t = Arc::clone(&table);
                self.writer
                    .transact::<_, StoreError, _>(move |tx| {
                        for id in &ids {
                            match tx.delete(&t, id) {
                                Ok(()) | Err(StoreError::NotFound) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(())
                    })
                    .await?;
                deleted += n;
                if n < CHUNK {
                    break;
                }
            }
        }
        Ok(deleted)
    }
}
