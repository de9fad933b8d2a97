//! Access-rule and injection properties: no channel reveals what the rules hide, and
//! hostile parameters are a 4xx or a literal match, never a 500 and never a change.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use kulisse_testkit::{TestServer, urlencode};

struct Fixture {
    srv: TestServer,
    su: String,
    owner: String,
    other: String,
    owner_id: String,
}

/// users u1 (owner) and u2 (other); posts with owner, hidden `secret`, `public` flag;
/// comments pointing at posts with an open list rule.
async fn fixture() -> Fixture {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let mut ids = Vec::new();
    for email in ["u1@example.com", "u2@example.com"] {
        let (s, u) = srv
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(
                    json!({"email": email, "password": "12345678", "passwordConfirm": "12345678"}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{u}");
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let rule = "owner = @request.auth.id || public = true";
    let (s, posts) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({"name": "posts", "listRule": rule, "viewRule": rule, "updateRule": "owner = @request.auth.id", "fields": [
            {"name": "title", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "public", "type": "bool"},
            {"name": "secret", "type": "text", "hidden": true}
        ]})))
        .await;
    assert_eq!(s, 200, "{posts}");
    let (s, c) = srv
        .send("POST", "/api/collections", Some(&su), Some(json!({"name": "comments", "listRule": "", "viewRule": "", "fields": [
            {"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1},
            {"name": "text", "type": "text"}
        ]})))
        .await;
    assert_eq!(s, 200, "{c}");
    for (i, (owner, public)) in [(0, false), (0, true), (1, false), (1, true), (0, false)]
        .into_iter()
        .enumerate()
    {
        let id = format!("post{i:011}");
        let body = json!({"id": id, "title": format!("t{i}"), "owner": ids[owner], "public": public, "secret": format!("s{i}")});
        let (s, _) = srv
            .send(
                "POST",
                "/api/collections/posts/records",
                Some(&su),
                Some(body),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = srv
            .send(
                "POST",
                "/api/collections/comments/records",
                Some(&su),
                Some(json!({"post": id, "text": format!("c{i}")})),
            )
            .await;
        assert_eq!(s, 200);
    }
    let owner = srv.login("users", "u1@example.com", "12345678").await;
    let other = srv.login("users", "u2@example.com", "12345678").await;
    Fixture {
        srv,
        su,
        owner,
        other,
        owner_id: ids[0].clone(),
    }
}

fn ids_of(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn no_channel_reveals_what_the_rules_hide() {
    let f = fixture().await;
    // The oracle: posts 1 and 3 are public; u1 owns 0, 1, 4; u2 owns 2, 3.
    let post = |i: usize| format!("post{i:011}");
    let expect = |owned: &[usize]| -> BTreeSet<String> { owned.iter().map(|&i| post(i)).collect() };
    let actors: [(&str, Option<&str>, BTreeSet<String>); 4] = [
        ("guest", None, expect(&[1, 3])),
        ("owner", Some(&f.owner), expect(&[0, 1, 3, 4])),
        ("other", Some(&f.other), expect(&[1, 2, 3])),
        ("superuser", Some(&f.su), expect(&[0, 1, 2, 3, 4])),
    ];
    for (name, token, visible) in &actors {
        let srv = &f.srv;
        let token = *token;
        let get = |url: String| async move { srv.send("GET", &url, token, None).await };
        // list and totals
        let (s, list) = get("/api/collections/posts/records?perPage=100".into()).await;
        assert_eq!(s, 200);
        assert_eq!(&ids_of(&list), visible, "{name}: list");
        assert_eq!(list["totalItems"], visible.len(), "{name}: totalItems");
        // hidden values
        let hidden_shown = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.get("secret").is_some());
        assert_eq!(hidden_shown, *name == "superuser", "{name}: hidden field");
        // view
        for i in 0..5 {
            let (s, _) = get(format!("/api/collections/posts/records/{}", post(i))).await;
            assert_eq!(s == 200, visible.contains(&post(i)), "{name}: view {i}");
        }
        // filter and sort on a visible field only narrow the visible set
        let (_, filtered) =
            get("/api/collections/posts/records?filter=title%20~%20't'&sort=-title".into()).await;
        assert!(ids_of(&filtered).is_subset(visible), "{name}: filter/sort");
        // filtering on the hidden field is refused for non-superusers
        let (s, _) = get("/api/collections/posts/records?filter=secret%3D's0'".into()).await;
        assert_eq!(s == 200, *name == "superuser", "{name}: hidden filter");
        // channels through other collections
        let (_, comments) =
            get("/api/collections/comments/records?perPage=100&expand=post".into()).await;
        let expanded: BTreeSet<String> = comments["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["expand"]["post"]["id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(&expanded, visible, "{name}: expand");
        let (_, through) =
            get("/api/collections/comments/records?perPage=100&filter=post.title%20~%20't'".into())
                .await;
        assert_eq!(
            through["items"].as_array().unwrap().len(),
            visible.len(),
            "{name}: filter through relation"
        );
        let (_, by_secret) =
            get("/api/collections/comments/records?filter=post.secret%3D's0'".into()).await;
        assert!(
            by_secret["items"]
                .as_array()
                .is_none_or(|i| i.is_empty() || *name == "superuser"),
            "{name}: hidden through relation"
        );
    }
    // writes: the other user cannot update the owner's private post, not even via batch
    let (s, _) = f
        .srv
        .send(
            "PATCH",
            "/api/collections/posts/records/post00000000000",
            Some(&f.other),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(s, 404);
    f.srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&f.su),
            Some(json!({"batch": {"enabled": true}})),
        )
        .await;
    let (s, _) = f
        .srv
        .send("POST", "/api/batch", Some(&f.other), Some(json!({"requests": [{"method": "PATCH", "url": "/api/collections/posts/records/post00000000000", "body": {"title": "x"}}]})))
        .await;
    assert_eq!(s, 400);
    let (_, p0) = f
        .srv
        .send(
            "GET",
            "/api/collections/posts/records/post00000000000",
            Some(&f.owner),
            None,
        )
        .await;
    assert_eq!(p0["title"], "t0");
    assert_eq!(p0["owner"], f.owner_id.as_str());
}

async fn hostile_parameters_are_refused_or_matched_literally() {
    let f = fixture().await;
    let evil_title = "x'); DROP TABLE posts; --";
    let (s, _) = f
        .srv
        .send(
            "POST",
            "/api/collections/posts/records",
            Some(&f.su),
            Some(json!({"id": "evil00000000001", "title": evil_title, "public": true})),
        )
        .await;
    assert_eq!(s, 200);
    let payloads = [
        "title = 'x'); DROP TABLE posts; --'",
        "title = \"x'); DROP TABLE posts; --\"",
        "title = '' OR 1=1 --",
        "1=1) OR (1=1",
        "title = 'a' UNION SELECT * FROM _collections",
        "title ~ '%' ; DELETE FROM posts",
        "owner.tokenKey != ''",
        "owner.password != ''",
        "title = '\u{202e}\u{0}\u{feff}'",
        "`title` = 'x'",
        "\"title\" = 'x'",
        "title = 'x' /* comment */",
        "@collection._collections.name != ''",
        "@request.auth.id = ''",
        &"(".repeat(500),
        &format!("title = '{}'", "a".repeat(4000)),
    ];
    for p in payloads {
        for param in ["filter", "sort", "fields", "expand"] {
            let url = format!("/api/collections/posts/records?{param}={}", urlencode(p));
            let (s, body) = f.srv.send("GET", &url, Some(&f.owner), None).await;
            assert!(matches!(s, 200 | 400 | 403), "{param}={p:?}: {s} {body}");
        }
    }
    // A quoted payload is just a value: it matches the record holding exactly that text.
    let url = format!(
        "/api/collections/posts/records?filter={}",
        urlencode(&format!("title = \"{evil_title}\""))
    );
    let (s, list) = f.srv.send("GET", &url, Some(&f.owner), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids_of(&list),
        ["evil00000000001".to_owned()].into_iter().collect()
    );
    // Nothing changed: every post and the schema are intact.
    let (_, all) = f
        .srv
        .send(
            "GET",
            "/api/collections/posts/records?perPage=100",
            Some(&f.su),
            None,
        )
        .await;
    assert_eq!(all["totalItems"], 6);
    let (s, _) = f
        .srv
        .send("GET", "/api/collections/comments", Some(&f.su), None)
        .await;
    assert_eq!(s, 200);
}

async fn schema_changes_that_break_rules_are_refused() {
    let f = fixture().await;
    // posts' own rules reference `owner` and `public`.
    let (s, posts) = f
        .srv
        .send("GET", "/api/collections/posts", Some(&f.su), None)
        .await;
    assert_eq!(s, 200);
    let fields: Vec<Value> = posts["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "public")
        .cloned()
        .collect();
    let (s, body) = f
        .srv
        .send(
            "PATCH",
            "/api/collections/posts",
            Some(&f.su),
            Some(json!({"fields": fields})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["data"]["listRule"]["code"], "validation_invalid_rule");
    // A rule of comments reaching into posts also protects posts' fields.
    let (s, _) = f
        .srv
        .send(
            "PATCH",
            "/api/collections/comments",
            Some(&f.su),
            Some(json!({"listRule": "post.title != ''"})),
        )
        .await;
    assert_eq!(s, 200);
    let fields: Vec<Value> = posts["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "title")
        .cloned()
        .collect();
    let (s, body) = f
        .srv
        .send(
            "PATCH",
            "/api/collections/posts",
            Some(&f.su),
            Some(json!({"fields": fields})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["data"]["fields"]["code"], "validation_rule_dependency");
    let (_, list) = f
        .srv
        .send("GET", "/api/collections/comments/records", None, None)
        .await;
    assert_eq!(list["totalItems"], 5, "the rule still works");
}

kulisse_testkit::engine_tests!(
    no_channel_reveals_what_the_rules_hide,
    hostile_parameters_are_refused_or_matched_literally,
    schema_changes_that_break_rules_are_refused
);

kulisse_testkit::engine_tests!(
    an_unknown_identity_and_a_wrong_password_take_the_same_time,
    requests_for_mail_take_the_same_time_whether_or_not_the_address_has_an_account,
);

/// The median of `samples`, in seconds.
fn median(samples: &mut [std::time::Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64()
}

/// `request-verification`, `request-password-reset` and `request-otp` answer an address
/// without an account as they answer one with an account: the same status and body shape,
/// and (interleaved samples, compared by their medians) the same time. The work that
/// differs (signing, storing a code, mailing) happens after the answer.
async fn requests_for_mail_take_the_same_time_whether_or_not_the_address_has_an_account() {
    let srv = TestServer::start().await;
    srv.without_rate_limits().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"otp": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    srv.create_user("known@example.com", "right-password").await;
    for (endpoint, status) in [
        ("request-verification", 204),
        ("request-password-reset", 204),
        ("request-otp", 200),
    ] {
        let path = format!("/api/collections/users/{endpoint}");
        let ask = |email: &'static str| {
            let (srv, path) = (&srv, &path);
            async move {
                let started = std::time::Instant::now();
                let (s, body) = srv
                    .send("POST", path, None, Some(json!({ "email": email })))
                    .await;
                let took = started.elapsed();
                assert_eq!(s, status, "{endpoint} {email}: {body}");
                let shape = body
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>());
                (took, shape)
            }
        };
        let (mut unknown, mut known) = (Vec::new(), Vec::new());
        for i in 0..30 {
            // The work after a known address's answer (bcrypt for a code) takes a core
            // for a while: each sample starts once it is done, and the order alternates.
            let mut pair = Vec::new();
            for email in if i % 2 == 0 {
                ["nobody@example.com", "known@example.com"]
            } else {
                ["known@example.com", "nobody@example.com"]
            } {
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                let (took, shape) = ask(email).await;
                let samples = if email.starts_with("nobody") {
                    &mut unknown
                } else {
                    &mut known
                };
                samples.push(took);
                pair.push(shape);
            }
            assert_eq!(pair[0], pair[1], "{endpoint}: the same answer");
        }
        let (unknown, known) = (median(&mut unknown), median(&mut known));
        assert!(
            (0.5..2.0).contains(&(unknown / known)),
            "{endpoint}: unknown address {unknown:.5} s, known {known:.5} s"
        );
    }
}

/// Login does the same bcrypt work for an unknown identity as for a wrong password (a
/// dummy hash), so timing tells nobody which addresses have accounts. Interleaved samples,
/// compared by their medians: without the dummy hash the unknown identity answers in well
/// under a tenth of the time.
async fn an_unknown_identity_and_a_wrong_password_take_the_same_time() {
    let srv = TestServer::start().await;
    srv.without_rate_limits().await;
    srv.create_user("known@example.com", "right-password").await;
    let login = |identity: &'static str| {
        let srv = &srv;
        async move {
            let started = std::time::Instant::now();
            let (s, _) = srv
                .send(
                    "POST",
                    "/api/collections/users/auth-with-password",
                    None,
                    Some(json!({"identity": identity, "password": "wrong-password"})),
                )
                .await;
            assert_eq!(s, 400);
            started.elapsed()
        }
    };
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        unknown.push(login("nobody@example.com").await);
        wrong.push(login("known@example.com").await);
    }
    let (unknown, wrong) = (median(&mut unknown), median(&mut wrong));
    let ratio = unknown / wrong;
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown identity {unknown:.4} s, wrong password {wrong:.4} s"
    );
}
