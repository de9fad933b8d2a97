//! Accounts beyond password login (issue #16): impersonation.

use kulisse_testkit::{TestServer, engine_tests};
use serde_json::{Value, json};

engine_tests!(superusers_impersonate_with_tokens_that_cannot_be_refreshed);

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn superusers_impersonate_with_tokens_that_cannot_be_refreshed() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, user) = srv
        .send(
            "POST",
            "/api/collections/users/records",
            Some(&su),
            Some(
                json!({"email": "target@example.com", "password": "pass-word",
                "passwordConfirm": "pass-word"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{user}");
    let id = user["id"].as_str().unwrap();
    let path = format!("/api/collections/users/impersonate/{id}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let (s, auth) = srv
        .send("POST", &path, Some(&su), Some(json!({"duration": 60})))
        .await;
    assert_eq!(s, 200, "{auth}");
    assert_eq!(auth["record"]["email"], "target@example.com", "{auth}");
    let token = auth["token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(
        (&c["refreshable"], &c["type"], &c["id"]),
        (&json!(false), &json!("auth"), &json!(id))
    );
    let lifetime = c["exp"].as_i64().unwrap() - now;
    assert!((58..=62).contains(&lifetime), "{c}");

    let (s, own) = srv
        .send(
            "GET",
            &format!("/api/collections/users/records/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200, "the token acts as the record: {own}");
    let (s, refreshed) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (s, refreshed["token"].as_str()),
        (200, Some(token.as_str())),
        "not refreshed"
    );

    let (s, auth) = srv.send("POST", &path, Some(&su), None).await;
    assert_eq!(s, 200, "{auth}");
    let lifetime = claims(auth["token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap()
        - now;
    assert!(
        lifetime > 3600,
        "the collection's auth token duration: {lifetime}"
    );

    let (s, body) = srv
        .send("POST", &path, Some(&su), Some(json!({"duration": -1})))
        .await;
    assert_eq!(
        (s, &body["data"]["duration"]["code"]),
        (400, &json!("validation_min_greater_equal_than_required"))
    );
    assert_eq!(srv.send("POST", &path, None, None).await.0, 401);
    let user_token = srv.login("users", "target@example.com", "pass-word").await;
    assert_eq!(
        srv.send("POST", &path, Some(&user_token), None).await.0,
        403
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/impersonate/missing00000000",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 404);
}
