//! Applying a submitted body to a record: modifiers, coercion and auth form fields
//! (spec §2.6, §2.7, §2.10).

use kulisse_schema::value::{self, as_list, normalize, number};
use kulisse_schema::{Collection, Field, FieldError, FieldErrors, FieldKind, ids};
use kulisse_store::Row;
use serde_json::{Map, Value};

/// One body key resolved to its field and modifier.
#[derive(Clone, Copy)]
enum Modifier {
    Set,
    Append,
    Prepend,
    Subtract,
    Autogenerate,
}

fn split_key<'k>(c: &Collection, key: &'k str) -> Option<(&'k str, Modifier)> {
    let candidates = [
        (key.strip_suffix(":autogenerate"), Modifier::Autogenerate),
        (key.strip_prefix('+'), Modifier::Prepend),
        (key.strip_suffix('+'), Modifier::Append),
        (key.strip_suffix('-'), Modifier::Subtract),
    ];
    for (name, m) in candidates {
        if let Some(name) = name
            && c.field(name).is_some()
        {
            return Some((name, m));
        }
    }
    c.field(key).map(|_| (key, Modifier::Set))
}

/// Applies `body` onto `row` (zero values for a create, stored values for an update).
/// Returns the names of fields the body touched.
///
/// Keys are applied shortest first, as PocketBase does, so `{"n": 1, "n+": 2}` is 3.
/// System-managed fields (autodate, password, tokenKey) are skipped here.
pub(crate) fn apply_body(
    c: &Collection,
    row: &mut Row,
    body: &Map<String, Value>,
    allow_hidden: bool,
) -> Vec<String> {
    let mut keys: Vec<&String> = body.keys().collect();
    keys.sort_by_key(|k| k.len());
    let mut touched = Vec::new();
    for key in keys {
        let Some((name, modifier)) = split_key(c, key) else {
            continue;
        };
        let Some(field) = c.field(name) else { continue };
        if matches!(
            field.kind,
            FieldKind::Autodate { .. } | FieldKind::Password { .. }
        ) || (c.is_auth() && field.name == "tokenKey")
            || (field.hidden && !allow_hidden)
        {
            continue;
        }
        let current = row
            .get(name)
            .cloned()
            .unwrap_or_else(|| value::zero(&field.kind));
        let next = modified(field, &current, &body[key.as_str()], modifier);
        row.insert(name.to_owned(), next);
        if !touched.iter().any(|t| t == name) {
            touched.push(name.to_owned());
        }
    }
    touched
}

fn modified(field: &Field, current: &Value, input: &Value, m: Modifier) -> Value {
    let kind = &field.kind;
    match (m, kind) {
        (Modifier::Set, _) => normalize(kind, input),
        (Modifier::Append | Modifier::Subtract, FieldKind::Number { .. }) => {
            let delta = normalize(kind, input).as_f64().unwrap_or(0.0);
            let base = current.as_f64().unwrap_or(0.0);
            number(if matches!(m, Modifier::Append) {
                base + delta
            } else {
                base - delta
            })
        }
        (
            Modifier::Append | Modifier::Prepend,
            FieldKind::Select { .. } | FieldKind::Relation { .. } | FieldKind::File { .. },
        ) => {
            let existing = as_list(current);
            let added = as_list(&normalize_multi(input));
            let combined = if matches!(m, Modifier::Append) {
                [existing, added].concat()
            } else {
                [added, existing].concat()
            };
            normalize(kind, &Value::from(combined))
        }
        (
            Modifier::Subtract,
            FieldKind::Select { .. } | FieldKind::Relation { .. } | FieldKind::File { .. },
        ) => {
            let removed = as_list(&normalize_multi(input));
            let kept: Vec<String> = as_list(current)
                .into_iter()
                .filter(|v| !removed.contains(v))
                .collect();
            normalize(kind, &Value::from(kept))
        }
        (
            Modifier::Autogenerate,
            FieldKind::Text {
                autogenerate_pattern,
                ..
            },
        ) => {
            let base = normalize(kind, input)
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Value::String(
                base + &ids::generate_from_pattern(autogenerate_pattern).unwrap_or_default(),
            )
        }
        _ => current.clone(),
    }
}

/// Interprets a modifier operand as a list whatever the field's own cardinality.
fn normalize_multi(input: &Value) -> Value {
    normalize(
        &FieldKind::Select {
            values: vec![],
            max_select: u64::MAX,
        },
        input,
    )
}

/// The password-form checks of auth collections; PocketBase reports only these when any
/// fails. Returns the new plain password when one was set.
pub(crate) fn password_form(
    c: &Collection,
    body: &Map<String, Value>,
    creating: bool,
    old_hash: Option<&str>,
    needs_old_password: bool,
) -> Result<Option<String>, FieldErrors> {
    let mut errs = FieldErrors::new();
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let password = text("password");
    let (min, max) = match c.field("password").map(|f| &f.kind) {
        Some(FieldKind::Password { min, max, .. }) => (*min, if *max == 0 { 71 } else { *max }),
        _ => (8, 71),
    };
    let confirm = text("passwordConfirm");
    if password.is_empty() {
        if creating {
            errs.add("password", FieldError::required());
            if confirm.is_empty() {
                errs.add("passwordConfirm", FieldError::required());
            }
        }
        return errs.into_result().map(|()| None);
    }
    let len = password.chars().count() as u64;
    if len < min.max(1) {
        errs.add(
            "password",
            FieldError::new(
                "validation_min_text_constraint",
                format!("Must be at least {} character(s).", min.max(1)),
            ),
        );
    } else if len > max {
        errs.add(
            "password",
            FieldError::new(
                "validation_max_text_constraint",
                format!("Must be less than {max} character(s)."),
            ),
        );
    }
    if confirm.is_empty() {
        errs.add("passwordConfirm", FieldError::required());
    } else if confirm != password {
        errs.add(
            "passwordConfirm",
            FieldError::new("validation_values_mismatch", "Values don't match."),
        );
    }
    if needs_old_password {
        let old = text("oldPassword");
        if old.is_empty() {
            errs.add("oldPassword", FieldError::required());
        } else if !old_hash.is_some_and(|h| crate::auth::verify_password(&old, h)) {
            errs.add(
                "oldPassword",
                FieldError::new(
                    "validation_invalid_old_password",
                    "Missing or invalid old password.",
                ),
            );
        }
    }
    errs.into_result().map(|()| Some(password))
}
