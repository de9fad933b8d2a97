//! Creating, updating and deleting records (spec §2.6–§2.8, §2.10).
//!
//! Every write has two halves. [`RecordsService::prepare`] does what needs no database
//! state: the rule's `null`-ness, bcrypt work (which must never run on the writer thread),
//! and for creates the whole would-be record with its field validation ([`Draft`]).
//! [`apply`] runs inside the write transaction and does everything that reads or writes
//! records, so a batch can run many writes in one transaction, each seeing the ones before
//! it; the one writer thread is what creates queue on, so it gets no other work.

use std::sync::Arc;

use kulisse_schema::value::{self, validate};
use kulisse_schema::{Collection, CollectionKind, FieldError, FieldErrors, FieldKind, ids};
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, StoreError, StoreTx, Term};
use serde_json::{Map, Value};

use super::ExpandTree;
use super::input::{apply_body, password_fields, password_form};
use super::service::{Action, RecordsService, compile_rule, delete_with_references};
use crate::Ambient;
use crate::auth::hash_password;
use crate::collections::Snapshot;
use crate::error::CoreError;
use crate::query::RequestInfo;

const CREATE_FAILED: &str = "Failed to create record.";
const UPDATE_FAILED: &str = "Failed to update record.";

/// A requested write.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create from a body.
    Create(Map<String, Value>),
    /// Update `id` with a partial body.
    Update(String, Map<String, Value>),
    /// Update when `body.id` exists, else create (batch `PUT`).
    Upsert(Map<String, Value>),
    /// Delete `id`.
    Delete(String),
}

/// A write checked and prepared outside the transaction.
pub struct PreparedWrite {
    collection: Arc<Collection>,
    /// The request with its submitted body; shared with the response side (visibility,
    /// expand) instead of copied.
    req: Arc<RequestInfo>,
    /// The rule; create and update rules are compiled inside the transaction, where
    /// `@request.body` is known after modifiers.
    rule: Rule,
    step: Step,
    /// What the transaction needs from outside it.
    inputs: Inputs,
}

/// What a write brings into its transaction: password hashes made beforehand, and the
/// clock and id source that stamp the record.
struct Inputs {
    passwords: HashedPasswords,
    ambient: Ambient,
}

/// Password fields as they will be stored: bcrypt hashes made in
/// [`RecordsService::prepare`], never on the writer thread.
#[derive(Default)]
struct HashedPasswords {
    /// An auth record's new `password` (checked by the password form).
    auth: Option<String>,
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
    fn apply(&self, row: &mut Row, errs: &mut FieldErrors) {
        for (field, hash) in &self.hashes {
            row.insert(field.clone(), Value::String(hash.clone()));
        }
        errs.0.extend(self.errs.0.iter().cloned());
    }
}

enum Step {
    Create {
        draft: Draft,
    },
    Update {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Batch `PUT` on a non-auth collection: update when `id` exists, else create.
    Upsert {
        id: String,
        /// The update rule (the create rule is the write's own).
        update_rule: Rule,
    },
}

/// A rule as it applies to the requester.
#[derive(Debug, Clone)]
enum Rule {
    /// Superusers skip rules.
    Bypass,
    /// A filter the record must match (compiled inside the transaction).
    Check(String),
    /// `null`: superusers only. Upserts carry it until they know which rule applies.
    Refused,
}

impl Rule {
    fn of(text: Result<Option<String>, CoreError>) -> Rule {
        match text {
            Ok(None) => Rule::Bypass,
            Ok(Some(t)) => Rule::Check(t),
            Err(_) => Rule::Refused,
        }
    }

