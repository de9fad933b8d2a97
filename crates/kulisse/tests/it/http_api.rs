//! Behaviour beyond the recorded scenarios: transport details, bad input, limits.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

/// The header values of `name`, in order.
fn values(res: &reqwest::Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn options(srv: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = srv.client.request(reqwest::Method::OPTIONS, srv.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

// Recorded against PocketBase 0.40.6 (`curl -si`, with and without `--origins`).
#[tokio::test]
async fn responses_carry_security_and_cors_headers() {
    let srv = TestServer::start().await;
    let get = |origin: Option<&'static str>| {
        let mut req = srv.client.get(srv.url("/api/health"));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        req.send()
    };
    let res = get(Some("http://example.com")).await.unwrap();
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert_eq!(h["x-xss-protection"], "1; mode=block");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(values(&res, "vary"), ["Origin"]);
    // Without an Origin there is nothing to allow, but caches still learn the answer varies.
    let res = get(None).await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(values(&res, "vary"), ["Origin"]);
    // A 404 of the API carries them too.
    let res = srv
        .client
        .get(srv.url("/api/nope"))
        .header("Origin", "http://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");

    let pre = options(
        &srv,
        "/api/collections/posts/records",
        &[
            ("Origin", "http://example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ),
        ],
    )
    .await;
    assert_eq!(pre.status(), 204);
    let h = pre.headers();
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert_eq!(
        h["access-control-allow-methods"],
        "GET,HEAD,PUT,PATCH,POST,DELETE"
    );
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h.get("x-frame-options").is_none(),
        "preflights carry no security headers"
    );
    assert_eq!(
        values(&pre, "vary"),
        [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers"
        ]
    );
    // The `//` redirect comes before all of it, bare.
    let redirect = srv
        .client
        .get(srv.url("//api//health"))
        .header("Origin", "http://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 307);
    assert_eq!(redirect.headers()["location"], "/api/health");
    assert!(
        redirect
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(redirect.headers().get("x-frame-options").is_none());
    // Every OPTIONS request is a preflight, answered without the route table.
    let bare = options(&srv, "/", &[]).await;
    assert_eq!(bare.status(), 204);
    assert_eq!(values(&bare, "vary"), ["Origin"]);
    assert!(bare.headers().get("access-control-allow-methods").is_none());
    assert!(bare.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_listed_origins_are_allowed() {
    let srv = TestServer::start_with(kulisse::http::HttpOptions {
        origins: vec!["http://a.example".into()],
        ..Default::default()
    })
    .await;
    let from = |origin: &'static str| {
        srv.client
            .get(srv.url("/api/health"))
            .header("Origin", origin)
            .send()
    };
    let allowed = from("http://a.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://a.example"
    );
    let other = from("http://b.example").await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_eq!(values(&other, "vary"), ["Origin"]);
    let pre = options(
        &srv,
        "/api/health",
        &[
            ("Origin", "http://b.example"),
            ("Access-Control-Request-Method", "PATCH"),
        ],
    )
    .await;
    assert_eq!(pre.status(), 204);
    assert_eq!(values(&pre, "vary"), ["Origin"]);
    assert!(pre.headers().get("access-control-allow-methods").is_none());
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

/// Multipart bodies get the same 32 MiB limit as the others, not axum's 2 MB default.
#[tokio::test]
async fn multipart_bodies_past_two_megabytes_are_accepted() {
    let srv = TestServer::start().await;
    let token = srv.superuser_token().await;
    let (status, _) = srv
        .send("POST", "/api/collections", Some(&token), Some(json!({"name": "docs", "createRule": "", "fields": [{"name": "content", "type": "editor", "maxSize": 10_000_000}]})))
        .await;
    assert_eq!(status, 200);
    let content = "x".repeat(3 << 20);
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\n{content}\r\n--b--\r\n"
    );
    let res = srv
        .client
        .post(srv.url("/api/collections/docs/records"))
        .header("Content-Type", "multipart/form-data; boundary=b")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let record: Value = res.json().await.unwrap();
    assert_eq!(record["content"].as_str().map(str::len), Some(3 << 20));
}

#[tokio::test]
async fn static_files_are_served_with_index_fallback() {
    let public = tempfile::tempdir().unwrap();
    std::fs::write(public.path().join("index.html"), "<h1>app</h1>").unwrap();
    std::fs::write(public.path().join("app.js"), "console.log(1)").unwrap();
    let srv = TestServer::start_with(kulisse::http::HttpOptions {
        public_dir: Some(public.path().to_owned()),
        ..Default::default()
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
    // The dashboard's path is PocketBase's, never the frontend's client-side routes.
    let dashboard = get("/_/").await.unwrap();
    assert_eq!(dashboard.status(), 303);
    assert_eq!(dashboard.headers()["location"], "/_/login?next=%2F_%2F");
}

/// Areas not built yet answer PocketBase's 404 JSON for every method, never a static-file
/// answer; and health does not claim backups that do not exist.
async fn areas_not_built_yet_answer_pocketbase_404() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    for path in ["/api/files/posts/abc/photo.png"] {
        for method in ["GET", "POST", "DELETE"] {
            let (s, body) = srv.send(method, path, Some(&su), None).await;
            assert_eq!(s, 404, "{method} {path}");
            assert_eq!(
                body,
                json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404}),
                "{method} {path}"
            );
        }
    }
    let (s, health) = srv.send("GET", "/api/health", Some(&su), None).await;
    assert_eq!(s, 200);
    assert_eq!(health["data"]["canBackup"], true, "{health}");
}

/// PB compat: geoPoint JSON is `{"lon":…,"lat":…}`, lon first, in every record answer.
async fn geo_points_are_written_lon_first() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, c) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({
            "name": "places", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "loc", "type": "geoPoint"}]})),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let body = json!({"id": "place0000000001", "loc": {"lat": 1.5, "lon": 2.5}});
    let want = r#""loc":{"lon":2.5,"lat":1.5}"#;
    let created = srv
        .client
        .post(srv.url("/api/collections/places/records"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(created.text().await.unwrap().contains(want));
    for path in [
        "/api/collections/places/records",
        "/api/collections/places/records/place0000000001",
    ] {
        let text = srv
            .client
            .get(srv.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(want), "{path}: {text}");
    }
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

/// An auth collection's token durations and secrets are bounded as PocketBase bounds them
/// (answers compared with PocketBase 0.40.6): 10 s to three years, secrets of 30 to 255
/// characters; a duration that is no integer cannot be loaded; null changes nothing.
async fn token_durations_and_secrets_are_checked_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let min = json!({"code": "validation_min_greater_equal_than_required",
        "message": "Must be no less than 10.", "params": {"threshold": 10}});
    for (i, duration) in [5, -5].into_iter().enumerate() {
        let body = json!({"name": format!("tok_short{i}"), "type": "auth",
            "authToken": {"duration": duration}});
        let (s, body) = srv
            .send("POST", "/api/collections", Some(&su), Some(body))
            .await;
        assert_eq!(
            (s, &body["data"]),
            (400, &json!({"authToken": {"duration": min}})),
            "{duration}: {body}"
        );
        assert_eq!(body["message"], "Failed to create collection.");
    }
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "tok_long", "type": "auth",
                "authToken": {"duration": 999_999_999_999_i64}, "fileToken": {"secret": "short"}})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "authToken": {"duration": {"code": "validation_max_less_equal_than_required",
                "message": "Must be no greater than 94670856.", "params": {"threshold": 94_670_856}}},
            "fileToken": {"secret": {"code": "validation_length_out_of_range",
                "message": "The length must be between 30 and 255.", "params": {"max": 255, "min": 30}}}
        })
    );
    for bad in [json!("x"), json!(10.5)] {
        let (s, body) = srv
            .send(
                "PATCH",
                "/api/collections/users",
                Some(&su),
                Some(json!({"authToken": {"duration": bad}})),
            )
            .await;
        assert_eq!(
            (s, &body["message"]),
            (
                400,
                &json!("Failed to load the submitted data due to invalid formatting.")
            ),
            "{bad}"
        );
    }
    let secret = "s".repeat(40);
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"authToken": {"duration": 3600, "secret": secret}})),
        )
        .await;
    assert_eq!(
        (s, &body["authToken"]["duration"]),
        (200, &json!(3600)),
        "{body}"
    );
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"authToken": {"duration": null}})),
        )
        .await;
    assert_eq!(
        (s, &body["authToken"]["duration"]),
        (200, &json!(3600)),
        "{body}"
    );
    let (_, users) = srv
        .send("GET", "/api/collections/users", Some(&su), None)
        .await;
    assert_eq!(
        users["authToken"],
        json!({"duration": 3600}),
        "secrets stay hidden"
    );
}

kulisse_testkit::engine_tests!(
    token_durations_and_secrets_are_checked_like_pocketbase,
    areas_not_built_yet_answer_pocketbase_404,
    each_change_is_seen_by_the_next_request,
    geo_points_are_written_lon_first,
    password_change_revokes_earlier_tokens,
    wrong_password_and_unknown_identity_answer_the_same
);
