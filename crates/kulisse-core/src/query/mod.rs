//! The filter and sort language applied to a collection: parsed text → storage IR.
//!
//! `kulisse-filter` knows only syntax; this module knows the schema and the request. It
//! resolves identifiers to columns, JSON paths, request values and macros, enforces what a
//! client may reference, and yields [`kulisse_store::Cond`] / [`kulisse_store::Order`] for
//! any engine to render.

mod error;
pub mod eval;
mod filter;
mod paths;
mod request;
mod sort;

pub use error::{FilterError, ParamProblem, QueryError};
pub use filter::{Resolver, compile_filter};
pub use request::{RequestInfo, normalize_header_name};
pub use sort::{Sort, parse_sort};
