//! Dev-only test kit for tests above the storage port: [`TestServer`] (the router
//! `kulisse serve` builds, on a loopback port), the engine matrix ([`engine_tests!`],
//! [`TestEngine`]), the file-storage matrix ([`storage_tests!`]) and the HTTP helpers API tests share.
//!
//! Only ever a dev-dependency (`scripts/check_deps.py` holds that): it depends on the binary
//! crate's library and both engines. The PostgreSQL helpers live in
//! `kulisse-testkit-store` (re-exported here), so the engines' and core's own unit tests can
//! use them without reaching back into their own crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod client;
mod engine;
mod mail;
mod oauth2;
mod server;
mod sse;
mod storage;

pub use client::{
    SUPERUSER_EMAIL, SUPERUSER_PASSWORD, login_at, send_to, superuser_token_at, urlencode,
};
pub use engine::{ENGINE, TestEngine, current_engine};
pub use kulisse_testkit_store::pg::{fresh_database, pg_admin_url};
pub use mail::{Mail, mail_to, smtp_settings};
pub use oauth2::{
    APPLE_PRIVATE_KEY, AVATAR_PNG, FakeProvider, Grant, IdToken, apple_secret_claims,
};
pub use server::{TestServer, cut_listeners};
pub use sse::{Frame, Sse};
pub use storage::{STORAGE, TestStorage, bucket, current_storage, fresh_bucket, s3_url};
