//! The request log (issue #17, spec §8.3): every request logged off the request path in
//! PocketBase's shape, read back by superusers with filters, sorts, pages and hourly
//! counts, and the `logs` settings deciding what is kept.

use std::time::Duration;

use kulisse_testkit::{TestServer, engine_tests, urlencode};
use serde_json::{Value, json};

engine_tests!(
    requests_are_logged_in_pocketbases_shape,
    the_log_is_filtered_sorted_paged_and_counted_per_hour,
    only_superusers_read_the_log,
    the_logs_settings_decide_what_is_kept,
);

/// The log's entries matching `filter`, once there are at least `n` (entries are written
/// in batches, a moment after their answers).
async fn entries(srv: &TestServer, su: &str, filter: &str, n: usize) -> Vec<Value> {
    let path = format!(
        "/api/logs?perPage=500&sort=-created&filter={}",
        urlencode(filter)
    );
    let mut last = Value::Null;
    for _ in 0..250 {
        let (s, body) = srv.send("GET", &path, Some(su), None).await;
        assert_eq!(s, 200, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return items;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} entries for {filter}: {last}");
}

async fn get_with(srv: &TestServer, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = srv.client.get(srv.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn requests_are_logged_in_pocketbases_shape() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.create_user("logged@example.com", "logged-pass").await;
    let user = srv
        .login("users", "logged@example.com", "logged-pass")
        .await;
    let marker = "kulisse-log-test/1.0";
    assert_eq!(
        get_with(
            &srv,
            "/api/health?probe=1",
            &[("user-agent", marker), ("referer", "http://app.test/page")]
        )
        .await,
        200
    );
    assert_eq!(
        get_with(
            &srv,
            "/api/collections/nope/records",
            &[("user-agent", marker)]
        )
        .await,
        404
    );
    assert_eq!(
        get_with(
            &srv,
            "/api/collections/users/records",
            &[("user-agent", marker), ("authorization", &user)]
        )
        .await,
        200
    );
    let items = entries(&srv, &su, &format!("data.userAgent = '{marker}'"), 3).await;
    assert_eq!(items.len(), 3, "{items:?}");
    let by_url = |url: &str| {
        items
            .iter()
            .find(|e| e["data"]["url"] == url)
            .unwrap_or_else(|| panic!("no entry for {url}: {items:?}"))
            .clone()
    };
    let health = by_url("/api/health?probe=1");
    let keys: Vec<&str> = health
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(health["level"], 0);
    assert_eq!(health["message"], "GET /api/health?probe=1");
    let data = &health["data"];
    assert_eq!(data["type"], "request");
    assert_eq!(data["method"], "GET");
    assert_eq!(data["status"], 200);
    assert_eq!(data["auth"], "");
    assert_eq!(data["referer"], "http://app.test/page");
    assert_eq!(data["userIP"], "127.0.0.1");
    assert_eq!(data["remoteIP"], "127.0.0.1");
    assert!(data["execTime"].as_f64().unwrap() > 0.0, "{data}");
    assert!(data.get("error").is_none());
    assert!(data.get("authId").is_none(), "logAuthId is off by default");
    let created = health["created"].as_str().unwrap();
    assert_eq!(created.len(), 24, "PocketBase's datetime: {created}");

    let missing = by_url("/api/collections/nope/records");
    assert_eq!(missing["level"], 8);
    assert_eq!(missing["data"]["status"], 404);
    assert_eq!(missing["data"]["error"], "Missing collection context.");
    assert_eq!(missing["data"]["details"], Value::Null);

    let listed = by_url("/api/collections/users/records");
    assert_eq!(listed["data"]["auth"], "users");

    // A refused form's field errors are the entry's details, as PocketBase writes them.
    let refused = srv
        .client
        .post(srv.url("/api/collections/users/records"))
        .header("user-agent", "details/1")
        .json(&json!({"email": "not an email", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let details =
        &entries(&srv, &su, "data.userAgent = 'details/1'", 1).await[0]["data"]["details"];
    assert_eq!(
        details["password"], "must be at least 8 character(s)",
        "{details}"
    );
    assert_eq!(details["passwordConfirm"], "cannot be blank", "{details}");

    let id = health["id"].as_str().unwrap();
    let (s, one) = srv
        .send("GET", &format!("/api/logs/{id}"), Some(&su), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(one, health);
    let raw = srv
        .client
        .get(srv.url(&format!("/api/logs/{id}")))
        .header("authorization", &su)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |key: &str| raw.find(&format!("\"{key}\":")).unwrap();
    assert!(
        at("id") < at("created")
            && at("created") < at("data")
            && at("data") < at("message")
            && at("message") < at("level"),
        "PocketBase's key order: {raw}"
    );
    let (s, body) = srv
        .send("GET", "/api/logs/nosuchentry1234", Some(&su), None)
        .await;
    assert_eq!(s, 404, "{body}");
}

async fn the_log_is_filtered_sorted_paged_and_counted_per_hour() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let marker = "kulisse-log-paging/1.0";
    for i in 0..6 {
        let path = if i % 2 == 0 {
            format!("/api/health?n={i}")
        } else {
            format!("/api/collections/missing{i}/records")
        };
        get_with(&srv, &path, &[("user-agent", marker)]).await;
    }
    let mine = format!("data.userAgent = '{marker}'");
    entries(&srv, &su, &mine, 6).await;

    let errors = entries(&srv, &su, &format!("{mine} && level >= 8"), 3).await;
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e["data"]["status"] == 404));

    let path = format!(
        "/api/logs?perPage=2&page=2&sort=data.url&filter={}",
        urlencode(&mine)
    );
    let (s, page) = srv.send("GET", &path, Some(&su), None).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (
            page["page"].clone(),
            page["perPage"].clone(),
            page["totalItems"].clone(),
            page["totalPages"].clone()
        ),
        (json!(2), json!(2), json!(6), json!(3))
    );
    let urls: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["/api/collections/missing5/records", "/api/health?n=0"]
    );

    let (s, stats) = srv
        .send(
            "GET",
            &format!("/api/logs/stats?filter={}", urlencode(&mine)),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 200, "{stats}");
    let hours = stats.as_array().unwrap();
    let total: u64 = hours.iter().map(|h| h["total"].as_u64().unwrap()).sum();
    assert_eq!(total, 6, "{stats}");
    assert!(
        hours
            .iter()
            .all(|h| h["date"].as_str().unwrap().ends_with(":00:00.000Z"))
    );

    let (s, body) = srv
        .send("GET", "/api/logs?filter=nosuchfield%3D1", Some(&su), None)
        .await;
    assert_eq!(s, 400, "{body}");

    let (s, _) = srv.send("DELETE", "/api/logs", Some(&su), None).await;
    assert_eq!(s, 204);
    let (_, after) = srv
        .send(
            "GET",
            &format!("/api/logs?filter={}", urlencode(&mine)),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(after["totalItems"], 0, "{after}");
}

async fn only_superusers_read_the_log() {
    let srv = TestServer::start().await;
    srv.create_user("reader@example.com", "reader-pass").await;
    let user = srv
        .login("users", "reader@example.com", "reader-pass")
        .await;
    for path in ["/api/logs", "/api/logs/stats", "/api/logs/abc"] {
        assert_eq!(srv.send("GET", path, None, None).await.0, 401, "{path}");
        assert_eq!(
            srv.send("GET", path, Some(&user), None).await.0,
            403,
            "{path}"
        );
    }
    assert_eq!(
        srv.send("DELETE", "/api/logs", Some(&user), None).await.0,
        403
    );
}

async fn the_logs_settings_decide_what_is_kept() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let set = |logs: Value| {
        let srv = &srv;
        let su = su.clone();
        async move {
            let (s, body) = srv
                .send(
                    "PATCH",
                    "/api/settings",
                    Some(&su),
                    Some(json!({ "logs": logs })),
                )
                .await;
            assert_eq!(s, 200, "{body}");
        }
    };
    set(json!({"logIP": false, "logAuthId": true})).await;
    get_with(
        &srv,
        "/api/health",
        &[("user-agent", "private/1"), ("authorization", &su)],
    )
    .await;
    let items = entries(&srv, &su, "data.userAgent = 'private/1'", 1).await;
    let data = &items[0]["data"];
    assert!(
        data.get("userIP").is_none() && data.get("remoteIP").is_none(),
        "{data}"
    );
    assert_eq!(data["auth"], "_superusers");
    assert!(
        data["authId"].as_str().is_some_and(|id| id.len() == 15),
        "{data}"
    );

    set(json!({"minLevel": 8})).await;
    get_with(&srv, "/api/health", &[("user-agent", "errors-only/1")]).await;
    get_with(
        &srv,
        "/api/collections/nope/records",
        &[("user-agent", "errors-only/1")],
    )
    .await;
    let items = entries(&srv, &su, "data.userAgent = 'errors-only/1'", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let items_later = entries(&srv, &su, "data.userAgent = 'errors-only/1'", 1).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items_later.len(), 1, "the 200 under minLevel 8 is not kept");
    assert_eq!(items_later[0]["level"], 8);

    set(json!({"maxDays": 0, "minLevel": 0})).await;
    get_with(&srv, "/api/health", &[("user-agent", "logging-off/1")]).await;
    set(json!({"maxDays": 5})).await;
    get_with(&srv, "/api/health", &[("user-agent", "logging-on/1")]).await;
    entries(&srv, &su, "data.userAgent = 'logging-on/1'", 1).await;
    let (_, off) = srv
        .send(
            "GET",
            &format!(
                "/api/logs?filter={}",
                urlencode("data.userAgent = 'logging-off/1'")
            ),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(
        off["totalItems"], 0,
        "nothing is logged with maxDays 0: {off}"
    );
}

/// Two nodes on one PostgreSQL database keep one log: what node b answered, node a lists.
#[tokio::test]
async fn every_nodes_requests_are_in_one_log() {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let scope = async {
        let a = TestServer::start().await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let su = a.superuser_token().await;
        get_with(&b, "/api/health", &[("user-agent", "node-b/1")]).await;
        let items = entries(&a, &su, "data.userAgent = 'node-b/1'", 1).await;
        assert_eq!(items[0]["data"]["url"], "/api/health");
    };
    kulisse_testkit::ENGINE
        .scope(kulisse_testkit::TestEngine::Postgres, scope)
        .await;
}
