//! Batch transactions and expand, end to end.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

async fn authors_and_books(srv: &TestServer, su: &str) {
    let (s, authors) = srv
        .send("POST", "/api/collections", Some(su), Some(json!({"name": "authors", "listRule": "", "viewRule": "", "createRule": "", "fields": [{"name": "name", "type": "text", "required": true}]})))
        .await;
    assert_eq!(s, 200, "{authors}");
    let (s, books) = srv
        .send("POST", "/api/collections", Some(su), Some(json!({"name": "books", "listRule": "", "viewRule": "", "createRule": "", "fields": [
            {"name": "title", "type": "text"},
            {"name": "author", "type": "relation", "collectionId": authors["id"], "maxSelect": 1},
            {"name": "editors", "type": "relation", "collectionId": authors["id"], "maxSelect": 3}
        ]})))
        .await;
    assert_eq!(s, 200, "{books}");
}

async fn batch_runs_in_one_transaction() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    authors_and_books(&srv, &su).await;
    let batch = |requests: Value| {
        srv.send(
            "POST",
            "/api/batch",
            Some(&su),
            Some(json!({"requests": requests})),
        )
    };
    let (s, body) = batch(json!([{"method": "POST", "url": "/api/collections/authors/records", "body": {"name": "x"}}])).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (403, Some("Batch requests are not allowed."))
    );
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"batch": {"enabled": true, "maxRequests": 5}})),
        )
        .await;
    assert_eq!(s, 200);

    let (s, body) = batch(json!([
        {"method": "POST", "url": "/api/collections/authors/records", "body": {"id": "author000000001", "name": "Ann"}},
        {"method": "POST", "url": "/api/collections/books/records?expand=author", "body": {"title": "B1", "author": "author000000001"}},
        {"method": "PATCH", "url": "/api/collections/authors/records/author000000001?fields=name", "body": {"name": "Ann B."}},
        {"method": "PUT", "url": "/api/collections/authors/records", "body": {"id": "author000000002", "name": "Bo"}},
        {"method": "DELETE", "url": "/api/collections/authors/records/author000000002"}
    ]))
    .await;
    assert_eq!(s, 200, "{body}");
    // NOTE: sub-request responses are expanded after the commit, so they show the batch's
    // final state (PocketBase expands inside the transaction and would show "Ann").
    assert_eq!(
        body[1]["body"]["expand"]["author"]["name"], "Ann B.",
        "a later request sees an earlier one"
    );
    assert_eq!(body[2], json!({"body": {"name": "Ann B."}, "status": 200}));
    assert_eq!(body[4], json!({"body": null, "status": 204}));

    let (s, body) = batch(json!([
        {"method": "POST", "url": "/api/collections/authors/records", "body": {"id": "author000000003", "name": "Cy"}},
        {"method": "POST", "url": "/api/collections/authors/records", "body": {"name": ""}}
    ]))
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["message"], "Batch transaction failed.");
    assert_eq!(
        body["data"]["requests"]["1"]["code"],
        "batch_request_failed"
    );
    assert_eq!(
        body["data"]["requests"]["1"]["response"]["data"]["name"]["code"],
        "validation_required"
    );
    let (s, _) = srv
        .send(
            "GET",
            "/api/collections/authors/records/author000000003",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 404, "the failed batch rolled back its first create");

    let many: Vec<Value> = (0..6).map(|_| json!({"method": "POST", "url": "/api/collections/authors/records", "body": {"name": "n"}})).collect();
    let (s, body) = batch(Value::Array(many)).await;
    assert_eq!(s, 400);
    assert_eq!(
        body["data"]["requests"]["code"],
        "validation_length_too_long"
    );
}

async fn expand_embeds_visible_related_records() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    authors_and_books(&srv, &su).await;
    for (id, name) in [("author000000001", "Ann"), ("author000000002", "Bo")] {
        srv.send(
            "POST",
            "/api/collections/authors/records",
            Some(&su),
            Some(json!({"id": id, "name": name})),
        )
        .await;
    }
    let (s, book) = srv
        .send("POST", "/api/collections/books/records?expand=author,editors", None, Some(json!({"title": "T", "author": "author000000002", "editors": ["author000000002", "author000000001"]})))
        .await;
    assert_eq!(s, 200, "{book}");
    assert_eq!(book["expand"]["author"]["name"], "Bo");
    let editors: Vec<&str> = book["expand"]["editors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(editors, ["Bo", "Ann"], "stored order");
    let id = book["id"].as_str().unwrap();

    let (_, viewed) = srv
        .send(
            "GET",
            &format!("/api/collections/books/records/{id}?expand=nope,title"),
            None,
            None,
        )
        .await;
    assert!(
        viewed.get("expand").is_none(),
        "invalid paths leave no expand key"
    );
    let (_, list) = srv
        .send(
            "GET",
            "/api/collections/authors/records?expand=books_via_author&sort=name",
            None,
            None,
        )
        .await;
    assert_eq!(
        list["items"][1]["expand"]["books_via_author"][0]["title"],
        "T"
    );
    assert_eq!(
        list["items"][0]["expand"],
        json!({}),
        "valid path, nothing related"
    );

    let (s, _) = srv
        .send(
            "PATCH",
            "/api/collections/authors",
            Some(&su),
            Some(json!({"viewRule": null})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, hidden) = srv
        .send(
            "GET",
            &format!("/api/collections/books/records/{id}?expand=author"),
            None,
            None,
        )
        .await;
    assert!(
        hidden.get("expand").is_none(),
        "a null view rule makes the path invalid for guests"
    );
    let (_, shown) = srv
        .send(
            "GET",
            &format!("/api/collections/books/records/{id}?expand=author"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(shown["expand"]["author"]["name"], "Bo");
}

kulisse_testkit::engine_tests!(
    batch_runs_in_one_transaction,
    expand_embeds_visible_related_records
);
