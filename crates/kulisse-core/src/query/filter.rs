//! Resolving a parsed filter against a collection and a request (spec §3.3–§3.12).
//!
//! Identifiers become storage IR: own columns, JSON paths, request values (bound
//! literals), macros, and paths through relations, back-relations and `@collection`, which
//! become joins (see [`super::paths`]). Fan-out paths follow PocketBase: `?`-operators need
//! one joined row to match, plain operators need every joined row to match, and an empty
//! relation is one NULL row.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use kulisse_filter::{CmpOp as Syn, Comparison, Expr, Operand};
use kulisse_schema::Collection;
use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Term};

use super::RequestInfo;
use super::error::FilterError;
use super::paths::{PathCtx, Resolved, resolve_path};
use super::request::{macro_value, resolve_request};
use crate::collections::Snapshot;

/// Resolution settings for one filter or rule.
pub struct Resolver<'a> {
    /// The collection whose records are filtered.
    pub collection: &'a Collection,
    /// All collections (relation targets, back-relations, `@collection`).
    pub schema: &'a Snapshot,
    /// The request `@request.*` reads.
    pub request: &'a RequestInfo,
    /// Rules and superusers may reference anything. Client filters of other requesters may
    /// not reference hidden fields, only match visible emails, and only reach related
    /// records their list rule shows (§3.11).
    pub allow_hidden: bool,
}

/// Joins registered while resolving one expression, plus a counter for fresh aliases.
#[derive(Default)]
pub(crate) struct Scope {
    pub joins: Vec<Join>,
    pub fresh: usize,
    /// Related list rules of client filters, ANDed with the whole expression.
    pub rules: Vec<Cond>,
}

impl Scope {
    /// Adds joins not yet present (same alias = same path = same joined row).
    pub(crate) fn register(&mut self, joins: Vec<Join>) {
        for j in joins {
            if !self.joins.iter().any(|e| e.alias == j.alias) {
                self.joins.push(j);
            }
        }
    }
}

/// Parses and resolves `text`; an empty filter is `None`.
///
/// # Errors
/// A [`FilterError`] for syntax errors and unknown or forbidden identifiers.
pub fn compile_filter(text: &str, r: &Resolver<'_>) -> Result<Option<Cond>, FilterError> {
    compile_at(text, r, None, 0)
}

/// Compiles `text` with the current row reached through `base` (a join alias) when given;
/// related list rules are compiled this way, nested at most a few levels.
pub(crate) fn compile_at(
    text: &str,
    r: &Resolver<'_>,
    base: Option<&str>,
    depth: usize,
) -> Result<Option<Cond>, FilterError> {
    if text.is_empty() {
        return Ok(None);
    }
    if depth > MAX_RULE_NESTING {
        return Err(FilterError::new(format!(
            "related list rules nest more than {MAX_RULE_NESTING} levels deep"
        )));
    }
    let expr = parsed(text)?;
    let mut scope = Scope::default();
    let ctx = PathCtx { r, base, depth };
    let mut cond = resolve_expr(&expr, &ctx, &mut scope)?;
    if !scope.rules.is_empty() {
        cond = Cond::All(std::iter::once(cond).chain(scope.rules).collect());
    }
    Ok(Some(if scope.joins.is_empty() {
        cond
    } else if needs_every_join(&scope.joins, &cond) {
        Cond::ExistsInner {
            joins: scope.joins,
            cond: Box::new(cond),
        }
    } else {
        Cond::Exists {
            joins: scope.joins,
            cond: Box::new(cond),
        }
    }))
}

/// Distinct filter texts each runtime thread keeps parsed; past this the cache starts over.
const PARSED_PER_THREAD: usize = 256;

thread_local! {
    /// Parsed rules and filters of this thread, by text. Only the syntax tree is kept: what
    /// it resolves to depends on the request and the schema of the moment.
    static PARSED: RefCell<HashMap<Box<str>, Rc<Expr>>> = RefCell::default();
}

/// `text` parsed, from this thread's cache when it was parsed before: every request
/// with a rule compiles that rule again, and parsing was ~2k of a token view's ~53k
/// instructions. Texts that fail to parse are not kept.
fn parsed(text: &str) -> Result<Rc<Expr>, FilterError> {
    if let Some(expr) = PARSED.with_borrow(|cache| cache.get(text).cloned()) {
        return Ok(expr);
    }
    let expr = Rc::new(kulisse_filter::parse(text)?);
    PARSED.with_borrow_mut(|cache| {
        if cache.len() >= PARSED_PER_THREAD {
            cache.clear();
        }
        cache.insert(text.into(), Rc::clone(&expr));
    });
    Ok(expr)
}

