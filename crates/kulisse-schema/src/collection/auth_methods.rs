//! The one-time password (`otp`) and second factor (`mfa`) options of an auth collection:
//! read typed from the options kept verbatim, and checked as PocketBase checks them, only
//! while enabled (a disabled method's leftovers never block a save).

use serde_json::{Map, Value};

use super::AuthOptions;
use crate::errors::{FieldError, FieldErrors};

/// The longest an OTP or an MFA session may live (PocketBase: a day).
const MAX_DURATION: i64 = 86_400;
/// The shortest (PocketBase: 10 s).
const MIN_DURATION: i64 = 10;
/// The fewest digits of an OTP.
const MIN_OTP_LENGTH: i64 = 4;
/// The most: bcrypt, which stores codes, reads only the first 72 bytes. PocketBase sets
/// no maximum (and would compare only those 72 digits); kulisse refuses longer codes
/// rather than make (or allocate) ones whose tail is never checked.
const MAX_OTP_LENGTH: i64 = 72;

/// `otp`: sign in with a code sent by mail.
#[derive(Debug, Clone, PartialEq)]
pub struct OtpOptions {
    /// Whether `request-otp` and `auth-with-otp` answer.
    pub enabled: bool,
    /// Seconds a code stays valid.
    pub duration: i64,
    /// Digits in a code.
    pub length: usize,
}

/// `mfa`: a second method after the first.
#[derive(Debug, Clone, PartialEq)]
pub struct MfaOptions {
    /// Whether logins need a second method.
    pub enabled: bool,
    /// Seconds the second method may take.
    pub duration: i64,
    /// Which records need it (a filter on the record; empty: all).
    pub rule: String,
}

fn option<'a>(auth: &'a AuthOptions, key: &str) -> Option<&'a Map<String, Value>> {
    auth.extra.get(key).and_then(Value::as_object)
}

fn enabled(o: Option<&Map<String, Value>>) -> bool {
    o.and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn number(o: Option<&Map<String, Value>>, key: &str) -> i64 {
    o.and_then(|o| o.get(key))
        .and_then(Value::as_f64)
        .map_or(0, |n| n as i64)
}

impl AuthOptions {
    /// The `otp` options.
    pub fn otp(&self) -> OtpOptions {
        let o = option(self, "otp");
        OtpOptions {
            enabled: enabled(o),
            duration: number(o, "duration"),
            length: usize::try_from(number(o, "length").min(MAX_OTP_LENGTH)).unwrap_or(0),
        }
    }

    /// The `mfa` options.
    pub fn mfa(&self) -> MfaOptions {
        let o = option(self, "mfa");
        MfaOptions {
            enabled: enabled(o),
            duration: number(o, "duration"),
            rule: o
                .and_then(|o| o.get("rule"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// Whether `input` (a submitted `otp` or `mfa`) has the types PocketBase loads: a
/// wrongly typed option fails the whole body, as in PocketBase.
pub(crate) fn loadable(key: &str, input: &Value) -> bool {
    let Some(o) = input.as_object() else {
        return false;
    };
    let is = |k: &str, ok: fn(&Value) -> bool| o.get(k).is_none_or(|v| v.is_null() || ok(v));
    match key {
        "otp" => {
            is("enabled", Value::is_boolean)
                && is("duration", Value::is_number)
                && is("length", Value::is_number)
        }
        "mfa" => {
            is("enabled", Value::is_boolean)
                && is("duration", Value::is_number)
                && is("rule", Value::is_string)
        }
        "oauth2" => super::oauth2::loadable(o),
        _ => true,
    }
}

/// PocketBase's checks of `otp` and `mfa` (the MFA rule's syntax is the services' to
/// check: it needs the schema).
pub(crate) fn validate(auth: &AuthOptions, errs: &mut FieldErrors) {
    let otp = auth.otp();
    if otp.enabled {
        let mut e = FieldErrors::new();
        check_duration(otp.duration, &mut e);
        let length = number(option(auth, "otp"), "length");
        if length == 0 {
            e.add("length", FieldError::required());
        } else if length < MIN_OTP_LENGTH {
            e.add("length", at_least(MIN_OTP_LENGTH));
        } else if length > MAX_OTP_LENGTH {
            e.add("length", at_most(MAX_OTP_LENGTH));
        }
        errs.add_nested("otp", e);
    }
    let mfa = auth.mfa();
    if mfa.enabled {
        let mut e = FieldErrors::new();
        check_duration(mfa.duration, &mut e);
        let methods = [
            auth.password_auth_enabled,
            otp.enabled,
            auth.oauth2().enabled,
        ];
        if methods.iter().filter(|on| **on).count() < 2 {
            e.add(
                "enabled",
                FieldError::new(
                    "validation_mfa_not_enough_auths",
                    "MFA requires at least 2 auth methods to be enabled.",
                ),
            );
        }
        errs.add_nested("mfa", e);
    }
}

fn check_duration(duration: i64, e: &mut FieldErrors) {
    if duration == 0 {
        e.add("duration", FieldError::required());
    } else if duration < MIN_DURATION {
        e.add("duration", at_least(MIN_DURATION));
    } else if duration > MAX_DURATION {
        e.add("duration", at_most(MAX_DURATION));
    }
}

fn at_most(max: i64) -> FieldError {
    FieldError::new(
        "validation_max_less_equal_than_required",
        format!("Must be no greater than {max}."),
    )
    .with_param("threshold", max)
}

fn at_least(min: i64) -> FieldError {
    FieldError::new(
        "validation_min_greater_equal_than_required",
        format!("Must be no less than {min}."),
    )
    .with_param("threshold", min)
}
