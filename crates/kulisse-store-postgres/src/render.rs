//! Renders the query IR as PostgreSQL SQL with SQLite's comparison semantics.
//!
//! kulisse promises the same filter results on both engines, and PocketBase's filter
//! language was defined by SQLite's dynamic typing. Every term therefore has a static type
//! here: numbers and text compare natively (and use indexes) when both sides are known;
//! otherwise a term is rendered as a "dynamic value", a pair of a number expression and a
//! text expression of which at most one is non-NULL, and comparisons follow SQLite's rules
//! (NULL unknown, numbers before text, column affinity converting literals). Text always
//! compares with `COLLATE "C"` (SQLite's binary order) and LIKE/lower fold ASCII only.
//! Values are always `$n` parameters; identifiers always pass through [`quote`].

use std::collections::HashMap;
use std::sync::Arc;

use kulisse_schema::{Collection, FieldKind};
use kulisse_store::{
    Affinity, CmpOp, Cond, Join, JoinSource, Literal, NaturalOrder, Order, Select, SemiJoin, Term,
};

use crate::codec::Param;

/// SQL text plus its parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, p: Param) {
        self.params.push(p);
        self.text.push_str(&format!("${}", self.params.len()));
    }
}

/// Quotes an identifier: the only way a name enters SQL text.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// ASCII-only case folding, as SQLite's `lower()` and `LIKE` do.
const ASCII_FOLD: &str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'";

/// Static type of a term.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    /// Always a number or NULL.
    Num,
    /// Always text or NULL.
    Text,
    /// Unknown until run time (JSON values, JSON-stored columns).
    Dyn,
}

/// What the aliases in scope are.
#[derive(Clone)]
enum AliasKind {
    Table(Arc<Collection>),
    Elements,
}

/// Rendering context: the current row's table and the aliases joined so far.
struct Ctx {
    table: String,
    main: Arc<Collection>,
    aliases: HashMap<String, AliasKind>,
}

impl Ctx {
    fn column_kind(&self, alias: Option<&str>, column: &str) -> Option<FieldKind> {
        let c = match alias {
            None => &self.main,
            Some(a) => match self.aliases.get(a)? {
                AliasKind::Table(c) => c,
                AliasKind::Elements => return None,
            },
        };
        c.field(column).map(|f| f.kind.clone())
    }

    fn ty(&self, t: &Term) -> Ty {
        match t {
            Term::Column(c) => column_ty(self.column_kind(None, c)),
            Term::Field { alias, column } => column_ty(self.column_kind(Some(alias), column)),
            Term::JsonPath { .. } => Ty::Dyn,
            Term::JsonLength(_) | Term::GeoDistance(_) | Term::Condition(_) => Ty::Num,
            Term::Lower(_) | Term::Strftime { .. } => Ty::Text,
            Term::Lookup { term, .. } => self.ty(term),
            Term::Value(Literal::Text(_)) => Ty::Text,
            Term::Value(Literal::Null) => Ty::Dyn,
            Term::Value(_) => Ty::Num,
        }
    }

    /// SQLite column affinity of a term (see [`Affinity`]).
    fn affinity(&self, t: &Term) -> Affinity {
        let kind = match t {
            Term::Column(c) => self.column_kind(None, c),
            Term::Field { alias, column } => self.column_kind(Some(alias), column),
            _ => return Affinity::None,
        };
        Affinity::of_column(kind.as_ref())
    }
}

fn column_ty(kind: Option<FieldKind>) -> Ty {
    match kind {
        Some(FieldKind::Number { .. } | FieldKind::Bool) => Ty::Num,
        Some(k) if k.is_json_stored() => Ty::Dyn,
        Some(_) => Ty::Text,
        None => Ty::Dyn,
    }
}

/// `SELECT <columns> FROM <table> WHERE … ORDER BY … LIMIT … OFFSET …`.
pub(crate) fn select_rows(q: &Select) -> Sql {
    let c = &q.collection;
    let mut ctx = Ctx {
        table: quote(&c.name),
        main: Arc::clone(c),
        aliases: HashMap::new(),
    };
    let mut sql = Sql::default();
    let cols: Vec<String> = c
        .fields
        .iter()
        .map(|f| format!("{}.{}", ctx.table, quote(&f.name)))
        .collect();
    sql.push(&format!("SELECT {} FROM ", cols.join(", ")));
    from_source(q, &ctx, &mut sql);
    where_clause(q, &mut ctx, &mut sql);
    sql.push(" ORDER BY ");
    for o in &q.order {
        match o {
            Order::By { term, desc } => order_term(term, *desc, &mut ctx, &mut sql),
            Order::RowId { desc } => sql.push(&format!(
                "{}{}, ",
                natural_order(c, &ctx.table),
                if *desc { " DESC" } else { "" }
            )),
            Order::Random => sql.push("random(), "),
        }
    }
    sql.push(&natural_order(c, &ctx.table));
    if let Some(limit) = q.limit {
        sql.push(" LIMIT ");
        sql.bind(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        if q.offset > 0 {
            sql.push(" OFFSET ");
            sql.bind(Param::Int(i64::try_from(q.offset).unwrap_or(i64::MAX)));
        }
    }
    if q.for_update && q.virtual_row.is_none() {
        sql.push(&format!(" FOR UPDATE OF {}", ctx.table));
    }
    sql
}

/// The natural order's column ([`NaturalOrder`]): insertion order is the `_rowid`
/// identity column.
fn natural_order(c: &Collection, table: &str) -> String {
    match NaturalOrder::of(c) {
        NaturalOrder::Id => format!("{table}.\"id\""),
        NaturalOrder::Insertion => format!("{table}.\"_rowid\""),
    }
}

/// `SELECT COUNT(*) FROM <table> WHERE …`.
pub(crate) fn count_rows(q: &Select) -> Sql {
    let mut ctx = Ctx {
        table: quote(&q.collection.name),
        main: Arc::clone(&q.collection),
        aliases: HashMap::new(),
    };
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) FROM ");
    from_source(q, &ctx, &mut sql);
    where_clause(q, &mut ctx, &mut sql);
    sql
}

