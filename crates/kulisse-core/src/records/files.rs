//! A write's files (spec §7.1): uploads are checked against their field, named, and their
//! names added to the body under the key they came with (so `apply_body`'s set, append and
//! remove work on names as on any list); their blobs are put under the record before the
//! transaction and deleted again if it fails; files an update dropped are deleted after
//! COMMIT. A deleted record's files go with it through the change event (`janitor.rs`).
//! Downloads are `download.rs`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use kulisse_schema::value::as_list;
use kulisse_schema::{Collection, FieldError, FieldErrors, FieldKind};
use kulisse_store::Row;
use serde_json::{Map, Value};

use super::error::RecordsError;
use crate::error::{CoreError, Form};
use crate::files::{self, BlobStore};

/// The file store, shared with work that outlives the request.
pub(super) type Blobs = Arc<dyn BlobStore>;
use crate::ids::IdSource;

/// PocketBase's `maxSize` when a file field sets none: 5 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 5 * 1024 * 1024;

/// A file part of a request, already in a temporary file (which the caller keeps until
/// the write is answered).
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form key it came under: a file field's name, or `+name` / `name+` to append.
    pub key: String,
    /// The file name the client gave.
    pub name: String,
    /// Where its bytes are.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// A write's files: uploads checked and named, waiting for their record's id, and the
/// files the record had before the write.
#[derive(Default)]
pub(super) struct Staged {
    /// (stored name, temporary file)
    files: Vec<(String, PathBuf)>,
    /// An update's record's file names before it.
    before: HashSet<String>,
}

impl Staged {
    /// The stored names of the new files.
    pub(super) fn names(&self) -> HashSet<String> {
        self.files.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Whether the write uploads files.
    pub(super) fn has_new(&self) -> bool {
        !self.files.is_empty()
    }

    pub(super) fn with_before(self, before: HashSet<String>) -> Staged {
        Staged { before, ..self }
    }

    /// The names of the files the record had and `row` (as committed) no longer names.
    ///
    /// `before` was read ahead of the transaction: when another write changed the record
    /// in between, this may miss a file (an orphan), but never names one the record
    /// still has, since `row` is what this write committed.
    pub(super) fn dropped(&self, c: &Collection, row: &Row) -> Vec<String> {
        let now = names_in(c, row);
        self.before
            .iter()
            .filter(|n| !now.contains(*n) && files::is_stored_name(n))
            .cloned()
            .collect()
    }
}

/// Whether `c` has a file field.
pub fn has_files(c: &Collection) -> bool {
    c.fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::File { .. }))
}

/// The most bytes the files of one write to `c` may hold: each file field's `maxSize`
/// (5 MiB by default) times its `maxSelect` (PocketBase lets a field allow more than the
/// usual request limit).
fn upload_allowance(c: &Collection) -> u64 {
    c.fields
        .iter()
        .map(|f| match &f.kind {
            FieldKind::File {
                max_size,
                max_select,
                ..
            } => {
                let size = if *max_size == 0 {
                    DEFAULT_MAX_SIZE
                } else {
                    *max_size
                };
                size.saturating_mul((*max_select).max(1))
            }
            _ => 0,
        })
        .fold(0, u64::saturating_add)
}

/// Checks `uploads` against their fields (size, and type by content), names them and
/// adds the names to `body` under their keys. Parts under a key that is no file field are
/// ignored, as PocketBase ignores unknown keys.
pub(super) async fn stage(
    c: &Collection,
    body: &mut Map<String, Value>,
    uploads: Vec<Upload>,
    ids: &dyn IdSource,
    form: Form,
) -> Result<Staged, CoreError> {
    let mut staged = Staged::default();
    let mut errs = FieldErrors::new();
    for upload in uploads {
        let field_name = upload.key.trim_start_matches('+').trim_end_matches('+');
        let Some(field) = c.field(field_name) else {
            continue;
        };
        let FieldKind::File {
            max_size,
            mime_types,
            ..
        } = &field.kind
        else {
            continue;
        };
        let limit = if *max_size == 0 {
            DEFAULT_MAX_SIZE
        } else {
            *max_size
        };
        if upload.size > limit {
            errs.add(
                field_name,
                FieldError::new(
                    "validation_file_size_limit",
                    format!(
                        "Failed to upload {} - the maximum allowed file size is {limit} bytes.",
                        upload.name
                    ),
                )
                .with_param("file", upload.name.clone())
                .with_param("maxSize", limit),
            );
            continue;
        }
        let stored = files::stored_name(&upload.name, ids);
        let allowed = match mime_types.is_empty() {
            true => true,
            false => {
                let mime = sniff(&upload).await;
                mime_types.iter().any(|m| m.eq_ignore_ascii_case(&mime))
            }
        };
        if !allowed {
            errs.add(
                field_name,
                FieldError::new(
                    "validation_invalid_mime_type",
                    format!(
                        "\"{stored}\" mime type must be one of: {}.",
                        mime_types.join(", ")
                    ),
                ),
            );
            continue;
        }
        add_name(body, &upload.key, &stored);
        staged.files.push((stored, upload.path));
    }
    if errs.0.is_empty() {
        Ok(staged)
    } else {
        Err(CoreError::invalid(form, errs))
    }
}

