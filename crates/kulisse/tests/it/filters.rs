//! Multi-valued filter semantics (spec §3.5), on the data set the spec verified against
//! PocketBase: plain operators need every related value to match, `?`-operators one, and an
//! empty set matches only `!=` / `?!=`.

use serde_json::{Value, json};

use kulisse_testkit::{TestServer, urlencode};

async fn fixture() -> (TestServer, String) {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let create = |body: Value| srv.send("POST", "/api/collections", Some(&su), Some(body));
    let (s, people) = create(json!({"name": "people", "listRule": "", "viewRule": "", "fields": [{"name": "name", "type": "text"}]})).await;
    assert_eq!(s, 200, "{people}");
    let (s, posts) = create(
        json!({"name": "posts", "listRule": "", "viewRule": "", "fields": [
            {"name": "title", "type": "text"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c", "d"], "maxSelect": 4},
            {"name": "coauthors", "type": "relation", "collectionId": people["id"], "maxSelect": 5}
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{posts}");
    let (s, c) = create(json!({"name": "comments", "listRule": "", "fields": [
        {"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1},
        {"name": "message", "type": "text"}
    ]}))
    .await;
    assert_eq!(s, 200, "{c}");
    for (id, name) in [
        ("alice0000000001", "Alice"),
        ("bob000000000001", "Bob"),
        ("carol0000000001", "Carol"),
    ] {
        let (s, _) = srv
            .send(
                "POST",
                "/api/collections/people/records",
                Some(&su),
                Some(json!({"id": id, "name": name})),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (a, b, c) = ("alice0000000001", "bob000000000001", "carol0000000001");
    for (id, tags, coauthors) in [
        ("p10000000000001", json!(["a", "b"]), json!([b, a])),
        ("p20000000000002", json!(["c"]), json!([c])),
        ("p30000000000003", json!(["a", "c", "d"]), json!([a])),
        ("p40000000000004", json!([]), json!([])),
        ("p50000000000005", json!(["b"]), json!([b, c])),
    ] {
        let (s, r) = srv
            .send(
                "POST",
                "/api/collections/posts/records",
                Some(&su),
                Some(json!({"id": id, "title": id, "tags": tags, "coauthors": coauthors})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }
    for (post, msg) in [
        ("p10000000000001", "c on one"),
        ("p10000000000001", "second"),
        ("p30000000000003", "c on 3"),
    ] {
        let (s, _) = srv
            .send(
                "POST",
                "/api/collections/comments/records",
                Some(&su),
                Some(json!({"post": post, "message": msg})),
            )
            .await;
        assert_eq!(s, 200);
    }
    (srv, su)
}

async fn matching(srv: &TestServer, token: Option<&str>, filter: &str) -> Result<Vec<String>, u16> {
    let url = format!(
        "/api/collections/posts/records?perPage=100&sort=@rowid&filter={}",
        urlencode(filter)
    );
    let (status, body) = srv.send("GET", &url, token, None).await;
    if status != 200 {
        return Err(status);
    }
    Ok(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap()[..2].to_owned())
        .collect())
}

async fn all_and_any_semantics_match_pocketbase() {
    let (srv, su) = fixture().await;
    let cases: &[(&str, &[&str])] = &[
        ("tags = 'a'", &[]),
        ("tags ?= 'a'", &[]),
        ("tags ~ 'a'", &["p1", "p3"]),
        ("tags:each ?= 'a'", &["p1", "p3"]),
        ("tags:each = 'c'", &["p2"]),
        ("tags:each != 'a'", &["p2", "p4", "p5"]),
        ("tags:length = 0", &["p4"]),
        ("coauthors.name = 'Alice'", &["p3"]),
        ("coauthors.name ?= 'Alice'", &["p1", "p3"]),
        ("coauthors.name != 'Bob'", &["p2", "p3", "p4"]),
        ("coauthors.name ?!= 'Bob'", &["p1", "p2", "p3", "p4", "p5"]),
        ("coauthors = 'bob000000000001'", &[]),
        ("coauthors ~ 'bob000000000001'", &["p1", "p5"]),
        ("comments_via_post.message ?~ 'c on'", &["p1", "p3"]),
        ("comments_via_post.message ~ 'c on'", &["p3"]),
        ("@collection.comments.post = id", &[]),
        ("@collection.comments.post ?= id", &["p1", "p3"]),
        (
            "@collection.comments.post ?= id && @collection.comments.message ?~ '3'",
            &["p3"],
        ),
        (
            "@collection.comments:x.post ?= id && @collection.comments:y.message ?~ '3'",
            &["p1", "p3"],
        ),
        ("coauthors.name ?= 'Alice' && coauthors.name ?= 'Bob'", &[]),
        (
            "coauthors.name ?= 'Alice' || coauthors.name ?= 'Carol'",
            &["p1", "p2", "p3", "p5"],
        ),
    ];
    let mut failures = Vec::new();
    for (filter, want) in cases {
        match matching(&srv, Some(&su), filter).await {
            Ok(got) if got == *want => {}
            other => failures.push(format!("{filter}: got {other:?}, want {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn client_filters_respect_related_list_rules() {
    let (srv, su) = fixture().await;
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/collections/people",
            Some(&su),
            Some(json!({"listRule": "name != 'Alice'"})),
        )
        .await;
    assert_eq!(s, 200);
    // A guest cannot find posts through people the people list rule hides.
    assert_eq!(
        matching(&srv, None, "coauthors.name ?= 'Alice'").await,
        Ok(vec![])
    );
    assert_eq!(
        matching(&srv, None, "coauthors.name ?= 'Bob'").await,
        Ok(vec!["p1".into(), "p5".into()])
    );
    // The superuser is not restricted.
    assert_eq!(
        matching(&srv, Some(&su), "coauthors.name ?= 'Alice'").await,
        Ok(vec!["p1".into(), "p3".into()])
    );
    // A null list rule refuses the filter outright.
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/collections/people",
            Some(&su),
            Some(json!({"listRule": null})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        matching(&srv, None, "coauthors.name ?= 'Bob'").await,
        Err(400)
    );
    assert_eq!(
        matching(&srv, None, "@collection.people.name ?= 'Bob'").await,
        Err(403)
    );
}

async fn sorting_through_a_single_relation() {
    let (srv, su) = fixture().await;
    let url = "/api/collections/comments/records?sort=-post.title,message&fields=message";
    let (s, body) = srv.send("GET", url, Some(&su), None).await;
    assert_eq!(s, 200, "{body}");
    let got: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["c on 3", "c on one", "second"]);
}

/// PB compat: the status and message stay PocketBase's generic 400; the reason and its
/// position go under `data.<param>`, so a developer sees what is wrong without a guess.
async fn filter_sort_and_rule_errors_say_what_and_where() {
    let (srv, su) = fixture().await;
    let generic = "Something went wrong while processing your request.";
    let cases = [
        (
            "filter",
            "nofield = 1",
            "unknown or hidden field \"nofield\" at 1:1",
        ),
        (
            "filter",
            "title = 'x' &&\n  post.nope = 1",
            "unknown or hidden field \"post\" at 2:3",
        ),
        ("filter", "title == 'x'", "invalid operator `==` at 1:7"),
        ("filter", "title = 'x' // trailing comment", ""),
        ("filter", "title ~ 'p1' // c\r\n && tags ?= 'a'", ""),
        (
            "filter",
            "coauthors.nope = 1",
            "unknown or hidden field \"nope\" at 1:1",
        ),
        (
            "filter",
            "title:each = 1",
            ":each needs a field with several values, not \"title\" at 1:1",
        ),
        (
            "sort",
            "title,-nofield",
            "unknown or hidden field \"nofield\" at 1:8",
        ),
        (
            "sort",
            "coauthors.name",
            "cannot sort by \"coauthors.name\": it has several values per record at 1:1",
        ),
    ];
    for (param, text, want) in cases {
        let url = format!("/api/collections/posts/records?{param}={}", urlencode(text));
        let (s, body) = srv.send("GET", &url, None, None).await;
        if want.is_empty() {
            assert_eq!(s, 200, "{param} {text:?}: {body}");
            continue;
        }
        assert_eq!(s, 400, "{param} {text:?}: {body}");
        assert_eq!(body["message"], generic, "{body}");
        assert_eq!(
            body["data"][param]["code"],
            format!("validation_invalid_{param}")
        );
        assert_eq!(body["data"][param]["message"], want, "{param} {text:?}");
    }
    // A rule error names the field, as PocketBase's do; rules may name hidden fields.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/posts",
            Some(&su),
            Some(json!({"listRule": "title = 'a' || nofield = 1"})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["data"]["listRule"],
        json!({"code": "validation_invalid_rule",
               "message": "Invalid rule. Raw error: unknown field \"nofield\" at 1:16."}),
    );
}

kulisse_testkit::engine_tests!(
    filter_sort_and_rule_errors_say_what_and_where,
    all_and_any_semantics_match_pocketbase,
    client_filters_respect_related_list_rules,
    sorting_through_a_single_relation
);
