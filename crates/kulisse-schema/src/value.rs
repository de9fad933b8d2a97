//! Record values: lenient input coercion and validation per field type (spec §2.6, §4.3).
//!
//! Input goes through [`normalize`] first (PocketBase coerces rather than rejects: `"12"` is a
//! number, `"abc"` becomes 0, garbage dates become `""`), then [`validate`] checks the
//! canonical value against the field's options. The canonical value is what gets stored and
//! what the record JSON shows.

use serde_json::{Map, Value, json};

use crate::errors::FieldError;
use crate::field::{Field, FieldKind};

/// Default `max` of a text field whose `max` is 0.
pub const DEFAULT_TEXT_MAX: u64 = 5000;
/// Default `maxSize` of editor fields (bytes).
pub const DEFAULT_EDITOR_MAX_SIZE: u64 = 5 << 20;
/// Default `maxSize` of json fields (bytes).
pub const DEFAULT_JSON_MAX_SIZE: u64 = 1 << 20;

/// A JSON number the way PocketBase prints it: integral values without a fraction.
pub fn number(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        if f == 0.0 {
            return json!(0);
        }
        if f.abs() < 9.2e18 {
            return json!(f as i64);
        }
    }
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(json!(0))
}

/// The zero value of a field (what a new record or a `null` reset holds).
pub fn zero(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Number { .. } => json!(0),
        FieldKind::Bool => json!(false),
        FieldKind::Json { .. } => Value::Null,
        FieldKind::GeoPoint => json!({"lon": 0, "lat": 0}),
        k if k.is_multiple() => json!([]),
        _ => json!(""),
    }
}

/// Coerces submitted input into the field's canonical value.
pub fn normalize(kind: &FieldKind, raw: &Value) -> Value {
    match kind {
        FieldKind::Number { .. } => number(to_f64(raw)),
        FieldKind::Bool => json!(to_bool(raw)),
        FieldKind::Date { .. } | FieldKind::Autodate { .. } => match raw {
            Value::String(s) => json!(crate::datetime::parse(s).unwrap_or_default()),
            _ => json!(""),
        },
        FieldKind::Select { max_select, .. }
        | FieldKind::Relation { max_select, .. }
        | FieldKind::File { max_select, .. } => {
            let list = to_string_list(raw);
            if *max_select > 1 {
                json!(list)
            } else {
                json!(list.last().cloned().unwrap_or_default())
            }
        }
        FieldKind::Json { .. } => normalize_json(raw),
        FieldKind::GeoPoint => normalize_geo(raw),
        _ => json!(to_text(raw)),
    }
}

