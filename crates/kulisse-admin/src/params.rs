//! A page address's query parameters, as a browser sends them: every pair in order, so a
//! key a form repeats (checkboxes) keeps all its values. Unreadable parameters read as
//! none: a page then shows its defaults.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The query's pairs.
pub(crate) struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Params(
            serde_urlencoded::from_str(query).unwrap_or_default(),
        ))
    }
}

impl Params {
    /// The first value of `key` (empty when it is not there).
    pub(crate) fn first(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
