//! Why a settings change was refused before validation. Field-level problems are
//! [`crate::CoreError::Invalid`] of [`crate::error::Form::Settings`]; `http/error.rs`
//! picks the status.

use std::borrow::Cow;

use crate::error::GENERIC_BAD_REQUEST;

/// A settings PATCH refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The body is not a JSON object.
    #[error("the settings body is not an object")]
    NotAnObject,
    /// A value does not fit the settings' types.
    #[error("An error occurred while loading the submitted data.")]
    Malformed,
    /// `POST /api/settings/test/s3`: the bucket is off or refused (the raw cause).
    #[error("Failed to test the S3 filesystem. Raw error: \n{0}")]
    S3Test(String),
    /// `POST /api/settings/test/email`: the mail could not be sent (the raw cause).
    #[error("Failed to send the test email. Raw error: \n{0}")]
    EmailTest(String),
}

impl SettingsError {
    /// What the client is told. PB compat: a body that is no object gets the generic
    /// message.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            SettingsError::NotAnObject => GENERIC_BAD_REQUEST.into(),
            SettingsError::Malformed | SettingsError::S3Test(_) | SettingsError::EmailTest(_) => {
                self.to_string().into()
            }
        }
    }
}
