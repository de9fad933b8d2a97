//! Realtime refusals.

/// Why a subscription request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealtimeError {
    /// No connected client has this id (it disconnected, or never existed).
    #[error("Missing or invalid client id.")]
    UnknownClient,
    /// The client's subscriptions were set by another requester (PocketBase allows only a
    /// guest to become authenticated).
    #[error("The current and the previous request authorization don't match.")]
    AuthMismatch,
}
