//! Creating and updating records (spec §2.6, §2.7, §2.10).

use std::sync::Arc;

use kulisse_schema::value::{self, validate};
use kulisse_schema::{
    Collection, CollectionKind, FieldError, FieldErrors, FieldKind, datetime, ids,
};
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, StoreError, Term, transact};
use serde_json::{Map, Value};

use super::input::{apply_body, password_form};
use super::service::{Action, RecordsService};
use crate::auth::hash_password;
use crate::error::CoreError;
use crate::query::RequestInfo;

const CREATE_FAILED: &str = "Failed to create record.";
const UPDATE_FAILED: &str = "Failed to update record.";

impl RecordsService {
    /// `POST /records`: validates everything, inserts, then checks the create rule against
    /// the stored row inside the same transaction (so the rule sees exactly what was saved).
    ///
    /// # Errors
    /// 403 for a `null` rule, 400 for validation or a failed rule.
    pub async fn create(
        &self,
        req: &RequestInfo,
        collection: &str,
        body: Map<String, Value>,
    ) -> Result<Row, CoreError> {
        let c = self.collection_for_write(collection)?;
        let superuser = req.auth.is_superuser();
        let mut req = req.clone();
        req.body = body;
        let rule = self.rule_cond(&c, Action::Create, &req)?;
        let body = &req.body;

        let mut row: Row = c
            .fields
            .iter()
            .map(|f| (f.name.clone(), value::zero(&f.kind)))
            .collect();
        if c.is_auth() {
            let password = password_form(&c, body, true, None, false)
                .map_err(|e| CoreError::invalid(CREATE_FAILED, e))?;
            let cost = password_cost(&c);
            row.insert(
                "password".into(),
                Value::String(hash_password(&password.unwrap_or_default(), cost)),
            );
        }
        apply_body(&c, &mut row, body, superuser);
        let mut errs = FieldErrors::new();
        match body
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(id) => {
                row.insert("id".into(), Value::String(id.to_owned()));
            }
            None => {
                row.insert("id".into(), Value::String(ids::new_record_id()));
            }
        }
        let now = datetime::now();
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
        validate_row(&c, &row, &mut errs);
        self.check_relations(&c, &row, &mut errs).await?;
        if !errs.is_empty() {
            return Err(CoreError::invalid(CREATE_FAILED, errs));
        }
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        let new_id = id.clone();
        let stored = Arc::clone(&c);
        transact::<_, CoreError, _>(&*self.store, move |tx| {
            tx.insert(&stored, &row)
                .map_err(|e| write_error(CREATE_FAILED, e))?;
            if let Some(rule) = rule
                && tx
                    .select(&Select::by_id(Arc::clone(&stored), &new_id).and(rule))?
                    .is_empty()
            {
                return Err(CoreError::invalid(CREATE_FAILED, FieldErrors::new()));
            }
            Ok(())
        })
        .await?;
        let created = self
            .fetch(&c, &id, None)
            .await?
            .ok_or(CoreError::NotFound)?;
        Ok(super::visible(&c, created, &req.auth))
    }

    /// `PATCH /records/{id}`: rule on the stored record, partial body with modifiers.
    ///
    /// # Errors
    /// 403 for a `null` rule, 404 for a missing/hidden record, 400 for validation.
    pub async fn update(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        body: Map<String, Value>,
    ) -> Result<Row, CoreError> {
        let c = self.collection_for_write(collection)?;
        let superuser = req.auth.is_superuser();
        let mut req = req.clone();
        req.body = body;
        let rule = self.rule_cond(&c, Action::Update, &req)?;
        let stored = self.fetch(&c, id, rule).await?.ok_or(CoreError::NotFound)?;
        let body = &req.body;
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
        let mut rotate_token_key = false;
        if c.is_auth() {
            let old_hash = stored.get("password").and_then(Value::as_str);
            let password = password_form(&c, body, false, old_hash, !superuser)
                .map_err(|e| CoreError::invalid(UPDATE_FAILED, e))?;
            if let Some(password) = password {
                row.insert(
                    "password".into(),
                    Value::String(hash_password(&password, password_cost(&c))),
                );
                rotate_token_key = true;
            }
        }
        apply_body(&c, &mut row, body, superuser);
        if c.is_auth() {
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
                row.insert(
                    "tokenKey".into(),
                    Value::String(ids::random_string(ids::TOKEN_KEY_ALPHABET, 50)),
                );
            }
        }
        let now = datetime::now();
        for f in &c.fields {
            if let FieldKind::Autodate {
                on_update: true, ..
            } = f.kind
            {
                row.insert(f.name.clone(), Value::String(now.clone()));
            }
        }
        validate_row(&c, &row, &mut errs);
        let changes: Row = row
            .into_iter()
            .filter(|(k, v)| stored.get(k) != Some(v))
            .collect();
        self.check_relations(&c, &changes, &mut errs).await?;
        if !errs.is_empty() {
            return Err(CoreError::invalid(UPDATE_FAILED, errs));
        }
        let (target, record_id) = (Arc::clone(&c), id.to_owned());
        transact::<_, CoreError, _>(&*self.store, move |tx| {
            tx.update(&target, &record_id, &changes)
                .map_err(|e| write_error(UPDATE_FAILED, e))
        })
        .await?;
        let updated = self.fetch(&c, id, None).await?.ok_or(CoreError::NotFound)?;
        Ok(super::visible(&c, updated, &req.auth))
    }
}

impl RecordsService {
    /// Relation values must name existing records of the target collection; failures are
    /// reported together with the other field errors.
    async fn check_relations(
        &self,
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
            let Some(target) = self.registry.get(collection_id) else {
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
            let found = self
                .store
                .select(Select::all(target).and(any_of))
                .await?
                .rows
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

fn password_cost(c: &Collection) -> u32 {
    match c.field("password").map(|f| &f.kind) {
        Some(FieldKind::Password { cost, .. }) => u32::try_from(*cost).unwrap_or(0),
        _ => 0,
    }
}

/// Runs every field's validator and collects all failures at once.
fn validate_row(c: &Collection, row: &Row, errs: &mut FieldErrors) {
    for f in &c.fields {
        if matches!(
            f.kind,
            FieldKind::Password { .. } | FieldKind::Autodate { .. }
        ) {
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
