//! Rate limits (issue #16, spec §8.6): on by default for the auth endpoints, PocketBase's
//! labels, audiences and `excludedIPs`, keys no spelling of the URL or forwarded header
//! escapes, PocketBase's 429 with a `Retry-After`, and counts shared by two nodes.

use kulisse_testkit::{TestServer, engine_tests};
use serde_json::{Value, json};

engine_tests!(
    logins_are_limited_by_default_per_client_address,
    rules_follow_pocketbases_labels_and_audiences,
);

const TOO_MANY: &str = r#"{"data":{},"message":"Too Many Requests.","status":429}"#;

/// Sends a request with extra headers; the status, the `Retry-After` header and the body.
async fn send_with(
    srv: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Option<u64>, String) {
    let mut req = srv.client.request(method.parse().unwrap(), srv.url(path));
    if let Some(token) = token {
        req = req.header("Authorization", token);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let retry_after = res
        .headers()
        .get("Retry-After")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (
        res.status().as_u16(),
        retry_after,
        res.text().await.unwrap(),
    )
}

async fn wrong_login(
    srv: &TestServer,
    collection: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<u64>, String) {
    send_with(
        srv,
        "POST",
        &format!("/api/collections/{collection}/auth-with-password"),
        None,
        headers,
        Some(json!({"identity": "nobody@example.com", "password": "wrong-password"})),
    )
    .await
}

async fn logins_are_limited_by_default_per_client_address() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    for i in 1..20 {
        let (s, _, body) = wrong_login(&srv, "users", &[]).await;
        assert_eq!(s, 400, "login {i}: {body}");
    }
    let (s, retry, body) = wrong_login(&srv, "users", &[]).await;
    assert_eq!(
        s, 429,
        "the 21st login in a minute (the superuser's was the 1st): {body}"
    );
    assert_eq!(body, TOO_MANY);
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");

    // No spelling of the route, and no forwarded header nobody trusts, counts apart.
    for (collection, headers) in [
        ("_pb_users_auth_", &[][..]),
        ("USERS", &[][..]),
        ("_superusers", &[][..]),
        ("users", &[("X-Forwarded-For", "203.0.113.9")][..]),
    ] {
        let (s, _, body) = wrong_login(&srv, collection, headers).await;
        assert_eq!(s, 429, "{collection} {headers:?}: {body}");
    }
    // Other routes are not limited by default; a superuser never is.
    let (s, _) = srv
        .send("GET", "/api/collections/users/records", None, None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(s, 200);

    // Behind a proxy the settings trust, each forwarded client counts on its own.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"trustedProxy": {"headers": ["X-Forwarded-For"]}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _, body) = wrong_login(&srv, "users", &[("X-Forwarded-For", "203.0.113.9")]).await;
    assert_eq!(s, 400, "another client: {body}");

    // An excluded address is never limited.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"trustedProxy": {"headers": []}, "rateLimits": {"excludedIPs": ["127.0.0.0/8"]}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _, body) = wrong_login(&srv, "users", &[]).await;
    assert_eq!(s, 400, "{body}");
}

async fn rules_follow_pocketbases_labels_and_audiences() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/records",
            Some(&su),
            Some(
                json!({"email": "member@example.com", "password": "pass-word",
                "passwordConfirm": "pass-word"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let member = srv.login("users", "member@example.com", "pass-word").await;
    let rule = |label: &str, audience: &str, max: i64| json!({"label": label, "audience": audience, "duration": 60, "maxRequests": max});
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"rateLimits": {"rules": [
                rule("users:list", "@guest", 2),
                rule("GET /api/collections/users/records", "@auth", 3),
                rule("/api/health", "", 1),
                rule("/api/", "", 1000),
            ]}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let list = |token: Option<&str>| {
        let srv = &srv;
        let token = token.map(str::to_owned);
        async move {
            srv.send(
                "GET",
                "/api/collections/users/records",
                token.as_deref(),
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(
        [list(None).await, list(None).await, list(None).await],
        [200, 200, 429]
    );
    assert_eq!(
        [
            list(Some(&member)).await,
            list(Some(&member)).await,
            list(Some(&member)).await,
            list(Some(&member)).await
        ],
        [200, 200, 200, 429],
        "a signed-in record falls under the @auth rule"
    );
    assert_eq!(list(Some(&su)).await, 200, "superusers are never limited");
    let (s, _) = srv.send("GET", "/api/health", None, None).await;
    assert_eq!(s, 200);
    let (s, _) = srv.send("GET", "/api/health", None, None).await;
    assert_eq!(s, 429, "an exact path");
    let (s, _) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(s, 200, "the /api/ prefix leaves room");

    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"rateLimits": {"rules": [rule("no spaces here", "@anyone", 0)]}})),
        )
        .await;
    assert_eq!(s, 400);
    let rule_errors = &body["data"]["rateLimits"]["rules"]["0"];
    assert_eq!(
        rule_errors["label"]["code"], "validation_match_invalid",
        "{body}"
    );
    assert_eq!(
        rule_errors["audience"]["code"], "validation_in_invalid",
        "{body}"
    );
    assert_eq!(
        rule_errors["maxRequests"]["code"], "validation_required",
        "{body}"
    );
}

/// Two nodes on one PostgreSQL database count one client's logins together.
#[tokio::test]
async fn two_nodes_count_one_clients_requests_together() {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let scope = async {
        let a = TestServer::start().await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let su = a.superuser_token().await;
        let (s, body) = a
            .send(
                "PATCH",
                "/api/settings",
                Some(&su),
                Some(json!({"rateLimits": {"rules": [
                    {"label": "*:auth", "audience": "", "duration": 60, "maxRequests": 4}
                ]}})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        // The settings reach node b through the change feed.
        for _ in 0..250 {
            let (_, view) = b.send("GET", "/api/settings", Some(&su), None).await;
            if view["rateLimits"]["rules"][0]["maxRequests"] == 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // a's superuser login was the first of the four.
        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(wrong_login(&b, "users", &[]).await.0);
        }
        assert_eq!(answers, [400, 400, 400, 429]);
        let (s, _, _) = wrong_login(&a, "users", &[]).await;
        assert_eq!(s, 429, "and so does node a");
    };
    kulisse_testkit::ENGINE
        .scope(kulisse_testkit::TestEngine::Postgres, scope)
        .await;
}
