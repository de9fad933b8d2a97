//! The engine matrix: every API test runs on SQLite and on PostgreSQL.

/// Which engine the current test runs on (set by [`crate::engine_tests!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    /// A fresh SQLite data dir.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

tokio::task_local! {
    /// The engine of the test running in this task.
    pub static ENGINE: TestEngine;
}

/// The current test's engine; SQLite outside [`crate::engine_tests!`].
pub fn current_engine() -> TestEngine {
    ENGINE.try_with(|e| *e).unwrap_or(TestEngine::Sqlite)
}

/// Runs each named async test body on every engine: `name::sqlite` always, and
/// `name::postgres` against a fresh database when `KULISSE_TEST_PG_URL` names a server
/// (the test script starts one; without it the PostgreSQL variant reports a skip, or fails
/// under `CI=true`). The calling crate needs tokio.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::ENGINE.scope($crate::TestEngine::Sqlite, super::$name()).await
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::pg_admin_url().is_none() {
                        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
                        return;
                    }
                    $crate::ENGINE.scope($crate::TestEngine::Postgres, super::$name()).await
                }
            }
        )*
    };
}
