//! `/api/health` (issue #17): PocketBase's answer for everyone, and for superusers the
//! readiness checks: a read from the records' store and the log's, the log's queue, the
//! realtime clients. A database that stops answering shows as `ready: false`, with the
//! answer still PocketBase's 200.

use kulisse_testkit::{TestEngine, TestServer, current_engine, engine_tests, pg_admin_url};
use serde_json::json;

engine_tests!(superusers_see_whether_the_node_is_ready);

async fn superusers_see_whether_the_node_is_ready() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv.send("GET", "/api/health", Some(&su), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["message"], "API is healthy.");
    let data = &body["data"];
    assert_eq!(data["ready"], true, "{body}");
    let engine = match current_engine() {
        TestEngine::Sqlite => "sqlite",
        TestEngine::Postgres => "postgres",
    };
    assert_eq!(data["database"]["engine"], engine);
    assert_eq!(data["database"]["ok"], true);
    assert_eq!(data["database"]["error"], "");
    assert!(data["database"]["tookMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(data["logs"]["store"]["ok"], true);
    assert!(data["logs"]["queued"].is_u64() && data["logs"]["dropped"] == 0);
    assert_eq!(data["realtime"]["clients"], 0);
    // PocketBase's own keys stay.
    assert_eq!(data["canBackup"], true);
    assert!(data["realIP"].is_string());

    // Guests and records get PocketBase's bare answer.
    srv.create_user("probe@example.com", "probe-pass").await;
    let user = srv.login("users", "probe@example.com", "probe-pass").await;
    for token in [None, Some(user.as_str())] {
        let (s, body) = srv.send("GET", "/api/health", token, None).await;
        assert_eq!((s, &body["data"]), (200, &json!({})), "{token:?}");
    }

    if current_engine() == TestEngine::Postgres {
        // The database stops taking connections and drops the node's: the node still
        // answers, and says it is not ready.
        let url = srv.pg_url.clone().unwrap();
        let name = url.rsplit('/').next().unwrap().to_owned();
        let admin = pg_admin(&pg_admin_url().unwrap()).await;
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        let (s, body) = srv.send("GET", "/api/health", Some(&su), None).await;
        admin
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .await
            .unwrap();
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["message"], "API is healthy.");
        assert_eq!(body["data"]["ready"], false, "{body}");
        assert_eq!(body["data"]["database"]["ok"], false);
        assert_ne!(body["data"]["database"]["error"], "");
        // Back once the database is.
        let mut ready = false;
        for _ in 0..50 {
            let (_, body) = srv.send("GET", "/api/health", Some(&su), None).await;
            ready = body["data"]["ready"] == true;
            if ready {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ready);
    }
}

async fn pg_admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}
