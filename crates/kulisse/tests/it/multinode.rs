//! Several `kulisse serve` processes on one PostgreSQL database, and PostgreSQL restarting
//! under load. Skipped (with a notice) unless the test script started a server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kulisse_testkit::{TestEngine, pg_admin_url};
use serde_json::json;

use crate::process::ServerProcess;

/// Polls until `check` holds (changes cross nodes through NOTIFY, in milliseconds).
async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "condition not reached within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_nodes_share_schema_records_and_settings() {
    if pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let a = ServerProcess::start_on_engine(TestEngine::Postgres).await;
    let b = a.join();
    let (ta, tb) = (a.superuser_token().await, b.superuser_token().await);

    let notes = json!({"name": "notes", "listRule": "", "viewRule": "", "createRule": "", "fields": [{"name": "text", "type": "text"}]});
    let (s, _) = a
        .send("POST", "/api/collections", Some(&ta), Some(notes))
        .await;
    assert_eq!(s, 200);
    let (s, created) = a
        .send(
            "POST",
            "/api/collections/notes/records",
            None,
            Some(json!({"text": "from a"})),
        )
        .await;
    assert_eq!(s, 200);
    let id = created["id"].as_str().unwrap().to_owned();
    eventually(|| async {
        b.send(
            "GET",
            &format!("/api/collections/notes/records/{id}"),
            None,
            None,
        )
        .await
        .0 == 200
    })
    .await;

    // A schema change through B is seen by A.
    let fields =
        json!({"fields": [{"name": "text", "type": "text"}, {"name": "stars", "type": "number"}]});
    let (s, _) = b
        .send("PATCH", "/api/collections/notes", Some(&tb), Some(fields))
        .await;
    assert_eq!(s, 200);
    eventually(|| async {
        let (s, r) = a
            .send(
                "PATCH",
                &format!("/api/collections/notes/records/{id}"),
                Some(&ta),
                Some(json!({"stars": 5})),
            )
            .await;
        s == 200 && r["stars"] == 5
    })
    .await;

    // Settings too.
    let (s, _) = b
        .send(
            "PATCH",
            "/api/settings",
            Some(&tb),
            Some(json!({"batch": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let batch = json!({"requests": [{"method": "POST", "url": "/api/collections/notes/records", "body": {"text": "batched"}}]});
    eventually(|| async {
        a.send("POST", "/api/batch", None, Some(batch.clone()))
            .await
            .0
            == 200
    })
    .await;

    // A token revoked through one node stops working on the other, whose cache had it.
    let user =
        json!({"email": "u@example.com", "password": "12345678", "passwordConfirm": "12345678"});
    let (s, u) = a
        .send("POST", "/api/collections/users/records", None, Some(user))
        .await;
    assert_eq!(s, 200, "{u}");
    let login = json!({"identity": "u@example.com", "password": "12345678"});
    let (_, auth) = a
        .send(
            "POST",
            "/api/collections/users/auth-with-password",
            None,
            Some(login),
        )
        .await;
    let token = auth["token"].as_str().unwrap().to_owned();
    assert_eq!(
        a.send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None
        )
        .await
        .0,
        200
    );
    let change = json!({"password": "abcdefgh", "passwordConfirm": "abcdefgh"});
    let (s, _) = b
        .send(
            "PATCH",
            &format!(
                "/api/collections/users/records/{}",
                u["id"].as_str().unwrap()
            ),
            Some(&tb),
            Some(change),
        )
        .await;
    assert_eq!(s, 200);
    eventually(|| async {
        a.send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None,
        )
        .await
        .0 == 401
    })
    .await;

    // A view whose column changes type through one node still reads on the other, whose
    // connections prepared its statement with the old type.
    let view = json!({"name": "nv", "type": "view", "listRule": "", "viewQuery": "select id, stars from notes"});
    let (s, v) = a
        .send("POST", "/api/collections", Some(&ta), Some(view))
        .await;
    assert_eq!(s, 200, "{v}");
    eventually(|| async {
        b.send("GET", "/api/collections/nv/records", None, None)
            .await
            .0
            == 200
    })
    .await;
    let retyped = json!({"viewQuery": "select id, text as stars from notes"});
    let (s, v) = a
        .send("PATCH", "/api/collections/nv", Some(&ta), Some(retyped))
        .await;
    assert_eq!(s, 200, "{v}");
    eventually(|| async {
        let (s, list) = b
            .send("GET", "/api/collections/nv/records?sort=stars", None, None)
            .await;
        s == 200 && list["items"][0]["stars"] == "batched"
    })
    .await;

    // Round-robin: every record is visible on both nodes.
    let (_, la) = a
        .send("GET", "/api/collections/notes/records", None, None)
        .await;
    let (_, lb) = b
        .send("GET", "/api/collections/notes/records", None, None)
        .await;
    assert_eq!(la["totalItems"], 2);
    assert_eq!(la["items"], lb["items"]);

    // superuserIPs set through one node are enforced by the other (last: it locks out).
    let (s, body) = b
        .send(
            "PATCH",
            "/api/settings",
            Some(&tb),
            Some(json!({"superuserIPs": ["10.0.0.1"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    eventually(|| async { a.send("GET", "/api/settings", Some(&ta), None).await.0 == 403 }).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_a_postgres_restart() {
    let (Some(_), Ok(restart)) = (pg_admin_url(), std::env::var("KULISSE_TEST_PG_RESTART")) else {
        eprintln!("skipped: KULISSE_TEST_PG_URL / KULISSE_TEST_PG_RESTART are not set");
        return;
    };
    let node = ServerProcess::start_on_engine(TestEngine::Postgres).await;
    let su = node.superuser_token().await;
    let items = json!({"name": "items", "listRule": "", "createRule": "", "fields": [{"name": "n", "type": "number"}]});
    assert_eq!(
        node.send("POST", "/api/collections", Some(&su), Some(items))
            .await
            .0,
        200
    );

    let node = std::sync::Arc::new(node);
    let writer = {
        let node = std::sync::Arc::clone(&node);
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut statuses = std::collections::BTreeMap::new();
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_secs(6) {
                n += 1;
                let (s, r) = node
                    .send(
                        "POST",
                        "/api/collections/items/records",
                        None,
                        Some(json!({"n": n})),
                    )
                    .await;
                *statuses.entry(s).or_insert(0) += 1;
                if s == 200 {
                    acknowledged.push(r["id"].as_str().unwrap().to_owned());
                }
            }
            (acknowledged, statuses)
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    // The restarted server must not inherit our pipes, or waiting for the command would
    // wait for PostgreSQL to exit.
    let status = Command::new("sh")
        .args(["-c", &restart])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "restart command failed: {status:?}");
    let (acknowledged, statuses) = writer.await.unwrap();
    assert!(
        statuses.keys().all(|s| *s == 200 || *s == 503),
        "only successes and fast 503s: {statuses:?}"
    );
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0 || acknowledged.len() > 10,
        "{statuses:?}"
    );
    // The pool recovers by itself, and every acknowledged write is there.
    eventually(|| async {
        node.send(
            "GET",
            "/api/collections/items/records?perPage=1",
            None,
            None,
        )
        .await
        .0 == 200
    })
    .await;
    let mut stored = std::collections::BTreeSet::new();
    for page in 1.. {
        let (_, list) = node
            .send(
                "GET",
                &format!(
                    "/api/collections/items/records?page={page}&perPage=1000&skipTotal=1&fields=id"
                ),
                None,
                None,
            )
            .await;
        let items = list["items"].as_array().unwrap();
        stored.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        if items.len() < 1000 {
            break;
        }
    }
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost: {missing:?}",
        missing.len()
    );
    assert!(statuses.get(&200).copied().unwrap_or(0) > 0);
}
