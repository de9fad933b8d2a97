//! Realtime over a real SSE stream (spec §6): PocketBase's framing, subscriptions and their
//! validation, events after commit with each subscriber's rules, and delivery across nodes.

mod resume;
mod wire;

use std::time::Duration;

use kulisse_testkit::{Sse, TestEngine, TestServer, engine_tests, urlencode};
use serde_json::{Value, json};

engine_tests!(
    a_subscriber_gets_create_update_and_delete_in_pocketbases_framing,
    each_subscriber_gets_only_what_its_rules_let_it_see,
    record_topics_filters_expand_and_fields_shape_what_arrives,
    subscription_requests_are_checked_like_pocketbase,
    a_subscriber_whose_user_is_deleted_is_a_guest_from_then_on,
    a_truncate_announces_a_delete_per_record_like_pocketbase,
    subscribers_receive_exactly_what_their_list_rule_lists,
    a_subscriber_that_stops_reading_is_dropped_and_others_go_on,
);

const QUIET: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(5);

/// Sets `topics` for the stream's client on behalf of `token`.
async fn subscribe(
    srv: &TestServer,
    sse: &Sse,
    token: Option<&str>,
    topics: &[&str],
) -> (u16, Value) {
    let body = json!({"clientId": sse.client_id, "subscriptions": topics});
    srv.send("POST", "/api/realtime", token, Some(body)).await
}

async fn create(srv: &TestServer, token: Option<&str>, collection: &str, body: Value) -> Value {
    let path = format!("/api/collections/{collection}/records");
    let (s, record) = srv.send("POST", &path, token, Some(body)).await;
    assert_eq!(s, 200, "{record}");
    record
}