/// Checks a canonical value against the field's options.
///
/// Relation existence and uniqueness need the store and are checked by the caller.
pub fn validate(field: &Field, v: &Value) -> Result<(), FieldError> {
    if is_empty(&field.kind, v) {
        return if field.required {
            Err(FieldError::required())
        } else {
            Ok(())
        };
    }
    match &field.kind {
        FieldKind::Text {
            min, max, pattern, ..
        } => validate_text(v, *min, *max, pattern),
        FieldKind::Editor { max_size, .. } => {
            let limit = if *max_size == 0 {
                DEFAULT_EDITOR_MAX_SIZE
            } else {
                *max_size
            };
            let len = v.as_str().map_or(0, str::len) as u64;
            if len > limit {
                return Err(FieldError::new(
                    "validation_content_size_limit",
                    format!("The maximum allowed content size is {limit} bytes."),
                )
                .with_param("maxSize", limit));
            }
            Ok(())
        }
        FieldKind::Number { min, max, only_int } => validate_number(v, *min, *max, *only_int),
        FieldKind::Email {
            only_domains,
            except_domains,
        } => {
            let s = v.as_str().unwrap_or_default();
            if !is_email(s) {
                return Err(not_an_email());
            }
            let domain = s.rsplit('@').next().unwrap_or_default();
            check_domain(
                domain,
                only_domains,
                except_domains,
                "validation_email_domain_not_allowed",
                "Email domain is not allowed.",
            )
        }
        FieldKind::Url {
            only_domains,
            except_domains,
        } => {
            let s = v.as_str().unwrap_or_default();
            let Some(host) = url_host(s) else {
                return Err(FieldError::new(
                    "validation_invalid_url",
                    "Must be a valid url.",
                ));
            };
            check_domain(
                &host,
                only_domains,
                except_domains,
                "validation_url_domain_not_allowed",
                "Url domain is not allowed.",
            )
        }
        FieldKind::Date { min, max } => validate_date(v, min, max),
        FieldKind::Select { values, max_select } => {
            let items = as_list(v);
            if let Some(bad) = items.iter().find(|i| !values.contains(i)) {
                return Err(FieldError::new(
                    "validation_invalid_value",
                    format!("Invalid value {bad}."),
                )
                .with_param("value", bad.clone()));
            }
            check_max_select(items.len() as u64, *max_select)
        }
        FieldKind::Relation {
            min_select,
            max_select,
            ..
        } => {
            let n = as_list(v).len() as u64;
            if n < *min_select {
                return Err(FieldError::new(
                    "validation_not_enough_values",
                    format!("Select at least {min_select}."),
                )
                .with_param("minSelect", *min_select));
            }
            check_max_select(n, *max_select)
        }
        FieldKind::File { max_select, .. } => {
            let n = as_list(v).len() as u64;
            if n > (*max_select).max(1) {
                return Err(FieldError::new(
                    "validation_too_many_files",
                    format!("The maximum allowed files is {max_select}."),
                )
                .with_param("maxSelect", *max_select));
            }
            Ok(())
        }
        FieldKind::Json { max_size } => {
            let limit = if *max_size == 0 {
                DEFAULT_JSON_MAX_SIZE
            } else {
                *max_size
            };
            let len = serde_json::to_string(v).map_or(0, |s| s.len()) as u64;
            if len > limit {
                return Err(FieldError::new(
                    "validation_json_size_limit",
                    format!("The maximum allowed JSON size is {limit} bytes."),
                )
                .with_param("maxSize", limit));
            }
            Ok(())
        }
        FieldKind::GeoPoint => {
            let lon = v.get("lon").and_then(Value::as_f64).unwrap_or(0.0);
            let lat = v.get("lat").and_then(Value::as_f64).unwrap_or(0.0);
            if !(-90.0..=90.0).contains(&lat) {
                return Err(FieldError::new(
                    "validation_invalid_latitude",
                    "Latitude must be between -90 and 90 degrees.",
                ));
            }
            if !(-180.0..=180.0).contains(&lon) {
                return Err(FieldError::new(
                    "validation_invalid_longitude",
                    "Longitude must be between -180 and 180 degrees.",
                ));
            }
            Ok(())
        }
        FieldKind::Password { .. } | FieldKind::Bool | FieldKind::Autodate { .. } => Ok(()),
    }
}

/// What counts as "blank" for `required` (a number 0 and a `{0,0}` point are blank).
pub fn is_empty(kind: &FieldKind, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => match kind {
            FieldKind::GeoPoint => {
                o.get("lon").and_then(Value::as_f64).unwrap_or(0.0) == 0.0
                    && o.get("lat").and_then(Value::as_f64).unwrap_or(0.0) == 0.0
            }
            _ => o.is_empty(),
        },
    }
}

/// The string items of a canonical select/relation/file value (single or multiple).
pub fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        _ => vec![],
    }
}

