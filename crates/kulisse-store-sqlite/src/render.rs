//! Renders the query IR as SQLite SQL. Values become `?` parameters; identifiers pass
//! through [`quote`]. This file and `ddl.rs` are the only places that write SQLite SQL.

use std::fmt::Write as _;

use kulisse_schema::CollectionKind;
use kulisse_store::{
    Affinity, CmpOp, Cond, Join, JoinSource, Literal, NaturalOrder, Order, Select, SemiJoin, Term,
};
use rusqlite::types::Value as SqlValue;

/// SQL text plus its parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, v: SqlValue) {
        self.text.push('?');
        self.params.push(v);
    }

    /// A quoted identifier.
    fn ident(&mut self, name: &str) {
        push_quoted(&mut self.text, name);
    }

    /// `table.column`, where `table` is already quoted.
    fn column(&mut self, table: &str, name: &str) {
        self.text.push_str(table);
        self.text.push('.');
        push_quoted(&mut self.text, name);
    }
}

/// Quotes an identifier: the only way a name enters SQL text.
pub(crate) fn quote(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    push_quoted(&mut out, ident);
    out
}

/// Appends `ident` quoted. Rendering writes straight into the statement text: a point
/// read's SQL is rendered on every request, and per-name allocations were most of its cost.
fn push_quoted(out: &mut String, ident: &str) {
    out.push('"');
    for (i, part) in ident.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// `SELECT <columns> FROM <table> WHERE … ORDER BY … LIMIT … OFFSET …`.
///
/// A sorted page is found in two steps: the sort runs over row ids and sort keys only,
/// then the page's rows are read. Sorting thousands of whole rows (bodies included) to keep
/// twenty was most of the cost of a filtered list.
pub(crate) fn select_rows(q: &Select) -> Sql {
    let c = &q.collection;
    let table = quote(&c.name);
    let mut sql = Sql {
        text: String::with_capacity(64 + 24 * c.fields.len()),
        params: Vec::new(),
    };
    sql.push("SELECT ");
    for (i, f) in c.fields.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.column(&table, &f.name);
    }
    sql.push(" FROM ");
    from_source(q, &table, &mut sql);
    // A view has no row ids: its pages are sorted in one step.
    let two_step = !q.order.is_empty()
        && q.limit.is_some()
        && q.virtual_row.is_none()
        && c.kind != CollectionKind::View;
    if two_step {
        let _ = write!(
            sql.text,
            " WHERE {table}._rowid_ IN (SELECT {table}._rowid_ FROM {table}"
        );
        where_clause(q, &table, &mut sql);
        order_by(q, &table, &mut sql);
        limit_offset(q, &mut sql);
        sql.push(")");
        order_by(q, &table, &mut sql);
    } else {
        where_clause(q, &table, &mut sql);
        order_by(q, &table, &mut sql);
        limit_offset(q, &mut sql);
    }
    sql
}

fn order_by(q: &Select, table: &str, sql: &mut Sql) {
    if q.order.is_empty() {
        return;
    }
    sql.push(" ORDER BY ");
    for (i, o) in q.order.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        match o {
            Order::By { term, desc } => {
                render_term(term, table, sql);
                sql.push(if *desc { " DESC" } else { " ASC" });
            }
            Order::RowId { desc } => {
                sql.push(table);
                sql.push(match NaturalOrder::of(&q.collection) {
                    NaturalOrder::Id => ".\"id\"",
                    NaturalOrder::Insertion => "._rowid_",
                });
                sql.push(if *desc { " DESC" } else { " ASC" });
            }
            Order::Random => sql.push("RANDOM()"),
        }
    }
}

/// NOTE: LIMIT and OFFSET are written as integer literals, the one exception to "values
/// are parameters": SQLite re-prepares (parses and plans again) a statement whose LIMIT is
/// a bound parameter on every execution, which cost more than the query itself. They are
/// integers computed here, never client text.
fn limit_offset(q: &Select, sql: &mut Sql) {
    if let Some(limit) = q.limit {
        let _ = write!(
            sql.text,
            " LIMIT {}",
            i64::try_from(limit).unwrap_or(i64::MAX)
        );
        if q.offset > 0 {
            let _ = write!(
                sql.text,
                " OFFSET {}",
                i64::try_from(q.offset).unwrap_or(i64::MAX)
            );
        }
    }
}

