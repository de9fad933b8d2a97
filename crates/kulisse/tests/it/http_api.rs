//! Behaviour beyond the recorded scenarios: transport details, bad input, limits.

use serde_json::{Value, json};

use crate::server::TestServer;

#[tokio::test]
async fn responses_carry_security_and_cors_headers() {
    let srv = TestServer::start().await;
    let res = srv
        .client
        .get(srv.url("/api/health"))
        .header("Origin", "http://example.com")
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert_eq!(h["x-xss-protection"], "1; mode=block");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["access-control-allow-origin"], "*");
    let pre = srv
        .client
        .request(
            reqwest::Method::OPTIONS,
            srv.url("/api/collections/posts/records"),
        )
        .header("Origin", "http://example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-headers"],
        "authorization,content-type"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_in_pocketbase_shape() {
    let srv = TestServer::start().await;
    let big = "x".repeat(33 << 20);
    let res = srv
        .client
        .post(srv.url("/api/collections/users/records"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"data":{},"message":"Request entity too large.","status":413})
    );
}

async fn malformed_input_never_yields_a_server_error() {
    let srv = TestServer::start().await;
    let token = srv.superuser_token().await;
    let (status, _) = srv
        .send("POST", "/api/collections", Some(&token), Some(json!({"name":"posts","listRule":"","createRule":"","fields":[{"name":"title","type":"text"},{"name":"n","type":"number"}]})))
        .await;
    assert_eq!(status, 200);
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<(&str, String)> = vec![
        ("application/json", "{not json".into()),
        ("application/json", nested),
        ("application/json", "\"just a string\"".into()),
        ("application/json", "[1,2,3]".into()),
        (
            "application/x-www-form-urlencoded",
            "title=%FF%FE&n=1e999".into(),
        ),
        ("multipart/form-data; boundary=x", "garbage".into()),
    ];
    for (ct, body) in bodies {
        let res = srv
            .client
            .post(srv.url("/api/collections/posts/records"))
            .header("Content-Type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error() || res.status() == 200,
            "{ct} {}: {}",
            &body[..body.len().min(40)],
            res.status()
        );
    }
    let invalid_utf8 = srv
        .client
        .post(srv.url("/api/collections/posts/records"))
        .header("Content-Type", "application/json")
        .body(vec![0xff, 0xfe, b'{'])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), 400);
    for query in [
        "page=-5",
        "perPage=99999999999999999999",
        "page=1e3",
        "filter=((((((((((",
        "sort=%00",
        "filter=title%20~%20%27%F0%9F%98%80%27",
    ] {
        let res = srv
            .client
            .get(srv.url(&format!("/api/collections/posts/records?{query}")))
            .send()
            .await
            .unwrap();
        assert!(
            res.status() == 200 || res.status() == 400,
            "{query}: {}",
            res.status()
        );
    }
    let (_, list) = srv
        .send("GET", "/api/collections/posts/records", None, None)
        .await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["title"].is_string()),
        "stored data stays well-formed"
    );
}

#[tokio::test]
async fn static_files_are_served_with_index_fallback() {
    let public = tempfile::tempdir().unwrap();
    std::fs::write(public.path().join("index.html"), "<h1>app</h1>").unwrap();
    std::fs::write(public.path().join("app.js"), "console.log(1)").unwrap();
    let srv = TestServer::start_with(kulisse::http::HttpOptions {
        public_dir: Some(public.path().to_owned()),
        origins: vec![],
    })
    .await;
    let get = |p: &str| srv.client.get(srv.url(p)).send();
    assert_eq!(
        get("/app.js").await.unwrap().text().await.unwrap(),
        "console.log(1)"
    );
    assert_eq!(
        get("/").await.unwrap().text().await.unwrap(),
        "<h1>app</h1>"
    );
    assert_eq!(
        get("/some/client/route")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "<h1>app</h1>"
    );
}

async fn password_change_revokes_earlier_tokens() {
    let srv = TestServer::start().await;
    let (status, _) = srv
        .send(
            "POST",
            "/api/collections/users/records",
            None,
            Some(
                json!({"email":"u@example.com","password":"12345678","passwordConfirm":"12345678"}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let token = srv.login("users", "u@example.com", "12345678").await;
    let (_, me) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None,
        )
        .await;
    let id = me["record"]["id"].as_str().unwrap().to_owned();
    let (status, _) = srv
        .send("PATCH", &format!("/api/collections/users/records/{id}"), Some(&token), Some(json!({"oldPassword":"12345678","password":"abcdefgh","passwordConfirm":"abcdefgh"})))
        .await;
    assert_eq!(status, 200);
    let (status, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 401, "the old token now authenticates nobody");
    srv.login("users", "u@example.com", "abcdefgh").await;
}

async fn wrong_password_and_unknown_identity_answer_the_same() {
    let srv = TestServer::start().await;
    let a = srv
        .send(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            None,
            Some(json!({"identity":"admin@example.com","password":"nope"})),
        )
        .await;
    let b = srv
        .send(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            None,
            Some(json!({"identity":"ghost@example.com","password":"nope"})),
        )
        .await;
    assert_eq!(a, b);
    assert_eq!(a.0, 400);
    assert_eq!(
        a.1,
        json!({"data":{},"message":"Failed to authenticate.","status":400})
    );
}

/// A node reads its own schema and settings changes at once. On PostgreSQL each change
/// also comes back as an announcement whose reload must never install an older state over
/// a newer one (it once did, now and then, when two reloads overlapped).
async fn each_change_is_seen_by_the_next_request() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (status, _) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": "notes", "type": "base", "fields": [{"name": "t", "type": "text"}]}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    for i in 0..40 {
        let rule = format!("t != 'v{i}'");
        let (status, _) = srv
            .send(
                "PATCH",
                "/api/collections/notes",
                Some(&su),
                Some(json!({"listRule": rule})),
            )
            .await;
        assert_eq!(status, 200);
        let (_, c) = srv
            .send("GET", "/api/collections/notes", Some(&su), None)
            .await;
        assert_eq!(c["listRule"], json!(rule), "change {i}");
        let name = format!("app {i}");
        let (status, _) = srv
            .send(
                "PATCH",
                "/api/settings",
                Some(&su),
                Some(json!({"meta": {"appName": name}})),
            )
            .await;
        assert_eq!(status, 200);
        let (_, settings) = srv.send("GET", "/api/settings", Some(&su), None).await;
        assert_eq!(
            settings["meta"]["appName"],
            json!(name),
            "settings change {i}"
        );
    }
}

crate::engine_tests!(
    each_change_is_seen_by_the_next_request,
    malformed_input_never_yields_a_server_error,
    password_change_revokes_earlier_tokens,
    wrong_password_and_unknown_identity_answer_the_same
);
