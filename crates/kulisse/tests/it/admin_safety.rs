//! Superuser mistakes that must not open or wipe the app: system collections keep their
//! rules, names and fields, the last superuser stays, an empty import drops nothing.
//! Expected bodies are PocketBase 0.40.6's, recorded against the real server.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

const RULE_CHANGE: &str = "System collection API rule cannot be changed.";

fn rule_change(keys: &[&str]) -> Value {
    let data: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| {
            (
                (*k).to_owned(),
                json!({"code": "validation_collection_system_rule_change", "message": RULE_CHANGE}),
            )
        })
        .collect();
    json!({"data": data, "message": "Failed to update collection.", "status": 400})
}

async fn superusers(srv: &TestServer, su: &str) -> Value {
    let (s, c) = srv
        .send("GET", "/api/collections/_superusers", Some(su), None)
        .await;
    assert_eq!(s, 200);
    c
}

async fn system_collection_rules_names_and_fields_cannot_be_changed() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let patch = |body: Value| {
        let su = su.clone();
        let srv = &srv;
        async move {
            srv.send(
                "PATCH",
                "/api/collections/_superusers",
                Some(&su),
                Some(body),
            )
            .await
        }
    };
    // The hole: a public create rule let guests create superusers.
    assert_eq!(
        patch(json!({"createRule": ""})).await,
        (400, rule_change(&["createRule"]))
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/_superusers/records",
            None,
            Some(json!({"email": "evil@example.com", "password": "12345678", "passwordConfirm": "12345678"})),
        )
        .await;
    assert_eq!(s, 403, "guests still cannot create superusers");
    assert_eq!(
        patch(json!({"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}))
            .await,
        (
            400,
            rule_change(&["createRule", "deleteRule", "listRule", "updateRule", "viewRule"])
        )
    );
    assert_eq!(
        patch(json!({"authRule": "verified = true"})).await,
        (400, rule_change(&["authRule"]))
    );
    assert_eq!(
        patch(json!({"manageRule": "id != ''"})).await,
        (400, rule_change(&["manageRule"]))
    );
    assert_eq!(
        patch(json!({"manageRule": ""})).await,
        (
            400,
            json!({"data": {"manageRule": {"code": "validation_nil_or_not_empty_required", "message": "Cannot be blank."}}, "message": "Failed to update collection.", "status": 400})
        )
    );
    // Sending the unchanged values is fine.
    let (s, body) = patch(json!({"listRule": null, "authRule": ""})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        patch(json!({"name": "x"})).await,
        (
            400,
            json!({"data": {"name": {"code": "validation_collection_system_name_change", "message": "System collection name cannot be changed."}}, "message": "Failed to update collection.", "status": 400})
        )
    );
    let field_change = json!({"data": {"fields": {"code": "validation_system_field_change", "message": "System fields cannot be deleted or renamed."}}, "message": "Failed to update collection.", "status": 400});
    let fields = superusers(&srv, &su).await["fields"].clone();
    let renamed: Vec<Value> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f["name"] == "tokenKey" {
                f["name"] = json!("tk");
            }
            f
        })
        .collect();
    assert_eq!(
        patch(json!({"fields": renamed})).await,
        (400, field_change.clone())
    );
    let replaced: Vec<Value> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            if f["name"] == "email" {
                json!({"id": "newid123", "name": "email", "type": "text", "system": true})
            } else {
                f.clone()
            }
        })
        .collect();
    assert_eq!(
        patch(json!({"fields": replaced})).await,
        (400, field_change.clone())
    );
    let without_created: Vec<Value> = fields
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "created")
        .cloned()
        .collect();
    assert_eq!(
        patch(json!({"fields": without_created})).await,
        (400, field_change)
    );
    // An auth collection's own fields come back when left out (PocketBase re-adds them).
    let (_, users) = srv
        .send("GET", "/api/collections/users", Some(&su), None)
        .await;
    let without_email: Vec<Value> = users["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "email")
        .cloned()
        .collect();
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"fields": without_email})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "email")
    );
    // Nothing changed.
    let after = superusers(&srv, &su).await;
    assert_eq!(after["createRule"], Value::Null);
    assert_eq!(after["listRule"], Value::Null);
    assert_eq!(after["manageRule"], Value::Null);
    assert_eq!(after["authRule"], "");
    assert_eq!(after["fields"], fields);
}

