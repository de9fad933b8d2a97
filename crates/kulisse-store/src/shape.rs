//! What the engines and services may conclude from a condition's shape alone: whether it
//! touches only the current row, and whether a relation condition is a plain semi-join
//! that can be answered by one uncorrelated subquery instead of one lookup per row.

use crate::query::{Cond, Join, JoinSource, Term};

impl Cond {
    /// Whether the condition reads nothing but the current row: no joins, no subqueries.
    /// Such a condition can be checked on a record in hand, or next to a lookup by key.
    pub fn is_row_local(&self) -> bool {
        match self {
            Cond::All(items) | Cond::Any(items) => items.iter().all(Cond::is_row_local),
            Cond::Compare { left, right, .. } => left.is_row_local() && right.is_row_local(),
            Cond::True | Cond::False => true,
            Cond::Exists { .. } | Cond::ExistsInner { .. } | Cond::Every { .. } => false,
        }
    }

    /// This [`Cond::ExistsInner`] as a semi-join through a to-one relation of the current
    /// row, when it is one: the first join matches `id` to a column of the current row,
    /// the later joins and the related conditions never look at the current row again, and
    /// the conditions on the current row look at nothing else. Engines then render
    /// `key IN (SELECT first.id FROM … WHERE related)`, which they plan once per statement
    /// (SQLite: one ephemeral index; PostgreSQL: a hashed semi-join) instead of one
    /// correlated lookup per row, which made relation filters scan-bound.
    pub fn semi_join(&self) -> Option<SemiJoin<'_>> {
        let Cond::ExistsInner { joins, cond } = self else {
            return None;
        };
        let (first, rest) = joins.split_first()?;
        let JoinSource::Record {
            collection,
            key: key @ Term::Column(_),
        } = &first.source
        else {
            return None;
        };
        if !rest.iter().all(|j| !j.reads_current_row()) {
            return None;
        }
        let mut conjuncts = Vec::new();
        flatten_all(cond, &mut conjuncts);
        let (outer, related): (Vec<&Cond>, Vec<&Cond>) =
            conjuncts.into_iter().partition(|c| c.is_row_local());
        if related.iter().any(|c| c.reads_current_row()) {
            return None;
        }
        Some(SemiJoin {
            key,
            alias: &first.alias,
            collection,
            joins: rest,
            related,
            outer,
        })
    }

    /// Whether any term reads a column of the current row ([`Term::Column`]), here or in a
    /// nested scope.
    fn reads_current_row(&self) -> bool {
        match self {
            Cond::All(items) | Cond::Any(items) => items.iter().any(Cond::reads_current_row),
            Cond::Compare { left, right, .. } => {
                left.reads_current_row() || right.reads_current_row()
            }
            Cond::True | Cond::False => false,
            Cond::Exists { joins, cond }
            | Cond::ExistsInner { joins, cond }
            | Cond::Every { joins, cond } => {
                joins.iter().any(Join::reads_current_row) || cond.reads_current_row()
            }
        }
    }
}

/// A [`Cond::ExistsInner`] in semi-join form ([`Cond::semi_join`]): true when `key` is the
/// id of a record of `collection` (joined as `alias`, then through `joins`) for which
/// every `related` condition holds, and every `outer` condition holds on the current row.
#[derive(Debug)]
pub struct SemiJoin<'a> {
    /// The current row's relation column.
    pub key: &'a Term,
    /// Alias of the related record inside the subquery.
    pub alias: &'a str,
    /// The related collection.
    pub collection: &'a std::sync::Arc<kulisse_schema::Collection>,
    /// Further joins from the related record (inner joins).
    pub joins: &'a [Join],
    /// Conditions over the joined aliases only.
    pub related: Vec<&'a Cond>,
    /// Conditions over the current row only.
    pub outer: Vec<&'a Cond>,
}

impl Join {
    fn reads_current_row(&self) -> bool {
        match &self.source {
            JoinSource::Record { key, .. } | JoinSource::Referencing { key, .. } => {
                key.reads_current_row()
            }
            JoinSource::Elements { array } => array.reads_current_row(),
            JoinSource::Every { .. } => false,
        }
    }
}

