//! Dev-only test kit for the storage layer: the PostgreSQL test server ([`pg`]) and the
//! conformance suite every [`kulisse_store::Store`] implementation runs ([`conformance`]).
//!
//! It depends on nothing of kulisse above the storage port, so the unit tests of the engines
//! and of kulisse-core can use it without a dependency cycle (a `#[cfg(test)]` module that
//! reached back into its own crate through a dev-dependency would compile that crate twice,
//! with two incompatible copies of its types). The server-level kit, `kulisse-testkit`,
//! re-exports [`pg`]. Never a normal dependency of a shipped crate
//! (`scripts/check_deps.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod conformance;
pub mod pg;
