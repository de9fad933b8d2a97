//! Files (spec §7): the `BlobStore` port, the store the settings pick, PocketBase's stored names and the keys files
//! live under, and the janitor that deletes deleted records' files. Uploads into records
//! are `records/files.rs`.

mod janitor;
pub mod name;
mod storage;
pub mod store;

pub use janitor::Janitor;
pub use name::{is_stored_name, key, record_prefix, stored_name};
pub use storage::{BlobStores, FileStorage};
pub use store::{Blob, BlobError, BlobStore, ByteRange};
