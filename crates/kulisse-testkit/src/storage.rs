//! The file-storage matrix: file tests run on the data dir's `storage/` and on an
//! S3-compatible bucket (a fresh one per test on the server `KULISSE_TEST_S3_URL` names;
//! the test script starts moto's server).

use std::sync::Arc;

use kulisse_core::files::BlobStore;
use kulisse_core::settings::S3Settings;
use serde_json::{Value, json};

/// Where the current test's server keeps files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStorage {
    /// The data dir's `storage/`.
    Local,
    /// A fresh bucket on the test S3 server.
    S3,
}

tokio::task_local! {
    /// The file storage of the test running in this task.
    pub static STORAGE: TestStorage;
}

/// The current test's file storage; local outside [`crate::storage_tests!`].
pub fn current_storage() -> TestStorage {
    STORAGE.try_with(|s| *s).unwrap_or(TestStorage::Local)
}

/// The test S3 server's URL, if one was started. Under CI (`CI=true`) a missing server
/// fails the test instead of letting its S3 part pass as a skip.
pub fn s3_url() -> Option<String> {
    let url = std::env::var("KULISSE_TEST_S3_URL")
        .ok()
        .filter(|u| !u.is_empty());
    assert!(
        url.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but KULISSE_TEST_S3_URL names no S3 server"
    );
    url
}

/// A fresh, empty bucket on the test S3 server: its `s3` settings (as `PATCH
/// /api/settings` takes them). The server accepts any credentials.
pub async fn fresh_bucket() -> Value {
    let url = s3_url().expect("storage_tests! runs S3 tests only with a server");
    let name = format!(
        "kulisse-{}",
        kulisse_schema::ids::random_string(kulisse_schema::ids::RECORD_ID_ALPHABET, 15)
    );
    let response = reqwest::Client::new()
        .put(format!("{url}/{name}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "create bucket {name}");
    json!({"enabled": true, "bucket": name, "region": "us-east-1", "endpoint": url,
        "accessKey": "test", "secret": "test", "forcePathStyle": true})
}

/// The bucket that `s3` (settings as [`fresh_bucket`] made them) names, to look into.
pub fn bucket(s3: &Value) -> Arc<dyn BlobStore> {
    let settings: S3Settings = serde_json::from_value(s3.clone()).unwrap();
    Arc::new(kulisse_blob::ObjectBlobs::s3(&settings).unwrap())
}

/// Runs each named async test body on every engine and file storage: `name::sqlite`,
/// `name::postgres`, `name::sqlite_s3` and `name::postgres_s3` (see
/// [`crate::engine_tests!`] for how a missing server is reported).
#[macro_export]
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                async fn on(engine: $crate::TestEngine, storage: $crate::TestStorage) {
                    if engine == $crate::TestEngine::Postgres && $crate::pg_admin_url().is_none() {
                        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
                        return;
                    }
                    if storage == $crate::TestStorage::S3 && $crate::s3_url().is_none() {
                        eprintln!("skipped: KULISSE_TEST_S3_URL is not set");
                        return;
                    }
                    $crate::ENGINE
                        .scope(engine, $crate::STORAGE.scope(storage, super::$name()))
                        .await
                }

                #[tokio::test]
                async fn sqlite() {
                    on($crate::TestEngine::Sqlite, $crate::TestStorage::Local).await
                }

                #[tokio::test]
                async fn postgres() {
                    on($crate::TestEngine::Postgres, $crate::TestStorage::Local).await
                }

                #[tokio::test]
                async fn sqlite_s3() {
                    on($crate::TestEngine::Sqlite, $crate::TestStorage::S3).await
                }

                #[tokio::test]
                async fn postgres_s3() {
                    on($crate::TestEngine::Postgres, $crate::TestStorage::S3).await
                }
            }
        )*
    };
}
