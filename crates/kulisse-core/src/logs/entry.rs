//! What a request leaves in the log: the facts HTTP captures, and the entry PocketBase
//! writes of them.
//!
//! The facts are owned copies, not clones of the request's header values and URI: those
//! share the connection's read buffer, and a queue of entries holding them kept thousands
//! of buffers alive (118 MB during a view benchmark instead of 30).

use std::net::IpAddr;
use std::time::Duration;

use http::Method;
use serde_json::{Map, Value};

/// PocketBase's log levels (Go's `slog`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `-4`.
    Debug,
    /// `0`: a request answered below 400.
    Info,
    /// `4`.
    Warn,
    /// `8`: a request answered 400 or above.
    Error,
}

impl Level {
    /// The number stored and filtered on.
    pub fn number(self) -> i64 {
        match self {
            Level::Debug => -4,
            Level::Info => 0,
            Level::Warn => 4,
            Level::Error => 8,
        }
    }
}

/// One answered request, as HTTP saw it.
#[derive(Debug)]
pub struct RequestFacts {
    /// The method.
    pub method: Method,
    /// The URL as requested (path and query).
    pub url: String,
    /// The route's template (`/api/collections/{collection}/records`; `other` for the
    /// public directory's files), for the analytics.
    pub route: &'static str,
    /// PocketBase's name for what the request does to a collection (`list`, `view`,
    /// `create`, `update`, `delete`, `authWithPassword`, `file`…), empty for other routes.
    pub action: &'static str,
    /// The collection the URL names, as it spells it (a name or an id; empty for routes
    /// of no collection).
    pub collection: String,
    /// The answer's status.
    pub status: u16,
    /// How long the answer took.
    pub took: Duration,
    /// The connection's address.
    pub remote_ip: Option<IpAddr>,
    /// The client's address (after `trustedProxy`).
    pub user_ip: Option<IpAddr>,
    /// `User-Agent` (empty when missing).
    pub user_agent: String,
    /// `Referer` (empty when missing).
    pub referer: String,
    /// `Authorization`, resolved to the requester when the entry is written.
    pub authorization: Option<String>,
    /// The error message answered, for a status of 400 or more.
    pub error: Option<String>,
    /// The error answer's `data` (field errors), logged as PocketBase's `details`.
    pub error_data: Option<Value>,
}

/// Who made a request, as the log names it.
pub(super) struct Requester {
    /// The auth collection's name (empty for a guest).
    pub(super) collection: String,
    /// The record's id.
    pub(super) id: String,
}

/// What the `logs` settings keep of an entry.
pub(super) struct Keep {
    pub(super) ip: bool,
    pub(super) auth_id: bool,
    /// The largest `data` kept, serialised (0: any).
    pub(super) max_data_size: usize,
}

impl RequestFacts {
    /// The level PocketBase gives a request with this status.
    pub fn level(&self) -> Level {
        if self.status >= 400 {
            Level::Error
        } else {
            Level::Info
        }
    }

    /// The entry's `message` and `data` (as JSON text), as PocketBase writes them.
    pub(super) fn entry(&self, requester: &Requester, keep: &Keep) -> (String, String) {
        let url = self.url.as_str();
        let ip = |ip: Option<IpAddr>| ip.map(|ip| ip.to_string()).unwrap_or_default();
        let details = self
            .error
            .as_ref()
            .map(|_| self.error_data.as_ref().map_or(Value::Null, details));
        let data = RequestData {
            auth: &requester.collection,
            auth_id: (keep.auth_id && !requester.id.is_empty()).then_some(&requester.id),
            details,
            error: self.error.as_deref(),
            exec_time: self.took.as_secs_f64() * 1000.0,
            method: self.method.as_str(),
            referer: &self.referer,
            remote_ip: keep.ip.then(|| ip(self.remote_ip)),
            status: self.status,
            kind: "request",
            url,
            user_agent: &self.user_agent,
            user_ip: keep.ip.then(|| ip(self.user_ip)),
        };
        let mut json = serde_json::to_string(&data).unwrap_or_default();
        if keep.max_data_size > 0
            && json.len() > keep.max_data_size
            && let Ok(mut map) = serde_json::from_str::<Map<String, Value>>(&json)
        {
            cap(&mut map, keep.max_data_size);
            json = serde_json::to_string(&map).unwrap_or_default();
        }
        (format!("{} {url}", self.method), json)
    }
}