/// Whether `cond` can only hold when every join produced a row. Then inner joins answer the
/// same as the LEFT joins (which exist for conditions a missing relation satisfies, like
/// `author.name = ''`) and engines can plan a semi-join instead of one lookup per row.
///
/// Conservative: every leaf alias needs a top-level conjunct that is NULL when that alias
/// is NULL (a comparison of one of its columns with a non-empty literal by `=`, `<`, `>`,
/// `<=`, `>=` or `~`).
fn needs_every_join(joins: &[Join], cond: &Cond) -> bool {
    let mut conjuncts = Vec::new();
    flatten_all(cond, &mut conjuncts);
    joins
        .iter()
        .filter(|j| {
            !joins
                .iter()
                .any(|o| o.alias != j.alias && join_reads(o, &j.alias))
        })
        .all(|leaf| conjuncts.iter().any(|c| null_rejecting(c, &leaf.alias)))
}

fn flatten_all<'c>(cond: &'c Cond, out: &mut Vec<&'c Cond>) {
    match cond {
        Cond::All(items) => items.iter().for_each(|c| flatten_all(c, out)),
        other => out.push(other),
    }
}

fn join_reads(j: &Join, alias: &str) -> bool {
    match &j.source {
        JoinSource::Record { key, .. } | JoinSource::Referencing { key, .. } => term_on(key, alias),
        JoinSource::Elements { array } => term_on(array, alias),
        JoinSource::Every { .. } => false,
    }
}

/// A term that is NULL whenever `alias`'s row is missing.
fn term_on(t: &Term, alias: &str) -> bool {
    match t {
        Term::Field { alias: a, .. } => a == alias,
        Term::Lower(inner) | Term::JsonLength(inner) => term_on(inner, alias),
        Term::JsonPath { source, .. } => term_on(source, alias),
        _ => false,
    }
}

fn null_rejecting(c: &Cond, alias: &str) -> bool {
    let Cond::Compare { left, op, right } = c else {
        return false;
    };
    let strict_literal = |t: &Term| match t {
        Term::Value(Literal::Text(s)) => !s.is_empty(),
        Term::Value(Literal::Number(_) | Literal::Bool(_)) => true,
        _ => false,
    };
    matches!(
        op,
        CmpOp::Eq | CmpOp::Gt | CmpOp::Gte | CmpOp::Lt | CmpOp::Lte | CmpOp::Like
    ) && ((term_on(left, alias) && strict_literal(right))
        || (term_on(right, alias) && strict_literal(left) && *op != CmpOp::Like))
}

/// Related list rules can reference further relations; this bounds the recursion.
const MAX_RULE_NESTING: usize = 4;

