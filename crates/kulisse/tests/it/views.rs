//! View collections stay readable: a schema change that would break a view's query is
//! refused, and nothing is changed by the refused attempt.

use serde_json::{Value, json};

use kulisse_testkit::TestServer;

async fn source_and_view(srv: &TestServer, su: &str) -> Value {
    let (s, src) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({
            "name": "src", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "title", "type": "text"}, {"name": "extra", "type": "number"}]})),
        )
        .await;
    assert_eq!(s, 200, "{src}");
    let (s, rec) = srv
        .send(
            "POST",
            "/api/collections/src/records",
            None,
            Some(json!({"title": "kept", "extra": 1})),
        )
        .await;
    assert_eq!(s, 200, "{rec}");
    let (s, view) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({
            "name": "v", "type": "view", "listRule": "",
            "viewQuery": "select id, title from src"})),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    // A view of the view: PostgreSQL drops it along with the view it reads.
    let (s, view) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({
            "name": "v2", "type": "view", "listRule": "",
            "viewQuery": "select id, title from v"})),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view_titles(srv).await, "kept");
    src
}

/// The title both views read (they must agree).
async fn view_titles(srv: &TestServer) -> Value {
    let mut titles = Vec::new();
    for view in ["v", "v2"] {
        let (s, list) = srv
            .send(
                "GET",
                &format!("/api/collections/{view}/records"),
                None,
                None,
            )
            .await;
        assert_eq!(s, 200, "{view} still reads: {list}");
        titles.push(list["items"][0]["title"].clone());
    }
    assert_eq!(titles[0], titles[1]);
    titles.remove(0)
}

async fn dropping_a_field_a_view_reads_is_refused() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let src = source_and_view(&srv, &su).await;
    let without = |name: &str| -> Value {
        src["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["name"] != name)
            .cloned()
            .collect()
    };
    // PB compat: PocketBase refuses with a 400 (SQLite's own view check).
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/src",
            Some(&su),
            Some(json!({"fields": without("title")})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["message"], "Failed to update collection.", "{body}");
    assert_eq!(
        body["data"]["fields"]["code"], "validation_view_dependency",
        "{body}"
    );
    assert_eq!(view_titles(&srv).await, "kept");
    let (_, src_now) = srv
        .send("GET", "/api/collections/src", Some(&su), None)
        .await;
    assert!(
        src_now["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "title"),
        "the refused change left the field: {src_now}"
    );
    // A field the view does not read can go.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/src",
            Some(&su),
            Some(json!({"fields": without("extra")})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(view_titles(&srv).await, "kept");
}

async fn renaming_a_collection_a_view_reads_is_refused() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    source_and_view(&srv, &su).await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/src",
            Some(&su),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(view_titles(&srv).await, "kept");
}

/// Import applies the same rule, judged on the imported schema as a whole: dropping a
/// field a view reads is refused, unless the same import changes the view to stop reading it.
async fn import_keeps_views_readable() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let src = source_and_view(&srv, &su).await;
    let (_, collections) = srv
        .send("GET", "/api/collections?perPage=100", Some(&su), None)
        .await;
    let mut all: Vec<Value> = collections["items"].as_array().unwrap().clone();
    for c in &mut all {
        if c["id"] == src["id"] {
            let fields: Vec<Value> = c["fields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["name"] != "title")
                .cloned()
                .collect();
            c["fields"] = Value::Array(fields);
        }
    }
    let (s, body) = srv
        .send(
            "PUT",
            "/api/collections/import",
            Some(&su),
            Some(json!({"collections": all.clone()})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(view_titles(&srv).await, "kept");
    for c in &mut all {
        if c["name"] == "v" {
            c["viewQuery"] = json!("select id, extra as title from src");
        }
    }
    let (s, body) = srv
        .send(
            "PUT",
            "/api/collections/import",
            Some(&su),
            Some(json!({"collections": all})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(view_titles(&srv).await, 1);
}

/// Columns a view computes (an aggregate, an expression) read their values on both engines;
/// on PostgreSQL they are not of the stored column types (`count(*)` is a `bigint`).
async fn view_columns_computed_by_expressions_read_their_values() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    source_and_view(&srv, &su).await;
    for body in [
        json!({"title": "kept", "extra": 5}),
        json!({"title": "other", "extra": 2}),
    ] {
        let (s, rec) = srv
            .send("POST", "/api/collections/src/records", None, Some(body))
            .await;
        assert_eq!(s, 200, "{rec}");
    }
    let (s, view) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({
            "name": "stats", "type": "view", "listRule": "",
            "viewQuery": "select title as id, count(*) as c, max(extra) as top, min(extra) * 10 as low from src group by title"})))
        .await;
    assert_eq!(s, 200, "{view}");
    let (s, list) = srv
        .send("GET", "/api/collections/stats/records?sort=id", None, None)
        .await;
    assert_eq!(s, 200, "{list}");
    let kept = &list["items"][0];
    assert_eq!(kept["id"], "kept", "{list}");
    assert_eq!(kept["c"], 2, "{list}");
    assert_eq!(kept["top"], 5, "{list}");
    assert_eq!(kept["low"], 10, "{list}");
    // Sorted pages of a view, `@rowid` included (a view has no row ids: it is by id).
    for sort in ["-id", "-c,id", "@rowid", "-@rowid"] {
        let url = format!("/api/collections/stats/records?perPage=1&sort={sort}");
        let (s, page) = srv.send("GET", &url, None, None).await;
        assert_eq!(s, 200, "{sort}: {page}");
        let want = if sort == "@rowid" || sort == "-c,id" {
            "kept"
        } else {
            "other"
        };
        assert_eq!(page["items"][0]["id"], want, "{sort}");
    }
}

/// A view whose query changes but keeps its column names reads through the new query: the
/// change is not mistaken for a rules-only change that leaves the stored view alone.
async fn a_view_whose_query_changes_with_the_same_columns_reads_the_new_query() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    source_and_view(&srv, &su).await;
    let (s, rec) = srv
        .send(
            "POST",
            "/api/collections/src/records",
            None,
            Some(json!({"title": "other", "extra": 2})),
        )
        .await;
    assert_eq!(s, 200, "{rec}");
    // Nothing reads `v` but `v2`, which must go first on engines that refuse otherwise.
    let (s, gone) = srv
        .send("DELETE", "/api/collections/v2", Some(&su), None)
        .await;
    assert_eq!(s, 204, "{gone}");
    let (s, view) = srv
        .send(
            "PATCH",
            "/api/collections/v",
            Some(&su),
            Some(json!({"viewQuery": "select id, title from src where title = 'other'"})),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    let (s, list) = srv
        .send("GET", "/api/collections/v/records", None, None)
        .await;
    assert_eq!(s, 200, "{list}");
    let titles: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["title"])
        .collect();
    assert_eq!(titles, [&json!("other")], "{list}");
}

kulisse_testkit::engine_tests!(
    a_view_whose_query_changes_with_the_same_columns_reads_the_new_query,
    view_columns_computed_by_expressions_read_their_values,
    import_keeps_views_readable,
    dropping_a_field_a_view_reads_is_refused,
    renaming_a_collection_a_view_reads_is_refused
);
