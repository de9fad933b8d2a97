//! The one place SQLite errors become [`StoreError`]s.

use kulisse_store::StoreError;
use rusqlite::ErrorCode;

/// Maps a driver error to the port's error.
pub(crate) fn classify(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::ConstraintViolation => {
                let msg = msg.clone().unwrap_or_default();
                match msg.strip_prefix("UNIQUE constraint failed: ") {
                    Some(cols) => {
                        let first = cols.split(',').next().unwrap_or_default().trim();
                        StoreError::Unique(first.rsplit('.').next().unwrap_or(first).to_owned())
                    }
                    None => StoreError::Constraint(msg),
                }
            }
            // Only our progress handler interrupts (crate::budget).
            ErrorCode::OperationInterrupted => StoreError::Interrupted,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen => {
                StoreError::Unavailable
            }
            ErrorCode::DiskFull => StoreError::NoSpace,
            ErrorCode::SystemIoFailure => StoreError::Io(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        },
        _ => StoreError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_the_first_column() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a TEXT UNIQUE, b TEXT); INSERT INTO t VALUES ('x', 'y');",
        )
        .unwrap();
        let err = conn
            .execute("INSERT INTO t VALUES ('x', 'z')", [])
            .unwrap_err();
        assert!(matches!(classify(err), StoreError::Unique(c) if c == "a"));
    }
}
