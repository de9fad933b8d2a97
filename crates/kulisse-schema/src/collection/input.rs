//! Applying a submitted (or stored) collection JSON onto a [`Collection`].
//!
//! Create and update share this: create starts from [`Collection::new`], update from the
//! current definition, and only the keys present in the input change (PATCH semantics),
//! except `fields`, which replaces the whole list as PocketBase does.

use serde_json::{Map, Value};

use super::{AuthOptions, Collection, CollectionKind, TokenConfig};
use crate::errors::{FieldError, FieldErrors};
use crate::field::Field;

/// Why an input could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectionInputError {
    /// The body is not a JSON object.
    NotAnObject,
    /// A field definition cannot be loaded (not an object, unknown type).
    Malformed,
    /// Field-level problems, in PocketBase's nested shape.
    Invalid(FieldErrors),
}

impl Collection {
    /// Builds a new collection from a create request body.
    pub fn from_create_input(v: &Value) -> Result<Collection, CollectionInputError> {
        let obj = v.as_object().ok_or(CollectionInputError::NotAnObject)?;
        let kind_str = obj.get("type").and_then(Value::as_str).unwrap_or("base");
        let Some(kind) = CollectionKind::parse(kind_str) else {
            let mut errs = FieldErrors::new();
            errs.add(
                "type",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
            return Err(CollectionInputError::Invalid(errs));
        };
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut c = Collection::new(name, kind);
        c.apply_input(v)?;
        Ok(c)
    }

    /// Loads a collection from its stored JSON (the metadata table keeps secrets too).
    pub fn from_stored(v: &Value) -> Result<Collection, CollectionInputError> {
        let mut c = Collection::from_create_input(v)?;
        let obj = v.as_object().ok_or(CollectionInputError::NotAnObject)?;
        for (key, slot) in [("created", &mut c.created), ("updated", &mut c.updated)] {
            if let Some(s) = obj.get(key).and_then(Value::as_str) {
                *slot = s.to_owned();
            }
        }
        c.system = obj.get("system").and_then(Value::as_bool).unwrap_or(false);
        Ok(c)
    }

    /// Applies the keys present in `v`. Type changes are refused.
    pub fn apply_input(&mut self, v: &Value) -> Result<(), CollectionInputError> {
        let obj = v.as_object().ok_or(CollectionInputError::NotAnObject)?;
        let mut errs = FieldErrors::new();
        if let Some(t) = obj.get("type").and_then(Value::as_str)
            && t != self.kind.as_str()
        {
            errs.add(
                "type",
                FieldError::new(
                    "validation_collection_type_change",
                    "Collection type cannot be changed.",
                ),
            );
        }
        if let Some(id) = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            self.id = id.to_owned();
        }
        if let Some(name) = obj.get("name") {
            self.name = name.as_str().unwrap_or_default().to_owned();
        }
        for (key, slot) in [
            ("listRule", &mut self.rules.list),
            ("viewRule", &mut self.rules.view),
            ("createRule", &mut self.rules.create),
            ("updateRule", &mut self.rules.update),
            ("deleteRule", &mut self.rules.delete),
        ] {
            if let Some(rule) = obj.get(key) {
                *slot = rule.as_str().map(str::to_owned);
            }
        }
        if let Some(indexes) = obj.get("indexes") {
            self.indexes = match indexes {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().unwrap_or_default().to_owned())
                    .collect(),
                _ => vec![],
            };
        }
        if let Some(q) = obj.get("viewQuery")
            && self.kind == CollectionKind::View
        {
            self.view_query = Some(q.as_str().unwrap_or_default().to_owned());
        }
        if let Some(fields) = obj.get("fields") {
            match self.replace_fields(fields) {
                Ok(()) => {}
                Err(CollectionInputError::Invalid(fe)) => errs.0.extend(fe.0),
                Err(other) => return Err(other),
            }
        }
        if let Some(auth) = &mut self.auth {
            apply_auth(auth, obj)?;
        }
        if self.kind == CollectionKind::View {
            // PB compat: view collections are read-only whatever the input says.
            self.rules.create = None;
            self.rules.update = None;
            self.rules.delete = None;
        }
        self.ensure_system_fields();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(CollectionInputError::Invalid(errs))
        }
    }

    /// Replaces the field list. A field sent with an `id` keeps that field's data (so renames
    /// keep values); PB compat: a field sent without one is identified by `type+crc32(name)`,
    /// and a repeated name without ids replaces the earlier entry but keeps its id.
    fn replace_fields(&mut self, v: &Value) -> Result<(), CollectionInputError> {
        let Value::Array(items) = v else {
            return Err(CollectionInputError::Malformed);
        };
        let mut fields: Vec<Field> = Vec::with_capacity(items.len());
        let mut type_changes = Vec::new();
        for item in items {
            let has_id = item
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            let Ok(mut f) = Field::from_json(item) else {
                return Err(CollectionInputError::Malformed);
            };
            if !has_id && let Some(pos) = fields.iter().position(|e| e.name == f.name) {
                f.id = fields[pos].id.clone();
                fields[pos] = f;
                continue;
            }
            if let Some(e) = self.fields.iter().find(|e| e.id == f.id) {
                f.system = e.system;
                if e.kind.type_name() != f.kind.type_name() {
                    type_changes.push(f.id.clone());
                }
            }
            fields.push(f);
        }
        // The id field and an auth collection's own fields come back when left out
        // (PocketBase re-adds them too); other system fields stay removed and validation
        // refuses the change.
        let restored = |f: &Field| {
            f.is_primary_key() || (self.is_auth() && super::AUTH_FIELDS.contains(&f.name.as_str()))
        };
        for sys in self.fields.iter().filter(|f| f.system && restored(f)) {
            // One replaced by another field of its name is not missing: validation refuses it.
            if !fields.iter().any(|f| f.id == sys.id || f.name == sys.name) {
                if sys.is_primary_key() {
                    fields.insert(0, sys.clone());
                } else {
                    fields.push(sys.clone());
                }
            }
        }
        let mut errs = FieldErrors::new();
        for (i, f) in fields.iter().enumerate() {
            if type_changes.contains(&f.id) {
                errs.add(
                    i.to_string(),
                    FieldError::new(
                        "validation_field_type_change",
                        "Field type cannot be changed.",
                    ),
                );
            }
        }
        self.fields = fields;
        if errs.is_empty() {
            Ok(())
        } else {
            Err(CollectionInputError::Invalid(wrap_fields(errs)))
        }
    }
}

