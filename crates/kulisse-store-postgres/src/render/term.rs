//! Terms as SQL: the number part and the text part of each term, JSON paths, lookups.

use kulisse_store::{Cond, Join, Literal, Term};

use super::condition::{render_cond, render_joins};
use super::semantics::text_of;
use super::types::{AliasKind, Ctx, Ty, column_ty};
use super::{ASCII_FOLD, Sql, quote};
use crate::codec::Param;

/// The alias (`None` for the current row) and column a column term names.
fn column_parts(t: &Term) -> (Option<&str>, &str) {
    match t {
        Term::Column(c) => (None, c.as_str()),
        Term::Field { alias, column } => (Some(alias.as_str()), column.as_str()),
        _ => (None, ""),
    }
}

/// The number part of a term (NULL when the value is not a number).
pub(super) fn num_expr(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    match t {
        Term::Column(_) | Term::Field { .. } => {
            let (alias, column) = column_parts(t);
            let col = column_sql(alias, column, ctx);
            match alias.and_then(|a| ctx.aliases.get(a).cloned()) {
                Some(AliasKind::Elements) => sql.push(&format!("kulisse_json_num({col})")),
                _ => match column_ty(ctx.column_kind(alias, column)) {
                    Ty::Num => sql.push(&format!("{col}::float8")),
                    Ty::Text => sql.push("NULL::float8"),
                    Ty::Dyn => sql.push(&format!("kulisse_to_num({col})")),
                },
            }
        }
        Term::JsonPath { .. } => {
            sql.push("kulisse_json_num(");
            json_value(t, ctx, sql);
            sql.push(")");
        }
        Term::JsonLength(source) => {
            sql.push("kulisse_json_length(");
            text_expr(source, ctx, sql);
            sql.push(")::float8");
        }
        Term::GeoDistance(args) => {
            sql.push("kulisse_geo_distance(");
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("COALESCE(");
                num_expr(a, ctx, sql);
                sql.push(", kulisse_to_num(");
                text_expr(a, ctx, sql);
                sql.push("), 0)");
            }
            sql.push(")");
        }
        Term::Condition(cond) => {
            sql.push("(CASE WHEN ");
            render_cond(cond, ctx, sql);
            sql.push(" THEN 1 ELSE 0 END)::float8");
        }
        Term::Lookup {
            joins,
            term,
            only_if,
        } => lookup(joins, term, only_if.as_deref(), num_expr, ctx, sql),
        Term::Lower(_) | Term::Strftime { .. } => sql.push("NULL::float8"),
        Term::Value(Literal::Number(n)) => {
            sql.bind(Param::Float(*n));
        }
        Term::Value(Literal::Bool(b)) => sql.bind(Param::Float(if *b { 1.0 } else { 0.0 })),
        Term::Value(_) => sql.push("NULL::float8"),
    }
}

/// The text part of a term (NULL when the value is not text).
pub(super) fn text_expr(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    match t {
        Term::Column(_) | Term::Field { .. } => {
            let (alias, column) = column_parts(t);
            let col = column_sql(alias, column, ctx);
            match alias.and_then(|a| ctx.aliases.get(a).cloned()) {
                Some(AliasKind::Elements) => sql.push(&format!("kulisse_json_text({col})")),
                _ => match column_ty(ctx.column_kind(alias, column)) {
                    Ty::Num => sql.push("NULL::text"),
                    Ty::Text => sql.push(&col),
                    Ty::Dyn => sql.push(&format!(
                        "(CASE WHEN kulisse_to_num({col}) IS NULL THEN {col} END)"
                    )),
                },
            }
        }
        Term::JsonPath { .. } => {
            sql.push("kulisse_json_text(");
            json_value(t, ctx, sql);
            sql.push(")");
        }
        Term::Lower(inner) => {
            sql.push("translate(");
            text_of(inner, ctx, sql);
            sql.push(&format!(", {ASCII_FOLD})"));
        }
        Term::Strftime {
            format,
            value,
            modifiers,
        } => {
            sql.push("kulisse_strftime(");
            sql.bind(Param::Text(format.clone()));
            sql.push(", ");
            match value {
                Some(v) => text_of(v, ctx, sql),
                None => sql.push("'now'"),
            }
            sql.push(", ");
            sql.bind(Param::TextArray(modifiers.clone()));
            sql.push(")");
        }
        Term::Lookup {
            joins,
            term,
            only_if,
        } => lookup(joins, term, only_if.as_deref(), text_expr, ctx, sql),
        Term::Value(Literal::Text(s)) => sql.bind(Param::Text(s.clone())),
        Term::JsonLength(_) | Term::GeoDistance(_) | Term::Condition(_) | Term::Value(_) => {
            sql.push("NULL::text")
        }
    }
}

/// `(SELECT part(term) FROM <seed> <joins> WHERE only_if LIMIT 1)`: one part (number or
/// text, `part`) of the first value a lookup finds.
fn lookup(
    joins: &[Join],
    term: &Term,
    only_if: Option<&Cond>,
    part: fn(&Term, &mut Ctx, &mut Sql),
    ctx: &mut Ctx,
    sql: &mut Sql,
) {
    sql.push("(SELECT ");
    let inner = lookup_scope(joins, only_if, ctx);
    part(term, ctx, sql);
    sql.push(" FROM (SELECT 1) AS \"_seed\"");
    append(sql, inner);
    sql.push(" LIMIT 1)");
}

/// A lookup's joins and row condition, rendered before the SELECT list that precedes them
/// so that their aliases are known to it.
fn lookup_scope(joins: &[Join], only_if: Option<&Cond>, ctx: &mut Ctx) -> Sql {
    let mut inner = Sql::default();
    render_joins(joins, ctx, &mut inner);
    if let Some(cond) = only_if {
        inner.push(" WHERE ");
        render_cond(cond, ctx, &mut inner);
    }
    inner
}

/// Appends `inner` (a lookup's joins, rendered first so their aliases are known to the
/// SELECT list that precedes them), shifting its `$n` placeholders past the outer parameters.
fn append(sql: &mut Sql, inner: Sql) {
    let offset = sql.params.len();
    let mut text = String::with_capacity(inner.text.len());
    let mut chars = inner.text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                chars.next();
            }
            text.push_str(&format!("${}", n.parse::<usize>().unwrap_or(0) + offset));
        } else {
            text.push(c);
        }
    }
    sql.text.push_str(&text);
    sql.params.extend(inner.params);
}

/// A JSON path's value as `jsonb` (NULL when missing).
fn json_value(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    let Term::JsonPath { source, path } = t else {
        return;
    };
    sql.push("(kulisse_json(");
    text_expr_or_json(source, ctx, sql);
    sql.push(") #> ");
    sql.bind(Param::TextArray(path.clone()));
    sql.push(")");
}

/// JSON text of a JSON-stored column or element.
fn text_expr_or_json(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    match t {
        Term::Column(c) => sql.push(&column_sql(None, c, ctx)),
        Term::Field { alias, column } => sql.push(&column_sql(Some(alias), column, ctx)),
        other => text_of(other, ctx, sql),
    }
}

fn column_sql(alias: Option<&str>, column: &str, ctx: &Ctx) -> String {
    match alias {
        None => format!("{}.{}", ctx.table, quote(column)),
        Some(a) => match ctx.aliases.get(a) {
            Some(AliasKind::Elements) => format!("{}.\"value\"", quote(a)),
            _ => format!("{}.{}", quote(a), quote(column)),
        },
    }
}
