//! Multi-factor authentication (spec §5.6). When a collection's `mfa` is on and the record
//! matches its rule (an empty rule: every record), the first method that succeeds opens an
//! MFA session in `_mfas` and answers 401 `{"mfaId"}` instead of a token; a second call
//! with a *different* method and that `mfaId` signs in and uses the session up.
//!
//! Sessions are rows, so any node continues what another began, and using one up is a
//! delete in a write transaction: two second factors racing on one session sign in once.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_schema::collection::MFAS;
use kulisse_store::{Row, Select, StoreError};
use serde_json::json;

use super::error::AuthError;
use super::forms::field;
use super::service::{AuthService, Method};
use crate::error::CoreError;

impl AuthService {
    /// The MFA step of a login of `record` by `method`: `Ok(None)` to go on and sign in,
    /// `Ok(Some(mfa_id))` when a second method must follow.
    ///
    /// # Errors
    /// PocketBase's 400s for an unknown or expired session, a session of another record,
    /// and the same method twice.
    pub(super) async fn second_factor(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        method: Method,
        mfa_id: Option<&str>,
    ) -> Result<Option<String>, CoreError> {
        let Some(mfa) = c.auth.as_ref().map(kulisse_schema::AuthOptions::mfa) else {
            return Ok(None);
        };
        if !mfa.enabled
            || (!mfa.rule.trim().is_empty() && !self.record_matches(c, record, &mfa.rule).await?)
        {
            return Ok(None);
        }
        let mfas = self.system_collection(MFAS)?;
        let record_id = field(record, "id").as_str().unwrap_or_default().to_owned();
        let Some(mfa_id) = mfa_id.filter(|id| !id.is_empty()) else {
            let id = self.ambient.ids.record_id();
            let now = self.ambient.now_text();
            let row = json!({"id": id, "collectionRef": c.id, "recordRef": record_id,
                "method": method.as_str(), "created": now, "updated": now});
            self.writer
                .transact::<_, StoreError, _>(move |tx| {
                    tx.insert(&mfas, row.as_object().unwrap_or(&Row::new()))
                })
                .await?;
            return Ok(Some(id));
        };
        let session = self
            .store
            .select(Select::by_id(Arc::clone(&mfas), mfa_id))
            .await?
            .rows
            .into_iter()
            .next()
            .filter(|row| field(row, "created").as_str() > Some(self.cutoff(mfa.duration).as_str()))
            .ok_or(AuthError::InvalidMfa)?;
        if field(&session, "collectionRef").as_str() != Some(c.id.as_str())
            || field(&session, "recordRef").as_str() != Some(record_id.as_str())
        {
            return Err(AuthError::MfaOfAnotherRecord.into());
        }
        if field(&session, "method").as_str() == Some(method.as_str()) {
            return Err(AuthError::MfaSameMethod.into());
        }
        let id = mfa_id.to_owned();
        match self
            .writer
            .transact::<_, StoreError, _>(move |tx| tx.delete(&mfas, &id))
            .await
        {
            Err(StoreError::NotFound) => Err(AuthError::InvalidMfa.into()),
            other => other.map(|()| None).map_err(CoreError::from),
        }
    }
}
