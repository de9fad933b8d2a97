//! kulisse as a library: the composition root and the HTTP layer, so integration tests
//! wire and drive exactly what the binary serves.
//!
//! Only `compose` names an engine or an adapter; `http` never touches storage.

pub mod compose;
pub mod http;
