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

    /// The blob under `key`.
    ///
    /// # Errors
    /// [`BlobError::NotFound`], or when the store cannot be read.
    async fn get(&self, key: &str) -> Result<Blob, BlobError>;

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
}

/// A stored file being read.
pub struct Blob {
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub modified: Timestamp,
    /// Its bytes, as they are read.
    pub body: Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>,
}

/// Why the file store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No blob under that key.
    #[error("file not found")]
    NotFound,
    /// The store failed (its message, for the log).
    #[error("file storage failed: {0}")]
    Failed(String),
}
