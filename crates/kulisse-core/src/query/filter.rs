//! Resolving a parsed filter against a collection and a request (spec §3.3–§3.10).

use jiff::{Timestamp, ToSpan, Zoned, tz::TimeZone};
use kulisse_filter::{CmpOp as Syn, Comparison, Expr, Operand};
use kulisse_schema::{Collection, FieldKind};
use kulisse_store::{CmpOp, Cond, Literal, Term};
use serde_json::Value;

use super::RequestInfo;
use crate::error::CoreError;

/// Resolution settings for one filter or rule.
pub struct Resolver<'a> {
    /// The collection whose records are filtered.
    pub collection: &'a Collection,
    /// The request `@request.*` reads.
    pub request: &'a RequestInfo,
    /// Hidden fields may be referenced (rules and superusers), or not (client filters).
    pub allow_hidden: bool,
}

/// Parses and resolves `text`; an empty filter is `None`.
///
/// # Errors
/// [`CoreError::BadRequest`] for syntax errors and unknown or forbidden identifiers.
pub fn compile_filter(text: &str, r: &Resolver<'_>) -> Result<Option<Cond>, CoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    let expr = kulisse_filter::parse(text).map_err(|e| {
        tracing::debug!(error = %e, "filter rejected");
        CoreError::generic_bad_request()
    })?;
    resolve_expr(&expr, r).map(Some)
}

