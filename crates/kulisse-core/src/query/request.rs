//! What `@request.*` can see.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::auth::Auth;

/// The request data rules and filters may reference.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The requester.
    pub auth: Auth,
    /// HTTP method (`GET`, `POST`…).
    pub method: String,
    /// `default`, `realtime`, `expand`, …
    pub context: &'static str,
    /// First value of each query parameter.
    pub query: BTreeMap<String, String>,
    /// Headers, names normalised to snake_case lower (`X-Custom` → `x_custom`).
    pub headers: BTreeMap<String, String>,
    /// Submitted body (after modifiers) for create/update.
    pub body: Map<String, Value>,
}

impl RequestInfo {
    /// A request by `auth` with everything else empty (`default` context).
    pub fn for_auth(auth: Auth, method: &str) -> Self {
        Self {
            auth,
            method: method.to_owned(),
            context: "default",
            ..Self::default()
        }
    }
}

/// PocketBase's header key normalisation for `@request.headers.*`.
pub fn normalize_header_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}
