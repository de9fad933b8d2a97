//! Conditions: AND/OR, relation joins and semi-joins, and the comparison forms of
//! PocketBase's filter language (empty literals, NULL-safe `!=`, LIKE).

use std::sync::Arc;

use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, SemiJoin, Term};

use super::semantics::{
    Coalesced, compare_with_affinity, dynamic_compare, is_same, text_of, value_is_null,
};
use super::term::text_expr;
use super::types::{AliasKind, Ctx};
use super::{ASCII_FOLD, Sql, quote};
use crate::codec::Param;

pub(super) fn render_cond(c: &Cond, ctx: &mut Ctx, sql: &mut Sql) {
    match c {
        Cond::True => sql.push("TRUE"),
        Cond::False => sql.push("FALSE"),
        Cond::All(items) | Cond::Any(items) if items.is_empty() => {
            sql.push(if matches!(c, Cond::All(_)) {
                "TRUE"
            } else {
                "FALSE"
            })
        }
        Cond::All(items) | Cond::Any(items) => {
            let join = if matches!(c, Cond::All(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sql.push(join);
                }
                render_cond(item, ctx, sql);
            }
            sql.push(")");
        }
        Cond::Compare { left, op, right } => render_compare(left, *op, right, ctx, sql),
        Cond::Exists { joins, cond } | Cond::ExistsInner { joins, cond } => {
            if let Some(semi) = c.semi_join() {
                return render_semi_join(&semi, ctx, sql);
            }
            let kind = if matches!(c, Cond::ExistsInner { .. }) {
                " JOIN "
            } else {
                " LEFT JOIN "
            };
            sql.push("EXISTS (SELECT 1 FROM (SELECT 1) AS \"_seed\"");
            render_joins_as(joins, ctx, sql, kind);
            sql.push(" WHERE ");
            render_cond(cond, ctx, sql);
            sql.push(")");
        }
        Cond::Every { joins, cond } => {
            sql.push("NOT EXISTS (SELECT 1 FROM (SELECT 1) AS \"_seed\"");
            render_joins(joins, ctx, sql);
            sql.push(" WHERE NOT COALESCE(");
            render_cond(cond, ctx, sql);
            sql.push(", FALSE))");
        }
    }
}

/// `outer AND key IS NOT NULL AND key IN (SELECT alias.id … WHERE related)`: uncorrelated,
/// so PostgreSQL plans a hashed semi-join (see [`Cond::semi_join`]); the correlated EXISTS
/// it replaces was one index probe per row. `IS NOT NULL` keeps the result boolean where a
/// NULL key would make `IN` unknown.
fn render_semi_join(s: &SemiJoin<'_>, ctx: &mut Ctx, sql: &mut Sql) {
    sql.push("(");
    for c in &s.outer {
        render_cond(c, ctx, sql);
        sql.push(" AND ");
    }
    text_expr(s.key, ctx, sql);
    sql.push(" IS NOT NULL AND ");
    text_expr(s.key, ctx, sql);
    let alias = quote(s.alias);
    sql.push(&format!(
        " IN (SELECT {alias}.\"id\" FROM {} AS {alias}",
        quote(&s.collection.name)
    ));
    ctx.aliases.insert(
        s.alias.to_owned(),
        AliasKind::Table(Arc::clone(s.collection)),
    );
    render_joins_as(s.joins, ctx, sql, " JOIN ");
    for (i, c) in s.related.iter().enumerate() {
        sql.push(if i == 0 { " WHERE " } else { " AND " });
        render_cond(c, ctx, sql);
    }
    sql.push("))");
}

/// LEFT JOINs from a one-row seed, so a relation without rows yields one NULL row.
pub(super) fn render_joins(joins: &[Join], ctx: &mut Ctx, sql: &mut Sql) {
    render_joins_as(joins, ctx, sql, " LEFT JOIN ");
}

