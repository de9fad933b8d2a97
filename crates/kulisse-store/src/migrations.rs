//! Versioned migrations of an engine's own system tables (`_collections`, `_params`, and
//! the tables later features add), the engine-neutral half.
//!
//! Each engine keeps an ordered list of numbered steps ([`Migrations`]) whose SQL lives in
//! its `migrations/` folder, with the same numbers and names on both engines. At open the
//! engine brings the database up to the newest step it knows:
//!
//! 1. One transaction per step. It takes the engine's write lock first (SQLite's
//!    `BEGIN IMMEDIATE`; PostgreSQL's schema advisory lock), then reads the version, so two
//!    processes or nodes opening the same database at once take turns and the second finds
//!    the work done.
//! 2. The version is the highest `version` in the version table [`VERSION_TABLE`]
//!    (`version`, `name`, `applied`), 0 when the table does not exist. The step's SQL and its
//!    row in that table commit together: a step is applied exactly once or not at all.
//! 3. A database at a version above the newest step is refused with
//!    [`StoreError::SchemaTooNew`] and left untouched (its transaction is rolled back): an
//!    older binary cannot know what a newer one changed, and writing through it could lose
//!    data.
//!
//! Databases made before versioning: releases before migrations created the system tables
//! with `CREATE … IF NOT EXISTS` at every open and had no version table. Such a database
//! (`_collections` present, no version table) reads as version 0, like an empty one, and
//! migration 1 is exactly that schema written the same idempotent way, so applying it to
//! either creates what is missing (nothing, for an old database: its data is not touched)
//! and records version 1. Migration 1 must therefore stay idempotent; later steps need not
//! be, because they only ever run on a database whose version says they have not.
//!
//! A step, once released, is never edited: a change (a new table, a helper function's new
//! body) is a new step, since an edited step would reach only databases created after it.
//! The version table's shape is fixed forever: every release, including older ones
//! reading a newer database to refuse it, must be able to read it.

use crate::StoreError;

/// Name of the table that records applied migrations.
pub const VERSION_TABLE: &str = "_migrations";

/// Creates [`VERSION_TABLE`]; the same statement on every engine. `applied` is the time the
/// step committed, in PocketBase's datetime format.
pub const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS _migrations (
    version BIGINT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied TEXT NOT NULL
)";

/// Records a step in [`VERSION_TABLE`]; parameters are version, name, applied.
pub const RECORD_VERSION: &str =
    "INSERT INTO _migrations (version, name, applied) VALUES ($1, $2, $3)";

/// The database's version, once [`VERSION_TABLE`] is known to exist.
pub const READ_VERSION: &str = "SELECT coalesce(max(version), 0) FROM _migrations";

/// One numbered step of an engine's system schema.
#[derive(Debug)]
pub struct Migration {
    /// Position in the list, from 1, without gaps.
    pub version: i64,
    /// A short name (`system_tables`), the same on every engine for the same version.
    pub name: &'static str,
    /// The statements, run in one transaction together with the step's version row.
    pub sql: &'static str,
}

/// An engine's migrations, oldest first.
#[derive(Debug)]
pub struct Migrations {
    steps: &'static [Migration],
}

impl Migrations {
    /// The list `steps`, which must number 1, 2, 3 … in order (each engine's tests check
    /// this with [`Migrations::check`]).
    pub const fn new(steps: &'static [Migration]) -> Migrations {
        Migrations { steps }
    }

    /// Every step, oldest first.
    pub fn steps(&self) -> &'static [Migration] {
        self.steps
    }

    /// The newest version this binary knows.
    pub fn latest(&self) -> i64 {
        self.steps.last().map_or(0, |m| m.version)
    }

    /// The step that follows a database at `current`, or `None` when it is up to date.
    ///
    /// # Errors
    /// [`StoreError::SchemaTooNew`] when `current` is newer than [`Migrations::latest`].
    pub fn next_after(&self, current: i64) -> Result<Option<&'static Migration>, StoreError> {
        let latest = self.latest();
        if current > latest {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: latest,
            });
        }
        Ok(self.steps.iter().find(|m| m.version > current))
    }

    /// Checks that the steps number 1, 2, 3 … and have names.
    ///
    /// # Errors
    /// A description of the first misnumbered or unnamed step.
    pub fn check(&self) -> Result<(), String> {
        for (i, m) in self.steps.iter().enumerate() {
            let expected = i as i64 + 1;
            if m.version != expected {
                return Err(format!(
                    "migration {:?} is numbered {}, expected {expected}",
                    m.name, m.version
                ));
            }
            if m.name.is_empty() || m.sql.trim().is_empty() {
                return Err(format!("migration {expected} has no name or no SQL"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static STEPS: [Migration; 2] = [
        Migration {
            version: 1,
            name: "one",
            sql: "CREATE TABLE a (x)",
        },
        Migration {
            version: 2,
            name: "two",
            sql: "CREATE TABLE b (x)",
        },
    ];

    #[test]
    fn the_next_step_follows_the_current_version_until_the_latest() {
        let list = Migrations::new(&STEPS);
        assert_eq!(list.latest(), 2);
        assert_eq!(list.next_after(0).unwrap().map(|m| m.name), Some("one"));
        assert_eq!(list.next_after(1).unwrap().map(|m| m.name), Some("two"));
        assert!(list.next_after(2).unwrap().is_none());
    }

    #[test]
    fn a_version_newer_than_the_list_is_refused_naming_both_versions() {
        let err = Migrations::new(&STEPS).next_after(3).unwrap_err();
        assert!(matches!(
            err,
            StoreError::SchemaTooNew { found: 3, known: 2 }
        ));
        let text = err.to_string();
        assert!(
            text.contains("version 3") && text.contains("version 2"),
            "{text}"
        );
    }

    #[test]
    fn misnumbered_steps_fail_the_check() {
        static GAP: [Migration; 2] = [
            Migration {
                version: 1,
                name: "one",
                sql: "x",
            },
            Migration {
                version: 3,
                name: "three",
                sql: "x",
            },
        ];
        assert!(Migrations::new(&STEPS).check().is_ok());
        assert!(Migrations::new(&GAP).check().unwrap_err().contains("three"));
    }
}