    fn text(&self) -> Result<Option<&str>, CoreError> {
        match self {
            Rule::Bypass => Ok(None),
            Rule::Check(t) => Ok(Some(t)),
            Rule::Refused => Err(CoreError::SuperusersOnly),
        }
    }
}

impl PreparedWrite {
    /// The collection written to.
    pub fn collection(&self) -> &Arc<Collection> {
        &self.collection
    }
}

impl RecordsService {
    /// `POST /records`. 200 with the record; 403 for a `null` rule; 400 for validation or
    /// a failed create rule.
    ///
    /// # Errors
    /// As described, plus 404 for an unknown collection.
    pub async fn create(
        &self,
        req: RequestInfo,
        collection: &str,
        body: Map<String, Value>,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let prepared = self.prepare(req, collection, WriteOp::Create(body)).await?;
        self.commit_one(prepared, expand).await
    }

    /// `PATCH /records/{id}`: the update rule is checked on the stored record.
    ///
    /// # Errors
    /// 403 for a `null` rule, 404 for a missing/hidden record, 400 for validation.
    pub async fn update(
        &self,
        req: RequestInfo,
        collection: &str,
        id: &str,
        body: Map<String, Value>,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let prepared = self
            .prepare(req, collection, WriteOp::Update(id.to_owned(), body))
            .await?;
        self.commit_one(prepared, expand).await
    }

    /// `DELETE /records/{id}` with PocketBase's reference handling: cascade, unlink, or
    /// refuse when a required relation still points at the record.
    ///
    /// # Errors
    /// Unknown collection, 403/404 per the rule, 400 for required references.
    pub async fn delete(
        &self,
        req: RequestInfo,
        collection: &str,
        id: &str,
    ) -> Result<(), CoreError> {
        let prepared = self
            .prepare(req, collection, WriteOp::Delete(id.to_owned()))
            .await?;
        self.commit_one(prepared, &ExpandTree::default())
            .await
            .map(|_| ())
    }

    async fn commit_one(
        &self,
        prepared: PreparedWrite,
        expand: &ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let snapshot = self.registry.snapshot();
        let (c, req) = (Arc::clone(&prepared.collection), Arc::clone(&prepared.req));
        let row = self
            .writer
            .transact::<_, CoreError, _>(move |tx| apply(tx, &snapshot, prepared))
            .await?;
        let mut rows = [super::visible(&c, row, &req.auth).into()];
        self.expand(&req, &c, &mut rows, expand).await?;
        let [row] = rows;
        Ok(row)
    }

