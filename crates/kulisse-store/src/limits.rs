//! How long a query may run, and the engine-neutral test for which reads may run long.
//!
//! PocketBase stops every query at 30 s or when its client leaves. Without a bound, one
//! filter through chained back-relations (minutes of work) or a view with an endless
//! recursive CTE held a database connection, and a CPU, until it finished or forever;
//! ten such requests left no reader for anyone else. Each engine enforces
//! [`QueryLimits::timeout`] itself (SQLite: a progress handler; PostgreSQL:
//! `statement_timeout`) and stops the query of a request whose future is dropped.

use std::time::Duration;

use kulisse_schema::CollectionKind;

use crate::{Cond, Order, Select};

/// Limits every engine applies to every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The longest one query may run before it is stopped with
    /// [`crate::StoreError::Interrupted`]: a read job (rows and count) or one write job on
    /// SQLite, one statement on PostgreSQL.
    pub timeout: Duration,
    /// Reads taking at least this long are timed into the slow-query log (none when
    /// `None`): only reads through [`crate::Store::select`], where an app's filters and
    /// sorts run.
    pub slow: Option<Duration>,
}

impl QueryLimits {
    /// PocketBase's bound.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// What counts as a slow read unless the operator says otherwise: slower than a
    /// request to a well-indexed collection by two orders of magnitude, yet fast enough
    /// that a user would not yet complain.
    pub const DEFAULT_SLOW: Duration = Duration::from_millis(100);
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            timeout: Self::DEFAULT_TIMEOUT,
            slow: Some(Self::DEFAULT_SLOW),
        }
    }
}

impl Select {
    /// Whether this read looks at nothing but the collection's own table: no joins in the
    /// filter or the sort, and not a view (whose query is arbitrary SQL). Such a read costs
    /// at most one pass over the table; any other can be combinatorial (five chained
    /// back-relations took minutes), so engines run those in a lane that never takes
    /// every connection ([`crate::Store::select`] implementations).
    pub fn is_single_table(&self) -> bool {
        self.collection.kind != CollectionKind::View
            && self.filter.as_ref().is_none_or(Cond::is_row_local)
            && self.order.iter().all(|o| match o {
                Order::By { term, .. } => term.is_row_local(),
                Order::RowId { .. } | Order::Random => true,
            })
    }
}