/// `SELECT COUNT(*) FROM <table> WHERE …`.
pub(crate) fn count_rows(q: &Select) -> Sql {
    let table = quote(&q.collection.name);
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) FROM ");
    from_source(q, &table, &mut sql);
    where_clause(q, &table, &mut sql);
    sql
}

/// `SELECT CAST(<key> AS TEXT), COUNT(*) FROM <table> WHERE … GROUP BY 1 ORDER BY 1`.
pub(crate) fn count_per(q: &Select, key: &Term) -> Sql {
    let table = quote(&q.collection.name);
    let mut sql = Sql::default();
    sql.push("SELECT CAST((");
    render_term(key, &table, &mut sql);
    sql.push(") AS TEXT), COUNT(*) FROM ");
    from_source(q, &table, &mut sql);
    where_clause(q, &table, &mut sql);
    sql.push(" GROUP BY 1 ORDER BY 1");
    sql
}

/// The table, or the virtual row standing in for it. The CASTs give the virtual columns
/// the affinity the real columns have, so comparisons behave the same.
fn from_source(q: &Select, table: &str, sql: &mut Sql) {
    let Some(row) = &q.virtual_row else {
        sql.push(table);
        return;
    };
    sql.push("(SELECT ");
    for (i, f) in q.collection.fields.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let affinity = match Affinity::of_kind(&f.kind) {
            Affinity::Numeric => "NUMERIC",
            Affinity::Text | Affinity::None => "TEXT",
        };
        sql.push("CAST(");
        let value = row
            .get(&f.name)
            .map_or(SqlValue::Null, |v| crate::codec::encode(f, v));
        sql.bind(value);
        let _ = write!(sql.text, " AS {affinity}) AS ");
        sql.ident(&f.name);
    }
    sql.push(") AS ");
    sql.push(table);
}

fn where_clause(q: &Select, table: &str, sql: &mut Sql) {
    if let Some(cond) = &q.filter {
        sql.push(" WHERE ");
        render_cond(cond, table, sql);
    }
}

/// Renders `cond`; `table` is the quoted name of the current row's table.
fn render_cond(c: &Cond, table: &str, sql: &mut Sql) {
    match c {
        Cond::True => sql.push("1"),
        Cond::False => sql.push("0"),
        Cond::All(items) | Cond::Any(items) if items.is_empty() => {
            sql.push(if matches!(c, Cond::All(_)) { "1" } else { "0" })
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
                render_cond(item, table, sql);
            }
            sql.push(")");
        }
        Cond::Compare { left, op, right } => render_compare(left, *op, right, table, sql),
        Cond::Exists { joins, cond } | Cond::ExistsInner { joins, cond } => {
            if let Some(semi) = c.semi_join() {
                return render_semi_join(&semi, table, sql);
            }
            let kind = if matches!(c, Cond::ExistsInner { .. }) {
                " JOIN "
            } else {
                " LEFT JOIN "
            };
            sql.push("EXISTS (SELECT 1 FROM (SELECT 1)");
            render_joins_as(joins, table, sql, kind);
            sql.push(" WHERE ");
            render_cond(cond, table, sql);
            sql.push(")");
        }
        Cond::Every { joins, cond } => {
            sql.push("NOT EXISTS (SELECT 1 FROM (SELECT 1)");
            render_joins(joins, table, sql);
            sql.push(" WHERE NOT COALESCE(");
            render_cond(cond, table, sql);
            sql.push(", 0))");
        }
    }
}

