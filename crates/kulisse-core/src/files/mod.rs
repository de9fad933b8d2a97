//! Files (spec §7), work in progress on this branch: the `BlobStore` port and PocketBase's
//! stored names. Not wired yet; see the session note of stop 22 for the design.

pub mod name;
pub mod store;

pub use name::{is_stored_name, key, record_prefix, stored_name};
pub use store::{Blob, BlobError, BlobStore};
