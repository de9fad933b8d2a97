//! One-time passwords (spec §5.5): `request-otp` mails a code and answers its `otpId`;
//! `auth-with-otp` trades the id and the code for a login.
//!
//! `request-otp` answers the same way whether or not the address belongs to anyone: an
//! `otpId` (a random one for nobody), after the same two lookups. Making the code (bcrypt),
//! storing it in `_otps` and mailing it happen after the answer; the code is known only
//! from the mail, which is sent once the row is stored, so nobody can present it early.
//!
//! A code is redeemed by deleting its row in a write transaction: of any number of
//! concurrent attempts with the right code, exactly one deletes it and signs in. Each
//! attempt on a record's codes counts in a window shared by every node
//! ([`kulisse_store::Store::hit`]); past [`MAX_ATTEMPTS`] the answer is 429 until the
//! window closes, right code or not.

use std::sync::Arc;

use jiff::SignedDuration;
use kulisse_schema::collection::{OTPS, OtpOptions};
use kulisse_schema::{Collection, FieldError, FieldErrors};
use kulisse_store::{CmpOp, Cond, Literal, Order, Row, Select, StoreError, Term};
use serde_json::{Value, json};

use super::error::AuthError;
use super::forms::{field, public, requested_email, text};
use super::service::{AuthService, Login, Method};
use crate::error::{CoreError, Form};
use crate::mail::{Placeholders, TemplateKind};

/// Attempts on one record's codes per [`ATTEMPTS_WINDOW`] (PocketBase: 5 per 180 s).
const MAX_ATTEMPTS: u64 = 5;
/// Seconds the attempts of a record are counted over.
const ATTEMPTS_WINDOW: i64 = 180;
/// Unexpired codes a record may hold; past it the newest is answered again, unmailed
/// (PocketBase: 9).
const MAX_OPEN: usize = 9;
/// PocketBase hashes codes with bcrypt cost 8 (the `_otps.password` field's cost).
const CODE_COST: u32 = 8;

impl AuthService {
    /// `POST /api/collections/{c}/request-otp` `{"email"}`: the `otpId` to redeem the
    /// mailed code with.
    ///
    /// # Errors
    /// 403 when OTP is off; a missing or invalid address.
    pub async fn request_otp(&self, collection: &str, body: &Value) -> Result<String, CoreError> {
        let c = self.auth_collection(collection)?;
        let otp = otp_options(&c)?;
        let email = requested_email(body)?;
        let record = self.find_by_email(&c, email).await?;
        let record_id = record
            .as_ref()
            .and_then(|r| field(r, "id").as_str())
            .unwrap_or_default();
        let open = self.open_codes(&c, record_id, otp.duration).await?;
        let Some(record) = record else {
            return Ok(self.ambient.ids.record_id());
        };
        if open.len() > MAX_OPEN
            && let Some(newest) = open.first().and_then(|r| field(r, "id").as_str())
        {
            return Ok(newest.to_owned());
        }
        let otp_id = self.ambient.ids.record_id();
        let service = self.clone();
        let (id, email) = (otp_id.clone(), email.to_owned());
        tokio::spawn(async move {
            if let Err(e) = service.issue_code(&c, &record, &otp, &id, &email).await {
                tracing::error!(error = %e, collection = %c.name, "could not store a one-time password");
            }
        });
        Ok(otp_id)
    }

    /// Makes a code for `record`, stores it as `otp_id` and mails it to `email`.
    async fn issue_code(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        otp: &OtpOptions,
        otp_id: &str,
        email: &str,
    ) -> Result<(), CoreError> {
        let code = self.ambient.ids.random("0123456789", otp.length);
        let hash = crate::records::hash_blocking(code.clone(), CODE_COST).await;
        let otps = self.system_collection(OTPS)?;
        let now = self.ambient.now_text();
        let row = json!({"id": otp_id, "collectionRef": c.id, "recordRef": field(record, "id"),
            "password": hash, "sentTo": email, "created": now, "updated": now});
        self.writer
            .transact::<_, StoreError, _>(move |tx| {
                tx.insert(&otps, row.as_object().unwrap_or(&Row::new()))
            })
            .await?;
        if let Some(mail) = &self.mail {
            let values = Placeholders {
                otp: code,
                otp_id: otp_id.to_owned(),
                record: public(record),
                ..Placeholders::default()
            };
            mail.send_later(mail.compose(c, TemplateKind::Otp, email, values));
        }
        Ok(())
    }