/// `posts` (public list and view rules, a hidden field) and `notes` (owner rules).
async fn collections(srv: &TestServer, su: &str) {
    let posts = json!({"name": "posts", "listRule": "", "viewRule": "", "createRule": "",
        "updateRule": "", "deleteRule": "", "fields": [
            {"name": "title", "type": "text"}, {"name": "views", "type": "number"},
            {"name": "body", "type": "editor"},
            {"name": "secret", "type": "text", "hidden": true},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]});
    let notes = json!({"name": "notes", "listRule": "owner = @request.auth.id",
        "viewRule": "owner = @request.auth.id", "fields": [
            {"name": "text", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]});
    for c in [posts, notes] {
        let (s, body) = srv
            .send("POST", "/api/collections", Some(su), Some(c))
            .await;
        assert_eq!(s, 200, "{body}");
    }
}

/// A user and their token.
async fn user(srv: &TestServer, su: &str, email: &str) -> (String, String) {
    let body = json!({"email": email, "password": "12345678", "passwordConfirm": "12345678"});
    let record = create(srv, Some(su), "users", body).await;
    let token = srv.login("users", email, "12345678").await;
    (record["id"].as_str().unwrap().to_owned(), token)
}

async fn a_subscriber_gets_create_update_and_delete_in_pocketbases_framing() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let mut sse = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(sse.headers["cache-control"], "no-store");
    assert_eq!(sse.headers["x-accel-buffering"], "no");
    assert_eq!(sse.client_id.len(), 40);
    assert!(sse.client_id.bytes().all(|b| b.is_ascii_alphanumeric()));

    let (s, body) = subscribe(&srv, &sse, None, &["posts/*"]).await;
    assert_eq!((s, &body), (204, &Value::Null));
    let post = create(&srv, None, "posts", json!({"title": "one", "secret": "s"})).await;
    let id = post["id"].as_str().unwrap();
    let path = format!("/api/collections/posts/records/{id}");
    let (s, _) = srv
        .send("PATCH", &path, None, Some(json!({"title": "two"})))
        .await;
    assert_eq!(s, 200);
    let (s, _) = srv.send("DELETE", &path, None, None).await;
    assert_eq!(s, 204);

    let frames = sse.drain(QUIET).await;
    let seen: Vec<(&str, &str, &Value)> = frames
        .iter()
        .map(|f| {
            (
                f.event.as_str(),
                f.data["action"].as_str().unwrap(),
                &f.data["record"]["title"],
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("posts/*", "create", &json!("one")),
            ("posts/*", "update", &json!("two")),
            ("posts/*", "delete", &json!("two"))
        ]
    );
    // kulisse: an event's id is the client id and its position (for `Last-Event-ID`);
    // PocketBase sends the client id alone. Positions grow through the stream.
    let positions: Vec<(u64, u64)> = frames
        .iter()
        .map(|f| {
            let (client, at) = f.id.split_once(':').expect("id is <clientId>:<position>");
            assert_eq!(client, sse.client_id);
            let (set, index) = at.split_once('.').unwrap();
            (set.parse().unwrap(), index.parse().unwrap())
        })
        .collect();
    assert!(
        positions.is_sorted() && positions[0] < positions[2],
        "{positions:?}"
    );
    let first = &frames[0];
    assert!(
        first.raw.starts_with(&format!(
            "id:{}\nevent:posts/*\ndata:{{\"record\":{{",
            first.id
        )),
        "{}",
        first.raw
    );
    assert!(
        first.raw.ends_with(",\"action\":\"create\"}\n\n"),
        "{}",
        first.raw
    );
    assert!(
        first.data["record"].get("secret").is_none(),
        "hidden fields never leave"
    );
    assert_eq!(first.data["record"]["collectionName"], "posts");
}

async fn each_subscriber_gets_only_what_its_rules_let_it_see() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let (alice, alice_token) = user(&srv, &su, "alice@example.com").await;
    let (bob, _) = user(&srv, &su, "bob@example.com").await;
    let mut guest = Sse::connect(&srv.client, &srv.base).await;
    let mut owner = Sse::connect(&srv.client, &srv.base).await;
    let mut root = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(
        subscribe(&srv, &guest, None, &["notes/*", "posts/*"])
            .await
            .0,
        204
    );
    assert_eq!(
        subscribe(&srv, &owner, Some(&alice_token), &["notes/*", "users/*"])
            .await
            .0,
        204
    );
    assert_eq!(
        subscribe(&srv, &root, Some(&su), &["notes/*", "posts/*"])
            .await
            .0,
        204
    );

    for (collection, body) in [
        ("notes", json!({"text": "alice's", "owner": alice})),
        ("notes", json!({"text": "bob's", "owner": bob})),
        ("posts", json!({"title": "public", "secret": "hidden"})),
    ] {
        create(&srv, Some(&su), collection, body).await;
    }
    let path = format!("/api/collections/users/records/{alice}");
    let (s, _) = srv
        .send("PATCH", &path, Some(&su), Some(json!({"name": "Alice"})))
        .await;
    assert_eq!(s, 200);

    let texts = |frames: &[kulisse_testkit::Frame]| -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                let r = &f.data["record"];
                r["text"]
                    .as_str()
                    .or(r["title"].as_str())
                    .or(r["name"].as_str())
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect()
    };
    let g = guest.drain(QUIET).await;
    assert_eq!(texts(&g), ["public"], "a guest gets no one's notes");
    let o = owner.drain(QUIET).await;
    assert_eq!(
        texts(&o),
        ["alice's", "Alice"],
        "the owner gets her note and her own record"
    );
    assert_eq!(
        o[1].data["record"]["email"], "alice@example.com",
        "her own email is visible to her"
    );
    let r = root.drain(QUIET).await;
    assert_eq!(texts(&r), ["alice's", "bob's", "public"]);
    assert_eq!(
        r[2].data["record"]["secret"], "hidden",
        "superusers see hidden fields"
    );
}

