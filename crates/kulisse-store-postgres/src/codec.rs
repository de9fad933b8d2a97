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
///
/// A table's columns have the types [`crate::ddl`] gives each field kind. A view's columns
/// have whatever type its query computes (`count(*)` is `bigint`, `max(x)` the type of `x`,
/// an expression may be `jsonb`), so a column that is not of the expected type is read by its
/// own type ([`computed`]) instead of reading as empty.
pub(crate) fn decode(field: &Field, row: &tokio_postgres::Row, i: usize) -> Value {
    match &field.kind {
        FieldKind::Number { .. } => match row.try_get::<_, Option<f64>>(i) {
            Ok(n) => number(n.unwrap_or(0.0)),
            Err(_) => number(
                computed(row, i)
                    .as_ref()
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            ),
        },
        FieldKind::Bool => match row.try_get::<_, Option<i32>>(i) {
            Ok(b) => Value::Bool(b.unwrap_or(0) != 0),
            Err(_) => Value::Bool(computed(row, i).is_some_and(|v| truthy(&v))),
        },
        k if k.is_json_stored() => match row.try_get::<_, Option<String>>(i) {
            Ok(Some(t)) => serde_json::from_str(&t).unwrap_or(Value::Null),
            Ok(None) => kulisse_schema::value::zero(k),
            Err(_) => computed(row, i).unwrap_or_else(|| kulisse_schema::value::zero(k)),
        },
        _ => match row.try_get::<_, Option<String>>(i) {
            Ok(t) => Value::String(t.unwrap_or_default()),
            Err(_) => match computed(row, i) {
                Some(Value::String(t)) => Value::String(t),
                Some(Value::Null) | None => Value::String(String::new()),
                Some(other) => Value::String(other.to_string()),
            },
        },
    }
}

/// A computed column's value by its own type; `None` for NULL and for types kulisse does not
/// read (`numeric` among them: cast it to `float8` in the view's query).
fn computed(row: &tokio_postgres::Row, i: usize) -> Option<Value> {
    let ty = row.columns().get(i)?.type_().clone();
    let get_f64 = |n: Option<f64>| n.map(number);
    match ty {
        Type::INT2 => get_f64(row.try_get::<_, Option<i16>>(i).ok()?.map(f64::from)),
        Type::INT4 => get_f64(row.try_get::<_, Option<i32>>(i).ok()?.map(f64::from)),
        Type::INT8 => get_f64(row.try_get::<_, Option<i64>>(i).ok()?.map(|n| n as f64)),
        Type::FLOAT4 => get_f64(row.try_get::<_, Option<f32>>(i).ok()?.map(f64::from)),
        Type::FLOAT8 => get_f64(row.try_get::<_, Option<f64>>(i).ok()?),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).ok()?.map(Value::Bool),
        Type::JSON | Type::JSONB => row.try_get::<_, Option<Value>>(i).ok()?,
        _ => row.try_get::<_, Option<String>>(i).ok()?.map(Value::String),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty() && s != "0" && s != "false",
        _ => false,
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
