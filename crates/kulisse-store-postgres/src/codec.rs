//! Canonical record values ⇄ PostgreSQL parameters and columns.

use kulisse_schema::value::number;
use kulisse_schema::{Field, FieldKind};
use kulisse_store::Row;
use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};

/// A bound parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Float(f64),
    Text(String),
    NullText,
    TextArray(Vec<String>),
}

impl Param {
    pub(crate) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(i) => i,
            Param::Float(f) => f,
            Param::Text(t) => t,
            Param::NullText => &NULL_TEXT,
            Param::TextArray(a) => a,
        }
    }

    /// The type PostgreSQL should infer the placeholder as.
    pub(crate) fn pg_type(&self) -> Type {
        match self {
            Param::Int(_) => Type::INT8,
            Param::Float(_) => Type::FLOAT8,
            Param::Text(_) | Param::NullText => Type::TEXT,
            Param::TextArray(_) => Type::TEXT_ARRAY,
        }
    }
}

static NULL_TEXT: Option<String> = None;

/// The parameter stored for a canonical field value.
pub(crate) fn encode(field: &Field, v: &Value) -> Param {
    match (&field.kind, v) {
        (FieldKind::Json { .. }, Value::Null) => Param::NullText,
        (FieldKind::Number { .. }, v) => Param::Float(v.as_f64().unwrap_or(0.0)),
        (FieldKind::Bool, v) => Param::Int(i64::from(v.as_bool().unwrap_or(false))),
        (k, v) if k.is_json_stored() => Param::Text(v.to_string()),
        (_, Value::String(s)) => Param::Text(s.clone()),
        (_, Value::Null) => Param::Text(String::new()),
        (_, other) => Param::Text(other.to_string()),
    }
}

/// The canonical value of a stored column.
pub(crate) fn decode(field: &Field, row: &tokio_postgres::Row, i: usize) -> Value {
    match &field.kind {
        FieldKind::Number { .. } => number(
            row.try_get::<_, Option<f64>>(i)
                .ok()
                .flatten()
                .unwrap_or(0.0),
        ),
        FieldKind::Bool => {
            Value::Bool(row.try_get::<_, Option<i32>>(i).ok().flatten().unwrap_or(0) != 0)
        }
        k if k.is_json_stored() => match row.try_get::<_, Option<String>>(i).ok().flatten() {
            Some(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
            None => kulisse_schema::value::zero(k),
        },
        _ => Value::String(
            row.try_get::<_, Option<String>>(i)
                .ok()
                .flatten()
                .unwrap_or_default(),
        ),
    }
}

/// Decodes one result row whose columns are `fields` in order.
pub(crate) fn decode_row(fields: &[Field], row: &tokio_postgres::Row) -> Row {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), decode(f, row, i)))
        .collect()
}