fn validate_text(v: &Value, min: u64, max: u64, pattern: &str) -> Result<(), FieldError> {
    let s = v.as_str().unwrap_or_default();
    let len = s.chars().count() as u64;
    if min > 0 && len < min {
        return Err(FieldError::new(
            "validation_min_text_constraint",
            format!("Must be at least {min} character(s)."),
        )
        .with_param("min", min));
    }
    let max = if max == 0 { DEFAULT_TEXT_MAX } else { max };
    if len > max {
        return Err(FieldError::new(
            "validation_max_text_constraint",
            format!("Must be no more than {max} character(s)."),
        )
        .with_param("max", max));
    }
    if !pattern.is_empty() {
        let matches = compiled_pattern(pattern).is_some_and(|re| re.is_match(s));
        if !matches {
            return Err(FieldError::new(
                "validation_invalid_format",
                "Invalid value format.",
            ));
        }
    }
    Ok(())
}

/// Compiled field patterns, shared: a pattern is compiled once, not on every record
/// written (compiling was a visible part of a create's cost).
pub fn compiled_pattern(pattern: &str) -> Option<std::sync::Arc<regex::Regex>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<String, Option<Arc<regex::Regex>>>>> =
        LazyLock::new(Mutex::default);
    let mut cache = CACHE.lock().ok()?;
    if let Some(hit) = cache.get(pattern) {
        return hit.clone();
    }
    if cache.len() >= 1024 {
        cache.clear();
    }
    let compiled = regex::Regex::new(pattern).ok().map(Arc::new);
    cache.insert(pattern.to_owned(), compiled.clone());
    compiled
}

fn validate_number(
    v: &Value,
    min: Option<f64>,
    max: Option<f64>,
    only_int: bool,
) -> Result<(), FieldError> {
    let n = v.as_f64().unwrap_or(0.0);
    if !n.is_finite() {
        return Err(not_a_number());
    }
    if only_int && n.fract() != 0.0 {
        return Err(FieldError::new(
            "validation_only_int_constraint",
            "Decimal numbers are not allowed.",
        ));
    }
    if let Some(min) = min.filter(|m| n < *m) {
        return Err(FieldError::new(
            "validation_min_number_constraint",
            format!("Must be greater or equal than {}.", fmt_num(min)),
        )
        .with_param("min", number(min)));
    }
    if let Some(max) = max.filter(|m| n > *m) {
        return Err(FieldError::new(
            "validation_max_number_constraint",
            format!("Must be less or equal than {}.", fmt_num(max)),
        )
        .with_param("max", number(max)));
    }
    Ok(())
}

fn validate_date(v: &Value, min: &str, max: &str) -> Result<(), FieldError> {
    let s = v.as_str().unwrap_or_default();
    if let Some(min) = crate::datetime::parse(min).filter(|m| s < m.as_str()) {
        return Err(FieldError::new(
            "validation_min_greater_equal_than_required",
            format!("Must be no less than {min}."),
        )
        .with_param("threshold", min));
    }
    if let Some(max) = crate::datetime::parse(max).filter(|m| s > m.as_str()) {
        return Err(FieldError::new(
            "validation_max_less_equal_than_required",
            format!("Must be no greater than {max}."),
        )
        .with_param("threshold", max));
    }
    Ok(())
}

fn check_max_select(n: u64, max_select: u64) -> Result<(), FieldError> {
    if n > max_select.max(1) {
        return Err(FieldError::new(
            "validation_too_many_values",
            format!("Select no more than {max_select}."),
        )
        .with_param("maxSelect", max_select));
    }
    Ok(())
}

fn check_domain(
    domain: &str,
    only: &[String],
    except: &[String],
    code: &'static str,
    msg: &str,
) -> Result<(), FieldError> {
    let domain = domain.to_ascii_lowercase();
    let listed = |list: &[String]| list.iter().any(|d| d.eq_ignore_ascii_case(&domain));
    if (!only.is_empty() && !listed(only)) || listed(except) {
        return Err(FieldError::new(code, msg));
    }
    Ok(())
}

/// PocketBase's error for a value that is no email address.
pub fn not_an_email() -> FieldError {
    FieldError::new("validation_is_email", "Must be a valid email address.")
}