async fn the_last_superuser_cannot_be_deleted_or_truncated_away() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "DELETE",
            "/api/collections/_superusers/truncate",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"data": {}, "message": "Failed to truncate collection (most likely due to required cascade delete record references).", "status": 400})
        )
    );
    let (_, list) = srv
        .send(
            "GET",
            "/api/collections/_superusers/records",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(list["totalItems"], 1, "truncate left the superuser");
    let only = list["items"][0]["id"].as_str().unwrap().to_owned();
    let only_one = json!({"data": {}, "message": "You can't delete the only existing superuser.", "status": 400});
    let path = format!("/api/collections/_superusers/records/{only}");
    assert_eq!(
        srv.send("DELETE", &path, Some(&su), None).await,
        (400, only_one.clone())
    );
    // With a second one, either can go, but never both.
    let (s, second) = srv
        .send(
            "POST",
            "/api/collections/_superusers/records",
            Some(&su),
            Some(json!({"email": "admin2@example.com", "password": "1234567890", "passwordConfirm": "1234567890"})),
        )
        .await;
    assert_eq!(s, 200, "{second}");
    let second_path = format!(
        "/api/collections/_superusers/records/{}",
        second["id"].as_str().unwrap()
    );
    assert_eq!(srv.send("DELETE", &path, Some(&su), None).await.0, 204);
    let su2 = srv
        .login("_superusers", "admin2@example.com", "1234567890")
        .await;
    assert_eq!(
        srv.send("DELETE", &second_path, Some(&su2), None).await,
        (400, only_one)
    );
}

async fn an_empty_import_is_refused_and_deletes_nothing() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "notes", "createRule": "", "fields": [{"name": "text", "type": "text"}]})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/notes/records",
            None,
            Some(json!({"text": "keep me"})),
        )
        .await;
    assert_eq!(s, 200);
    let blank = json!({"data": {"collections": {"code": "validation_required", "message": "Cannot be blank."}}, "message": "An error occurred while validating the submitted data.", "status": 400});
    for body in [
        json!({"collections": [], "deleteMissing": true}),
        json!({"collections": []}),
        json!({}),
    ] {
        assert_eq!(
            srv.send("PUT", "/api/collections/import", Some(&su), Some(body))
                .await,
            (400, blank.clone())
        );
    }
    let (_, list) = srv
        .send("GET", "/api/collections/notes/records", Some(&su), None)
        .await;
    assert_eq!(list["totalItems"], 1, "the data survived");
    // An import goes through the same system collection checks as a PATCH.
    let mut changed = superusers(&srv, &su).await;
    changed["listRule"] = json!("");
    let (s, body) = srv
        .send(
            "PUT",
            "/api/collections/import",
            Some(&su),
            Some(json!({"collections": [changed]})),
        )
        .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"data": {"collections": {"code": "validation_collections_import_failure", "message": "Data validations failed for collection \"_superusers\" (pbc_3142635823):\n{\n  \"listRule\": \"System collection API rule cannot be changed.\"\n}."}}, "message": "Failed to import collections.", "status": 400})
        )
    );
    assert_eq!(superusers(&srv, &su).await["listRule"], Value::Null);
}

kulisse_testkit::engine_tests!(
    system_collection_rules_names_and_fields_cannot_be_changed,
    the_last_superuser_cannot_be_deleted_or_truncated_away,
    an_empty_import_is_refused_and_deletes_nothing,
);

