//! What `@request.*` can see.

use std::collections::BTreeMap;

use jiff::{Timestamp, ToSpan, Zoned, tz::TimeZone};
use kulisse_store::Literal;
use serde_json::{Map, Value};

use crate::auth::Auth;

/// The request data rules and filters may reference.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The requester.
    pub auth: Auth,
    /// HTTP method (`GET`, `POST`…).
    pub method: String,
    /// `default`, `realtime`, `expand`, …
    pub context: &'static str,
    /// First value of each query parameter.
    pub query: BTreeMap<String, String>,
    /// Headers, names normalised to snake_case lower (`X-Custom` → `x_custom`).
    pub headers: BTreeMap<String, String>,
    /// Submitted body (after modifiers) for create/update.
    pub body: Map<String, Value>,
}

impl RequestInfo {
    /// A request by `auth` with everything else empty (`default` context).
    pub fn for_auth(auth: Auth, method: &str) -> Self {
        Self {
            auth,
            method: method.to_owned(),
            context: "default",
            ..Self::default()
        }
    }
}

/// PocketBase's header key normalisation for `@request.headers.*`.
pub fn normalize_header_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// `@request.*` values are known before the query runs, so they become bound literals.
pub(crate) fn resolve_request(path: &str, req: &RequestInfo) -> Literal {
    let (path, modifier) = match path.rsplit_once(':') {
        Some((p, m)) => (p, Some(m)),
        None => (path, None),
    };
    let value: Option<Value> = match path.split_once('.') {
        None => match path {
            "method" => Some(Value::String(req.method.clone())),
            "context" => Some(Value::String(req.context.to_owned())),
            _ => None,
        },
        Some(("auth", key)) => match &req.auth {
            Auth::Guest => None,
            Auth::Record { collection, record } => match key {
                "collectionId" => Some(Value::String(collection.id.clone())),
                "collectionName" => Some(Value::String(collection.name.clone())),
                _ => record.get(key).cloned(),
            },
        },
        Some(("query", key)) => req.query.get(key).map(|v| Value::String(v.clone())),
        Some(("headers", key)) => req.headers.get(key).map(|v| Value::String(v.clone())),
        Some(("body", key)) => req.body.get(key).cloned(),
        Some(_) => None,
    };
    match modifier {
        Some("isset") => Literal::Bool(value.is_some()),
        Some("lower") => match value {
            Some(Value::String(s)) => Literal::Text(s.to_lowercase()),
            other => to_literal(other),
        },
        Some("length") => Literal::Number(match value {
            Some(Value::Array(a)) => a.len() as f64,
            Some(Value::Null) | None => 0.0,
            Some(_) => 1.0,
        }),
        _ => to_literal(value),
    }
}

pub(crate) fn to_literal(v: Option<Value>) -> Literal {
    match v {
        None | Some(Value::Null) => Literal::Null,
        Some(Value::Bool(b)) => Literal::Bool(b),
        Some(Value::Number(n)) => Literal::Number(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => Literal::Text(s),
        Some(other) => Literal::Text(other.to_string()),
    }
}

/// Datetime macros (§3.8), evaluated in UTC per request.
pub(crate) fn macro_value(name: &str) -> Option<Literal> {
    let now = Zoned::new(Timestamp::now(), TimeZone::UTC);
    let date = |z: Zoned| {
        Some(Literal::Text(kulisse_schema::datetime::format(
            z.timestamp(),
        )))
    };
    let start_of_day = now.start_of_day().ok()?;
    let end_of = |z: Zoned| z.checked_sub(1.millisecond()).ok();
    let num = |n: i64| Some(Literal::Number(n as f64));
    match name {
        "@now" => date(now),
        "@yesterday" => date(now.checked_sub(1.day()).ok()?),
        "@tomorrow" => date(now.checked_add(1.day()).ok()?),
        "@todayStart" => date(start_of_day),
        "@todayEnd" => date(end_of(now.tomorrow().ok()?.start_of_day().ok()?)?),
        "@monthStart" => date(now.first_of_month().ok()?.start_of_day().ok()?),
        "@monthEnd" => date(end_of(
            now.last_of_month()
                .ok()?
                .tomorrow()
                .ok()?
                .start_of_day()
                .ok()?,
        )?),
        "@yearStart" => date(now.first_of_year().ok()?.start_of_day().ok()?),
        "@yearEnd" => date(end_of(
            now.last_of_year()
                .ok()?
                .tomorrow()
                .ok()?
                .start_of_day()
                .ok()?,
        )?),
        "@second" => num(i64::from(now.second())),
        "@minute" => num(i64::from(now.minute())),
        "@hour" => num(i64::from(now.hour())),
        "@day" => num(i64::from(now.day())),
        "@month" => num(i64::from(now.month())),
        "@weekday" => num(i64::from(now.weekday().to_sunday_zero_offset())),
        "@year" => num(i64::from(now.year())),
        _ => None,
    }
}
