//! In-memory evaluation of the storage IR against a record in hand.
//!
//! It gives the same answer as the SQL the engines render from the same [`Cond`], so that
//! callers holding a record (realtime fan-out, the collections list, create-rule checks
//! without a round trip) need no query. The semantics mirror SQLite's: values carry SQL
//! types (NULL, number, text), comparisons with NULL are unknown (false) except the
//! NULL-safe `IS NOT` of `!=`, LIKE is ASCII case-insensitive, and a numeric column
//! compared with numeric-looking text compares as numbers (column affinity).

use std::cmp::Ordering;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Affinity, CmpOp, Cond, Join, JoinSource, Literal, Row, Term};
use serde_json::Value;

/// An SQL value.
#[derive(Debug, Clone, PartialEq)]
enum Sql {
    Null,
    Num(f64),
    Text(String),
}

/// Related records the evaluator needs for joins (relation paths, back-relations,
/// `@collection`). A record in hand does not carry them; callers that hold them (a
/// preloaded set, a fixture) provide them.
pub trait JoinData {
    /// The record `id` of `collection`, if it exists.
    fn record(&self, collection: &Collection, id: &str) -> Option<Row>;
    /// Records of `collection` whose relation `field` holds `id`.
    fn referencing(&self, collection: &Collection, field: &str, id: &str) -> Vec<Row>;
    /// Every record of `collection`.
    fn all(&self, collection: &Collection) -> Vec<Row>;
}

/// One joined alias in scope: an array element, or a related record (`None` = the NULL
/// row of a LEFT JOIN that found nothing).
#[derive(Clone)]
enum Joined {
    Element(Value),
    Record(Arc<Collection>, Option<Arc<Row>>),
}

/// A record of a collection, as the evaluator sees it, plus the joined aliases in scope.
struct Ctx<'a> {
    collection: &'a Collection,
    row: &'a Row,
    joined: Vec<(String, Joined)>,
    data: Option<&'a dyn JoinData>,
}

impl Ctx<'_> {
    fn joined(&self, alias: &str) -> Option<&Joined> {
        self.joined
            .iter()
            .rev()
            .find(|(a, _)| a == alias)
            .map(|(_, j)| j)
    }
}

impl Ctx<'_> {
    /// Column affinity of a term (see [`Affinity`]).
    fn affinity(&self, t: &Term) -> Affinity {
        match t {
            Term::Column(name) => Affinity::of_column(self.collection.field(name).map(|f| &f.kind)),
            Term::Field { alias, column } => match self.joined(alias) {
                Some(Joined::Record(c, _)) => Affinity::of_column(c.field(column).map(|f| &f.kind)),
                _ => Affinity::None,
            },
            _ => Affinity::None,
        }
    }
}

/// Whether `row` (a record of `collection`) satisfies `cond`.
///
/// Joins over JSON arrays (`:each`) are evaluated from the record itself; joins to other
/// records need their data (see [`matches_with`]), so without it such conditions are
/// unknown (false) here.
pub fn matches(collection: &Collection, cond: &Cond, row: &Row) -> bool {
    truth(
        cond,
        &Ctx {
            collection,
            row,
            joined: vec![],
            data: None,
        },
    ) == Some(true)
}

/// [`matches`] with related records available, so relation paths, back-relations and
/// `@collection` evaluate as the engines' joins do.
pub fn matches_with(collection: &Collection, cond: &Cond, row: &Row, data: &dyn JoinData) -> bool {
    truth(
        cond,
        &Ctx {
            collection,
            row,
            joined: vec![],
            data: Some(data),
        },
    ) == Some(true)
}

