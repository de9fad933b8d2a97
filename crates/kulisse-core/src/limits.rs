//! Rate limits (spec §8.6): the settings' `rateLimits` rules, PocketBase's labels and
//! audiences, counted per rule and client address in fixed windows shared by every node
//! ([`Store::hit`]).
//!
//! Unlike PocketBase, the limits are on by default, for the auth endpoints only (logins,
//! mailed requests and their confirmations; see [`RateLimitsSettings::default`]): they are
//! what an attacker tries first, and none of them is called often by a well-behaved client.
//!
//! The key is the rule and the client's address ([`Attempt::ip`], the `trustedProxy`
//! header's address or else the connection's), never what the request spells: the route
//! arrives as its tags and the collection by its name, so `USERS`, its id or a
//! percent-encoded name count as `users`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kulisse_store::Store;

use crate::Ambient;
use crate::auth::Auth;
use crate::error::CoreError;
use crate::settings::{RateLimitRule, Settings, SettingsService};

/// One request as the limits see it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// `GET`, `POST`…
    pub method: &'a str,
    /// The URL path, without the query.
    pub path: &'a str,
    /// The collection a record, auth or file route is about, by name.
    pub collection: Option<&'a str>,
    /// The route's actions (PocketBase's tags: `list`, `authWithPassword`, `auth`…).
    pub tags: &'a [&'a str],
    /// The client's address.
    pub ip: Option<IpAddr>,
}

/// A request over a limit: how long until its window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the window closes (at least 1).
    pub retry_after: u64,
}

/// Counts requests against the settings' rules.
#[derive(Clone)]
pub struct RateLimits {
    store: Arc<dyn Store>,
    settings: SettingsService,
    ambient: Ambient,
    /// What the rules are about ([`Summary`]), for the settings of its version.
    summary: Arc<Summary>,
}

/// The tags routes carry, in the order of their bits in a [`Summary`] (the busiest
/// first: they are looked up on every request).
pub const TAGS: [&str; 19] = [
    "view",
    "list",
    "create",
    "update",
    "delete",
    "file",
    "listAuthMethods",
    "authRefresh",
    "auth",
    "authWithPassword",
    "authWithOAuth2",
    "requestOTP",
    "authWithOTP",
    "requestVerification",
    "confirmVerification",
    "requestPasswordReset",
    "confirmPasswordReset",
    "requestEmailChange",
    "confirmEmailChange",
];

/// What the rules in force are about, as bits: every request asks it, so it is read
/// without a lock (a lock's counter, written by every request on every core, would move
/// between the cores' caches on each one).
#[derive(Default)]
struct Summary {
    /// The settings' version the bits were made from, plus one (0: not made yet).
    version: AtomicU64,
    /// [`ENABLED`], [`PATHS`] and one bit per tag a rule names ([`bit`]).
    bits: AtomicU64,
}

/// The rules apply.
const ENABLED: u64 = 1 << 62;
/// A rule names a path (`/api/`, `POST /api/batch`): any request may be about.
const PATHS: u64 = 1 << 63;

/// The bit of a route tag (`None` for a word no route carries, which no request matches).
fn bit(tag: &str) -> Option<u64> {
    TAGS.iter().position(|t| *t == tag).map(|i| 1 << i)
}

impl Summary {
    fn bits_of(settings: &Settings) -> u64 {
        let mut bits = if settings.rate_limits.enabled {
            ENABLED
        } else {
            0
        };
        for rule in &settings.rate_limits.rules {
            let label = rule.label.as_str();
            match label.split_once(':') {
                Some((_, tag)) => bits |= bit(tag).unwrap_or(0),
                None if label.starts_with('/') || label.contains(' ') => bits |= PATHS,
                None => bits |= bit(label).unwrap_or(0),
            }
        }
        bits
    }
}

impl RateLimits {
    pub(crate) fn new(store: Arc<dyn Store>, settings: SettingsService, ambient: Ambient) -> Self {
        Self {
            store,
            settings,
            ambient,
            summary: Arc::default(),
        }
    }

    /// Whether any enabled rule could apply to a request of a route with `tags`: a rule
    /// naming one of them, or a path rule. Asked of every request, with nothing but the
    /// route's tags, so it reads bits made once per settings version.
    pub fn may_apply(&self, tags: &[&str]) -> bool {
        let version = self.settings.version() + 1;
        let bits = if self.summary.version.load(Ordering::Acquire) == version {
            self.summary.bits.load(Ordering::Acquire)
        } else {
            let bits = Summary::bits_of(&self.settings.snapshot());
            self.summary.bits.store(bits, Ordering::Release);
            self.summary.version.store(version, Ordering::Release);
            bits
        };
        bits & ENABLED != 0
            && (bits & PATHS != 0 || tags.iter().any(|t| bit(t).is_some_and(|b| bits & b != 0)))
    }