fn resolve_expr(e: &Expr, r: &Resolver<'_>) -> Result<Cond, CoreError> {
    Ok(match e {
        Expr::Cmp(c) => resolve_comparison(c, r)?,
        Expr::And(items) => Cond::All(
            items
                .iter()
                .map(|i| resolve_expr(i, r))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Cond::Any(
            items
                .iter()
                .map(|i| resolve_expr(i, r))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A resolved operand: a single value, or each element of a multi-valued column.
enum Resolved {
    Single(Term),
    Each(String),
}

fn resolve_comparison(c: &Comparison, r: &Resolver<'_>) -> Result<Cond, CoreError> {
    let op = match c.op.cmp {
        Syn::Eq => CmpOp::Eq,
        Syn::Neq => CmpOp::Neq,
        Syn::Gt => CmpOp::Gt,
        Syn::Gte => CmpOp::Gte,
        Syn::Lt => CmpOp::Lt,
        Syn::Lte => CmpOp::Lte,
        Syn::Like => CmpOp::Like,
        Syn::NotLike => CmpOp::NotLike,
    };
    let left = resolve_operand(&c.left, r)?;
    let right = resolve_operand(&c.right, r)?;
    let cond = match (left, right) {
        (Resolved::Single(left), Resolved::Single(right)) => Cond::Compare { left, op, right },
        (Resolved::Each(column), Resolved::Single(right)) => Cond::Each {
            column,
            op,
            right,
            any: c.op.any,
        },
        (Resolved::Single(left), Resolved::Each(column)) => Cond::Each {
            column,
            op: flip(op).ok_or_else(CoreError::generic_bad_request)?,
            right: left,
            any: c.op.any,
        },
        (Resolved::Each(_), Resolved::Each(_)) => return Err(CoreError::generic_bad_request()),
    };
    // PB compat: clients only match emails their owners made visible (§3.11), owners included.
    let names_email = |o: &Operand| matches!(o, Operand::Ident { name, .. } if name == "email" || name.starts_with("email:"));
    if !r.allow_hidden && r.collection.is_auth() && (names_email(&c.left) || names_email(&c.right))
    {
        let visible = Cond::Compare {
            left: Term::Column("emailVisibility".into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Bool(true)),
        };
        return Ok(Cond::All(vec![cond, visible]));
    }
    Ok(cond)
}

/// `a op b` ≡ `b flip(op) a`; LIKE has no mirror image.
fn flip(op: CmpOp) -> Option<CmpOp> {
    Some(match op {
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Gte => CmpOp::Lte,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Lte => CmpOp::Gte,
        CmpOp::Like | CmpOp::NotLike => return None,
        same => same,
    })
}

fn resolve_operand(o: &Operand, r: &Resolver<'_>) -> Result<Resolved, CoreError> {
    Ok(match o {
        Operand::Number { value, .. } => Resolved::Single(Term::Value(Literal::Number(*value))),
        Operand::Text { value, .. } => Resolved::Single(Term::Value(Literal::Text(value.clone()))),
        Operand::Call { name, args, .. } => Resolved::Single(resolve_call(name, args, r)?),
        Operand::Ident { name, .. } => resolve_ident(name, r)?,
    })
}

fn resolve_call(name: &str, args: &[Operand], r: &Resolver<'_>) -> Result<Term, CoreError> {
    let single = |o: &Operand| match resolve_operand(o, r)? {
        Resolved::Single(t) => Ok(t),
        Resolved::Each(_) => Err(CoreError::generic_bad_request()),
    };
    match name {
        "geoDistance"
            if args.len() == 4
                && args
                    .iter()
                    .all(|a| matches!(a, Operand::Ident { .. } | Operand::Number { .. })) =>
        {
            let terms: Vec<Term> = args.iter().map(single).collect::<Result<_, _>>()?;
            let arr: [Term; 4] = terms
                .try_into()
                .map_err(|_| CoreError::generic_bad_request())?;
            Ok(Term::GeoDistance(Box::new(arr)))
        }
        "strftime" if (1..=10).contains(&args.len()) => {
            let text = |o: &Operand| match o {
                Operand::Text { value, .. } => Ok(value.clone()),
                _ => Err(CoreError::generic_bad_request()),
            };
            let format = text(&args[0])?;
            let value = args.get(1).map(single).transpose()?.map(Box::new);
            let modifiers = args.iter().skip(2).map(text).collect::<Result<_, _>>()?;
            Ok(Term::Strftime {
                format,
                value,
                modifiers,
            })
        }
        _ => Err(CoreError::generic_bad_request()),
    }
}

fn resolve_ident(name: &str, r: &Resolver<'_>) -> Result<Resolved, CoreError> {
    let lit = |l: Literal| Ok(Resolved::Single(Term::Value(l)));
    if r.collection.field(name).is_none() {
        match name.to_ascii_lowercase().as_str() {
            "null" => return lit(Literal::Null),
            "true" => return lit(Literal::Bool(true)),
            "false" => return lit(Literal::Bool(false)),
            _ => {}
        }
    }
    if let Some(rest) = name.strip_prefix("@request.") {
        return lit(resolve_request(rest, r.request));
    }
    if name.starts_with("@collection.") {
        // TODO(#3): cross-collection joins arrive with the rules issue.
        return Err(CoreError::generic_bad_request());
    }
    if name.starts_with('@') {
        return macro_value(name).map_or_else(|| Err(CoreError::generic_bad_request()), lit);
    }
    resolve_field_path(name, r)
}

fn resolve_field_path(name: &str, r: &Resolver<'_>) -> Result<Resolved, CoreError> {
    let bad = CoreError::generic_bad_request;
    let (path, modifier) = match name.rsplit_once(':') {
        Some((p, m)) => (p, Some(m)),
        None => (name, None),
    };
    let mut segments = path.split('.');
    let head = segments.next().ok_or_else(bad)?;
    let field = r.collection.field(head).ok_or_else(bad)?;
    let secret = matches!(field.kind, FieldKind::Password { .. }) || field.name == "tokenKey";
    if (field.hidden || secret) && !r.allow_hidden {
        return Err(bad());
    }
    let rest: Vec<String> = segments.map(str::to_owned).collect();
    let column = field.name.clone();
    let term = if rest.is_empty() {
        Term::Column(column.clone())
    } else {
        match field.kind {
            FieldKind::Json { .. } | FieldKind::GeoPoint => Term::JsonPath {
                column: column.clone(),
                path: rest,
            },
            // TODO(#3): relation paths (`author.name`) need joins, which the rules issue adds.
            _ => return Err(bad()),
        }
    };
    Ok(match modifier {
        None => Resolved::Single(term),
        Some("lower") => Resolved::Single(Term::Lower(Box::new(term))),
        Some("each") if field.kind.is_multiple() && matches!(term, Term::Column(_)) => {
            Resolved::Each(column)
        }
        Some("length") if field.kind.is_multiple() && matches!(term, Term::Column(_)) => {
            Resolved::Single(Term::JsonLength(column))
        }
        _ => return Err(bad()),
    })
}

/// `@request.*` values are known before the query runs, so they become bound literals.
fn resolve_request(path: &str, req: &RequestInfo) -> Literal {
    let (path, modifier) = match path.rsplit_once(':') {
        Some((p, m)) => (p, Some(m)),
        None => (path, None),
    };
    let value: Option<Value> = match path.split_once('.') {
        None => match path {
            "method" => Some(Value::String(req.method.clone())),
            "context" => Some(Value::String(req.context.to_owned())),
            _ => None,
        },
        Some(("auth", key)) => match &req.auth {
            crate::auth::Auth::Guest => None,
            crate::auth::Auth::Record { collection, record } => match key {
                "collectionId" => Some(Value::String(collection.id.clone())),
                "collectionName" => Some(Value::String(collection.name.clone())),
                _ => record.get(key).cloned(),
            },
        },
        Some(("query", key)) => req.query.get(key).map(|v| Value::String(v.clone())),
        Some(("headers", key)) => req.headers.get(key).map(|v| Value::String(v.clone())),
        Some(("body", key)) => req.body.get(key).cloned(),
        Some(_) => None,
    };
    match modifier {
        Some("isset") => Literal::Bool(value.is_some()),
        Some("lower") => match value {
            Some(Value::String(s)) => Literal::Text(s.to_lowercase()),
            other => to_literal(other),
        },
        Some("length") => Literal::Number(match value {
            Some(Value::Array(a)) => a.len() as f64,
            Some(Value::Null) | None => 0.0,
            Some(_) => 1.0,
        }),
        _ => to_literal(value),
    }
}

fn to_literal(v: Option<Value>) -> Literal {
    match v {
        None | Some(Value::Null) => Literal::Null,
        Some(Value::Bool(b)) => Literal::Bool(b),
        Some(Value::Number(n)) => Literal::Number(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => Literal::Text(s),
        Some(other) => Literal::Text(other.to_string()),
    }
}

/// Datetime macros (§3.8), evaluated in UTC per request.
fn macro_value(name: &str) -> Option<Literal> {
    let now = Zoned::new(Timestamp::now(), TimeZone::UTC);
    let date = |z: Zoned| {
        Some(Literal::Text(kulisse_schema::datetime::format(
            z.timestamp(),
        )))
    };
    let start_of_day = now.start_of_day().ok()?;
    let end_of = |z: Zoned| z.checked_sub(1.millisecond()).ok();
    let num = |n: i64| Some(Literal::Number(n as f64));
    match name {
        "@now" => date(now),
        "@yesterday" => date(now.checked_sub(1.day()).ok()?),
        "@tomorrow" => date(now.checked_add(1.day()).ok()?),
        "@todayStart" => date(start_of_day),
        "@todayEnd" => date(end_of(now.tomorrow().ok()?.start_of_day().ok()?)?),
        "@monthStart" => date(now.first_of_month().ok()?.start_of_day().ok()?),
        "@monthEnd" => date(end_of(
            now.last_of_month()
                .ok()?
                .tomorrow()
                .ok()?
                .start_of_day()
                .ok()?,
        )?),
        "@yearStart" => date(now.first_of_year().ok()?.start_of_day().ok()?),
        "@yearEnd" => date(end_of(
            now.last_of_year()
                .ok()?
                .tomorrow()
                .ok()?
                .start_of_day()
                .ok()?,
        )?),
        "@second" => num(i64::from(now.second())),
        "@minute" => num(i64::from(now.minute())),
        "@hour" => num(i64::from(now.hour())),
        "@day" => num(i64::from(now.day())),
        "@month" => num(i64::from(now.month())),
        "@weekday" => num(i64::from(now.weekday().to_sunday_zero_offset())),
        "@year" => num(i64::from(now.year())),
        _ => None,
    }
}
