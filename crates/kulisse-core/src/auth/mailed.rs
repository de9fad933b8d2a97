//! The mailed flows (spec §5.8): verification, password reset and email change. A request
//! for a verification or a reset answers 204 whether or not the address belongs to anyone,
//! after the same lookup either way (the mail goes out in the background), and mails a
//! record at most once per kind every two minutes (on any node). A confirmation takes the mailed token:
//! of its type, signed with the record's current `tokenKey` (so a password or email change
//! voids it, and the change it confirms makes it single-use), for the address the record
//! still has.

use std::sync::Arc;

use kulisse_schema::value::required_email;
use kulisse_schema::{Collection, FieldError, FieldErrors, ids};
use kulisse_store::Row;
use serde_json::{Value, json};

use super::Auth;
use super::error::AuthError;
use super::forms::{field, password_matches, public, requested_email, text};
use super::service::{AuthService, token_config};
use super::tokens::{self, TokenKind};
use crate::error::{CoreError, Form};
use crate::mail::{Placeholders, TemplateKind};

/// Seconds a record waits for another mail of the same kind (PocketBase: 2 minutes),
/// counted across nodes ([`kulisse_store::Store::hit`]).
const RESEND_AFTER: i64 = 120;

fn invalid_token() -> FieldError {
    FieldError::new("validation_invalid_token", "Invalid or expired token.")
}

impl AuthService {
    /// `POST /api/collections/{c}/request-verification` `{"email"}`: mails a verification
    /// link to an unverified record with that address.
    ///
    /// # Errors
    /// An unknown or non-auth collection; a missing or invalid address.
    pub async fn request_verification(
        &self,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let c = self.auth_collection(collection)?;
        let email = requested_email(body)?;
        if let Some(row) = self.find_by_email(&c, email).await?
            && field(&row, "verified") != &Value::Bool(true)
        {
            self.mail_token_later(
                c,
                row,
                TokenKind::Verification,
                TemplateKind::Verification,
                email,
            );
        }
        Ok(())
    }

    /// `POST /api/collections/{c}/request-password-reset` `{"email"}`: mails a reset link
    /// to the record with that address.
    ///
    /// # Errors
    /// An unknown or non-auth collection; a missing or invalid address.
    pub async fn request_password_reset(
        &self,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let c = self.auth_collection(collection)?;
        let email = requested_email(body)?;
        if let Some(row) = self.find_by_email(&c, email).await? {
            self.mail_token_later(
                c,
                row,
                TokenKind::PasswordReset,
                TemplateKind::PasswordReset,
                email,
            );
        }
        Ok(())
    }

    /// [`Self::mail_token`] after the answer, so that the request answers as fast for a
    /// known address as for an unknown one.
    fn mail_token_later(
        &self,
        c: Arc<Collection>,
        row: Row,
        kind: TokenKind,
        template: TemplateKind,
        email: &str,
    ) {
        let (service, email) = (self.clone(), email.to_owned());
        tokio::spawn(async move { service.mail_token(&c, &row, kind, template, &email).await });
    }

