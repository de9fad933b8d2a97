//! The `BlobStore` adapter: uploaded files in the data dir's `storage/` (PocketBase's
//! layout) or an S3-compatible bucket, both through `object_store`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use kulisse_core::files::{Blob, BlobError, BlobStore, BlobStores, ByteRange};
use kulisse_core::settings::S3Settings;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;

mod local;

/// Bytes read from an upload's temporary file per part written.
const CHUNK: usize = 256 * 1024;

/// Files in an `object_store`.
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is the local disk, for `local.rs`'s direct paths.
    local: Option<Arc<LocalFileSystem>>,
}

impl ObjectBlobs {
    /// Files under `root` on the local disk (created if missing).
    ///
    /// # Errors
    /// When `root` cannot be created.
    pub fn local(root: &Path) -> std::io::Result<ObjectBlobs> {
        std::fs::create_dir_all(root)?;
        // Emptied directories go too: a deleted record leaves no trace in `storage/`.
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(std::io::Error::other)?
            .with_automatic_cleanup(true);
        let store = Arc::new(store);
        Ok(ObjectBlobs {
            store: Arc::clone(&store) as Arc<dyn ObjectStore>,
            local: Some(store),
        })
    }

    /// Files in the S3-compatible bucket `s3` names (no request is made yet).
    ///
    /// # Errors
    /// When the endpoint is no URL.
    pub fn s3(s3: &S3Settings) -> Result<ObjectBlobs, BlobError> {
        let endpoint = s3
            .endpoint_url()
            .ok_or_else(|| failed(format!("invalid S3 endpoint {:?}", s3.endpoint)))?;
        let store = AmazonS3Builder::new()
            .with_endpoint(endpoint.as_str().trim_end_matches('/'))
            .with_allow_http(endpoint.scheme() == "http")
            .with_region(&s3.region)
            .with_bucket_name(&s3.bucket)
            .with_access_key_id(&s3.access_key)
            .with_secret_access_key(s3.secret.expose())
            .with_virtual_hosted_style_request(!s3.force_path_style)
            .with_retry(RetryConfig {
                // A request waits for the store: a few quick retries, then a clear error
                // (object_store's default keeps retrying for up to three minutes).
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            })
            .build()
            .map_err(failed)?;
        Ok(ObjectBlobs {
            store: Arc::new(store),
            local: None,
        })
    }
}

/// The stores of one data dir: its `storage/` and `backups/`, and the buckets the
/// settings name.
pub struct Stores {
    local: Arc<dyn BlobStore>,
    backups: Arc<dyn BlobStore>,
}

impl Stores {
    /// Files under `root` and backups under `backups` on the local disk (both created if
    /// missing), or in a bucket.
    ///
    /// # Errors
    /// When `root` or `backups` cannot be created.
    pub fn new(root: &Path, backups: &Path) -> std::io::Result<Stores> {
        Ok(Stores {
            local: Arc::new(ObjectBlobs::local(root)?),
            backups: Arc::new(ObjectBlobs::local(backups)?),
        })
    }
}

impl BlobStores for Stores {
    fn local(&self) -> Arc<dyn BlobStore> {
        Arc::clone(&self.local)
    }

    fn local_backups(&self) -> Arc<dyn BlobStore> {
        Arc::clone(&self.backups)
    }

    fn s3(&self, s3: &S3Settings) -> Result<Arc<dyn BlobStore>, BlobError> {
        Ok(Arc::new(ObjectBlobs::s3(s3)?))
    }
}

fn failed(e: impl std::fmt::Display) -> BlobError {
    BlobError::Failed(e.to_string())
}

fn store_error(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => failed(other),
    }
}

