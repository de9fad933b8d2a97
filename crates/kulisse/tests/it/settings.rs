//! `/api/settings` as typed settings serve it: the same JSON as the untyped document
//! served before, stored documents of that code read back unchanged, and wrong input
//! refused with PocketBase's shapes.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

/// `GET /api/settings` of a new data dir, byte for byte as the untyped settings answered.
/// PocketBase's defaults, but for `rateLimits`: kulisse's are on, for the auth endpoints.
const DEFAULT_VIEW: &str = r##"{"backups":{"cron":"","cronMaxKeep":3,"s3":{"accessKey":"","bucket":"","enabled":false,"endpoint":"","forcePathStyle":false,"region":""}},"batch":{"enabled":false,"maxBodySize":0,"maxRequests":50,"timeout":3},"logs":{"logAuthId":false,"logIP":true,"maxDataSize":0,"maxDays":5,"minLevel":0},"meta":{"accentColor":"#1055c9","appName":"Acme","appURL":"http://localhost:8090","hideControls":false,"senderAddress":"support@example.com","senderName":"Support"},"rateLimits":{"enabled":true,"excludedIPs":[],"rules":[{"audience":"","duration":60,"label":"*:auth","maxRequests":20},{"audience":"","duration":60,"label":"*:requestOTP","maxRequests":5},{"audience":"","duration":60,"label":"*:requestVerification","maxRequests":5},{"audience":"","duration":60,"label":"*:requestPasswordReset","maxRequests":5},{"audience":"","duration":60,"label":"*:requestEmailChange","maxRequests":5},{"audience":"","duration":60,"label":"*:confirmVerification","maxRequests":10},{"audience":"","duration":60,"label":"*:confirmPasswordReset","maxRequests":10},{"audience":"","duration":60,"label":"*:confirmEmailChange","maxRequests":10}]},"s3":{"accessKey":"","bucket":"","enabled":false,"endpoint":"","forcePathStyle":false,"region":""},"smtp":{"authMethod":"","enabled":false,"host":"smtp.example.com","localName":"","port":587,"tls":false,"username":""},"superuserIPs":[],"trustedProxy":{"headers":[],"useLeftmostIP":false}}"##;

/// A document with every key set away from its default, secrets included, as the untyped
/// settings stored it after a PATCH.
fn full_document() -> Value {
    let s3 = |name: &str| json!({"enabled": true, "bucket": format!("{name}-bucket"), "region": "eu-1", "endpoint": "https://s3.example.com", "accessKey": format!("{name}-key"), "secret": format!("{name}-secret"), "forcePathStyle": true});
    json!({
        "smtp": {"enabled": true, "port": 2525, "host": "mail.example.com", "username": "mailer", "password": "smtp-password", "authMethod": "LOGIN", "tls": true, "localName": "kulisse.local"},
        "backups": {"cron": "0 3 * * *", "cronMaxKeep": 7, "s3": s3("backups")},
        "s3": s3("files"),
        "meta": {"appName": "Shop <&> \"quoted\"", "appURL": "https://shop.example.com", "senderName": "Shop", "senderAddress": "shop@example.com", "hideControls": true, "accentColor": "#ff0000"},
        "rateLimits": {"rules": [{"label": "posts:create", "audience": "@auth", "duration": 60, "maxRequests": 10}], "excludedIPs": ["10.0.0.0/8"], "enabled": false},
        "trustedProxy": {"headers": ["X-Real-IP", "X-Forwarded-For"], "useLeftmostIP": true},
        "batch": {"enabled": true, "maxRequests": 20, "timeout": 9, "maxBodySize": 1048576},
        "logs": {"maxDataSize": 4096, "maxDays": 30, "minLevel": -4, "logIP": false, "logAuthId": true},
        "superuserIPs": ["127.0.0.0/8", "::1"]
    })
}

/// `doc` as the untyped settings served it: without its secrets.
fn served(doc: &Value) -> String {
    let mut view = doc.clone();
    for pointer in ["/smtp", "/s3", "/backups/s3"] {
        let section = view.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        section.remove("password");
        section.remove("secret");
    }
    view.to_string()
}

