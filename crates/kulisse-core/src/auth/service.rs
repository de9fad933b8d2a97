//! Authentication: resolving tokens to requesters, password login, refresh, auth methods,
//! and the superuser upsert the CLI needs (spec §5.2–§5.4, §5.10).

use std::sync::Arc;

use kulisse_schema::collection::SUPERUSERS;
use kulisse_schema::{Collection, FieldError, FieldErrors, ids, value::is_email};
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, Store, StoreError, Term};

use serde_json::{Value, json};

use super::Auth;
use super::error::AuthError;
use super::password::{dummy_hash, hash_password, verify_password};
use super::tokens::{self, TokenKind};
use crate::Ambient;
use crate::changes::Writer;
use crate::collections::Registry;
use crate::error::{CoreError, Form};
use crate::query::QueryError;

/// Login and token handling.
#[derive(Clone)]
pub struct AuthService {
    pub(super) store: Arc<dyn Store>,
    pub(super) writer: Writer,
    pub(super) ambient: Ambient,
    pub(super) registry: Registry,
    /// Sends the mailed flows' mail (none: nothing is mailed).
    pub(super) mail: Option<crate::mail::MailService>,
}

/// How a login ended.
#[derive(Debug)]
pub enum Login {
    /// Signed in: the record (as stored) and its auth token.
    Token(Arc<Collection>, Row, String),
    /// The first of two factors passed; the client proves another method with this
    /// `mfaId` (401 `{"mfaId"}`).
    SecondFactor(Arc<Collection>, String),
}

/// A way to sign in, as `_mfas.method` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `auth-with-password`.
    Password,
    /// `auth-with-otp`.
    Otp,
    /// `auth-with-oauth2`.
    OAuth2,
}

impl Method {
    /// PocketBase's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::Otp => "otp",
            Method::OAuth2 => "oauth2",
        }
    }
}

/// The password part of `auth-methods` (other methods arrive with their issues).
#[derive(Debug, Clone)]
pub struct AuthMethods {
    /// Whether password auth is on.
    pub password_enabled: bool,
    /// Fields usable as identity (empty when password auth is off).
    pub identity_fields: Vec<String>,
    /// The raw MFA/OTP/OAuth2 options.
    pub extra: serde_json::Map<String, Value>,
}

