//! The checks `PATCH /api/settings` runs before saving, with PocketBase's codes and
//! field paths (`data.meta.appName.code`, `data.rateLimits.rules.0.label.code`).

use kulisse_schema::{FieldError, FieldErrors};

use super::ip_range::IpRange;
use super::model::{S3Settings, Settings};

/// Every field error of `s`, nested as PocketBase nests them.
pub(super) fn validate(s: &Settings) -> Result<(), FieldErrors> {
    let mut errs = FieldErrors::new();
    errs.add_nested("batch", batch(s));
    let mut meta = FieldErrors::new();
    if s.meta.app_name.is_empty() {
        meta.add("appName", FieldError::required());
    }
    errs.add_nested("meta", meta);
    errs.add_nested("rateLimits", rate_limits(s));
    errs.add_nested("superuserIPs", ip_list(&s.superuser_ips));
    let mut logs = FieldErrors::new();
    if s.logs.max_days < 0 {
        logs.add("maxDays", at_least_zero());
    }
    errs.add_nested("logs", logs);
    let mut smtp = FieldErrors::new();
    if s.smtp.enabled {
        if s.smtp.host.is_empty() {
            smtp.add("host", FieldError::required());
        }
        if !(1..=65535).contains(&s.smtp.port) {
            smtp.add("port", FieldError::required());
        }
    }
    errs.add_nested("smtp", smtp);
    errs.add_nested("s3", s3(&s.s3));
    let mut backups = FieldErrors::new();
    if !s.backups.cron.is_empty() {
        if s.backups.cron.parse::<croner::Cron>().is_err() {
            backups.add(
                "cron",
                FieldError::new("validation_invalid_cron", "Invalid cron expression."),
            );
        }
        if s.backups.cron_max_keep < 1 {
            backups.add("cronMaxKeep", FieldError::required());
        }
    }
    backups.add_nested("s3", s3(&s.backups.s3));
    errs.add_nested("backups", backups);
    errs.into_result()
}

/// An enabled bucket needs all of its settings, and an endpoint that is a URL.
fn s3(s3: &S3Settings) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !s3.enabled {
        return errs;
    }
    for (key, value) in [
        ("accessKey", s3.access_key.as_str()),
        ("bucket", s3.bucket.as_str()),
        ("endpoint", s3.endpoint.as_str()),
        ("region", s3.region.as_str()),
        ("secret", s3.secret.expose()),
    ] {
        if value.is_empty() {
            errs.add(key, FieldError::required());
        }
    }
    if !s3.endpoint.is_empty() && s3.endpoint_url().is_none() {
        errs.add(
            "endpoint",
            FieldError::new("validation_is_url", "Must be a valid URL."),
        );
    }
    errs
}

fn batch(s: &Settings) -> FieldErrors {
    let b = &s.batch;
    let mut errs = FieldErrors::new();
    for (key, n) in [
        ("maxRequests", b.max_requests),
        ("timeout", b.timeout),
        ("maxBodySize", b.max_body_size),
    ] {
        if n < 0 {
            errs.add(key, at_least_zero());
        }
    }
    if b.enabled {
        for (key, n) in [("maxRequests", b.max_requests), ("timeout", b.timeout)] {
            if n == 0 {
                errs.add(key, FieldError::required());
            }
        }
    }
    errs
}

fn rate_limits(s: &Settings) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut rules = FieldErrors::new();
    for (i, rule) in s.rate_limits.rules.iter().enumerate() {
        let mut e = FieldErrors::new();
        if !valid_rate_limit_label(&rule.label) {
            e.add(
                "label",
                FieldError::new("validation_match_invalid", "Must be in a valid format."),
            );
        }
        if !matches!(rule.audience.as_str(), "" | "@guest" | "@auth") {
            e.add(
                "audience",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        for (key, value) in [
            ("duration", rule.duration),
            ("maxRequests", rule.max_requests),
        ] {
            if value == 0 {
                e.add(key, FieldError::required());
            } else if value < 0 {
                e.add(
                    key,
                    FieldError::new(
                        "validation_min_greater_equal_than_required",
                        "Must be no less than 1.",
                    )
                    .with_param("threshold", 1),
                );
            }
        }
        rules.add_nested(i.to_string(), e);
    }
    errs.add_nested("rules", rules);
    errs.add_nested("excludedIPs", ip_list(&s.rate_limits.excluded_ips));
    errs
}

/// Errors of a list of addresses and subnets, keyed by index.
fn ip_list(list: &[String]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, text) in list.iter().enumerate() {
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
}

fn at_least_zero() -> FieldError {
    FieldError::new(
        "validation_min_greater_equal_than_required",
        "Must be no less than 0.",
    )
    .with_param("threshold", 0)
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
    use serde_json::json;

    use super::*;
    use crate::settings::model::RateLimitRule;

    #[test]
    fn the_defaults_are_valid() {
        assert!(validate(&Settings::default()).is_ok());
    }

    #[test]
    fn invalid_values_are_reported_at_pocketbase_paths() {
        let mut s = Settings::default();
        s.rate_limits.rules = vec![RateLimitRule {
            label: "bad label!".into(),
            ..RateLimitRule::default()
        }];
        s.rate_limits.excluded_ips = vec!["nope".into()];
        s.batch.max_requests = -1;
        s.meta.app_name = String::new();
        s.superuser_ips = vec!["127.0.0.1".into(), String::new(), "10.0.0.0/33".into()];
        s.logs.max_days = -2;
        let min = json!({"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}});
        let required = json!({"code": "validation_required", "message": "Cannot be blank."});
        let invalid_ip = json!({"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."});
        let errs = validate(&s).unwrap_err().to_json();
        assert_eq!(
            errs,
            json!({
                "batch": {"maxRequests": min},
                "logs": {"maxDays": min},
                "meta": {"appName": required},
                "rateLimits": {
                    "excludedIPs": {"0": invalid_ip},
                    "rules": {"0": {
                        "label": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
                        "duration": required,
                        "maxRequests": required
                    }}
                },
                "superuserIPs": {"1": required, "2": invalid_ip}
            })
        );
    }

    #[test]
    fn a_backup_schedule_is_a_cron_expression_that_keeps_at_least_one() {
        let mut s = Settings::default();
        s.backups.cron = "0 3 * * *".into();
        assert!(validate(&s).is_ok());
        s.backups.cron = "at three".into();
        s.backups.cron_max_keep = 0;
        let errs = validate(&s).unwrap_err().to_json();
        assert_eq!(errs["backups"]["cron"]["code"], "validation_invalid_cron");
        assert_eq!(
            errs["backups"]["cronMaxKeep"]["code"],
            "validation_required"
        );
    }

    #[test]
    fn an_enabled_batch_needs_requests_and_time() {
        let mut s = Settings::default();
        s.batch.enabled = true;
        s.batch.max_requests = 0;
        s.batch.timeout = 0;
        let required = json!({"code": "validation_required", "message": "Cannot be blank."});
        assert_eq!(
            validate(&s).unwrap_err().to_json(),
            json!({"batch": {"maxRequests": required, "timeout": required}})
        );
    }
}
