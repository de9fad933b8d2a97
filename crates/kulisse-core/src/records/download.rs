//! Downloads (spec §7.3–7.5): a record's file, or a thumb of it, from the file store, for
//! whoever may see it.

use kulisse_schema::value::as_list;
use kulisse_schema::{Collection, Field, FieldKind};

use super::error::RecordsError;
use super::files::{Blobs, mime_of};
use crate::error::CoreError;
use crate::files::{self, BlobError, ByteRange, ThumbSize};

/// A record's stored file (or a thumb of it), opened for download.
pub struct StoredFile {
    /// The blob: size, time written, bytes.
    pub blob: files::Blob,
    /// Its media type.
    pub content_type: String,
    /// The name it is served under: the file's, or `{size}_{name}` for a thumb.
    pub name: String,
}

impl super::RecordsService {
    /// `GET /api/files/{collection}/{recordId}/{filename}`: file `name` of record `id` (the
    /// bytes of `range`, when given), if one of the record's file fields names it; with
    /// `thumb`, that thumb of it when the field allows the size and the file is an image
    /// thumbs are made of, else the file itself (as PocketBase). A protected field's file
    /// also needs the record to pass the view rule for `auth` (the holder of the request's
    /// file token) in the `protectedFile` context.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for an unknown collection, record or file, or a protected
    /// file the requester may not see (PocketBase's 404); [`RecordsError::FileUnavailable`]
    /// when the store cannot be read.
    pub async fn open_file(
        &self,
        collection: &str,
        id: &str,
        name: &str,
        auth: &crate::Auth,
        range: Option<ByteRange>,
        thumb: Option<&str>,
    ) -> Result<StoredFile, CoreError> {
        let c = self
            .collection(collection)
            .map_err(|_| CoreError::NotFound)?;
        let blobs = self.blob_store()?;
        if !files::is_stored_name(name) || c.kind == kulisse_schema::CollectionKind::View {
            return Err(CoreError::NotFound);
        }
        let row = self.fetch(&c, id, None).await?.ok_or(CoreError::NotFound)?;
        let field = c
            .fields
            .iter()
            .find(|f| {
                matches!(f.kind, FieldKind::File { .. })
                    && row
                        .get(&f.name)
                        .is_some_and(|v| as_list(v).iter().any(|n| n == name))
            })
            .ok_or(CoreError::NotFound)?;
        if matches!(
            field.kind,
            FieldKind::File {
                protected: true,
                ..
            }
        ) {
            let mut req = crate::query::RequestInfo::for_auth(auth.clone(), "GET");
            req.context = "protectedFile";
            req.now = Some(self.ambient.clock.now());
            let rule = self
                .rule_cond(&c, super::rules::Action::View, &req)
                .map_err(|_| CoreError::NotFound)?;
            if rule.is_some() && self.fetch(&c, id, rule).await?.is_none() {
                return Err(CoreError::NotFound);
            }
        }
        if let Some(thumb) = thumb.and_then(|size| Thumb::of(&c, field, id, name, size)) {
            // Served when it was made before (the common case: one read); made first
            // otherwise, or the original is served when it cannot be.
            let blob = match get(&blobs, &thumb.key, range).await {
                Err(CoreError::NotFound) if self.make_thumb(&blobs, &thumb).await => {
                    Some(get(&blobs, &thumb.key, range).await?)
                }
                Err(CoreError::NotFound) => None,
                other => Some(other?),
            };
            if let Some(blob) = blob {
                return Ok(StoredFile {
                    blob,
                    content_type: thumb.content_type.to_owned(),
                    name: format!("{}_{name}", thumb.size_text),
                });
            }
        }
        Ok(StoredFile {
            blob: get(&blobs, &files::key(&c.id, id, name), range).await?,
            content_type: mime_of(name),
            name: name.to_owned(),
        })
    }

    /// Makes `thumb`; false (logged) when it cannot be made.
    async fn make_thumb(&self, blobs: &Blobs, thumb: &Thumb) -> bool {
        let Some(thumbs) = self.thumbs.as_ref() else {
            return false;
        };
        match thumbs
            .ensure(blobs, &thumb.original, &thumb.key, thumb.size)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::info!(error = %e, original = %thumb.original, size = %thumb.size_text,
                    "no thumb; serving the original");
                false
            }
        }
    }
}

/// A thumb a download asks for, of a size its field allows, of an image thumbs are made of.
struct Thumb {
    /// As asked (`100x100`, `0x50f`).
    size_text: String,
    size: ThumbSize,
    key: String,
    original: String,
    content_type: &'static str,
}

impl Thumb {
    /// Thumb `size_text` of file `name` of `field` of record `id` of `c`; `None` when the
    /// original is to be served (a size the field does not allow, no image).
    fn of(c: &Collection, field: &Field, id: &str, name: &str, size_text: &str) -> Option<Thumb> {
        let FieldKind::File { thumbs: sizes, .. } = &field.kind else {
            return None;
        };
        if size_text != files::ALWAYS_ALLOWED && !sizes.iter().any(|s| s == size_text) {
            return None;
        }
        Some(Thumb {
            size_text: size_text.to_owned(),
            size: ThumbSize::parse(size_text)?,
            key: files::thumb_key(&c.id, id, name, size_text),
            original: files::key(&c.id, id, name),
            content_type: files::thumb_type(&mime_of(name))?,
        })
    }
}

/// The blob under `key`, as the download route reports a failure.
async fn get(blobs: &Blobs, key: &str, range: Option<ByteRange>) -> Result<files::Blob, CoreError> {
    blobs.get(key, range).await.map_err(|e| match e {
        BlobError::NotFound => CoreError::NotFound,
        BlobError::RangeNotSatisfiable { size } => {
            RecordsError::RangeNotSatisfiable { size }.into()
        }
        other => RecordsError::FileUnavailable(other.to_string()).into(),
    })
}