fn wrap_fields(errs: FieldErrors) -> FieldErrors {
    let mut outer = FieldErrors::new();
    outer.add_nested("fields", errs);
    outer
}

fn apply_auth(
    auth: &mut AuthOptions,
    obj: &Map<String, Value>,
) -> Result<(), CollectionInputError> {
    if let Some(rule) = obj.get("authRule") {
        auth.auth_rule = rule.as_str().map(str::to_owned);
    }
    if let Some(rule) = obj.get("manageRule") {
        auth.manage_rule = rule.as_str().map(str::to_owned);
    }
    if let Some(pa) = obj.get("passwordAuth").and_then(Value::as_object) {
        if let Some(enabled) = pa.get("enabled").and_then(Value::as_bool) {
            auth.password_auth_enabled = enabled;
        }
        if let Some(Value::Array(fields)) = pa.get("identityFields") {
            auth.identity_fields = fields
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect();
        }
    }
    let mut token_errors = FieldErrors::new();
    for (key, token) in [
        ("authToken", &mut auth.auth_token),
        ("passwordResetToken", &mut auth.password_reset_token),
        ("emailChangeToken", &mut auth.email_change_token),
        ("verificationToken", &mut auth.verification_token),
        ("fileToken", &mut auth.file_token),
    ] {
        if let Some(t) = obj.get(key).and_then(Value::as_object) {
            let errs = apply_token(token, t)?;
            if !errs.is_empty() {
                token_errors.add_nested(key, errs);
            }
        }
    }
    if !token_errors.is_empty() {
        return Err(CollectionInputError::Invalid(token_errors));
    }
    for key in super::AUTH_EXTRA_KEYS {
        if let Some(v) = obj.get(*key)
            && !v.is_null()
        {
            if !super::auth_methods::loadable(key, v) {
                return Err(CollectionInputError::Malformed);
            }
            let target = auth.extra.entry(key.to_string()).or_insert(Value::Null);
            if *key == "oauth2" {
                let old = target.clone();
                merge_into(target, v);
                super::oauth2::keep_secrets(Some(&old), target);
            } else {
                merge_into(target, v);
            }
        }
    }
    Ok(())
}

