//! `TestServer`: the same router `kulisse serve` builds, on 127.0.0.1:0 over a temp dir.

use std::sync::Arc;

use kulisse::http::HttpOptions;
use kulisse_core::Config;
use kulisse_core::files::BlobStore;
use kulisse_store::{QueryLimits, Store};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::client::{SUPERUSER_EMAIL, SUPERUSER_PASSWORD, login_at, send_to};
use crate::engine::{TestEngine, current_engine};
use crate::storage::{TestStorage, current_storage, fresh_bucket};

/// A server on the current test's engine, answering on a loopback port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// The database's URL on the PostgreSQL engine.
    pub pg_url: Option<String>,
    /// The `s3` settings of its bucket, when it keeps files in one.
    pub s3: Option<Value>,
    /// The install token `serve` would print, while there is no superuser.
    install_token: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// How [`TestServer::start_over`] sets a server up.
struct Setup<'a> {
    limits: QueryLimits,
    config: Config,
    params: &'a [(&'a str, Value)],
    superuser: bool,
}

impl TestServer {
    /// A fresh data dir with the default collections and one superuser.
    pub async fn start() -> TestServer {
        Self::start_with(HttpOptions::default()).await
    }

    /// [`TestServer::start`] with HTTP options (origins, body limits, …).
    pub async fn start_with(opts: HttpOptions) -> TestServer {
        Self::start_limited(opts, QueryLimits::default()).await
    }

    /// A server whose queries are bounded by `limits` (`--query-timeout`).
    pub async fn start_limited(opts: HttpOptions, limits: QueryLimits) -> TestServer {
        Self::start_over(opts, limits, Config::default(), &[]).await
    }

    /// A fresh data dir with no superuser yet, as a first start finds it, and the install
    /// link `serve` would print for it (on this server's address).
    pub async fn start_fresh() -> (TestServer, String) {
        let srv = Self::start_as(HttpOptions::default(), None).await;
        let token = srv
            .install_token
            .clone()
            .expect("a data dir without superusers has an install link");
        let link = srv.url(&format!("/_/install/{token}"));
        (srv, link)
    }

    /// A server tuned by `config` (`kulisse serve`'s realtime flags).
    pub async fn start_tuned(config: Config) -> TestServer {
        Self::start_over(HttpOptions::default(), QueryLimits::default(), config, &[]).await
    }

    /// A server over a store that already holds `params` (`_params` rows), as a data dir
    /// an older release wrote would.
    pub async fn start_seeded(params: &[(&str, Value)]) -> TestServer {
        Self::start_over(
            HttpOptions::default(),
            QueryLimits::default(),
            Config::default(),
            params,
        )
        .await
    }

    async fn start_over(
        opts: HttpOptions,
        limits: QueryLimits,
        config: Config,
        params: &[(&str, Value)],
    ) -> TestServer {
        let setup = Setup {
            limits,
            config,
            params,
            superuser: true,
        };
        Self::start_as(opts, Some(setup)).await
    }

