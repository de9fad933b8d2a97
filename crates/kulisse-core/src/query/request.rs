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
    /// The request's headers. Kept as received and looked up on demand ([`Self::header`]):
    /// few rules read them, and copying every header into owned strings on every request
    /// cost more than a point read.
    pub headers: http::HeaderMap,
    /// Headers that take precedence over `headers` (a batch sub-request's own), by
    /// normalised name.
    pub header_overrides: BTreeMap<String, String>,
    /// Submitted body (after modifiers) for create/update.
    pub body: Map<String, Value>,
    /// When the request arrived, by the services' clock (`@now` and the other datetime
    /// macros read it); `None` for requests made inside the server, which read the
    /// system clock.
    pub now: Option<Timestamp>,
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

    /// The header `@request.headers.<key>` names: `key` is the normalised name
    /// (`x_custom` for `X-Custom`); the first value wins, as in Go's `Header.Get`.
    pub fn header(&self, key: &str) -> Option<&str> {
        if let Some(v) = self.header_overrides.get(key) {
            return Some(v);
        }
        let normalised_is = |name: &str| {
            name.len() == key.len()
                && name.bytes().zip(key.bytes()).all(|(n, k)| {
                    k == if n == b'-' {
                        b'_'
                    } else {
                        n.to_ascii_lowercase()
                    }
                })
        };
        self.headers
            .iter()
            .find(|(name, _)| normalised_is(name.as_str()))
            .and_then(|(_, value)| value.to_str().ok())
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
        Some(("headers", key)) => req.header(key).map(|v| Value::String(v.to_owned())),
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
pub(crate) fn macro_value(name: &str, now: Option<Timestamp>) -> Option<Literal> {
    let now = Zoned::new(now.unwrap_or_else(Timestamp::now), TimeZone::UTC);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_by_normalised_name_first_value_and_overrides_first() {
        let mut req = RequestInfo::default();
        req.headers.append("x-custom-token", "a".parse().unwrap());
        req.headers.append("x-custom-token", "b".parse().unwrap());
        req.headers.append("accept", "text/html".parse().unwrap());
        assert_eq!(req.header("x_custom_token"), Some("a"));
        assert_eq!(req.header("accept"), Some("text/html"));
        assert_eq!(req.header("x-custom-token"), None);
        assert_eq!(req.header("x_custom"), None);
        req.header_overrides
            .insert("accept".into(), "application/json".into());
        assert_eq!(req.header("accept"), Some("application/json"));
    }
}
