//! Canonical record values ⇄ SQLite column values, per field type.

use kulisse_schema::value::number;
use kulisse_schema::{Field, FieldKind};
use kulisse_store::Row;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;

/// The SQLite value stored for a canonical field value.
pub(crate) fn encode(field: &Field, v: &Value) -> SqlValue {
    match (&field.kind, v) {
        (_, Value::Null) if matches!(field.kind, FieldKind::Json { .. }) => SqlValue::Null,
        (FieldKind::Number { .. }, Value::Number(n)) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        (FieldKind::Bool, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        // serde_json's writer, not `Display` (which goes through `fmt` and cost twice as
        // much for a request log entry's `data`).
        (k, v) if k.is_json_stored() => {
            SqlValue::Text(serde_json::to_string(v).unwrap_or_default())
        }
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Null) => SqlValue::Text(String::new()),
        (_, other) => SqlValue::Text(other.to_string()),
    }
}

/// The canonical value of a stored column.
pub(crate) fn decode(field: &Field, v: ValueRef<'_>) -> Value {
    match &field.kind {
        FieldKind::Number { .. } => number(match v {
            ValueRef::Integer(i) => i as f64,
            ValueRef::Real(f) => f,
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0),
            _ => 0.0,
        }),
        FieldKind::Bool => Value::Bool(match v {
            ValueRef::Integer(i) => i != 0,
            ValueRef::Real(f) => f != 0.0,
            ValueRef::Text(t) => matches!(t, b"1" | b"true" | b"TRUE"),
            _ => false,
        }),
        k if k.is_json_stored() => match v {
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                serde_json::from_slice(t).unwrap_or(Value::Null)
            }
            ValueRef::Null => kulisse_schema::value::zero(k),
            ValueRef::Integer(i) => Value::from(i),
            ValueRef::Real(f) => number(f),
        },
        _ => match v {
            ValueRef::Text(t) | ValueRef::Blob(t) => Value::String(text(t)),
            ValueRef::Integer(i) => Value::String(i.to_string()),
            ValueRef::Real(f) => Value::String(number(f).to_string()),
            ValueRef::Null => Value::String(String::new()),
        },
    }
}

/// Stored text as a string. SQLite hands back what was written, valid UTF-8 unless the
/// file was written by something else; the strict check has a fast path for ASCII that
/// `from_utf8_lossy` lacks (it was ~5 % of a view with a 400-character body).
fn text(t: &[u8]) -> String {
    match std::str::from_utf8(t) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(t).into_owned(),
    }
}

/// Decodes one result row whose columns are `fields` in order.
pub(crate) fn decode_row(fields: &[Field], row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let mut out = Row::new();
    for (i, f) in fields.iter().enumerate() {
        out.insert(f.name.clone(), decode(f, row.get_ref(i)?));
    }
    Ok(out)
}
