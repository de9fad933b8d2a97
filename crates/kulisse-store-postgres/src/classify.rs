//! The one place PostgreSQL and pool errors become [`StoreError`]s.

use kulisse_schema::Collection;
use kulisse_store::StoreError;
use tokio_postgres::error::SqlState;

/// Maps a driver error; `collection` names unique-constraint columns when known.
pub(crate) fn classify(e: &tokio_postgres::Error, collection: Option<&Collection>) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable;
    }
    let Some(db) = e.as_db_error() else {
        // No server answer: the connection failed underneath us.
        return StoreError::Unavailable;
    };
    match db.code() {
        c if *c == SqlState::UNIQUE_VIOLATION => {
            let constraint = db.constraint().unwrap_or_default();
            let column = collection
                .and_then(|c| {
                    if constraint.ends_with("_pkey") {
                        return Some("id".to_owned());
                    }
                    c.index_defs()
                        .into_iter()
                        .find(|d| d.name == constraint)
                        .and_then(|d| d.columns.first().map(|col| col.name.clone()))
                })
                .unwrap_or_else(|| constraint.to_owned());
            StoreError::Unique(column)
        }
        // statement_timeout, or our cancel request (crate::cancel).
        c if *c == SqlState::QUERY_CANCELED => StoreError::Interrupted,
        c if c.code().starts_with("23") => StoreError::Constraint(db.message().to_owned()),
        c if c.code().starts_with("08")
            || c.code().starts_with("57")
            || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            StoreError::Unavailable
        }
        c if c.code().starts_with("42") => StoreError::InvalidQuery(db.message().to_owned()),
        c if *c == SqlState::DISK_FULL => StoreError::NoSpace,
        c if *c == SqlState::IO_ERROR => StoreError::Io(db.message().to_owned()),
        _ => StoreError::Other(db.message().to_owned()),
    }
}

/// Pool failures (timeouts, unreachable server) are unavailability: the request fails fast
/// with 503 and the pool reconnects by itself.
pub(crate) fn pool_error(e: &deadpool_postgres::PoolError) -> StoreError {
    tracing::warn!(error = %e, "postgres pool");
    StoreError::Unavailable
}
