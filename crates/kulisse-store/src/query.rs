//! The query IR: typed, engine-neutral, built by the services from a parsed filter and the
//! collection schema. Values only ever appear as [`Literal`]s, which engines bind as
//! parameters; names only ever come from the schema.

use std::sync::Arc;

use kulisse_schema::Collection;

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
    /// A comparison against each element of a JSON array column (`field:each`). With
    /// `any`, one element must satisfy it; otherwise all must. An empty array behaves as
    /// one NULL element, which is how PocketBase's SQL behaves (`!=` then matches).
    Each {
        /// The multi-valued column.
        column: String,
        /// Operator.
        op: CmpOp,
        /// The other operand (compared as element `op` right).
        right: Term,
        /// Any-of instead of all-of.
        any: bool,
    },
    /// Constant truth (e.g. an empty rule).
    True,
    /// Constant falsehood.
    False,
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
    /// A column of the queried collection.
    Column(String),
    /// A path inside a JSON column (`meta.a.0`, `loc.lat`); missing paths are NULL.
    JsonPath {
        /// The JSON column.
        column: String,
        /// Keys; all-digit segments index arrays.
        path: Vec<String>,
    },
    /// Number of elements of a JSON array column.
    JsonLength(String),
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
    /// A bound value.
    Value(Literal),
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
