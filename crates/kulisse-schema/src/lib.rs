//! The data model of kulisse: collections, their fields, and the values records hold.
//!
//! Everything here is pure (no I/O, no async) so that the storage engines, the services and
//! the HTTP layer agree on one definition of a collection and of a valid record value.
//! The JSON forms produced here are PocketBase's wire and storage forms: a collection
//! definition exported from PocketBase deserialises unchanged, and what we serialise is
//! what the official SDKs expect.
//!
//! Main types: [`Collection`] (with [`Field`] and [`FieldKind`]), [`FieldError`] /
//! [`FieldErrors`] (PocketBase's `{code, message, params}` leaves) and the value functions in
//! [`value`] (lenient input coercion, then validation).
//!
//! Must not depend on: any other kulisse crate, tokio, SQL drivers.

pub mod collection;
pub mod datetime;
pub mod errors;
pub mod field;
pub mod ids;
pub mod index;
pub mod value;

pub use collection::{AuthOptions, Collection, CollectionKind, Rules, TokenConfig};
pub use errors::{FieldError, FieldErrors};
pub use field::{Field, FieldKind};
pub use index::IndexDef;
