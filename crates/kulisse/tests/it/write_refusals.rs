//! No write is dropped silently: what kulisse cannot store is refused with a 400, and what
//! PocketBase stores differently (password hashes) is stored like PocketBase does.
//! Expected bodies are PocketBase 0.40.6's, recorded against the real server.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

async fn collection(srv: &TestServer, su: &str, name: &str, fields: Value) {
    let rules = json!({"name": name, "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "fields": fields});
    let (s, body) = srv
        .send("POST", "/api/collections", Some(su), Some(rules))
        .await;
    assert_eq!(s, 200, "{body}");
}

async fn an_unselected_file_input_is_no_upload() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collection(
        &srv,
        &su,
        "docs",
        json!([{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "maxSelect": 1}]),
    )
    .await;
    // A form's unselected file input (an empty part without a name) is no upload.
    let form = reqwest::multipart::Form::new()
        .text("title", "no file")
        .part(
            "doc",
            reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
        );
    let (s, created) = srv
        .send_multipart(reqwest::Method::POST, "/api/collections/docs/records", form)
        .await;
    assert_eq!((s, &created["doc"]), (200, &json!("")), "{created}");
}

async fn password_fields_of_base_collections_store_a_bcrypt_hash() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collection(
        &srv,
        &su,
        "secrets",
        json!([{"name": "label", "type": "text"}, {"name": "pw", "type": "password"}]),
    )
    .await;
    let create = |body: Value| {
        let srv = &srv;
        async move {
            srv.send("POST", "/api/collections/secrets/records", None, Some(body))
                .await
        }
    };
    let (s, one) = create(json!({"label": "one", "pw": "hunter22"})).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["pw"], "", "never shown");
    // PB compat: min 0 still means at least one character, and no confirmation field.
    let (s, two) = create(json!({"label": "two", "pw": "abc", "pwConfirm": "nope"})).await;
    assert_eq!(s, 200, "{two}");
    let (s, _) = create(json!({"label": "three"})).await;
    assert_eq!(s, 200);
    let labels = |filter: &'static str| {
        let srv = &srv;
        let su = su.clone();
        async move {
            let path = format!(
                "/api/collections/secrets/records?sort=label&filter={}",
                urlencoding(filter)
            );
            let (s, list) = srv.send("GET", &path, Some(&su), None).await;
            assert_eq!(s, 200, "{list}");
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["label"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        labels("pw ~ '$2_$10$%'").await,
        ["one", "two"],
        "bcrypt hashes"
    );
    assert!(
        labels("pw = 'hunter22'").await.is_empty(),
        "never the plain text"
    );
    // A new password replaces the hash; an empty one clears it.
    let one_path = format!(
        "/api/collections/secrets/records/{}",
        one["id"].as_str().unwrap()
    );
    let (s, body) = srv
        .send("PATCH", &one_path, None, Some(json!({"pw": ""})))
        .await;
    assert_eq!((s, &body["pw"]), (200, &json!("")));
    assert_eq!(labels("pw != ''").await, ["two"]);
    let (s, _) = srv
        .send("PATCH", &one_path, None, Some(json!({"pw": "newpass123"})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(labels("pw != ''").await, ["one", "two"]);
    // The field's options are checked on the plain text.
    collection(
        &srv,
        &su,
        "vault",
        json!([{"name": "pin", "type": "password", "required": true, "min": 10, "pattern": "^[0-9]+$"}]),
    )
    .await;
    let vault = |body: Value| {
        let srv = &srv;
        async move {
            srv.send("POST", "/api/collections/vault/records", None, Some(body))
                .await
        }
    };
    let err = |code: &str, message: &str| json!({"data": {"pin": {"code": code, "message": message}}, "message": "Failed to create record.", "status": 400});
    assert_eq!(
        vault(json!({})).await,
        (400, err("validation_required", "Cannot be blank."))
    );
    assert_eq!(
        vault(json!({"pin": "12345"})).await,
        (
            400,
            err(
                "validation_min_text_constraint",
                "Must be at least 10 character(s)."
            )
        )
    );
    assert_eq!(
        vault(json!({"pin": "abcdefghijk"})).await,
        (
            400,
            err("validation_invalid_format", "Invalid value format.")
        )
    );
    assert_eq!(vault(json!({"pin": "12345678901"})).await.0, 200);
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn numbers_that_are_not_finite_are_refused() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collection(&srv, &su, "nums", json!([{"name": "n", "type": "number"}])).await;
    let nan = |message: &str| json!({"data": {"n": {"code": "validation_not_a_number", "message": "The submitted number is not properly formatted."}}, "message": message, "status": 400});
    for input in ["NaN", "Infinity", "-Infinity", "inf", "nan"] {
        assert_eq!(
            srv.send(
                "POST",
                "/api/collections/nums/records",
                None,
                Some(json!({ "n": input }))
            )
            .await,
            (400, nan("Failed to create record.")),
            "{input}"
        );
    }
    let form = reqwest::multipart::Form::new().text("n", "NaN");
    assert_eq!(
        srv.send_multipart(reqwest::Method::POST, "/api/collections/nums/records", form)
            .await,
        (400, nan("Failed to create record."))
    );
    // Unreadable input that is not NaN or infinity stays PocketBase's 0.
    for (input, stored) in [
        (json!("1e309"), json!(0)),
        (json!("abc"), json!(0)),
        (json!("1.79e308"), json!(1.79e308)),
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/nums/records",
                None,
                Some(json!({ "n": input })),
            )
            .await;
        assert_eq!((s, &body["n"]), (200, &stored), "{input}");
    }
    let (s, big) = srv
        .send(
            "POST",
            "/api/collections/nums/records",
            None,
            Some(json!({"n": 1.79e308})),
        )
        .await;
    assert_eq!(s, 200);
    let path = format!(
        "/api/collections/nums/records/{}",
        big["id"].as_str().unwrap()
    );
    let patch = |body: Value| {
        let srv = &srv;
        let path = path.clone();
        async move { srv.send("PATCH", &path, None, Some(body)).await }
    };
    let refused = (400, nan("Failed to update record."));
    assert_eq!(patch(json!({"n+": 1.79e308})).await, refused, "overflow");
    assert_eq!(patch(json!({"n+": "NaN"})).await, refused);
    assert_eq!(patch(json!({"n+": "Infinity"})).await, refused);
    let (_, after) = srv.send("GET", &path, None, None).await;
    assert_eq!(after["n"], json!(1.79e308), "unchanged");
    let (s, body) = patch(json!({"n": -1.79e308})).await;
    assert_eq!((s, &body["n"]), (200, &json!(-1.79e308)));
    assert_eq!(patch(json!({"n-": 1.79e308})).await, refused);
    let (s, body) = patch(json!({"n+": "abc"})).await;
    assert_eq!((s, &body["n"]), (200, &json!(-1.79e308)), "abc adds 0");
    let (s, body) = patch(json!({"n": 8e307})).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = patch(json!({"n+": 8e307})).await;
    assert_eq!((s, &body["n"]), (200, &json!(1.6e308)));
    assert_eq!(patch(json!({"n+": 8e307})).await, refused);
}

kulisse_testkit::engine_tests!(
    an_unselected_file_input_is_no_upload,
    password_fields_of_base_collections_store_a_bcrypt_hash,
    numbers_that_are_not_finite_are_refused,
);
