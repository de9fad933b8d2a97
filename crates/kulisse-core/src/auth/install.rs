//! The first superuser, made through a one-time install link.
//!
//! While no superuser exists, `serve` prints a link holding an install token (PocketBase
//! prints `/_/#/pbinstal/<token>`); whoever holds it may create the first superuser in the
//! dashboard, and nobody else can over the network (the command line,
//! `kulisse superuser upsert`, needs the machine itself). The token is signed with the
//! superusers' auth-token secret, so every node sharing the database accepts it. It opens
//! the form only while there is no superuser, checked again inside the write that creates
//! one: two people racing with one link make one superuser.

use std::sync::Arc;

use kulisse_schema::collection::SUPERUSERS;
use kulisse_schema::value::required_email;
use kulisse_schema::{Collection, FieldError, FieldErrors};
use kulisse_store::{Row, Select};

use super::error::AuthError;
use super::service::{AuthService, token_config};
use super::tokens::{self, Claims, TokenKind};
use crate::error::{CoreError, Form};
use crate::records::{hash_blocking, password_cost};

/// How long a printed install link works: a restart prints a fresh one.
pub const INSTALL_LINK_VALID_SECS: u64 = 3600;

/// The named lock installs take.
const INSTALL_LOCK: &str = "kulisse:install";

/// The fewest characters a superuser's password may have (the command line's rule too).
const MIN_PASSWORD_CHARS: usize = 8;

/// What the install form sends.
#[derive(Debug, Clone, Copy)]
pub struct FirstSuperuser<'a> {
    /// The new superuser's address.
    pub email: &'a str,
    /// Their password.
    pub password: &'a str,
    /// The password again.
    pub password_confirm: &'a str,
}

impl AuthService {
    /// Whether any superuser exists.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn has_superuser(&self) -> Result<bool, CoreError> {
        let c = self.superusers()?;
        let first = Select {
            limit: Some(1),
            ..Select::all(c)
        };
        Ok(!self.store.select(first).await?.rows.is_empty())
    }

    /// A fresh install token, or `None` once a superuser exists.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn install_token(&self) -> Result<Option<String>, CoreError> {
        if self.has_superuser().await? {
            return Ok(None);
        }
        let c = self.superusers()?;
        let now = self.ambient.clock.now().as_second();
        let key = install_key(&c).ok_or(CoreError::UnknownCollection)?;
        let claims = Claims::new(TokenKind::Install, &c.id, "", INSTALL_LINK_VALID_SECS, now);
        Ok(Some(tokens::sign(&claims, &key)))
    }

    /// Whether `token` is an unexpired install token of this database. (It is no use once
    /// a superuser exists: [`Self::install`] checks that.)
    pub fn install_token_valid(&self, token: &str) -> bool {
        let Some(key) = self.superusers().ok().as_deref().and_then(install_key) else {
            return false;
        };
        let now = self.ambient.clock.now().as_second();
        tokens::verify(token, &key, TokenKind::Install, now).is_some()
    }

    /// Creates the first superuser with the install `token`, and signs them in: their
    /// collection, record and auth token.
    ///
    /// # Errors
    /// [`AuthError::InvalidInstallToken`] for a bad or expired token,
    /// [`AuthError::AlreadyInstalled`] once any superuser exists, a form error for a bad
    /// email or password.
    pub async fn install(
        &self,
        token: &str,
        form: FirstSuperuser<'_>,
    ) -> Result<(Arc<Collection>, Row, String), CoreError> {
        if !self.install_token_valid(token) {
            return Err(AuthError::InvalidInstallToken.into());
        }
        let email = form.email.trim();
        let mut errs = FieldErrors::new();
        if let Err(e) = required_email(email) {
            errs.add("email", e);
        }
        if form.password.chars().count() < MIN_PASSWORD_CHARS {
            errs.add(
                "password",
                FieldError::length_out_of_range(MIN_PASSWORD_CHARS as u64, 71),
            );
        } else if form.password != form.password_confirm {
            errs.add(
                "passwordConfirm",
                FieldError::new("validation_values_mismatch", "Values don't match."),
            );
        }
        if !errs.is_empty() {
            return Err(CoreError::invalid(Form::Request, errs));
        }
        let c = self.superusers()?;
        let hash = hash_blocking(form.password.to_owned(), password_cost(&c)).await;
        let row = self.new_superuser_row(email, hash);
        let written = row.clone();
        let collection = Arc::clone(&c);
        // One install at a time across nodes: on PostgreSQL two transactions could both
        // find no superuser and both insert one; the check inside the write then sees the
        // other's commit.
        let lock = self
            .store
            .try_lock(INSTALL_LOCK)
            .await?
            .ok_or(AuthError::InstallBusy)?;
        let made = self
            .writer
            .transact::<_, CoreError, _>(move |tx| {
                let first = Select {
                    limit: Some(1),
                    ..Select::all(Arc::clone(&collection))
                };
                if !tx.select(&first)?.is_empty() {
                    return Err(AuthError::AlreadyInstalled.into());
                }
                tx.insert(&collection, &written)?;
                Ok(())
            })
            .await;
        lock.release().await;
        made?;
        let token = self.token_for(&c, &row);
        Ok((c, row, token))
    }

    fn superusers(&self) -> Result<Arc<Collection>, CoreError> {
        self.registry
            .get(SUPERUSERS)
            .ok_or(CoreError::UnknownCollection)
    }
}

/// The key install tokens are signed with: the superusers' auth-token secret, prefixed so
/// that no auth token (record key + secret) can ever verify as one. `None` without a
/// secret: a key anyone could know signs nothing.
fn install_key(superusers: &Collection) -> Option<String> {
    let secret = &token_config(superusers.auth.as_ref()?, TokenKind::Auth).secret;
    (!secret.is_empty()).then(|| format!("install:{secret}"))
}
