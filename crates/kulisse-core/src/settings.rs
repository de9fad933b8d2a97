//! Application settings (`/api/settings`, spec §8.2): one JSON document in the store,
//! served as an immutable snapshot and replaced on change.

mod ip_range;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use kulisse_schema::{FieldError, FieldErrors};
use kulisse_store::{Store, StoreError};

use crate::changes::Writer;
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::collections::service::require_superuser;
use crate::error::CoreError;
use ip_range::IpRange;

const PARAM_KEY: &str = "settings";
const SAVE_FAILED: &str = "An error occurred while saving the new settings.";
/// Write-only values: accepted on PATCH, never returned.
const SECRETS: &[(&str, &str)] = &[("smtp", "password"), ("s3", "secret")];

/// Batch API limits (spec §2.9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchSettings {
    /// Whether `/api/batch` is on (off by default, as in PocketBase).
    pub enabled: bool,
    /// Most sub-requests per batch.
    pub max_requests: usize,
    /// Time budget in seconds.
    pub timeout_secs: u64,
}

/// Which request headers carry the client address (`trustedProxy`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustedProxy {
    /// Header names, tried in order; empty = use the connection's peer address.
    pub headers: Vec<String>,
    /// Take the leftmost valid address of a comma-separated list instead of the rightmost.
    pub use_leftmost_ip: bool,
}

/// PocketBase's refusal of a superuser outside `superuserIPs`.
const NOT_ALLOWED: &str = "You are not allowed to perform this request.";
const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";

/// The settings service.
#[derive(Clone)]
pub struct SettingsService {
    store: Arc<dyn Store>,
    writer: Writer,
    current: Arc<RwLock<Arc<Value>>>,
    /// Held from reading the store to installing the result, so that a reload which read
    /// older settings cannot install them over newer ones.
    installing: Arc<tokio::sync::Mutex<()>>,
}

