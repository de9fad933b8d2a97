//! Why a collection change was refused. Each variant's `Display` is PocketBase's exact
//! message; `http/error.rs` picks the status. Field-level problems are
//! [`crate::CoreError::Invalid`] instead.

use std::borrow::Cow;

/// A collection create, update, delete or truncate refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectionsError {
    /// The body is not a JSON object.
    #[error("Failed to load the collection type data due to invalid formatting.")]
    BodyNotAnObject,
    /// A field definition cannot be loaded (not an object, unknown type).
    #[error("Failed to load the submitted data due to invalid formatting.")]
    MalformedField,
    /// A delete of a system collection.
    #[error("Failed to delete collection.")]
    SystemNotDeletable,
    /// A delete of a collection that a view's query reads.
    #[error("Failed to delete collection.")]
    ReadByView,
    /// A delete of a collection that relation fields of other collections point at.
    #[error("Failed to delete collection probably due to existing reference in {}.", .by.join(", "))]
    Referenced {
        /// The referring collections' names.
        by: Vec<String>,
    },
    /// A delete of a collection that another collection's API rules name.
    #[error("Failed to delete collection because the API rules of {by} reference it.")]
    ReferencedByRules {
        /// The first collection whose rules would break.
        by: String,
    },
    /// A truncate of a view collection.
    #[error("View collections cannot be truncated since they don't store their own records.")]
    ViewNotTruncatable,
    /// A truncate of the superusers, which would leave nobody to administer the app.
    /// PB compat: its truncate fails on the last superuser, who cannot be deleted.
    #[error(
        "Failed to truncate collection (most likely due to required cascade delete record references)."
    )]
    SuperusersNotTruncatable,
}

impl CollectionsError {
    /// What the client is told.
    pub fn message(&self) -> Cow<'static, str> {
        self.to_string().into()
    }
}