/// The raw body of `GET /api/settings`.
async fn get_text(srv: &TestServer, token: &str) -> String {
    let res = srv
        .client
        .get(srv.url("/api/settings"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn a_new_data_dir_serves_the_same_default_settings_as_before() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    assert_eq!(get_text(&srv, &su).await, DEFAULT_VIEW);
}

async fn settings_stored_by_the_untyped_code_read_back_identically() {
    let doc = full_document();
    let srv = TestServer::start_seeded(&[("settings", doc.clone())]).await;
    let su = srv.superuser_token().await;
    assert_eq!(get_text(&srv, &su).await, served(&doc));
    // They are in force, not only served: batch is on with its stored limit.
    let requests = vec![json!({"method": "GET", "url": "/api/health"}); 21];
    let (s, body) = srv
        .send(
            "POST",
            "/api/batch",
            None,
            Some(json!({"requests": requests})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["data"]["requests"]["params"]["max"], 20, "{body}");
}

async fn a_stored_document_with_unknown_or_broken_keys_still_loads() {
    let mut doc = full_document();
    doc["meta"]["removedOption"] = json!(true);
    doc["someOldSection"] = json!({"x": 1});
    doc["smtp"]["port"] = json!("not a number");
    let srv = TestServer::start_seeded(&[("settings", doc)]).await;
    let su = srv.superuser_token().await;
    let (s, body) = srv.send("GET", "/api/settings", Some(&su), None).await;
    assert_eq!(s, 200);
    assert!(body["meta"].get("removedOption").is_none(), "{body}");
    assert!(body.get("someOldSection").is_none(), "{body}");
    assert_eq!(
        body["smtp"]["port"], 587,
        "a broken value reads as its default"
    );
    assert_eq!(body["smtp"]["host"], "mail.example.com", "the rest is kept");
    assert_eq!(body["meta"]["appName"], full_document()["meta"]["appName"]);
}

async fn a_full_document_patched_in_reads_back_identically_without_secrets() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let doc = full_document();
    let res = srv
        .client
        .patch(srv.url("/api/settings"))
        .header("Authorization", &su)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), served(&doc));
    assert_eq!(get_text(&srv, &su).await, served(&doc));
    // A later partial PATCH keeps everything else.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"meta": {"appName": "Renamed"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut expected = doc.clone();
    expected["meta"]["appName"] = json!("Renamed");
    assert_eq!(body.to_string(), served(&expected));
}

async fn unknown_keys_are_ignored_and_wrong_types_fail_to_load() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"unknown": 1, "meta": {"appName": "Named", "unknownToo": 2}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["meta"]["appName"], "Named");
    assert!(body.get("unknown").is_none() && body["meta"].get("unknownToo").is_none());
    let load_failed = (
        400,
        json!({"data": {}, "message": "An error occurred while loading the submitted data.", "status": 400}),
    );
    for wrong in [
        json!({"meta": {"appName": ["not", "a", "string"]}}),
        json!({"smtp": {"port": "587"}}),
        json!({"batch": {"timeout": 1.5}}),
        json!({"trustedProxy": {"headers": "X-Real-IP"}}),
    ] {
        assert_eq!(
            srv.send("PATCH", "/api/settings", Some(&su), Some(wrong.clone()))
                .await,
            load_failed,
            "{wrong}"
        );
    }
    let (_, body) = srv.send("GET", "/api/settings", Some(&su), None).await;
    assert_eq!(body["smtp"]["port"], 587, "nothing was stored");
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"meta": {"appName": ""}, "batch": {"maxRequests": -1}})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        json!({"data": {
            "batch": {"maxRequests": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}},
            "meta": {"appName": {"code": "validation_required", "message": "Cannot be blank."}}
        }, "message": "An error occurred while saving the new settings.", "status": 400})
    );
}

kulisse_testkit::engine_tests!(
    a_new_data_dir_serves_the_same_default_settings_as_before,
    settings_stored_by_the_untyped_code_read_back_identically,
    a_stored_document_with_unknown_or_broken_keys_still_loads,
    a_full_document_patched_in_reads_back_identically_without_secrets,
    unknown_keys_are_ignored_and_wrong_types_fail_to_load,
);
