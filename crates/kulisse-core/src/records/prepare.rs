//! The half of a write that needs no database state, done before the transaction: which
//! collection and step, the rule's `null`-ness, and the bcrypt work (hashing new passwords,
//! checking an old one), which must never run on the writer thread. For creates it also
//! builds the whole would-be record ([`super::apply::Draft`]).

use std::sync::Arc;

use kulisse_schema::{Collection, CollectionKind, FieldErrors, FieldKind};
use kulisse_store::{Row, StoreError};

use crate::query::RequestInfo;
use serde_json::{Map, Value};

use super::apply::Draft;
use super::error::RecordsError;
use super::input::{password_fields, password_form};
use super::rules::{Action, Managed, Manages, Rule};
use super::service::RecordsService;
use super::write::{Inputs, PreparedWrite, Step, WriteOp};
use crate::auth::hash_password;
use crate::error::{CoreError, Form};

/// Password fields as they will be stored: bcrypt hashes made in
/// [`RecordsService::prepare`], never on the writer thread.
#[derive(Default)]
pub(super) struct HashedPasswords {
    /// An auth record's new `password` (checked by the password form).
    pub(super) auth: Option<String>,
    /// Other password fields: name and hash (`""` when the body cleared the field).
    hashes: Vec<(String, String)>,
    /// Plain values that failed their field's checks.
    errs: FieldErrors,
}

impl HashedPasswords {
    async fn of(c: &Collection, body: &Map<String, Value>) -> HashedPasswords {
        let (new, errs) = password_fields(c, body);
        let mut hashes = Vec::with_capacity(new.len());
        for p in new {
            let hash = if p.plain.is_empty() {
                String::new()
            } else {
                hash_blocking(p.plain, p.cost).await
            };
            hashes.push((p.field, hash));
        }
        HashedPasswords {
            auth: None,
            hashes,
            errs,
        }
    }

    /// Puts the hashes into `row` and the failures into `errs`.
    pub(super) fn apply(&self, row: &mut Row, errs: &mut FieldErrors) {
        for (field, hash) in &self.hashes {
            row.insert(field.clone(), Value::String(hash.clone()));
        }
        errs.0.extend(self.errs.0.iter().cloned());
    }
}

impl RecordsService {
    /// Checks the request against the collection and the rule's `null`-ness, and does the
    /// password work (hashing, old password verification) off the writer thread.
    ///
    /// # Errors
    /// Unknown collection, view collections, `null` rules, password form failures.
    pub async fn prepare(
        &self,
        req: RequestInfo,
        collection: &str,
        op: WriteOp,
    ) -> Result<PreparedWrite, CoreError> {
        // PB compat: deletes name a missing collection like reads do.
        let c = match op {
            WriteOp::Delete(_) => self.collection(collection).and_then(|c| {
                if c.kind == CollectionKind::View {
                    Err(RecordsError::ViewNotWritable.into())
                } else {
                    Ok(c)
                }
            })?,
            _ => self.collection_for_write(collection)?,
        };
        self.prepare_in(req, c, op).await
    }