    /// Whether any enabled rule could apply to `attempt` whoever sends it: lets a request
    /// no rule names skip authenticating for the audience.
    pub fn may_limit(&self, attempt: &Attempt<'_>) -> bool {
        let settings = self.settings.snapshot();
        settings.rate_limits.enabled
            && settings
                .rate_limits
                .rules
                .iter()
                .any(|rule| rank(&rule.label, attempt).is_some())
    }

    /// Counts `attempt` by `auth` against the rule that applies to it.
    ///
    /// # Errors
    /// [`Limited`] past the rule's `maxRequests` in its window; a store failure is logged
    /// and lets the request through (limits must not take the API down with them).
    pub async fn check(&self, attempt: &Attempt<'_>, auth: &Auth) -> Result<(), Limited> {
        if auth.is_superuser() {
            return Ok(());
        }
        let settings = self.settings.snapshot();
        if !settings.rate_limits.enabled {
            return Ok(());
        }
        if attempt
            .ip
            .is_some_and(|ip| settings.rate_limit_excluded(ip))
        {
            return Ok(());
        }
        let audience = match auth {
            Auth::Guest => Audience::Guest,
            Auth::Record { .. } => Audience::Auth,
        };
        let Some(rule) = pick(&settings, attempt, audience) else {
            return Ok(());
        };
        let ip = attempt.ip.map(|ip| ip.to_canonical().to_string());
        let key = format!(
            "rl:{}:{}:{}",
            rule.label,
            rule.audience,
            ip.as_deref().unwrap_or_default()
        );
        let now = self.ambient.clock.now().as_second();
        match self.store.hit(&key, rule.duration.max(1), now).await {
            Ok(hits) if hits.count > u64::try_from(rule.max_requests).unwrap_or(0) => {
                Err(Limited {
                    retry_after: u64::try_from(hits.closes - now).unwrap_or(0).max(1),
                })
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %CoreError::from(e), "rate limit not counted");
                Ok(())
            }
        }
    }
}

/// Who sends a request, as a rule's `audience` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// No valid token (`@guest`).
    Guest,
    /// An authenticated record (`@auth`).
    Auth,
}

/// The rule that applies: the best-ranked label (PocketBase's order: `collection:tag`,
/// `*:tag`, `METHOD /path`, `/path`, then the longest `/prefix/`) whose audience includes
/// `audience`.
fn pick<'s>(
    settings: &'s Settings,
    attempt: &Attempt<'_>,
    audience: Audience,
) -> Option<&'s RateLimitRule> {
    settings
        .rate_limits
        .rules
        .iter()
        .filter(|rule| match rule.audience.as_str() {
            "" => true,
            "@guest" => audience == Audience::Guest,
            "@auth" => audience == Audience::Auth,
            _ => false,
        })
        .filter_map(|rule| rank(&rule.label, attempt).map(|r| (r, rule)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, rule)| rule)
}

/// How well `label` matches `attempt` (lower is better), `None` when it does not:
/// PocketBase's order, with longer prefixes before shorter ones.
fn rank(label: &str, attempt: &Attempt<'_>) -> Option<(u8, usize)> {
    let tagged = |tag: &str| attempt.tags.contains(&tag);
    if let Some((scope, tag)) = label.split_once(':') {
        return match scope {
            "*" => tagged(tag).then_some((1, 0)),
            c => (attempt
                .collection
                .is_some_and(|name| name.eq_ignore_ascii_case(c))
                && tagged(tag))
            .then_some((0, 0)),
        };
    }
    if let Some((method, path)) = label.split_once(' ') {
        return (method.eq_ignore_ascii_case(attempt.method) && path == attempt.path)
            .then_some((2, 0));
    }
    if !label.starts_with('/') {
        // A bare word is a tag of any collection.
        return tagged(label).then_some((1, 0));
    }
    if label == attempt.path {
        return Some((3, 0));
    }
    (label.ends_with('/') && attempt.path.starts_with(label))
        .then_some((4, usize::MAX - label.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(method: &'a str, path: &'a str, tags: &'a [&'a str]) -> Attempt<'a> {
        Attempt {
            method,
            path,
            collection: Some("users"),
            tags,
            ip: None,
        }
    }

    #[test]
    fn labels_rank_in_pocketbases_order() {
        let a = attempt(
            "POST",
            "/api/collections/users/auth-with-password",
            &["authWithPassword", "auth"],
        );
        let order = [
            "users:auth",
            "*:authWithPassword",
            "POST /api/collections/users/auth-with-password",
            "/api/collections/users/auth-with-password",
            "/api/collections/",
            "/api/",
        ];
        let ranks: Vec<_> = order.iter().map(|l| rank(l, &a).unwrap()).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        assert!(rank("/api/collections/", &a) < rank("/api/", &a));
        for miss in [
            "posts:auth",
            "*:list",
            "GET /api/collections/users/auth-with-password",
            "/api/collections",
            "/api/files/",
        ] {
            assert_eq!(rank(miss, &a), None, "{miss}");
        }
        assert_eq!(
            rank("USERS:auth", &a),
            Some((0, 0)),
            "names match in any case"
        );
    }
}
