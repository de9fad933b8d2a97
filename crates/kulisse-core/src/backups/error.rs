//! Why a backup operation was refused, in PocketBase's words.

/// A refused backup operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// Another backup or restore is running (on any node).
    #[error("Try again later - another backup/restore operation has already been started.")]
    Busy,
    /// A download without a superuser's file token.
    #[error("Insufficient permissions to access the resource.")]
    NoAccess,
    /// The backup cannot be restored: the archive is damaged, altered or of another
    /// engine, its database fails its checks, or the engine cannot restore yet. The live
    /// data is untouched.
    #[error("Failed to restore the backup: {0}.")]
    Unrestorable(String),
    /// The backup could not be made, for the cause given: clients see PocketBase's
    /// message; the cause is logged, and mailed to the superusers when a scheduled backup
    /// fails.
    #[error("Failed to create backup.")]
    NotMade(String),
    /// The backup could not be listed, found or deleted; the cause is logged, or
    /// (for a missing backup, as PocketBase) shown.
    #[error("{0}")]
    Failed(String),
}