/// The media type of an upload, by its content ([`files::sniff`]).
async fn sniff(upload: &Upload) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(files::sniff::HEAD);
    let read = match tokio::fs::File::open(&upload.path).await {
        Ok(file) => {
            file.take(files::sniff::HEAD as u64)
                .read_to_end(&mut head)
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = read {
        tracing::warn!(error = %e, "cannot read an upload's first bytes");
    }
    files::sniff::media_type(&head, &upload.name)
}

/// The media type of a file named `name`, by its extension (`application/octet-stream`
/// when unknown).
pub fn mime_of(name: &str) -> String {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// Adds `name` to the body's value under `key`: after the names (kept files) or uploads
/// already there.
fn add_name(body: &mut Map<String, Value>, key: &str, name: &str) {
    let value = body.entry(key.to_owned()).or_insert(Value::Null);
    let mut names: Vec<Value> = match value.take() {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other],
    };
    names.push(Value::String(name.to_owned()));
    *value = Value::Array(names);
}

/// Puts the staged files under record `id` of `c`; when one fails, those already put are
/// deleted again. Returns their keys.
pub(super) async fn put(
    blobs: &Blobs,
    c: &Collection,
    id: &str,
    staged: &Staged,
) -> Result<Vec<String>, CoreError> {
    let mut put = Vec::with_capacity(staged.files.len());
    for (name, path) in &staged.files {
        let key = files::key(&c.id, id, name);
        if let Err(e) = blobs.put(&key, path).await {
            delete_later(blobs, put);
            return Err(RecordsError::FileStorage(e.to_string()).into());
        }
        put.push(key);
    }
    Ok(put)
}

/// Every file name in `row`'s file fields.
pub(super) fn names_in(c: &Collection, row: &Row) -> HashSet<String> {
    c.fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::File { .. }))
        .flat_map(|f| row.get(&f.name).map(as_list).unwrap_or_default())
        .collect()
}

/// Checks that the file names the body sets or adds are the record's own (`before`) or
/// new uploads: naming any other file is refused, as PocketBase does. (Names to remove,
/// `field-`, need no check.)
pub(super) fn check_names(
    c: &Collection,
    body: &Map<String, Value>,
    before: &HashSet<String>,
    new: &HashSet<String>,
    form: Form,
) -> Result<(), CoreError> {
    let mut errs = FieldErrors::new();
    for (key, value) in body {
        if key.ends_with('-') {
            continue;
        }
        let name = key.trim_start_matches('+').trim_end_matches('+');
        if !c
            .field(name)
            .is_some_and(|f| matches!(f.kind, FieldKind::File { .. }))
        {
            continue;
        }
        let invalid: Vec<String> = as_list(value)
            .into_iter()
            .filter(|n| !before.contains(n) && !new.contains(n))
            .collect();
        if !invalid.is_empty() {
            errs.add(
                name,
                FieldError::new(
                    "validation_invalid_file",
                    format!("Invalid new files: [{}].", invalid.join(" ")),
                )
                .with_param("invalidFiles", invalid),
            );
        }
    }
    if errs.0.is_empty() {
        Ok(())
    } else {
        Err(CoreError::invalid(form, errs))
    }
}

/// Deletes `keys` in the background (files a failed write had put); a failure is logged
/// and leaves an orphan, never a lost file.
pub(super) fn delete_later(blobs: &Blobs, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    let blobs = Arc::clone(blobs);
    tokio::spawn(async move {
        if let Err(e) = blobs.delete(&keys).await {
            tracing::warn!(error = %e, ?keys, "cannot delete dropped files");
        }
    });
}

/// Deletes the files `names` of record `id` of `c` and their thumbs in the background
/// (files a write dropped), as [`delete_later`].
pub(super) fn delete_dropped(blobs: &Blobs, c: &Collection, id: &str, names: Vec<String>) {
    let keys = names.iter().map(|n| files::key(&c.id, id, n)).collect();
    let thumbs: Vec<String> = names
        .iter()
        .map(|n| files::thumbs_prefix(&c.id, id, n))
        .collect();
    delete_later(blobs, keys);
    let blobs = Arc::clone(blobs);
    tokio::spawn(async move {
        for prefix in thumbs {
            if let Err(e) = blobs.delete_prefix(&prefix).await {
                tracing::warn!(error = %e, %prefix, "cannot delete dropped files' thumbs");
            }
        }
    });
}

impl super::RecordsService {
    /// [`upload_allowance`] of the collection named `collection` (0 when there is none).
    pub fn upload_allowance(&self, collection: &str) -> u64 {
        self.collection(collection)
            .map_or(0, |c| upload_allowance(&c))
    }

    /// The file store in use.
    ///
    /// # Errors
    /// [`RecordsError::FileStorage`] without one, or when the settings' bucket cannot be
    /// opened.
    pub(super) fn blob_store(&self) -> Result<Blobs, CoreError> {
        let storage = self
            .files
            .as_ref()
            .ok_or_else(|| RecordsError::FileStorage("no file storage".into()))?;
        storage
            .current()
            .map_err(|e| RecordsError::FileStorage(e.to_string()).into())
    }
}
