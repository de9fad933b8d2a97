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
/// Returns the names of fields the body touched; values that cannot be applied (a NaN for
/// a number) are reported in `errs` and leave the field as it was.
///
/// Keys are applied shortest first, as PocketBase does, so `{"n": 1, "n+": 2}` is 3.
/// System-managed fields (autodate, password, tokenKey) are skipped here; password fields
/// are hashed before the transaction ([`password_fields`]).
pub(crate) fn apply_body(
    c: &Collection,
    row: &mut Row,
    body: &Map<String, Value>,
    allow_hidden: bool,
    errs: &mut FieldErrors,
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
        match modified(field, &current, &body[key.as_str()], modifier) {
            Ok(next) => {
                row.insert(name.to_owned(), next);
            }
            Err(e) => errs.add(name, e),
        }
        if !touched.iter().any(|t| t == name) {
            touched.push(name.to_owned());
        }
    }
    touched
}

fn modified(
    field: &Field,
    current: &Value,
    input: &Value,
    m: Modifier,
) -> Result<Value, FieldError> {
    let kind = &field.kind;
    Ok(match (m, kind) {
        (Modifier::Set, FieldKind::Number { .. }) => number(value::number_input(input)?),
        (Modifier::Set, _) => normalize(kind, input),
        (Modifier::Append | Modifier::Subtract, FieldKind::Number { .. }) => {
            let delta = value::number_input(input)?;
            let base = current.as_f64().unwrap_or(0.0);
            let sum = if matches!(m, Modifier::Append) {
                base + delta
            } else {
                base - delta
            };
            // PB compat: an overflow to infinity is refused, not stored as 0.
            if !sum.is_finite() {
                return Err(value::not_a_number());
            }
            number(sum)
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
    })
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
    let default_kind = FieldKind::Password {
        min: 8,
        max: 0,
        pattern: String::new(),
        cost: 0,
    };
    let kind = c.field("password").map_or(&default_kind, |f| &f.kind);
    if let Err(e) = check_plain_password(kind, &password) {
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

/// A new plain password checked against its field's options, PocketBase's rules: at least
/// one character even when `min` is 0, at most `max` or 71 (bcrypt reads 72 bytes), and
/// the field's pattern.
pub(crate) fn check_plain_password(kind: &FieldKind, plain: &str) -> Result<(), FieldError> {
    let FieldKind::Password {
        min, max, pattern, ..
    } = kind
    else {
        return Ok(());
    };
    let (min, max) = ((*min).max(1), if *max == 0 { 71 } else { *max });
    let len = plain.chars().count() as u64;
    if len < min {
        return Err(FieldError::new(
            "validation_min_text_constraint",
            format!("Must be at least {min} character(s)."),
        ));
    }
    if len > max {
        return Err(FieldError::new(
            "validation_max_text_constraint",
            format!("Must be less than {max} character(s)."),
        ));
    }
    if !pattern.is_empty() && !value::compiled_pattern(pattern).is_some_and(|re| re.is_match(plain))
    {
        return Err(FieldError::new(
            "validation_invalid_format",
            "Invalid value format.",
        ));
    }
    Ok(())
}

/// A password field the body sets, to be hashed before the transaction.
pub(crate) struct NewPassword {
    /// The field's name.
    pub(crate) field: String,
    /// The plain text; empty clears the field.
    pub(crate) plain: String,
    /// bcrypt cost (0 = default).
    pub(crate) cost: u32,
}

/// The password fields `body` sets, other than an auth collection's own `password` (the
/// password form handles that one), with the failures of their checks. PB compat: these
/// are stored as bcrypt hashes, need no confirmation, and `""` clears them.
pub(crate) fn password_fields(
    c: &Collection,
    body: &Map<String, Value>,
) -> (Vec<NewPassword>, FieldErrors) {
    let mut out = Vec::new();
    let mut errs = FieldErrors::new();
    for f in &c.fields {
        let FieldKind::Password { cost, .. } = &f.kind else {
            continue;
        };
        if c.is_auth() && f.name == "password" {
            continue;
        }
        let Some(raw) = body.get(&f.name) else {
            continue;
        };
        let plain = normalize(&f.kind, raw)
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !plain.is_empty()
            && let Err(e) = check_plain_password(&f.kind, &plain)
        {
            errs.add(f.name.clone(), e);
            continue;
        }
        out.push(NewPassword {
            field: f.name.clone(),
            plain,
            cost: u32::try_from(*cost).unwrap_or(0),
        });
    }
    (out, errs)
}