/// SQLite sorts NULL first, then numbers, then text (binary order).
fn order_term(term: &Term, desc: bool, ctx: &mut Ctx, sql: &mut Sql) {
    let dir = if desc {
        " DESC NULLS LAST, "
    } else {
        " ASC NULLS FIRST, "
    };
    match ctx.ty(term) {
        Ty::Num => {
            num_expr(term, ctx, sql);
            sql.push(dir);
        }
        Ty::Text => {
            text_expr(term, ctx, sql);
            sql.push(" COLLATE \"C\"");
            sql.push(dir);
        }
        Ty::Dyn => {
            sql.push("(CASE WHEN ");
            num_expr(term, ctx, sql);
            sql.push(" IS NOT NULL THEN 1 WHEN ");
            text_expr(term, ctx, sql);
            sql.push(" IS NOT NULL THEN 2 END)");
            sql.push(dir);
            num_expr(term, ctx, sql);
            sql.push(dir);
            text_expr(term, ctx, sql);
            sql.push(" COLLATE \"C\"");
            sql.push(dir);
        }
    }
}

/// The table, or the virtual row standing in for it.
fn from_source(q: &Select, ctx: &Ctx, sql: &mut Sql) {
    let Some(row) = &q.virtual_row else {
        sql.push(&ctx.table);
        return;
    };
    sql.push("(SELECT ");
    for f in &q.collection.fields {
        sql.bind(crate::codec::encode(
            f,
            row.get(&f.name).unwrap_or(&serde_json::Value::Null),
        ));
        sql.push(&format!(
            "::{} AS {}, ",
            crate::ddl::column_type(f),
            quote(&f.name)
        ));
    }
    sql.push(&format!("0::bigint AS \"_rowid\") AS {}", ctx.table));
}

fn where_clause(q: &Select, ctx: &mut Ctx, sql: &mut Sql) {
    if let Some(cond) = &q.filter {
        sql.push(" WHERE ");
        render_cond(cond, ctx, sql);
    }
}

fn render_cond(c: &Cond, ctx: &mut Ctx, sql: &mut Sql) {
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
fn render_joins(joins: &[Join], ctx: &mut Ctx, sql: &mut Sql) {
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

/// `IS`: NULL-safe equality; `affinity` applies column affinity first.
fn is_same(left: &Term, right: &Term, ctx: &mut Ctx, sql: &mut Sql, affinity: bool) {
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
fn compare_with_affinity(left: &Term, op: CmpOp, right: &Term, ctx: &mut Ctx, sql: &mut Sql) {
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
trait Dynamic {
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
struct Coalesced<'t>(&'t Term);

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
fn dynamic_compare(l: &dyn Dynamic, op: CmpOp, r: &dyn Dynamic, ctx: &mut Ctx, sql: &mut Sql) {
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

/// The alias (`None` for the current row) and column a column term names.
fn column_parts(t: &Term) -> (Option<&str>, &str) {
    match t {
        Term::Column(c) => (None, c.as_str()),
        Term::Field { alias, column } => (Some(alias.as_str()), column.as_str()),
        _ => (None, ""),
    }
}

/// Whether the term's value is NULL.
fn value_is_null(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    sql.push("(");
    num_expr(t, ctx, sql);
    sql.push(" IS NULL AND ");
    text_expr(t, ctx, sql);
    sql.push(" IS NULL)");
}

/// The value as text the way SQLite converts it for LIKE and string functions.
fn text_of(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
    sql.push("COALESCE(");
    text_expr(t, ctx, sql);
    sql.push(", kulisse_num_text(");
    num_expr(t, ctx, sql);
    sql.push("))");
}

/// The number part of a term (NULL when the value is not a number).
fn num_expr(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
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
        } => {
            sql.push("(SELECT ");
            let inner = lookup_scope(joins, only_if.as_deref(), ctx);
            num_expr(term, ctx, sql);
            sql.push(" FROM (SELECT 1) AS \"_seed\"");
            append(sql, inner);
            sql.push(" LIMIT 1)");
        }
        Term::Lower(_) | Term::Strftime { .. } => sql.push("NULL::float8"),
        Term::Value(Literal::Number(n)) => {
            sql.bind(Param::Float(*n));
        }
        Term::Value(Literal::Bool(b)) => sql.bind(Param::Float(if *b { 1.0 } else { 0.0 })),
        Term::Value(_) => sql.push("NULL::float8"),
    }
}

/// The text part of a term (NULL when the value is not text).
fn text_expr(t: &Term, ctx: &mut Ctx, sql: &mut Sql) {
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
        } => {
            sql.push("(SELECT ");
            let inner = lookup_scope(joins, only_if.as_deref(), ctx);
            text_expr(term, ctx, sql);
            sql.push(" FROM (SELECT 1) AS \"_seed\"");
            append(sql, inner);
            sql.push(" LIMIT 1)");
        }
        Term::Value(Literal::Text(s)) => sql.bind(Param::Text(s.clone())),
        Term::JsonLength(_) | Term::GeoDistance(_) | Term::Condition(_) | Term::Value(_) => {
            sql.push("NULL::text")
        }
    }
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