async fn record_topics_filters_expand_and_fields_shape_what_arrives() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let (alice, _) = user(&srv, &su, "alice@example.com").await;
    let watched = create(&srv, None, "posts", json!({"title": "watched"})).await;
    let other = create(&srv, None, "posts", json!({"title": "other"})).await;
    let watched_id = watched["id"].as_str().unwrap();
    let posts_id = watched["collectionId"].as_str().unwrap();

    let mut sse = Sse::connect(&srv.client, &srv.base).await;
    let by_id = format!("{posts_id}/{watched_id}");
    let options = urlencode(&json!({"query": {"filter": "views > 10", "expand": "author", "fields": "id,views,expand.author.email"}}).to_string());
    let filtered = format!("posts/*?options={options}");
    assert_eq!(
        subscribe(&srv, &sse, Some(&su), &[&by_id, &filtered])
            .await
            .0,
        204
    );

    for (id, views) in [(watched_id, 5), (other["id"].as_str().unwrap(), 50)] {
        let path = format!("/api/collections/posts/records/{id}");
        let (s, body) = srv
            .send(
                "PATCH",
                &path,
                None,
                Some(json!({"views": views, "author": alice})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let frames = sse.drain(QUIET).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(
        frames[0].event, by_id,
        "the event is named after the subscription"
    );
    assert_eq!(frames[0].data["record"]["title"], "watched");
    assert_eq!(frames[1].event, filtered);
    assert_eq!(
        frames[1].data,
        json!({"record": {"id": other["id"], "views": 50,
            "expand": {"author": {"email": "alice@example.com"}}}, "action": "update"}),
        "filtered, expanded, and trimmed to the fields asked for"
    );
}

async fn subscription_requests_are_checked_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (_, alice) = user(&srv, &su, "alice@example.com").await;
    let (_, bob) = user(&srv, &su, "bob@example.com").await;
    let sse = Sse::connect(&srv.client, &srv.base).await;
    let generic = "Something went wrong while processing your request.";

    let (s, body) = srv
        .send("POST", "/api/realtime", None, Some(json!({})))
        .await;
    assert_eq!((s, body["message"].as_str().unwrap()), (400, generic));
    assert_eq!(body["data"]["clientId"]["code"], "validation_required");
    let unknown = json!({"clientId": "nope", "subscriptions": []});
    let (s, body) = srv.send("POST", "/api/realtime", None, Some(unknown)).await;
    assert_eq!(
        (s, body["message"].as_str().unwrap()),
        (404, "Missing or invalid client id.")
    );
    let long_id = json!({"clientId": "a".repeat(256), "subscriptions": []});
    let (s, body) = srv.send("POST", "/api/realtime", None, Some(long_id)).await;
    assert_eq!(s, 400);
    assert_eq!(
        body["data"]["clientId"],
        json!({"code": "validation_length_out_of_range",
            "message": "The length must be between 1 and 255.", "params": {"max": 255, "min": 1}})
    );
    for malformed in [
        json!({"clientId": 5}),
        json!({"clientId": sse.client_id, "subscriptions": "posts/*"}),
        json!({"clientId": sse.client_id, "subscriptions": [5]}),
    ] {
        let (s, body) = srv
            .send("POST", "/api/realtime", None, Some(malformed))
            .await;
        assert_eq!(
            body,
            json!({"data": {}, "message": generic, "status": 400}),
            "{s}"
        );
    }
    let many: Vec<String> = (0..1001).map(|i| format!("posts/{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (s, body) = subscribe(&srv, &sse, None, &many).await;
    assert_eq!(
        (s, &body["data"]["subscriptions"]["code"]),
        (400, &json!("validation_length_too_long"))
    );
    assert_eq!(
        body["data"]["subscriptions"]["params"],
        json!({"max": 1000, "min": 0})
    );
    let long = format!("posts/{}", "x".repeat(2500));
    let (s, body) = subscribe(&srv, &sse, None, &["posts/*", &long]).await;
    assert_eq!(
        (s, &body["data"]["subscriptions"]["1"]["code"]),
        (400, &json!("validation_length_too_long"))
    );

    assert_eq!(
        subscribe(&srv, &sse, None, &["posts/*"]).await.0,
        204,
        "a guest binds"
    );
    assert_eq!(
        subscribe(&srv, &sse, Some(&alice), &["posts/*"]).await.0,
        204,
        "a guest may log in"
    );
    assert_eq!(
        subscribe(&srv, &sse, Some(&alice), &[]).await.0,
        204,
        "the same user again"
    );
    let (s, body) = subscribe(&srv, &sse, Some(&bob), &["posts/*"]).await;
    assert_eq!(
        (s, body["message"].as_str().unwrap()),
        (
            403,
            "The current and the previous request authorization don't match."
        )
    );
    let (s, _) = subscribe(&srv, &sse, None, &["posts/*"]).await;
    assert_eq!(s, 403, "nor back to a guest");
}

async fn a_subscriber_whose_user_is_deleted_is_a_guest_from_then_on() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let (alice, token) = user(&srv, &su, "alice@example.com").await;
    let mut sse = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(
        subscribe(&srv, &sse, Some(&token), &["posts/*"]).await.0,
        204
    );
    create(
        &srv,
        None,
        "posts",
        json!({"title": "before", "author": alice}),
    )
    .await;
    assert_eq!(sse.drain(QUIET).await.len(), 1);
    // Signed-in users only from now on: a guest sees nothing.
    let rule = json!({"listRule": "@request.auth.id != ''"});
    let (s, body) = srv
        .send("PATCH", "/api/collections/posts", Some(&su), Some(rule))
        .await;
    assert_eq!(s, 200, "{body}");
    create(&srv, None, "posts", json!({"title": "for users"})).await;
    assert_eq!(sse.drain(QUIET).await.len(), 1, "still bound to alice");
    let path = format!("/api/collections/users/records/{alice}");
    assert_eq!(srv.send("DELETE", &path, Some(&su), None).await.0, 204);
    create(&srv, None, "posts", json!({"title": "after"})).await;
    let frames = sse.drain(QUIET).await;
    assert!(
        frames.is_empty(),
        "a deleted user's subscription sees what a guest sees: {frames:?}"
    );
}

/// Two nodes on one PostgreSQL database with the test collections; `None` (the test is
/// skipped) without a PostgreSQL server.
async fn two_nodes() -> Option<(TestServer, TestServer)> {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return None;
    }
    let a = kulisse_testkit::ENGINE
        .scope(TestEngine::Postgres, TestServer::start())
        .await;
    let su = a.superuser_token().await;
    collections(&a, &su).await;
    let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
    Some((a, b))
}

/// On PostgreSQL with two nodes: a create and a delete through one reach a subscriber on
/// the other.
#[tokio::test]
async fn a_write_on_one_node_reaches_a_subscriber_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let mut sse = Sse::connect(&b.client, &b.base).await;
    assert_eq!(subscribe(&b, &sse, None, &["posts/*"]).await.0, 204);
    let post = create(&a, None, "posts", json!({"title": "from a"})).await;
    let frame = sse.next(WAIT).await.expect("the event crosses nodes");
    assert_eq!(
        (frame.event.as_str(), &frame.data["record"]["title"]),
        ("posts/*", &json!("from a"))
    );
    // A deleted record cannot be read on B afterwards: it travels with its delete.
    let path = format!(
        "/api/collections/posts/records/{}",
        post["id"].as_str().unwrap()
    );
    assert_eq!(a.send("DELETE", &path, None, None).await.0, 204);
    let frame = sse.next(WAIT).await.expect("the delete crosses nodes");
    assert_eq!(
        (
            frame.data["action"].as_str(),
            &frame.data["record"]["title"]
        ),
        (Some("delete"), &json!("from a"))
    );
    // One too big for the feed's message cannot be shown on B (no rule can be checked
    // without it): B's subscriber is told it missed something.
    let big = create(
        &a,
        None,
        "posts",
        json!({"title": "big", "body": "x".repeat(10_000)}),
    )
    .await;
    let frame = sse.next(WAIT).await.expect("the create crosses nodes");
    assert_eq!(frame.data["record"]["title"], "big");
    let path = format!(
        "/api/collections/posts/records/{}",
        big["id"].as_str().unwrap()
    );
    assert_eq!(a.send("DELETE", &path, None, None).await.0, 204);
    let frame = sse.next(WAIT).await.expect("word of the delete");
    assert_eq!(
        (frame.event.as_str(), &frame.data),
        ("PB_RESYNC", &json!({}))
    );
}

