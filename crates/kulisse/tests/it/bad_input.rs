//! The bad-input corpus: malformed requests against every endpoint, each answered with a
//! PocketBase-shaped 4xx (never a 5xx, a hang or a crash), in bounded time and memory,
//! and without changing what is stored. New endpoints add their rows to [`corpus`].

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::ServerProcess;
use kulisse_testkit::{ENGINE, TestEngine, superuser_token_at, urlencode};

/// Longest any one malformed request may take (generous: CI machines are slow and shared).
const TIME_BOUND: Duration = Duration::from_secs(10);
/// Most memory the server may ever hold while answering the corpus.
const RSS_BOUND: u64 = 256 << 20;

/// What a row must get back.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Any 4xx in PocketBase's `{"data","message","status"}` shape.
    ClientError,
    /// Exactly this status (for inputs PocketBase accepts, such as an unknown `expand`).
    Status(u16),
    /// The dashboard's answer to a visitor without a session: a page (4xx) or a redirect
    /// to the sign-in (3xx), never a 5xx.
    Page,
}

/// One malformed request.
struct Row {
    method: &'static str,
    path: String,
    superuser: bool,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    want: Want,
}

fn row(method: &'static str, path: impl Into<String>) -> Row {
    Row {
        method,
        path: path.into(),
        superuser: false,
        headers: vec![],
        body: None,
        want: Want::ClientError,
    }
}

impl Row {
    fn su(mut self) -> Self {
        self.superuser = true;
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type, body.into()));
        self
    }
    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.body("application/json", body)
    }
    fn want(mut self, want: Want) -> Self {
        self.want = want;
        self
    }
}

const RECORDS: &str = "/api/collections/posts/records";
const RECORD: &str = "/api/collections/posts/records/rec000000000001";

fn list(query: &str, value: &str) -> String {
    format!("{RECORDS}?{query}={}", urlencode(value))
}

fn multipart(parts: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, filename, content) in parts {
        out.push_str("--XyZ\r\nContent-Disposition: form-data; name=\"");
        out.push_str(name);
        out.push('"');
        if !filename.is_empty() {
            out.push_str(&format!(
                "; filename=\"{filename}\"\r\nContent-Type: text/plain"
            ));
        }
        out.push_str("\r\n\r\n");
        out.push_str(content);
        out.push_str("\r\n");
    }
    out.push_str("--XyZ--\r\n");
    out.into_bytes()
}

/// `want` on SQLite; a client error on PostgreSQL, whose text cannot hold NUL characters
/// (README: known differences).
fn on_sqlite(want: Want) -> Want {
    match ENGINE.try_with(|e| *e) {
        Ok(TestEngine::Postgres) => Want::ClientError,
        _ => want,
    }
}

