//! The settings document as types: PocketBase's JSON names and its defaults for a new
//! data dir.
//!
//! Numbers are `i64` (Go's `int`/`int64` in PocketBase), so a negative value reaches the
//! validator and gets its field error instead of failing to load. Every struct defaults
//! field by field, so a stored document missing keys (an older data dir) loads.
//!
//! Secrets are [`Secret`]s, which serialize to nothing: serializing a [`Settings`] gives
//! the wire view, and only [`Settings::to_stored`] writes them back in. Forgetting a new
//! secret there loses it on save (a test shows that at once) instead of leaking it.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ip_range::IpRange;

/// The application settings (`GET /api/settings` without the secrets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// Application name, URL and mail sender.
    pub meta: MetaSettings,
    /// Outgoing mail.
    pub smtp: SmtpSettings,
    /// File storage on S3 instead of the data dir.
    pub s3: S3Settings,
    /// Automatic backups.
    pub backups: BackupsSettings,
    /// `/api/batch` limits.
    pub batch: BatchSettings,
    /// Request rate limits (`limits.rs` applies them).
    pub rate_limits: RateLimitsSettings,
    /// Which headers carry the client address behind a proxy.
    pub trusted_proxy: TrustedProxySettings,
    /// Request log retention.
    pub logs: LogsSettings,
    /// Addresses and subnets superusers may come from; empty allows any.
    #[serde(rename = "superuserIPs")]
    pub superuser_ips: Vec<String>,
}

/// `meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetaSettings {
    /// Shown in mails and the dashboard; required.
    pub app_name: String,
    /// Base of links in mails.
    #[serde(rename = "appURL")]
    pub app_url: String,
    /// Mail sender name.
    pub sender_name: String,
    /// Mail sender address.
    pub sender_address: String,
    /// Hides the dashboard's schema controls.
    pub hide_controls: bool,
    /// The dashboard's accent color (PocketBase 0.40).
    pub accent_color: String,
}

/// `smtp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SmtpSettings {
    /// Send through this server instead of the local mailer.
    pub enabled: bool,
    /// Server port.
    pub port: i64,
    /// Server host.
    pub host: String,
    /// Login name.
    pub username: String,
    /// Login password; write-only.
    #[serde(skip_serializing)]
    pub password: Secret,
    /// `PLAIN`, `LOGIN` or empty.
    pub auth_method: String,
    /// Implicit TLS.
    pub tls: bool,
    /// The name sent in `HELO`.
    pub local_name: String,
}

/// `s3` and `backups.s3` (all empty and off by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct S3Settings {
    /// Use this bucket.
    pub enabled: bool,
    /// Bucket name.
    pub bucket: String,
    /// Bucket region.
    pub region: String,
    /// Endpoint URL.
    pub endpoint: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key; write-only.
    #[serde(skip_serializing)]
    pub secret: Secret,
    /// Path-style bucket addressing.
    pub force_path_style: bool,
}

impl S3Settings {
    /// The endpoint as a URL (`https://` when it names none, as PocketBase accepts a bare
    /// host); `None` when it is none.
    pub fn endpoint_url(&self) -> Option<url::Url> {
        let text = self.endpoint.trim();
        let with_scheme = match text.contains("://") {
            true => text.to_owned(),
            false => format!("https://{text}"),
        };
        let url = url::Url::parse(&with_scheme).ok()?;
        (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then_some(url)
    }
}

/// `backups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BackupsSettings {
    /// Cron expression for automatic backups; empty = off.
    pub cron: String,
    /// Automatic backups kept.
    pub cron_max_keep: i64,
    /// Where backups go, when not to the data dir.
    pub s3: S3Settings,
}

/// `batch` as stored and served (see [`BatchLimits`] for what the batch route reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BatchSettings {
    /// Whether `/api/batch` is on (off by default, as in PocketBase).
    pub enabled: bool,
    /// Most sub-requests per batch.
    pub max_requests: i64,
    /// Time budget in seconds.
    pub timeout: i64,
    /// Largest body in bytes; 0 = PocketBase's default.
    pub max_body_size: i64,
}

/// `rateLimits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimitsSettings {
    /// The limits, matched by label.
    pub rules: Vec<RateLimitRule>,
    /// Whether the rules apply.
    pub enabled: bool,
    /// Addresses and subnets no limit applies to.
    #[serde(rename = "excludedIPs")]
    pub excluded_ips: Vec<String>,
}

/// One of `rateLimits.rules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimitRule {
    /// `/path/`, `METHOD /path`, `collection:action`, `*:action` or a tag.
    pub label: String,
    /// `""`, `@guest` or `@auth`.
    pub audience: String,
    /// Window in seconds.
    pub duration: i64,
    /// Requests allowed per window.
    pub max_requests: i64,
}

