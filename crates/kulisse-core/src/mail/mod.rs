//! Mail (spec §5.8, §8.2): the `Mailer` port, messages rendered from an auth collection's
//! templates with PocketBase's placeholders, and the service that sends them off the
//! request, retrying a few times.

mod service;
mod template;

use std::sync::Arc;

pub use service::MailService;
pub use template::{Placeholders, Template, TemplateKind};

use crate::settings::SmtpSettings;

/// An address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Display name (may be empty).
    pub name: String,
    /// The address.
    pub email: String,
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sender (the settings' `meta.senderName` and `senderAddress`).
    pub from: Address,
    /// The recipient.
    pub to: Address,
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub html: String,
}

/// Sends messages. The adapter (`kulisse-mail`) speaks SMTP.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `message` now.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses it (its words, for the log).
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// Opens mailers for the settings' `smtp`.
pub trait Mailers: Send + Sync + 'static {
    /// A mailer for `smtp` (connections are made when it sends).
    ///
    /// # Errors
    /// When the settings cannot name a server.
    fn smtp(&self, smtp: &SmtpSettings) -> Result<Arc<dyn Mailer>, MailError>;
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// `smtp.enabled` is off: kulisse has no local mailer (PocketBase's `sendmail`).
    #[error("SMTP is not enabled in the settings, so no mail can be sent.")]
    Disabled,
    /// An address or header could not be used.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The server could not be reached or refused.
    #[error("{0}")]
    Failed(String),
}