/// Every row; grouped by what is malformed.
fn corpus() -> Vec<Row> {
    let deep_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}{}", "{\"a\":".repeat(3000), "}".repeat(3000));
    let huge_filter = format!("title = '{}'", "x".repeat(5000));
    let many_comparisons = vec!["n > 1"; 250].join(" && ");
    let deep_groups = format!("{}n > 1{}", "(".repeat(100), ")".repeat(100));
    let form = "multipart/form-data; boundary=XyZ";
    let urlencoded = "application/x-www-form-urlencoded";
    vec![
        // Bodies.
        row("POST", RECORDS).json("{not json"),
        row("POST", RECORDS).json(deep_array.clone()),
        row("POST", RECORDS).json(deep_object),
        row("POST", RECORDS).json("\"just a string\""),
        row("POST", RECORDS).json("[1,2,3]"),
        // PB compat: PocketBase creates an empty record from `null`.
        row("POST", RECORDS).json("null").want(Want::Status(200)),
        row("POST", RECORDS).json(vec![0xff, 0xfe, b'{']),
        row("POST", RECORDS).json(r#"{"n": 1e999}"#),
        row("POST", RECORDS).json(r#"{"n": NaN}"#),
        row("POST", RECORDS).json(r#"{"n": "NaN"}"#),
        row("POST", RECORDS).json(r#"{"n": "Infinity"}"#),
        row("POST", RECORDS).json(r#"{"tags": "nope"}"#),
        row("POST", RECORDS).json(r#"{"tags": ["a", "zzz"]}"#),
        row("POST", RECORDS).json(r#"{"owner": "missing00000000"}"#),
        // PB compat: values of the wrong shape are coerced to the field's zero value.
        row("POST", RECORDS)
            .json(r#"{"loc": {"lon": "x", "lat": []}}"#)
            .want(Want::Status(200)),
        row("POST", RECORDS)
            .json(r#"{"title": "a\u0000b"}"#)
            .want(on_sqlite(Want::Status(200))),
        row("POST", RECORDS).json(r#"{"id": "../../etc/passwd"}"#),
        row("POST", RECORDS).json(r#"{"id": "rec000000000001"}"#),
        row("POST", RECORDS)
            .json(r#"{"title": {"nested": true}}"#)
            .want(Want::Status(200)),
        row("POST", RECORDS)
            .body("application/x-www-form-urlencoded", "title=%FF%FE&n=1e999")
            .want(Want::Status(200)),
        row("POST", RECORDS).body(form, "garbage"),
        row("POST", RECORDS).body("multipart/form-data", "no boundary"),
        row("POST", RECORDS).body(form, multipart(&[("@jsonPayload", "", "{broken")])),
        row("POST", RECORDS).body("text/plain", "title=x"),
        // Files.
        row("POST", RECORDS).body(form, multipart(&[("doc", "big.txt", &"x".repeat(200))])),
        row("POST", RECORDS).body(
            form,
            multipart(&[("doc", "1.txt", "a"), ("doc", "2.txt", "b"), ("doc", "3.txt", "c")]),
        ),
        row("POST", RECORDS).json(r#"{"doc": ["someone_elses_0123456789.txt"]}"#),
        row("PATCH", RECORD).json(r#"{"doc": "../../data.db"}"#),
        // PB compat: an empty file is a file; it is stored.
        row("POST", RECORDS)
            .body(form, multipart(&[("doc", "empty.txt", "")]))
            .want(Want::Status(200)),
        // Forged or broken framing: another boundary than the header's, a body cut off
        // before its closing boundary, a part without headers.
        row("POST", RECORDS).body(
            form,
            String::from_utf8(multipart(&[("doc", "a.txt", "a")]))
                .unwrap()
                .replace("XyZ", "Other"),
        ),
        row("POST", RECORDS).body(
            form,
            "--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\r\ncut off",
        ),
        row("POST", RECORDS).body(form, "--XyZ\r\n\r\nno headers\r\n--XyZ--\r\n"),
        // A reserved device name is only a stem (names are never paths on disk); control
        // characters make the part's header unreadable.
        row("POST", RECORDS)
            .body(form, multipart(&[("doc", "CON.txt", "x")]))
            .want(Want::Status(200)),
        row("POST", RECORDS).body(form, multipart(&[("doc", "a\u{1}\u{7f}.txt", "x")])),
        // PB compat: the path is stripped from an upload's name; the file is stored.
        row("POST", RECORDS)
            .body(form, multipart(&[("doc", "../../etc/passwd", "root")]))
            .want(Want::Status(200)),
        row("GET", "/api/files/posts/rec000000000001/..%2F..%2Fdata.db"),
        row("GET", "/api/files/posts/rec000000000001/%00"),
        row("GET", "/api/files/posts/rec000000000001/..").header("range", "bytes=-"),
        row("GET", "/api/files/nosuch/rec000000000001/a.txt"),
        row("GET", format!("/api/files/posts/{}/a.txt", "x".repeat(5000))),
        row("POST", "/api/files/token"),
        row("POST", "/api/files/token").json("{not json"),
        // Mail and the mailed account flows: malformed bodies, forged or foreign tokens.
        // A file part where no files are taken is refused, not dropped.
        row("PATCH", "/api/settings")
            .su()
            .body(form, multipart(&[("meta", "settings.json", "{}")])),
        row("POST", "/api/settings/test/email").su().json("{not json"),
        row("POST", "/api/settings/test/email").su().json(r#"{"email": 5, "template": []}"#),
        row("POST", "/api/settings/test/s3").su().json(r#"{"filesystem": 5}"#),
        row("POST", "/api/collections/users/request-verification").json("{not json"),
        row("POST", "/api/collections/users/request-verification").json(r#"{"email": ["a@b.co"]}"#),
        row("POST", "/api/collections/nosuch/request-verification").json(r#"{"email": "a@b.co"}"#),
        row("POST", "/api/collections/posts/request-password-reset").json(r#"{"email": "a@b.co"}"#),
        row("POST", "/api/collections/users/confirm-verification")
            .json(r#"{"token": "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFAYi5jbyJ9.Zm9yZ2Vk"}"#),
        row("POST", "/api/collections/users/confirm-verification").json(r#"{"token": {"a": 1}}"#),
        row("POST", "/api/collections/users/confirm-password-reset")
            .json(r#"{"token": "x.y.z", "password": "12345678", "passwordConfirm": "12345678"}"#),
        row("POST", "/api/collections/users/request-email-change").json(r#"{"newEmail": "a@b.co"}"#),
        row("POST", "/api/collections/users/request-email-change").su().json(r#"{"newEmail": "a@b.co"}"#),
        row("POST", "/api/collections/users/impersonate/rec000000000001").json("{}"),
        row("POST", "/api/collections/users/impersonate/rec000000000001")
            .su()
            .json(r#"{"duration": "forever"}"#),
        row("POST", "/api/collections/users/impersonate/rec000000000001")
            .su()
            .json(r#"{"duration": -5}"#),
        row("POST", "/api/collections/users/impersonate/..%2F..").su().json("{}"),
        row("POST", "/api/collections/posts/impersonate/rec000000000001").su().json("{}"),
        row("POST", "/api/collections/users/confirm-email-change")
            .json(r#"{"token": "eyJhbGciOiJIUzI1NiJ9.eyJuZXdFbWFpbCI6ImFAYi5jbyJ9.Zm9yZ2Vk", "password": "x"}"#),
        // One-time passwords (on for `users` here) and MFA sessions: malformed bodies,
        // forged ids, wrong types; the auth state's system collections are not writable.
        row("POST", "/api/collections/users/request-otp").json("{not json"),
        row("POST", "/api/collections/users/request-otp").json(r#"{"email": ["a@b.co"]}"#),
        row("POST", "/api/collections/users/request-otp").json(r#"{"email": "no"}"#),
        row("POST", "/api/collections/posts/request-otp").json(r#"{"email": "a@b.co"}"#),
        row("POST", "/api/collections/users/auth-with-otp").json("{}"),
        row("POST", "/api/collections/users/auth-with-otp").json(r#"{"otpId": {"a": 1}, "password": 1}"#),
        row("POST", "/api/collections/users/auth-with-otp")
            .json(r#"{"otpId": "../../etc/passwd", "password": "12345678"}"#),
        row("POST", "/api/collections/users/auth-with-otp?mfaId=%00")
            .json(r#"{"otpId": "forgedotp000000", "password": "12345678", "mfaId": ["x"]}"#),
        row("POST", "/api/collections/users/auth-with-password?mfaId=forgedmfa000000")
            .json(r#"{"identity": "a@b.co", "password": "12345678"}"#),
        row("POST", "/api/collections/_otps/records")
            .json(r#"{"collectionRef": "x", "recordRef": "y", "password": "1"}"#),
        row("POST", "/api/collections/_mfas/records")
            .json(r#"{"collectionRef": "x", "recordRef": "y", "method": "password"}"#),
        row("DELETE", "/api/collections/_otps").su(),
        // PB compat: a modifier with an unusable operand changes nothing.
        row("PATCH", RECORD)
            .json(r#"{"n+": "abc"}"#)
            .want(Want::Status(200)),
        row("PATCH", RECORD).json(r#"{"n+": 1e999}"#),
        row("PATCH", RECORD)
            .json(r#"{"tags+": {"a": 1}}"#)
            .want(Want::Status(200)),
        row("PATCH", RECORD).json(r#"{"id": "changed00000001"}"#),
        // Filters.
        row("GET", list("filter", "((((((((((")),
        row("GET", list("filter", "title == 'x'")),
        row("GET", list("filter", "nofield = 1")),
        row("GET", list("filter", "secret = 's'")),
        row("GET", list("filter", "owner.password = ''")),
        row("GET", list("filter", "owner.tokenKey != ''")),
        row("GET", list("filter", &huge_filter)),
        row("GET", list("filter", &many_comparisons)),
        row("GET", list("filter", &deep_groups)),
        // PostgreSQL text cannot hold NUL, so there it is refused (README: known differences).
        row("GET", list("filter", "title = 'a\0b'")).want(on_sqlite(Want::Status(200))),
        row("GET", list("filter", "nofunc(title) = 1")),
        row("GET", list("filter", "strftime(1, 2, 3) = 1")),
        row("GET", list("filter", "geoDistance(1) > 0")),
        row("GET", list("filter", "@collection.users.email = 'x'")),
        row("GET", list("filter", "@request.auth.id = ''")),
        row("GET", list("filter", "title:nomod = 1")),
        row("GET", list("filter", "a.b.c.d.e.f.g.h.i = 1")),
        row("GET", list("filter", "// only a comment")),
        row("GET", list("filter", "   ")),
        row("GET", list("filter", "n > 99999999999999999999999999999")).want(Want::Status(200)),
        row("GET", list("filter", "title ~ '😀'")).want(Want::Status(200)),
        // Sort.
        row("GET", list("sort", "\0")),
        row("GET", list("sort", "-")),
        row("GET", list("sort", "title,title,title,title,title,title,title,title,title")),
        row("GET", list("sort", &"x".repeat(300))),
        row("GET", list("sort", "nofield")),
        row("GET", list("sort", "tags:each")),
        row("GET", list("sort", "@nope")),
        row("GET", list("sort", ",,,")),
        row("GET", list("sort", "title,,n")),
        // Paging.
        row("GET", format!("{RECORDS}?page=-5")).want(Want::Status(200)),
        row("GET", format!("{RECORDS}?perPage=99999999999999999999")),
        row("GET", format!("{RECORDS}?page=abc")),
        row("GET", format!("{RECORDS}?page=1e3")),
        // Expand and fields: PocketBase ignores what it cannot expand or pick.
        row("GET", list("expand", "nope.nope.nope")).want(Want::Status(200)),
        row("GET", list("expand", &vec!["owner"; 1000].join(","))).want(Want::Status(200)),
        row("GET", list("expand", &vec!["owner"; 60].join("."))).want(Want::Status(200)),
        row("GET", list("fields", "*,title:excerpt(-1)")),
        row("GET", list("fields", "title:excerpt(abc,def)")),
        row("GET", list("fields", &"f,".repeat(5000))).want(Want::Status(200)),
        // Ids in paths.
        row("GET", format!("{RECORDS}/{}", "x".repeat(10_000))),
        row("GET", format!("{RECORDS}/%00")),
        row("GET", format!("{RECORDS}/..%2F..%2Fetc")),
        row("GET", format!("{RECORDS}/%F0%9F%98%80")),
        row("PATCH", format!("{RECORDS}/missing00000000")).json("{}"),
        row("DELETE", format!("{RECORDS}/missing00000000")),
        row("GET", "/api/collections/%00/records"),
        row("GET", format!("/api/collections/{}/records", "c".repeat(5000))),
        // Headers. PB compat: a token that does not verify makes a guest, never an error.
        row("GET", RECORD)
            .header("Authorization", "garbage")
            .want(Want::Status(200)),
        row("GET", RECORD)
            .header("Authorization", "Bearer ".to_owned() + &"a".repeat(20_000))
            .want(Want::Status(200)),
        row("GET", RECORD)
            .header(
                "Authorization",
                "eyJhbGciOiJub25lIn0.eyJpZCI6IngiLCJ0eXBlIjoiYXV0aCJ9.",
            )
            .want(Want::Status(200)),
        row("POST", "/api/collections/_superusers/auth-refresh")
            .header("Authorization", "eyJhbGciOiJub25lIn0.e30."),
        // Auth.
        row("POST", "/api/collections/users/auth-with-password").json("{}"),
        row("POST", "/api/collections/users/auth-with-password")
            .json(r#"{"identity": ["a"], "password": {"x": 1}}"#),
        row("POST", "/api/collections/users/auth-with-password").json(
            json!({"identity": "a@b.c", "password": "p".repeat(100_000)}).to_string(),
        ),
        row("POST", "/api/collections/posts/auth-with-password")
            .json(r#"{"identity": "a", "password": "b"}"#),
        row("POST", "/api/collections/users/auth-refresh"),
        // Batch.
        row("POST", "/api/batch").json(r#"{"requests": "nope"}"#),
        row("POST", "/api/batch").json(r#"{"requests": [{"method": "TRACE", "url": "/x"}]}"#),
        row("POST", "/api/batch")
            .json(r#"{"requests": [{"method": "POST", "url": "/api/batch", "body": {}}]}"#),
        row("POST", "/api/batch").json(
            json!({"requests": vec![json!({"method": "POST", "url": RECORDS, "body": {"n": "NaN"}}); 5]})
                .to_string(),
        ),
        // Realtime subscriptions (the stream itself never ends, so only the POST is here).
        row("POST", "/api/realtime").json("{not json"),
        row("POST", "/api/realtime").json(deep_array.clone()),
        row("POST", "/api/realtime").json("{}"),
        row("POST", "/api/realtime").json(r#"{"clientId": 5}"#),
        row("POST", "/api/realtime").json(r#"{"clientId": "x", "subscriptions": "posts/*"}"#),
        row("POST", "/api/realtime").json(r#"{"clientId": "x", "subscriptions": [{"a": 1}]}"#),
        row("POST", "/api/realtime").json(json!({"clientId": "x".repeat(100_000)}).to_string()),
        row("POST", "/api/realtime")
            .json(json!({"clientId": "x", "subscriptions": vec!["posts/*"; 5000]}).to_string()),
        row("POST", "/api/realtime")
            .json(json!({"clientId": "x", "subscriptions": ["p".repeat(100_000)]}).to_string()),
        row("POST", "/api/realtime").json(
            json!({"clientId": "x", "subscriptions": ["posts/*?options=%7B%7B%7B", "@oauth2"]})
                .to_string(),
        ),
        row("POST", "/api/realtime").body(form, "--XyZ\r\nbroken"),
        row("DELETE", "/api/realtime"),
        // Collections and settings (superuser mistakes).
        row("POST", "/api/collections").su().json(r#"{"name": ""}"#),
        row("POST", "/api/collections")
            .su()
            .json(r#"{"name": "x\"; DROP TABLE posts; --"}"#),
        row("POST", "/api/collections").su().json(r#"{"name": "t", "fields": "nope"}"#),
        row("POST", "/api/collections")
            .su()
            .json(r#"{"name": "t", "fields": [{"name": "a", "type": "nope"}]}"#),
        row("POST", "/api/collections").su().json(
            r#"{"name": "t", "indexes": ["CREATE INDEX x ON t (a); DROP TABLE posts"]}"#,
        ),
        row("POST", "/api/collections").su().json(
            r#"{"name": "v", "type": "view", "viewQuery": "select id from posts; drop table posts"}"#,
        ),
        row("POST", "/api/collections")
            .su()
            .json(r#"{"name": "t", "listRule": "((("}"#),
        row("PATCH", "/api/collections/posts").su().json("[]"),
        row("DELETE", "/api/collections/missing").su(),
        row("PUT", "/api/collections/import").su().json(r#"{"collections": "nope"}"#),
        row("PATCH", "/api/settings").su().json("[1]"),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"superuserIPs": ["not-an-ip", ""]}"#),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"superuserIPs": "10.0.0.0/8"}"#),
        // Rate limit rules are checked as PocketBase checks them.
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"rateLimits": {"rules": [{"label": "*:auth", "audience": "@everyone", "duration": -1, "maxRequests": 0}]}}"#),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"rateLimits": {"rules": [{"label": "no spaces allowed here"}]}}"#),
        // The request log: bad filters, sorts and pages; settings of the wrong type.
        row("GET", format!("/api/logs?filter={}", urlencode("data.status >")))
            .su(),
        row("GET", format!("/api/logs?sort={}", urlencode("-nosuchfield")))
            .su(),
        row("GET", format!("/api/logs/stats?filter={}", urlencode("((level")))
            .su(),
        row("GET", "/api/logs?perPage=abc&page=-1").su(),
        row("GET", "/api/logs/nosuchentry").su(),
        row("GET", "/api/logs"),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"logs": {"maxDays": "five", "minLevel": []}}"#),
        // Metrics (on for this server): no, a garbled, an oversized or another kind of
        // token; a method it does not take.
        row("GET", "/metrics"),
        row("GET", "/metrics").header("Authorization", "Bearer"),
        row("GET", "/metrics").header("Authorization", "Basic bWV0cmljczpzZWNyZXQ="),
        row("GET", "/metrics").header("Authorization", "Bearer ".to_owned() + &"m".repeat(20_000)),
        row("GET", "/metrics").su(),
        row("POST", "/metrics").json(r#"{"token": "x"}"#),
        // Analytics and the advisor: windows that are no dates, backwards or too long;
        // intervals it does not know; an unknown suggestion. A limit it cannot read is
        // ignored (as PocketBase ignores a malformed perPage), and an unknown collection
        // has nothing to report.
        row("GET", "/api/analytics/requests?from=yesterday").su(),
        row("GET", "/api/analytics/requests?from=2026-12-02&to=2026-12-01").su(),
        row("GET", "/api/analytics/requests?from=1900-01-01").su(),
        row("GET", "/api/analytics/requests?interval=fortnight&collection=%00").su(),
        row("GET", "/api/analytics/routes?limit=-5").su()
            .want(Want::Status(200)),
        row("GET", "/api/analytics/routes?limit=99999999999999999999").su()
            .want(Want::Status(200)),
        row("GET", "/api/analytics/users?to=%ff%fe").su(),
        row("GET", format!("/api/analytics/filters?collection={}", "c".repeat(5_000)))
            .su()
            .want(Want::Status(200)),
        row("GET", "/api/advisor/queries?limit=abc").su()
            .want(Want::Status(200)),
        row("GET", "/api/advisor/suggestions?from=not-a-date").su(),
        row("POST", "/api/advisor/suggestions/..%2F..%2Fetc/apply").su(),
        row("POST", "/api/advisor/suggestions/nosuchsuggestion/apply")
            .su()
            .json(r#"{"ignored": [1, 2]}"#),
        row("GET", "/api/analytics/requests"),
        // Crons: unknown ids, odd spellings, a guest.
        row("POST", "/api/crons/nosuchjob").su(),
        row("POST", format!("/api/crons/{}", "j".repeat(5_000))).su(),
        row("POST", "/api/crons/__pbLogsCleanup__"),
        // Backups: names the rule refuses, paths that climb, bodies of the wrong shape,
        // uploads that are no zip or have no file, downloads without a token, settings
        // of the wrong kind.
        row("POST", "/api/backups").su().json(r#"{"name": "../../evil.zip"}"#),
        row("POST", "/api/backups").su().json(r#"{"name": 5}"#),
        row("POST", "/api/backups").su().json(r#"["a.zip"]"#),
        row("POST", "/api/backups").su().json(format!(r#"{{"name": "{}.zip"}}"#, "a".repeat(200))),
        row("GET", "/api/backups/..%2Fdata.db?token=x"),
        row("GET", "/api/backups/nothing.zip?token=garbage"),
        row("DELETE", "/api/backups/..%2F..%2Fdata.db").su(),
        row("POST", "/api/backups/nothing.zip/restore").su(),
        row("POST", "/api/backups/%2e%2e/restore").su(),
        row("POST", "/api/backups/upload")
            .su()
            .body("multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\nnot a zip\r\n--X--\r\n"),
        row("POST", "/api/backups/upload")
            .su()
            .body("multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../x.zip\"\r\n\r\nPK\u{3}\u{4}\r\n--X--\r\n"),
        row("POST", "/api/backups/upload").su().json(r#"{"file": "a.zip"}"#),
        row("POST", "/api/backups/upload").body("multipart/form-data; boundary=X", "--X--\r\n"),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"backups": {"cron": "* * * * * * * *", "cronMaxKeep": -3}}"#),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"backups": {"cron": 5, "cronMaxKeep": "x"}}"#),
        // Apple's client secret: wrong types and a key that is no key.
        row("POST", "/api/settings/apple/generate-client-secret")
            .su()
            .json(r#"{"clientId": 1, "teamId": [], "keyId": "KEY1234567", "privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "duration": "x"}"#),
        // OAuth2 providers: incomplete, of the wrong type, unknown.
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"oauth2": {"enabled": true, "providers": [{"name": "github"}]}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"oauth2": {"providers": "github"}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"oauth2": {"enabled": true, "providers": [{"name": "nope", "clientId": "a", "clientSecret": "b"}]}}"#),
        row("POST", "/api/collections/users/auth-with-oauth2")
            .json(r#"{"provider": "google", "code": 5}"#),
        // The popup's redirect answers a garbled form with its failure page.
        row("POST", "/api/oauth2-redirect")
            .body("application/x-www-form-urlencoded", "state=%ZZ&code")
            .want(Want::Status(303)),
        row("GET", "/api/oauth2-redirect?state=%ZZ&&code=%00").want(Want::Status(307)),
        // OTP and MFA options PocketBase refuses.
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"otp": {"duration": "x"}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"mfa": {"enabled": true, "rule": "nosuchfield = 1 &&"}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"mfa": {"enabled": true, "duration": -1}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"authToken": {"duration": -5}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"authToken": {"duration": 1e300}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"fileToken": {"duration": "180"}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"verificationToken": {"duration": 99999999999999999999}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(format!(r#"{{"authToken": {{"secret": "{}"}}}}"#, "s".repeat(1 << 20))),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"passwordResetToken": {"secret": "short\u0000"}}"#),
        row("PATCH", "/api/collections/users")
            .su()
            .json(r#"{"otp": {"enabled": true, "length": 1e300}}"#),
        row("PATCH", "/api/collections/_superusers")
            .su()
            .json(r#"{"createRule": ""}"#),
        row("DELETE", "/api/collections/_superusers/truncate").su(),
        row("PUT", "/api/collections/import")
            .su()
            .json(r#"{"collections": [], "deleteMissing": true}"#),
        row("PATCH", "/api/settings")
            .su()
            .json(r#"{"meta": {"appName": ["not", "a", "string"]}}"#),
        row("GET", "/api/collections?filter=((").su(),
        // The dashboard, to a visitor without a session (its forms check the origin and
        // a token first; what a signed-in superuser sends is the API's input again).
        row("POST", "/_/login")
            .body(urlencoded, "email=%ZZ%&password=%%")
            .want(Want::Page),
        row("POST", "/_/login")
            .body(urlencoded, format!("email={}&password=x", "a".repeat(1_500_000)))
            .want(Want::Page),
        row("POST", "/_/login")
            .body(urlencoded, "email=a%00b%40example.com&password=%00")
            .want(Want::Page),
        row("POST", "/_/login")
            .json(r#"{"email": "a@example.com", "password": "x"}"#)
            .want(Want::Page),
        row("POST", "/_/login")
            .body(form, multipart(&[("email", "", "a@example.com")]))
            .want(Want::Page),
        row("POST", "/_/login").body(urlencoded, "").want(Want::Page),
        row("POST", "/_/login/code")
            .body(urlencoded, "otpId=%00&password=1&email=x")
            .want(Want::Page),
        row("GET", "/_/install/notatoken").want(Want::Page),
        row("GET", format!("/_/install/{}", "x".repeat(20_000))).want(Want::Page),
        row("POST", "/_/install/eyJhbGciOiJIUzI1NiJ9.e30.bad")
            .body(urlencoded, "email=a@example.com&password=1234567890&passwordConfirm=1")
            .want(Want::Page),
        row("GET", "/_/collections/posts?perPage=999999999&page=-1&sort=%00").want(Want::Page),
        row("GET", "/_/collections/%00/records/new").want(Want::Page),
        row("GET", "/_/collections/posts/export?format=exe").want(Want::Page),
        row("POST", "/_/collections/posts/delete-selected")
            .body(urlencoded, "ids=rec000000000001")
            .want(Want::Page),
        row("POST", "/_/logout").want(Want::Page),
        row("GET", "/_/settings?section=%00%FF").want(Want::Page),
        row("GET", "/_/assets/deadbeef/../../../etc/passwd").want(Want::Page),
        row("GET", "/_/assets/deadbeef/nope.js").want(Want::Page),
        row("GET", format!("/_/{}", "a/".repeat(5_000))).want(Want::Page),
    ]
}

fn pocketbase_shaped(status: u16, body: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let ok = v.as_object().is_some_and(|o| o.len() == 3)
        && v["data"].is_object()
        && v["message"].as_str().is_some_and(|m| !m.is_empty())
        && v["status"] == status;
    if ok {
        Ok(())
    } else {
        Err(format!("not PocketBase's error shape: {v}"))
    }
}

async fn every_malformed_request_gets_a_bounded_pocketbase_4xx() {
    // Metrics on, so their endpoint and their recording face the corpus too.
    let srv = ServerProcess::start_with(&["--metrics-token", "bad-input-metrics-token"]).await;
    // Redirects (the OAuth2 popup's) are answers to check, not to follow.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", srv.base);
    let su = superuser_token_at(&client, &srv.base).await;
    let open = "";
    let res = client
        .post(url("/api/collections"))
        .header("Authorization", &su)
        .json(&json!({"name": "posts", "listRule": open, "viewRule": open, "createRule": open,
            "updateRule": open, "deleteRule": open, "fields": [
                {"name": "title", "type": "text"},
                {"name": "n", "type": "number"},
                {"name": "tags", "type": "select", "values": ["a", "b"], "maxSelect": 2},
                {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
                {"name": "secret", "type": "text", "hidden": true},
                {"name": "loc", "type": "geoPoint"},
                {"name": "doc", "type": "file", "maxSelect": 2, "maxSize": 100}
            ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = client
        .patch(url("/api/collections/users"))
        .header("Authorization", &su)
        .json(&json!({"otp": {"enabled": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let stored = json!({"id": "rec000000000001", "title": "kept", "n": 7, "tags": ["a"]});
    let res = client
        .post(url(RECORDS))
        .json(&stored)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before: Value = client
        .get(url(RECORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut failures = Vec::new();
    for (i, r) in corpus().into_iter().enumerate() {
        let label = format!("row {i}: {} {}", r.method, &r.path[..r.path.len().min(120)]);
        let mut req = client.request(r.method.parse().unwrap(), url(&r.path));
        if r.superuser {
            req = req.header("Authorization", &su);
        }
        for (name, value) in &r.headers {
            req = req.header(*name, value);
        }
        if let Some((content_type, body)) = r.body {
            req = req.header("Content-Type", content_type).body(body);
        }
        let started = Instant::now();
        let res = tokio::time::timeout(TIME_BOUND, req.send())
            .await
            .unwrap_or_else(|_| panic!("{label}: no answer within {TIME_BOUND:?}"))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let status = res.status().as_u16();
        let body = res.bytes().await.unwrap();
        assert!(
            started.elapsed() < TIME_BOUND,
            "{label}: took {:?}",
            started.elapsed()
        );
        let verdict = match r.want {
            Want::Status(want) if status == want => Ok(()),
            Want::Status(want) => Err(format!("{status}, want {want}")),
            Want::ClientError if !(400..500).contains(&status) => Err(format!("{status}")),
            Want::ClientError => pocketbase_shaped(status, &body),
            Want::Page if (300..500).contains(&status) => Ok(()),
            Want::Page => Err(format!("{status}, want a page or a redirect")),
        };
        if let Err(why) = verdict {
            let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            failures.push(format!("{label}: {why}: {body}"));
        }
        let peak = srv.peak_rss();
        assert!(
            peak < RSS_BOUND,
            "{label}: server RSS peaked at {} MB",
            peak >> 20
        );
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let after: Value = client
        .get(url(RECORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before, after, "nothing stored was changed");
    let res = client.get(url(RECORDS)).send().await.unwrap();
    assert_eq!(res.status(), 200, "the collection still lists");

    // Refused uploads left nothing behind: no temporary file, and no stored file but
    // those of records that exist.
    let uploads = std::fs::read_dir(srv.dir().join(".uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 0, "temporary uploads are gone");
    let storage = srv.dir().join("storage");
    let mut owners = std::collections::BTreeSet::new();
    for collection in std::fs::read_dir(&storage).unwrap() {
        for record in std::fs::read_dir(collection.unwrap().path()).unwrap() {
            owners.insert(record.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    for id in owners {
        let res = client
            .get(url(&format!("{RECORDS}/{id}")))
            .send()
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(&storage)
            .unwrap()
            .flat_map(|c| {
                std::fs::read_dir(c.unwrap().path().join(&id))
                    .into_iter()
                    .flatten()
            })
            .map(|f| f.unwrap().file_name())
            .collect();
        assert_eq!(
            res.status(),
            200,
            "files of a record that was never stored: {id} {files:?}"
        );
    }
}

kulisse_testkit::engine_tests!(every_malformed_request_gets_a_bounded_pocketbase_4xx);
