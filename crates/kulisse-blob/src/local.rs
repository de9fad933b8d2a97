//! The data dir's files read and written directly where object_store's general path costs
//! more: a download opens, sizes and reads its first 64 KiB in one blocking call
//! (object_store makes one to open and then one per 8 KiB), and an upload is linked into
//! place from its temporary file in the same data dir instead of copied.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use kulisse_core::files::{Blob, BlobError, ByteRange};

/// Bytes of a file read per blocking call: a typical image in one, and a bounded buffer
/// per download in flight.
const READ_CHUNK: u64 = 64 * 1024;

/// A blob's bytes as they are read.
pub(crate) type BlobBody = BoxStream<'static, Result<Bytes, BlobError>>;

fn failed(e: impl std::fmt::Display) -> BlobError {
    BlobError::Failed(e.to_string())
}

/// The file at `path`, all of it or the bytes of `range`.
pub(crate) async fn read(path: PathBuf, range: Option<ByteRange>) -> Result<Blob, BlobError> {
    let buf = buffer();
    let (file, head, rest, size, modified, served) = tokio::task::spawn_blocking(move || {
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => BlobError::NotFound,
            _ => failed(e),
        })?;
        let meta = file.metadata().map_err(failed)?;
        if !meta.is_file() {
            return Err(BlobError::NotFound);
        }
        let size = meta.len();
        let (bytes, served) = match range {
            Some(range) => {
                let (first, last) = range
                    .within(size)
                    .ok_or(BlobError::RangeNotSatisfiable { size })?;
                (first..last + 1, Some((first, last)))
            }
            None => (0..size, None),
        };
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let head = chunk(&mut file, &bytes, buf)?;
        let rest = bytes.start + head.len() as u64..bytes.end;
        Ok((file, head, rest, size, modified, served))
    })
    .await
    .map_err(failed)??;
    let body = futures::stream::once(async { Ok(head) }).chain(stream(file, rest));
    Ok(Blob {
        size,
        modified,
        range: served,
        body: body.boxed(),
    })
}

/// A buffer for [`chunk`], allocated by the calling (runtime) thread: the blocking
/// threads that fill them then keep no memory of their own after a burst of downloads.
fn buffer() -> Vec<u8> {
    vec![0; READ_CHUNK as usize]
}

/// Up to [`READ_CHUNK`] bytes of `file` from the start of `range`, read into `buf`.
fn chunk(file: &mut File, range: &Range<u64>, mut buf: Vec<u8>) -> Result<Bytes, BlobError> {
    let len = (range.end - range.start).min(READ_CHUNK);
    buf.truncate(usize::try_from(len).map_err(failed)?);
    file.seek(SeekFrom::Start(range.start)).map_err(failed)?;
    file.read_exact(&mut buf).map_err(failed)?;
    Ok(Bytes::from(buf))
}

/// The bytes of `range` of `file`, a [`chunk`] per blocking call.
pub(crate) fn stream(file: File, range: Range<u64>) -> BlobBody {
    futures::stream::try_unfold((file, range), |(mut file, range)| async move {
        if range.is_empty() {
            return Ok(None);
        }
        let buf = buffer();
        tokio::task::spawn_blocking(move || {
            let bytes = chunk(&mut file, &range, buf)?;
            let rest = range.start + bytes.len() as u64..range.end;
            Ok(Some((bytes, (file, rest))))
        })
        .await
        .map_err(failed)?
    })
    .boxed()
}

/// Links the file at `from` in as `to` (creating its directory), readable as a stored
/// file is; fails when they are on different filesystems (the caller then copies).
pub(crate) async fn link(from: &Path, to: PathBuf) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    tokio::fs::hard_link(from, &to).await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Temporary files are the owner's only; stored ones are as any file the server
        // writes.
        tokio::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).await?;
    }
    Ok(())
}
