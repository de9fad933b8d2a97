//! `TestServer`: the same router `kulisse serve` builds, on 127.0.0.1:0 over a temp dir.

use std::sync::Arc;

use kulisse::http::{HttpOptions, router};
use kulisse_store::{QueryLimits, Store};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

/// Which engine the current test runs on (set by `engine_tests!`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestEngine {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    pub static ENGINE: TestEngine;
}

/// Admin URL of the test PostgreSQL server, if one was started. Under CI (`CI=true`) a
/// missing server fails the test instead of skipping its PostgreSQL variant.
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

/// A fresh, empty database on the test server; returns its URL.
pub async fn fresh_pg_database() -> String {
    let admin = pg_admin_url().expect("KULISSE_TEST_PG_URL");
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let name = format!(
        "kt_{}",
        kulisse_schema::ids::random_string("abcdefghijklmnopqrstuvwxyz0123456789", 16)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Percent-encodes every byte but ASCII letters, digits and `-_.~` (a query value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub const SUPERUSER_EMAIL: &str = "admin@example.com";
pub const SUPERUSER_PASSWORD: &str = "1234567890";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    /// The database's URL on the PostgreSQL engine.
    pub pg_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh data dir with the default collections and one superuser.
    pub async fn start() -> TestServer {
        Self::start_with(HttpOptions::default()).await
    }

    pub async fn start_with(opts: HttpOptions) -> TestServer {
        Self::start_limited(opts, QueryLimits::default()).await
    }

    /// A server whose queries are bounded by `limits` (`--query-timeout`).
    pub async fn start_limited(opts: HttpOptions, limits: QueryLimits) -> TestServer {
        Self::start_over(opts, limits, &[]).await
    }

    /// A server over a store that already holds `params` (`_params` rows), as a data dir
    /// an older release wrote would.
    pub async fn start_seeded(params: &[(&str, Value)]) -> TestServer {
        Self::start_over(HttpOptions::default(), QueryLimits::default(), params).await
    }

    async fn start_over(
        opts: HttpOptions,
        limits: QueryLimits,
        params: &[(&str, Value)],
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut pg_url = None;
        let store: Arc<dyn Store> = match ENGINE.try_with(|e| *e).unwrap_or(TestEngine::Sqlite) {
            TestEngine::Sqlite => {
                Arc::new(SqliteStore::open_with(&dir.path().join("data.db"), limits).unwrap())
            }
            TestEngine::Postgres => {
                let url = fresh_pg_database().await;
                pg_url = Some(url.clone());
                Arc::new(PostgresStore::connect_with(&url, limits).await.unwrap())
            }
        };
        for (key, value) in params {
            let (key, value) = (key.to_string(), value.clone());
            kulisse_store::transact::<_, kulisse_store::StoreError, _>(&*store, move |tx| {
                tx.set_param(&key, &value)
            })
            .await
            .unwrap();
        }
        let services = kulisse::compose::start(store, pg_url.as_deref())
            .await
            .unwrap();
        services
            .auth
            .upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD, false)
            .await
            .unwrap();
        Self::serve(services, &opts, pg_url, Some(dir)).await
    }

    /// Another node on the PostgreSQL database `url` (made by [`TestServer::start`]): its
    /// own store, caches and change feed, sharing only the database.
    pub async fn join(url: &str) -> TestServer {
        let store = Arc::new(PostgresStore::connect(url).await.unwrap());
        let services = kulisse::compose::start(store, Some(url)).await.unwrap();
        Self::serve(
            services,
            &HttpOptions::default(),
            Some(url.to_owned()),
            None,
        )
        .await
    }

    /// The router over `store` as it is (an existing data dir or database, such as a
    /// fixture's): no superuser is added.
    pub async fn start_on(store: Arc<dyn Store>) -> TestServer {
        let services = kulisse::compose::start(store, None).await.unwrap();
        Self::serve(services, &HttpOptions::default(), None, None).await
    }

    async fn serve(
        services: kulisse_core::Services,
        opts: &HttpOptions,
        pg_url: Option<String>,
        dir: Option<tempfile::TempDir>,
    ) -> TestServer {
        let app = router(services, opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            kulisse::http::serve(listener, app, std::future::pending())
                .await
                .unwrap()
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestServer {
            base: format!("http://{addr}"),
            client,
            pg_url,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in to an auth collection and returns the token.
    pub async fn login(&self, collection: &str, identity: &str, password: &str) -> String {
        login_at(&self.client, &self.base, collection, identity, password).await
    }

    pub async fn superuser_token(&self) -> String {
        self.login("_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
            .await
    }

    /// Sends a JSON request, returning status and parsed body (`Null` when empty).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        send_to(&self.client, &self.base, method, path, token, body).await
    }
}

/// Sends a JSON request to the server at `base` (a [`TestServer`] or a
/// [`crate::process::ServerProcess`]), returning status and parsed body (`Null` when empty).
pub async fn send_to(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Logs in to an auth collection of the server at `base` and returns the token.
pub async fn login_at(
    client: &reqwest::Client,
    base: &str,
    collection: &str,
    identity: &str,
    password: &str,
) -> String {
    let path = format!("/api/collections/{collection}/auth-with-password");
    let body = json!({"identity": identity, "password": password});
    let (status, res) = send_to(client, base, "POST", &path, None, Some(body)).await;
    assert_eq!(status, 200, "login {identity} to {collection}: {res}");
    res["token"].as_str().unwrap().to_owned()
}

/// The test superuser's token on the server at `base`.
pub async fn superuser_token_at(client: &reqwest::Client, base: &str) -> String {
    login_at(
        client,
        base,
        "_superusers",
        SUPERUSER_EMAIL,
        SUPERUSER_PASSWORD,
    )
    .await
}
