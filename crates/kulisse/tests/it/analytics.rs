//! Usage analytics (issue #17): a scripted sequence of requests, and the numbers every
//! report must give for it; the reports outlive the raw log; only superusers read them.

use std::time::Duration;

use kulisse_testkit::{TestEngine, TestServer, engine_tests, urlencode};
use serde_json::{Value, json};

use crate::process::ServerProcess;

engine_tests!(
    the_reports_count_a_scripted_sequence_of_requests,
    the_reports_outlive_the_raw_log,
    only_superusers_read_the_reports_and_bad_windows_are_400,
);

/// `path`'s report once `done` holds for it (requests reach the analytics through the
/// log's writer, a moment after their answers).
async fn report(srv: &TestServer, su: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (s, body) = srv.send("GET", path, Some(su), None).await;
        assert_eq!(s, 200, "{path}: {body}");
        if done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {last}");
}

/// The item of `items` whose `key` is `value`.
fn item<'a>(items: &'a Value, pairs: &[(&str, &str)]) -> Option<&'a Value> {
    items
        .as_array()?
        .iter()
        .find(|i| pairs.iter().all(|(k, v)| i[*k] == *v))
}

/// `orders`, public to list, view and create.
async fn orders(srv: &TestServer, su: &str) {
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({"name": "orders", "listRule": "", "viewRule": "", "createRule": "",
                "fields": [{"name": "status", "type": "text"}, {"name": "total", "type": "number"}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

async fn list(srv: &TestServer, token: Option<&str>, filter: &str, sort: &str) -> u16 {
    let path = format!(
        "/api/collections/orders/records?filter={}&sort={}",
        urlencode(filter),
        urlencode(sort)
    );
    srv.send("GET", &path, token, None).await.0
}

async fn the_reports_count_a_scripted_sequence_of_requests() {
    let srv = TestServer::start().await;
    srv.without_rate_limits().await;
    let su = srv.superuser_token().await;
    orders(&srv, &su).await;
    srv.create_user("ann@example.com", "ann-password").await;
    srv.create_user("bob@example.com", "bob-password").await;
    let ann = srv.login("users", "ann@example.com", "ann-password").await;
    let bob = srv.login("users", "bob@example.com", "bob-password").await;
    // The script: 4 creates, 4 lists (one refused: a bad filter), 1 view of nothing.
    for (who, total) in [(&ann, 10), (&ann, 30), (&ann, 50), (&bob, 70)] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/orders/records",
                Some(who),
                Some(json!({"status": "paid", "total": total})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    assert_eq!(
        list(&srv, Some(&bob), "status = 'paid' && total > 20", "").await,
        200
    );
    assert_eq!(
        list(&srv, Some(&bob), "status='open'&&total>5", "-total").await,
        200
    );
    assert_eq!(
        list(&srv, None, "status = \"x\" && total > 1.5", "").await,
        200
    );
    assert_eq!(list(&srv, None, "status = ", "").await, 400);
    let (s, _) = srv
        .send(
            "GET",
            "/api/collections/orders/records/nothinghere0000",
            None,
            None,
        )
        .await;
    assert_eq!(s, 404);

    // Requests per collection and action.
    let requests = report(
        &srv,
        &su,
        "/api/analytics/requests?collection=orders",
        |r| item(&r["items"], &[("action", "view")]).is_some(),
    )
    .await;
    let action = |a: &str| {
        item(&requests["items"], &[("action", a)])
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(action("create")["count"], 4, "{requests}");
    assert_eq!(action("create")["clientErrors"], 0);
    assert_eq!(action("list")["count"], 4, "{requests}");
    assert_eq!(action("list")["clientErrors"], 1);
    assert_eq!(action("list")["errorRate"], 0.25);
    assert_eq!(action("view")["count"], 1);
    assert_eq!(action("view")["clientErrors"], 1);
    assert!(action("list")["avgMs"].as_f64().unwrap() > 0.0);
    assert_eq!(
        requests["items"].as_array().unwrap().len(),
        3,
        "only orders': {requests}"
    );
    assert_eq!(requests["interval"], "hour");
    assert_eq!(requests["dropped"], 0);
    let hour = action("list")["time"].as_str().unwrap().to_owned();
    assert!(hour.ends_with(":00:00.000Z"), "{hour}");
    let by_day = report(
        &srv,
        &su,
        "/api/analytics/requests?collection=orders&interval=day",
        |_| true,
    )
    .await;
    let list_day = item(&by_day["items"], &[("action", "list")]).unwrap();
    assert!(
        list_day["time"]
            .as_str()
            .unwrap()
            .ends_with(" 00:00:00.000Z")
    );
    assert_eq!(list_day["count"], 4);
    let logins = report(
        &srv,
        &su,
        "/api/analytics/requests?collection=users",
        |_| true,
    )
    .await;
    assert_eq!(
        item(&logins["items"], &[("action", "authWithPassword")]).unwrap()["count"],
        2,
        "{logins}"
    );

    // The filters and sorts used, by shape: values never kept.
    let filters = report(
        &srv,
        &su,
        "/api/analytics/filters?collection=orders",
        |_| true,
    )
    .await;
    let paid = item(&filters["filters"], &[("shape", "status = ? && total > ?")])
        .unwrap_or_else(|| panic!("{filters}"));
    assert_eq!(paid["count"], 3, "three filters of one shape: {filters}");
    assert_eq!(paid["fields"], json!(["status =", "total >"]));
    assert_eq!(
        filters["filters"].as_array().unwrap().len(),
        1,
        "the 400 is no filter"
    );
    assert!(!filters.to_string().contains("paid"));
    assert_eq!(filters["sorts"][0]["shape"], "-total");
    assert_eq!(filters["sorts"][0]["count"], 1);

    // Routes, slowest first.
    let routes = report(&srv, &su, "/api/analytics/routes?limit=100", |_| true).await;
    let records = item(
        &routes["items"],
        &[("route", "GET /api/collections/{collection}/records")],
    )
    .unwrap_or_else(|| panic!("{routes}"));
    assert!(records["count"].as_u64().unwrap() >= 4);
    let averages: Vec<f64> = routes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["avgMs"].as_f64().unwrap())
        .collect();
    assert!(averages.windows(2).all(|w| w[0] >= w[1]), "{averages:?}");
    let limited = report(&srv, &su, "/api/analytics/routes?limit=1", |_| true).await;
    assert_eq!(limited["items"].as_array().unwrap().len(), 1);

    // Active users (the superuser aside) and sign-ups.
    let users = report(&srv, &su, "/api/analytics/users", |r| r["active"] == 2).await;
    assert_eq!(users["daily"].as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users["daily"][0]["active"], 2);
    assert_eq!(users["weekly"][0]["active"], 2);
    assert_eq!(
        item(&users["signups"], &[("collection", "users")]).unwrap()["count"],
        2,
        "{users}"
    );
    assert!(!users.to_string().contains("ann@"), "{users}");
}

async fn the_reports_outlive_the_raw_log() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    orders(&srv, &su).await;
    for _ in 0..3 {
        assert_eq!(list(&srv, None, "total > 1", "").await, 200);
    }
    let counted =
        |r: &Value| item(&r["items"], &[("action", "list")]).is_some_and(|i| i["count"] == 3);
    report(
        &srv,
        &su,
        "/api/analytics/requests?collection=orders",
        counted,
    )
    .await;
    let (s, _) = srv.send("DELETE", "/api/logs", Some(&su), None).await;
    assert_eq!(s, 204);
    let (s, logs) = srv
        .send("GET", "/api/logs?filter=data.url~'orders'", Some(&su), None)
        .await;
    assert_eq!((s, logs["totalItems"].as_i64()), (200, Some(0)), "{logs}");
    report(
        &srv,
        &su,
        "/api/analytics/requests?collection=orders",
        counted,
    )
    .await;
}

async fn only_superusers_read_the_reports_and_bad_windows_are_400() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.create_user("eve@example.com", "eve-password").await;
    let eve = srv.login("users", "eve@example.com", "eve-password").await;
    for path in [
        "/api/analytics/requests",
        "/api/analytics/routes",
        "/api/analytics/users",
        "/api/analytics/filters",
        "/api/advisor/queries",
        "/api/advisor/suggestions",
    ] {
        assert_eq!(srv.send("GET", path, None, None).await.0, 401, "{path}");
        assert_eq!(
            srv.send("GET", path, Some(&eve), None).await.0,
            403,
            "{path}"
        );
        let (s, body) = srv
            .send("GET", &format!("{path}?from=yesterday"), Some(&su), None)
            .await;
        assert_eq!(s, 400, "{path}: {body}");
        assert_eq!(
            body["data"]["from"]["code"], "validation_invalid_value",
            "{body}"
        );
    }
    let (s, body) = srv
        .send(
            "POST",
            "/api/advisor/suggestions/nosuchthing/apply",
            Some(&eve),
            None,
        )
        .await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = srv
        .send(
            "POST",
            "/api/advisor/suggestions/nosuchthing/apply",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 404, "{body}");
    let (s, body) = srv
        .send(
            "GET",
            "/api/analytics/requests?interval=week",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert!(body["data"]["interval"].is_object(), "{body}");
    let (s, body) = srv
        .send(
            "GET",
            "/api/analytics/requests?from=2026-12-02&to=2026-12-01",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 400, "{body}");
}

/// Two nodes on one PostgreSQL database add to the same rows: one report counts both
/// nodes' requests, and a user signed in on both is one active user.
#[tokio::test]
async fn two_nodes_add_to_one_report() {
    if kulisse_testkit::pg_admin_url().is_none() {
        return;
    }
    let flush = ["--analytics-flush", "200ms"];
    let a = ServerProcess::start_with_engine(TestEngine::Postgres, &flush).await;
    let b = a.join_with(&flush);
    let su = a.superuser_token().await;
    let (s, body) = a
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "orders", "listRule": "", "fields": [{"name": "total", "type": "number"}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = a
        .send(
            "POST",
            "/api/collections/users/records",
            None,
            Some(
                json!({"email": "both@example.com", "password": "both-password",
                "passwordConfirm": "both-password"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let login = json!({"identity": "both@example.com", "password": "both-password"});
    let path = format!(
        "/api/collections/orders/records?filter={}",
        urlencode("total > 5")
    );
    for (node, lists) in [(&a, 3), (&b, 2)] {
        let (s, auth) = node
            .send(
                "POST",
                "/api/collections/users/auth-with-password",
                None,
                Some(login.clone()),
            )
            .await;
        assert_eq!(s, 200, "{auth}");
        let token = auth["token"].as_str().unwrap().to_owned();
        for _ in 0..lists {
            assert_eq!(node.send("GET", &path, Some(&token), None).await.0, 200);
        }
    }
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, requests) = a
            .send(
                "GET",
                "/api/analytics/requests?collection=orders",
                Some(&su),
                None,
            )
            .await;
        let (_, users) = a.send("GET", "/api/analytics/users", Some(&su), None).await;
        let lists = item(&requests["items"], &[("action", "list")]).map(|i| i["count"].clone());
        if lists == Some(json!(5)) && users["active"] == 1 {
            let (_, filters) = b
                .send(
                    "GET",
                    "/api/analytics/filters?collection=orders",
                    Some(&su),
                    None,
                )
                .await;
            assert_eq!(filters["filters"][0]["shape"], "total > ?", "{filters}");
            assert_eq!(filters["filters"][0]["count"], 5, "{filters}");
            assert_eq!(users["daily"][0]["active"], 1, "{users}");
            return;
        }
        last = json!({"requests": requests, "users": users});
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the nodes' requests never added up: {last}");
}