/// `outer AND key IS NOT NULL AND key IN (SELECT alias.id … WHERE related)`: an
/// uncorrelated subquery SQLite runs once into an ephemeral index (see
/// [`Cond::semi_join`]). `IS NOT NULL` keeps the result 0/1 where a NULL key would make
/// `IN` unknown.
fn render_semi_join(s: &SemiJoin<'_>, table: &str, sql: &mut Sql) {
    sql.push("(");
    for c in &s.outer {
        render_cond(c, table, sql);
        sql.push(" AND ");
    }
    render_term(s.key, table, sql);
    sql.push(" IS NOT NULL AND ");
    render_term(s.key, table, sql);
    let alias = quote(s.alias);
    let _ = write!(sql.text, " IN (SELECT {alias}.\"id\" FROM ");
    sql.ident(&s.collection.name);
    let _ = write!(sql.text, " AS {alias}");
    render_joins_as(s.joins, table, sql, " JOIN ");
    for (i, c) in s.related.iter().enumerate() {
        sql.push(if i == 0 { " WHERE " } else { " AND " });
        render_cond(c, table, sql);
    }
    sql.push("))");
}

/// LEFT JOINs from a one-row seed, so a relation without rows yields one NULL row.
fn render_joins(joins: &[Join], table: &str, sql: &mut Sql) {
    render_joins_as(joins, table, sql, " LEFT JOIN ");
}

/// Joins of the given kind (` LEFT JOIN ` or ` JOIN `).
fn render_joins_as(joins: &[Join], table: &str, sql: &mut Sql, kind: &str) {
    for j in joins {
        let alias = quote(&j.alias);
        match &j.source {
            JoinSource::Record { collection, key } => {
                sql.push(kind);
                sql.ident(&collection.name);
                let _ = write!(sql.text, " AS {alias} ON {alias}.\"id\" = ");
                render_term(key, table, sql);
            }
            JoinSource::Referencing {
                collection,
                field,
                multiple,
                key,
            } => {
                let col = format!("{alias}.{}", quote(field));
                sql.push(kind);
                sql.ident(&collection.name);
                let _ = write!(sql.text, " AS {alias} ON ");
                if *multiple {
                    sql.push("EXISTS (SELECT 1 FROM json_each(");
                    let _ = write!(
                        sql.text,
                        "CASE WHEN json_valid({col}) THEN {col} ELSE '[]' END) WHERE value = "
                    );
                    render_term(key, table, sql);
                    sql.push(")");
                } else {
                    sql.push(&col);
                    sql.push(" = ");
                    render_term(key, table, sql);
                }
            }
            JoinSource::Every { collection } => {
                sql.push(kind);
                sql.ident(&collection.name);
                let _ = write!(sql.text, " AS {alias} ON 1");
            }
            JoinSource::Elements { array } => {
                sql.push(kind);
                sql.push("json_each(CASE WHEN json_valid(");
                render_term(array, table, sql);
                sql.push(") THEN ");
                render_term(array, table, sql);
                sql.push(" ELSE NULL END) AS ");
                sql.push(&alias);
            }
        }
    }
}

fn render_compare(left: &Term, op: CmpOp, right: &Term, table: &str, sql: &mut Sql) {
    let json_side = matches!(left, Term::JsonPath { .. }) || matches!(right, Term::JsonPath { .. });
    match op {
        CmpOp::Eq | CmpOp::Neq if json_side => {
            render_term(left, table, sql);
            sql.push(if op == CmpOp::Eq { " IS " } else { " IS NOT " });
            render_term(right, table, sql);
        }
        CmpOp::Eq | CmpOp::Neq if right.is_empty_literal() || left.is_empty_literal() => {
            let field = if right.is_empty_literal() {
                left
            } else {
                right
            };
            sql.push("(");
            render_term(field, table, sql);
            if op == CmpOp::Eq {
                sql.push(" = '' OR ");
                render_term(field, table, sql);
                sql.push(" IS NULL)");
            } else {
                sql.push(" IS NOT '' AND ");
                render_term(field, table, sql);
                sql.push(" IS NOT NULL)");
            }
        }
        CmpOp::Eq | CmpOp::Neq
            if !matches!(left, Term::Value(_)) && !matches!(right, Term::Value(_)) =>
        {
            sql.push("COALESCE(");
            render_term(left, table, sql);
            sql.push(", '')");
            sql.push(if op == CmpOp::Eq { " = " } else { " IS NOT " });
            sql.push("COALESCE(");
            render_term(right, table, sql);
            sql.push(", '')");
        }
        CmpOp::Like | CmpOp::NotLike => {
            render_term(left, table, sql);
            sql.push(if op == CmpOp::Like {
                " LIKE "
            } else {
                " NOT LIKE "
            });
            match right {
                Term::Value(Literal::Text(s)) => {
                    sql.bind(SqlValue::Text(kulisse_store::like_pattern(s)))
                }
                other => {
                    sql.push("('%' || ");
                    render_term(other, table, sql);
                    sql.push(" || '%')");
                }
            }
            sql.push(" ESCAPE '\\'");
        }
        _ => {
            render_term(left, table, sql);
            sql.push(plain_operator(op));
            render_term(right, table, sql);
        }
    }
}