impl AuthService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        writer: Writer,
        registry: Registry,
        ambient: Ambient,
        mail: Option<crate::mail::MailService>,
    ) -> Self {
        Self {
            store,
            writer,
            ambient,
            registry,
            mail,
        }
    }

    /// Resolves an `Authorization` header value; anything invalid is a guest (§1.4).
    pub async fn authenticate(&self, header: Option<&str>) -> Auth {
        let Some(token) = header.map(super::bare_token).filter(|t| !t.is_empty()) else {
            return Auth::Guest;
        };
        self.resolve_token(token, TokenKind::Auth)
            .await
            .unwrap_or_default()
    }

    async fn resolve_token(&self, token: &str, kind: TokenKind) -> Option<Auth> {
        let cache = self.registry.auth_cache();
        let now = self.ambient.clock.now().as_second();
        if let Some((collection_id, record)) = cache.verified(token, kind, now) {
            let collection = self.registry.get(&collection_id)?;
            collection.auth.as_ref()?;
            return Some(Auth::Record { collection, record });
        }
        let claims = tokens::peek(token)?;
        let collection = self.registry.get(&claims.collection_id)?;
        let auth = collection.auth.as_ref()?;
        let record = match cache.get(&collection.id, &claims.id) {
            Some(record) => record,
            None => {
                let generation = cache.generation();
                let record = Arc::new(self.load(&collection, &claims.id).await.ok()??);
                cache.put(&collection.id, &claims.id, Arc::clone(&record), generation);
                record
            }
        };
        let secret = &token_config(auth, kind).secret;
        let key = format!("{}{secret}", record.get("tokenKey")?.as_str()?);
        let verified = tokens::verify(token, &key, kind, now)?;
        cache.remember_verified(token, kind, &verified, &record);
        Some(Auth::Record { collection, record })
    }

    /// One of the system collections auth keeps its state in (`_otps`, `_mfas`…).
    pub(super) fn system_collection(&self, name: &str) -> Result<Arc<Collection>, CoreError> {
        self.registry.get(name).ok_or(CoreError::UnknownCollection)
    }

    pub(super) async fn load(
        &self,
        c: &Arc<Collection>,
        id: &str,
    ) -> Result<Option<Row>, CoreError> {
        Ok(self
            .store
            .select(Select::by_id(Arc::clone(c), id))
            .await?
            .rows
            .into_iter()
            .next())
    }

    pub(super) fn auth_collection(&self, id_or_name: &str) -> Result<Arc<Collection>, CoreError> {
        self.registry
            .get(id_or_name)
            .ok_or(AuthError::UnknownCollection.into())
            .and_then(|c| {
                if c.is_auth() {
                    Ok(c)
                } else {
                    Err(AuthError::NotAuthCollection.into())
                }
            })
    }

    /// Signs a fresh auth token for `record`.
    pub fn token_for(&self, c: &Collection, record: &Row) -> String {
        self.sign(TokenKind::Auth, c, record)
    }

    /// `POST /api/files/token`: a token of the requester's record that only downloads
    /// protected files, for the collection's `fileToken` duration (PocketBase: 180 s).
    ///
    /// # Errors
    /// [`AuthError::TokenRequired`] for a guest (401).
    pub fn file_token(&self, auth: &Auth) -> Result<String, CoreError> {
        match auth {
            Auth::Record { collection, record } => {
                Ok(self.sign(TokenKind::File, collection, record))
            }
            Auth::Guest => Err(AuthError::TokenRequired.into()),
        }
    }

    /// The record a file token (`?token=` of a download) was issued to: a guest when the
    /// token is no valid, unexpired file token (an auth token is not one).
    pub async fn file_token_auth(&self, token: &str) -> Auth {
        self.resolve_token(token, TokenKind::File)
            .await
            .unwrap_or_default()
    }

    /// A token of `kind` for `record` of `c`, signed with the record's `tokenKey` and the
    /// collection's secret for that kind.
    fn sign(&self, kind: TokenKind, c: &Collection, record: &Row) -> String {
        self.sign_with(kind, c, record, |_| {})
    }

    /// [`Self::sign`] with claims `more` adds (a mailed token's addresses).
    pub(super) fn sign_with(
        &self,
        kind: TokenKind,
        c: &Collection,
        record: &Row,
        more: impl FnOnce(&mut tokens::Claims),
    ) -> String {
        let Some(auth) = &c.auth else {
            return String::new();
        };
        let config = token_config(auth, kind);
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        let key = format!(
            "{}{}",
            record
                .get("tokenKey")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            config.secret
        );
        let now = self.ambient.clock.now().as_second();
        let mut claims = tokens::Claims::new(kind, &c.id, id, config.duration, now);
        more(&mut claims);
        tokens::sign(&claims, &key)
    }

    /// `auth-with-password`: identity fields are tried in order (email first, and only for
    /// email-shaped identities). Unknown identity and wrong password answer identically,
    /// after the same bcrypt work.
    ///
    /// # Errors
    /// 400 "Failed to authenticate.", 403 when password auth is off or the authRule fails.
    pub async fn auth_with_password(
        &self,
        collection: &str,
        identity: &str,
        password: &str,
        identity_field: Option<&str>,
        mfa_id: Option<&str>,
        client: &super::Client,
    ) -> Result<Login, CoreError> {
        let c = self.auth_collection(collection)?;
        let Some(opts) = c.auth.clone() else {
            return Err(CoreError::NotFound);
        };
        if !opts.password_auth_enabled {
            return Err(AuthError::PasswordAuthDisabled.into());
        }
        let mut errs = FieldErrors::new();
        if identity.is_empty() {
            errs.add("identity", FieldError::required());
        }
        if password.is_empty() {
            errs.add("password", FieldError::required());
        }
        if let Some(f) =
            identity_field.filter(|f| !f.is_empty() && !opts.identity_fields.iter().any(|i| i == f))
        {
            let _ = f;
            errs.add(
                "identityField",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        if !errs.is_empty() {
            return Err(CoreError::invalid(Form::Request, errs));
        }
        let fields: Vec<String> = match identity_field.filter(|f| !f.is_empty()) {
            Some(f) => vec![f.to_owned()],
            None => opts.identity_fields.clone(),
        };
        let mut found = None;
        for field in fields {
            if field == "email" && !is_email(identity) {
                continue;
            }
            let cond = Cond::Compare {
                left: Term::Column(field),
                op: CmpOp::Eq,
                right: Term::Value(Literal::Text(identity.into())),
            };
            let q = Select {
                limit: Some(1),
                ..Select::all(Arc::clone(&c))
            }
            .and(cond);
            if let Some(row) = self.store.select(q).await?.rows.into_iter().next() {
                found = Some(row);
                break;
            }
        }
        let hash = found
            .as_ref()
            .and_then(|r| r.get("password"))
            .and_then(Value::as_str)
            .unwrap_or(dummy_hash())
            .to_owned();
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .unwrap_or(false);
        let record = match (found, ok) {
            (Some(r), true) => r,
            _ => return Err(AuthError::InvalidCredentials.into()),
        };
        self.finish_login(c, record, Method::Password, mfa_id, client)
            .await
    }

    /// What every login method does once it has found the record: the collection's
    /// `authRule`, then MFA, then the token (and, after the answer, the login's origin
    /// and its alert).
    pub(super) async fn finish_login(
        &self,
        c: Arc<Collection>,
        record: Row,
        method: Method,
        mfa_id: Option<&str>,
        client: &super::Client,
    ) -> Result<Login, CoreError> {
        self.check_auth_rule(&c, &record).await?;
        if let Some(mfa_id) = self.second_factor(&c, &record, method, mfa_id).await? {
            return Ok(Login::SecondFactor(c, mfa_id));
        }
        let token = self.token_for(&c, &record);
        self.note_origin_later(Arc::clone(&c), record.clone(), client.clone());
        Ok(Login::Token(c, record, token))
    }

    async fn check_auth_rule(&self, c: &Arc<Collection>, record: &Row) -> Result<(), CoreError> {
        let Some(rule) = c.auth.as_ref().and_then(|a| a.auth_rule.clone()) else {
            return Err(AuthError::AuthLocked.into());
        };
        if rule.trim().is_empty() || self.record_matches(c, record, &rule).await? {
            return Ok(());
        }
        Err(AuthError::AuthRuleUnmet.into())
    }

    /// Whether the stored `record` of `c` satisfies `rule` (an auth collection's rule on
    /// its own records: `authRule`, `mfa.rule`), evaluated as for a guest's request.
    pub(super) async fn record_matches(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        rule: &str,
    ) -> Result<bool, CoreError> {
        let req = crate::query::RequestInfo::for_auth(Auth::Guest, "POST");
        let schema = self.registry.snapshot();
        let resolver = crate::query::Resolver {
            collection: c,
            schema: &schema,
            request: &req,
            allow_hidden: true,
        };
        let cond = crate::query::compile_filter(rule, &resolver)
            .map_err(|e| QueryError::broken_rule(&e, rule))?
            .unwrap_or(Cond::True);
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        Ok(!self
            .store
            .select(Select::by_id(Arc::clone(c), id).and(cond))
            .await?
            .rows
            .is_empty())
    }

    /// `auth-refresh`: a new token for the requester, who must belong to `collection`.
    ///
    /// # Errors
    /// 401 for guests, 403 for a record of another collection.
    pub async fn refresh(
        &self,
        auth: &Auth,
        collection: &str,
        presented: Option<&str>,
    ) -> Result<(Arc<Collection>, Row, String), CoreError> {
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
        // An impersonation token is not refreshable: the same token again, as PocketBase.
        let token = match presented.and_then(tokens::peek) {
            Some(claims) if claims.refreshable == Some(false) => {
                presented.unwrap_or_default().to_owned()
            }
            _ => self.token_for(&c, record),
        };
        Ok((c, (**record).clone(), token))
    }

    /// `POST /api/collections/{c}/impersonate/{id}` `{"duration"}` (superusers only): a
    /// token of record `id` that cannot be refreshed, valid `duration` seconds (the
    /// collection's auth token duration when 0 or missing).
    ///
    /// # Errors
    /// 401 for a guest, 403 for anyone but a superuser, a negative duration, 404 for an
    /// unknown record.
    pub async fn impersonate(
        &self,
        auth: &Auth,
        collection: &str,
        id: &str,
        body: &Value,
    ) -> Result<(Arc<Collection>, Row, String), CoreError> {
        match auth {
            Auth::Guest => return Err(AuthError::TokenRequired.into()),
            auth if !auth.is_superuser() => return Err(AuthError::SuperuserRequired.into()),
            _ => {}
        }
        let c = self.auth_collection(collection)?;
        let duration = body.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
        if duration < 0.0 {
            let mut errs = FieldErrors::new();
            errs.add(
                "duration",
                FieldError::new(
                    "validation_min_greater_equal_than_required",
                    "Must be no less than 0.",
                )
                .with_param("threshold", 0),
            );
            return Err(CoreError::invalid(Form::Request, errs));
        }
        let record = self.load(&c, id).await?.ok_or(CoreError::NotFound)?;
        let token = self.sign_with(TokenKind::Auth, &c, &record, |claims| {
            claims.refreshable = Some(false);
            if duration >= 1.0 {
                let now = self.ambient.clock.now().as_second();
                claims.exp = now.saturating_add(duration as i64);
            }
        });
        Ok((c, record, token))
    }

    /// `auth-methods`.
    ///
    /// # Errors
    /// When the collection is not an auth collection.
    pub fn methods(&self, collection: &str) -> Result<AuthMethods, CoreError> {
        let c = self.auth_collection(collection)?;
        let Some(a) = &c.auth else {
            return Err(CoreError::NotFound);
        };
        Ok(AuthMethods {
            password_enabled: a.password_auth_enabled,
            identity_fields: if a.password_auth_enabled {
                a.identity_fields.clone()
            } else {
                vec![]
            },
            extra: a.extra.clone(),
        })
    }

    /// Creates or updates a superuser (CLI `superuser upsert`).
    ///
    /// # Errors
    /// Invalid email or password, or storage failures.
    pub async fn upsert_superuser(
        &self,
        email: &str,
        password: &str,
        create_only: bool,
    ) -> Result<(), CoreError> {
        let c = self
            .registry
            .get(SUPERUSERS)
            .ok_or(CoreError::UnknownCollection)?;
        if !is_email(email) {
            return Err(AuthError::InvalidSuperuserEmail {
                email: email.to_owned(),
            }
            .into());
        }
        if password.chars().count() < 8 {
            return Err(AuthError::SuperuserPasswordTooShort.into());
        }
        let hash = hash_password(password, 0);
        let existing = self.find_by_email(&c, email).await?;
        if existing.is_some() && create_only {
            return Err(AuthError::SuperuserExists {
                email: email.to_owned(),
            }
            .into());
        }
        let now = self.ambient.now_text();
        let token_key = self.ambient.ids.random(ids::TOKEN_KEY_ALPHABET, 50);
        let new = self.new_superuser_row(email, hash.clone());
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                match existing {
                    Some(row) => {
                        let id = row
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        let changes: Row =
                            json!({"password": hash, "tokenKey": token_key, "updated": now})
                                .as_object()
                                .cloned()
                                .unwrap_or_default();
                        tx.update(&c, &id, &changes)?;
                    }
                    None => tx.insert(&c, &new)?,
                }
                Ok(())
            })
            .await
    }

    /// A new superuser's row: verified, with a fresh id and token key.
    pub(super) fn new_superuser_row(&self, email: &str, password_hash: String) -> Row {
        let now = self.ambient.now_text();
        let row = json!({
            "id": self.ambient.ids.record_id(),
            "email": email,
            "password": password_hash,
            "tokenKey": self.ambient.ids.random(ids::TOKEN_KEY_ALPHABET, 50),
            "verified": true,
            "emailVisibility": false,
            "created": now,
            "updated": now,
        });
        row.as_object().cloned().unwrap_or_default()
    }

    /// Deletes a superuser by email (CLI `superuser delete`).
    ///
    /// # Errors
    /// `NotFound` for unknown emails.
    pub async fn delete_superuser(&self, email: &str) -> Result<(), CoreError> {
        let c = self
            .registry
            .get(SUPERUSERS)
            .ok_or(CoreError::UnknownCollection)?;
        let row = self
            .find_by_email(&c, email)
            .await?
            .ok_or(CoreError::NotFound)?;
        let id = row
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                tx.delete(&c, &id).map_err(|e: StoreError| e.into())
            })
            .await
    }

    /// The superusers' email addresses: whom the app tells of its own failures.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn superuser_emails(&self) -> Result<Vec<String>, CoreError> {
        let c = self
            .registry
            .get(SUPERUSERS)
            .ok_or(CoreError::UnknownCollection)?;
        Ok(self
            .store
            .select(Select::all(c))
            .await?
            .rows
            .iter()
            .filter_map(|row| row.get("email").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    pub(super) async fn find_by_email(
        &self,
        c: &Arc<Collection>,
        email: &str,
    ) -> Result<Option<Row>, CoreError> {
        let cond = Cond::Compare {
            left: Term::Column("email".into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(email.into())),
        };
        Ok(self
            .store
            .select(Select::all(Arc::clone(c)).and(cond))
            .await?
            .rows
            .into_iter()
            .next())
    }
}

/// The duration and secret of `kind`'s tokens of a collection.
pub(super) fn token_config(
    auth: &kulisse_schema::collection::AuthOptions,
    kind: TokenKind,
) -> &kulisse_schema::collection::TokenConfig {
    match kind {
        TokenKind::Auth | TokenKind::Install => &auth.auth_token,
        TokenKind::File => &auth.file_token,
        TokenKind::Verification => &auth.verification_token,
        TokenKind::PasswordReset => &auth.password_reset_token,
        TokenKind::EmailChange => &auth.email_change_token,
    }
}
