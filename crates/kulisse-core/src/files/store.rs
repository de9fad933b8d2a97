//! The port to where uploaded files live.

use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use jiff::Timestamp;

/// Stores uploaded files. Adapters implement it (`kulisse-blob`: the data dir's `storage/`
/// or an S3-compatible bucket). Keys are `{collectionId}/{recordId}/{filename}`,
/// PocketBase's layout, so an imported `pb_data/storage` works as it is.
///
/// Keys come from [`super::keys`] only: ids and stored names checked there, never text
/// from a request.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the file at `from` under `key`, streamed (never read whole into memory).
    ///
    /// # Errors
    /// When the store cannot be written.
    async fn put(&self, key: &str, from: &Path) -> Result<(), BlobError>;

    /// Stores `bytes` (a small file the server made: a thumbnail, a test file) under `key`.
    ///
    /// # Errors
    /// When the store cannot be written.
    async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), BlobError>;

    /// The blob under `key`, all of it or the bytes of `range`.
    ///
    /// # Errors
    /// [`BlobError::NotFound`], [`BlobError::RangeNotSatisfiable`], or when the store
    /// cannot be read.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Blob, BlobError>;

    /// Deletes the blobs under `keys`; missing ones are no error.
    ///
    /// # Errors
    /// When the store refuses.
    async fn delete(&self, keys: &[String]) -> Result<(), BlobError>;

    /// Deletes every blob whose key starts with `prefix` (a record's directory).
    ///
    /// # Errors
    /// When the store refuses.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;

    /// The keys of every blob whose key starts with `prefix` (`""`: all), in no order.
    ///
    /// # Errors
    /// When the store cannot be listed.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
}

/// Part of a file, as an HTTP `Range` asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// From this offset to the end.
    From(u64),
    /// From the first to the last offset, both included (the end may lie past the file).
    Between(u64, u64),
    /// The last this many bytes.
    Last(u64),
}

impl ByteRange {
    /// The offsets (first and last, included) this range is of a file of `size` bytes;
    /// `None` when it lies outside it.
    pub fn within(self, size: u64) -> Option<(u64, u64)> {
        let last = size.checked_sub(1)?;
        match self {
            ByteRange::From(start) => (start <= last).then_some((start, last)),
            ByteRange::Between(start, end) => {
                (start <= last && start <= end).then_some((start, end.min(last)))
            }
            ByteRange::Last(0) => None,
            ByteRange::Last(n) => Some((size.saturating_sub(n), last)),
        }
    }
}

/// A stored file being read.
pub struct Blob {
    /// Its whole size in bytes.
    pub size: u64,
    /// When it was written.
    pub modified: Timestamp,
    /// The offsets (first and last, included) of the bytes in `body`, when a range was
    /// asked for.
    pub range: Option<(u64, u64)>,
    /// Its bytes (those of the range), as they are read.
    pub body: Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>,
}

/// Why the file store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No blob under that key.
    #[error("file not found")]
    NotFound,
    /// The range asked for lies outside the file.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The store failed (its message, for the log).
    #[error("file storage failed: {0}")]
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_resolve_against_the_file_size_like_http() {
        assert_eq!(ByteRange::From(2).within(10), Some((2, 9)));
        assert_eq!(ByteRange::Between(2, 4).within(10), Some((2, 4)));
        assert_eq!(ByteRange::Between(8, 99).within(10), Some((8, 9)));
        assert_eq!(ByteRange::Last(3).within(10), Some((7, 9)));
        assert_eq!(ByteRange::Last(30).within(10), Some((0, 9)));
        assert_eq!(ByteRange::From(10).within(10), None);
        assert_eq!(ByteRange::Between(5, 4).within(10), None);
        assert_eq!(ByteRange::Last(0).within(10), None);
        assert_eq!(ByteRange::From(0).within(0), None);
    }
}