    /// Checks the request against the collection and the rule's `null`-ness, and does the
    /// password work (hashing, old password verification) off the writer thread.
    ///
    /// # Errors
    /// Unknown collection, view collections, `null` rules, password form failures.
    pub async fn prepare(
        &self,
        mut req: RequestInfo,
        collection: &str,
        op: WriteOp,
    ) -> Result<PreparedWrite, CoreError> {
        // PB compat: deletes name a missing collection like reads do.
        let c = match op {
            WriteOp::Delete(_) => self.collection(collection).and_then(|c| {
                if c.kind == CollectionKind::View {
                    Err(CoreError::BadRequest("Unsupported collection type.".into()))
                } else {
                    Ok(c)
                }
            })?,
            _ => self.collection_for_write(collection)?,
        };
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
        let superuser = req.auth.is_superuser();
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
                        .map_err(|e| CoreError::invalid(CREATE_FAILED, e))?;
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
                    let body = req.body.clone();
                    let coll = Arc::clone(&c);
                    let password = tokio::task::spawn_blocking(move || {
                        password_form(&coll, &body, false, Some(&old_hash), !superuser)
                    })
                    .await
                    .map_err(|_| {
                        CoreError::Store(StoreError::Other("password check failed".into()))
                    })?
                    .map_err(|e| CoreError::invalid(UPDATE_FAILED, e))?;
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
    fn collection_for_write(&self, id_or_name: &str) -> Result<Arc<Collection>, CoreError> {
        let c = self
            .registry
            .get(id_or_name)
            .ok_or(CoreError::Missing("Missing or invalid collection context."))?;
        if c.kind == CollectionKind::View {
            return Err(CoreError::BadRequest("Unsupported collection type.".into()));
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

async fn hash_blocking(password: String, cost: u32) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password, cost))
        .await
        .unwrap_or_default()
}

/// Runs a prepared write inside a transaction; returns the stored row (empty for deletes).
///
/// # Errors
/// Validation failures, rule failures (400 on create, 404 otherwise), storage errors.
pub fn apply(tx: &mut dyn StoreTx, schema: &Snapshot, w: PreparedWrite) -> Result<Row, CoreError> {
    let PreparedWrite {
        collection: c,
        req,
        rule,
        step,
        inputs,
    } = w;
    match step {
        Step::Create { draft } => apply_create(tx, schema, &c, &req, rule.text()?, draft),
        Step::Update { id } => apply_update(tx, schema, &c, &req, rule.text()?, &id, &inputs),
        Step::Upsert { id, update_rule } => {
            if fetch(tx, &c, &id, None)?.is_some() {
                apply_update(tx, schema, &c, &req, update_rule.text()?, &id, &inputs)
            } else {
                let draft = Draft::new(&c, &req, &inputs.passwords, &inputs.ambient);
                apply_create(tx, schema, &c, &req, rule.text()?, draft)
            }
        }
        Step::Delete { id } => {
            let rule = rule
                .text()?
                .map(|r| compile_rule(r, &c, schema, &req))
                .transpose()?;
            fetch(tx, &c, &id, rule)?.ok_or(CoreError::NotFound)?;
            delete_with_references(tx, schema.all(), &c, &id, 0)?;
            Ok(Row::new())
        }
    }
}

fn fetch(
    tx: &mut dyn StoreTx,
    c: &Arc<Collection>,
    id: &str,
    rule: Option<Cond>,
) -> Result<Option<Row>, CoreError> {
    let mut q = Select::by_id(Arc::clone(c), id);
    if let Some(rule) = rule {
        q = q.and(rule);
    }
    Ok(tx.select(&q)?.into_iter().next())
}

/// A record to create, built from the request body alone: defaults, the body's values after
/// modifiers, the id, autodates and autogenerated text, and the field errors that need no
/// database.
struct Draft {
    row: Row,
    /// Fields the body set (through modifiers too), for the create rule's `@request.body`.
    touched: Vec<String>,
    errs: FieldErrors,
}

impl Draft {
    fn new(
        c: &Collection,
        req: &RequestInfo,
        passwords: &HashedPasswords,
        ambient: &Ambient,
    ) -> Draft {
        let superuser = req.auth.is_superuser();
        let body = &req.body;
        let mut row: Row = c
            .fields
            .iter()
            .map(|f| (f.name.clone(), value::zero(&f.kind)))
            .collect();
        if let Some(hash) = &passwords.auth {
            row.insert("password".into(), Value::String(hash.clone()));
        }
        let mut errs = FieldErrors::new();
        let touched = apply_body(c, &mut row, body, superuser, &mut errs);
        passwords.apply(&mut row, &mut errs);
        let id = match body
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(id) => id.to_owned(),
            None => ambient.ids.record_id(),
        };
        row.insert("id".into(), Value::String(id));
        let now = ambient.now_text();
        for f in &c.fields {
            match &f.kind {
                FieldKind::Autodate {
                    on_create: true, ..
                } => {
                    row.insert(f.name.clone(), Value::String(now.clone()));
                }
                FieldKind::Text {
                    autogenerate_pattern,
                    ..
                } if !autogenerate_pattern.is_empty()
                    && row
                        .get(&f.name)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty) =>
                {
                    row.insert(
                        f.name.clone(),
                        Value::String(
                            ids::generate_from_pattern(autogenerate_pattern).unwrap_or_default(),
                        ),
                    );
                }
                _ => {}
            }
        }
        if c.is_auth() {
            if !superuser && value::to_bool(body.get("verified").unwrap_or(&Value::Null)) {
                errs.add(
                    "verified",
                    FieldError::new("validation_values_mismatch", "Values don't match."),
                );
            }
            if c.is_superusers() {
                row.insert("verified".into(), Value::Bool(true));
            }
        }
        validate_row(c, &row, &mut errs);
        Draft { row, touched, errs }
    }
}

