//! kulisse as a library: the composition root, and the HTTP layer it serves, so
//! integration tests wire and drive exactly what the binary runs.
//!
//! Only `compose` names an engine or an adapter; HTTP lives in `kulisse-http`, which
//! cannot reach storage at all.

pub mod compose;

pub use kulisse_http as http;
