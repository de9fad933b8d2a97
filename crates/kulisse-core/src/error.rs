//! The domain error every service returns; the HTTP layer maps it to status codes.
//!
//! Each area names what went wrong in its own enum, next to the code that refuses
//! (`records::RecordsError`, `records::BatchError`, `collections::CollectionsError`,
//! `auth::AuthError`, `settings::SettingsError`, `query::QueryError`); `CoreError` composes
//! them with the few failures every area shares. A variant's text is PocketBase's exact
//! message where PocketBase has a specific one (its `Display`), and [`CoreError::message`]
//! is what a client is told. Statuses are picked in one place only: the HTTP layer's
//! `http/error.rs`.

use std::borrow::Cow;

use kulisse_schema::FieldErrors;
use kulisse_store::StoreError;

use crate::auth::AuthError;
use crate::backups::BackupError;
use crate::collections::CollectionsError;
use crate::query::QueryError;
use crate::realtime::RealtimeError;
use crate::records::{BatchError, RecordsError};
use crate::settings::SettingsError;

/// What went wrong, in domain words: an area's refusal, or one of the failures shared by
/// every area.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A record read or write refused.
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// A batch refused as a whole.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A collection change refused.
    #[error(transparent)]
    Collections(#[from] CollectionsError),
    /// Authentication failed or the requester may not do this.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A settings change refused.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A `filter`, `sort`, `expand` or stored rule that cannot be applied.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A realtime subscription request refused.
    #[error(transparent)]
    Realtime(#[from] RealtimeError),
    /// A backup operation refused.
    #[error(transparent)]
    Backups(#[from] BackupError),
    /// The collection in the path does not exist.
    #[error("Missing collection context.")]
    UnknownCollection,
    /// The addressed resource does not exist or is hidden by a rule.
    #[error("The requested resource wasn't found.")]
    NotFound,
    /// No scheduled job has the id in the path.
    #[error("Missing or invalid cron job.")]
    UnknownCron,
    /// The action's rule is `null` and the requester is not a superuser.
    #[error("Only superusers can perform this action.")]
    SuperusersOnly,
    /// A submitted form failed validation.
    #[error("{form}")]
    Invalid {
        /// Which form; names the summary message.
        form: Form,
        /// Per-field errors (may be empty, e.g. a failed createRule).
        errors: FieldErrors,
    },
    /// Storage failed; never shown to clients beyond a generic message.
    #[error(transparent)]
    Store(StoreError),
}

/// A form whose validation failed. PB compat: each answers with its own summary message
/// (its `Display`) and the field errors under `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Form {
    /// A record create (also an upsert that creates, and a failed createRule).
    #[error("Failed to create record.")]
    RecordCreate,
    /// A record update.
    #[error("Failed to update record.")]
    RecordUpdate,
    /// A collection create.
    #[error("Failed to create collection.")]
    CollectionCreate,
    /// A collection update.
    #[error("Failed to update collection.")]
    CollectionUpdate,
    /// The definitions of a collections import.
    #[error("Failed to import collections.")]
    CollectionsImport,
    /// A settings PATCH.
    #[error("An error occurred while saving the new settings.")]
    Settings,
    /// `POST /api/settings/test/email`'s body.
    #[error("Failed to send the test email.")]
    TestEmail,
    /// `POST /api/settings/test/s3`'s body.
    #[error("Failed to test the S3 filesystem.")]
    TestS3,
    /// A batch body (its `requests` list and each request's method and url).
    #[error("Invalid batch request data.")]
    Batch,
    /// Any other request form: auth-with-password, the collections import's list.
    #[error("An error occurred while validating the submitted data.")]
    Request,
    /// `POST /api/settings/apple/generate-client-secret`'s body.
    #[error("Invalid client secret data.")]
    AppleClientSecret,
    /// A form PocketBase checks as it loads it (`auth-with-oauth2`).
    #[error("An error occurred while loading the submitted data.")]
    Load,
    /// A realtime subscription request (`clientId`, `subscriptions`).
    #[error("Something went wrong while processing your request.")]
    Realtime,
}

/// PocketBase's message for malformed list parameters and parse failures.
pub const GENERIC_BAD_REQUEST: &str = "Something went wrong while processing your request.";

impl CoreError {
    /// A validation failure of `form` with field errors.
    pub fn invalid(form: Form, errors: FieldErrors) -> Self {
        CoreError::Invalid { form, errors }
    }

    /// What the client is told, PocketBase's exact words: an internal cause or a reason
    /// PocketBase words generically never shows here.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            CoreError::Records(e) => e.message(),
            CoreError::Batch(e) => e.message(),
            CoreError::Collections(e) => e.message(),
            CoreError::Auth(e) => e.message(),
            CoreError::Settings(e) => e.message(),
            CoreError::Query(e) => e.message(),
            CoreError::Realtime(e) => e.to_string().into(),
            CoreError::Backups(e) => e.to_string().into(),
            CoreError::Store(StoreError::Unavailable | StoreError::Io(_)) => {
                "The service is temporarily unavailable.".into()
            }
            CoreError::Store(StoreError::NoSpace) => {
                "Not enough disk space to save the change; nothing was saved.".into()
            }
            CoreError::Store(_) => GENERIC_BAD_REQUEST.into(),
            CoreError::UnknownCollection
            | CoreError::NotFound
            | CoreError::UnknownCron
            | CoreError::SuperusersOnly
            | CoreError::Invalid { .. } => self.to_string().into(),
        }
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