/// Orders two records the way the engines' ORDER BY does (NULLs first); random and rowid
/// terms keep the given order.
pub fn compare_rows(
    collection: &Collection,
    orders: &[kulisse_store::Order],
    a: &Row,
    b: &Row,
) -> Ordering {
    let ctx = |row| Ctx {
        collection,
        row,
        joined: vec![],
        data: None,
    };
    for o in orders {
        let kulisse_store::Order::By { term, desc } = o else {
            continue;
        };
        let (va, vb) = (value(term, &ctx(a)), value(term, &ctx(b)));
        let ord = match (&va, &vb) {
            (Sql::Null, Sql::Null) => Ordering::Equal,
            (Sql::Null, _) => Ordering::Less,
            (_, Sql::Null) => Ordering::Greater,
            _ => order(&va, &vb).unwrap_or(Ordering::Equal),
        };
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Three-valued logic, like SQL: `None` is unknown.
fn truth(cond: &Cond, ctx: &Ctx<'_>) -> Option<bool> {
    match cond {
        Cond::True => Some(true),
        Cond::False => Some(false),
        Cond::All(items) => items
            .iter()
            .try_fold(Some(true), |acc, c| match truth(c, ctx) {
                Some(false) => Err(()),
                None => Ok(None),
                Some(true) => Ok(acc),
            })
            .unwrap_or(Some(false)),
        Cond::Any(items) => items
            .iter()
            .try_fold(Some(false), |acc, c| match truth(c, ctx) {
                Some(true) => Err(()),
                None => Ok(None),
                Some(false) => Ok(acc),
            })
            .map_or(Some(true), |v| v),
        Cond::Compare { left, op, right } => compare(left, *op, right, ctx),
        Cond::ExistsInner { joins, cond } => {
            // Inner joins: combinations with a missing (NULL) element drop out.
            let combos = expand_joins(joins, ctx)?;
            let present = |c: &Ctx<'_>| {
                c.joined.iter().all(|(_, j)| match j {
                    Joined::Element(v) => !v.is_null(),
                    Joined::Record(_, r) => r.is_some(),
                })
            };
            Some(
                combos
                    .iter()
                    .filter(|c| present(c))
                    .any(|c| truth(cond, c) == Some(true)),
            )
        }
        Cond::Exists { joins, cond } => {
            let combos = expand_joins(joins, ctx)?;
            Some(combos.iter().any(|c| truth(cond, c) == Some(true)))
        }
        Cond::Every { joins, cond } => {
            let combos = expand_joins(joins, ctx)?;
            Some(combos.iter().all(|c| truth(cond, c) == Some(true)))
        }
    }
}

/// Every combination of joined rows (LEFT JOIN: an empty source contributes one NULL).
/// `None` when a join needs related records and none were provided.
fn expand_joins<'a>(joins: &[Join], ctx: &Ctx<'a>) -> Option<Vec<Ctx<'a>>> {
    let mut combos = vec![Ctx {
        collection: ctx.collection,
        row: ctx.row,
        joined: ctx.joined.clone(),
        data: ctx.data,
    }];
    for j in joins {
        let mut next = Vec::new();
        for c in &combos {
            let found: Vec<Joined> = match &j.source {
                JoinSource::Elements { array } => match json_of(array, c) {
                    Some(Value::Array(items)) if !items.is_empty() => {
                        items.into_iter().map(Joined::Element).collect()
                    }
                    _ => vec![],
                },
                JoinSource::Record { collection, key } => {
                    let id = key_text(key, c);
                    let record = id
                        .and_then(|id| c.data.map(|d| d.record(collection, &id)))
                        .flatten();
                    c.data?;
                    record
                        .into_iter()
                        .map(|r| Joined::Record(Arc::clone(collection), Some(Arc::new(r))))
                        .collect()
                }
                JoinSource::Referencing {
                    collection,
                    field,
                    key,
                    ..
                } => {
                    let data = c.data?;
                    let rows = key_text(key, c)
                        .map(|id| data.referencing(collection, field, &id))
                        .unwrap_or_default();
                    rows.into_iter()
                        .map(|r| Joined::Record(Arc::clone(collection), Some(Arc::new(r))))
                        .collect()
                }
                JoinSource::Every { collection } => {
                    let data = c.data?;
                    data.all(collection)
                        .into_iter()
                        .map(|r| Joined::Record(Arc::clone(collection), Some(Arc::new(r))))
                        .collect()
                }
            };
            let found = if found.is_empty() {
                vec![match &j.source {
                    JoinSource::Elements { .. } => Joined::Element(Value::Null),
                    JoinSource::Record { collection, .. }
                    | JoinSource::Referencing { collection, .. }
                    | JoinSource::Every { collection } => {
                        Joined::Record(Arc::clone(collection), None)
                    }
                }]
            } else {
                found
            };
            for f in found {
                let mut joined = c.joined.clone();
                joined.push((j.alias.clone(), f));
                next.push(Ctx {
                    collection: c.collection,
                    row: c.row,
                    joined,
                    data: c.data,
                });
            }
        }
        combos = next;
    }
    Some(combos)
}