impl Term {
    pub(crate) fn is_row_local(&self) -> bool {
        match self {
            Term::Column(_) | Term::Value(_) => true,
            Term::JsonPath { source, .. } | Term::JsonLength(source) | Term::Lower(source) => {
                source.is_row_local()
            }
            Term::Condition(c) => c.is_row_local(),
            Term::Field { .. }
            | Term::Strftime { .. }
            | Term::GeoDistance(_)
            | Term::Lookup { .. } => false,
        }
    }

    fn reads_current_row(&self) -> bool {
        match self {
            Term::Column(_) => true,
            Term::Field { .. } | Term::Value(_) => false,
            Term::JsonPath { source, .. } | Term::JsonLength(source) | Term::Lower(source) => {
                source.reads_current_row()
            }
            Term::Strftime { value, .. } => value.as_ref().is_some_and(|v| v.reads_current_row()),
            Term::GeoDistance(terms) => terms.iter().any(Term::reads_current_row),
            Term::Lookup {
                joins,
                term,
                only_if,
            } => {
                joins.iter().any(Join::reads_current_row)
                    || term.reads_current_row()
                    || only_if.as_ref().is_some_and(|c| c.reads_current_row())
            }
            Term::Condition(c) => c.reads_current_row(),
        }
    }
}

/// The conjuncts of nested [`Cond::All`]s.
fn flatten_all<'a>(c: &'a Cond, out: &mut Vec<&'a Cond>) {
    match c {
        Cond::All(items) => items.iter().for_each(|i| flatten_all(i, out)),
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kulisse_schema::{Collection, CollectionKind};

    use super::*;
    use crate::query::{CmpOp, Literal};

    fn users() -> Arc<Collection> {
        Arc::new(Collection::new("users", CollectionKind::Base))
    }

    fn cmp(left: Term, value: &str) -> Cond {
        Cond::Compare {
            left,
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(value.into())),
        }
    }

    fn field(alias: &str, column: &str) -> Term {
        Term::Field {
            alias: alias.into(),
            column: column.into(),
        }
    }

    fn exists(key: Term, cond: Cond) -> Cond {
        Cond::ExistsInner {
            joins: vec![Join {
                alias: "a".into(),
                source: JoinSource::Record {
                    collection: users(),
                    key,
                },
            }],
            cond: Box::new(cond),
        }
    }

    #[test]
    fn a_relation_condition_splits_into_related_and_current_row_parts() {
        let c = exists(
            Term::Column("author".into()),
            Cond::All(vec![
                cmp(Term::Column("title".into()), "t"),
                cmp(field("a", "name"), "n"),
            ]),
        );
        let s = c.semi_join().expect("semi-join");
        assert_eq!(s.key, &Term::Column("author".into()));
        assert_eq!(s.alias, "a");
        assert_eq!(s.outer, vec![&cmp(Term::Column("title".into()), "t")]);
        assert_eq!(s.related, vec![&cmp(field("a", "name"), "n")]);
    }

    #[test]
    fn correlated_or_non_relation_shapes_are_not_semi_joins() {
        // A related condition that compares with the current row stays correlated.
        let correlated = exists(
            Term::Column("author".into()),
            Cond::Compare {
                left: field("a", "name"),
                op: CmpOp::Eq,
                right: Term::Column("title".into()),
            },
        );
        assert!(correlated.semi_join().is_none());
        // A key that is not a column of the current row (a literal id, `@request.auth.*`).
        let literal = exists(
            Term::Value(Literal::Text("x".into())),
            cmp(field("a", "name"), "n"),
        );
        assert!(literal.semi_join().is_none());
        // An `||` mixing both sides cannot be split.
        let mixed = exists(
            Term::Column("author".into()),
            Cond::Any(vec![
                cmp(Term::Column("title".into()), "t"),
                cmp(field("a", "name"), "n"),
            ]),
        );
        assert!(mixed.semi_join().is_none());
        // LEFT-join semantics (`Exists`) are not a semi-join.
        let Cond::ExistsInner { joins, cond } =
            exists(Term::Column("author".into()), cmp(field("a", "name"), "n"))
        else {
            unreachable!()
        };
        assert!(Cond::Exists { joins, cond }.semi_join().is_none());
    }
}
