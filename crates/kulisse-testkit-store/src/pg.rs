//! The PostgreSQL server tests run against: named by `KULISSE_TEST_PG_URL` (the test script
//! starts one), with a fresh database per test.

/// Admin URL of the test PostgreSQL server, if one was started. Under CI (`CI=true`) a
/// missing server fails the test instead of letting its PostgreSQL part pass as a skip.
pub fn pg_admin_url() -> Option<String> {
    let url = std::env::var("KULISSE_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    assert!(
        url.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but KULISSE_TEST_PG_URL names no PostgreSQL server"
    );
    url
}

/// A fresh, empty database on the test server and its URL, or `None` when no server was
/// started (a failure under CI, see [`pg_admin_url`]). Each test makes its own, so tests run
/// in parallel without seeing each other's tables; the databases are left behind with the
/// throwaway server.
pub async fn fresh_database() -> Option<String> {
    let admin = pg_admin_url()?;
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    let name = format!(
        "kt_{}",
        kulisse_schema::ids::random_string("abcdefghijklmnopqrstuvwxyz0123456789", 16)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE on the test server");
    let (base, _) = admin
        .rsplit_once('/')
        .expect("KULISSE_TEST_PG_URL ends in a database name");
    Some(format!("{base}/{name}"))
}
