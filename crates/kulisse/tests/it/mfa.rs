//! Multi-factor authentication (issue #16, spec §5.6): the first method answers PocketBase's
//! bare 401 `{"mfaId"}`, a different second method with that id signs in once, the
//! collection's rule picks who needs it, and the options are checked as PocketBase checks
//! them.

use kulisse_testkit::{TestServer, engine_tests};
use serde_json::{Value, json};

use crate::otp::{mailed_code, otp_server, request_otp};

engine_tests!(
    a_first_method_opens_a_session_a_different_second_one_signs_in_once,
    the_mfa_rule_picks_the_records_that_need_a_second_factor,
    mfa_and_otp_options_are_checked_like_pocketbase,
    codes_and_mfa_sessions_expire_after_their_duration,
);

async fn password(srv: &TestServer, email: &str, mfa_id: Option<&str>) -> (u16, Value) {
    let mut body = json!({"identity": email, "password": "pass-word"});
    if let Some(id) = mfa_id {
        body["mfaId"] = json!(id);
    }
    srv.send(
        "POST",
        "/api/collections/users/auth-with-password",
        None,
        Some(body),
    )
    .await
}

async fn enable_mfa(srv: &TestServer, mfa: Value) {
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({ "mfa": mfa })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// The `mfaId` of a first factor's answer, which must be PocketBase's bare 401.
fn mfa_id_of((status, body): (u16, Value)) -> String {
    assert_eq!(status, 401, "{body}");
    let id = body["mfaId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        body,
        json!({ "mfaId": id }),
        "only the id, no status or message"
    );
    assert_eq!(id.len(), 15);
    id
}

async fn a_first_method_opens_a_session_a_different_second_one_signs_in_once() {
    let Some((srv, email, id)) = otp_server("mfa").await else {
        return;
    };
    enable_mfa(&srv, json!({"enabled": true})).await;
    let mfa_id = mfa_id_of(password(&srv, &email, None).await);

    assert_eq!(
        password(&srv, &email, Some(&mfa_id)).await,
        (
            400,
            json!({"data": {}, "message": "A different authentication method is required.", "status": 400})
        )
    );
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 1).await;
    let (s, auth) = srv
        .send(
            "POST",
            &format!("/api/collections/users/auth-with-otp?mfaId={mfa_id}"),
            None,
            Some(json!({"otpId": otp_id, "password": code})),
        )
        .await;
    assert_eq!(s, 200, "the mfaId from the query: {auth}");
    assert_eq!(auth["record"]["id"], json!(id));
    assert!(auth["token"].as_str().is_some_and(|t| !t.is_empty()));

    let invalid = json!({"data": {}, "message": "Invalid or expired MFA session.", "status": 400});
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 2).await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-otp",
            None,
            Some(json!({"otpId": otp_id, "password": code, "mfaId": mfa_id})),
        )
        .await;
    assert_eq!((s, body), (400, invalid.clone()), "a session is used up");
    // NOTE: the code was right, so it is used up too; the next check needs a new one.

    // Another record's session.
    let su = srv.superuser_token().await;
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/records",
            Some(&su),
            Some(json!({"email": "other@example.com", "password": "pass-word", "passwordConfirm": "pass-word"})),
        )
        .await;
    assert_eq!(s, 200);
    let others = mfa_id_of(password(&srv, "other@example.com", None).await);
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 3).await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-otp",
            None,
            Some(json!({"otpId": otp_id, "password": code, "mfaId": others})),
        )
        .await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Invalid MFA session.")),
        "{body}"
    );
    assert_eq!(
        password(&srv, &email, Some("nosuchsession00")).await,
        (400, invalid)
    );
}

async fn the_mfa_rule_picks_the_records_that_need_a_second_factor() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"fields": [{"name": "role", "type": "text"}],
                "otp": {"enabled": true},
                "mfa": {"enabled": true, "rule": "role = 'admin'"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for (email, role) in [
        ("admin@example.com", "admin"),
        ("member@example.com", "member"),
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(
                    json!({"email": email, "role": role, "password": "pass-word",
                    "passwordConfirm": "pass-word"}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    mfa_id_of(password(&srv, "admin@example.com", None).await);
    let (s, body) = password(&srv, "member@example.com", None).await;
    assert_eq!(s, 200, "the rule spares a member: {body}");
    let (s, methods) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(
        (s, &methods["mfa"]),
        (200, &json!({"enabled": true, "duration": 600}))
    );
}

async fn mfa_and_otp_options_are_checked_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let patch = |body: Value| {
        let su = su.clone();
        let srv = &srv;
        async move {
            srv.send("PATCH", "/api/collections/users", Some(&su), Some(body))
                .await
        }
    };
    let (s, body) = patch(json!({"mfa": {"enabled": true}})).await;
    assert_eq!(s, 400);
    assert_eq!(
        body["data"],
        json!({"mfa": {"enabled": {"code": "validation_mfa_not_enough_auths",
            "message": "MFA requires at least 2 auth methods to be enabled."}}})
    );
    let (s, body) = patch(json!({"mfa": {"enabled": true, "rule": "nosuchfield = 1"},
        "otp": {"enabled": true}}))
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        body["data"]["mfa"]["rule"]["code"], "validation_invalid_rule",
        "{body}"
    );
    let (s, body) = patch(json!({"otp": {"enabled": true, "duration": 1, "length": 1},
        "mfa": {"enabled": true, "duration": 99_999_999}}))
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        body["data"],
        json!({
            "otp": {
                "duration": {"code": "validation_min_greater_equal_than_required",
                    "message": "Must be no less than 10.", "params": {"threshold": 10}},
                "length": {"code": "validation_min_greater_equal_than_required",
                    "message": "Must be no less than 4.", "params": {"threshold": 4}}},
            "mfa": {
                "duration": {"code": "validation_max_less_equal_than_required",
                    "message": "Must be no greater than 86400.", "params": {"threshold": 86400}}}
        })
    );
    let (s, body) = patch(json!({"otp": {"enabled": true, "duration": 0, "length": 0}})).await;
    assert_eq!(s, 400);
    for key in ["duration", "length"] {
        assert_eq!(
            body["data"]["otp"][key]["code"], "validation_required",
            "{body}"
        );
    }
    let (s, body) = patch(json!({"otp": {"enabled": true, "length": 73}})).await;
    assert_eq!(
        (s, &body["data"]["otp"]["length"]["code"]),
        (400, &json!("validation_max_less_equal_than_required")),
        "bcrypt compares only 72 digits: {body}"
    );
    let (s, body) = patch(json!({"otp": {"enabled": true, "duration": "x"}})).await;
    assert_eq!(
        (s, &body["message"]),
        (
            400,
            &json!("Failed to load the submitted data due to invalid formatting.")
        )
    );
    let (s, body) = patch(json!({"otp": {"enabled": false, "duration": -1}})).await;
    assert_eq!(
        s, 200,
        "a disabled method's options are not checked: {body}"
    );
}

async fn codes_and_mfa_sessions_expire_after_their_duration() {
    let Some((srv, email, _)) = otp_server("expiry").await else {
        return;
    };
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"otp": {"duration": 10}, "mfa": {"enabled": true, "duration": 10}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mfa_id = mfa_id_of(password(&srv, &email, None).await);
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(10_500)).await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-otp",
            None,
            Some(json!({"otpId": otp_id, "password": code})),
        )
        .await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Invalid or expired OTP.")),
        "{body}"
    );
    let (s, body) = password(&srv, &email, Some(&mfa_id)).await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Invalid or expired MFA session.")),
        "{body}"
    );
}
