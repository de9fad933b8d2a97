//! Who is asking: tokens, passwords and the auth endpoints' logic.

mod cache;
mod cleanup;
mod error;
mod forget;
mod forms;
mod install;
mod mailed;
mod mfa;
pub mod oauth2;
mod origins;
mod otp;
mod password;
mod service;
mod tokens;

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::Row;

pub use cache::AuthCache;
pub use error::AuthError;
pub(crate) use forget::ForgetChangedRecords;
pub use install::{FirstSuperuser, INSTALL_LINK_VALID_SECS};
pub use origins::Client;
pub use password::{hash_password, verify_password};
pub use service::{AuthMethods, AuthService, Login, Method};
pub use tokens::{Claims, TokenKind};

/// The token in an `Authorization` header value: as it is, or after `Bearer ` (PocketBase
/// takes both).
pub fn bare_token(header: &str) -> &str {
    let raw = header.trim();
    match raw.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => raw[7..].trim(),
        _ => raw,
    }
}

/// The requester of an operation.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No (valid) token. Bad tokens also end up here: PocketBase treats them as guests.
    #[default]
    Guest,
    /// An authenticated record of an auth collection.
    Record {
        /// Its collection.
        collection: Arc<Collection>,
        /// The record as stored (including hidden fields, for `@request.auth.*`).
        record: Arc<Row>,
    },
}

impl Auth {
    /// Superusers bypass every rule.
    pub fn is_superuser(&self) -> bool {
        matches!(self, Auth::Record { collection, .. } if collection.is_superusers())
    }

    /// The authenticated record's id.
    pub fn id(&self) -> Option<&str> {
        match self {
            Auth::Record { record, .. } => record.get("id").and_then(|v| v.as_str()),
            Auth::Guest => None,
        }
    }

    /// Whether the requester is the record `id` of `collection_id`.
    pub fn is_record(&self, collection_id: &str, id: &str) -> bool {
        matches!(self, Auth::Record { collection, record } if collection.id == collection_id && record.get("id").and_then(|v| v.as_str()) == Some(id))
    }
}
