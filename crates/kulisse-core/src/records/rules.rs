//! The five API rules as they apply to a requester: which rule an action checks, its
//! text or `null`-ness, and the rule compiled against the request (`@request.*`) into a
//! condition the store evaluates. Superusers bypass every rule.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Cond, Row, Select, StoreTx};

use super::service::RecordsService;
use crate::collections::Snapshot;
use crate::error::CoreError;
use crate::metrics::series;
use crate::query::{QueryError, RequestInfo, Resolver, compile_filter};

/// Which API rule an action checks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    List,
    View,
    Create,
    Update,
    Delete,
}

/// A rule as it applies to the requester.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// Superusers skip rules.
    Bypass,
    /// A filter the record must match (compiled inside the transaction).
    Check(String),
    /// `null`: superusers only. Upserts carry it until they know which rule applies.
    Refused,
}

impl Rule {
    pub(super) fn of(text: Result<Option<String>, CoreError>) -> Rule {
        match text {
            Ok(None) => Rule::Bypass,
            Ok(Some(t)) => Rule::Check(t),
            Err(_) => Rule::Refused,
        }
    }

    pub(super) fn text(&self) -> Result<Option<&str>, CoreError> {
        match self {
            Rule::Bypass => Ok(None),
            Rule::Check(t) => Ok(Some(t)),
            Rule::Refused => Err(CoreError::SuperusersOnly),
        }
    }
}

impl RecordsService {
    /// The rule text for `action`, or `None` when the requester bypasses rules.
    /// A `null` rule is refused here for non-superusers.
    pub(crate) fn rule_text(
        c: &Collection,
        action: Action,
        req: &RequestInfo,
    ) -> Result<Option<String>, CoreError> {
        if req.auth.is_superuser() {
            return Ok(None);
        }
        let rule = match action {
            Action::List => &c.rules.list,
            Action::View => &c.rules.view,
            Action::Create => &c.rules.create,
            Action::Update => &c.rules.update,
            Action::Delete => &c.rules.delete,
        };
        rule.clone().map(Some).ok_or(CoreError::SuperusersOnly)
    }

    /// The compiled rule condition for `action`, or `None` when the requester bypasses it.
    pub(crate) fn rule_cond(
        &self,
        c: &Collection,
        action: Action,
        req: &RequestInfo,
    ) -> Result<Option<Cond>, CoreError> {
        match Self::rule_text(c, action, req)? {
            Some(rule) if !rule.trim().is_empty() => {
                compile_rule(&rule, c, &self.registry.snapshot(), req).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Compiles a rule (rules may reference anything, hidden fields included).
pub(crate) fn compile_rule(
    rule: &str,
    c: &Collection,
    schema: &Snapshot,
    req: &RequestInfo,
) -> Result<Cond, CoreError> {
    if rule.trim().is_empty() {
        return Ok(Cond::True);
    }
    let started = std::time::Instant::now();
    let resolver = Resolver {
        collection: c,
        schema,
        request: req,
        allow_hidden: true,
    };
    let cond = compile_filter(rule, &resolver).map_err(|e| QueryError::broken_rule(&e, rule));
    metrics::histogram!(series::RULE_COMPILE).record(started.elapsed());
    Ok(cond?.unwrap_or(Cond::True))
}

/// `@request.body` as rules see it: submitted keys, with every modified field replaced by
/// its value after the modifiers (`tags+` folded into `tags`).
pub(super) fn request_for_rule(
    req: &RequestInfo,
    c: &Collection,
    row: &Row,
    touched: &[String],
) -> RequestInfo {
    let mut rule_req = req.clone();
    rule_req.body.retain(|k, _| {
        let base = k.trim_start_matches('+').trim_end_matches(['+', '-']);
        let base = base.strip_suffix(":autogenerate").unwrap_or(base);
        !(touched.iter().any(|t| t == base) && k != base) && c.field(base).is_none_or(|_| k == base)
    });
    for name in touched {
        if let Some(v) = row.get(name) {
            rule_req.body.insert(name.clone(), v.clone());
        }
    }
    rule_req
}

/// The auth record a `manageRule` is checked for.
pub(super) enum Managed<'a> {
    /// A stored record, by id.
    Stored(&'a str),
    /// A record about to be created.
    Draft(&'a Row),
}

/// Whether the requester manages an auth record (PocketBase's `manageRule`: managers may
/// set `verified`, `email` and `emailVisibility` and a new password without the old one),
/// as far as it can be told without reading the database.
pub(super) enum Manages {
    /// A superuser manages every record.
    Always,
    /// Not an auth collection, or no `manageRule`.
    Never,
    /// The requester does if this query finds the record.
    If(Box<Select>),
}

impl Manages {
    /// Decides for `req` about `target` of `c`; `row`/`touched` give the rule's
    /// `@request.body` (the body after modifiers).
    pub(super) fn of(
        c: &Arc<Collection>,
        schema: &Snapshot,
        req: &RequestInfo,
        target: Managed<'_>,
        row: &Row,
        touched: &[String],
    ) -> Result<Manages, CoreError> {
        if req.auth.is_superuser() {
            return Ok(Manages::Always);
        }
        let Some(rule) = c.auth.as_ref().and_then(|a| a.manage_rule.as_deref()) else {
            return Ok(Manages::Never);
        };
        let cond = compile_rule(rule, c, schema, &request_for_rule(req, c, row, touched))?;
        let q = match target {
            Managed::Stored(id) => Select::by_id(Arc::clone(c), id),
            Managed::Draft(draft) => Select {
                virtual_row: Some(draft.clone()),
                limit: Some(1),
                ..Select::all(Arc::clone(c))
            },
        };
        Ok(Manages::If(Box::new(q.and(cond))))
    }

    /// The answer, reading inside the write transaction when it takes a query.
    pub(super) fn decide(self, tx: &mut dyn StoreTx) -> Result<bool, CoreError> {
        match self {
            Manages::Always => Ok(true),
            Manages::Never => Ok(false),
            Manages::If(q) => Ok(!tx.select(&q)?.is_empty()),
        }
    }
}
