//! From JSON to [`Settings`]: a PATCH body merged over the current settings, and the
//! stored document read back leniently.
//!
//! The merge stays on JSON (a PATCH is a partial document, as in PocketBase) and the
//! result is then decoded into the types, so a wrong type fails the request as a whole.

use serde_json::{Map, Value};

use super::model::Settings;

/// A PATCH body that does not decode into the settings' types (PocketBase's bind
/// failure: "An error occurred while loading the submitted data.").
#[derive(Debug, PartialEq)]
pub(super) struct LoadFailed;

/// Most keys [`decode_stored`] drops before giving up on a stored document.
const MAX_DROPPED: usize = 64;

/// `current` with `patch` merged over it. Top-level keys the settings do not have are
/// ignored, and so are unknown nested keys (as PocketBase's binding ignores them).
pub(super) fn apply_patch(
    current: &Settings,
    patch: &Map<String, Value>,
) -> Result<Settings, LoadFailed> {
    let mut doc = current.to_stored();
    let known: Map<String, Value> = patch
        .iter()
        .filter(|(k, _)| doc.get(k.as_str()).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merge(&mut doc, &Value::Object(known));
    serde_json::from_value(doc).map_err(|_| LoadFailed)
}

/// The settings a stored document holds, over the defaults. Never fails: a data dir
/// must open whatever an older release stored. A value of the wrong type falls back to
/// its default (logged); unknown keys are ignored.
pub(super) fn decode_stored(stored: Option<&Value>) -> Settings {
    let mut doc = Settings::default().to_stored();
    if let Some(stored @ Value::Object(_)) = stored {
        let mut stored = stored.clone();
        forget_untouched_legacy_rate_limits(&mut stored);
        merge(&mut doc, &stored);
    } else if stored.is_some() {
        tracing::warn!("settings: the stored document is not an object; using the defaults");
    }
    for _ in 0..MAX_DROPPED {
        match serde_path_to_error::deserialize::<_, Settings>(&doc) {
            Ok(settings) => return settings,
            Err(e) => {
                let path = e.path().clone();
                tracing::warn!(%path, error = %e.inner(), "settings: a stored value does not load; using its default");
                if !remove_at(&mut doc, &path) {
                    break;
                }
            }
        }
    }
    tracing::warn!("settings: the stored document does not load; using the defaults");
    Settings::default()
}

/// PocketBase's `rateLimits` defaults (off, four rules), which every document saved before
/// kulisse enforced limits holds (it could not turn them on) and PocketBase's data dirs
/// hold unless someone edited them.
fn legacy_rate_limits() -> Value {
    let rule = |label: &str, duration: i64, max: i64| serde_json::json!({"audience": "", "duration": duration, "label": label, "maxRequests": max});
    serde_json::json!({"enabled": false, "excludedIPs": [], "rules": [
        rule("*:auth", 3, 2), rule("*:create", 5, 20), rule("/api/batch", 1, 3), rule("/api/", 10, 300)
    ]})
}

/// Drops a stored `rateLimits` nobody changed from PocketBase's defaults, so kulisse's
/// defaults (on, for the auth endpoints) apply to it; limits anyone edited are kept.
fn forget_untouched_legacy_rate_limits(stored: &mut Value) {
    if let Value::Object(doc) = stored
        && doc.get("rateLimits") == Some(&legacy_rate_limits())
    {
        doc.remove("rateLimits");
    }
}

/// Deep merge: objects merge key by key; anything else replaces. An explicit `null`
/// leaves an object as it is and resets a list or a scalar to its empty value (`[]`,
/// `""`, `false`, `0`), so `{"superuserIPs": null}` empties the list.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && !v.is_object() => {}
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, Value::Null) => *t = empty_like(t),
        (t, p) => *t = p.clone(),
    }
}

fn empty_like(v: &Value) -> Value {
    match v {
        Value::Array(_) => Value::Array(Vec::new()),
        Value::String(_) => Value::String(String::new()),
        Value::Bool(_) => Value::Bool(false),
        Value::Number(_) => Value::from(0),
        Value::Null | Value::Object(_) => Value::Null,
    }
}

