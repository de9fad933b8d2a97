//! What a requester may not see cannot be recovered through filters or sort, at any hop.
//!
//! The property: two records that differ only in a value the requester may not see (the
//! hidden email of the user they point to) are indistinguishable by every filter and sort
//! a guest or a user can send, through relations, multi-relations, two hops and
//! back-relations alike.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use kulisse_testkit::{TestServer, urlencode};

/// Emails that differ from the first character on, so any prefix search tells them apart.
const HIDDEN_A: &str = "alpha@x.io";
const HIDDEN_B: &str = "bravo@y.io";
const VISIBLE: &str = "victor@z.io";

struct Fixture {
    srv: TestServer,
    /// Logged-in tokens: the owner of the hidden address A, and a bystander (V).
    owner_a: String,
    bystander: String,
    /// Record ids by name: `uA`, `uB`, `uV` (users), `lA`, `lB`, `lV` (links), `hA`, `hB`.
    ids: std::collections::BTreeMap<&'static str, String>,
}

async fn create(srv: &TestServer, su: &str, collection: &str, body: Value) -> String {
    let (s, rec) = srv
        .send(
            "POST",
            &format!("/api/collections/{collection}/records"),
            Some(su),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{rec}");
    rec["id"].as_str().unwrap().to_owned()
}

/// Users listable by anyone, with two hidden emails and one visible; `links` point at them
/// by a single and a multiple relation; `hops` point at links (two hops to an email).
async fn fixture() -> Fixture {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, users) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"listRule": "", "viewRule": ""})),
        )
        .await;
    assert_eq!(s, 200, "{users}");
    let mut ids = std::collections::BTreeMap::new();
    for (key, email, visible) in [
        ("uA", HIDDEN_A, false),
        ("uB", HIDDEN_B, false),
        ("uV", VISIBLE, true),
    ] {
        let body = json!({"email": email, "emailVisibility": visible, "password": "12345678",
            "passwordConfirm": "12345678", "name": "same"});
        ids.insert(key, create(&srv, &su, "users", body).await);
    }
    let (s, links) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({
            "name": "links", "listRule": "", "viewRule": "",
            "fields": [
                {"name": "member", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
                {"name": "members", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5}
            ]})))
        .await;
    assert_eq!(s, 200, "{links}");
    let (s, hops) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({
            "name": "hops", "listRule": "", "viewRule": "",
            "fields": [{"name": "x", "type": "relation", "collectionId": links["id"], "maxSelect": 1}]})))
        .await;
    assert_eq!(s, 200, "{hops}");
    for (link, hop, user) in [("lA", "hA", "uA"), ("lB", "hB", "uB"), ("lV", "hV", "uV")] {
        let u = ids[user].clone();
        let l = create(&srv, &su, "links", json!({"member": u, "members": [u]})).await;
        ids.insert(hop, create(&srv, &su, "hops", json!({"x": l})).await);
        ids.insert(link, l);
    }
    let owner_a = srv.login("users", HIDDEN_A, "12345678").await;
    let bystander = srv.login("users", VISIBLE, "12345678").await;
    Fixture {
        srv,
        owner_a,
        bystander,
        ids,
    }
}

fn ids_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every filter a client could aim at the hidden addresses: each path that reaches an
/// email, with every operator, against prefixes and whole values of both addresses.
fn probes() -> Vec<(&'static str, String)> {
    let paths = [
        ("links", "member.email"),
        ("links", "member.email:lower"),
        ("links", "members.email"),
        ("hops", "x.member.email"),
        ("hops", "x.members.email"),
        ("users", "email"),
        ("users", "links_via_member.member.email"),
        ("users", "links_via_members.members.email"),
    ];
    let ops = [
        "=", "!=", "~", "!~", ">", "<", ">=", "<=", "?=", "?!=", "?~", "?!~", "?>",
    ];
    let mut values = vec![String::new()];
    for email in [HIDDEN_A, HIDDEN_B] {
        values.push(email.to_owned());
        values.push(format!("{}%", &email[..1]));
        values.push(email[..2].to_owned());
    }
    let mut out = Vec::new();
    for (collection, path) in paths {
        for op in ops {
            for v in &values {
                out.push((collection, format!("{path} {op} '{v}'")));
            }
        }
    }
    out
}

