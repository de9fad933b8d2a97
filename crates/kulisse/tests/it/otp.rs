//! One-time passwords (issue #16, spec §5.5): codes mailed through a real SMTP sink,
//! redeemed once (also by 50 requests at once), attempts capped per record, PocketBase's
//! answers for everything else.

use futures::future::join_all;
use kulisse_testkit::{TestServer, engine_tests, mail_to, smtp_settings};
use serde_json::{Value, json};

engine_tests!(
    a_mailed_code_signs_in_once_and_verifies_the_address,
    fifty_requests_redeeming_one_code_sign_in_once,
    attempts_past_five_per_record_are_refused_until_the_window_closes,
    otp_answers_pocketbases_errors_and_hides_who_has_an_account,
);

/// A server mailing through the test sink, with OTP on for `users` (6-digit codes), and an
/// unverified user; `None` without a sink.
pub(crate) async fn otp_server(tag: &str) -> Option<(TestServer, String, String)> {
    let Some(smtp) = smtp_settings() else {
        eprintln!("skipped: KULISSE_TEST_SMTP is not set");
        return None;
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
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"otp": {"enabled": true, "length": 6}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let email = srv.unique_email(tag);
    let user = srv.create_user(&email, "pass-word").await;
    let id = user["id"].as_str().unwrap().to_owned();
    Some((srv, email, id))
}

/// Asks for a code for `email`: its `otpId`.
pub(crate) async fn request_otp(srv: &TestServer, email: &str) -> String {
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/request-otp",
            None,
            Some(json!({ "email": email })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body["otpId"].as_str().unwrap().to_owned()
}

/// The code in the `n`th mail to `email` (the default template's `<strong>{OTP}</strong>`).
pub(crate) async fn mailed_code(email: &str, n: usize) -> String {
    let mails = mail_to(email, n).await;
    assert_eq!(mails.len(), n, "{mails:?}");
    let body = &mails[n - 1].body;
    let start = body.find("<strong>").unwrap() + "<strong>".len();
    body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

async fn with_otp(srv: &TestServer, otp_id: &str, code: &str) -> (u16, Value) {
    srv.send(
        "POST",
        "/api/collections/users/auth-with-otp",
        None,
        Some(json!({"otpId": otp_id, "password": code})),
    )
    .await
}

async fn a_mailed_code_signs_in_once_and_verifies_the_address() {
    let Some((srv, email, id)) = otp_server("once").await else {
        return;
    };
    let otp_id = request_otp(&srv, &email).await;
    assert_eq!(otp_id.len(), 15);
    let code = mailed_code(&email, 1).await;
    assert_eq!(code.len(), 6, "the collection's length: {code}");
    let mails = mail_to(&email, 1).await;
    assert_eq!(mails[0].subject, "OTP for Acme");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, body) = with_otp(&srv, &otp_id, wrong).await;
    assert_eq!(
        (s, &body),
        (
            400,
            &json!({"data": {}, "message": "Invalid or expired OTP.", "status": 400})
        )
    );
    let (s, auth) = with_otp(&srv, &otp_id, &code).await;
    assert_eq!(s, 200, "{auth}");
    assert_eq!(auth["record"]["id"], json!(id));
    assert_eq!(
        auth["record"]["verified"],
        json!(true),
        "a code sent to the record's address verifies it"
    );
    let token = auth["token"].as_str().unwrap();
    let (s, own) = srv
        .send(
            "GET",
            &format!("/api/collections/users/records/{id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!((s, &own["verified"]), (200, &json!(true)), "{own}");

    let (s, body) = with_otp(&srv, &otp_id, &code).await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Invalid or expired OTP.")),
        "a code is used up"
    );
    let su = srv.superuser_token().await;
    let (s, list) = srv
        .send("GET", "/api/collections/_otps/records", Some(&su), None)
        .await;
    assert_eq!((s, &list["totalItems"]), (200, &json!(0)), "{list}");
}

async fn fifty_requests_redeeming_one_code_sign_in_once() {
    let Some((srv, email, _)) = otp_server("race").await else {
        return;
    };
    // 50 logins at once from one address: past the default login limit.
    srv.without_rate_limits().await;
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 1).await;
    let answers = join_all((0..50).map(|_| with_otp(&srv, &otp_id, &code))).await;
    let signed_in = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(signed_in, 1, "{answers:?}");
    for (s, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert!(
            (*s == 400 && body["message"] == "Invalid or expired OTP.")
                || (*s == 429
                    && body["message"]
                        == "Too many attempts, please try again later with a new OTP."),
            "{s} {body}"
        );
    }
}

async fn attempts_past_five_per_record_are_refused_until_the_window_closes() {
    let Some((srv, email, _)) = otp_server("attempts").await else {
        return;
    };
    let otp_id = request_otp(&srv, &email).await;
    let code = mailed_code(&email, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(with_otp(&srv, &otp_id, wrong).await.0, 400);
    }
    let too_many = json!({"data": {}, "message": "Too many attempts, please try again later with a new OTP.", "status": 429});
    assert_eq!(
        with_otp(&srv, &otp_id, &code).await,
        (429, too_many.clone()),
        "the right code too, past the cap"
    );
    let fresh = request_otp(&srv, &email).await;
    let fresh_code = mailed_code(&email, 2).await;
    assert_eq!(
        with_otp(&srv, &fresh, &fresh_code).await,
        (429, too_many),
        "the cap is the record's, not the code's"
    );
    let (s, _) = with_otp(&srv, "unknownotpid000", "123456").await;
    assert_eq!(s, 400, "unknown ids are no record's attempts");
}

async fn otp_answers_pocketbases_errors_and_hides_who_has_an_account() {
    let srv = TestServer::start().await;
    let post = |path: &str, body: Value| {
        let path = format!("/api/collections/users/{path}");
        let srv = &srv;
        async move { srv.send("POST", &path, None, Some(body)).await }
    };
    let disabled = json!({"data": {}, "message": "The collection is not configured to allow OTP authentication.", "status": 403});
    assert_eq!(
        post("request-otp", json!({"email": "a@example.com"})).await,
        (403, disabled.clone())
    );
    assert_eq!(
        post("auth-with-otp", json!({"otpId": "x", "password": "1"})).await,
        (403, disabled)
    );
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"otp": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    let (s, body) = post("request-otp", json!({})).await;
    assert_eq!(
        (s, &body["data"]["email"]["code"]),
        (400, &json!("validation_required"))
    );
    let (s, body) = post("request-otp", json!({"email": "bad"})).await;
    assert_eq!(
        (s, &body["data"]["email"]["code"]),
        (400, &json!("validation_is_email"))
    );
    let loading = json!({"data": {}, "message": "An error occurred while loading the submitted data.", "status": 400});
    assert_eq!(
        post("request-otp", json!({"email": 5})).await,
        (400, loading.clone())
    );
    assert_eq!(
        post("auth-with-otp", json!({"otpId": 5, "password": 5})).await,
        (400, loading)
    );
    let (s, nobody) = post("request-otp", json!({"email": "nobody@example.com"})).await;
    assert_eq!(s, 200, "{nobody}");
    let fake = nobody["otpId"].as_str().unwrap();
    assert!(
        fake.len() == 15 && fake.chars().all(|c| c.is_ascii_alphanumeric()),
        "an id like a real one: {fake}"
    );
    let (s, body) = post("auth-with-otp", json!({})).await;
    assert_eq!(s, 400);
    for key in ["otpId", "password"] {
        assert_eq!(body["data"][key]["code"], "validation_required", "{body}");
    }
    assert_eq!(
        post(
            "auth-with-otp",
            json!({"otpId": fake, "password": "12345678"})
        )
        .await,
        (
            400,
            json!({"data": {}, "message": "Invalid or expired OTP.", "status": 400})
        )
    );
    let (s, methods) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(
        (s, &methods["otp"]),
        (200, &json!({"enabled": true, "duration": 180}))
    );
}