/// A join key as the text an `id` column is compared with (NULL matches nothing).
fn key_text(key: &Term, ctx: &Ctx<'_>) -> Option<String> {
    match value(key, ctx) {
        Sql::Text(t) => Some(t),
        Sql::Num(n) => text_of(&Sql::Num(n)),
        Sql::Null => None,
    }
}

/// The JSON value of a term that names a column or joined element.
fn json_of(t: &Term, ctx: &Ctx<'_>) -> Option<Value> {
    match t {
        Term::Column(name) => ctx.row.get(name).cloned(),
        Term::Field { alias, column } => match ctx.joined(alias)? {
            Joined::Element(v) => Some(v.clone()),
            Joined::Record(_, Some(row)) => row.get(column).cloned(),
            Joined::Record(_, None) => None,
        },
        _ => None,
    }
}

fn compare(left: &Term, op: CmpOp, right: &Term, ctx: &Ctx<'_>) -> Option<bool> {
    let json_side = matches!(left, Term::JsonPath { .. }) || matches!(right, Term::JsonPath { .. });
    let (l, r) = (value(left, ctx), value(right, ctx));
    let (la, ra) = (ctx.affinity(left), ctx.affinity(right));
    match op {
        CmpOp::Eq | CmpOp::Neq if json_side => Some(is(&l, &r) == (op == CmpOp::Eq)),
        CmpOp::Eq | CmpOp::Neq if left.is_empty_literal() || right.is_empty_literal() => {
            let field = if right.is_empty_literal() { &l } else { &r };
            let empty = matches!(field, Sql::Null) || *field == Sql::Text(String::new());
            Some(empty == (op == CmpOp::Eq))
        }
        CmpOp::Eq | CmpOp::Neq
            if !matches!(left, Term::Value(_)) && !matches!(right, Term::Value(_)) =>
        {
            let coalesce = |v: Sql| {
                if v == Sql::Null {
                    Sql::Text(String::new())
                } else {
                    v
                }
            };
            // COALESCE(…) results carry no affinity.
            let (l, r) = (coalesce(l), coalesce(r));
            Some((order(&l, &r)? == Ordering::Equal) == (op == CmpOp::Eq))
        }
        CmpOp::Neq => {
            let (l, r) = apply_affinity(l, la, r, ra);
            Some(!is(&l, &r))
        }
        CmpOp::Like | CmpOp::NotLike => {
            let pattern = match right {
                Term::Value(Literal::Text(s)) => kulisse_store::like_pattern(s),
                _ => format!("%{}%", text_of(&r)?),
            };
            let hit = like(&text_of(&l)?, &pattern);
            Some(hit == (op == CmpOp::Like))
        }
        _ => {
            let (l, r) = apply_affinity(l, la, r, ra);
            let ord = order(&l, &r)?;
            Some(match op {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Gte => ord != Ordering::Less,
                CmpOp::Lt => ord == Ordering::Less,
                _ => ord != Ordering::Greater,
            })
        }
    }
}

/// SQLite's comparison affinity rules: a numeric operand converts the other side's
/// number-looking text; otherwise a text operand turns the other (affinity-less) side's
/// numbers into text.
fn apply_affinity(l: Sql, la: Affinity, r: Sql, ra: Affinity) -> (Sql, Sql) {
    let to_num = |v: Sql| match v {
        Sql::Text(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|_| !t.trim().is_empty() && t.trim() == t)
            .map_or(Sql::Text(t), Sql::Num),
        other => other,
    };
    let to_text = |v: Sql| match v {
        Sql::Num(n) => Sql::Text(text_of(&Sql::Num(n)).unwrap_or_default()),
        other => other,
    };
    match (la, ra) {
        (Affinity::Numeric, Affinity::Text | Affinity::None) => (l, to_num(r)),
        (Affinity::Text | Affinity::None, Affinity::Numeric) => (to_num(l), r),
        (Affinity::Text, Affinity::None) => (l, to_text(r)),
        (Affinity::None, Affinity::Text) => (to_text(l), r),
        _ => (l, r),
    }
}

/// `IS`: NULL-safe equality.
fn is(l: &Sql, r: &Sql) -> bool {
    match (l, r) {
        (Sql::Null, Sql::Null) => true,
        (Sql::Null, _) | (_, Sql::Null) => false,
        _ => order(l, r) == Some(Ordering::Equal),
    }
}

