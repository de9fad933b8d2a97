//! Application settings (`/api/settings`, spec §8.2): one typed document in the store
//! (`_params`), served with PocketBase's JSON as an immutable snapshot and replaced on
//! change.
//!
//! `model` holds the types and defaults, `document` turns a PATCH body or the stored
//! JSON into them, `validate` checks a document before it is saved, `service` serves
//! and stores it, `ip_range` parses `superuserIPs` entries.

mod document;
mod error;
mod ip_range;
mod model;
mod service;
mod validate;

pub use error::SettingsError;
pub use model::{
    BackupsSettings, BatchLimits, BatchSettings, LogsSettings, MetaSettings, RateLimitRule,
    RateLimitsSettings, S3Settings, Secret, Settings, SmtpSettings, TrustedProxy,
    TrustedProxySettings,
};
pub use service::SettingsService;
