//! The query IR: typed, engine-neutral, built by the services from a parsed filter and the
//! collection schema. Values only ever appear as [`Literal`]s, which engines bind as
//! parameters; names only ever come from the schema.

use std::sync::Arc;

use kulisse_schema::{Collection, CollectionKind};

use crate::Row;

/// A read of one collection's records.
#[derive(Debug, Clone)]
pub struct Select {
    /// The collection to read.
    pub collection: Arc<Collection>,
    /// Rows must satisfy this condition.
    pub filter: Option<Cond>,
    /// Ordering terms, in priority order. Empty means natural (insertion) order.
    pub order: Vec<Order>,
    /// Maximum rows to return.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: u64,
    /// Whether to compute the total number of matching rows.
    pub count_total: bool,
    /// Read this row instead of the table: a record not stored yet, so a create rule can
    /// be checked against it before anything is written.
    pub virtual_row: Option<Row>,
    /// Inside a write: lock the rows read until the transaction ends, so a
    /// read-modify-write (`views+`) cannot lose a concurrent update on engines with
    /// concurrent writers.
    pub for_update: bool,
}

impl Select {
    /// All rows of `collection`, natural order, no total.
    pub fn all(collection: Arc<Collection>) -> Self {
        Self {
            collection,
            filter: None,
            order: vec![],
            limit: None,
            offset: 0,
            count_total: false,
            virtual_row: None,
            for_update: false,
        }
    }

    /// The row with primary key `id`.
    pub fn by_id(collection: Arc<Collection>, id: &str) -> Self {
        let filter = Cond::Compare {
            left: Term::Column("id".into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(id.into())),
        };
        Self {
            filter: Some(filter),
            limit: Some(1),
            ..Self::all(collection)
        }
    }

    /// Builder: adds a condition (ANDed with an existing one).
    pub fn and(mut self, cond: Cond) -> Self {
        self.filter = Some(match self.filter.take() {
            None => cond,
            Some(Cond::All(mut v)) => {
                v.push(cond);
                Cond::All(v)
            }
            Some(other) => Cond::All(vec![other, cond]),
        });
        self
    }
}

/// Rows of a read, plus the total when it was asked for.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The rows, decoded to canonical values.
    pub rows: Vec<Row>,
    /// Total matching rows ignoring limit/offset, when requested.
    pub total: Option<u64>,
}

/// A boolean condition over a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Every condition holds (an empty list is true).
    All(Vec<Cond>),
    /// At least one holds (an empty list is false).
    Any(Vec<Cond>),
    /// A comparison with PocketBase's semantics (see [`CmpOp`]).
    Compare {
        /// Left operand.
        left: Term,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        right: Term,
    },
    /// "Some combination of joined rows satisfies `cond`": the joins are LEFT joins from
    /// the current row, so a relation without rows still contributes one all-NULL row.
    /// This is how paths that fan out (multiple relations, back-relations,
    /// `@collection`, `:each`) get PocketBase's any-of semantics, and why two conditions
    /// on the same path inside one scope must hold for the same joined row.
    Exists {
        /// Joins, in dependency order.
        joins: Vec<Join>,
        /// Condition over the current row and the joined aliases.
        cond: Box<Cond>,
    },
    /// [`Cond::Exists`] with inner joins: a missing related record contributes no row.
    /// Equivalent when `cond` cannot hold on a missing (all-NULL) row, and much cheaper:
    /// engines can plan it as a semi-join instead of one lookup per row.
    ExistsInner {
        /// Joins, in dependency order.
        joins: Vec<Join>,
        /// Condition over the current row and the joined aliases.
        cond: Box<Cond>,
    },
    /// "Every combination of joined rows satisfies `cond`" (NULL counts as not
    /// satisfied): PocketBase's all-of semantics of plain operators on fan-out paths. An
    /// empty relation is one all-NULL row, so `!=` holds for it and `=` does not.
    Every {
        /// Joins, in dependency order.
        joins: Vec<Join>,
        /// Condition every joined row must satisfy.
        cond: Box<Cond>,
    },
    /// Constant truth (e.g. an empty rule).
    True,
    /// Constant falsehood.
    False,
}

/// One LEFT JOIN inside an [`Cond::Exists`] / [`Cond::Every`] / [`Term::Lookup`] scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Alias the joined rows are referenced by ([`Term::Field`]); unique in its scope.
    pub alias: String,
    /// What is joined.
    pub source: JoinSource,
}

/// Sources of joined rows.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinSource {
    /// Rows of `collection` whose `id` equals `key`.
    Record {
        /// Table of the joined collection.
        collection: Arc<Collection>,
        /// The id to match (a column of an earlier alias, or a literal).
        key: Term,
    },
    /// Rows of `collection` whose relation field `field` contains `key` (back-relation).
    Referencing {
        /// The referencing collection.
        collection: Arc<Collection>,
        /// Its relation field pointing at the current collection.
        field: String,
        /// Whether that field holds several ids (JSON array).
        multiple: bool,
        /// The id referenced (usually the current row's `id`).
        key: Term,
    },
    /// Every row of `collection` (`@collection.name`).
    Every {
        /// The joined collection.
        collection: Arc<Collection>,
    },
    /// Elements of a JSON array (`:each`, multiple relations); the element is the
    /// `value` column of the alias.
    Elements {
        /// The JSON array.
        array: Term,
    },
}