/// SQLite ordering: NULL is unknown; numbers sort before text.
fn order(l: &Sql, r: &Sql) -> Option<Ordering> {
    match (l, r) {
        (Sql::Null, _) | (_, Sql::Null) => None,
        (Sql::Num(a), Sql::Num(b)) => a.partial_cmp(b),
        (Sql::Num(_), Sql::Text(_)) => Some(Ordering::Less),
        (Sql::Text(_), Sql::Num(_)) => Some(Ordering::Greater),
        (Sql::Text(a), Sql::Text(b)) => Some(a.cmp(b)),
    }
}

fn text_of(v: &Sql) -> Option<String> {
    match v {
        Sql::Null => None,
        Sql::Num(n) => Some(kulisse_schema::value::number(*n).to_string()),
        Sql::Text(t) => Some(t.clone()),
    }
}

fn from_json(v: &Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Num(f64::from(u8::from(*b))),
        Value::Number(n) => Sql::Num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

fn value(t: &Term, ctx: &Ctx<'_>) -> Sql {
    match t {
        Term::Column(_) | Term::Field { .. } => {
            json_of(t, ctx).as_ref().map_or(Sql::Null, from_json)
        }
        Term::JsonPath { source, path } => {
            let root = match source.as_ref() {
                Term::Column(_) | Term::Field { .. } => json_of(source, ctx),
                _ => None,
            };
            let mut cur = root.as_ref();
            for seg in path {
                cur = match cur {
                    Some(Value::Object(m)) => m.get(seg),
                    Some(Value::Array(items)) => {
                        seg.parse::<usize>().ok().and_then(|i| items.get(i))
                    }
                    _ => None,
                };
            }
            cur.map_or(Sql::Null, from_json)
        }
        Term::JsonLength(source) => match json_of(source, ctx) {
            Some(Value::Array(items)) => Sql::Num(items.len() as f64),
            Some(Value::Null) | None => Sql::Null,
            Some(_) => Sql::Num(0.0),
        },
        Term::Lower(inner) => match value(inner, ctx) {
            Sql::Text(s) => Sql::Text(s.to_ascii_lowercase()),
            other => other,
        },
        Term::Lookup {
            joins,
            term,
            only_if,
        } => match expand_joins(joins, ctx) {
            Some(combos) => combos
                .iter()
                .find(|c| {
                    only_if
                        .as_ref()
                        .is_none_or(|cond| truth(cond, c) == Some(true))
                })
                .map_or(Sql::Null, |c| value(term, c)),
            None => Sql::Null,
        },
        // NOTE: strftime needs SQLite's date engine; the evaluator treats it as unknown.
        Term::Strftime { .. } => Sql::Null,
        Term::GeoDistance(args) => {
            let n = |t: &Term| match value(t, ctx) {
                Sql::Num(n) => n,
                Sql::Text(s) => s.parse().unwrap_or(0.0),
                Sql::Null => 0.0,
            };
            Sql::Num(kulisse_store::geo::haversine_km(
                n(&args[0]),
                n(&args[1]),
                n(&args[2]),
                n(&args[3]),
            ))
        }
        Term::Condition(cond) => match truth(cond, ctx) {
            Some(true) => Sql::Num(1.0),
            _ => Sql::Num(0.0),
        },
        Term::Value(Literal::Null) => Sql::Null,
        Term::Value(Literal::Bool(b)) => Sql::Num(f64::from(u8::from(*b))),
        Term::Value(Literal::Number(n)) => Sql::Num(*n),
        Term::Value(Literal::Text(s)) => Sql::Text(s.clone()),
    }
}

/// SQLite LIKE with `ESCAPE '\'`: `%` any run, `_` one char, ASCII case-insensitive.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut p: Vec<(char, bool)> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    p.push((n.to_ascii_lowercase(), true));
                }
            }
            c => p.push((c.to_ascii_lowercase(), false)),
        }
    }
    // Dynamic programming over (text position, pattern position).
    let mut dp = vec![vec![false; p.len() + 1]; t.len() + 1];
    dp[0][0] = true;
    for j in 1..=p.len() {
        dp[0][j] = dp[0][j - 1] && p[j - 1] == ('%', false);
    }
    for i in 1..=t.len() {
        for j in 1..=p.len() {
            dp[i][j] = match p[j - 1] {
                ('%', false) => dp[i][j - 1] || dp[i - 1][j],
                ('_', false) => dp[i - 1][j - 1],
                (c, _) => dp[i - 1][j - 1] && t[i - 1] == c,
            };
        }
    }
    dp[t.len()][p.len()]
}

#[cfg(test)]
mod tests;
