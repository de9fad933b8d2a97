//! Subscription topics: `collection/*`, `collection/recordId` (by name or id), the legacy
//! `collection`, and custom topics such as `@oauth2`, each optionally followed by
//! `?options=` and URL-encoded JSON `{"query": {…}, "headers": {…}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// What a subscription listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every record of a collection (its name or id); checked with the list rule.
    Collection(String),
    /// One record; checked with the view rule.
    Record(String, String),
    /// A topic no record event matches (`@oauth2`, or anything else a client names).
    Custom,
}

/// The options a subscription carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `query.filter`: an extra condition the record must match.
    pub filter: Option<String>,
    /// `query.expand`.
    pub expand: Option<String>,
    /// `query.fields`, applied to the record when the message is written.
    pub fields: Option<Arc<str>>,
    /// Every `query` value, for `@request.query.*` (stringified).
    pub query: BTreeMap<String, String>,
    /// `headers`, for `@request.headers.*`.
    pub headers: BTreeMap<String, String>,
}

/// One subscription as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topic exactly as sent: every event is named after it.
    pub topic: Arc<str>,
    /// What it listens to.
    pub target: Target,
    /// Its options.
    pub options: Options,
    /// How many change sets had been published when it was set: those are not delivered
    /// to it, even when the dispatcher reaches them afterwards.
    pub(crate) since: u64,
}

impl Subscription {
    /// Parses a topic; options that do not parse are ignored, as PocketBase does.
    pub fn parse(topic: &str) -> Subscription {
        let (base, query) = topic.split_once('?').unwrap_or((topic, ""));
        let options = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "options")
            .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok())
            .map(|v| options(&v))
            .unwrap_or_default();
        let target = match base.split_once('/') {
            Some((c, "*")) if !c.is_empty() => Target::Collection(c.to_owned()),
            Some((c, id)) if !c.is_empty() && !id.is_empty() => {
                Target::Record(c.to_owned(), id.to_owned())
            }
            None if !base.is_empty() && !base.starts_with('@') => {
                Target::Collection(base.to_owned())
            }
            _ => Target::Custom,
        };
        Subscription {
            topic: Arc::from(topic),
            target,
            options,
            since: 0,
        }
    }
}

fn options(v: &Value) -> Options {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let map = |key: &str| -> BTreeMap<String, String> {
        v.get(key)
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default()
    };
    let query = map("query");
    let headers = map("headers")
        .into_iter()
        .map(|(k, v)| (crate::query::normalize_header_name(&k), v))
        .collect();
    Options {
        filter: query
            .get("filter")
            .cloned()
            .filter(|f| !f.trim().is_empty()),
        expand: query
            .get("expand")
            .cloned()
            .filter(|e| !e.trim().is_empty()),
        fields: query
            .get("fields")
            .filter(|f| !f.trim().is_empty())
            .map(|f| Arc::from(f.as_str())),
        query,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_name_a_collection_a_record_or_nothing() {
        assert_eq!(
            Subscription::parse("posts/*").target,
            Target::Collection("posts".into())
        );
        assert_eq!(
            Subscription::parse("posts").target,
            Target::Collection("posts".into())
        );
        assert_eq!(
            Subscription::parse("posts/abc").target,
            Target::Record("posts".into(), "abc".into())
        );
        assert_eq!(Subscription::parse("@oauth2").target, Target::Custom);
        assert_eq!(Subscription::parse("/x").target, Target::Custom);
    }

    #[test]
    fn options_carry_query_and_headers_and_the_topic_stays_as_sent() {
        let topic = "posts/*?options=%7B%22query%22%3A%7B%22filter%22%3A%22views%20%3E%201%22%2C%22expand%22%3A%22author%22%2C%22page%22%3A2%7D%2C%22headers%22%3A%7B%22X-Token%22%3A%22t%22%7D%7D";
        let s = Subscription::parse(topic);
        assert_eq!(&*s.topic, topic);
        assert_eq!(s.target, Target::Collection("posts".into()));
        assert_eq!(s.options.filter.as_deref(), Some("views > 1"));
        assert_eq!(s.options.expand.as_deref(), Some("author"));
        assert_eq!(s.options.query["page"], "2");
        assert_eq!(s.options.headers["x_token"], "t");
        assert_eq!(
            Subscription::parse("posts/*?options=nope").options,
            Options::default()
        );
    }
}