/// On PostgreSQL: when a node's feed from the other nodes drops, its clients are told with
/// `PB_RESYNC` (events written meanwhile are unknown there), and delivery goes on after.
#[tokio::test]
async fn a_node_whose_feed_dropped_tells_its_clients_to_resync() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let url = a.pg_url.clone().unwrap();
    let mut sse = Sse::connect(&b.client, &b.base).await;
    assert_eq!(subscribe(&b, &sse, None, &["posts/*"]).await.0, 204);
    assert!(kulisse_testkit::cut_listeners(&url).await >= 2);
    let frame = sse.next(WAIT).await.expect("a resync event");
    assert_eq!(
        (frame.event.as_str(), &frame.data),
        ("PB_RESYNC", &json!({}))
    );
    // Events flow again once the feed is back. (The resync above may also be the one of
    // B's first connect, reported late on a busy machine, with the reconnect still to
    // come: a write then can be missed, and that reconnect announces another resync.)
    let deadline = std::time::Instant::now() + WAIT * 2;
    'flowing: loop {
        assert!(
            std::time::Instant::now() < deadline,
            "events never flowed again"
        );
        create(&a, None, "posts", json!({"title": "after"})).await;
        while let Some(frame) = sse.next(Duration::from_millis(500)).await {
            if frame.event != "PB_RESYNC" {
                assert_eq!(frame.data["record"]["title"], "after", "{}", frame.raw);
                break 'flowing;
            }
        }
    }
}