fn apply_create(
    tx: &mut dyn StoreTx,
    schema: &Snapshot,
    c: &Arc<Collection>,
    req: &RequestInfo,
    rule: Option<&str>,
    draft: Draft,
) -> Result<Row, CoreError> {
    let Draft {
        row,
        touched,
        mut errs,
    } = draft;
    if let Some(rule) = rule.filter(|r| !r.trim().is_empty()) {
        // PB compat: the create rule is checked on the would-be record before any field
        // validation, and a failure says nothing about why.
        let cond = compile_rule(rule, c, schema, &request_for_rule(req, c, &row, &touched))?;
        let q = Select {
            virtual_row: Some(row.clone()),
            limit: Some(1),
            ..Select::all(Arc::clone(c))
        }
        .and(cond);
        if tx.select(&q)?.is_empty() {
            return Err(CoreError::invalid(CREATE_FAILED, FieldErrors::new()));
        }
    }
    check_relations(tx, schema, c, &row, &mut errs)?;
    if !errs.is_empty() {
        return Err(CoreError::invalid(CREATE_FAILED, errs));
    }
    tx.insert(c, &row)
        .map_err(|e| write_error(CREATE_FAILED, e))?; // The stored row is exactly the canonical row (no defaults or triggers apply).
    Ok(row)
}

fn apply_update(
    tx: &mut dyn StoreTx,
    schema: &Snapshot,
    c: &Arc<Collection>,
    req: &RequestInfo,
    rule: Option<&str>,
    id: &str,
    inputs: &Inputs,
) -> Result<Row, CoreError> {
    let passwords = &inputs.passwords;
    let superuser = req.auth.is_superuser();
    let body = &req.body;
    let locked = Select {
        for_update: true,
        ..Select::by_id(Arc::clone(c), id)
    };
    let stored = tx
        .select(&locked)?
        .into_iter()
        .next()
        .ok_or(CoreError::NotFound)?;
    let mut row = stored.clone();
    let mut errs = FieldErrors::new();
    if let Some(new_id) = body.get("id").and_then(Value::as_str)
        && new_id != id
    {
        errs.add(
            "id",
            FieldError::new(
                "validation_pk_change",
                "The record primary key cannot be changed.",
            ),
        );
    }
    let touched = apply_body(c, &mut row, body, superuser, &mut errs);
    passwords.apply(&mut row, &mut errs);
    if let Some(rule) = rule.filter(|r| !r.trim().is_empty()) {
        // The update rule sees stored values as fields and the post-modifier body.
        let cond = compile_rule(rule, c, schema, &request_for_rule(req, c, &row, &touched))?;
        fetch(tx, c, id, Some(cond))?.ok_or(CoreError::NotFound)?;
    }
    if c.is_auth() {
        let mut rotate_token_key = false;
        if let Some(hash) = &passwords.auth {
            row.insert("password".into(), Value::String(hash.clone()));
            rotate_token_key = true;
        }
        if !superuser && row.get("verified") != stored.get("verified") {
            errs.add(
                "verified",
                FieldError::new("validation_values_mismatch", "Values don't match."),
            );
        }
        if row.get("email") != stored.get("email") {
            if !superuser {
                errs.add(
                    "email",
                    FieldError::new("validation_values_mismatch", "Values don't match."),
                );
            }
            rotate_token_key = true;
        }
        if rotate_token_key {
            // Rotating the key revokes every token signed with the old one.
            row.insert(
                "tokenKey".into(),
                Value::String(inputs.ambient.ids.random(ids::TOKEN_KEY_ALPHABET, 50)),
            );
        }
    }
    let now = inputs.ambient.now_text();
    for f in &c.fields {
        if let FieldKind::Autodate {
            on_update: true, ..
        } = f.kind
        {
            row.insert(f.name.clone(), Value::String(now.clone()));
        }
    }
    validate_row(c, &row, &mut errs);
    let changes: Row = row
        .into_iter()
        .filter(|(k, v)| stored.get(k) != Some(v))
        .collect();
    check_relations(tx, schema, c, &changes, &mut errs)?;
    if !errs.is_empty() {
        return Err(CoreError::invalid(UPDATE_FAILED, errs));
    }
    tx.update(c, id, &changes)
        .map_err(|e| write_error(UPDATE_FAILED, e))?;
    let mut updated = stored;
    updated.extend(changes);
    Ok(updated)
}

