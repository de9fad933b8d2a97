//! kulisse as a library: the HTTP layer, so integration tests drive the same router the
//! binary serves.
//!
//! Must not depend on: SQL drivers (engines are chosen in the binary's `compose`).

pub mod http;