fn key(text: &str) -> Result<Key, BlobError> {
    Key::parse(text).map_err(failed)
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    async fn put(&self, key_text: &str, from: &Path) -> Result<(), BlobError> {
        let key = key(key_text)?;
        if let Some(local) = &self.local {
            let to = local.path_to_filesystem(&key).map_err(failed)?;
            if local::link(from, to).await.is_ok() {
                return Ok(());
            }
        }
        let mut file = tokio::fs::File::open(from).await.map_err(failed)?;
        let size = file.metadata().await.map_err(failed)?.len();
        if size <= CHUNK as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await.map_err(failed)?;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(store_error)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&key).await.map_err(store_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(failed(e));
                }
            };
            writer.wait_for_capacity(2).await.map_err(store_error)?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(store_error)?;
        Ok(())
    }

    async fn put_bytes(&self, key_text: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.store
            .put(&key(key_text)?, PutPayload::from(bytes))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, key_text: &str, range: Option<ByteRange>) -> Result<Blob, BlobError> {
        let key = key(key_text)?;
        if let Some(local) = &self.local {
            return local::read(local.path_to_filesystem(&key).map_err(failed)?, range).await;
        }
        let mut options = GetOptions::default();
        let mut served = None;
        if let Some(range) = range {
            // Resolved against the size first: how each backend words a range past the
            // end differs.
            let size = self.store.head(&key).await.map_err(store_error)?.size;
            let (first, last) = range
                .within(size)
                .ok_or(BlobError::RangeNotSatisfiable { size })?;
            options.range = Some(GetRange::Bounded(first..last + 1));
            served = Some((first, last));
        }
        let got = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(store_error)?;
        let modified = jiff::Timestamp::from_millisecond(got.meta.last_modified.timestamp_millis())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let body = match got.payload {
            GetResultPayload::File(file, _) => local::stream(file, got.range),
            GetResultPayload::Stream(stream) => stream.map_err(store_error).boxed(),
        };
        Ok(Blob {
            size: got.meta.size,
            modified,
            range: served,
            body,
        })
    }

    async fn delete(&self, keys: &[String]) -> Result<(), BlobError> {
        for text in keys {
            match self.store.delete(&key(text)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let prefix = key(prefix.trim_end_matches('/'))?;
        let listed: Vec<_> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(store_error)?;
        for location in listed {
            // One by one: a bulk delete is not offered by every S3-compatible store.
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let prefix = match prefix.trim_end_matches('/') {
            "" => None,
            text => Some(key(text)?),
        };
        self.store
            .list(prefix.as_ref())
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(blobs: &ObjectBlobs, key: &str) -> Vec<u8> {
        let blob = blobs.get(key, None).await.unwrap();
        let chunks: Vec<_> = blob.body.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn files_are_stored_read_and_deleted_under_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = ObjectBlobs::local(&dir.path().join("storage")).unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"hello").unwrap();
        let big = dir.path().join("big");
        let content: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &content).unwrap();

        blobs.put("col/rec/a.txt", &small).await.unwrap();
        blobs.put("col/rec/b.bin", &big).await.unwrap();
        blobs.put("col/other/c.txt", &small).await.unwrap();
        assert!(
            dir.path().join("storage/col/rec/a.txt").is_file(),
            "PocketBase's layout"
        );
        assert_eq!(read(&blobs, "col/rec/a.txt").await, b"hello");
        assert_eq!(read(&blobs, "col/rec/b.bin").await, content);
        assert_eq!(
            blobs.get("col/rec/b.bin", None).await.unwrap().size,
            content.len() as u64
        );
        assert!(matches!(
            blobs.get("col/rec/nope", None).await,
            Err(BlobError::NotFound)
        ));

        let part = blobs
            .get("col/rec/b.bin", Some(ByteRange::Between(10, 19)))
            .await
            .unwrap();
        assert_eq!(
            (part.size, part.range),
            (content.len() as u64, Some((10, 19)))
        );
        let bytes: Vec<_> = part.body.try_collect().await.unwrap();
        assert_eq!(bytes.concat(), &content[10..20]);
        assert!(matches!(
            blobs.get("col/rec/a.txt", Some(ByteRange::From(5))).await,
            Err(BlobError::RangeNotSatisfiable { size: 5 })
        ));

        blobs
            .delete(&["col/rec/a.txt".to_owned(), "col/rec/gone".to_owned()])
            .await
            .unwrap();
        assert!(matches!(
            blobs.get("col/rec/a.txt", None).await,
            Err(BlobError::NotFound)
        ));
        blobs.delete_prefix("col/rec/").await.unwrap();
        assert!(matches!(
            blobs.get("col/rec/b.bin", None).await,
            Err(BlobError::NotFound)
        ));
        assert_eq!(
            read(&blobs, "col/other/c.txt").await,
            b"hello",
            "other records keep theirs"
        );
        assert!(
            !dir.path().join("storage/col/rec").exists(),
            "an emptied record directory goes too"
        );
        assert!(blobs.get("../escape", None).await.is_err());
    }
}
