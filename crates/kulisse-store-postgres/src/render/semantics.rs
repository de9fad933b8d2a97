//! SQLite's comparison semantics emulated on PostgreSQL: dynamic values (a number part
//! and a text part), column affinity converting literals, NULL unknown, numbers before text.

use kulisse_store::{Affinity, CmpOp, Literal, Term};

use super::Sql;
use super::term::{num_expr, text_expr};
use super::types::{Ctx, Ty};

/// `IS`: NULL-safe equality; `affinity` applies column affinity first.
pub(super) fn is_same(left: &Term, right: &Term, ctx: &mut Ctx, sql: &mut Sql, affinity: bool) {
    sql.push("COALESCE(");
    if affinity {
        compare_with_affinity(left, CmpOp::Eq, right, ctx, sql);
    } else {
        dynamic_compare(&Plain(left), CmpOp::Eq, &Plain(right), ctx, sql);
    }
    sql.push(", (");
    value_is_null(left, ctx, sql);
    sql.push(") AND (");
    value_is_null(right, ctx, sql);
    sql.push("))");
}

/// A comparison after SQLite's affinity rules; fast native SQL when types are known.
pub(super) fn compare_with_affinity(
    left: &Term,
    op: CmpOp,
    right: &Term,
    ctx: &mut Ctx,
    sql: &mut Sql,
) {
    let (la, ra) = (ctx.affinity(left), ctx.affinity(right));
    let (lt, rt) = (ctx.ty(left), ctx.ty(right));
    // Literals are converted here, where their value is known.
    let left = convert_literal(left, ra, la);
    let right = convert_literal(right, la, ra);
    let (lt, rt) = (
        if matches!(left, Term::Value(_)) {
            ctx.ty(&left)
        } else {
            lt
        },
        if matches!(right, Term::Value(_)) {
            ctx.ty(&right)
        } else {
            rt
        },
    );
    match (lt, rt) {
        (Ty::Num, Ty::Num) => {
            sql.push("(");
            num_expr(&left, ctx, sql);
            sql.push(sql_op(op));
            num_expr(&right, ctx, sql);
            sql.push(")");
        }
        (Ty::Text, Ty::Text) => {
            sql.push("(");
            text_expr(&left, ctx, sql);
            sql.push(" COLLATE \"C\"");
            sql.push(sql_op(op));
            text_expr(&right, ctx, sql);
            sql.push(")");
        }
        _ => {
            let numeric_side = la == Affinity::Numeric || ra == Affinity::Numeric;
            let text_side = la == Affinity::Text || ra == Affinity::Text;
            let l = Affined {
                term: &left,
                numeric: numeric_side && la != Affinity::Numeric,
                text: !numeric_side && text_side && la == Affinity::None,
            };
            let r = Affined {
                term: &right,
                numeric: numeric_side && ra != Affinity::Numeric,
                text: !numeric_side && text_side && ra == Affinity::None,
            };
            dynamic_compare(&l, op, &r, ctx, sql);
        }
    }
}

/// Applies the other side's affinity to a literal (SQLite converts number-looking text
/// for numeric columns, and numbers to text for text columns).
fn convert_literal(t: &Term, other: Affinity, own: Affinity) -> Term {
    match (t, other, own) {
        (Term::Value(Literal::Text(s)), Affinity::Numeric, Affinity::None) => {
            match looks_numeric(s) {
                Some(n) => Term::Value(Literal::Number(n)),
                None => t.clone(),
            }
        }
        (Term::Value(Literal::Number(n)), Affinity::Text, Affinity::None) => {
            Term::Value(Literal::Text(number_text(*n)))
        }
        (Term::Value(Literal::Bool(b)), Affinity::Text, Affinity::None) => {
            Term::Value(Literal::Text(if *b { "1" } else { "0" }.into()))
        }
        _ => t.clone(),
    }
}

/// SQLite's text form of a bound number (integers without a fraction).
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:?}")
    }
}

/// A well-formed number, as SQLite's numeric affinity accepts it.
fn looks_numeric(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t != s || t.starts_with('+') && t.len() == 1 {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => " = ",
        CmpOp::Neq => " <> ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
        CmpOp::Like => " LIKE ",
        CmpOp::NotLike => " NOT LIKE ",
    }
}

