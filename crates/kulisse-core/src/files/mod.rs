//! Files (spec §7): the `BlobStore` port, the store the settings pick, PocketBase's
//! stored names and the keys files live under, thumbnails, and the janitor that deletes
//! deleted records' files. Uploads into records are `records/files.rs`.

mod janitor;
pub mod name;
pub mod sniff;
mod storage;
pub mod store;
mod thumb;
mod workers;

pub use janitor::Janitor;
pub use name::{is_stored_name, key, record_prefix, stored_name, thumb_key, thumbs_prefix};
pub use storage::{BlobStores, FileStorage};
pub use store::{Blob, BlobError, BlobStore, ByteRange};
pub use thumb::{
    ALWAYS_ALLOWED, MAX_THUMB_ORIGINAL, ThumbError, ThumbMode, ThumbSize, Thumbnailer, Thumbs,
    thumb_type,
};
