//! Mail (issue #16, first part): the settings' SMTP server, PocketBase's templates with
//! their placeholders, and `POST /api/settings/test/email`, against a real SMTP sink.

use kulisse_testkit::{TestServer, engine_tests, mail_to, smtp_settings};
use serde_json::{Value, json};

engine_tests!(
    test_emails_render_each_template_and_go_through_smtp,
    test_emails_are_checked_and_smtp_settings_validated_like_pocketbase,
);

async fn test_emails_render_each_template_and_go_through_smtp() {
    let Some(smtp) = smtp_settings() else {
        eprintln!("skipped: KULISSE_TEST_SMTP is not set");
        return;
    };
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let settings = json!({"smtp": smtp, "meta": {"appName": "Kulisse <Test>",
        "appURL": "https://app.test/", "senderName": "Kulisse Team",
        "senderAddress": "team@app.test"}});
    let (s, body) = srv
        .send("PATCH", "/api/settings", Some(&su), Some(settings))
        .await;
    assert_eq!(s, 200, "{body}");
    let to = format!(
        "{}@example.com",
        srv.base.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    for template in [
        "verification",
        "password-reset",
        "email-change",
        "otp",
        "login-alert",
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/settings/test/email",
                Some(&su),
                Some(json!({"email": to, "template": template, "collection": "users"})),
            )
            .await;
        assert_eq!(s, 204, "{template}: {body}");
    }
    let mails = mail_to(&to, 5).await;
    assert_eq!(mails.len(), 5, "{mails:?}");
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Verify your Kulisse <Test> email",
            "Reset your Kulisse <Test> password",
            "Confirm your Kulisse <Test> new email address",
            "OTP for Kulisse <Test>",
            "Login from a new location",
        ]
    );
    let verification = &mails[0];
    assert_eq!(verification.from, "\"Kulisse Team\" <team@app.test>");
    assert_eq!(verification.content_type, "multipart/alternative");
    assert!(
        verification
            .text
            .contains("Thank you for joining us at Kulisse <Test>.")
            && verification
                .text
                .contains("https://app.test/_/#/auth/confirm-verification/__kulisse_test_token__"),
        "a plain-text part with the link: {}",
        verification.text
    );
    assert!(
        verification
            .body
            .contains("https://app.test/_/#/auth/confirm-verification/__kulisse_test_token__"),
        "the link from the settings' app URL: {}",
        verification.body
    );
    assert!(
        verification.body.contains("Kulisse &lt;Test&gt;"),
        "placeholders are escaped in the HTML: {}",
        verification.body
    );
    assert!(mails[3].body.contains("123456"), "{}", mails[3].body);
}

async fn test_emails_are_checked_and_smtp_settings_validated_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let test = |body: Value| {
        let su = su.clone();
        let srv = &srv;
        async move {
            srv.send("POST", "/api/settings/test/email", Some(&su), Some(body))
                .await
        }
    };
    let (s, body) = test(json!({})).await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Failed to send the test email."))
    );
    for field in ["email", "template"] {
        assert_eq!(body["data"][field]["code"], "validation_required", "{body}");
    }
    let (s, body) = test(json!({"email": "x", "template": "nope", "collection": "zzz"})).await;
    assert_eq!(s, 400);
    assert_eq!(body["data"]["email"]["code"], "validation_is_email");
    assert_eq!(body["data"]["template"]["code"], "validation_in_invalid");
    assert_eq!(
        body["data"]["collection"]["code"],
        "validation_invalid_auth_collection"
    );
    let (s, body) = test(json!({"email": "a@b.co", "template": "verification"})).await;
    assert_eq!(s, 400, "SMTP is off by default: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to send the test email. Raw error: \n"),
        "{body}"
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/settings/test/email",
            None,
            Some(json!({"email": "a@b.co", "template": "otp"})),
        )
        .await;
    assert_eq!(s, 401, "superusers only");

    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": {"enabled": true, "host": ""}})),
        )
        .await;
    assert_eq!(
        (s, &body["data"]["smtp"]["host"]["code"]),
        (400, &json!("validation_required")),
        "{body}"
    );
    // A server that is not there: the raw error, promptly.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": {"enabled": true, "host": "127.0.0.1", "port": 9}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = test(json!({"email": "a@b.co", "template": "verification"})).await;
    assert_eq!(s, 400, "{body}");
}