/// A term seen as a dynamic value: its number part and its text part.
pub(super) trait Dynamic {
    fn num(&self, ctx: &mut Ctx, sql: &mut Sql);
    fn text(&self, ctx: &mut Ctx, sql: &mut Sql);
}

struct Plain<'t>(&'t Term);

impl Dynamic for Plain<'_> {
    fn num(&self, ctx: &mut Ctx, sql: &mut Sql) {
        num_expr(self.0, ctx, sql);
    }
    fn text(&self, ctx: &mut Ctx, sql: &mut Sql) {
        text_expr(self.0, ctx, sql);
    }
}

/// `COALESCE(term, '')`.
pub(super) struct Coalesced<'t>(pub(super) &'t Term);

impl Dynamic for Coalesced<'_> {
    fn num(&self, ctx: &mut Ctx, sql: &mut Sql) {
        num_expr(self.0, ctx, sql);
    }
    fn text(&self, ctx: &mut Ctx, sql: &mut Sql) {
        sql.push("(CASE WHEN ");
        value_is_null(self.0, ctx, sql);
        sql.push(" THEN '' ELSE ");
        text_expr(self.0, ctx, sql);
        sql.push(" END)");
    }
}

/// A term after affinity: `numeric` turns number-looking text into a number, `text`
/// turns numbers into text.
struct Affined<'t> {
    term: &'t Term,
    numeric: bool,
    text: bool,
}

impl Dynamic for Affined<'_> {
    fn num(&self, ctx: &mut Ctx, sql: &mut Sql) {
        if self.text {
            sql.push("NULL::float8");
            return;
        }
        sql.push("COALESCE(");
        num_expr(self.term, ctx, sql);
        if self.numeric {
            sql.push(", kulisse_to_num(");
            text_expr(self.term, ctx, sql);
            sql.push(")");
        }
        sql.push(")");
    }
    fn text(&self, ctx: &mut Ctx, sql: &mut Sql) {
        if self.text {
            text_of(self.term, ctx, sql);
            return;
        }
        if self.numeric {
            sql.push("(CASE WHEN kulisse_to_num(");
            text_expr(self.term, ctx, sql);
            sql.push(") IS NULL THEN ");
            text_expr(self.term, ctx, sql);
            sql.push(" END)");
        } else {
            text_expr(self.term, ctx, sql);
        }
    }
}

/// SQLite comparison of two dynamic values: NULL is unknown, numbers sort before text.
pub(super) fn dynamic_compare(
    l: &dyn Dynamic,
    op: CmpOp,
    r: &dyn Dynamic,
    ctx: &mut Ctx,
    sql: &mut Sql,
) {
    // rank: 1 number, 2 text, NULL when null
    let rank = |d: &dyn Dynamic, ctx: &mut Ctx, sql: &mut Sql| {
        sql.push("(CASE WHEN ");
        d.num(ctx, sql);
        sql.push(" IS NOT NULL THEN 1 WHEN ");
        d.text(ctx, sql);
        sql.push(" IS NOT NULL THEN 2 END)");
    };
    sql.push("(CASE WHEN ");
    rank(l, ctx, sql);
    sql.push(" IS NULL OR ");
    rank(r, ctx, sql);
    sql.push(" IS NULL THEN NULL WHEN ");
    rank(l, ctx, sql);
    sql.push(" <> ");
    rank(r, ctx, sql);
    sql.push(" THEN ");
    rank(l, ctx, sql);
    sql.push(sql_op(op));
    rank(r, ctx, sql);
    sql.push(" WHEN ");
    l.num(ctx, sql);
    sql.push(" IS NOT NULL THEN ");
    l.num(ctx, sql);
    sql.push(sql_op(op));
    r.num(ctx, sql);
    sql.push(" ELSE ");
    l.text(ctx, sql);
    sql.push(" COLLATE \"C\"");
    sql.push(sql_op(op));
    r.text(ctx, sql);
    sql.push(" END)");
}

/// Whether the term's value is NULL.
pub(super) fn value_is_null(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    sql.push("(");
    num_expr(t, ctx, sql);
    sql.push(" IS NULL AND ");
    text_expr(t, ctx, sql);
    sql.push(" IS NULL)");
}

/// The value as text the way SQLite converts it for LIKE and string functions.
pub(super) fn text_of(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    sql.push("COALESCE(");
    text_expr(t, ctx, sql);
    sql.push(", kulisse_num_text(");
    num_expr(t, ctx, sql);
    sql.push("))");
}