/// The shortest a token may live, in seconds (PocketBase's bound).
const MIN_TOKEN_DURATION: i64 = 10;
/// The longest: three years, in seconds (PocketBase's bound).
const MAX_TOKEN_DURATION: i64 = 94_670_856;
/// A token secret's length bounds (PocketBase's): long enough to sign with, short enough
/// to keep.
const TOKEN_SECRET_LEN: (u64, u64) = (30, 255);

/// Applies one token's `duration` and `secret` as PocketBase checks them: what is out of
/// bounds comes back as field errors and is not applied. An empty secret keeps the one
/// there (secrets are never shown, so a form sends them empty).
///
/// # Errors
/// [`CollectionInputError::Malformed`] for a duration that is no integer (PocketBase:
/// "Failed to load the submitted data").
fn apply_token(
    token: &mut TokenConfig,
    t: &Map<String, Value>,
) -> Result<FieldErrors, CollectionInputError> {
    let mut errs = FieldErrors::new();
    // null leaves the duration as it is (as Go's decoder does for PocketBase).
    if let Some(d) = t.get("duration").filter(|d| !d.is_null()) {
        let d = d.as_i64().ok_or(CollectionInputError::Malformed)?;
        if d == 0 {
            errs.add("duration", FieldError::required());
        } else if d < MIN_TOKEN_DURATION {
            errs.add(
                "duration",
                FieldError::new(
                    "validation_min_greater_equal_than_required",
                    format!("Must be no less than {MIN_TOKEN_DURATION}."),
                )
                .with_param("threshold", MIN_TOKEN_DURATION),
            );
        } else if d > MAX_TOKEN_DURATION {
            errs.add(
                "duration",
                FieldError::new(
                    "validation_max_less_equal_than_required",
                    format!("Must be no greater than {MAX_TOKEN_DURATION}."),
                )
                .with_param("threshold", MAX_TOKEN_DURATION),
            );
        } else {
            token.duration = d.unsigned_abs();
        }
    }
    if let Some(s) = t
        .get("secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let (min, max) = TOKEN_SECRET_LEN;
        let len = s.chars().count() as u64;
        if len < min || len > max {
            errs.add("secret", FieldError::length_out_of_range(min, max));
        } else {
            token.secret = s.to_owned();
        }
    }
    Ok(errs)
}

/// Deep-merges objects so a partial `{"otp":{"enabled":true}}` keeps the other OTP options.
fn merge_into(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge_into(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn create_input_gets_defaults_and_id_field() {
        let c = Collection::from_create_input(
            &json!({"name":"authors","fields":[{"name":"name","type":"text"}]}),
        )
        .unwrap();
        assert_eq!(c.id, "pbc_526341563");
        assert_eq!(c.fields[0].name, "id");
        assert_eq!(c.fields[1].name, "name");
        assert_eq!(c.rules.list, None);
        assert!(c.validate().is_empty());
    }

    #[test]
    fn update_matches_fields_by_id_then_name() {
        let mut c = Collection::from_create_input(
            &json!({"name":"p","fields":[{"name":"title","type":"text"}]}),
        )
        .unwrap();
        let title_id = c.field("title").unwrap().id.clone();
        c.apply_input(&json!({"fields":[{"id": title_id, "name":"headline","type":"text"}]}))
            .unwrap();
        assert_eq!(c.fields.len(), 2, "id field re-added");
        assert_eq!(c.field("headline").unwrap().id, title_id);
        let err = c
            .apply_input(&json!({"fields":[{"id": title_id, "name":"headline","type":"number"}]}))
            .unwrap_err();
        assert!(matches!(err, CollectionInputError::Invalid(_)));
    }

    #[test]
    fn auth_collections_get_system_fields_and_indexes() {
        let c = Collection::from_create_input(&json!({"name":"members","type":"auth"})).unwrap();
        let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "password",
                "tokenKey",
                "email",
                "emailVisibility",
                "verified"
            ]
        );
        assert!(c.has_unique_index_on("email") && c.has_unique_index_on("tokenKey"));
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let out = serde_json::to_value(c.json(false)).unwrap();
        assert!(out["authToken"].get("secret").is_none());
        assert_eq!(out["authToken"]["duration"], 432000);
        let stored = serde_json::to_value(c.json(true)).unwrap();
        assert_eq!(Collection::from_stored(&stored).unwrap(), c);
    }

    #[test]
    fn default_system_collections_are_valid() {
        for c in [super::super::superusers(), super::super::users()] {
            assert!(c.validate().is_empty(), "{}: {:?}", c.name, c.validate());
        }
    }
}