    /// Signs a `kind` token for `row` (carrying `email`) and mails it with `template`,
    /// unless the record got one within [`RESEND_AFTER`] or there is no mailer.
    async fn mail_token(
        &self,
        c: &Collection,
        row: &Row,
        kind: TokenKind,
        template: TemplateKind,
        email: &str,
    ) {
        let Some(mail) = &self.mail else {
            return;
        };
        let id = field(row, "id").as_str().unwrap_or_default();
        let key = format!("resend:{}:{id}:{}", c.id, template.name());
        let now = self.ambient.clock.now().as_second();
        match self.store.hit(&key, RESEND_AFTER, now).await {
            Ok(hits) if hits.count == 1 => {}
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %CoreError::from(e), "mail not sent: resends not counted");
                return;
            }
        }
        let token = self.sign_with(kind, c, row, |claims| claims.email = Some(email.to_owned()));
        let values = Placeholders {
            token,
            record: public(row),
            ..Placeholders::default()
        };
        mail.send_later(mail.compose(c, template, email, values));
    }

    /// `POST /api/collections/{c}/confirm-verification` `{"token"}`: marks the record
    /// verified (again, harmlessly, if it already is).
    ///
    /// # Errors
    /// A missing token, or one that is no valid verification token for the record's
    /// current address (PocketBase's `token` field errors).
    pub async fn confirm_verification(
        &self,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let c = self.auth_collection(collection)?;
        let token = text(body, "token");
        let mut errs = FieldErrors::new();
        if token.is_empty() {
            errs.add("token", FieldError::required());
            return Err(CoreError::invalid(Form::Request, errs));
        }
        if tokens::peek(token)
            .and_then(|claims| claims.email)
            .is_none()
        {
            errs.add(
                "token",
                FieldError::new(
                    "validation_invalid_token_claims",
                    "Missing email token claim.",
                ),
            );
            return Err(CoreError::invalid(Form::Request, errs));
        }
        let Some(row) = self
            .mailed_token(&c, token, TokenKind::Verification)
            .await?
        else {
            errs.add("token", invalid_token());
            return Err(CoreError::invalid(Form::Request, errs));
        };
        if field(&row, "verified") == &Value::Bool(true) {
            return Ok(());
        }
        let id = field(&row, "id").as_str().unwrap_or_default().to_owned();
        let changes = json!({"verified": true, "updated": self.ambient.now_text()});
        self.update(&c, id, changes).await
    }

    /// `POST /api/collections/{c}/confirm-password-reset` `{"token", "password",
    /// "passwordConfirm"}`: sets the password, rotates the `tokenKey` (every token of the
    /// record dies, this one included) and marks the record verified when the token's
    /// address is still its address.
    ///
    /// # Errors
    /// PocketBase's field errors for the token and the new password.
    pub async fn confirm_password_reset(
        &self,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let c = self.auth_collection(collection)?;
        let (token, password, confirm) = (
            text(body, "token"),
            text(body, "password"),
            text(body, "passwordConfirm"),
        );
        let mut errs = FieldErrors::new();
        let row = match token.is_empty() {
            true => {
                errs.add("token", FieldError::required());
                None
            }
            false => {
                let row = self
                    .mailed_token(&c, token, TokenKind::PasswordReset)
                    .await?;
                if row.is_none() {
                    errs.add("token", invalid_token());
                }
                row
            }
        };
        let kind = c.field("password").map(|f| &f.kind);
        if password.is_empty() {
            errs.add("password", FieldError::required());
        } else if let Some(kind) = kind
            && let Err(e) = crate::records::check_plain_password(kind, password)
        {
            errs.add("password", e);
        }
        if confirm.is_empty() {
            errs.add("passwordConfirm", FieldError::required());
        } else if confirm != password {
            errs.add(
                "passwordConfirm",
                FieldError::new("validation_values_mismatch", "Values don't match."),
            );
        }
        let Some(row) = row.filter(|_| errs.is_empty()) else {
            return Err(CoreError::invalid(Form::Request, errs));
        };
        let hash =
            crate::records::hash_blocking(password.to_owned(), crate::records::password_cost(&c))
                .await;
        let claims_email = tokens::peek(token).and_then(|claims| claims.email);
        let mut changes = json!({
            "password": hash,
            "tokenKey": self.ambient.ids.random(ids::TOKEN_KEY_ALPHABET, 50),
            "updated": self.ambient.now_text(),
        });
        if claims_email.as_deref() == field(&row, "email").as_str() {
            changes["verified"] = Value::Bool(true);
        }
        let id = field(&row, "id").as_str().unwrap_or_default().to_owned();
        self.update(&c, id, changes).await
    }

    /// `POST /api/collections/{c}/request-email-change` `{"newEmail"}` by a record of `c`:
    /// mails a confirmation link to the new address.
    ///
    /// # Errors
    /// 401 for a guest, 403 for a record of another collection; PocketBase's `newEmail`
    /// errors (missing, invalid, the current one, taken).
    pub async fn request_email_change(
        &self,
        auth: &Auth,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let Auth::Record {
            collection: own,
            record,
        } = auth
        else {
            return Err(AuthError::TokenRequired.into());
        };
        let c = self.auth_collection(collection)?;
        if own.id != c.id {
            return Err(AuthError::OtherCollection {
                collection: own.name.clone(),
            }
            .into());
        }
        let new_email = text(body, "newEmail").trim();
        let current = field(record, "email").as_str().unwrap_or_default();
        let mut errs = FieldErrors::new();
        if let Err(e) = required_email(new_email) {
            errs.add("newEmail", e);
        } else if new_email.eq_ignore_ascii_case(current) {
            errs.add(
                "newEmail",
                FieldError::new("validation_not_in_invalid", "Must not be in list."),
            );
        } else if self.find_by_email(&c, new_email).await?.is_some() {
            errs.add(
                "newEmail",
                FieldError::new("validation_invalid_new_email", "Invalid new email address."),
            );
        }
        errs.into_result()
            .map_err(|errs| CoreError::invalid(Form::Request, errs))?;
        let Some(mail) = &self.mail else {
            return Ok(());
        };
        let token = self.sign_with(TokenKind::EmailChange, &c, record, |claims| {
            claims.email = Some(current.to_owned());
            claims.new_email = Some(new_email.to_owned());
        });
        let values = Placeholders {
            token,
            record: public(record),
            ..Placeholders::default()
        };
        mail.send_later(mail.compose(&c, TemplateKind::EmailChange, new_email, values));
        Ok(())
    }

    /// `POST /api/collections/{c}/confirm-email-change` `{"token", "password"}`: sets the
    /// new address, marks it verified and rotates the `tokenKey` (every session ends).
    ///
    /// # Errors
    /// PocketBase's field errors for the token and the password.
    pub async fn confirm_email_change(
        &self,
        collection: &str,
        body: &Value,
    ) -> Result<(), CoreError> {
        let c = self.auth_collection(collection)?;
        let (token, password) = (text(body, "token"), text(body, "password"));
        let mut errs = FieldErrors::new();
        let new_email = tokens::peek(token).and_then(|claims| claims.new_email);
        let row = if token.is_empty() {
            errs.add("token", FieldError::required());
            None
        } else if new_email.is_none() {
            errs.add(
                "token",
                FieldError::new(
                    "validation_invalid_token_payload",
                    "Invalid token payload - newEmail must be set.",
                ),
            );
            None
        } else {
            let row = self.mailed_token(&c, token, TokenKind::EmailChange).await?;
            if row.is_none() {
                errs.add("token", invalid_token());
            }
            row
        };
        let hash = row
            .as_ref()
            .and_then(|row| field(row, "password").as_str())
            .map(str::to_owned);
        if password.is_empty() {
            errs.add("password", FieldError::required());
        } else if !password_matches(password, hash).await {
            errs.add(
                "password",
                FieldError::new(
                    "validation_invalid_password",
                    "Missing or invalid auth record password.",
                ),
            );
        }
        let (Some(row), Some(new_email)) = (row.filter(|_| errs.is_empty()), new_email) else {
            return Err(CoreError::invalid(Form::Request, errs));
        };
        let id = field(&row, "id").as_str().unwrap_or_default().to_owned();
        let changes = json!({
            "email": new_email,
            "verified": true,
            "tokenKey": self.ambient.ids.random(ids::TOKEN_KEY_ALPHABET, 50),
            "updated": self.ambient.now_text(),
        });
        self.update(&c, id, changes).await
    }

    /// The record `token` is a valid `kind` token of: signed with its current key,
    /// unexpired, for the address it still has.
    async fn mailed_token(
        &self,
        c: &Arc<Collection>,
        token: &str,
        kind: TokenKind,
    ) -> Result<Option<Row>, CoreError> {
        let Some(claims) = tokens::peek(token).filter(|claims| claims.collection_id == c.id) else {
            return Ok(None);
        };
        let Some(auth) = &c.auth else {
            return Ok(None);
        };
        let Some(row) = self.load(c, &claims.id).await? else {
            return Ok(None);
        };
        let key = format!(
            "{}{}",
            field(&row, "tokenKey").as_str().unwrap_or_default(),
            token_config(auth, kind).secret
        );
        let now = self.ambient.clock.now().as_second();
        let valid = tokens::verify(token, &key, kind, now)
            .is_some_and(|verified| verified.email.as_deref() == field(&row, "email").as_str());
        Ok(valid.then_some(row))
    }

    pub(super) async fn update(
        &self,
        c: &Arc<Collection>,
        id: String,
        changes: Value,
    ) -> Result<(), CoreError> {
        let c = Arc::clone(c);
        let changes: Row = changes.as_object().cloned().unwrap_or_default();
        self.writer
            .transact::<_, CoreError, _>(move |tx| Ok(tx.update(&c, &id, &changes)?))
            .await
    }
}
