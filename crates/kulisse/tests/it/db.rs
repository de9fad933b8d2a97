//! SQL straight into a test server's database (SQLite's `data.db` or its PostgreSQL
//! database), for what the API cannot set up quickly or at all: a large table, a row
//! created in the past.

use std::time::Duration;

use kulisse_testkit::TestServer;

/// Runs `sql` (one or more statements) on `srv`'s database.
pub async fn execute(srv: &TestServer, sql: &str) {
    run(srv, "data.db", "", sql).await;
}

/// Runs `sql` on `srv`'s request log (`logs.db`, or the schema `kulisse_logs`).
pub async fn execute_in_log(srv: &TestServer, sql: &str) {
    run(srv, "logs.db", "SET search_path TO kulisse_logs;", sql).await;
}

/// Runs `sql` in the SQLite file `file` of `srv`'s data dir, or after `pg_setup` in its
/// PostgreSQL database.
async fn run(srv: &TestServer, file: &str, pg_setup: &str, sql: &str) {
    match srv.pg_url.as_deref() {
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("{pg_setup}{sql}"))
                .await
                .unwrap();
        }
        None => {
            let path = srv.uploads().parent().unwrap().join(file);
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch(sql).unwrap();
        }
    }
}
