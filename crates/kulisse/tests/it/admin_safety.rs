//! Superuser mistakes that must not open or wipe the app: system collections keep their
//! rules, names and fields, the last superuser stays, an empty import drops nothing.
//! Expected bodies are PocketBase 0.40.6's, recorded against the real server.

use serde_json::{Value, json};

use crate::server::TestServer;

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

crate::engine_tests!(
    system_collection_rules_names_and_fields_cannot_be_changed,
    the_last_superuser_cannot_be_deleted_or_truncated_away,
    an_empty_import_is_refused_and_deletes_nothing,
);