    /// `POST /api/collections/{c}/auth-with-otp` `{"otpId", "password"}`: signs in (or
    /// opens an MFA session) with a mailed code, which is used up.
    ///
    /// # Errors
    /// 403 when OTP is off; 400 for missing fields and for an unknown, expired or wrong
    /// code; 429 past the attempts of the record.
    pub async fn auth_with_otp(
        &self,
        collection: &str,
        body: &Value,
        mfa_id: Option<&str>,
        client: &super::Client,
    ) -> Result<Login, CoreError> {
        let c = self.auth_collection(collection)?;
        let otp = otp_options(&c)?;
        let (otp_id, code) = (text(body, "otpId"), text(body, "password"));
        let mut errs = FieldErrors::new();
        for (key, value) in [("otpId", otp_id), ("password", code)] {
            if value.is_empty() {
                errs.add(key, FieldError::required());
            }
        }
        errs.into_result()
            .map_err(|errs| CoreError::invalid(Form::Request, errs))?;
        let otps = self.system_collection(OTPS)?;
        let stored = self
            .store
            .select(Select::by_id(Arc::clone(&otps), otp_id))
            .await?
            .rows
            .into_iter()
            .next()
            .filter(|row| {
                field(row, "collectionRef").as_str() == Some(c.id.as_str())
                    && field(row, "created").as_str() > Some(self.cutoff(otp.duration).as_str())
            })
            .ok_or(AuthError::InvalidOtp)?;
        let record_id = field(&stored, "recordRef")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let now = self.ambient.clock.now().as_second();
        let key = format!("otp:{}:{record_id}", c.id);
        if self.store.hit(&key, ATTEMPTS_WINDOW, now).await?.count > MAX_ATTEMPTS {
            return Err(AuthError::TooManyOtpAttempts.into());
        }
        let hash = field(&stored, "password").as_str().map(str::to_owned);
        if !super::forms::password_matches(code, hash).await {
            return Err(AuthError::InvalidOtp.into());
        }
        let record = self
            .load(&c, &record_id)
            .await?
            .ok_or(AuthError::InvalidOtp)?;
        // Used up: of concurrent attempts with this code, one deletes the row.
        let id = otp_id.to_owned();
        let used = self
            .writer
            .transact::<_, StoreError, _>(move |tx| tx.delete(&otps, &id))
            .await;
        match used {
            Err(StoreError::NotFound) => {
                return Err(AuthError::InvalidOtp.into());
            }
            other => other?,
        }
        let record = self
            .verify_if_sent_to_own_address(&c, record, &stored)
            .await?;
        self.finish_login(c, record, Method::Otp, mfa_id, client)
            .await
    }

    /// A code sent to the record's current address proves it: the record becomes verified.
    async fn verify_if_sent_to_own_address(
        &self,
        c: &Arc<Collection>,
        mut record: Row,
        stored: &Row,
    ) -> Result<Row, CoreError> {
        let sent_to = field(stored, "sentTo").as_str().unwrap_or_default();
        if sent_to.is_empty()
            || field(&record, "verified") == &Value::Bool(true)
            || field(&record, "email").as_str() != Some(sent_to)
        {
            return Ok(record);
        }
        let id = field(&record, "id").as_str().unwrap_or_default().to_owned();
        let changes = json!({"verified": true, "updated": self.ambient.now_text()});
        self.update(c, id, changes.clone()).await?;
        if let Value::Object(changes) = changes {
            record.extend(changes);
        }
        Ok(record)
    }

    /// The record's unexpired codes, newest first (at most one more than it may hold).
    async fn open_codes(
        &self,
        c: &Collection,
        record_id: &str,
        duration: i64,
    ) -> Result<Vec<Row>, CoreError> {
        let otps = self.system_collection(OTPS)?;
        let eq = |column: &str, value: &str| Cond::Compare {
            left: Term::Column(column.into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(value.into())),
        };
        let q = Select {
            order: vec![Order::By {
                term: Term::Column("created".into()),
                desc: true,
            }],
            limit: Some(MAX_OPEN as u64 + 1),
            ..Select::all(otps)
        }
        .and(eq("collectionRef", &c.id))
        .and(eq("recordRef", record_id))
        .and(Cond::Compare {
            left: Term::Column("created".into()),
            op: CmpOp::Gt,
            right: Term::Value(Literal::Text(self.cutoff(duration))),
        });
        Ok(self.store.select(q).await?.rows)
    }

    /// The creation time before which a code or session of `duration` seconds expired.
    pub(super) fn cutoff(&self, duration: i64) -> String {
        let at = self.ambient.clock.now() - SignedDuration::from_secs(duration);
        kulisse_schema::datetime::format(at)
    }
}

/// The collection's OTP options, if OTP is on.
fn otp_options(c: &Collection) -> Result<OtpOptions, CoreError> {
    c.auth
        .as_ref()
        .map(kulisse_schema::AuthOptions::otp)
        .filter(|o| o.enabled)
        .ok_or_else(|| AuthError::OtpDisabled.into())
}