/// Joins of the given kind (` LEFT JOIN ` or ` JOIN `).
fn render_joins_as(joins: &[Join], ctx: &mut Ctx, sql: &mut Sql, kind: &str) {
    for j in joins {
        let alias = quote(&j.alias);
        match &j.source {
            JoinSource::Record { collection, key } => {
                sql.push(&format!(
                    "{kind}{} AS {alias} ON {alias}.\"id\" = ",
                    quote(&collection.name)
                ));
                text_expr(key, ctx, sql);
                ctx.aliases
                    .insert(j.alias.clone(), AliasKind::Table(Arc::clone(collection)));
            }
            JoinSource::Referencing {
                collection,
                field,
                multiple,
                key,
            } => {
                let col = format!("{alias}.{}", quote(field));
                sql.push(&format!("{kind}{} AS {alias} ON ", quote(&collection.name)));
                if *multiple {
                    sql.push(&format!("EXISTS (SELECT 1 FROM jsonb_array_elements_text(kulisse_json_array({col})) AS \"_ref\"(v) WHERE \"_ref\".v = "));
                    text_expr(key, ctx, sql);
                    sql.push(")");
                } else {
                    sql.push(&format!("{col} = "));
                    text_expr(key, ctx, sql);
                }
                ctx.aliases
                    .insert(j.alias.clone(), AliasKind::Table(Arc::clone(collection)));
            }
            JoinSource::Every { collection } => {
                sql.push(&format!(
                    "{kind}{} AS {alias} ON TRUE",
                    quote(&collection.name)
                ));
                ctx.aliases
                    .insert(j.alias.clone(), AliasKind::Table(Arc::clone(collection)));
            }
            JoinSource::Elements { array } => {
                sql.push(&format!(
                    "{kind}LATERAL jsonb_array_elements(kulisse_json_array("
                ));
                text_expr(array, ctx, sql);
                sql.push(&format!(")) AS {alias}(\"value\") ON TRUE"));
                ctx.aliases.insert(j.alias.clone(), AliasKind::Elements);
            }
        }
    }
}

fn render_compare(left: &Term, op: CmpOp, right: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    let json_side = matches!(left, Term::JsonPath { .. }) || matches!(right, Term::JsonPath { .. });
    match op {
        CmpOp::Eq | CmpOp::Neq if json_side => {
            if op == CmpOp::Neq {
                sql.push("NOT ");
            }
            is_same(left, right, ctx, sql, false);
        }
        CmpOp::Eq | CmpOp::Neq if right.is_empty_literal() || left.is_empty_literal() => {
            let field = if right.is_empty_literal() {
                left
            } else {
                right
            };
            // (x = '' OR x IS NULL): only an empty text or NULL is "empty"; 0 is not.
            sql.push(if op == CmpOp::Eq { "(" } else { "NOT (" });
            sql.push("COALESCE(");
            text_expr(field, ctx, sql);
            sql.push(" = '', FALSE) OR (");
            value_is_null(field, ctx, sql);
            sql.push("))");
        }
        CmpOp::Eq | CmpOp::Neq
            if !matches!(left, Term::Value(_)) && !matches!(right, Term::Value(_)) =>
        {
            // COALESCE(a, '') = COALESCE(b, ''): NULL becomes empty text; no affinity.
            if op == CmpOp::Neq {
                sql.push("NOT ");
            }
            sql.push("(");
            let (l, r) = (Coalesced(left), Coalesced(right));
            dynamic_compare(&l, CmpOp::Eq, &r, ctx, sql);
            sql.push(" IS TRUE)");
        }
        CmpOp::Like | CmpOp::NotLike => {
            sql.push("(translate(");
            text_of(left, ctx, sql);
            sql.push(&format!(", {ASCII_FOLD}) "));
            sql.push(if op == CmpOp::Like {
                "LIKE"
            } else {
                "NOT LIKE"
            });
            sql.push(" translate(");
            match right {
                Term::Value(Literal::Text(s)) => {
                    sql.bind(Param::Text(kulisse_store::like_pattern(s)))
                }
                other => {
                    sql.push("('%' || ");
                    text_of(other, ctx, sql);
                    sql.push(" || '%')");
                }
            }
            sql.push(&format!(", {ASCII_FOLD}) ESCAPE '\\')"));
        }
        CmpOp::Neq => {
            sql.push("NOT ");
            is_same(left, right, ctx, sql, true);
        }
        _ => compare_with_affinity(left, op, right, ctx, sql),
    }
}
