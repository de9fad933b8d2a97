//! HTTP helpers for any server under test: a [`crate::TestServer`] or a process of the
//! built binary.

use serde_json::{Value, json};

/// The superuser every test server starts with.
pub const SUPERUSER_EMAIL: &str = "admin@example.com";
/// [`SUPERUSER_EMAIL`]'s password.
pub const SUPERUSER_PASSWORD: &str = "1234567890";

/// Percent-encodes every byte but ASCII letters, digits and `-_.~` (a query value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends a JSON request to the server at `base`, returning status and parsed body (`Null`
/// when empty).
pub async fn send_to(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
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

/// Logs in to an auth collection of the server at `base` and returns the token.
pub async fn login_at(
    client: &reqwest::Client,
    base: &str,
    collection: &str,
    identity: &str,
    password: &str,
) -> String {
    let path = format!("/api/collections/{collection}/auth-with-password");
    let body = json!({"identity": identity, "password": password});
    let (status, res) = send_to(client, base, "POST", &path, None, Some(body)).await;
    assert_eq!(status, 200, "login {identity} to {collection}: {res}");
    res["token"].as_str().unwrap().to_owned()
}

/// The test superuser's token on the server at `base`.
pub async fn superuser_token_at(client: &reqwest::Client, base: &str) -> String {
    login_at(
        client,
        base,
        "_superusers",
        SUPERUSER_EMAIL,
        SUPERUSER_PASSWORD,
    )
    .await
}