/// The SQL operator of a comparison without PocketBase's special folding.
fn plain_operator(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => " = ",
        CmpOp::Neq => " IS NOT ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
        CmpOp::Like => " LIKE ",
        CmpOp::NotLike => " NOT LIKE ",
    }
}

fn render_term(t: &Term, table: &str, sql: &mut Sql) {
    match t {
        Term::Column(name) => sql.column(table, name),
        Term::Field { alias, column } => {
            sql.ident(alias);
            sql.push(".");
            sql.ident(column);
        }
        Term::JsonPath { source, path } => {
            sql.push("JSON_EXTRACT(");
            json_input(source, table, sql);
            sql.push(", ");
            sql.bind(SqlValue::Text(json_path(path)));
            sql.push(")");
        }
        Term::JsonLength(source) => {
            sql.push("json_array_length(");
            json_input(source, table, sql);
            sql.push(")");
        }
        Term::Lower(inner) => {
            sql.push("LOWER(");
            render_term(inner, table, sql);
            sql.push(")");
        }
        Term::Strftime {
            format,
            value,
            modifiers,
        } => {
            sql.push("strftime(");
            sql.bind(SqlValue::Text(format.clone()));
            match value {
                Some(v) => {
                    sql.push(", ");
                    render_term(v, table, sql);
                }
                None => sql.push(", 'now'"),
            }
            for m in modifiers {
                sql.push(", ");
                sql.bind(SqlValue::Text(m.clone()));
            }
            sql.push(")");
        }
        Term::GeoDistance(args) => {
            sql.push("kulisse_geo_distance(");
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                render_term(a, table, sql);
            }
            sql.push(")");
        }
        Term::Lookup {
            joins,
            term,
            only_if,
        } => {
            sql.push("(SELECT ");
            render_term(term, table, sql);
            sql.push(" FROM (SELECT 1)");
            render_joins(joins, table, sql);
            if let Some(cond) = only_if {
                sql.push(" WHERE ");
                render_cond(cond, table, sql);
            }
            sql.push(" LIMIT 1)");
        }
        Term::Condition(cond) => {
            sql.push("(CASE WHEN ");
            render_cond(cond, table, sql);
            sql.push(" THEN 1 ELSE 0 END)");
        }
        Term::Value(lit) => sql.bind(literal(lit)),
    }
}

/// A JSON value as input to a JSON function. NOTE: SQLite's constant propagation can
/// substitute a compared literal (`tags = 'x' && tags:length > 0`) for the column, and the
/// JSON functions raise on non-JSON text; invalid input therefore reads as NULL.
fn json_input(source: &Term, table: &str, sql: &mut Sql) {
    sql.push("(CASE WHEN json_valid(");
    render_term(source, table, sql);
    sql.push(") THEN ");
    render_term(source, table, sql);
    sql.push(" ELSE NULL END)");
}

fn literal(l: &Literal) -> SqlValue {
    match l {
        Literal::Null => SqlValue::Null,
        Literal::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Literal::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => SqlValue::Integer(*n as i64),
        Literal::Number(n) => SqlValue::Real(*n),
        Literal::Text(s) => SqlValue::Text(s.clone()),
    }
}

/// `$."a"."b"[0]`: keys are quoted so that any key text is just a key.
fn json_path(path: &[String]) -> String {
    let mut out = String::from("$");
    for seg in path {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(out, "[{seg}]");
        } else {
            let _ = write!(out, ".\"{}\"", seg.replace('"', "\\\""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_quote_keys() {
        assert_eq!(
            json_path(&["a".into(), "0".into(), "x\"y".into()]),
            "$.\"a\"[0].\"x\\\"y\""
        );
    }
}
