//! Nested expansion over a small graph: the exact answers (recorded from the version that
//! copied each related record into every referrer), so sharing related records and
//! writing them straight into the answer changes nothing on the wire; and the budget on
//! embedded records.

use serde_json::{Value, json};

use kulisse_testkit::{TestServer, send_to, superuser_token_at};

const P1: &str = "p00000000000001";
const P2: &str = "p00000000000002";
const P3: &str = "p00000000000003";
const P4: &str = "p00000000000004";

/// `people` (`friends`: up to 5 of themselves, `best`: one; guests may not view hidden
/// people), `notes` (each with an `owner`) and `badges` (a unique `person`, so
/// `badges_via_person` is one record).
async fn people_graph(srv: &TestServer, su: &str) {
    let (s, people) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(
                json!({"name": "people", "listRule": "", "viewRule": "hidden = false", "fields": [
                    {"name": "name", "type": "text"},
                    {"name": "hidden", "type": "bool"}
                ]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{people}");
    let mut fields = people["fields"].as_array().unwrap().clone();
    fields.push(json!({"name": "friends", "type": "relation", "collectionId": people["id"], "maxSelect": 5}));
    fields.push(
        json!({"name": "best", "type": "relation", "collectionId": people["id"], "maxSelect": 1}),
    );
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/people",
            Some(su),
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send("POST", "/api/collections", Some(su), Some(json!({"name": "notes", "listRule": "", "viewRule": "", "fields": [
            {"name": "text", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": people["id"], "maxSelect": 1}
        ]})))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({"name": "badges", "listRule": "", "viewRule": "",
            "fields": [
                {"name": "label", "type": "text"},
                {"name": "person", "type": "relation", "collectionId": people["id"], "maxSelect": 1}
            ],
            "indexes": ["CREATE UNIQUE INDEX idx_badges_person ON badges (person)"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for (id, name, hidden) in [
        (P1, "Ann", false),
        (P2, "Bo", false),
        (P3, "Cy", true),
        (P4, "Di", false),
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/people/records",
                Some(su),
                Some(json!({"id": id, "name": name, "hidden": hidden})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    for (id, friends, best) in [
        (P1, json!([P2, P3, P4]), P2),
        (P2, json!([P1, P3]), P3),
        (P3, json!([P1]), P1),
        (P4, json!([]), ""),
    ] {
        let (s, body) = srv
            .send(
                "PATCH",
                &format!("/api/collections/people/records/{id}"),
                Some(su),
                Some(json!({"friends": friends, "best": best})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    for (id, text, owner) in [
        ("n00000000000001", "one", P1),
        ("n00000000000002", "two", P1),
        ("n00000000000003", "three", P3),
    ] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/notes/records",
                Some(su),
                Some(json!({"id": id, "text": text, "owner": owner})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/badges/records",
            Some(su),
            Some(json!({"id": "b00000000000001", "label": "gold", "person": P2})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// Keeps only ids and `expand`, so the expected trees stay readable.
fn skeleton(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(skeleton).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| ["id", "expand"].contains(&k.as_str()) || !map.contains_key("id"))
                .map(|(k, v)| (k.clone(), skeleton(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The guest's list, as ids and `expand` ([`skeleton`]): `Cy` (hidden) is left out of
/// every expansion, `best` keys pointing at him are absent, `friends` are arrays in stored
/// order, `badges_via_person` is one record (unique index), `notes_via_owner` a list.
const GUEST_TREE: &str = r#"[{"expand":{"best":{"expand":{},"id":"p00000000000002"},"friends":[{"expand":{},"id":"p00000000000002"},{"expand":{},"id":"p00000000000004"}],"notes_via_owner":[{"expand":{"owner":{"id":"p00000000000001"}},"id":"n00000000000001"},{"expand":{"owner":{"id":"p00000000000001"}},"id":"n00000000000002"}]},"id":"p00000000000001"},{"expand":{"badges_via_person":{"id":"b00000000000001"},"friends":[{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000001"}]},"id":"p00000000000002"}},"id":"p00000000000001"}]},"id":"p00000000000002"},{"expand":{"best":{"expand":{"notes_via_owner":[{"id":"n00000000000001"},{"id":"n00000000000002"}]},"id":"p00000000000001"},"friends":[{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000001"}]},"id":"p00000000000002"}},"id":"p00000000000001"}],"notes_via_owner":[{"expand":{},"id":"n00000000000003"}]},"id":"p00000000000003"},{"expand":{},"id":"p00000000000004"}]"#;
/// The superuser's list: `Cy` appears everywhere.
const SUPERUSER_TREE: &str = r#"[{"expand":{"best":{"expand":{},"id":"p00000000000002"},"friends":[{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000001"}]},"id":"p00000000000003"}},"id":"p00000000000002"},{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000002"},{"id":"p00000000000003"},{"id":"p00000000000004"}]},"id":"p00000000000001"}},"id":"p00000000000003"},{"expand":{},"id":"p00000000000004"}],"notes_via_owner":[{"expand":{"owner":{"id":"p00000000000001"}},"id":"n00000000000001"},{"expand":{"owner":{"id":"p00000000000001"}},"id":"n00000000000002"}]},"id":"p00000000000001"},{"expand":{"badges_via_person":{"id":"b00000000000001"},"best":{"expand":{"notes_via_owner":[{"id":"n00000000000003"}]},"id":"p00000000000003"},"friends":[{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000001"},{"id":"p00000000000003"}]},"id":"p00000000000002"}},"id":"p00000000000001"},{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000002"},{"id":"p00000000000003"},{"id":"p00000000000004"}]},"id":"p00000000000001"}},"id":"p00000000000003"}]},"id":"p00000000000002"},{"expand":{"best":{"expand":{"notes_via_owner":[{"id":"n00000000000001"},{"id":"n00000000000002"}]},"id":"p00000000000001"},"friends":[{"expand":{"best":{"expand":{"friends":[{"id":"p00000000000001"},{"id":"p00000000000003"}]},"id":"p00000000000002"}},"id":"p00000000000001"}],"notes_via_owner":[{"expand":{"owner":{"id":"p00000000000003"}},"id":"n00000000000003"}]},"id":"p00000000000003"},{"expand":{},"id":"p00000000000004"}]"#;
/// `Bo` as a guest sees him, whole.
const GUEST_BO: &str = r#"{"best":"p00000000000003","collectionId":"pbc_520427368","collectionName":"people","expand":{"badges_via_person":{"collectionId":"pbc_1340419796","collectionName":"badges","id":"b00000000000001","label":"gold","person":"p00000000000002"},"friends":[{"best":"p00000000000002","collectionId":"pbc_520427368","collectionName":"people","expand":{"best":{"best":"p00000000000003","collectionId":"pbc_520427368","collectionName":"people","expand":{"friends":[{"best":"p00000000000002","collectionId":"pbc_520427368","collectionName":"people","friends":["p00000000000002","p00000000000003","p00000000000004"],"hidden":false,"id":"p00000000000001","name":"Ann"}]},"friends":["p00000000000001","p00000000000003"],"hidden":false,"id":"p00000000000002","name":"Bo"}},"friends":["p00000000000002","p00000000000003","p00000000000004"],"hidden":false,"id":"p00000000000001","name":"Ann"}]},"friends":["p00000000000001","p00000000000003"],"hidden":false,"id":"p00000000000002","name":"Bo"}"#;

const PATHS: &str =
    "friends.best.friends,best.notes_via_owner,notes_via_owner.owner,badges_via_person,nope";

/// Sends as `token`, asserting a 200.
async fn send_ok(
    base: &str,
    client: &reqwest::Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let (status, body) = send_to(client, base, method, path, token, Some(body)).await;
    assert_eq!(status, 200, "{method} {path}: {body}");
    body
}

/// Links of each node.
const LINKS: usize = 5;

/// The id of node `i` (modulo `nodes`).
pub fn node_id(i: usize, nodes: usize) -> String {
    format!("node{:011}", i % nodes)
}

/// `nodes`: `count` records, each related through `self` to the next five (guests may
/// list and view them), created with two batches by the superuser of the server at `base`.
pub async fn self_related_nodes(base: &str, client: &reqwest::Client, count: usize) {
    let send = |method: &'static str, path: &'static str, token: Option<String>, body: Value| async move {
        send_ok(base, client, method, path, token.as_deref(), body).await
    };
    let su = Some(superuser_token_at(client, base).await);
    let nodes = send("POST", "/api/collections", su.clone(), json!({"name": "nodes", "listRule": "", "viewRule": "", "fields": [{"name": "name", "type": "text"}]})).await;
    let mut fields = nodes["fields"].as_array().unwrap().clone();
    fields.push(json!({"name": "self", "type": "relation", "collectionId": nodes["id"], "maxSelect": LINKS}));
    send(
        "PATCH",
        "/api/collections/nodes",
        su.clone(),
        json!({ "fields": fields }),
    )
    .await;
    let batch = json!({"batch": {"enabled": true, "maxRequests": count}});
    send("PATCH", "/api/settings", su.clone(), batch).await;
    let creates: Vec<Value> = (0..count)
        .map(|i| json!({"method": "POST", "url": "/api/collections/nodes/records", "body": {"id": node_id(i, count), "name": format!("node {i}")}}))
        .collect();
    send(
        "POST",
        "/api/batch",
        su.clone(),
        json!({ "requests": creates }),
    )
    .await;
    let links: Vec<Value> = (0..count)
        .map(|i| {
            let targets: Vec<String> = (1..=LINKS).map(|k| node_id(i + k, count)).collect();
            json!({"method": "PATCH", "url": format!("/api/collections/nodes/records/{}", node_id(i, count)), "body": {"self": targets}})
        })
        .collect();
    send("POST", "/api/batch", su, json!({ "requests": links })).await;
}

/// Checks `record` is node `i` with `depth` levels of `self` expanded below it.
fn assert_node(record: &Value, i: usize, nodes: usize, depth: usize) {
    assert_eq!(record["id"], node_id(i, nodes), "{record}");
    assert_eq!(record["name"], format!("node {}", i % nodes));
    if depth == 0 {
        assert!(record.get("expand").is_none(), "{record}");
        return;
    }
    let linked = record["expand"]["self"].as_array().unwrap();
    assert_eq!(linked.len(), LINKS);
    for (k, r) in linked.iter().enumerate() {
        assert_node(r, i + k + 1, nodes, depth - 1);
    }
}

async fn big_expanded_answers_are_streamed_with_the_same_records_and_fields() {
    const NODES: usize = 60;
    let srv = TestServer::start().await;
    self_related_nodes(&srv.base, &srv.client, NODES).await;
    let get = |query: &str| {
        srv.client
            .get(srv.url(&format!(
                "/api/collections/nodes/records?perPage=100&{query}"
            )))
            .send()
    };
    // 60 × (5 + 25 + 125) = 9,300 embedded records: over the buffered answers' 1,000.
    let res = get("expand=self.self.self").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.content_length(), None, "written as it is encoded");
    let whole: Value = res.json().await.unwrap();
    assert_eq!(whole["totalItems"], NODES);
    for (i, item) in whole["items"].as_array().unwrap().iter().enumerate() {
        assert_node(item, i, NODES, 3);
    }
    let res = get("expand=self").await.unwrap();
    assert!(
        res.content_length().is_some(),
        "small answers are encoded whole"
    );

    let fields = "id,expand.self.name:excerpt(4,true),expand.self.expand.self.expand.self.id";
    let res = get(&format!("expand=self.self.self&fields={fields}"))
        .await
        .unwrap();
    assert_eq!(res.content_length(), None);
    let picked: Value = res.json().await.unwrap();
    let picker = kulisse::http::fields::FieldsFilter::parse(fields)
        .unwrap()
        .unwrap();
    assert_eq!(picked, picker.apply(whole));
    assert_eq!(picked["items"][0]["expand"]["self"][0]["name"], "node...");
}

async fn nested_expansions_keep_their_shape_arrays_back_relations_and_view_rules() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    people_graph(&srv, &su).await;
    let (s, list) = srv
        .send(
            "GET",
            &format!("/api/collections/people/records?sort=id&expand={PATHS}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let tree = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert_eq!(skeleton(&list["items"]), tree(GUEST_TREE), "{list}");
    assert_eq!(list["items"][1], tree(GUEST_BO));
    assert_eq!(list.to_string().len(), 4094, "the whole answer: {list}");
    let (s, list_su) = srv
        .send(
            "GET",
            &format!("/api/collections/people/records?sort=id&expand={PATHS}"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 200, "{list_su}");
    assert_eq!(
        skeleton(&list_su["items"]),
        tree(SUPERUSER_TREE),
        "{list_su}"
    );
    assert_eq!(
        list_su.to_string().len(),
        7071,
        "the whole answer: {list_su}"
    );
    for (i, id) in [P1, P2, P3, P4].into_iter().enumerate() {
        let (s, one) = srv
            .send(
                "GET",
                &format!("/api/collections/people/records/{id}?expand={PATHS}"),
                Some(&su),
                None,
            )
            .await;
        assert_eq!(s, 200, "{one}");
        assert_eq!(one, list_su["items"][i], "a view answers as the list item");
    }
}

async fn fields_pick_inside_expanded_records_as_in_any_answer() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    people_graph(&srv, &su).await;
    let list_path = format!("/api/collections/people/records?sort=id&expand={PATHS}");
    let (_, whole) = srv.send("GET", &list_path, None, None).await;
    let (_, whole_one) = srv
        .send(
            "GET",
            &format!("/api/collections/people/records/{P2}?expand={PATHS}"),
            None,
            None,
        )
        .await;
    for fields in [
        "id,expand.friends.name",
        "*,name:excerpt(1,true)",
        "expand.*",
        "expand.best.expand.notes_via_owner.text:excerpt(2),expand.badges_via_person",
        "id,expand.friends.expand.best.*,expand.notes_via_owner.expand",
        "expand.friends.*,expand.friends.name:excerpt(1),friends.x,nope",
        "expand",
    ] {
        let picker = kulisse::http::fields::FieldsFilter::parse(fields)
            .unwrap()
            .unwrap();
        let (s, picked) = srv
            .send("GET", &format!("{list_path}&fields={fields}"), None, None)
            .await;
        assert_eq!(s, 200, "{picked}");
        assert_eq!(picked, picker.apply(whole.clone()), "list, fields={fields}");
        let (s, picked) = srv
            .send(
                "GET",
                &format!("/api/collections/people/records/{P2}?expand={PATHS}&fields={fields}"),
                None,
                None,
            )
            .await;
        assert_eq!(s, 200, "{picked}");
        assert_eq!(
            picked,
            picker.apply(whole_one.clone()),
            "view, fields={fields}"
        );
    }
}

async fn auth_and_batch_answers_embed_expanded_records() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    people_graph(&srv, &su).await;
    let (_, users) = srv
        .send("GET", "/api/collections/users", Some(&su), None)
        .await;
    let (_, people) = srv
        .send("GET", "/api/collections/people", Some(&su), None)
        .await;
    let mut fields = users["fields"].as_array().unwrap().clone();
    fields.push(
        json!({"name": "idol", "type": "relation", "collectionId": people["id"], "maxSelect": 1}),
    );
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send("POST", "/api/collections/users/records", Some(&su), Some(json!({"email": "u@example.com", "password": "1234567890", "passwordConfirm": "1234567890", "idol": P1})))
        .await;
    assert_eq!(s, 200, "{body}");
    let login = json!({"identity": "u@example.com", "password": "1234567890"});
    let (s, auth) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-password?expand=idol.friends.best",
            None,
            Some(login.clone()),
        )
        .await;
    assert_eq!(s, 200, "{auth}");
    let token = auth["token"].as_str().unwrap();
    let (_, idol) = srv
        .send(
            "GET",
            &format!("/api/collections/people/records/{P1}?expand=friends.best"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(auth["record"]["expand"]["idol"], idol, "{auth}");
    let friends: Vec<&str> = idol["expand"]["friends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(friends, [P2, P4], "hidden Cy is left out");
    let (s, refreshed) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh?expand=idol.friends.best",
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(refreshed["record"], auth["record"]);
    let (s, picked) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-password?expand=idol&fields=record.expand.idol.name,token",
            None,
            Some(login),
        )
        .await;
    assert_eq!(s, 200, "{picked}");
    assert_eq!(
        picked["record"],
        json!({"expand": {"idol": {"name": "Ann"}}})
    );
    assert!(picked["token"].is_string());

    let (s, _) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"batch": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, batch) = srv
        .send("POST", "/api/batch", Some(&su), Some(json!({"requests": [
            {"method": "PATCH", "url": format!("/api/collections/people/records/{P4}?expand=friends.best&fields=id,expand.friends.expand.best.name"), "body": {"friends": [P1, P2]}},
            {"method": "PATCH", "url": format!("/api/collections/people/records/{P4}?expand=best"), "body": {"best": P3}}
        ]})))
        .await;
    assert_eq!(s, 200, "{batch}");
    assert_eq!(
        batch[0],
        json!({"status": 200, "body": {"id": P4, "expand": {"friends": [
            {"expand": {"best": {"name": "Bo"}}},
            {"expand": {"best": {"name": "Cy"}}}
        ]}}})
    );
    assert_eq!(batch[1]["body"]["expand"]["best"]["name"], "Cy");
    assert_eq!(batch[1]["body"]["friends"], json!([P1, P2]));
}

kulisse_testkit::engine_tests!(
    auth_and_batch_answers_embed_expanded_records,
    big_expanded_answers_are_streamed_with_the_same_records_and_fields,
    fields_pick_inside_expanded_records_as_in_any_answer,
    nested_expansions_keep_their_shape_arrays_back_relations_and_view_rules
);