    /// [`RecordsService::prepare`] on collection `c`, already looked up.
    pub(super) async fn prepare_in(
        &self,
        mut req: RequestInfo,
        c: Arc<Collection>,
        op: WriteOp,
    ) -> Result<PreparedWrite, CoreError> {
        let op = match op {
            WriteOp::Create(body) => Resolved::Create(body),
            WriteOp::Update(id, body) => Resolved::Update(id, body),
            WriteOp::Delete(id) => Resolved::Delete(id),
            WriteOp::Upsert(body) => {
                let id = body
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if id.is_empty() {
                    Resolved::Create(body)
                } else if !c.is_auth() {
                    Resolved::Upsert(id, body)
                } else if self.fetch(&c, &id, None).await?.is_some() {
                    // Auth records need their password work decided here, outside the
                    // transaction, so existence is checked up front for them.
                    Resolved::Update(id, body)
                } else {
                    Resolved::Create(body)
                }
            }
        };
        let mut passwords = match &op {
            Resolved::Create(body) | Resolved::Update(_, body) | Resolved::Upsert(_, body) => {
                HashedPasswords::of(&c, body).await
            }
            Resolved::Delete(_) => HashedPasswords::default(),
        };
        let step = match op {
            Resolved::Create(body) => {
                req.body = body;
                passwords.auth = if c.is_auth() {
                    let password = password_form(&c, &req.body, true, None, false)
                        .map_err(|e| CoreError::invalid(Form::RecordCreate, e))?;
                    Some(hash_blocking(password.unwrap_or_default(), password_cost(&c)).await)
                } else {
                    None
                };
                Step::Create {
                    draft: Draft::new(&c, &req, &passwords, &self.ambient),
                }
            }
            Resolved::Update(id, body) => {
                req.body = body;
                if c.is_auth() && req.body.contains_key("password") {
                    let rule = self.rule_cond(&c, Action::Update, &req)?;
                    let stored = self
                        .fetch(&c, &id, rule)
                        .await?
                        .ok_or(CoreError::NotFound)?;
                    let old_hash = stored
                        .get("password")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    // A manager sets a new password without the old one.
                    let schema = self.registry.snapshot();
                    let manager =
                        match Manages::of(&c, &schema, &req, Managed::Stored(&id), &stored, &[])? {
                            Manages::Always => true,
                            Manages::Never => false,
                            Manages::If(q) => !self.store.select(*q).await?.rows.is_empty(),
                        };
                    let body = req.body.clone();
                    let coll = Arc::clone(&c);
                    let password = tokio::task::spawn_blocking(move || {
                        password_form(&coll, &body, false, Some(&old_hash), !manager)
                    })
                    .await
                    .map_err(|_| {
                        CoreError::Store(StoreError::Other("password check failed".into()))
                    })?
                    .map_err(|e| CoreError::invalid(Form::RecordUpdate, e))?;
                    if let Some(p) = password {
                        passwords.auth = Some(hash_blocking(p, password_cost(&c)).await);
                    }
                }
                Step::Update { id }
            }
            Resolved::Delete(id) => Step::Delete { id },
            Resolved::Upsert(id, body) => {
                req.body = body;
                // Whether it creates or updates is only known inside the transaction.
                let update_rule = Rule::of(Self::rule_text(&c, Action::Update, &req));
                Step::Upsert { id, update_rule }
            }
        };
        let action = match step {
            Step::Create { .. } | Step::Upsert { .. } => Action::Create,
            Step::Update { .. } => Action::Update,
            Step::Delete { .. } => Action::Delete,
        };
        let rule = match (&step, Self::rule_text(&c, action, &req)) {
            (Step::Upsert { .. }, text) => Rule::of(text),
            // Anything else refuses a `null` rule right away (403).
            (_, text) => Rule::of(Ok(text?)),
        };
        Ok(PreparedWrite {
            collection: c,
            req: Arc::new(req),
            rule,
            step,
            inputs: Inputs {
                passwords,
                ambient: self.ambient.clone(),
            },
        })
    }

    /// PB compat: writes name a missing collection differently from reads.
    pub(super) fn collection_for_write(
        &self,
        id_or_name: &str,
    ) -> Result<Arc<Collection>, CoreError> {
        let c = self
            .registry
            .get(id_or_name)
            .ok_or(RecordsError::UnknownCollectionForWrite)?;
        if c.kind == CollectionKind::View {
            return Err(RecordsError::ViewNotWritable.into());
        }
        Ok(c)
    }
}

/// A write op with upserts decided where they can be.
enum Resolved {
    Create(Map<String, Value>),
    Update(String, Map<String, Value>),
    Delete(String),
    Upsert(String, Map<String, Value>),
}

/// bcrypt of `password` off the runtime threads (tens of milliseconds of CPU).
pub(crate) async fn hash_blocking(password: String, cost: u32) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password, cost))
        .await
        .unwrap_or_default()
}

/// The bcrypt cost of auth collection `c`'s passwords (0: the default).
pub(crate) fn password_cost(c: &Collection) -> u32 {
    match c.field("password").map(|f| &f.kind) {
        Some(FieldKind::Password { cost, .. }) => u32::try_from(*cost).unwrap_or(0),
        _ => 0,
    }
}