engine_tests!(verification_and_password_reset_mail_tokens_that_work_once);

/// The token in the first link of `body` after `path` (`…/confirm-verification/`).
fn token_after(body: &str, path: &str) -> String {
    let start = body
        .find(path)
        .unwrap_or_else(|| panic!("no {path} in {body}"))
        + path.len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

async fn verification_and_password_reset_mail_tokens_that_work_once() {
    let Some(smtp) = smtp_settings() else {
        eprintln!("skipped: KULISSE_TEST_SMTP is not set");
        return;
    };
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": smtp, "meta": {"appURL": "https://app.test"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let email = format!(
        "flows{}@example.com",
        srv.base.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let (s, user) = srv
        .send(
            "POST",
            "/api/collections/users/records",
            Some(&su),
            Some(json!({"email": email, "password": "old-password", "passwordConfirm": "old-password"})),
        )
        .await;
    assert_eq!(s, 200, "{user}");
    let user_path = format!(
        "/api/collections/users/records/{}",
        user["id"].as_str().unwrap()
    );
    let post = |path: &str, body: Value| {
        let path = format!("/api/collections/users/{path}");
        let srv = &srv;
        async move { srv.send("POST", &path, None, Some(body)).await }
    };

    // Request: 204 for anyone; an invalid address is a 400.
    assert_eq!(
        post("request-verification", json!({"email": email}))
            .await
            .0,
        204
    );
    assert_eq!(
        post(
            "request-verification",
            json!({"email": "nobody@example.com"})
        )
        .await
        .0,
        204
    );
    let (s, body) = post("request-verification", json!({"email": "nope"})).await;
    assert_eq!(
        (s, &body["data"]["email"]["code"]),
        (400, &json!("validation_is_email"))
    );
    let mails = mail_to(&email, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let token = token_after(
        &mails[0].body,
        "https://app.test/_/#/auth/confirm-verification/",
    );

    // Confirm: a forged token, a reset token, then the real one (twice: idempotent).
    let (s, body) = post("confirm-verification", json!({"token": "forged"})).await;
    assert_eq!(
        (s, &body["data"]["token"]["code"]),
        (400, &json!("validation_invalid_token_claims"))
    );
    assert_eq!(
        post("confirm-verification", json!({"token": token}))
            .await
            .0,
        204
    );
    assert_eq!(
        post("confirm-verification", json!({"token": token}))
            .await
            .0,
        204
    );
    let (_, stored) = srv.send("GET", &user_path, Some(&su), None).await;
    assert_eq!(stored["verified"], true, "{stored}");

    // Reset: the mail's token sets the password once and logs every session out.
    let session = srv.login("users", &email, "old-password").await;
    assert_eq!(
        post("request-password-reset", json!({"email": email}))
            .await
            .0,
        204
    );
    assert_eq!(
        post("request-password-reset", json!({"email": email}))
            .await
            .0,
        204
    );
    mail_to(&email, 2).await;
    // Time enough for a second mail to arrive, were one sent.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mails = mail_to(&email, 2).await;
    assert_eq!(
        mails.len(),
        2,
        "a second request within 2 minutes mails nothing: {mails:?}"
    );
    let reset = token_after(
        &mails[1].body,
        "https://app.test/_/#/auth/confirm-password-reset/",
    );
    let (s, body) = post(
        "confirm-password-reset",
        json!({"token": token, "password": "new-password", "passwordConfirm": "new-password"}),
    )
    .await;
    assert_eq!(
        (s, &body["data"]["token"]["code"]),
        (400, &json!("validation_invalid_token")),
        "a verification token resets nothing: {body}"
    );
    let (s, body) = post(
        "confirm-password-reset",
        json!({"token": reset, "password": "short", "passwordConfirm": "other"}),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["data"]["password"]["code"],
        "validation_min_text_constraint"
    );
    assert_eq!(
        body["data"]["passwordConfirm"]["code"],
        "validation_values_mismatch"
    );
    let new =
        json!({"token": reset, "password": "new-password", "passwordConfirm": "new-password"});
    assert_eq!(post("confirm-password-reset", new.clone()).await.0, 204);
    let (s, body) = post("confirm-password-reset", new).await;
    assert_eq!(
        (s, &body["data"]["token"]["code"]),
        (400, &json!("validation_invalid_token")),
        "used once: {body}"
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(s, 401, "the old session is revoked");
    srv.login("users", &email, "new-password").await;
}

engine_tests!(an_email_change_is_mailed_to_the_new_address_and_confirmed_with_the_password);

async fn an_email_change_is_mailed_to_the_new_address_and_confirmed_with_the_password() {
    let Some(smtp) = smtp_settings() else {
        eprintln!("skipped: KULISSE_TEST_SMTP is not set");
        return;
    };
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": smtp, "meta": {"appURL": "https://app.test"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // Each refusal below is a request of its own: more than a client may send a minute.
    srv.without_rate_limits().await;
    let tag = srv.base.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let (old, new, other) = (
        format!("old{tag}@example.com"),
        format!("new{tag}@example.com"),
        format!("other{tag}@example.com"),
    );
    for email in [&old, &other] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(json!({"email": email, "password": "pass-word", "passwordConfirm": "pass-word"})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let session = srv.login("users", &old, "pass-word").await;
    let request = |body: Value, token: Option<String>| {
        let srv = &srv;
        async move {
            srv.send(
                "POST",
                "/api/collections/users/request-email-change",
                token.as_deref(),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(request(json!({"newEmail": new}), None).await.0, 401);
    assert_eq!(
        request(json!({"newEmail": new}), Some(su.clone())).await.0,
        403
    );
    for (asked, code) in [
        (json!({}), "validation_required"),
        (json!({"newEmail": "bad"}), "validation_is_email"),
        (json!({"newEmail": old}), "validation_not_in_invalid"),
        (json!({"newEmail": other}), "validation_invalid_new_email"),
    ] {
        let (s, body) = request(asked, Some(session.clone())).await;
        assert_eq!(
            (s, &body["data"]["newEmail"]["code"]),
            (400, &json!(code)),
            "{body}"
        );
    }
    assert_eq!(
        request(json!({"newEmail": new}), Some(session.clone()))
            .await
            .0,
        204
    );
    let mails = mail_to(&new, 1).await;
    assert_eq!(mails.len(), 1, "mailed to the new address");
    let token = token_after(
        &mails[0].body,
        "https://app.test/_/#/auth/confirm-email-change/",
    );

    let confirm = |body: Value| {
        let srv = &srv;
        async move {
            srv.send(
                "POST",
                "/api/collections/users/confirm-email-change",
                None,
                Some(body),
            )
            .await
        }
    };
    let (s, body) = confirm(json!({"token": token, "password": "wrong"})).await;
    assert_eq!(
        (s, &body["data"]["password"]["code"]),
        (400, &json!("validation_invalid_password")),
        "{body}"
    );
    let (s, body) = confirm(json!({"token": "bad", "password": "pass-word"})).await;
    assert_eq!(
        (s, &body["data"]["token"]["code"]),
        (400, &json!("validation_invalid_token_payload")),
        "{body}"
    );
    assert_eq!(
        confirm(json!({"token": token, "password": "pass-word"}))
            .await
            .0,
        204
    );
    let (s, _) = confirm(json!({"token": token, "password": "pass-word"})).await;
    assert_eq!(s, 400, "used once");
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(s, 401, "the old session is revoked");
    srv.login("users", &new, "pass-word").await;
    let (_, list) = srv
        .send(
            "GET",
            &format!("/api/collections/users/records?filter=email%3D%27{new}%27"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["verified"], true, "{list}");
}

/// Two nodes on one PostgreSQL database: a password reset confirmed through one node ends
/// the sessions the other node serves, on their next request. (Runs when both servers are
/// there.)
#[tokio::test]
async fn a_reset_through_one_node_revokes_sessions_on_the_other() {
    let (Some(smtp), Some(_)) = (smtp_settings(), kulisse_testkit::pg_admin_url()) else {
        eprintln!("skipped: needs KULISSE_TEST_SMTP and KULISSE_TEST_PG_URL");
        return;
    };
    let scope = async {
        let a = TestServer::start().await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let su = a.superuser_token().await;
        let (s, body) = a
            .send(
                "PATCH",
                "/api/settings",
                Some(&su),
                Some(json!({"smtp": smtp, "meta": {"appURL": "https://app.test"}})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let email = format!(
            "nodes{}@example.com",
            a.base.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let (s, body) = a
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(json!({"email": email, "password": "old-password",
                    "passwordConfirm": "old-password"})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let session = b.login("users", &email, "old-password").await;
        let refresh = || {
            b.send(
                "POST",
                "/api/collections/users/auth-refresh",
                Some(&session),
                None,
            )
        };
        assert_eq!(refresh().await.0, 200, "node b serves the session");

        let (s, _) = a
            .send(
                "POST",
                "/api/collections/users/request-password-reset",
                None,
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(s, 204);
        let mails = mail_to(&email, 1).await;
        let token = token_after(
            &mails[0].body,
            "https://app.test/_/#/auth/confirm-password-reset/",
        );
        let (s, body) = a
            .send(
                "POST",
                "/api/collections/users/confirm-password-reset",
                None,
                Some(json!({"token": token, "password": "new-password",
                    "passwordConfirm": "new-password"})),
            )
            .await;
        assert_eq!(s, 204, "{body}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while refresh().await.0 != 401 {
            assert!(
                std::time::Instant::now() < deadline,
                "node b still accepts the session"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    kulisse_testkit::ENGINE
        .scope(kulisse_testkit::TestEngine::Postgres, scope)
        .await;
}

engine_tests!(a_login_from_a_new_origin_is_alerted_and_five_origins_are_kept);

/// PocketBase's `authAlert`: the first login remembers its origin (address and user agent)
/// quietly, a login from another origin mails "Login from a new location", a record keeps
/// its five latest origins (which it may list), and an alert that is off sends nothing.
async fn a_login_from_a_new_origin_is_alerted_and_five_origins_are_kept() {
    let Some(smtp) = smtp_settings() else {
        eprintln!("skipped: KULISSE_TEST_SMTP is not set");
        return;
    };
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": smtp})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let email = srv.unique_email("origins");
    let user = srv.create_user(&email, "pass-word").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let login = |agent: &'static str| {
        let (srv, email) = (&srv, email.clone());
        async move {
            let res = srv
                .client
                .post(srv.url("/api/collections/users/auth-with-password"))
                .header("User-Agent", agent)
                .json(&json!({"identity": email, "password": "pass-word"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let origins = |token: String| {
        let (srv, id) = (&srv, id.clone());
        async move {
            let path =
                format!("/api/collections/_authOrigins/records?filter=recordRef='{id}'&perPage=50");
            srv.send("GET", &path, Some(&token), None).await.1["totalItems"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(300));

    login("agent-one").await;
    settle().await;
    let token = login("agent-one").await;
    settle().await;
    assert_eq!(
        origins(token.clone()).await,
        1,
        "the record lists its own origin"
    );
    for agent in [
        "agent-two",
        "agent-three",
        "agent-four",
        "agent-five",
        "agent-six",
    ] {
        login(agent).await;
        settle().await;
    }
    let mails = mail_to(&email, 5).await;
    assert_eq!(
        mails.len(),
        5,
        "one alert per new origin, none for the first login"
    );
    assert!(
        mails
            .iter()
            .all(|m| m.subject == "Login from a new location")
    );
    assert!(
        mails[0].body.contains(" - 127.0.0.1 agent-two"),
        "{}",
        mails[0].body
    );
    assert_eq!(
        origins(su.clone()).await,
        5,
        "the five latest origins are kept"
    );

    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"authAlert": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    login("agent-seven").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(mail_to(&email, 5).await.len(), 5, "alerts are off");
}