/// A form's required email address: PocketBase's `required` or `is_email` error.
///
/// # Errors
/// When `text` is empty or no email address.
pub fn required_email(text: &str) -> Result<(), FieldError> {
    if text.is_empty() {
        Err(FieldError::required())
    } else if is_email(text) {
        Ok(())
    } else {
        Err(not_an_email())
    }
}

/// A pragmatic email check in the spirit of Go's `is.EmailFormat`: one `@`, a non-empty
/// local part without spaces, and a dotted domain of label characters.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || s.len() > 254
        || local.contains(char::is_whitespace)
        || local.contains('@')
    {
        return false;
    }
    is_hostname(domain) && domain.contains('.')
}

fn is_hostname(d: &str) -> bool {
    !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Host of an absolute http(s)-like URL, or `None` when it is not a valid URL.
pub(crate) fn url_host(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        || s.contains(char::is_whitespace)
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = host_port.split(':').next()?;
    (is_hostname(host)).then(|| host.to_ascii_lowercase())
}

fn fmt_num(f: f64) -> String {
    number(f).to_string()
}

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// `validation_not_a_number`: the input is NaN or infinite, which no column can hold.
pub fn not_a_number() -> FieldError {
    FieldError::new(
        "validation_not_a_number",
        "The submitted number is not properly formatted.",
    )
}

/// A number field's input as a finite number. PB compat: what Go's `ParseFloat` reads as NaN
/// or an infinity (`"NaN"`, `"Infinity"`, `"-inf"`) is refused, where [`normalize`] would
/// silently store 0; other unreadable input (`"abc"`, an overflowing `"1e309"`) is 0.
///
/// # Errors
/// [`not_a_number`] for NaN and infinity words.
pub fn number_input(raw: &Value) -> Result<f64, FieldError> {
    if let Value::String(s) = raw {
        let word = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if matches!(word.as_str(), "nan" | "inf" | "infinity") {
            return Err(not_a_number());
        }
    }
    Ok(to_f64(raw))
}

/// Go's `strconv.ParseBool` truthiness, the rule PocketBase uses for bool input.
pub fn to_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.as_str(), "1" | "t" | "T" | "TRUE" | "true" | "True"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Lists arrive as arrays, JSON-array strings or single strings; duplicates are dropped.
fn to_string_list(v: &Value) -> Vec<String> {
    let items: Vec<String> = match v {
        Value::Array(items) => items.iter().map(to_text).collect(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<Value>>(s) {
                Ok(items) => items.iter().map(to_text).collect(),
                Err(_) => vec![s.clone()],
            }
        }
        Value::String(s) => vec![s.clone()],
        Value::Number(_) | Value::Bool(_) => vec![to_text(v)],
        _ => vec![],
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// PB compat: a string that is itself JSON (starting with a digit, `-`, `"`, `[`, `{`, or
/// being true/false/null) is decoded; any other string stays a JSON string.
fn normalize_json(raw: &Value) -> Value {
    if let Value::String(s) = raw {
        let t = s.trim();
        let looks_json = t.starts_with(|c: char| c.is_ascii_digit() || "-\"[{".contains(c))
            || matches!(t, "true" | "false" | "null");
        if looks_json && let Ok(v) = serde_json::from_str::<Value>(t) {
            return canonical_numbers(v);
        }
    }
    canonical_numbers(raw.clone())
}

/// Re-encodes floats that are integral as integers so output matches Go's formatting.
fn canonical_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => number(n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => Value::Array(items.into_iter().map(canonical_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, canonical_numbers(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

fn normalize_geo(raw: &Value) -> Value {
    let parsed;
    let obj = match raw {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    let lon = obj.get("lon").map(to_f64).unwrap_or(0.0);
    let lat = obj.get("lat").map(to_f64).unwrap_or(0.0);
    json!({"lon": number(lon), "lat": number(lat)})
}

#[cfg(test)]
mod tests;
