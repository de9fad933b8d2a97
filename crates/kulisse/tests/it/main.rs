//! Integration tests: the real router on a real socket over a fresh SQLite data dir, and the
//! real binary for CLI and lifecycle behaviour. One test binary keeps link times down.
#![allow(clippy::unwrap_used)]

/// Runs each named async test body on every engine: `name::sqlite` always, and
/// `name::postgres` against a fresh database when `KULISSE_TEST_PG_URL` names a server
/// (the test script starts one; without it the PostgreSQL variant reports a skip).
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::server::ENGINE.scope($crate::server::TestEngine::Sqlite, super::$name()).await
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::server::pg_admin_url().is_none() {
                        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
                        return;
                    }
                    $crate::server::ENGINE.scope($crate::server::TestEngine::Postgres, super::$name()).await
                }
            }
        )*
    };
}

mod admin_safety;
mod bad_input;
mod batch_expand;
mod binary;
mod change_events;
mod compat;
mod expand_graph;
mod filters;
mod hidden_values;
mod http_api;
mod migrations;
mod multinode;
mod process;
mod resources;
mod security;
mod server;
mod settings;
mod slow_queries;
mod views;
mod write_refusals;