/// GET with a token and extra headers.
async fn get_with(
    srv: &TestServer,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = srv.client.get(srv.url(path)).header("Authorization", token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn superuser_ips_are_validated_and_enforced() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let patch = |body: Value| {
        let su = su.clone();
        let srv = &srv;
        async move {
            srv.send("PATCH", "/api/settings", Some(&su), Some(body))
                .await
        }
    };
    let invalid =
        json!({"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."});
    assert_eq!(
        patch(json!({"superuserIPs": ["not-an-ip"]})).await,
        (
            400,
            json!({"data": {"superuserIPs": {"0": invalid}}, "message": "An error occurred while saving the new settings.", "status": 400})
        )
    );
    assert_eq!(
        patch(json!({"superuserIPs": ["127.0.0.1", "bad", "10.0.0.0/33"]}))
            .await
            .1["data"],
        json!({"superuserIPs": {"1": invalid, "2": invalid}})
    );
    assert_eq!(
        patch(json!({"superuserIPs": [" 127.0.0.1", ""]})).await.1["data"],
        json!({"superuserIPs": {"0": invalid, "1": {"code": "validation_required", "message": "Cannot be blank."}}})
    );
    assert_eq!(
        patch(json!({"rateLimits": {"excludedIPs": ["nope"]}}))
            .await
            .1["data"],
        json!({"rateLimits": {"excludedIPs": {"0": invalid}}})
    );
    assert_eq!(
        patch(json!({"superuserIPs": "127.0.0.1"})).await,
        (
            400,
            json!({"data": {}, "message": "An error occurred while loading the submitted data.", "status": 400})
        )
    );
    // Our own address (the tests connect from 127.0.0.1) keeps working.
    let (s, body) = patch(json!({"superuserIPs": ["127.0.0.0/8", "::1"]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["superuserIPs"], json!(["127.0.0.0/8", "::1"]));
    assert_eq!(get_with(&srv, "/api/settings", &su, &[]).await.0, 200);
    // Any other list locks superusers out from here, however they authenticate.
    let (s, body) = patch(json!({"superuserIPs": ["10.0.0.1"]})).await;
    assert_eq!(s, 200, "{body}");
    let refused = (
        403,
        json!({"data": {}, "message": "You are not allowed to perform this request.", "status": 403}),
    );
    for path in [
        "/api/settings",
        "/api/collections",
        "/api/collections/_superusers/records",
        "/api/collections/users/records",
        "/api/health",
    ] {
        assert_eq!(get_with(&srv, path, &su, &[]).await, refused, "{path}");
    }
    assert_eq!(
        srv.send(
            "POST",
            "/api/collections/_superusers/auth-refresh",
            Some(&su),
            None
        )
        .await,
        refused
    );
    let login = |password: &str| {
        let srv = &srv;
        let body = json!({"identity": kulisse_testkit::SUPERUSER_EMAIL, "password": password});
        async move {
            srv.send(
                "POST",
                "/api/collections/_superusers/auth-with-password",
                None,
                Some(body),
            )
            .await
        }
    };
    assert_eq!(login(kulisse_testkit::SUPERUSER_PASSWORD).await, refused);
    assert_eq!(
        login("wrongwrong").await,
        (
            400,
            json!({"data": {}, "message": "Failed to authenticate.", "status": 400})
        )
    );
    // A forwarded address counts only when trustedProxy names the header.
    let forwarded = [("X-Forwarded-For", "10.0.0.1")];
    assert_eq!(
        get_with(&srv, "/api/settings", &su, &forwarded).await,
        refused
    );
    // Guests and other records are not affected.
    let (s, _) = srv
        .send("GET", "/api/collections/users/records", None, None)
        .await;
    assert_eq!(s, 200);
    let (s, body) = srv.send("GET", "/api/health", None, None).await;
    assert_eq!((s, &body["data"]), (200, &json!({})));
}

async fn superuser_ips_follow_the_trusted_proxy_header() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"trustedProxy": {"headers": ["X-Forwarded-For"]}, "superuserIPs": ["10.0.0.0/8"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let via = |xff: &'static str| [("X-Forwarded-For", xff)];
    assert_eq!(get_with(&srv, "/api/settings", &su, &[]).await.0, 403);
    assert_eq!(
        get_with(&srv, "/api/settings", &su, &via("10.1.2.3"))
            .await
            .0,
        200
    );
    // The proxy appends the client it saw: the rightmost valid address counts.
    assert_eq!(
        get_with(&srv, "/api/settings", &su, &via("10.1.2.3, 192.168.0.9"))
            .await
            .0,
        403
    );
    assert_eq!(
        get_with(&srv, "/api/settings", &su, &via("192.168.0.9, 10.1.2.3"))
            .await
            .0,
        200
    );
    // Emptying the list (null) opens access again.
    let mut req = srv
        .client
        .patch(srv.url("/api/settings"))
        .header("Authorization", &su)
        .header("X-Forwarded-For", "10.0.0.7");
    req = req.json(&json!({"superuserIPs": null}));
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["superuserIPs"],
        json!([])
    );
    assert_eq!(get_with(&srv, "/api/settings", &su, &[]).await.0, 200);
}

kulisse_testkit::engine_tests!(
    superuser_ips_are_validated_and_enforced,
    superuser_ips_follow_the_trusted_proxy_header,
);