fn resolve_expr(e: &Expr, ctx: &PathCtx<'_, '_>, scope: &mut Scope) -> Result<Cond, FilterError> {
    Ok(match e {
        Expr::Cmp(c) => resolve_comparison(c, ctx, scope)?,
        Expr::And(items) => Cond::All(
            items
                .iter()
                .map(|i| resolve_expr(i, ctx, scope))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Cond::Any(
            items
                .iter()
                .map(|i| resolve_expr(i, ctx, scope))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn syn_op(op: Syn) -> CmpOp {
    match op {
        Syn::Eq => CmpOp::Eq,
        Syn::Neq => CmpOp::Neq,
        Syn::Gt => CmpOp::Gt,
        Syn::Gte => CmpOp::Gte,
        Syn::Lt => CmpOp::Lt,
        Syn::Lte => CmpOp::Lte,
        Syn::Like => CmpOp::Like,
        Syn::NotLike => CmpOp::NotLike,
    }
}

fn resolve_comparison(
    c: &Comparison,
    ctx: &PathCtx<'_, '_>,
    scope: &mut Scope,
) -> Result<Cond, FilterError> {
    let op = syn_op(c.op.cmp);
    let shared = "j";
    let left = resolve_operand(&c.left, ctx, shared)?;
    let right = resolve_operand(&c.right, ctx, shared)?;
    let fan_out = left.fan_out || right.fan_out;
    scope.register(left.joins);
    scope.register(right.joins);
    scope.rules.extend(left.rules);
    scope.rules.extend(right.rules);
    if fan_out && !c.op.any {
        // All-of: re-resolve with fresh aliases so this comparison ranges over its own rows.
        scope.fresh += 1;
        let prefix = format!("e{}_{}", ctx.depth, scope.fresh);
        let left = resolve_operand(&c.left, ctx, &prefix)?;
        let right = resolve_operand(&c.right, ctx, &prefix)?;
        let joins = [left.joins, right.joins].concat();
        let mut guards = left.guards;
        guards.extend(right.guards);
        return Ok(Cond::Every {
            joins,
            cond: Box::new(guarded(compare(left.term, op, right.term), guards)),
        });
    }
    let mut guards = left.guards;
    guards.extend(right.guards);
    Ok(guarded(compare(left.term, op, right.term), guards))
}

fn compare(left: Term, op: CmpOp, right: Term) -> Cond {
    Cond::Compare { left, op, right }
}

/// `cond` where the values it compares may be seen only under `guards`.
fn guarded(cond: Cond, guards: Vec<Cond>) -> Cond {
    if guards.is_empty() {
        cond
    } else {
        Cond::All(std::iter::once(cond).chain(guards).collect())
    }
}

/// A sort key: any single-valued path the filter language accepts, resolved the way a
/// filter operand is (same privileges, related list rules and guards).
pub(crate) fn resolve_sort_key(name: &str, r: &Resolver<'_>) -> Result<Resolved, FilterError> {
    let not_a_key = || FilterError::new(format!("\"{name}\" is not a field path"));
    let expr = parsed(&format!("{name} = ''")).map_err(|_| not_a_key())?;
    let Expr::Cmp(c) = &*expr else {
        return Err(not_a_key());
    };
    let ctx = PathCtx {
        r,
        base: None,
        depth: 0,
    };
    resolve_operand(&c.left, &ctx, "j")
}

fn resolve_operand(
    o: &Operand,
    ctx: &PathCtx<'_, '_>,
    prefix: &str,
) -> Result<Resolved, FilterError> {
    match o {
        Operand::Number { value, .. } => Ok(Resolved::value(Literal::Number(*value))),
        Operand::Text { value, .. } => Ok(Resolved::value(Literal::Text(value.clone()))),
        Operand::Call { name, args, .. } => resolve_call(name, args, ctx, prefix),
        Operand::Ident { name, .. } => resolve_ident(name, ctx, prefix),
    }
    .map_err(|e| e.at(o.span()))
}

fn resolve_call(
    name: &str,
    args: &[Operand],
    ctx: &PathCtx<'_, '_>,
    prefix: &str,
) -> Result<Resolved, FilterError> {
    let bad = || FilterError::new(format!("invalid arguments to {name}()"));
    let mut joins = Vec::new();
    let mut rules = Vec::new();
    let mut guards = Vec::new();
    let mut fan_out = false;
    let mut single = |o: &Operand| -> Result<Term, FilterError> {
        let r = resolve_operand(o, ctx, prefix)?;
        fan_out |= r.fan_out;
        joins.extend(r.joins);
        rules.extend(r.rules);
        guards.extend(r.guards);
        Ok(r.term)
    };
    let term = match name {
        "geoDistance"
            if args.len() == 4
                && args
                    .iter()
                    .all(|a| matches!(a, Operand::Ident { .. } | Operand::Number { .. })) =>
        {
            let terms: Vec<Term> = args.iter().map(&mut single).collect::<Result<_, _>>()?;
            let arr: [Term; 4] = terms.try_into().map_err(|_| bad())?;
            Term::GeoDistance(Box::new(arr))
        }
        "strftime" if (1..=10).contains(&args.len()) => {
            let text = |o: &Operand| match o {
                Operand::Text { value, .. } => Ok(value.clone()),
                _ => Err(bad()),
            };
            let format = text(&args[0])?;
            let modifiers = args.iter().skip(2).map(text).collect::<Result<_, _>>()?;
            let value = args.get(1).map(&mut single).transpose()?.map(Box::new);
            Term::Strftime {
                format,
                value,
                modifiers,
            }
        }
        "geoDistance" | "strftime" => return Err(bad()),
        _ => return Err(FilterError::new(format!("unknown function \"{name}\""))),
    };
    Ok(Resolved {
        term,
        joins,
        fan_out,
        rules,
        guards,
    })
}

fn resolve_ident(name: &str, ctx: &PathCtx<'_, '_>, prefix: &str) -> Result<Resolved, FilterError> {
    let r = ctx.r;
    if r.collection.field(name).is_none() {
        match name.to_ascii_lowercase().as_str() {
            "null" => return Ok(Resolved::value(Literal::Null)),
            "true" => return Ok(Resolved::value(Literal::Bool(true))),
            "false" => return Ok(Resolved::value(Literal::Bool(false))),
            _ => {}
        }
    }
    if let Some(rest) = name.strip_prefix("@request.auth.")
        && let Some(resolved) = super::paths::resolve_auth_path(rest, ctx, prefix)?
    {
        return Ok(resolved);
    }
    if let Some(rest) = name.strip_prefix("@request.body.")
        && let Some(resolved) = resolve_body_modifier(rest, ctx, prefix)
    {
        return Ok(resolved);
    }
    if let Some(rest) = name.strip_prefix("@request.") {
        return Ok(Resolved::value(resolve_request(rest, r.request)));
    }
    if let Some(rest) = name.strip_prefix("@collection.") {
        return super::paths::resolve_collection_path(rest, ctx, prefix);
    }
    if name.starts_with('@') {
        return macro_value(name, r.request.now)
            .map(Resolved::value)
            .ok_or_else(|| FilterError::new(format!("unknown macro \"{name}\"")));
    }
    resolve_path(name, ctx, prefix)
}

/// `@request.body.<field>:changed` and `:each` need the schema: `:changed` compares the
/// submitted value with the stored column, `:each` ranges over the submitted items.
fn resolve_body_modifier(rest: &str, ctx: &PathCtx<'_, '_>, prefix: &str) -> Option<Resolved> {
    let (key, modifier) = rest.rsplit_once(':')?;
    let submitted = ctx.r.request.body.get(key);
    match modifier {
        "changed" => {
            let Some(value) = submitted else {
                return Some(Resolved::value(Literal::Bool(false)));
            };
            let literal = super::request::to_literal(Some(value.clone()));
            let differs = Cond::Compare {
                left: ctx.column(key),
                op: CmpOp::Neq,
                right: Term::Value(literal),
            };
            Some(Resolved::term(Term::Condition(Box::new(differs))))
        }
        "each" => {
            let items = match submitted {
                Some(serde_json::Value::Array(items)) => serde_json::Value::Array(items.clone()),
                Some(serde_json::Value::Null) | None => serde_json::Value::Array(vec![]),
                Some(other) => serde_json::Value::Array(vec![other.clone()]),
            };
            let alias = format!("{prefix}__body__{key}");
            let array = Term::Value(Literal::Text(items.to_string()));
            let join = Join {
                alias: alias.clone(),
                source: kulisse_store::JoinSource::Elements { array },
            };
            Some(Resolved {
                term: Term::Field {
                    alias,
                    column: "value".into(),
                },
                joins: vec![join],
                fan_out: true,
                rules: vec![],
                guards: vec![],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use kulisse_schema::Collection;
    use kulisse_store::{Cond, Literal, Term};
    use serde_json::json;

    use super::{Resolver, compile_filter};
    use crate::collections::Snapshot;
    use crate::query::RequestInfo;

    fn compiled(text: &str, q: &str) -> Option<Cond> {
        let c = Collection::from_create_input(&json!({
            "name": "things", "fields": [{"name": "title", "type": "text"}]
        }))
        .unwrap();
        let mut req = RequestInfo::default();
        req.query.insert("q".into(), q.into());
        let schema = Snapshot::default();
        let r = Resolver {
            collection: &c,
            schema: &schema,
            request: &req,
            allow_hidden: true,
        };
        compile_filter(text, &r).ok().flatten()
    }

    fn binds(cond: &Cond, want: &str) -> bool {
        let text = |t: &Term| matches!(t, Term::Value(Literal::Text(s)) if s == want);
        match cond {
            Cond::Compare { left, right, .. } => text(left) || text(right),
            Cond::All(items) | Cond::Any(items) => items.iter().any(|c| binds(c, want)),
            _ => false,
        }
    }

    #[test]
    fn a_cached_parse_still_resolves_each_request_anew() {
        let rule = "title = @request.query.q";
        let first = compiled(rule, "one").unwrap();
        let second = compiled(rule, "two").unwrap();
        assert!(binds(&first, "one") && !binds(&first, "two"), "{first:?}");
        assert!(
            binds(&second, "two") && !binds(&second, "one"),
            "{second:?}"
        );
        // Syntax errors are rejected every time, not remembered as something else.
        assert!(compiled("title = (", "one").is_none());
        assert!(compiled("title = (", "one").is_none());
    }
}
