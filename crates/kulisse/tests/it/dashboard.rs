//! The dashboard at `/_/` over real HTTP, on both engines: the install link, sign-in and
//! its cookie, forgery guards, and values shown as text. (Its pages in a real browser are
//! driven by `dashboard-tests/`.)

use kulisse_testkit::{SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestServer};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::json;

/// A browser's view of the dashboard: its session cookie, sent as a browser would.
struct Browser<'a> {
    srv: &'a TestServer,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(srv: &'a TestServer) -> Browser<'a> {
        Browser { srv, cookie: None }
    }

    fn origin(&self) -> String {
        self.srv.base.clone()
    }

    async fn get(&self, path: &str) -> Response {
        let mut req = self.srv.client.get(self.srv.url(path));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// A form post from this site's pages (`Origin` is ours) unless `origin` says otherwise.
    async fn post(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Response {
        let origin = origin.map_or_else(|| self.origin(), str::to_owned);
        let mut req = self
            .srv
            .client
            .post(self.srv.url(path))
            .header("origin", origin)
            .form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// Keeps the session cookie a response sets.
    fn keep_cookie(&mut self, res: &Response) -> String {
        let set = set_cookie(res.headers());
        self.cookie = Some(set.split(';').next().unwrap().to_owned());
        set
    }

    async fn sign_in(&mut self) {
        let res = self
            .post(
                "/_/login",
                &[("email", SUPERUSER_EMAIL), ("password", SUPERUSER_PASSWORD)],
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        self.keep_cookie(&res);
    }

    /// The form token of a signed-in page.
    async fn form_token(&self) -> String {
        let page = self.get("/_/collections/users").await.text().await.unwrap();
        let at = page
            .find(r#"name="_csrf" value=""#)
            .expect("a signed-in page has a form token");
        let rest = &page[at + r#"name="_csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

fn set_cookie(headers: &HeaderMap) -> String {
    headers
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `text` as the pages' templates escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn location(res: &Response) -> &str {
    res.headers()[LOCATION].to_str().unwrap()
}

/// The printed link makes the first superuser and signs them in, once; a wrong or reused
/// link makes nobody, from any address.
async fn the_install_link_makes_the_first_superuser_once() {
    let (srv, link) = TestServer::start_fresh().await;
    let path = link.strip_prefix(&srv.base).unwrap().to_owned();
    let mut browser = Browser::new(&srv);

    let home = browser.get("/_/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&home), "/_/login?next=%2F_%2F");

    let form = browser.get(&path).await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(
        form.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("Create the first superuser")
    );

    // Without the token, or with another, nothing is made.
    let last = if path.ends_with('x') { "y" } else { "x" };
    let forged = format!("{}{last}", &path[..path.len() - 1]);
    for wrong in ["/_/install/", "/_/install/abc", forged.as_str()] {
        let res = browser
            .post(
                wrong,
                &[
                    ("email", "eve@example.com"),
                    ("password", "12345678"),
                    ("passwordConfirm", "12345678"),
                ],
                None,
            )
            .await;
        assert!(
            matches!(res.status().as_u16(), 404),
            "{wrong}: {}",
            res.status()
        );
    }
    // A form posted from another site is refused, even with the link.
    let res = browser
        .post(
            &path,
            &[
                ("email", "eve@example.com"),
                ("password", "12345678"),
                ("passwordConfirm", "12345678"),
            ],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The form's own checks.
    let res = browser
        .post(
            &path,
            &[
                ("email", "first@example.com"),
                ("password", "12345678"),
                ("passwordConfirm", "12345679"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&escaped("Values don't match."))
    );

    // Two people racing with the link: one superuser is made, and signed in.
    let mut rival = Browser::new(&srv);
    let form = |email| {
        [
            ("email", email),
            ("password", "12345678"),
            ("passwordConfirm", "12345678"),
        ]
    };
    let (first, second) = (form("first@example.com"), form("rival@example.com"));
    let (mine, theirs) = tokio::join!(
        browser.post(&path, &first, None),
        rival.post(&path, &second, None),
    );
    let made = |res: &Response| res.headers().get(LOCATION).is_some_and(|l| l == "/_/");
    assert!(
        made(&mine) != made(&theirs),
        "exactly one of two racing forms makes a superuser"
    );
    let (res, winner) = if made(&mine) {
        (mine, "first@example.com")
    } else {
        std::mem::swap(&mut browser, &mut rival);
        (theirs, "rival@example.com")
    };
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = browser.keep_cookie(&res);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/_/", "Max-Age=86400"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let home = browser.get("/_/").await;
    assert_eq!(location(&home), "/_/collections/users");
    let users = browser
        .get("/_/collections/users")
        .await
        .text()
        .await
        .unwrap();
    assert!(users.contains(winner), "signed in as the new superuser");

    // Used once: the link now leads to the login form, and makes nobody else.
    let again = Browser::new(&srv);
    let res = again
        .post(
            &path,
            &[
                ("email", "second@example.com"),
                ("password", "12345678"),
                ("passwordConfirm", "12345678"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/_/login");
    let token = srv.login("_superusers", winner, "12345678").await;
    let (status, list) = srv
        .send(
            "GET",
            "/api/collections/_superusers/records",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["totalItems"], 1, "{list}");
}

/// Signing in sets the session cookie; a wrong password does not; signing out needs the
/// form token and this site's origin, and ends the session.
async fn sign_in_and_out_are_guarded() {
    let srv = TestServer::start().await;
    let mut browser = Browser::new(&srv);
    let wrong = browser
        .post(
            "/_/login",
            &[("email", SUPERUSER_EMAIL), ("password", "nope-nope")],
            None,
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong email or password.")
    );
    let cross = browser
        .post(
            "/_/login",
            &[("email", SUPERUSER_EMAIL), ("password", SUPERUSER_PASSWORD)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);

    browser.sign_in().await;
    let token = browser.form_token().await;
    // No token, a wrong one, another site's origin, or a browser saying cross-site: refused.
    for (form, origin) in [
        (vec![], None),
        (vec![("_csrf", "forged")], None),
        (vec![("_csrf", token.as_str())], Some("http://evil.example")),
    ] {
        let res = browser.post("/_/logout", &form, origin).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{form:?} {origin:?}");
    }
    let res = srv
        .client
        .post(srv.url("/_/logout"))
        .header("cookie", browser.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Still signed in after every refusal.
    assert_eq!(
        browser.get("/_/collections/users").await.status(),
        StatusCode::OK
    );

    let out = browser
        .post("/_/logout", &[("_csrf", token.as_str())], None)
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(out.headers()).contains("Max-Age=0"));
    // A session cookie that is no superuser's token is no session.
    browser.cookie = Some("kulisse_session=not-a-token".into());
    assert_eq!(
        browser.get("/_/collections/users").await.status(),
        StatusCode::SEE_OTHER
    );
    // A user's token is not a superuser's.
    let user = srv.unique_email("dash");
    srv.create_user(&user, "12345678").await;
    let user_token = srv.login("users", &user, "12345678").await;
    browser.cookie = Some(format!("kulisse_session={user_token}"));
    assert_eq!(
        browser.get("/_/collections/users").await.status(),
        StatusCode::SEE_OTHER
    );
}

/// Record values, filters and names are shown as text: markup in them never becomes
/// markup on the page.
async fn values_are_shown_as_text() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (status, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "notes", "type": "base", "fields": [{"name": "title", "type": "text"}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let evil = r#"<script>alert(1)</script>"onmouseover="alert(2)"#;
    let (status, body) = srv
        .send(
            "POST",
            "/api/collections/notes/records",
            Some(&su),
            Some(json!({"title": evil})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let page = browser
        .get("/_/collections/notes")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains(r#""onmouseover"#), "{page}");
    assert!(page.contains(&escaped(evil)), "{page}");
    let filter = r#"title = "\"><script>alert(3)</script>""#;
    let query = serde_urlencoded::to_string([("filter", filter)]).unwrap();
    let page = browser
        .get(&format!("/_/collections/notes?{query}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(3)"), "{page}");
}

/// A filter the API would refuse shows the API's reason beside the filter box; a good one
/// narrows the list; the count comes apart.
async fn the_records_browser_filters_sorts_and_counts() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.send(
        "POST",
        "/api/collections",
        Some(&su),
        Some(json!({"name": "items", "type": "base", "fields": [{"name": "title", "type": "text"}, {"name": "price", "type": "number"}]})),
    )
    .await;
    for (title, price) in [("apple", 3), ("banana", 1), ("cherry", 2)] {
        let (status, body) = srv
            .send(
                "POST",
                "/api/collections/items/records",
                Some(&su),
                Some(json!({"title": title, "price": price})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;

    let (status, api) = srv
        .send(
            "GET",
            "/api/collections/items/records?filter=title%20~",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let reason = api["data"]["filter"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = browser.get("/_/collections/items?filter=title%20~").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains(&escaped(&reason)), "{reason} in {page}");
    assert!(page.contains(r#"aria-invalid="true""#));

    let page = browser
        .get("/_/collections/items?filter=price%20%3E%201&sort=-price")
        .await
        .text()
        .await
        .unwrap();
    let (apple, cherry) = (
        page.find(">apple<").unwrap(),
        page.find(">cherry<").unwrap(),
    );
    assert!(apple < cherry, "sorted by price, highest first");
    assert!(!page.contains(">banana<"));
    assert!(page.contains(r#"aria-sort="descending""#));

    let count = browser
        .get("/_/collections/items/count?filter=price%20%3E%201")
        .await;
    assert_eq!(count.text().await.unwrap(), "2 records");
    let page = browser
        .get("/_/collections/items?columns=title")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">title</a></th>"), "{page}");
    assert!(!page.contains(">price</a></th>"), "{page}");
}

/// `superuserIPs` holds for the dashboard as for the API.
async fn superusers_from_elsewhere_are_refused() {
    let srv = TestServer::start().await;
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let su = srv.superuser_token().await;
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"superuserIPs": ["10.1.2.3"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        browser.get("/_/collections/users").await.status(),
        StatusCode::FORBIDDEN
    );
}

/// Assets are served at stamped addresses, cached for good, gzipped for clients that
/// take it; an old stamp is not served.
async fn assets_are_stamped_cached_and_compressed() {
    let srv = TestServer::start().await;
    let login = srv.client.get(srv.url("/_/login")).send().await.unwrap();
    let page = login.text().await.unwrap();
    let at = page.find("/_/assets/").unwrap();
    let css = &page[at..at + page[at..].find('"').unwrap()];
    assert!(css.ends_with("/admin.css"), "{css}");
    let res = srv
        .client
        .get(srv.url(css))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["content-type"], "text/css");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let plain = srv.client.get(srv.url(css)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(
        plain
            .text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
    let stale = srv
        .client
        .get(srv.url("/_/assets/000000000000/admin.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);
}

/// The record forms write through the records service: the browser's controls become
/// typed values, a refusal comes back beside its field, and every form needs the session's
/// token.
async fn records_are_written_through_the_forms() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (status, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "kit", "type": "base", "fields": [
                {"name": "title", "type": "text"},
                {"name": "done", "type": "bool"},
                {"name": "tags", "type": "select", "values": ["a", "b"], "maxSelect": 2},
                {"name": "at", "type": "date"},
                {"name": "data", "type": "json"},
                {"name": "where", "type": "geoPoint"},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let evil = r#"<script>alert(1)</script>"onmouseover="x"#;
    let form = |token: &str, data: &str| {
        reqwest::multipart::Form::new()
            .text("_csrf", token.to_owned())
            .text("title", evil)
            .text("done", "false")
            .text("done", "true")
            .text("tags", "")
            .text("tags", "b")
            .text("at", "2026-01-02T03:04")
            .text("data", data.to_owned())
            .text("where.lon", "13.4")
            .text("where.lat", "52.5")
    };
    let post = |path: &str, form: reqwest::multipart::Form| {
        srv.client
            .post(srv.url(path))
            .header("cookie", browser.cookie.clone().unwrap())
            .header("origin", srv.base.clone())
            .multipart(form)
    };
    let res = post("/_/collections/kit/records/new", form("forged", "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(
        "/_/collections/kit/records/new",
        form(&token, r#"{"k": [1]}"#),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/_/collections/kit");
    let (_, list) = srv
        .send("GET", "/api/collections/kit/records", Some(&su), None)
        .await;
    let record = &list["items"][0];
    assert_eq!(record["title"], evil);
    assert_eq!(record["done"], true);
    assert_eq!(record["tags"], json!(["b"]));
    assert_eq!(record["at"], "2026-01-02 03:04:00.000Z");
    assert_eq!(record["data"], json!({"k": [1]}));
    assert_eq!(record["where"], json!({"lon": 13.4, "lat": 52.5}));
    let id = record["id"].as_str().unwrap().to_owned();
    let path = format!("/_/collections/kit/records/{id}");

    let page = browser.get(&path).await.text().await.unwrap();
    assert!(
        page.contains(&escaped(evil)) && !page.contains("<script>alert"),
        "{page}"
    );
    assert!(
        page.contains(r#"value="2026-01-02T03:04:00.000""#),
        "{page}"
    );

    let res = post(&path, form(&token, "{oops")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("Must be valid JSON"), "{page}");
    assert!(page.contains("{oops"), "what was typed stays: {page}");

    let delete = format!("{path}/delete");
    let res = browser.post(&delete, &[("_csrf", "forged")], None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .post(&delete, &[("_csrf", token.as_str())], None)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, list) = srv
        .send("GET", "/api/collections/kit/records", Some(&su), None)
        .await;
    assert_eq!(list["totalItems"], 0, "{list}");
}

kulisse_testkit::engine_tests!(
    records_are_written_through_the_forms,
    the_install_link_makes_the_first_superuser_once,
    sign_in_and_out_are_guarded,
    values_are_shown_as_text,
    the_records_browser_filters_sorts_and_counts,
    superusers_from_elsewhere_are_refused,
    assets_are_stamped_cached_and_compressed,
);
