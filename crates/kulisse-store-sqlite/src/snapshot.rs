//! [`Store::snapshot`](kulisse_store::Store::snapshot) on SQLite: `VACUUM INTO` on a
//! connection of its own (read-only, outside the pool and its query timeout: a large
//! database takes longer than any request may). It reads in one transaction, so the copy
//! is of one moment, and in WAL mode writers go on meanwhile.

use std::path::Path;

use kulisse_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::classify::classify;

/// Copies the database at `from` into the directory `into`, under its own file name.
pub(crate) fn vacuum_into(from: &Path, into: &Path) -> Result<(), StoreError> {
    let name = from
        .file_name()
        .ok_or_else(|| StoreError::Other(format!("no file name in {}", from.display())))?;
    let dest = into.join(name);
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Other(format!("not UTF-8: {}", dest.display())))?;
    let conn = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(classify)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(classify)?;
    conn.execute("VACUUM INTO ?1", [dest]).map_err(classify)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_what_was_committed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("data.db");
        let conn = Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('kept');",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let into = dir.path().join("copy");
        std::fs::create_dir(&into).unwrap_or_else(|e| panic!("{e}"));
        vacuum_into(&db, &into).unwrap_or_else(|e| panic!("{e}"));
        let copy = Connection::open(into.join("data.db")).unwrap_or_else(|e| panic!("{e}"));
        let a: String = copy
            .query_row("SELECT a FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, "kept");
    }
}
