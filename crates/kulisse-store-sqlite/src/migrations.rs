//! The SQLite engine's system migrations: the steps (SQL in `migrations/`, numbered and
//! named as the PostgreSQL engine's) and their runner. The design, including how a data dir
//! made before versioning is adopted, is in [`kulisse_store::migrations`].
//!
//! They run on the writer connection before the pool starts, each step in its own
//! `BEGIN IMMEDIATE` transaction: that takes SQLite's write lock before the version is read,
//! so two processes opening the same data dir at once take turns (the second waits up to
//! the busy timeout and then finds the work done).

use kulisse_store::migrations::{CREATE_VERSION_TABLE, READ_VERSION, RECORD_VERSION};
use kulisse_store::{Migration, Migrations, StoreError};
use rusqlite::Connection;

use crate::classify::classify;
use crate::pool::control;

/// This engine's migrations, oldest first.
pub static SYSTEM_MIGRATIONS: Migrations = Migrations::new(&[
    Migration {
        version: 1,
        name: "system_tables",
        sql: include_str!("migrations/0001_system_tables.sql"),
    },
    Migration {
        version: 2,
        name: "hits",
        sql: include_str!("migrations/0002_hits.sql"),
    },
]);

/// Brings the database on `conn` up to the newest step of `list`.
///
/// # Errors
/// [`StoreError::SchemaTooNew`] when the data dir was migrated by a newer kulisse (nothing
/// is changed), or the error of the step that failed (that step is rolled back; the steps
/// before it stay applied).
pub(crate) fn run(conn: &Connection, list: &Migrations) -> Result<(), StoreError> {
    loop {
        control(conn, "BEGIN IMMEDIATE").map_err(classify)?;
        let applied = apply_next(conn, list);
        let end = if matches!(applied, Ok(true)) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = control(conn, end).map_err(classify);
        if !applied? {
            return ended;
        }
        ended?;
    }
}

/// Applies the step after the database's version inside the open transaction; false when
/// the database is up to date.
fn apply_next(conn: &Connection, list: &Migrations) -> Result<bool, StoreError> {
    let current = if has_table(conn, kulisse_store::migrations::VERSION_TABLE)? {
        conn.query_row(READ_VERSION, [], |r| r.get::<_, i64>(0))
            .map_err(classify)?
    } else {
        0
    };
    let Some(step) = list.next_after(current)? else {
        return Ok(false);
    };
    if current == 0 && has_table(conn, "_collections")? {
        tracing::info!("adopting a data dir made before versioned migrations");
    }
    conn.execute_batch(CREATE_VERSION_TABLE).map_err(classify)?;
    conn.execute_batch(step.sql).map_err(classify)?;
    conn.execute(
        RECORD_VERSION,
        (step.version, step.name, kulisse_schema::datetime::now()),
    )
    .map_err(classify)?;
    tracing::info!(
        version = step.version,
        name = step.name,
        "applied a system migration"
    );
    Ok(true)
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
    .map_err(classify)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_rows(conn: &Connection) -> Vec<(i64, String)> {
        let mut stmt = conn
            .prepare("SELECT version, name FROM _migrations ORDER BY version")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    static ONE_STEP: Migrations = Migrations::new(&[Migration {
        version: 1,
        name: "system_tables",
        sql: include_str!("migrations/0001_system_tables.sql"),
    }]);

    static TWO_STEPS: Migrations = Migrations::new(&[
        Migration {
            version: 1,
            name: "system_tables",
            sql: include_str!("migrations/0001_system_tables.sql"),
        },
        Migration {
            version: 2,
            name: "second",
            sql: "CREATE TABLE _second (x TEXT); INSERT INTO _second VALUES ('seeded');",
        },
    ]);

    #[test]
    fn the_steps_are_numbered_from_one_without_gaps() {
        SYSTEM_MIGRATIONS.check().unwrap();
    }

    #[test]
    fn a_database_at_an_older_version_gets_only_the_later_steps_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        run(&conn, &ONE_STEP).unwrap();
        conn.execute("INSERT INTO _params (key, value) VALUES ('k', 'kept')", [])
            .unwrap();
        run(&conn, &TWO_STEPS).unwrap();
        assert_eq!(
            version_rows(&conn),
            [(1, "system_tables".into()), (2, "second".into())]
        );
        let seeded: String = conn
            .query_row("SELECT x FROM _second", [], |r| r.get(0))
            .unwrap();
        let kept: String = conn
            .query_row("SELECT value FROM _params WHERE key = 'k'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!((seeded.as_str(), kept.as_str()), ("seeded", "kept"));
    }

    #[test]
    fn a_failing_step_leaves_nothing_of_itself_and_keeps_the_steps_before_it() {
        static BROKEN: Migrations = Migrations::new(&[
            Migration {
                version: 1,
                name: "system_tables",
                sql: include_str!("migrations/0001_system_tables.sql"),
            },
            Migration {
                version: 2,
                name: "broken",
                sql: "CREATE TABLE _half (x TEXT); SELECT no_such_function();",
            },
        ]);
        let conn = Connection::open_in_memory().unwrap();
        assert!(run(&conn, &BROKEN).is_err());
        assert_eq!(version_rows(&conn), [(1, "system_tables".into())]);
        assert!(!has_table(&conn, "_half").unwrap());
        assert!(conn.is_autocommit(), "no transaction is left open");
    }
}
