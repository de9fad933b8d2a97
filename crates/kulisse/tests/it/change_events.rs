//! Every write path announces what it changed once it commits, and whatever a node caches
//! about auth records follows: a token stops working the moment its record is gone or
//! changed, whichever path removed it (truncate, cascade, unlink, batch), on this node and
//! on another node sharing the PostgreSQL database.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use kulisse_testkit::{TestEngine, TestServer};

kulisse_testkit::engine_tests!(
    a_truncated_users_token_no_longer_refreshes,
    a_user_deleted_by_cascade_no_longer_refreshes,
    a_user_deleted_through_batch_no_longer_refreshes,
    a_users_relation_unlinked_by_a_delete_reads_fresh,
);

const PASSWORD: &str = "12345678";

/// Creates `users` member `email` and returns a token whose record is cached: the first
/// refresh reads the record, the second is answered from the cache.
async fn cached_user_token(srv: &TestServer, su: &str, collection: &str, extra: Value) -> String {
    let email = format!("{}@example.com", kulisse_schema::ids::new_record_id());
    let mut body = json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let path = format!("/api/collections/{collection}/records");
    let (s, created) = srv.send("POST", &path, Some(su), Some(body)).await;
    assert_eq!(s, 200, "{created}");
    let token = srv.login(collection, &email, PASSWORD).await;
    for _ in 0..2 {
        assert_eq!(refresh(srv, collection, &token).await.0, 200);
    }
    token
}

async fn refresh(srv: &TestServer, collection: &str, token: &str) -> (u16, Value) {
    let path = format!("/api/collections/{collection}/auth-refresh");
    srv.send("POST", &path, Some(token), None).await
}

/// On PostgreSQL, a second node on the same database, which cached the token too; the
/// assertions then run against both nodes.
async fn nodes(srv: &TestServer) -> Vec<TestServer> {
    match kulisse_testkit::ENGINE.try_with(|e| *e) {
        Ok(TestEngine::Postgres) => {
            vec![TestServer::join(srv.pg_url.as_deref().unwrap()).await]
        }
        _ => vec![],
    }
}