/// `@request.body` as rules see it: submitted keys, with every modified field replaced by
/// its value after the modifiers (`tags+` folded into `tags`).
fn request_for_rule(
    req: &RequestInfo,
    c: &Collection,
    row: &Row,
    touched: &[String],
) -> RequestInfo {
    let mut rule_req = req.clone();
    rule_req.body.retain(|k, _| {
        let base = k.trim_start_matches('+').trim_end_matches(['+', '-']);
        let base = base.strip_suffix(":autogenerate").unwrap_or(base);
        !(touched.iter().any(|t| t == base) && k != base) && c.field(base).is_none_or(|_| k == base)
    });
    for name in touched {
        if let Some(v) = row.get(name) {
            rule_req.body.insert(name.clone(), v.clone());
        }
    }
    rule_req
}

/// Relation values must name existing records of the target collection; failures are
/// reported together with the other field errors.
fn check_relations(
    tx: &mut dyn StoreTx,
    schema: &Snapshot,
    c: &Collection,
    row: &Row,
    errs: &mut FieldErrors,
) -> Result<(), CoreError> {
    for f in &c.fields {
        let FieldKind::Relation { collection_id, .. } = &f.kind else {
            continue;
        };
        let ids = row.get(&f.name).map(value::as_list).unwrap_or_default();
        if ids.is_empty() || errs.contains(&f.name) {
            continue;
        }
        let Some(target) = schema.get(collection_id) else {
            continue;
        };
        let any_of = Cond::Any(
            ids.iter()
                .map(|id| Cond::Compare {
                    left: Term::Column("id".into()),
                    op: CmpOp::Eq,
                    right: Term::Value(Literal::Text(id.clone())),
                })
                .collect(),
        );
        let found = tx
            .select(&Select::all(Arc::clone(target)).and(any_of))?
            .len();
        if found != ids.len() {
            errs.add(
                f.name.clone(),
                FieldError::new(
                    "validation_missing_rel_records",
                    "Failed to find all relation records with the provided ids.",
                ),
            );
        }
    }
    Ok(())
}

fn password_cost(c: &Collection) -> u32 {
    match c.field("password").map(|f| &f.kind) {
        Some(FieldKind::Password { cost, .. }) => u32::try_from(*cost).unwrap_or(0),
        _ => 0,
    }
}

/// Runs every field's validator and collects all failures at once (a password field holds
/// its hash here, so only `required` applies to it).
fn validate_row(c: &Collection, row: &Row, errs: &mut FieldErrors) {
    for f in &c.fields {
        if matches!(f.kind, FieldKind::Autodate { .. }) {
            continue;
        }
        let v = row.get(&f.name).cloned().unwrap_or(Value::Null);
        if let Err(e) = validate(f, &v) {
            errs.add(f.name.clone(), e);
        }
    }
}

/// Unique violations become `validation_not_unique` on the field, as PocketBase reports.
fn write_error(msg: &str, e: StoreError) -> CoreError {
    match e {
        StoreError::Unique(column) => {
            let mut errs = FieldErrors::new();
            errs.add(
                column,
                FieldError::new("validation_not_unique", "Value must be unique."),
            );
            CoreError::invalid(msg, errs)
        }
        other => other.into(),
    }
}