/// A request entry's `data`, in PocketBase's (alphabetical) key order, written straight to
/// JSON text: no map is built for every request.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestData<'a> {
    auth: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    exec_time: f64,
    method: &'a str,
    referer: &'a str,
    #[serde(rename = "remoteIP", skip_serializing_if = "Option::is_none")]
    remote_ip: Option<String>,
    status: u16,
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
    user_agent: &'a str,
    #[serde(rename = "userIP", skip_serializing_if = "Option::is_none")]
    user_ip: Option<String>,
}

/// PocketBase's `details` of an error answer's `data`: each field's message as Go's
/// validation writes it (lower-cased first letter, no final period), nested as the fields
/// are; `null` when there are none.
fn details(data: &Value) -> Value {
    fn of(node: &Value) -> Value {
        match node.get("message").and_then(Value::as_str) {
            Some(message) if node.get("code").is_some() => {
                let message = message.trim_end_matches('.');
                let mut chars = message.chars();
                let lower: String = chars
                    .next()
                    .map(|c| c.to_lowercase().chain(chars).collect())
                    .unwrap_or_default();
                Value::String(lower)
            }
            _ => match node.as_object() {
                Some(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), of(v))).collect()),
                None => node.clone(),
            },
        }
    }
    match data.as_object() {
        Some(o) if !o.is_empty() => of(data),
        _ => Value::Null,
    }
}

/// Shortens the longest text values of `data` until it serialises to at most `max`
/// bytes (PocketBase's `logs.maxDataSize`): the entry is kept, its longest strings are
/// cut.
fn cap(data: &mut Map<String, Value>, max: usize) {
    for _ in 0..data.len() {
        let size = serde_json::to_string(&*data).map_or(0, |s| s.len());
        if size <= max {
            return;
        }
        let Some((key, len)) = data
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.len())))
            .max_by_key(|(_, len)| *len)
        else {
            return;
        };
        let keep = len.saturating_sub(size - max);
        if let Some(Value::String(s)) = data.get_mut(&key) {
            let mut cut = keep;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts(status: u16) -> RequestFacts {
        RequestFacts {
            route: "",
            action: "",
            collection: String::new(),
            method: Method::GET,
            url: "/api/collections/posts/records?page=2".into(),
            status,
            took: Duration::from_micros(1500),
            remote_ip: Some([127, 0, 0, 1].into()),
            user_ip: Some([10, 0, 0, 1].into()),
            user_agent: "curl/8".into(),
            referer: String::new(),
            authorization: None,
            error: (status >= 400).then(|| "Nope.".to_owned()),
            error_data: (status >= 400).then(|| {
                json!({"keyId": {"code": "validation_length_invalid", "message": "The length must be exactly 10."}})
            }),
        }
    }

    #[test]
    fn entries_carry_pocketbases_request_data() {
        let who = Requester {
            collection: "users".into(),
            id: "abc".into(),
        };
        let all = Keep {
            ip: true,
            auth_id: true,
            max_data_size: 0,
        };
        let parse = |(m, d): (String, String)| {
            (
                m,
                serde_json::from_str::<Map<String, Value>>(&d).unwrap_or_default(),
            )
        };
        let (message, data) = parse(facts(200).entry(&who, &all));
        assert_eq!(message, "GET /api/collections/posts/records?page=2");
        assert_eq!(data["status"], 200);
        assert_eq!(data["execTime"], 1.5);
        assert_eq!(data["auth"], "users");
        assert_eq!(data["authId"], "abc");
        assert_eq!(data["userIP"], "10.0.0.1");
        assert_eq!(data["remoteIP"], "127.0.0.1");
        assert!(data.get("error").is_none() && data.get("details").is_none());
        assert_eq!(facts(200).level(), Level::Info);

        let private = Keep {
            ip: false,
            auth_id: false,
            max_data_size: 0,
        };
        let (_, data) = parse(facts(403).entry(&who, &private));
        assert_eq!(data["error"], "Nope.");
        assert_eq!(
            data["details"],
            json!({"keyId": "the length must be exactly 10"})
        );
        assert!(data.get("userIP").is_none() && data.get("authId").is_none());
        assert_eq!(facts(403).level(), Level::Error);

        let small = Keep {
            ip: true,
            auth_id: true,
            max_data_size: 200,
        };
        let (_, data) = facts(200).entry(&who, &small);
        assert!(data.len() <= 200, "{data}");
    }
}