/// `trustedProxy` as stored and served (see [`TrustedProxy`] for what requests read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrustedProxySettings {
    /// Header names, tried in order.
    pub headers: Vec<String>,
    /// Take the leftmost valid address of a list instead of the rightmost.
    #[serde(rename = "useLeftmostIP")]
    pub use_leftmost_ip: bool,
}

/// `logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogsSettings {
    /// Largest `data` kept per log entry (PocketBase 0.40); 0 = no limit.
    pub max_data_size: i64,
    /// Days logs are kept; 0 = none.
    pub max_days: i64,
    /// Lowest level logged.
    pub min_level: i64,
    /// Log the client address.
    #[serde(rename = "logIP")]
    pub log_ip: bool,
    /// Log the authenticated record's id.
    pub log_auth_id: bool,
}

/// A write-only value: accepted and stored, never served nor printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for the code that uses it (a mailer, an S3 client).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl Serialize for Secret {
    /// Only reached through [`Settings::to_stored`]; the wire structs skip secrets.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Batch API limits (spec §2.9), as the batch route reads them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLimits {
    /// Whether `/api/batch` is on (off by default, as in PocketBase).
    pub enabled: bool,
    /// Most sub-requests per batch.
    pub max_requests: usize,
    /// Time budget in seconds.
    pub timeout_secs: u64,
}

/// Which request headers carry the client address (`trustedProxy`), as requests read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustedProxy {
    /// Header names, tried in order; empty = use the connection's peer address.
    pub headers: Vec<String>,
    /// Take the leftmost valid address of a comma-separated list instead of the rightmost.
    pub use_leftmost_ip: bool,
}

impl Settings {
    /// The document stored in `_params`: the wire view plus the secrets.
    pub fn to_stored(&self) -> Value {
        let mut doc = self.to_view();
        let secrets = [
            ("/smtp", "password", &self.smtp.password),
            ("/s3", "secret", &self.s3.secret),
            ("/backups/s3", "secret", &self.backups.s3.secret),
        ];
        for (section, key, secret) in secrets {
            if let Some(obj) = doc.pointer_mut(section).and_then(Value::as_object_mut) {
                obj.insert(key.to_owned(), Value::String(secret.0.clone()));
            }
        }
        doc
    }

    /// What `GET /api/settings` answers: no secrets, keys in serde_json's (alphabetical)
    /// map order, as before the settings were typed.
    pub fn to_view(&self) -> Value {
        // Plain structs of strings, numbers and lists: serializing cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The batch route's limits.
    pub fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            enabled: self.batch.enabled,
            max_requests: usize::try_from(self.batch.max_requests).unwrap_or(50),
            timeout_secs: u64::try_from(self.batch.timeout).unwrap_or(3),
        }
    }

    /// The `trustedProxy` headers worth trying (blank names dropped).
    pub fn trusted_proxy(&self) -> TrustedProxy {
        TrustedProxy {
            headers: self
                .trusted_proxy
                .headers
                .iter()
                .filter(|h| !h.trim().is_empty())
                .cloned()
                .collect(),
            use_leftmost_ip: self.trusted_proxy.use_leftmost_ip,
        }
    }

    /// Whether a superuser may act from `ip`: any address when `superuserIPs` is empty,
    /// else only a listed address or subnet (an unknown address is refused).
    pub fn superuser_ip_allowed(&self, ip: Option<IpAddr>) -> bool {
        if self.superuser_ips.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| {
            self.superuser_ips
                .iter()
                .filter_map(|s| IpRange::parse(s))
                .any(|r| r.contains(ip))
        })
    }
}

impl Settings {
    /// Whether `ip` is in `rateLimits.excludedIPs` (no limit applies to it).
    pub fn rate_limit_excluded(&self, ip: IpAddr) -> bool {
        self.rate_limits
            .excluded_ips
            .iter()
            .filter_map(|s| IpRange::parse(s))
            .any(|r| r.contains(ip))
    }
}

impl Default for MetaSettings {
    fn default() -> Self {
        MetaSettings {
            app_name: "Acme".into(),
            app_url: "http://localhost:8090".into(),
            sender_name: "Support".into(),
            sender_address: "support@example.com".into(),
            hide_controls: false,
            accent_color: "#1055c9".into(),
        }
    }
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            enabled: false,
            port: 587,
            host: "smtp.example.com".into(),
            username: String::new(),
            password: Secret::default(),
            auth_method: String::new(),
            tls: false,
            local_name: String::new(),
        }
    }
}

impl Default for BackupsSettings {
    fn default() -> Self {
        BackupsSettings {
            cron: String::new(),
            cron_max_keep: 3,
            s3: S3Settings::default(),
        }
    }
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            enabled: false,
            max_requests: 50,
            timeout: 3,
            max_body_size: 0,
        }
    }
}

