//! The domain error every service returns; the HTTP layer maps it to status codes.

use kulisse_schema::FieldErrors;
use kulisse_store::StoreError;

use crate::query::FilterError;

/// What went wrong, in domain words. Messages are PocketBase's exact strings where the
/// variant carries one.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The collection in the path does not exist (PocketBase: "Missing collection context.").
    #[error("unknown collection")]
    UnknownCollection,
    /// A missing context with PocketBase's specific message (404).
    #[error("missing: {0}")]
    Missing(&'static str),
    /// The addressed resource does not exist or is hidden by a rule.
    #[error("not found")]
    NotFound,
    /// The rule is `null` and the requester is not a superuser.
    #[error("superusers only")]
    SuperusersOnly,
    /// A specific refusal with PocketBase's message.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The action needs an authenticated record.
    #[error("authentication required: {0}")]
    AuthRequired(String),
    /// Validation failed; `message` is the action's summary ("Failed to create record.").
    #[error("{message}")]
    Invalid {
        /// Summary message.
        message: String,
        /// Per-field errors (may be empty, e.g. a failed createRule).
        errors: FieldErrors,
    },
    /// A malformed request (bad paging, body…) with the message to show.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A `filter` or `sort` parameter that cannot be applied. PB compat: PocketBase's
    /// generic 400; the reason (with its position) goes under `data.<param>` so the
    /// developer sees what is wrong.
    #[error("invalid {param}: {reason}")]
    InvalidParam {
        /// The query parameter, `filter` or `sort`.
        param: &'static str,
        /// What is wrong and where, e.g. `unknown or hidden field "x" at 1:1`.
        reason: String,
    },
    /// An `expand` would embed more records than one answer may hold (PocketBase has no
    /// such limit; see `records::MAX_EMBEDDED`).
    #[error("expand embeds more than {max} records")]
    ExpandTooLarge {
        /// The limit.
        max: u64,
    },
    /// Storage failed; never shown to clients beyond a generic message.
    #[error(transparent)]
    Store(StoreError),
}

/// PocketBase's message for malformed list parameters and parse failures.
pub const GENERIC_BAD_REQUEST: &str = "Something went wrong while processing your request.";

impl CoreError {
    /// A validation failure with field errors.
    pub fn invalid(message: &str, errors: FieldErrors) -> Self {
        CoreError::Invalid {
            message: message.to_owned(),
            errors,
        }
    }

    /// `param` (`filter` or `sort`) refused for `error`; `text` is the parameter as sent.
    pub fn invalid_param(param: &'static str, error: &FilterError, text: &str) -> Self {
        CoreError::InvalidParam {
            param,
            reason: error.describe(text),
        }
    }

    /// A stored rule that no longer compiles against the schema of the moment. Rules are
    /// checked when saved, so this means the schema changed under one; the client gets the
    /// generic 400 (rules are not theirs to read) and the reason is logged.
    pub fn broken_rule(error: &FilterError, rule: &str) -> Self {
        tracing::warn!(reason = %error.describe(rule), rule, "a stored rule did not compile");
        Self::generic_bad_request()
    }

    /// The generic 400 PocketBase uses for unparseable parameters.
    pub fn generic_bad_request() -> Self {
        CoreError::BadRequest(GENERIC_BAD_REQUEST.to_owned())
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound,
            other => CoreError::Store(other),
        }
    }
}
