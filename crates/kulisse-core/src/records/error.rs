//! Why a record write or a batch was refused. Each variant's `Display` is PocketBase's
//! exact message; `http/error.rs` picks the status.

use std::borrow::Cow;

use kulisse_schema::{FieldError, FieldErrors};

/// A record create, update or delete refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// A create or update names no collection. PB compat: writes word an unknown
    /// collection differently from reads ([`crate::CoreError::UnknownCollection`]).
    #[error("Missing or invalid collection context.")]
    UnknownCollectionForWrite,
    /// A write to a view collection, which stores no records of its own.
    #[error("Unsupported collection type.")]
    ViewNotWritable,
    /// A delete whose cascade goes deeper than `MAX_CASCADE_DEPTH`.
    #[error("Failed to delete record: the cascade is too deep.")]
    CascadeTooDeep,
    /// A delete of the last superuser, who is needed to administer the app.
    #[error("You can't delete the only existing superuser.")]
    OnlySuperuser,
    /// A delete of a record that a required, non-cascading relation points at.
    #[error(
        "Failed to delete record. Make sure that the record is not part of a required relation reference."
    )]
    RequiredReference,
    /// The file store refused an upload (its message, for the log).
    #[error("Failed to upload the files.")]
    FileStorage(String),
    /// The file store could not be read for a download (its message, for the log).
    #[error("The service is temporarily unavailable.")]
    FileUnavailable(String),
    /// A download's `Range` lies outside the file.
    #[error("The requested range is not satisfiable.")]
    RangeNotSatisfiable {
        /// The file's size, for `Content-Range: bytes */size`.
        size: u64,
    },
}

impl RecordsError {
    /// What the client is told.
    pub fn message(&self) -> Cow<'static, str> {
        self.to_string().into()
    }
}

/// A batch refused as a whole, before or while its requests run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Batch requests are off in the settings.
    #[error("Batch requests are not allowed.")]
    Disabled,
    /// A batch without requests.
    #[error("Invalid batch request data.")]
    NoRequests,
    /// More requests than the settings' `batch.maxRequests`.
    #[error("Invalid batch request data.")]
    TooManyRequests {
        /// The limit.
        max: usize,
    },
    /// The batch ran past the settings' `batch.timeout`.
    #[error("Batch transaction timeout.")]
    Timeout,
}

impl BatchError {
    /// What the client is told.
    pub fn message(&self) -> Cow<'static, str> {
        self.to_string().into()
    }

    /// The errors of the `requests` field, PocketBase's shapes (empty when the refusal is
    /// not about the body).
    pub fn field_errors(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        match self {
            BatchError::NoRequests => errs.add("requests", FieldError::required()),
            BatchError::TooManyRequests { max } => errs.add(
                "requests",
                FieldError::too_long(u64::try_from(*max).unwrap_or(u64::MAX)),
            ),
            BatchError::Disabled | BatchError::Timeout => {}
        }
        errs
    }
}