/// PocketBase comparison operators.
///
/// `Eq`/`Neq` fold empty string and NULL together when one side is an empty/NULL literal,
/// and compile `Neq` to a NULL-safe inequality (`IS NOT`), so `x != 'a'` holds for NULL `x`.
/// `Like`/`NotLike` are case-insensitive "contains" matches; the right operand is wrapped
/// in `%…%` unless it is a literal that already has an unescaped `%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
}

/// An operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A column of the queried collection's current row.
    Column(String),
    /// A column of a joined alias (`value` for [`JoinSource::Elements`]).
    Field {
        /// The join alias.
        alias: String,
        /// The column.
        column: String,
    },
    /// A path inside a JSON value (`meta.a.0`, `loc.lat`); missing paths are NULL.
    JsonPath {
        /// The JSON value.
        source: Box<Term>,
        /// Keys; all-digit segments index arrays.
        path: Vec<String>,
    },
    /// Number of elements of a JSON array.
    JsonLength(Box<Term>),
    /// Lower-cased value.
    Lower(Box<Term>),
    /// SQLite-style `strftime(format, value, modifiers…)`; text result.
    Strftime {
        /// Format string.
        format: String,
        /// Time value (omitted = now).
        value: Option<Box<Term>>,
        /// Modifiers such as `+1 day`.
        modifiers: Vec<String>,
    },
    /// Great-circle distance in km between two lon/lat pairs.
    GeoDistance(Box<[Term; 4]>),
    /// The first value of `term` over a join scope (single-valued paths in sort terms).
    Lookup {
        /// Joins, in dependency order.
        joins: Vec<Join>,
        /// The value read from the joined rows.
        term: Box<Term>,
        /// Only rows where this holds give their value (NULL otherwise): a sort key the
        /// requester may only see under a condition, such as an email its owner made visible.
        only_if: Option<Box<Cond>>,
    },
    /// 1 when the condition holds, else 0 (`@request.body.x:changed`).
    Condition(Box<Cond>),
    /// A bound value.
    Value(Literal),
}

impl Term {
    /// Whether this is a literal PocketBase treats as "empty": `null` or `''`.
    ///
    /// PocketBase compares a field with either as "the field is empty", which it renders
    /// as `(x = '' OR x IS NULL)`: `tags = null` holds for a record without tags, and `0`
    /// or `false` are not empty. Every engine and the in-memory evaluator fold `=`/`!=`
    /// with such a literal the same way, so they ask this one test.
    pub fn is_empty_literal(&self) -> bool {
        match self {
            Term::Value(Literal::Null) => true,
            Term::Value(Literal::Text(s)) => s.is_empty(),
            _ => false,
        }
    }
}

/// A literal value; always bound as a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// SQL NULL.
    Null,
    /// Stored as 1/0.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

/// One ordering term.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// By a term.
    By {
        /// What to order by.
        term: Term,
        /// Descending.
        desc: bool,
    },
    /// Insertion order.
    RowId {
        /// Descending.
        desc: bool,
    },
    /// Random order.
    Random,
}

/// What a collection's natural order ([`Order::RowId`], `@rowid`) is.
///
/// A table's rows keep their insertion order (SQLite's rowid, PostgreSQL's identity
/// column). A view has no row ids, so it pages by id instead: pages stay stable and both
/// engines give the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaturalOrder {
    /// Insertion order, by the engine's row id.
    Insertion,
    /// By the `id` column.
    Id,
}

impl NaturalOrder {
    /// The natural order of `collection`.
    pub fn of(collection: &Collection) -> Self {
        if collection.kind == CollectionKind::View {
            NaturalOrder::Id
        } else {
            NaturalOrder::Insertion
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_null_and_the_empty_text_are_empty_literals() {
        assert!(Term::Value(Literal::Null).is_empty_literal());
        assert!(Term::Value(Literal::Text(String::new())).is_empty_literal());
        for not_empty in [
            Term::Value(Literal::Text(" ".into())),
            Term::Value(Literal::Number(0.0)),
            Term::Value(Literal::Bool(false)),
            Term::Column("title".into()),
        ] {
            assert!(!not_empty.is_empty_literal(), "{not_empty:?}");
        }
    }

    #[test]
    fn a_table_is_in_insertion_order_and_a_view_in_id_order() {
        let table = Collection::new("posts", CollectionKind::Base);
        let view = Collection::new("v", CollectionKind::View);
        assert_eq!(NaturalOrder::of(&table), NaturalOrder::Insertion);
        assert_eq!(NaturalOrder::of(&view), NaturalOrder::Id);
    }
}