/// PocketBase's defaults for a new data dir.
fn defaults() -> Value {
    let s3 = json!({"enabled": false, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "secret": "", "forcePathStyle": false});
    json!({
        "smtp": {"enabled": false, "port": 587, "host": "smtp.example.com", "username": "", "password": "", "authMethod": "", "tls": false, "localName": ""},
        "backups": {"cron": "", "cronMaxKeep": 3, "s3": s3},
        "s3": s3,
        "meta": {"appName": "Acme", "appURL": "http://localhost:8090", "senderName": "Support", "senderAddress": "support@example.com", "hideControls": false, "accentColor": "#1055c9"},
        "rateLimits": {"rules": [
            {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
            {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
            {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
            {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300}
        ], "excludedIPs": [], "enabled": false},
        "trustedProxy": {"headers": [], "useLeftmostIP": false},
        "batch": {"enabled": false, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": true, "logAuthId": false},
        "superuserIPs": []
    })
}

impl SettingsService {
    /// Loads the stored settings over the defaults.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn load(store: Arc<dyn Store>, writer: Writer) -> Result<Self, CoreError> {
        let mut settings = defaults();
        if let Some(stored) = store.param(PARAM_KEY).await? {
            merge(&mut settings, &stored);
        }
        if settings["rateLimits"]["enabled"].as_bool() == Some(true) {
            // A data dir from PocketBase may have it on; saving settings will refuse it.
            tracing::warn!(
                "settings: rateLimits.enabled is on, but kulisse does not limit requests yet"
            );
        }
        Ok(Self {
            store,
            writer,
            current: Arc::new(RwLock::new(Arc::new(settings))),
            installing: Arc::default(),
        })
    }

    /// Re-reads the stored settings (another node changed them).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let _installing = self.installing.lock().await;
        let mut settings = defaults();
        if let Some(stored) = self.store.param(PARAM_KEY).await? {
            merge(&mut settings, &stored);
        }
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(settings);
        }
        Ok(())
    }

    /// The current settings, secrets included (for internal use).
    pub fn snapshot(&self) -> Arc<Value> {
        self.current
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default()
    }

    /// Batch limits.
    pub fn batch(&self) -> BatchSettings {
        let s = self.snapshot();
        let b = &s["batch"];
        BatchSettings {
            enabled: b["enabled"].as_bool().unwrap_or(false),
            max_requests: b["maxRequests"]
                .as_u64()
                .map_or(50, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            timeout_secs: b["timeout"].as_u64().unwrap_or(3),
        }
    }

    /// `superuserIPs`: a request authenticated as a superuser must come from a listed
    /// address or subnet (an empty list allows any). An unknown address is refused.
    ///
    /// # Errors
    /// `Forbidden` when the list does not include `ip`.
    pub fn check_superuser_ip(&self, ip: Option<IpAddr>) -> Result<(), CoreError> {
        let s = self.snapshot();
        let Some(list) = s["superuserIPs"].as_array().filter(|l| !l.is_empty()) else {
            return Ok(());
        };
        let allowed = ip.is_some_and(|ip| {
            list.iter()
                .filter_map(|v| v.as_str().and_then(IpRange::parse))
                .any(|r| r.contains(ip))
        });
        if allowed {
            Ok(())
        } else {
            Err(CoreError::Forbidden(NOT_ALLOWED.into()))
        }
    }

    /// The `trustedProxy` settings.
    pub fn trusted_proxy(&self) -> TrustedProxy {
        let s = self.snapshot();
        let t = &s["trustedProxy"];
        TrustedProxy {
            headers: t["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().filter(|h| !h.trim().is_empty()))
                .map(str::to_owned)
                .collect(),
            use_leftmost_ip: t["useLeftmostIP"].as_bool().unwrap_or(false),
        }
    }

    /// `GET /api/settings` (secrets removed).
    ///
    /// # Errors
    /// Unless superuser.
    pub fn view(&self, auth: &Auth) -> Result<Value, CoreError> {
        require_superuser(auth)?;
        Ok(redacted(&self.snapshot()))
    }

    /// `PATCH /api/settings`: merges the partial body, validates, stores, returns the view.
    ///
    /// # Errors
    /// Unless superuser; 400 with field errors for invalid values.
    pub async fn update(&self, auth: &Auth, patch: &Value) -> Result<Value, CoreError> {
        require_superuser(auth)?;
        let Value::Object(patch) = patch else {
            return Err(CoreError::generic_bad_request());
        };
        let _installing = self.installing.lock().await;
        let mut next = (*self.snapshot()).clone();
        let mut known: Map<String, Value> = patch
            .iter()
            .filter(|(k, _)| next.get(k.as_str()).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match known.get_mut("superuserIPs") {
            Some(v @ Value::Null) => *v = json!([]),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            // PB compat: a list of strings or nothing; anything else fails to load.
            Some(_) => return Err(CoreError::BadRequest(LOAD_FAILED.into())),
            None => {}
        }
        merge(&mut next, &Value::Object(known));
        validate(&next).map_err(|errs| CoreError::invalid(SAVE_FAILED, errs))?;
        let stored = next.clone();
        self.writer
            .transact::<_, StoreError, _>(move |tx| tx.set_param(PARAM_KEY, &stored))
            .await?;
        let view = redacted(&next);
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(next);
        }
        Ok(view)
    }
}

/// Deep merge: objects merge key by key; anything else replaces (an explicit `null` too,
/// except where the default is an object).
fn merge(target: &mut Value, patch: &Value) {
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
        (t, p) => *t = p.clone(),
    }
}

fn redacted(settings: &Value) -> Value {
    let mut out = settings.clone();
    for (section, key) in SECRETS {
        if let Some(obj) = out.get_mut(*section).and_then(Value::as_object_mut) {
            obj.remove(*key);
        }
    }
    if let Some(obj) = out
        .pointer_mut("/backups/s3")
        .and_then(Value::as_object_mut)
    {
        obj.remove("secret");
    }
    out
}

fn validate(s: &Value) -> Result<(), FieldErrors> {
    let mut errs = FieldErrors::new();
    let non_negative = |v: &Value| v.as_f64().is_some_and(|n| n >= 0.0);
    let mut batch = FieldErrors::new();
    for key in ["maxRequests", "timeout", "maxBodySize"] {
        if !non_negative(&s["batch"][key]) {
            batch.add(
                key,
                FieldError::new(
                    "validation_min_greater_equal_than_required",
                    "Must be no less than 0.",
                )
                .with_param("threshold", 0),
            );
        }
    }
    if s["batch"]["enabled"].as_bool() == Some(true) {
        for key in ["maxRequests", "timeout"] {
            if s["batch"][key].as_f64() == Some(0.0) {
                batch.add(key, FieldError::required());
            }
        }
    }
    errs.add_nested("batch", batch);
    let mut meta = FieldErrors::new();
    let app_name = s["meta"]["appName"].as_str().unwrap_or_default();
    if app_name.is_empty() {
        meta.add("appName", FieldError::required());
    }
    errs.add_nested("meta", meta);
    let mut rules = FieldErrors::new();
    for (i, rule) in s["rateLimits"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = rule["label"].as_str().unwrap_or_default();
        if !valid_rate_limit_label(label) {
            let mut e = FieldErrors::new();
            e.add(
                "label",
                FieldError::new("validation_match_invalid", "Must be in a valid format."),
            );
            rules.add_nested(i.to_string(), e);
        }
    }
    if !rules.is_empty() {
        let mut rl = FieldErrors::new();
        rl.add_nested("rules", rules);
        errs.add_nested("rateLimits", rl);
    }
    let ip_list = |list: &Value| {
        let mut errs = FieldErrors::new();
        for (i, v) in list.as_array().into_iter().flatten().enumerate() {
            let text = v.as_str().unwrap_or_default();
            if text.is_empty() {
                errs.add(i.to_string(), FieldError::required());
            } else if IpRange::parse(text).is_none() {
                // PB compat: the code's spelling is PocketBase's.
                errs.add(
                    i.to_string(),
                    FieldError::new(
                        "validation_invlaid_ip_or_subnet",
                        "Invalid IP or CIDR subnet.",
                    ),
                );
            }
        }
        errs
    };
    errs.add_nested("superuserIPs", ip_list(&s["superuserIPs"]));
    let mut rate_limits = FieldErrors::new();
    rate_limits.add_nested("excludedIPs", ip_list(&s["rateLimits"]["excludedIPs"]));
    if s["rateLimits"]["enabled"].as_bool() == Some(true) {
        // Accepting it would make an app look rate limited when nothing is.
        rate_limits.add(
            "enabled",
            FieldError::not_supported(
                "Not supported yet: kulisse does not enforce rate limits, so they cannot be enabled.",
            ),
        );
    }
    errs.add_nested("rateLimits", rate_limits);
    if !non_negative(&s["logs"]["maxDays"]) {
        let mut logs = FieldErrors::new();
        logs.add(
            "maxDays",
            FieldError::new(
                "validation_min_greater_equal_than_required",
                "Must be no less than 0.",
            )
            .with_param("threshold", 0),
        );
        errs.add_nested("logs", logs);
    }
    errs.into_result()
}

/// `^(\w+ /[\w/-]*|/[\w/-]*|\w+:\w+|\*:\w+|\w+)$`, PocketBase's rate limit label shape.
fn valid_rate_limit_label(label: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\w+ /[\w/-]*|/[\w/-]*|\w+:\w+|\*:\w+|\w+)$")
            .expect("invariant: static regex")
    });
    RE.is_match(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_returned() {
        let mut s = defaults();
        merge(
            &mut s,
            &json!({"smtp": {"password": "hunter2"}, "s3": {"secret": "x"}, "backups": {"s3": {"secret": "y"}}}),
        );
        let view = redacted(&s);
        assert!(view["smtp"].get("password").is_none());
        assert!(view["s3"].get("secret").is_none());
        assert!(view["backups"]["s3"].get("secret").is_none());
        assert_eq!(s["smtp"]["password"], "hunter2");
    }

    #[test]
    fn invalid_values_are_reported_per_field() {
        let mut s = defaults();
        merge(
            &mut s,
            &json!({"rateLimits": {"rules": [{"label": "bad label!"}]}, "batch": {"maxRequests": -1}}),
        );
        let errs = validate(&s).unwrap_err().to_json();
        assert_eq!(
            errs["rateLimits"]["rules"]["0"]["label"]["code"],
            "validation_match_invalid"
        );
        assert_eq!(
            errs["batch"]["maxRequests"]["code"],
            "validation_min_greater_equal_than_required"
        );
        assert!(validate(&defaults()).is_ok());
    }
}