/// Waits until `token` is refused on `srv` (another node hears of a change within
/// milliseconds; this node must refuse at once).
async fn refused_on(srv: &TestServer, collection: &str, token: &str, wait: bool) {
    let deadline = Instant::now() + Duration::from_secs(if wait { 5 } else { 0 });
    loop {
        let (status, body) = refresh(srv, collection, token).await;
        if status == 401 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the token still refreshes ({status}): {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_truncated_users_token_no_longer_refreshes() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let token = cached_user_token(&srv, &su, "users", json!({})).await;
    let others = nodes(&srv).await;
    for other in &others {
        assert_eq!(refresh(other, "users", &token).await.0, 200);
    }
    let (s, body) = srv
        .send("DELETE", "/api/collections/users/truncate", Some(&su), None)
        .await;
    assert_eq!(s, 204, "{body}");
    refused_on(&srv, "users", &token, false).await;
    for other in &others {
        refused_on(other, "users", &token, true).await;
    }
}

/// `members` (auth) belong to an org with a required, cascading relation.
async fn members_of_orgs(srv: &TestServer, su: &str, cascade: bool) -> String {
    let (s, orgs) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(json!({"name": "orgs", "type": "base", "fields": [{"name": "title", "type": "text"}]})),
        )
        .await;
    assert_eq!(s, 200, "{orgs}");
    let relation = json!({"name": "org", "type": "relation", "collectionId": orgs["id"],
        "maxSelect": 1, "cascadeDelete": cascade, "required": cascade});
    let (s, members) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(
                json!({"name": "members", "type": "auth", "fields": [relation],
                "authRule": "", "viewRule": "id = @request.auth.id"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{members}");
    let (s, org) = srv
        .send(
            "POST",
            "/api/collections/orgs/records",
            Some(su),
            Some(json!({"title": "acme"})),
        )
        .await;
    assert_eq!(s, 200, "{org}");
    org["id"].as_str().unwrap().to_owned()
}

async fn a_user_deleted_by_cascade_no_longer_refreshes() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let org = members_of_orgs(&srv, &su, true).await;
    let token = cached_user_token(&srv, &su, "members", json!({"org": org})).await;
    let others = nodes(&srv).await;
    for other in &others {
        assert_eq!(refresh(other, "members", &token).await.0, 200);
    }
    let path = format!("/api/collections/orgs/records/{org}");
    let (s, body) = srv.send("DELETE", &path, Some(&su), None).await;
    assert_eq!(s, 204, "{body}");
    refused_on(&srv, "members", &token, false).await;
    for other in &others {
        refused_on(other, "members", &token, true).await;
    }
}

async fn a_user_deleted_through_batch_no_longer_refreshes() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"batch": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let token = cached_user_token(&srv, &su, "users", json!({})).await;
    let others = nodes(&srv).await;
    for other in &others {
        assert_eq!(refresh(other, "users", &token).await.0, 200);
    }
    let (_, me) = refresh(&srv, "users", &token).await;
    let id = me["record"]["id"].as_str().unwrap();
    let batch = json!({"requests": [
        {"method": "DELETE", "url": format!("/api/collections/users/records/{id}")},
    ]});
    let (s, body) = srv.send("POST", "/api/batch", Some(&su), Some(batch)).await;
    assert_eq!(s, 200, "{body}");
    refused_on(&srv, "users", &token, false).await;
    for other in &others {
        refused_on(other, "users", &token, true).await;
    }
}

/// An optional relation is unlinked, not cascaded: the member stays, and what its token
/// resolves to (the record every rule with `@request.auth` reads) no longer names the org.
async fn a_users_relation_unlinked_by_a_delete_reads_fresh() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let org = members_of_orgs(&srv, &su, false).await;
    let token = cached_user_token(&srv, &su, "members", json!({"org": org})).await;
    let others = nodes(&srv).await;
    for other in &others {
        assert_eq!(
            refresh(other, "members", &token).await.1["record"]["org"],
            org
        );
    }
    let path = format!("/api/collections/orgs/records/{org}");
    let (s, body) = srv.send("DELETE", &path, Some(&su), None).await;
    assert_eq!(s, 204, "{body}");
    let (s, me) = refresh(&srv, "members", &token).await;
    assert_eq!((s, &me["record"]["org"]), (200, &json!("")), "{me}");
    for other in &others {
        let deadline = Instant::now() + Duration::from_secs(5);
        while refresh(other, "members", &token).await.1["record"]["org"] != "" {
            assert!(
                Instant::now() < deadline,
                "the other node still names the org"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A change set longer than one NOTIFY payload (8,000 bytes) reaches the other node
/// whole: the member deleted last, after 400 cascaded posts, is forgotten there too.
#[tokio::test]
async fn a_change_set_too_long_for_one_notification_reaches_the_other_node_whole() {
    let Some(srv) = postgres_server().await else {
        return;
    };
    let su = srv.superuser_token().await;
    let org = members_of_orgs(&srv, &su, true).await;
    let (_, orgs) = srv
        .send("GET", "/api/collections/orgs", Some(&su), None)
        .await;
    let posts = json!({"name": "posts", "type": "base", "fields": [
        {"name": "org", "type": "relation", "collectionId": orgs["id"], "maxSelect": 1,
         "cascadeDelete": true}]});
    let (s, body) = srv
        .send("POST", "/api/collections", Some(&su), Some(posts))
        .await;
    assert_eq!(s, 200, "{body}");
    for _ in 0..400 {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/posts/records",
                Some(&su),
                Some(json!({"org": org})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let token = cached_user_token(&srv, &su, "members", json!({"org": org})).await;
    let other = TestServer::join(srv.pg_url.as_deref().unwrap()).await;
    assert_eq!(refresh(&other, "members", &token).await.0, 200);
    let path = format!("/api/collections/orgs/records/{org}");
    let (s, body) = srv.send("DELETE", &path, Some(&su), None).await;
    assert_eq!(s, 204, "{body}");
    refused_on(&other, "members", &token, true).await;
}

/// A node whose listener lost its connection while another node wrote cannot know what
/// it missed: on reconnecting it drops what it cached, so the token of a user truncated
/// meanwhile stops working there too.
#[tokio::test]
async fn a_node_that_missed_changes_while_disconnected_forgets_what_it_cached() {
    let Some(srv) = postgres_server().await else {
        return;
    };
    let su = srv.superuser_token().await;
    let token = cached_user_token(&srv, &su, "users", json!({})).await;
    let url = srv.pg_url.clone().unwrap();
    let other = TestServer::join(&url).await;
    assert_eq!(refresh(&other, "users", &token).await.0, 200);
    let cut = kulisse_testkit::cut_listeners(&url).await;
    assert!(cut >= 2, "both nodes' listeners were cut");
    let (s, body) = srv
        .send("DELETE", "/api/collections/users/truncate", Some(&su), None)
        .await;
    assert_eq!(s, 204, "{body}");
    refused_on(&other, "users", &token, true).await;
}

/// A PostgreSQL server for the tests that only make sense with several nodes.
async fn postgres_server() -> Option<TestServer> {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return None;
    }
    let srv = kulisse_testkit::ENGINE
        .scope(TestEngine::Postgres, TestServer::start())
        .await;
    Some(srv)
}