async fn no_filter_or_sort_tells_records_apart_by_a_hidden_email() {
    let f = fixture().await;
    let srv = &f.srv;
    let pairs = [
        ("links", "lA", "lB"),
        ("hops", "hA", "hB"),
        ("users", "uA", "uB"),
    ];
    for (who, token) in [
        ("guest", None),
        ("owner of A", Some(f.owner_a.as_str())),
        ("bystander", Some(f.bystander.as_str())),
    ] {
        for (collection, filter) in probes() {
            let url = format!(
                "/api/collections/{collection}/records?perPage=100&filter={}",
                urlencode(&filter)
            );
            let (s, list) = srv.send("GET", &url, token, None).await;
            if s != 200 {
                // A refused filter reveals nothing either, but it must be a client error.
                assert_eq!(s, 400, "{who}: {collection} {filter}: {list}");
                continue;
            }
            let found: BTreeSet<String> = ids_of(&list).into_iter().collect();
            for (c, a, b) in pairs {
                if c == collection {
                    assert_eq!(
                        found.contains(&f.ids[a]),
                        found.contains(&f.ids[b]),
                        "{who}: `{filter}` on {collection} tells {a} from {b}"
                    );
                }
            }
        }
        // Sort: ascending and descending by the hidden value give the same order.
        for (collection, key) in [
            ("links", "member.email"),
            ("hops", "x.member.email"),
            ("users", "email"),
        ] {
            let mut orders = Vec::new();
            for dir in ["", "-"] {
                let url = format!("/api/collections/{collection}/records?sort={dir}{key},id");
                let (s, list) = srv.send("GET", &url, token, None).await;
                assert_eq!(s, 200, "{who}: sort {dir}{key}: {list}");
                let (a, b) = pairs
                    .iter()
                    .find(|p| p.0 == collection)
                    .map(|p| (p.1, p.2))
                    .unwrap();
                let order: Vec<String> = ids_of(&list)
                    .into_iter()
                    .filter(|id| *id == f.ids[a] || *id == f.ids[b])
                    .collect();
                orders.push(order);
            }
            assert_eq!(
                orders[0], orders[1],
                "{who}: sort by {key} reveals the order"
            );
        }
    }
}

/// The guard does not hide what is visible: a visible email matches through every hop.
async fn visible_emails_still_match_through_relations() {
    let f = fixture().await;
    let probes = [
        ("links", "member.email = 'victor@z.io'", "lV"),
        ("links", "members.email ?= 'victor@z.io'", "lV"),
        ("hops", "x.member.email ~ 'vic%'", "hV"),
        ("users", "email = 'victor@z.io'", "uV"),
        (
            "users",
            "links_via_member.member.email ?= 'victor@z.io'",
            "uV",
        ),
    ];
    for (collection, filter, want) in probes {
        let url = format!(
            "/api/collections/{collection}/records?filter={}",
            urlencode(filter)
        );
        let (s, list) = f.srv.send("GET", &url, None, None).await;
        assert_eq!(s, 200, "{filter}: {list}");
        assert_eq!(ids_of(&list), vec![f.ids[want].clone()], "{filter}");
    }
    // Sorted by a visible email, the visible record's value orders it.
    let (s, list) = f
        .srv
        .send(
            "GET",
            "/api/collections/links/records?sort=-member.email,id",
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(ids_of(&list)[0], f.ids["lV"]);
}

/// PB compat: sorting through a relation applies the related collection's list rule like a
/// filter does, for guests and users alike (it used to be a 400 for users), so the order
/// never rests on records the requester may not list.
async fn sorting_through_an_unlistable_relation_keeps_only_what_the_rule_shows() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, posts) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({
            "name": "posts", "listRule": "", "viewRule": "",
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}
            ]})))
        .await;
    assert_eq!(s, 200, "{posts}");
    let mut post_of = std::collections::BTreeMap::new();
    for (email, name) in [("u1@x.io", "zed"), ("u2@x.io", "amy"), ("u3@x.io", "kim")] {
        let body = json!({"email": email, "password": "12345678", "passwordConfirm": "12345678", "name": name});
        let user = create(&srv, &su, "users", body).await;
        let post = create(&srv, &su, "posts", json!({"title": name, "author": user})).await;
        post_of.insert(email, post);
    }
    let u1 = srv.login("users", "u1@x.io", "12345678").await;
    for sort in ["author.name", "-author.created", "author.email"] {
        let url = format!("/api/collections/posts/records?sort={sort}");
        let (s, guest) = srv.send("GET", &url, None, None).await;
        assert_eq!(s, 200, "guest {sort}: {guest}");
        assert_eq!(guest["totalItems"], 0, "guest {sort}: {guest}");
        let (s, user) = srv.send("GET", &url, Some(&u1), None).await;
        assert_eq!(s, 200, "user {sort}: {user}");
        assert_eq!(
            ids_of(&user),
            vec![post_of["u1@x.io"].clone()],
            "user {sort}"
        );
    }
    let (s, all) = srv
        .send(
            "GET",
            "/api/collections/posts/records?sort=author.name",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 200, "{all}");
    let order: Vec<String> = ["u2@x.io", "u3@x.io", "u1@x.io"]
        .iter()
        .map(|e| post_of[e].clone())
        .collect();
    assert_eq!(ids_of(&all), order, "superuser sorts by every author");
}

kulisse_testkit::engine_tests!(
    no_filter_or_sort_tells_records_apart_by_a_hidden_email,
    visible_emails_still_match_through_relations,
    sorting_through_an_unlistable_relation_keeps_only_what_the_rule_shows
);
