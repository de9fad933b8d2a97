//! `TestServer`: the same router `kulisse serve` builds, on 127.0.0.1:0 over a temp dir.

use std::sync::Arc;

use kulisse::http::{HttpOptions, router};
use kulisse_core::Services;
use kulisse_store::Store;
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

pub const SUPERUSER_EMAIL: &str = "admin@example.com";
pub const SUPERUSER_PASSWORD: &str = "1234567890";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A fresh data dir with the default collections and one superuser.
    pub async fn start() -> TestServer {
        Self::start_with(HttpOptions::default()).await
    }

    pub async fn start_with(opts: HttpOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
        let services = Services::start(store).await.unwrap();
        services
            .auth
            .upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD, false)
            .await
            .unwrap();
        let app = router(services, &opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
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
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in to an auth collection and returns the token.
    pub async fn login(&self, collection: &str, identity: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.url(&format!("/api/collections/{collection}/auth-with-password")))
            .json(&json!({"identity": identity, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {identity} to {collection}");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
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
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
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
}
