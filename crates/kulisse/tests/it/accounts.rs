//! Accounts beyond password login (issue #16): impersonation, and what only managers (a
//! superuser, or whom the collection's `manageRule` admits) may change on an auth record.

use kulisse_testkit::{TestServer, engine_tests};
use serde_json::{Value, json};

engine_tests!(
    superusers_impersonate_with_tokens_that_cannot_be_refreshed,
    only_managers_set_verified_email_or_a_password_without_the_old_one,
);

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
    let user = srv.create_user("target@example.com", "pass-word").await;
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

async fn only_managers_set_verified_email_or_a_password_without_the_old_one() {
    let srv = TestServer::start().await;
    srv.without_rate_limits().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": "members", "type": "auth", "listRule": "", "viewRule": "",
                "createRule": "", "updateRule": "@request.auth.id != ''",
                "manageRule": "@request.auth.role = 'admin'",
                "fields": [{"name": "role", "type": "text"}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut ids = Vec::new();
    for (email, role) in [
        ("a@x.com", "user"),
        ("b@x.com", "user"),
        ("m@x.com", "admin"),
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/members/records",
                Some(&su),
                Some(
                    json!({"email": email, "role": role, "password": "pass-word",
                    "passwordConfirm": "pass-word"}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let ta = srv.login("members", "a@x.com", "pass-word").await;
    let tb = srv.login("members", "b@x.com", "pass-word").await;
    let tm = srv.login("members", "m@x.com", "pass-word").await;
    let update = |token: &str, id: &str, body: Value| {
        let (srv, token, path) = (
            &srv,
            token.to_owned(),
            format!("/api/collections/members/records/{id}"),
        );
        async move { srv.send("PATCH", &path, Some(&token), Some(body)).await }
    };
    let refused = |(s, body): (u16, Value), field: &str, code: &str| {
        assert_eq!(s, 400, "{field}: {body}");
        assert_eq!(body["data"][field]["code"], code, "{body}");
    };

    // Another record, admitted by the update rule but not a manager.
    refused(
        update(&ta, &b, json!({"emailVisibility": true})).await,
        "emailVisibility",
        "validation_values_mismatch",
    );
    refused(
        update(&ta, &b, json!({"verified": true})).await,
        "verified",
        "validation_values_mismatch",
    );
    refused(
        update(&ta, &b, json!({"email": "b2@x.com"})).await,
        "email",
        "validation_values_mismatch",
    );
    refused(
        update(
            &ta,
            &b,
            json!({"password": "new-password", "passwordConfirm": "new-password"}),
        )
        .await,
        "oldPassword",
        "validation_required",
    );
    assert_eq!(
        update(&ta, &b, json!({"role": "x"})).await.0,
        200,
        "other fields follow the update rule"
    );

    // The owner: its own visibility and password (with the old one); never its own
    // verified flag, and a token key in the body changes nothing.
    let (s, own) = update(
        &ta,
        &a,
        json!({"emailVisibility": true, "tokenKey": "k".repeat(50)}),
    )
    .await;
    assert_eq!((s, &own["emailVisibility"]), (200, &json!(true)), "{own}");
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/members/auth-refresh",
            Some(&ta),
            None,
        )
        .await;
    assert_eq!(
        s, 200,
        "a's token lives: the token key was not set from the body"
    );
    refused(
        update(&ta, &a, json!({"verified": true})).await,
        "verified",
        "validation_values_mismatch",
    );
    refused(
        update(&ta, &a, json!({"password": "new-password", "passwordConfirm": "new-password", "oldPassword": "wrong"})).await,
        "oldPassword",
        "validation_invalid_old_password",
    );

    // A manager, by the manageRule: all of it, a password without the old one included
    // (which ends the record's sessions).
    for body in [
        json!({"emailVisibility": true}),
        json!({"verified": true}),
        json!({"email": "b2@x.com"}),
        json!({"password": "set-by-admin", "passwordConfirm": "set-by-admin"}),
    ] {
        let (s, res) = update(&tm, &b, body.clone()).await;
        assert_eq!(s, 200, "{body}: {res}");
    }
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/members/auth-refresh",
            Some(&tb),
            None,
        )
        .await;
    assert_eq!(s, 401, "b's old token died with its password");
    srv.login("members", "b2@x.com", "set-by-admin").await;

    // Creating a verified record takes a manager too.
    let create = |token: Option<String>, email: &str| {
        let srv = &srv;
        let body = json!({"email": email, "password": "pass-word", "passwordConfirm": "pass-word", "verified": true});
        async move {
            srv.send(
                "POST",
                "/api/collections/members/records",
                token.as_deref(),
                Some(body),
            )
            .await
        }
    };
    refused(
        create(None, "g@x.com").await,
        "verified",
        "validation_values_mismatch",
    );
    refused(
        create(Some(ta.clone()), "g@x.com").await,
        "verified",
        "validation_values_mismatch",
    );
    let (s, made) = create(Some(tm.clone()), "g@x.com").await;
    assert_eq!((s, &made["verified"]), (200, &json!(true)), "{made}");
}

/// Two nodes on one PostgreSQL database: whatever ends a record's sessions through one node
/// (an email change, its deletion, the collection's truncation, a new auth token secret)
/// ends them on the other node, which had the session cached, as soon as the change
/// reaches it (milliseconds; bounded here at 5 s).
#[tokio::test]
async fn what_ends_a_session_on_one_node_ends_it_on_the_other() {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let scope = async {
        let a = TestServer::start().await;
        a.without_rate_limits().await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let su = a.superuser_token().await;
        // Signs a new user up through a and hands back its id and a session b serves.
        let session_on_b = |email: &'static str| {
            let (a, b, su) = (&a, &b, su.clone());
            async move {
                let (s, user) = a
                    .send(
                        "POST",
                        "/api/collections/users/records",
                        Some(&su),
                        Some(json!({"email": email, "password": "pass-word",
                            "passwordConfirm": "pass-word"})),
                    )
                    .await;
                assert_eq!(s, 200, "{user}");
                let token = a.login("users", email, "pass-word").await;
                let refresh = b
                    .send(
                        "POST",
                        "/api/collections/users/auth-refresh",
                        Some(&token),
                        None,
                    )
                    .await;
                assert_eq!(refresh.0, 200, "node b serves the session: {}", refresh.1);
                (user["id"].as_str().unwrap().to_owned(), token)
            }
        };
        let ended_on_b = |token: String, what: &'static str| {
            let b = &b;
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while b
                    .send(
                        "POST",
                        "/api/collections/users/auth-refresh",
                        Some(&token),
                        None,
                    )
                    .await
                    .0
                    != 401
                {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{what}: node b still serves the session"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        };

        let (id, token) = session_on_b("email@example.com").await;
        let (s, body) = a
            .send(
                "PATCH",
                &format!("/api/collections/users/records/{id}"),
                Some(&su),
                Some(json!({"email": "changed@example.com"})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        ended_on_b(token, "an email change").await;

        let (id, token) = session_on_b("deleted@example.com").await;
        let (s, _) = a
            .send(
                "DELETE",
                &format!("/api/collections/users/records/{id}"),
                Some(&su),
                None,
            )
            .await;
        assert_eq!(s, 204);
        ended_on_b(token, "a deletion").await;

        let (_, token) = session_on_b("secret@example.com").await;
        let (s, body) = a
            .send(
                "PATCH",
                "/api/collections/users",
                Some(&su),
                Some(json!({"authToken": {"secret": "s".repeat(50)}})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        ended_on_b(token, "a new auth token secret").await;

        let (_, token) = session_on_b("truncated@example.com").await;
        let (s, _) = a
            .send("DELETE", "/api/collections/users/truncate", Some(&su), None)
            .await;
        assert_eq!(s, 204);
        ended_on_b(token, "a truncation").await;
    };
    kulisse_testkit::ENGINE
        .scope(kulisse_testkit::TestEngine::Postgres, scope)
        .await;
}