    /// Starts a server as `setup` says (`None`: defaults, and no superuser).
    async fn start_as(opts: HttpOptions, setup: Option<Setup<'_>>) -> TestServer {
        let Setup {
            limits,
            config,
            params,
            superuser,
        } = setup.unwrap_or(Setup {
            limits: QueryLimits::default(),
            config: Config::default(),
            params: &[],
            superuser: false,
        });
        let dir = tempfile::tempdir().unwrap();
        let mut opts = opts;
        if opts.uploads_dir.is_none() {
            let uploads = dir.path().join(".uploads");
            std::fs::create_dir_all(&uploads).unwrap();
            opts.uploads_dir = Some(uploads);
        }
        let mut pg_url = None;
        let store: Arc<dyn Store> = match current_engine() {
            TestEngine::Sqlite => {
                Arc::new(SqliteStore::open_with(&dir.path().join("data.db"), limits).unwrap())
            }
            TestEngine::Postgres => {
                let url = crate::fresh_database()
                    .await
                    .expect("engine_tests! runs PostgreSQL tests only with a server");
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
        let listeners = match &pg_url {
            Some(url) => listeners(url).await,
            None => 0,
        };
        let options = kulisse::compose::Options {
            config,
            metrics: opts.metrics_token.is_some(),
        };
        let services = kulisse::compose::start(store, pg_url.as_deref(), options, dir.path())
            .await
            .unwrap();
        if let Some(url) = &pg_url {
            wait_for_listeners(url, listeners + 1).await;
        }
        if superuser {
            services
                .auth
                .upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD, false)
                .await
                .unwrap();
        }
        let install_token = services.auth.install_token().await.unwrap();
        let mut srv = Self::serve(services, &opts, pg_url, Some(dir)).await;
        srv.install_token = install_token;
        if current_storage() == TestStorage::S3 {
            let s3 = fresh_bucket().await;
            let su = srv.superuser_token().await;
            let (status, body) = srv
                .send("PATCH", "/api/settings", Some(&su), Some(json!({"s3": s3})))
                .await;
            assert_eq!(status, 200, "{body}");
            srv.s3 = Some(s3);
        }
        srv
    }

    /// Another node on the PostgreSQL database `url` (made by [`TestServer::start`]): its
    /// own store, caches and change feed, sharing only the database.
    pub async fn join(url: &str) -> TestServer {
        let store = Arc::new(PostgresStore::connect(url).await.unwrap());
        let before = listeners(url).await;
        let dir = tempfile::tempdir().unwrap();
        let services = kulisse::compose::start(store, Some(url), Default::default(), dir.path())
            .await
            .unwrap();
        wait_for_listeners(url, before + 1).await;
        Self::serve(
            services,
            &HttpOptions::default(),
            Some(url.to_owned()),
            Some(dir),
        )
        .await
    }

    /// The router over `store` as it is (an existing data dir or database, such as a
    /// fixture's): no superuser is added.
    pub async fn start_on(store: Arc<dyn Store>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let services = kulisse::compose::start(store, None, Default::default(), dir.path())
            .await
            .unwrap();
        Self::serve(services, &HttpOptions::default(), None, Some(dir)).await
    }

    async fn serve(
        services: kulisse_core::Services,
        opts: &HttpOptions,
        pg_url: Option<String>,
        dir: Option<tempfile::TempDir>,
    ) -> TestServer {
        let app = kulisse::compose::app(services, opts);
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
            s3: None,
            install_token: None,
            _dir: dir,
        }
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in to an auth collection and returns the token.
    pub async fn login(&self, collection: &str, identity: &str, password: &str) -> String {
        login_at(&self.client, &self.base, collection, identity, password).await
    }

    /// The test superuser's token.
    pub async fn superuser_token(&self) -> String {
        self.login("_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
            .await
    }

    /// An address no other test server's tests use: `tag` and this server's address.
    pub fn unique_email(&self, tag: &str) -> String {
        format!(
            "{tag}{}@example.com",
            self.base.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        )
    }

    /// Creates a `users` record with `email` and `password` (as the superuser): its JSON.
    pub async fn create_user(&self, email: &str, password: &str) -> Value {
        let su = self.superuser_token().await;
        let (status, user) = self
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(json!({"email": email, "password": password, "passwordConfirm": password})),
            )
            .await;
        assert_eq!(status, 200, "{user}");
        user
    }

    /// Turns the rate limits off (they are on by default for the auth endpoints): for
    /// tests that log in or ask for mail from one address more often than a client may,
    /// to test something else.
    pub async fn without_rate_limits(&self) {
        let su = self.superuser_token().await;
        let (status, body) = self
            .send(
                "PATCH",
                "/api/settings",
                Some(&su),
                Some(json!({"rateLimits": {"enabled": false}})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Where uploads wait for their write (its data dir's `.uploads/`, as `kulisse serve`).
    pub fn uploads(&self) -> std::path::PathBuf {
        self._dir
            .as_ref()
            .expect("every test server has a data dir")
            .path()
            .join(".uploads")
    }

    /// Where the server keeps uploaded files (its data dir's `storage/`).
    pub fn storage(&self) -> std::path::PathBuf {
        storage(
            self._dir
                .as_ref()
                .expect("every test server has a data dir"),
        )
    }

    /// The keys of every stored file (`{collectionId}/{recordId}/{name}`), sorted: in its
    /// data dir's `storage/`, or in its bucket.
    pub async fn stored_keys(&self) -> Vec<String> {
        let blobs: Arc<dyn BlobStore> = match &self.s3 {
            Some(s3) => crate::storage::bucket(s3),
            None => Arc::new(kulisse_blob::ObjectBlobs::local(&self.storage()).unwrap()),
        };
        let mut keys = blobs.list("").await.unwrap();
        keys.sort();
        keys
    }

    /// Sends a `multipart/form-data` request (a form with files), returning status and
    /// parsed body (`Null` when empty).
    pub async fn send_multipart(
        &self,
        method: reqwest::Method,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
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

/// Terminates every node's change-feed connection to the database at `url` (as a network
/// failure or a PostgreSQL restart would); returns how many were cut. The nodes reconnect
/// by themselves.
pub async fn cut_listeners(url: &str) -> usize {
    on_listeners(url, "pg_terminate_backend(pid)").await
}

/// How many nodes listen for changes on the database at `url`.
async fn listeners(url: &str) -> usize {
    on_listeners(url, "pid").await
}

/// Selects `what` for each connection listening on the database at `url`; returns how
/// many there were.
async fn on_listeners(url: &str, what: &str) -> usize {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let sql = format!(
        "SELECT {what} FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    );
    client.query(&sql, &[]).await.unwrap().len()
}

/// Waits until `n` nodes listen: a node's change feed connects in the background and
/// reports its first connect as missed changes (realtime clients then get `PB_RESYNC`), so
/// a test starts once it is up.
async fn wait_for_listeners(url: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while listeners(url).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node's change feed never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The file storage of a test server's data dir.
fn storage(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("storage")
}