impl Default for RateLimitsSettings {
    /// On, for the auth endpoints only (PocketBase ships its limits off): per client
    /// address, logins 20 a minute, requests that send mail 5 a minute each, confirmations
    /// 10 a minute each. Other routes are not limited until a rule names them.
    fn default() -> Self {
        let rule = |label: &str, duration, max_requests| RateLimitRule {
            label: label.into(),
            audience: String::new(),
            duration,
            max_requests,
        };
        RateLimitsSettings {
            rules: vec![
                rule("*:auth", 60, 20),
                rule("*:requestOTP", 60, 5),
                rule("*:requestVerification", 60, 5),
                rule("*:requestPasswordReset", 60, 5),
                rule("*:requestEmailChange", 60, 5),
                rule("*:confirmVerification", 60, 10),
                rule("*:confirmPasswordReset", 60, 10),
                rule("*:confirmEmailChange", 60, 10),
            ],
            enabled: true,
            excluded_ips: Vec::new(),
        }
    }
}

impl Default for LogsSettings {
    fn default() -> Self {
        LogsSettings {
            max_data_size: 0,
            max_days: 5,
            min_level: 0,
            log_ip: true,
            log_auth_id: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /api/settings` of a new data dir as the untyped settings answered it.
    const DEFAULT_VIEW: &str = r##"{"backups":{"cron":"","cronMaxKeep":3,"s3":{"accessKey":"","bucket":"","enabled":false,"endpoint":"","forcePathStyle":false,"region":""}},"batch":{"enabled":false,"maxBodySize":0,"maxRequests":50,"timeout":3},"logs":{"logAuthId":false,"logIP":true,"maxDataSize":0,"maxDays":5,"minLevel":0},"meta":{"accentColor":"#1055c9","appName":"Acme","appURL":"http://localhost:8090","hideControls":false,"senderAddress":"support@example.com","senderName":"Support"},"rateLimits":{"enabled":true,"excludedIPs":[],"rules":[{"audience":"","duration":60,"label":"*:auth","maxRequests":20},{"audience":"","duration":60,"label":"*:requestOTP","maxRequests":5},{"audience":"","duration":60,"label":"*:requestVerification","maxRequests":5},{"audience":"","duration":60,"label":"*:requestPasswordReset","maxRequests":5},{"audience":"","duration":60,"label":"*:requestEmailChange","maxRequests":5},{"audience":"","duration":60,"label":"*:confirmVerification","maxRequests":10},{"audience":"","duration":60,"label":"*:confirmPasswordReset","maxRequests":10},{"audience":"","duration":60,"label":"*:confirmEmailChange","maxRequests":10}]},"s3":{"accessKey":"","bucket":"","enabled":false,"endpoint":"","forcePathStyle":false,"region":""},"smtp":{"authMethod":"","enabled":false,"host":"smtp.example.com","localName":"","port":587,"tls":false,"username":""},"superuserIPs":[],"trustedProxy":{"headers":[],"useLeftmostIP":false}}"##;

    #[test]
    fn defaults_serve_the_same_bytes_as_the_untyped_settings() {
        let view = serde_json::to_string(&Settings::default().to_view()).unwrap();
        assert_eq!(view, DEFAULT_VIEW);
    }

    #[test]
    fn the_stored_document_adds_exactly_the_secrets_to_the_view() {
        let mut s = Settings::default();
        s.smtp.password = Secret("hunter2".into());
        s.s3.secret = Secret("s3-secret".into());
        s.backups.s3.secret = Secret("backup-secret".into());
        let view = s.to_view();
        let text = view.to_string();
        for secret in ["hunter2", "s3-secret", "backup-secret"] {
            assert!(!text.contains(secret), "{secret} served: {text}");
        }
        assert!(view["smtp"].get("password").is_none());
        assert!(view["s3"].get("secret").is_none());
        assert!(view["backups"]["s3"].get("secret").is_none());
        let stored = s.to_stored();
        assert_eq!(stored["smtp"]["password"], "hunter2");
        assert_eq!(stored["s3"]["secret"], "s3-secret");
        assert_eq!(stored["backups"]["s3"]["secret"], "backup-secret");
        let back: Settings = serde_json::from_value(stored).unwrap();
        assert_eq!(back, s, "every field survives a store round trip");
        assert!(!format!("{s:?}").contains("hunter2"), "Debug hides secrets");
    }

    #[test]
    fn accessors_read_the_typed_values() {
        let mut s = Settings::default();
        assert_eq!(
            s.batch_limits(),
            BatchLimits {
                enabled: false,
                max_requests: 50,
                timeout_secs: 3
            }
        );
        s.trusted_proxy.headers = vec![" ".into(), "X-Real-IP".into()];
        assert_eq!(s.trusted_proxy().headers, vec!["X-Real-IP".to_owned()]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(s.superuser_ip_allowed(None), "an empty list allows any");
        s.superuser_ips = vec!["10.0.0.0/8".into(), "not-an-ip".into()];
        assert!(s.superuser_ip_allowed(ip("10.1.2.3")));
        assert!(!s.superuser_ip_allowed(ip("127.0.0.1")));
        assert!(!s.superuser_ip_allowed(None));
    }
}
