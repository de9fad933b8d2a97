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

/// A form of owned values as the pairs `Browser::post` takes.
fn borrowed<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A 1x1 PNG.
fn image_bytes() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(1, 1)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
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

/// The dashboard's sign-in counts against the API's own login limit: past it, the form
/// says so and no session is made, even with the right password.
async fn sign_in_is_rate_limited_with_the_api() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let rules = json!({"rateLimits": {"enabled": true, "rules": [
        {"label": "*:auth", "audience": "", "duration": 60, "maxRequests": 3}]}});
    let (status, body) = srv
        .send("PATCH", "/api/settings", Some(&su), Some(rules))
        .await;
    assert_eq!(status, 200, "{body}");
    // The superuser's login above was the first of the three the window allows.
    let browser = Browser::new(&srv);
    let wrong = [("email", SUPERUSER_EMAIL), ("password", "wrong-wrong")];
    for _ in 0..2 {
        let res = browser.post("/_/login", &wrong, None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let right = [("email", SUPERUSER_EMAIL), ("password", SUPERUSER_PASSWORD)];
    let res = browser.post("/_/login", &right, None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get(SET_COOKIE).is_none());
    assert!(res.text().await.unwrap().contains("Too many attempts"));
    // The API's door shares the budget.
    let (status, _) = srv
        .send(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            None,
            Some(json!({"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 429);
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
            Some(json!({"name": "notes", "type": "base", "fields": [{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "maxSelect": 1}]})),
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
    // A file whose name is markup is listed as text (names are also cleaned on upload).
    let evil_name = r#""><img src=x onerror=alert(4)>.png"#;
    let png = image_bytes();
    let form = reqwest::multipart::Form::new()
        .text("title", "with a file")
        .part(
            "doc",
            reqwest::multipart::Part::bytes(png)
                .file_name(evil_name)
                .mime_str("image/png")
                .unwrap(),
        );
    let res = srv
        .client
        .post(srv.url("/api/collections/notes/records"))
        .header("authorization", su.clone())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let record: serde_json::Value = res.json().await.unwrap();
    let page = browser
        .get(&format!(
            "/_/collections/notes/records/{}",
            record["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<img src=x"), "{page}");
    // The record form removes the file when its "Remove" box is ticked.
    let stored = record["doc"].as_str().unwrap().to_owned();
    assert!(
        page.contains(&format!("Remove {}", escaped(&stored))),
        "{page}"
    );
    let token = browser.form_token().await;
    let remove = reqwest::multipart::Form::new()
        .text("_csrf", token)
        .text("title", "with a file")
        .text("doc-", stored.clone());
    let res = srv
        .client
        .post(srv.url(&format!(
            "/_/collections/notes/records/{}",
            record["id"].as_str().unwrap()
        )))
        .header("cookie", browser.cookie.clone().unwrap())
        .header("origin", srv.base.clone())
        .multipart(remove)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, after) = srv
        .send(
            "GET",
            &format!(
                "/api/collections/notes/records/{}",
                record["id"].as_str().unwrap()
            ),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(after["doc"], "", "{after}");
    // Collection names cannot be markup at all: the service refuses them.
    let (status, _) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "<script>x</script>", "type": "base"})),
        )
        .await;
    assert_eq!(status, 400);
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

/// Collections are designed through the collections service: a new one with a field, a
/// rule the service refuses shown beside the rule, a field removed, and deleting it.
async fn collections_are_designed_through_the_form() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let t = token.as_str();
    let res = browser
        .post(
            "/_/new-collection",
            &[("_csrf", "forged"), ("name", "shop"), ("type", "base")],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .post(
            "/_/new-collection",
            &[
                ("_csrf", t),
                ("name", "shop"),
                ("type", "base"),
                ("listRule", ""),
                ("viewRule", ""),
                ("viewRuleLocked", "true"),
                ("new.name", "size"),
                ("new.type", "select"),
                ("new.options", r#"{"values": ["S", "M"], "maxSelect": 1}"#),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/_/collections/shop/edit?saved=1");
    let (_, shop) = srv
        .send("GET", "/api/collections/shop", Some(&su), None)
        .await;
    assert_eq!(shop["listRule"], "");
    assert_eq!(shop["viewRule"], serde_json::Value::Null);
    let size = shop["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "size")
        .unwrap();
    assert_eq!(size["values"], json!(["S", "M"]));

    // The edit form shows the stored definition; the service's refusal of a rule comes
    // back beside the rule.
    let page = browser
        .get("/_/collections/shop/edit")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"name="fields.1.name" value="size""#),
        "{page}"
    );
    let size_id = size["id"].as_str().unwrap();
    let id_id = shop["fields"][0]["id"].as_str().unwrap();
    let edit = |rule: &'static str, remove: bool| {
        let mut form = vec![
            ("_csrf", t.to_owned()),
            ("name", "shop".to_owned()),
            ("listRule", rule.to_owned()),
            ("fields.0.id", id_id.to_owned()),
            ("fields.0.name", "id".to_owned()),
            ("fields.0.type", "text".to_owned()),
            (
                "fields.0.options",
                serde_json::to_string(&options_of(&shop["fields"][0])).unwrap(),
            ),
            ("fields.1.id", size_id.to_owned()),
            ("fields.1.name", "size".to_owned()),
            ("fields.1.type", "select".to_owned()),
            (
                "fields.1.options",
                r#"{"values": ["S", "M"], "maxSelect": 1}"#.to_owned(),
            ),
        ];
        if remove {
            form.push(("fields.1.remove", "true".to_owned()));
        }
        form
    };
    let form = edit("size = ", false);
    let pairs = borrowed(&form);
    let res = browser.post("/_/collections/shop/edit", &pairs, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"id="rule-listRule-error""#), "{page}");
    assert!(
        !page.contains(r#"name="fields.0.remove""#),
        "the refused form still knows id is a system field: {page}"
    );
    let (_, unchanged) = srv
        .send("GET", "/api/collections/shop", Some(&su), None)
        .await;
    assert_eq!(unchanged["listRule"], "", "a refused form changes nothing");

    let form = edit("size = 'S'", true);
    let pairs = borrowed(&form);
    let res = browser.post("/_/collections/shop/edit", &pairs, None).await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "a rule may not name a removed field"
    );
    let form = edit("", true);
    let pairs = borrowed(&form);
    let res = browser.post("/_/collections/shop/edit", &pairs, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, shop) = srv
        .send("GET", "/api/collections/shop", Some(&su), None)
        .await;
    assert!(
        shop["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"] != "size"),
        "{shop}"
    );

    let res = browser
        .post("/_/collections/shop/delete", &[("_csrf", t)], None)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _) = srv
        .send("GET", "/api/collections/shop", Some(&su), None)
        .await;
    assert_eq!(status, 404);
    // A system collection cannot be deleted: the service's refusal is shown.
    let res = browser
        .post("/_/collections/_superusers/delete", &[("_csrf", t)], None)
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// An auth collection's sign-in methods and token durations are set in its form, and the
/// service's refusal of one is shown.
async fn auth_options_are_set_through_the_form() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let create = |options: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("name", "members".to_owned()),
            ("type", "auth".to_owned()),
            ("authOptions", options.to_owned()),
        ]
    };
    let refused = create(r#"{"passwordAuth": {"enabled": true, "identityFields": ["nofield"]}}"#);
    let refused = borrowed(&refused);
    let res = browser.post("/_/new-collection", &refused, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains(r#"id="c-auth-error""#));
    let made = create(
        r#"{"otp": {"enabled": true, "duration": 300, "length": 6}, "authToken": {"duration": 3600}}"#,
    );
    let made = borrowed(&made);
    let res = browser.post("/_/new-collection", &made, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, members) = srv
        .send("GET", "/api/collections/members", Some(&su), None)
        .await;
    assert_eq!(members["otp"]["enabled"], true, "{members}");
    assert_eq!(members["authToken"]["duration"], 3600, "{members}");
    let page = browser
        .get("/_/collections/members/edit")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&#34;otp&#34;"),
        "the options are shown: {page}"
    );
    assert!(!page.contains("secret"), "no token secret is shown");
}

/// Collections export as JSON, and an import is reviewed before it is applied.
async fn collections_are_exported_and_imported_after_a_review() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let exported = browser.get("/_/collections.json").await;
    assert!(
        exported.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("collections.json")
    );
    let mut collections: Vec<serde_json::Value> = exported.json().await.unwrap();
    assert!(collections.iter().any(|c| c["name"] == "users"));
    assert!(
        !serde_json::to_string(&collections)
            .unwrap()
            .contains("\"secret\""),
        "no secrets"
    );
    collections.push(
        json!({"name": "notes", "type": "base", "fields": [{"name": "text", "type": "text"}]}),
    );
    let list = serde_json::to_string(&collections).unwrap();

    let res = browser
        .post(
            "/_/import-collections",
            &[
                ("_csrf", token.as_str()),
                ("step", "review"),
                ("collections", "{oops"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("This is no JSON"));
    let res = browser
        .post(
            "/_/import-collections",
            &[
                ("_csrf", token.as_str()),
                ("step", "review"),
                ("collections", list.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"<tr class="change-new"><td>notes</td>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<tr class="change-unchanged"><td>users</td>"#),
        "{page}"
    );
    let (status, _) = srv
        .send("GET", "/api/collections/notes", Some(&su), None)
        .await;
    assert_eq!(status, 404, "a review changes nothing");

    let res = browser
        .post(
            "/_/import-collections",
            &[
                ("_csrf", "forged"),
                ("step", "apply"),
                ("collections", list.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .post(
            "/_/import-collections",
            &[
                ("_csrf", token.as_str()),
                ("step", "apply"),
                ("collections", list.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, notes) = srv
        .send("GET", "/api/collections/notes", Some(&su), None)
        .await;
    assert_eq!(status, 200, "{notes}");
}

/// The relation picker offers the related collection's records matching what was typed,
/// labelled by their presentable fields, as text.
async fn the_relation_picker_finds_records_and_shows_them_as_text() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (status, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "brands", "type": "base", "fields": [{"name": "label", "type": "text", "presentable": true}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let evil = "<script>alert(1)</script>";
    for label in [evil, "Acme", "Other"] {
        srv.send(
            "POST",
            "/api/collections/brands/records",
            Some(&su),
            Some(json!({"label": label})),
        )
        .await;
    }
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let page = browser
        .get("/_/collections/brands/pick?for=%22%3E%3Cimg&q=script")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&escaped(evil)) && !page.contains(evil),
        "{page}"
    );
    assert!(!page.contains("Acme"), "only matches: {page}");
    assert!(
        page.contains(&escaped(r#""><img"#)) && !page.contains(r#""><img"#),
        "{page}"
    );
    let all = browser
        .get("/_/collections/brands/pick?for=x&q=")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(all.matches("data-pick=").count(), 3, "{all}");
    let quoted = browser
        .get("/_/collections/brands/pick?for=x&q=%22%20%7C%7C%20true%20%7C%7C%20%22")
        .await;
    assert_eq!(quoted.status(), StatusCode::OK);
    assert_eq!(
        quoted.text().await.unwrap().matches("data-pick=").count(),
        0,
        "typed quotes never widen the search"
    );
}

/// With MFA on for superusers, the dashboard asks for a mailed code after the password;
/// with OTP on, a code alone signs in.
async fn superusers_sign_in_with_a_second_factor_or_a_code() {
    let srv = TestServer::start().await;
    let Some(smtp) = kulisse_testkit::smtp_settings() else {
        return;
    };
    let su = srv.superuser_token().await;
    srv.without_rate_limits().await;
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": smtp})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let email = srv.unique_email("mfa-admin");
    let (status, body) = srv
        .send(
            "POST",
            "/api/collections/_superusers/records",
            Some(&su),
            Some(json!({"email": email, "password": "12345678", "passwordConfirm": "12345678"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/collections/_superusers",
            Some(&su),
            Some(json!({"otp": {"enabled": true, "length": 6}, "mfa": {"enabled": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hidden = |page: &str, name: &str| {
        let key = format!(r#"name="{name}" value=""#);
        let at = page
            .find(&key)
            .map(|i| i + key.len())
            .unwrap_or_else(|| panic!("{name} in {page}"));
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    };
    let browser = Browser::new(&srv);

    // Password, then the mailed code.
    let res = browser
        .post(
            "/_/login",
            &[("email", email.as_str()), ("password", "12345678")],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get(SET_COOKIE).is_none(),
        "no session after one factor"
    );
    let page = res.text().await.unwrap();
    let (otp_id, mfa_id) = (hidden(&page, "otpId"), hidden(&page, "mfaId"));
    assert!(!mfa_id.is_empty());
    let code = crate::otp::mailed_code(&email, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let form = |code: &str| {
        vec![
            ("email", email.clone()),
            ("otpId", otp_id.clone()),
            ("mfaId", mfa_id.clone()),
            ("code", code.to_owned()),
        ]
    };
    let wrong_form = form(wrong);
    let wrong_form = borrowed(&wrong_form);
    let res = browser.post("/_/login/code", &wrong_form, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(SET_COOKIE).is_none());
    let right = form(&code);
    let right = borrowed(&right);
    let res = browser.post("/_/login/code", &right, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(res.headers()).contains("kulisse_session="));

    // MFA off, OTP on: a code alone.
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/collections/_superusers",
            Some(&su),
            Some(json!({"mfa": {"enabled": false}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let login = browser.get("/_/login").await.text().await.unwrap();
    assert!(login.contains("Mail me a code"), "{login}");
    let res = browser
        .post("/_/login/code-request", &[("email", email.as_str())], None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let otp_id = hidden(&page, "otpId");
    let code = crate::otp::mailed_code(&email, 2).await;
    let res = browser
        .post(
            "/_/login/code",
            &[
                ("email", email.as_str()),
                ("otpId", otp_id.as_str()),
                ("mfaId", ""),
                ("code", code.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(res.headers()).contains("kulisse_session="));
}

/// A session lasts as long as the superusers' auth token: the cookie says so, and past it
/// the dashboard asks to sign in again. (10 s is the shortest a token may live.)
async fn a_session_expires_with_the_superusers_token() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/collections/_superusers",
            Some(&su),
            Some(json!({"authToken": {"duration": 10}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut browser = Browser::new(&srv);
    let res = browser
        .post(
            "/_/login",
            &[("email", SUPERUSER_EMAIL), ("password", SUPERUSER_PASSWORD)],
            None,
        )
        .await;
    assert!(browser.keep_cookie(&res).contains("Max-Age=10"));
    assert_eq!(
        browser.get("/_/collections/users").await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(11_100)).await;
    let res = browser.get("/_/collections/users").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the token has expired");
    assert!(location(&res).starts_with("/_/login"));
}

/// A view collection is made from its query in the form, a query the server refuses is
/// explained beside it, and the saved query's first rows show under it.
async fn a_view_collection_is_made_from_its_query_and_previewed() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.send(
        "POST",
        "/api/collections",
        Some(&su),
        Some(
            json!({"name": "notes", "type": "base", "fields": [{"name": "label", "type": "text"}]}),
        ),
    )
    .await;
    for label in ["first note", "<b>second</b>"] {
        srv.send(
            "POST",
            "/api/collections/notes/records",
            Some(&su),
            Some(json!({"label": label})),
        )
        .await;
    }
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let view = |query: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("name", "labels".to_owned()),
            ("type", "view".to_owned()),
            ("viewQuery", query.to_owned()),
        ]
    };
    let bad = view("SELECT id, nope FROM notes");
    let bad = borrowed(&bad);
    let res = browser.post("/_/new-collection", &bad, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains(r#"id="c-query-error""#));
    // The typed query's rows, before anything is saved; a bad one explained beside it.
    let mut preview = view("SELECT id, label FROM notes");
    preview.push(("step", "preview".to_owned()));
    let preview = borrowed(&preview);
    let res = browser.post("/_/new-collection", &preview, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("The first rows of this query (not saved yet)"),
        "{page}"
    );
    assert!(page.contains("<td>first note</td>"), "{page}");
    let mut broken = view("SELECT id, nope FROM notes");
    broken.push(("step", "preview".to_owned()));
    let broken = borrowed(&broken);
    let res = browser.post("/_/new-collection", &broken, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains(r#"id="c-query-error""#));
    let (status, _) = srv
        .send("GET", "/api/collections/labels", Some(&su), None)
        .await;
    assert_eq!(status, 404, "a preview saves nothing");
    let (_, all) = srv
        .send("GET", "/api/collections?perPage=100", Some(&su), None)
        .await;
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with("preview_")),
        "nothing of a preview stays: {all}"
    );

    let good = view("SELECT id, label FROM notes");
    let good = borrowed(&good);
    let res = browser.post("/_/new-collection", &good, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = browser
        .get("/_/collections/labels/edit")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The first rows of the saved query"), "{page}");
    assert!(page.contains("<td>first note</td>"), "{page}");
    assert!(page.contains(&escaped("<b>second</b>")), "{page}");
}

/// A field's JSON without the keys the form has controls of its own for.
fn options_of(field: &serde_json::Value) -> serde_json::Value {
    let mut o = field.as_object().unwrap().clone();
    for k in [
        "id",
        "name",
        "type",
        "system",
        "required",
        "hidden",
        "presentable",
    ] {
        o.remove(k);
    }
    serde_json::Value::Object(o)
}

/// Each settings section saves its own keys through the settings service; a refusal is
/// shown in its section; a test message goes out through the SMTP server set there.
async fn settings_are_saved_by_section_and_mail_is_tested() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let t = token.as_str();
    let application = |name: &'static str| {
        vec![
            ("_csrf", t),
            ("section", "application"),
            ("meta.appName", name),
            ("meta.appURL", "https://shop.example.com"),
            ("batch.enabled", "true"),
            ("batch.maxRequests", "50"),
            ("batch.timeout", "3"),
            ("batch.maxBodySize", "0"),
            ("trustedProxy.headers", "X-Real-IP, X-Forwarded-For"),
            ("superuserIPs", ""),
            ("rateLimits.enabled", "true"),
            ("rateLimits.rules", "[]"),
        ]
    };
    let res = browser.post("/_/settings", &application(""), None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"id="app-name-error""#), "{page}");
    let res = browser
        .post("/_/settings", &application("<Shop>"), None)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/_/settings?saved=application");
    let (_, settings) = srv.send("GET", "/api/settings", Some(&su), None).await;
    assert_eq!(settings["meta"]["appName"], "<Shop>");
    assert_eq!(settings["meta"]["appURL"], "https://shop.example.com");
    assert_eq!(settings["batch"]["maxRequests"], 50);
    assert_eq!(
        settings["trustedProxy"]["headers"],
        json!(["X-Real-IP", "X-Forwarded-For"])
    );
    assert_eq!(settings["rateLimits"]["rules"], json!([]));
    let page = browser.get("/_/settings").await.text().await.unwrap();
    assert!(
        page.contains(&escaped("<Shop>")) && !page.contains("<Shop>"),
        "{page}"
    );

    // File storage: a bucket set in its section, then tested with the button.
    if kulisse_testkit::s3_url().is_some() {
        let s3 = kulisse_testkit::fresh_bucket().await;
        let text = |k: &str| s3[k].as_str().unwrap().to_owned();
        let storage = [
            ("_csrf", t.to_owned()),
            ("section", "storage".to_owned()),
            ("s3.enabled", "true".to_owned()),
            ("s3.bucket", text("bucket")),
            ("s3.region", text("region")),
            ("s3.endpoint", text("endpoint")),
            ("s3.accessKey", text("accessKey")),
            ("s3.secret", text("secret")),
            ("s3.forcePathStyle", "true".to_owned()),
        ];
        let storage = borrowed(&storage);
        let res = browser.post("/_/settings", &storage, None).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let res = browser
            .post("/_/settings/test-s3", &[("_csrf", t)], None)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("The bucket took a test file")
        );
        // Saved again without a secret typed: the stored one stays, and still works.
        let kept: Vec<(&str, &str)> = storage
            .iter()
            .filter(|(k, _)| *k != "s3.secret")
            .copied()
            .collect();
        assert_eq!(
            browser.post("/_/settings", &kept, None).await.status(),
            StatusCode::SEE_OTHER
        );
        let res = browser
            .post("/_/settings/test-s3", &[("_csrf", t)], None)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "the secret was kept");
        let off = [("_csrf", t), ("section", "storage"), ("s3.enabled", "")];
        assert_eq!(
            browser.post("/_/settings", &off, None).await.status(),
            StatusCode::SEE_OTHER
        );
    }

    let Some(smtp) = kulisse_testkit::smtp_settings() else {
        return;
    };
    let port = smtp["port"].to_string();
    let mail = vec![
        ("_csrf", t),
        ("section", "mail"),
        ("meta.senderName", "Shop"),
        ("meta.senderAddress", "shop@example.com"),
        ("smtp.enabled", "true"),
        ("smtp.host", smtp["host"].as_str().unwrap()),
        ("smtp.port", port.as_str()),
        ("smtp.username", ""),
        ("smtp.authMethod", "PLAIN"),
        ("smtp.localName", ""),
    ];
    let res = browser.post("/_/settings", &mail, None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let to = srv.unique_email("dashtest");
    let res = browser
        .post(
            "/_/settings/test-mail",
            &[
                ("_csrf", t),
                ("email", to.as_str()),
                ("template", "verification"),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("A test message was sent")
    );
    let got = kulisse_testkit::mail_to(&to, 1).await;
    assert_eq!(got.len(), 1);
}

/// An auth record's page mails it a verification or reset link and impersonates it.
async fn auth_records_are_mailed_and_impersonated() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let email = srv.unique_email("acct");
    let user = srv.create_user(&email, "12345678").await;
    let id = user["id"].as_str().unwrap();
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;
    let token = browser.form_token().await;
    let t = token.as_str();
    let base = format!("/_/collections/users/records/{id}");
    let page = browser.get(&base).await.text().await.unwrap();
    assert!(page.contains("Impersonate"), "{page}");

    let res = browser
        .post(
            &format!("{base}/impersonate"),
            &[("_csrf", t), ("duration", "600")],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let at = page.find("readonly>").unwrap() + "readonly>".len();
    let user_token = page[at..at + page[at..].find('<').unwrap()]
        .trim()
        .to_owned();
    let (status, me) = srv
        .send(
            "GET",
            &format!("/api/collections/users/records/{id}"),
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    let res = browser
        .post(&format!("{base}/impersonate"), &[("_csrf", "forged")], None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let Some(smtp) = kulisse_testkit::smtp_settings() else {
        return;
    };
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"smtp": smtp})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let res = browser
        .post(
            &format!("{base}/send-password-reset"),
            &[("_csrf", t)],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{base}?sent=password-reset"));
    let got = kulisse_testkit::mail_to(&email, 1).await;
    assert!(got[0].subject.contains("Reset"), "{}", got[0].subject);
    let page = browser.get(location(&res)).await.text().await.unwrap();
    assert!(page.contains("A password-reset mail is on its way."));
}

/// The browser's filtered list exports as CSV (formulas defused) and JSON, every page of
/// it; chosen records are deleted after a confirmation.
async fn records_are_exported_and_deleted_in_bulk() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.send(
        "POST",
        "/api/collections",
        Some(&su),
        Some(json!({"name": "lines", "type": "base", "fields": [{"name": "label", "type": "text"}, {"name": "n", "type": "number"}]})),
    )
    .await;
    // More than one page of the records service (1,000) when unfiltered.
    let requests: Vec<_> = (0..1100)
        .map(|i| {
            let label = if i == 0 { "=HYPERLINK(\"x\")".to_owned() } else { format!("line, {i}") };
            json!({"method": "POST", "url": "/api/collections/lines/records", "body": {"label": label, "n": i}})
        })
        .collect();
    let (status, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"batch": {"enabled": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for chunk in requests.chunks(50) {
        let (status, body) = srv
            .send(
                "POST",
                "/api/batch",
                Some(&su),
                Some(json!({"requests": chunk})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut browser = Browser::new(&srv);
    browser.sign_in().await;

    let csv = browser
        .get("/_/collections/lines/export?format=csv&sort=n")
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("lines.csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1101, "a header and every record");
    assert!(lines[0].starts_with("id,label,n"), "{}", lines[0]);
    assert!(
        lines[1].contains(r#","'=HYPERLINK(""x"")",0"#),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains(r#","line, 1",1"#), "{}", lines[2]);

    let json_export = browser
        .get("/_/collections/lines/export?format=json&filter=n%20%3C%205&sort=-n")
        .await;
    let rows: serde_json::Value = json_export.json().await.unwrap();
    let ns: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![4, 3, 2, 1, 0]);
    let bad = browser
        .get("/_/collections/lines/export?format=csv&filter=n%20%3C")
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let (_, few) = srv
        .send(
            "GET",
            "/api/collections/lines/records?filter=n%20%3C%203&sort=n",
            Some(&su),
            None,
        )
        .await;
    let ids: Vec<String> = few["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let query = serde_urlencoded::to_string(
        ids.iter()
            .map(|id| ("ids", id.as_str()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let page = browser
        .get(&format!("/_/collections/lines/delete-selected?{query}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Delete 3 records of lines?"), "{page}");
    let token = browser.form_token().await;
    let mut form = vec![("_csrf", token.as_str())];
    form.extend(ids.iter().map(|id| ("ids", id.as_str())));
    let res = browser
        .post("/_/collections/lines/delete-selected", &form, None)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, left) = srv
        .send(
            "GET",
            "/api/collections/lines/records?filter=n%20%3C%203",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(left["totalItems"], 0, "{left}");
    let (_, all) = srv
        .send(
            "GET",
            "/api/collections/lines/records?perPage=1",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(all["totalItems"], 1097);
}

kulisse_testkit::engine_tests!(
    sign_in_is_rate_limited_with_the_api,
    a_view_collection_is_made_from_its_query_and_previewed,
    a_session_expires_with_the_superusers_token,
    superusers_sign_in_with_a_second_factor_or_a_code,
    the_relation_picker_finds_records_and_shows_them_as_text,
    collections_are_exported_and_imported_after_a_review,
    auth_options_are_set_through_the_form,
    records_are_exported_and_deleted_in_bulk,
    auth_records_are_mailed_and_impersonated,
    settings_are_saved_by_section_and_mail_is_tested,
    collections_are_designed_through_the_form,
    records_are_written_through_the_forms,
    the_install_link_makes_the_first_superuser_once,
    sign_in_and_out_are_guarded,
    values_are_shown_as_text,
    the_records_browser_filters_sorts_and_counts,
    superusers_from_elsewhere_are_refused,
    assets_are_stamped_cached_and_compressed,
);