async fn a_truncate_announces_a_delete_per_record_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    for title in ["one", "two"] {
        create(&srv, None, "posts", json!({ "title": title })).await;
    }
    let mut sse = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(subscribe(&srv, &sse, None, &["posts/*"]).await.0, 204);
    let (s, body) = srv
        .send("DELETE", "/api/collections/posts/truncate", Some(&su), None)
        .await;
    assert_eq!(s, 204, "{body}");
    let mut deleted: Vec<(String, String)> = sse
        .drain(QUIET)
        .await
        .iter()
        .map(|f| {
            let title = f.data["record"]["title"].as_str().unwrap_or_default();
            (
                f.data["action"].as_str().unwrap().to_owned(),
                title.to_owned(),
            )
        })
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("delete".into(), "one".into()),
            ("delete".into(), "two".into())
        ]
    );
}

/// The rule matrix on the realtime channel: for owner, relation, `@collection` and
/// `@request.auth` rules, and for a guest, two users and a superuser, the creates a
/// subscriber receives are exactly the records the same requester lists through the API
/// (the in-memory evaluator against the engine's SQL).
async fn subscribers_receive_exactly_what_their_list_rule_lists() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (alice, alice_token) = user(&srv, &su, "alice@example.com").await;
    let (bob, bob_token) = user(&srv, &su, "bob@example.com").await;
    let path = format!("/api/collections/users/records/{alice}");
    let (s, _) = srv
        .send("PATCH", &path, Some(&su), Some(json!({"verified": true})))
        .await;
    assert_eq!(s, 200);
    let allowed = json!({"name": "allowed", "fields": [
        {"name": "user", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]});
    assert_eq!(
        srv.send("POST", "/api/collections", Some(&su), Some(allowed))
            .await
            .0,
        200
    );
    create(&srv, Some(&su), "allowed", json!({"user": bob})).await;
    let rules = [
        "owner = @request.auth.id",
        "owner.verified = true",
        "@collection.allowed.user ?= @request.auth.id",
        "status = 'public' || owner = @request.auth.id",
        "@request.auth.verified = true && status != 'hidden'",
    ];
    let actors = [
        ("guest", None),
        ("alice", Some(alice_token.as_str())),
        ("bob", Some(bob_token.as_str())),
        ("superuser", Some(su.as_str())),
    ];
    for (n, rule) in rules.iter().enumerate() {
        let name = format!("matrix{n}");
        let def = json!({"name": name, "listRule": rule, "fields": [
            {"name": "status", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]});
        let (s, body) = srv
            .send("POST", "/api/collections", Some(&su), Some(def))
            .await;
        assert_eq!(s, 200, "{rule}: {body}");
        let mut streams = Vec::new();
        for (who, token) in actors {
            let sse = Sse::connect(&srv.client, &srv.base).await;
            let topic = format!("{name}/*");
            assert_eq!(subscribe(&srv, &sse, token, &[&topic]).await.0, 204);
            streams.push((who, token, sse));
        }
        for owner in [alice.as_str(), bob.as_str(), ""] {
            for status in ["public", "hidden", ""] {
                create(
                    &srv,
                    Some(&su),
                    &name,
                    json!({"owner": owner, "status": status}),
                )
                .await;
            }
        }
        for (who, token, mut sse) in streams {
            let mut received: Vec<String> = sse
                .drain(QUIET)
                .await
                .iter()
                .map(|f| f.data["record"]["id"].as_str().unwrap().to_owned())
                .collect();
            let list = format!("/api/collections/{name}/records?perPage=100");
            let (s, page) = srv.send("GET", &list, token, None).await;
            assert_eq!(s, 200, "{page}");
            let mut listed: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            received.sort();
            listed.sort();
            assert_eq!(received, listed, "rule {rule:?}, subscriber {who}");
        }
    }
}

/// A subscriber that stops reading is disconnected once its outbox is full, and the others
/// (and the writers) go on unaffected.
async fn a_subscriber_that_stops_reading_is_dropped_and_others_go_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    // The stalled client: a raw socket with a small receive buffer that reads PB_CONNECT,
    // subscribes, and then never reads again.
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr.parse().unwrap()).await.unwrap();
    let get = format!("GET /api/realtime HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stalled.write_all(get.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 4096];
    let mut seen = String::new();
    while !seen.contains("\"clientId\":\"") || !seen.contains("\"}") {
        let n = stalled.read(&mut head).await.unwrap();
        assert!(n > 0, "the stream ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&head[..n]));
    }
    let start = seen.find("\"clientId\":\"").unwrap() + 12;
    let stalled_id = seen[start..start + 40].to_owned();
    let subscription = json!({"clientId": stalled_id, "subscriptions": ["posts/*"]});
    let (s, _) = srv
        .send("POST", "/api/realtime", None, Some(subscription.clone()))
        .await;
    assert_eq!(s, 204);
    let mut reader = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(subscribe(&srv, &reader, None, &["posts/*"]).await.0, 204);

    let text = "x".repeat(8000);
    let mut created = 0;
    loop {
        create(&srv, None, "posts", json!({ "body": text })).await;
        created += 1;
        let frame = reader
            .next(WAIT)
            .await
            .expect("the reading subscriber keeps up");
        assert_eq!(frame.data["action"], "create");
        let (s, _) = srv
            .send("POST", "/api/realtime", None, Some(subscription.clone()))
            .await;
        if s == 404 {
            break;
        }
        assert!(created < 3000, "the stalled client was never dropped");
    }
    assert!(
        created > 1000,
        "dropped only once its outbox was full ({created})"
    );
    drop(stalled);
}