/// Removes the value at `path` (an object key or a list item); false when there is none.
fn remove_at(doc: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = doc;
    for seg in parents {
        let next = match (seg, at) {
            (Segment::Map { key }, Value::Object(m)) => m.get_mut(key),
            (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else { return false };
        at = next;
    }
    match (last, at) {
        (Segment::Map { key }, Value::Object(m)) => m.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn untouched_legacy_rate_limits_give_way_to_the_defaults_and_edited_ones_stay() {
        let legacy = json!({"rateLimits": legacy_rate_limits()});
        assert_eq!(
            decode_stored(Some(&legacy)).rate_limits,
            Settings::default().rate_limits
        );
        let mut edited = legacy.clone();
        edited["rateLimits"]["excludedIPs"] = json!(["10.0.0.1"]);
        let kept = decode_stored(Some(&edited)).rate_limits;
        assert!(!kept.enabled && kept.rules.len() == 4 && kept.excluded_ips == ["10.0.0.1"]);
    }

    fn patch(current: &Settings, body: Value) -> Result<Settings, LoadFailed> {
        let Value::Object(body) = body else {
            panic!("not an object")
        };
        apply_patch(current, &body)
    }

    #[test]
    fn a_patch_merges_over_the_current_settings() {
        let mut current = Settings::default();
        current.smtp.password = "kept".to_owned().into();
        let next = patch(
            &current,
            json!({"meta": {"appName": "Shop"}, "batch": {"enabled": true}, "unknown": 1}),
        )
        .unwrap();
        assert_eq!(next.meta.app_name, "Shop");
        assert_eq!(next.meta.app_url, "http://localhost:8090", "siblings kept");
        assert!(next.batch.enabled);
        assert_eq!(next.batch.max_requests, 50);
        assert_eq!(next.smtp.password.expose(), "kept", "secrets kept");
        // Lists are replaced whole, and a rule's missing keys are empty.
        let next = patch(
            &next,
            json!({"rateLimits": {"rules": [{"label": "/api/"}]}}),
        )
        .unwrap();
        assert_eq!(next.rate_limits.rules.len(), 1);
        assert_eq!(next.rate_limits.rules[0].duration, 0);
        // A non-object over a section leaves it; null empties a list.
        let mut with_ips = next.clone();
        with_ips.superuser_ips = vec!["10.0.0.1".into()];
        let next = patch(&with_ips, json!({"meta": "x", "superuserIPs": null})).unwrap();
        assert_eq!(next.meta, with_ips.meta);
        assert!(next.superuser_ips.is_empty());
    }

    #[test]
    fn a_patch_of_the_wrong_type_fails_to_load() {
        let current = Settings::default();
        for body in [
            json!({"superuserIPs": "10.0.0.0/8"}),
            json!({"superuserIPs": [1]}),
            json!({"meta": {"appName": ["not", "a", "string"]}}),
            json!({"batch": {"maxRequests": "5"}}),
            json!({"batch": {"timeout": 2.5}}),
            json!({"smtp": {"port": true}}),
        ] {
            assert_eq!(patch(&current, body.clone()), Err(LoadFailed), "{body}");
        }
    }

    #[test]
    fn a_stored_document_loads_whatever_it_holds() {
        let stored = json!({
            "meta": {"appName": "Old", "someFutureKey": 1},
            "smtp": {"port": "not a number", "password": "pw"},
            "superuserIPs": ["10.0.0.1", 5],
            "logs": null,
            "removedSection": {"x": 1}
        });
        let s = decode_stored(Some(&stored));
        assert_eq!(s.meta.app_name, "Old");
        assert_eq!(s.smtp.port, 587, "a wrong type falls back to the default");
        assert_eq!(s.smtp.password.expose(), "pw");
        assert_eq!(s.superuser_ips, vec!["10.0.0.1".to_owned()]);
        assert_eq!(s.logs, Settings::default().logs);
        assert_eq!(decode_stored(None), Settings::default());
        assert_eq!(decode_stored(Some(&json!("nope"))), Settings::default());
    }
}
