//! Files (spec §7), first part: multipart uploads into file fields with PocketBase's names
//! and checks, downloads with its headers, and files deleted with what dropped them:
//! an update that replaces or removes them, a failed write, a deleted record.

use std::time::{Duration, Instant};

use kulisse_testkit::{TestServer, storage_tests};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

storage_tests!(
    uploads_are_named_stored_and_served_like_pocketbase,
    downloads_answer_ranges_and_conditional_requests,
    updates_replace_append_and_remove_files_and_deletes_take_them_along,
    uploads_are_checked_against_their_field_and_leave_nothing_when_refused,
    protected_files_need_a_file_token_whose_holder_passes_the_view_rule,
);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// `docs` (public rules; `files` up to 3, `cover` one image, `small` at most 10 bytes) and
/// `notes`, whose `doc` relation cascades.
async fn collections(srv: &TestServer) {
    let su = srv.superuser_token().await;
    let public = json!({"listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
        "deleteRule": ""});
    let mut docs = json!({"name": "docs", "fields": [
        {"name": "title", "type": "text"},
        {"name": "files", "type": "file", "maxSelect": 3},
        {"name": "cover", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]},
        {"name": "small", "type": "file", "maxSelect": 1, "maxSize": 10}]});
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(merge(&mut docs, &public)),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut notes = json!({"name": "notes", "fields": [
        {"name": "doc", "type": "relation", "collectionId": body["id"], "maxSelect": 1,
         "cascadeDelete": true},
        {"name": "attachment", "type": "file", "maxSelect": 1}]});
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(merge(&mut notes, &public)),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

fn merge(target: &mut Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        target[k] = v.clone();
    }
    target.clone()
}

fn file(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_owned())
}

async fn create(srv: &TestServer, collection: &str, form: Form) -> (u16, Value) {
    let path = format!("/api/collections/{collection}/records");
    srv.send_multipart(reqwest::Method::POST, &path, form).await
}

async fn update(srv: &TestServer, collection: &str, id: &str, form: Form) -> (u16, Value) {
    let path = format!("/api/collections/{collection}/records/{id}");
    srv.send_multipart(reqwest::Method::PATCH, &path, form)
        .await
}

/// Downloads `name` of record `id` of `docs`: status, headers, bytes.
async fn download(
    srv: &TestServer,
    id: &str,
    name: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = srv
        .client
        .get(srv.url(&format!("/api/files/docs/{id}/{name}")))
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// Waits until the stored files are exactly `expected` (deletions run after the answer).
async fn until_stored(srv: &TestServer, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut now: Vec<String> = srv
            .stored_keys()
            .await
            .iter()
            .map(|k| k.rsplit('/').next().unwrap().to_owned())
            .collect();
        now.sort();
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stored {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names(record: &Value, field: &str) -> Vec<String> {
    match &record[field] {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        _ => vec![],
    }
}

async fn uploads_are_named_stored_and_served_like_pocketbase() {
    let srv = TestServer::start().await;
    collections(&srv).await;
    let form = Form::new()
        .text("title", "hello")
        .part("files", file("My Notes (1).TXT", b"some notes"))
        .part("files", file("../../evil.png", PNG))
        .part("cover", file("a.png", PNG));
    let (s, record) = create(&srv, "docs", form).await;
    assert_eq!(s, 200, "{record}");
    assert_eq!(
        std::fs::read_dir(srv.uploads()).unwrap().count(),
        0,
        "the uploads waited in the data dir and are gone once answered"
    );
    let files = names(&record, "files");
    assert_eq!(files.len(), 2, "{record}");
    let cover = record["cover"].as_str().unwrap().to_owned();
    // `{stem}_{10 of a-z0-9}{.ext}`
    let parts = |name: &str| {
        let (stem, rest) = name.rsplit_once('_').unwrap_or_else(|| panic!("{name}"));
        let (random, ext) = rest.split_at(10);
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{name}"
        );
        (stem.to_owned(), ext.to_owned())
    };
    assert_eq!(parts(&files[0]), ("my_notes_1".into(), ".TXT".into()));
    assert_eq!(parts(&files[1]), ("evil".into(), ".png".into()), "no path");
    let (stem, ext) = parts(&cover);
    assert_eq!(
        (stem.len(), ext.as_str()),
        (11, ".png"),
        "a short stem is padded: {cover}"
    );
    let id = record["id"].as_str().unwrap();
    let collection_id = record["collectionId"].as_str().unwrap();
    assert!(
        srv.stored_keys()
            .await
            .contains(&format!("{collection_id}/{id}/{cover}")),
        "PocketBase's layout: <collectionId>/<recordId>/<name>"
    );

    let (s, headers, bytes) = download(&srv, id, &files[0]).await;
    assert_eq!((s, bytes.as_slice()), (200, &b"some notes"[..]));
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{}\"", files[0]).as_str(),
        "text is never shown inline"
    );
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
    );
    assert_eq!(
        headers["cache-control"],
        "max-age=2592000, stale-while-revalidate=86400"
    );
    assert!(headers.contains_key("last-modified"));
    let (s, headers, bytes) = download(&srv, id, &cover).await;
    assert_eq!((s, bytes.as_slice()), (200, PNG));
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    let (_, headers, _) = download(&srv, id, &format!("{cover}?download=1")).await;
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // Only a file the record names, by a stored name, of a record that exists.
    for (record_id, name) in [
        (id, "nope_0123456789.txt"),
        (id, "..%2F..%2Fdata.db"),
        (id, "%2E%2E"),
        ("nosuchrecord00", files[0].as_str()),
    ] {
        let (s, _, _) = download(&srv, record_id, name).await;
        assert_eq!(s, 404, "{record_id}/{name}");
    }
    let (s, _) = srv
        .send(
            "GET",
            &format!("/api/files/nosuch/{id}/{cover}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 404);
}

async fn updates_replace_append_and_remove_files_and_deletes_take_them_along() {
    let srv = TestServer::start().await;
    collections(&srv).await;
    let form = Form::new()
        .part("files", file("one.txt", b"1"))
        .part("cover", file("first.png", PNG));
    let (s, record) = create(&srv, "docs", form).await;
    assert_eq!(s, 200, "{record}");
    let id = record["id"].as_str().unwrap().to_owned();
    let one = names(&record, "files").remove(0);
    let first = record["cover"].as_str().unwrap().to_owned();

    // Append to the list; a new single file replaces the old one, which is deleted.
    let form = Form::new()
        .part("files+", file("two.txt", b"2"))
        .part("cover", file("second.png", PNG));
    let (s, record) = update(&srv, "docs", &id, form).await;
    assert_eq!(s, 200, "{record}");
    let files = names(&record, "files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], one, "appended after the kept file");
    let second = record["cover"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    until_stored(&srv, &[&one, &files[1], &second]).await;

    // Remove one by name (a JSON body works as well as a form).
    let path = format!("/api/collections/docs/records/{id}");
    let (s, record) = srv
        .send("PATCH", &path, None, Some(json!({"files-": [one]})))
        .await;
    assert_eq!(s, 200, "{record}");
    assert_eq!(names(&record, "files"), [files[1].clone()]);
    until_stored(&srv, &[&files[1], &second]).await;
    let (s, _, _) = download(&srv, &id, &one).await;
    assert_eq!(s, 404);

    // A note cascades from the doc: deleting the doc deletes both records' files.
    let form = Form::new()
        .text("doc", id.clone())
        .part("attachment", file("note.txt", b"n"));
    let (s, note) = create(&srv, "notes", form).await;
    assert_eq!(s, 200, "{note}");
    let attachment = note["attachment"].as_str().unwrap().to_owned();
    until_stored(&srv, &[&files[1], &second, &attachment]).await;
    assert_eq!(srv.send("DELETE", &path, None, None).await.0, 204);
    until_stored(&srv, &[]).await;
}

async fn uploads_are_checked_against_their_field_and_leave_nothing_when_refused() {
    let srv = TestServer::start().await;
    collections(&srv).await;
    let code = |body: &Value, field: &str| body["data"][field]["code"].as_str().map(str::to_owned);

    let form = (0..4).fold(Form::new(), |f, i| {
        f.part("files", file(&format!("{i}.txt"), b"x"))
    });
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(
        (s, code(&body, "files").as_deref()),
        (400, Some("validation_too_many_files")),
        "{body}"
    );

    let form = Form::new().part("small", file("big.txt", b"more than ten bytes"));
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(
        (s, code(&body, "small").as_deref()),
        (400, Some("validation_file_size_limit")),
        "{body}"
    );
    assert_eq!(body["data"]["small"]["params"]["maxSize"], 10);

    // The type is the content's, as PocketBase sniffs it: a name does not change it.
    for name in ["cover.txt", "renamed.png"] {
        let form = Form::new().part("cover", file(name, b"not an image"));
        let (s, body) = create(&srv, "docs", form).await;
        assert_eq!(
            (s, code(&body, "cover").as_deref()),
            (400, Some("validation_invalid_mime_type")),
            "{name}: {body}"
        );
    }
    let form = Form::new().part("cover", file("renamed.txt", PNG));
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(s, 200, "a PNG by any name: {body}");
    let path = format!(
        "/api/collections/docs/records/{}",
        body["id"].as_str().unwrap()
    );
    assert_eq!(srv.send("DELETE", &path, None, None).await.0, 204);

    // Naming a file the record does not have.
    let form = Form::new().text("files", "someone_else_0123456789.txt");
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(
        (s, code(&body, "files").as_deref()),
        (400, Some("validation_invalid_file")),
        "{body}"
    );

    // A write refused inside the transaction (its id is taken), after its upload was
    // stored: the upload is deleted again.
    let (s, body) = create(&srv, "docs", Form::new().text("id", "doc000000000001")).await;
    assert_eq!(s, 200, "{body}");
    let form = Form::new()
        .text("id", "doc000000000001")
        .part("files", file("fine.txt", b"fine"));
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(s, 400, "{body}");
    until_stored(&srv, &[]).await;
}

async fn protected_files_need_a_file_token_whose_holder_passes_the_view_rule() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let papers = json!({"name": "papers", "viewRule": "owner = @request.auth.id",
        "fields": [
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "paper", "type": "file", "maxSelect": 1, "protected": true},
            {"name": "cover", "type": "file", "maxSelect": 1}]});
    let (s, body) = srv
        .send("POST", "/api/collections", Some(&su), Some(papers))
        .await;
    assert_eq!(s, 200, "{body}");
    let mut users = Vec::new();
    for email in ["owner@example.com", "other@example.com"] {
        let body = json!({"email": email, "password": "12345678", "passwordConfirm": "12345678"});
        let (s, user) = srv
            .send(
                "POST",
                "/api/collections/users/records",
                Some(&su),
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{user}");
        users.push((
            user["id"].as_str().unwrap().to_owned(),
            srv.login("users", email, "12345678").await,
        ));
    }
    let form = Form::new()
        .text("owner", users[0].0.clone())
        .part("paper", file("secret.pdf", b"%PDF-1.4 secret"))
        .part("cover", file("cover.png", PNG));
    let response = srv
        .client
        .post(srv.url("/api/collections/papers/records"))
        .header("Authorization", &su)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let record: Value = response.json().await.unwrap();
    let (id, paper, cover) = (
        record["id"].as_str().unwrap(),
        record["paper"].as_str().unwrap(),
        record["cover"].as_str().unwrap(),
    );
    let get = |name: &str, token: Option<&str>| {
        let mut url = srv.url(&format!("/api/files/papers/{id}/{name}"));
        if let Some(token) = token {
            url.push_str(&format!("?token={token}"));
        }
        let request = srv.client.get(url);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let srv = &srv;
    let file_token = |auth: Option<String>| async move {
        srv.send("POST", "/api/files/token", auth.as_deref(), None)
            .await
    };

    // A guest gets no file token (PocketBase's 401), and no protected file.
    let (s, body) = file_token(None).await;
    assert_eq!(
        (s, body),
        (
            401,
            json!({"data": {}, "message": "The request requires valid record authorization token.", "status": 401})
        )
    );
    assert_eq!(get(paper, None).await, 404);
    assert_eq!(
        get(cover, None).await,
        200,
        "an unprotected field's file needs no token"
    );
    // An auth token is no file token.
    assert_eq!(get(paper, Some(&users[0].1)).await, 404);

    let (s, owner) = file_token(Some(users[0].1.clone())).await;
    assert_eq!(s, 200, "{owner}");
    let owner = owner["token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(paper, Some(&owner)).await,
        200,
        "the owner passes the view rule"
    );
    let (_, other) = file_token(Some(users[1].1.clone())).await;
    assert_eq!(
        get(paper, Some(other["token"].as_str().unwrap())).await,
        404
    );
    let (_, root) = file_token(Some(su.clone())).await;
    assert_eq!(
        get(paper, Some(root["token"].as_str().unwrap())).await,
        200,
        "superusers see all"
    );
    assert_eq!(get(paper, Some("garbage")).await, 404);
}

async fn downloads_answer_ranges_and_conditional_requests() {
    let srv = TestServer::start().await;
    collections(&srv).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let (s, record) = create(
        &srv,
        "docs",
        Form::new().part("files", file("data.bin", &content)),
    )
    .await;
    assert_eq!(s, 200, "{record}");
    let url = srv.url(&format!(
        "/api/files/docs/{}/{}",
        record["id"].as_str().unwrap(),
        names(&record, "files")[0]
    ));
    let get = |headers: &[(&str, &str)]| {
        let mut request = srv.client.get(&url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        async move {
            let response = request.send().await.unwrap();
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            (status, headers, response.bytes().await.unwrap().to_vec())
        }
    };

    let (s, whole, bytes) = get(&[]).await;
    assert_eq!((s, bytes.len()), (200, 1000));
    assert_eq!(whole["accept-ranges"], "bytes");
    let etag = whole["etag"].to_str().unwrap().to_owned();
    let modified = whole["last-modified"].to_str().unwrap().to_owned();

    let (s, headers, bytes) = get(&[("range", "bytes=10-19")]).await;
    assert_eq!((s, bytes.as_slice()), (206, &content[10..20]));
    assert_eq!(headers["content-range"], "bytes 10-19/1000");
    assert_eq!(headers["content-length"], "10");
    let (s, headers, bytes) = get(&[("range", "bytes=-5")]).await;
    assert_eq!((s, bytes.as_slice()), (206, &content[995..]));
    assert_eq!(headers["content-range"], "bytes 995-999/1000");
    let (s, _, bytes) = get(&[("range", "bytes=990-")]).await;
    assert_eq!((s, bytes.len()), (206, 10));
    let (s, headers, _) = get(&[("range", "bytes=1000-")]).await;
    assert_eq!(
        (s, headers["content-range"].to_str().unwrap()),
        (416, "bytes */1000")
    );
    let (s, _, bytes) = get(&[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(
        (s, bytes.len()),
        (200, 1000),
        "several ranges: the whole file"
    );
    let (s, _, bytes) = get(&[("range", "bytes=10-19"), ("if-range", "\"stale\"")]).await;
    assert_eq!(
        (s, bytes.len()),
        (200, 1000),
        "a changed file: the whole file"
    );
    let (s, _, bytes) = get(&[("range", "bytes=10-19"), ("if-range", &etag)]).await;
    assert_eq!((s, bytes.len()), (206, 10));

    let (s, headers, bytes) = get(&[("if-none-match", &etag)]).await;
    assert_eq!((s, bytes.len()), (304, 0));
    assert_eq!(headers["etag"], etag.as_str());
    let (s, _, _) = get(&[("if-none-match", "\"other\"")]).await;
    assert_eq!(s, 200);
    let (s, _, _) = get(&[("if-modified-since", &modified)]).await;
    assert_eq!(s, 304);
    let (s, _, _) = get(&[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")]).await;
    assert_eq!(s, 200);
}

/// Two nodes on one PostgreSQL database with files in one bucket: a file uploaded through
/// one downloads through the other, and a record deleted through the other takes its
/// files along. (Runs when both servers are there.)
#[tokio::test]
async fn nodes_sharing_a_bucket_serve_each_others_files() {
    if kulisse_testkit::pg_admin_url().is_none() || kulisse_testkit::s3_url().is_none() {
        eprintln!("skipped: needs KULISSE_TEST_PG_URL and KULISSE_TEST_S3_URL");
        return;
    }
    let scope = async {
        let a = TestServer::start().await;
        collections(&a).await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let (s, record) = create(
            &a,
            "docs",
            Form::new().part("files", file("report.txt", b"from node a")),
        )
        .await;
        assert_eq!(s, 200, "{record}");
        let id = record["id"].as_str().unwrap();
        let name = &names(&record, "files")[0];
        let (s, _, bytes) = download(&b, id, name).await;
        assert_eq!((s, bytes.as_slice()), (200, &b"from node a"[..]));

        let (s, body) = b
            .send(
                "DELETE",
                &format!("/api/collections/docs/records/{id}"),
                None,
                None,
            )
            .await;
        assert_eq!(s, 204, "{body}");
        until_stored(&a, &[]).await;
    };
    kulisse_testkit::ENGINE
        .scope(
            kulisse_testkit::TestEngine::Postgres,
            kulisse_testkit::STORAGE.scope(kulisse_testkit::TestStorage::S3, scope),
        )
        .await;
}

storage_tests!(s3_settings_are_checked_and_tested_like_pocketbase);

/// `s3` needs every setting once enabled, and `POST /api/settings/test/s3` writes a test
/// file to the bucket as saved, reporting PocketBase's messages.
async fn s3_settings_are_checked_and_tested_like_pocketbase() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let test = |body: Value| {
        let su = su.clone();
        let srv = &srv;
        async move {
            srv.send("POST", "/api/settings/test/s3", Some(&su), Some(body))
                .await
        }
    };

    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(
                json!({"s3": {"enabled": true, "bucket": "", "region": "", "endpoint": "",
                "accessKey": "", "secret": ""}}),
            ),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    for key in ["accessKey", "bucket", "endpoint", "region", "secret"] {
        assert_eq!(
            body["data"]["s3"][key]["code"], "validation_required",
            "{body}"
        );
    }
    let mut bad = json!({"enabled": true, "bucket": "b", "region": "r", "endpoint": "not a url",
        "accessKey": "a", "secret": "s"});
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"s3": bad.clone()}})),
        )
        .await;
    assert_eq!(
        (s, &body["data"]["backups"]["s3"]["endpoint"]["code"]),
        (400, &json!("validation_is_url")),
        "{body}"
    );

    let (s, body) = test(json!({})).await;
    assert_eq!(
        (s, &body["message"]),
        (400, &json!("Failed to test the S3 filesystem."))
    );
    assert_eq!(body["data"]["filesystem"]["code"], "validation_required");
    let (s, body) = test(json!({"filesystem": "other"})).await;
    assert_eq!(
        (s, &body["data"]["filesystem"]["code"]),
        (400, &json!("validation_in_invalid"))
    );
    let (s, body) = test(json!({"filesystem": "backups"})).await;
    assert_eq!(
        (s, &body["message"]),
        (
            400,
            &json!(
                "Failed to test the S3 filesystem. Raw error: \nS3 storage filesystem is not enabled."
            )
        ),
        "{body}"
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/settings/test/s3",
            None,
            Some(json!({"filesystem": "storage"})),
        )
        .await;
    assert_eq!(s, 401, "superusers only");

    let Some(s3) = srv.s3.clone() else {
        return;
    };
    let (s, _) = test(json!({"filesystem": "storage"})).await;
    assert_eq!(s, 204);
    assert_eq!(
        srv.stored_keys().await,
        Vec::<String>::new(),
        "the test file is gone"
    );
    bad["endpoint"] = s3["endpoint"].clone();
    bad["bucket"] = json!("no-such-bucket");
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"s3": bad}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = test(json!({"filesystem": "backups"})).await;
    assert_eq!(s, 400);
    assert!(
        body["message"].as_str().unwrap().starts_with(
            "Failed to test the S3 filesystem. Raw error: \nfailed to upload a test file"
        ),
        "{body}"
    );
}

storage_tests!(thumbs_are_made_once_for_allowed_sizes_and_go_with_their_file);

/// `200`×`100` pixels, left half blue, right half red, encoded as `format`.
fn picture(format: image::ImageFormat) -> Vec<u8> {
    let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 100, |x, _| {
        image::Rgb(if x < 100 { [0, 0, 255] } else { [255, 0, 0] })
    }));
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// A PNG whose header declares 100000 × 100000 pixels (a decompression bomb's).
fn bomb() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(&out[4..]);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    };
    let mut header = 100_000u32.to_be_bytes().repeat(2);
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

async fn thumbs_are_made_once_for_allowed_sizes_and_go_with_their_file() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": "pics", "viewRule": "", "createRule": "", "updateRule": "",
                "fields": [{"name": "img", "type": "file", "maxSelect": 9,
                    "thumbs": ["50x0", "20x20f", "0x50", "30x30t"]}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let form = Form::new()
        .part("img", file("a.png", &picture(image::ImageFormat::Png)))
        .part("img", file("b.webp", &picture(image::ImageFormat::WebP)))
        .part("img", file("c.jpg", &picture(image::ImageFormat::Jpeg)))
        .part("img", file("notes.txt", b"not an image"))
        .part("img", file("bomb.png", &bomb()));
    let (s, record) = create(&srv, "pics", form).await;
    assert_eq!(s, 200, "{record}");
    let id = record["id"].as_str().unwrap().to_owned();
    let [png, webp, jpg, txt, bomb] = <[String; 5]>::try_from(names(&record, "img")).unwrap();
    let thumb = |name: &str, size: &str| {
        let url = srv.url(&format!("/api/files/pics/{id}/{name}?thumb={size}"));
        let client = srv.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap();
            (status, headers, bytes)
        }
    };
    let dims = |bytes: &[u8]| {
        let image = image::load_from_memory(bytes).unwrap();
        (image.width(), image.height())
    };

    for (name, size, expected, content_type) in [
        (&png, "50x0", (50, 25), "image/png"),
        (&png, "0x50", (100, 50), "image/png"),
        (&png, "20x20f", (20, 10), "image/png"),
        (&png, "100x100", (100, 100), "image/png"),
        (&png, "30x30t", (30, 30), "image/png"),
        (&webp, "50x0", (50, 25), "image/png"),
        (&jpg, "50x0", (50, 25), "image/jpeg"),
    ] {
        let (s, headers, bytes) = thumb(name, size).await;
        assert_eq!(s, 200, "{name} {size}");
        assert_eq!(dims(&bytes), expected, "{name} {size}");
        assert_eq!(headers["content-type"], content_type, "{name} {size}");
        assert_eq!(
            headers["content-disposition"],
            format!("inline; filename=\"{size}_{name}\"").as_str()
        );
    }
    let (_, _, fill) = thumb(&png, "30x30t").await;
    let fill = image::load_from_memory(&fill).unwrap().to_rgb8();
    assert!(
        fill.get_pixel(0, 0).0[2] > 200,
        "cropped around the middle: blue on the left"
    );
    assert!(fill.get_pixel(29, 0).0[0] > 200, "and red on the right");

    // Anything else serves the original, as PocketBase does.
    for (name, size) in [
        (&png, "7x7"),
        (&png, "50x0f"),
        (&txt, "100x100"),
        (&bomb, "100x100"),
        (&png, "../x"),
    ] {
        let (s, headers, bytes) = thumb(name, size).await;
        assert_eq!(s, 200, "{name} {size}");
        assert_eq!(
            headers["content-disposition"].to_str().unwrap(),
            if name.ends_with(".txt") {
                format!("attachment; filename=\"{name}\"")
            } else {
                format!("inline; filename=\"{name}\"")
            },
            "{name} {size}"
        );
        let original = match name {
            n if n == &txt => b"not an image".to_vec(),
            n if n == &bomb => self::bomb(),
            _ => picture(image::ImageFormat::Png),
        };
        assert_eq!(bytes.as_ref(), original.as_slice(), "{name} {size}");
    }

    let keys = srv.stored_keys().await;
    let collection_id = record["collectionId"].as_str().unwrap();
    assert!(
        keys.contains(&format!("{collection_id}/{id}/thumbs_{png}/50x0_{png}")),
        "cached beside the original: {keys:?}"
    );
    assert_eq!(keys.len(), 5 + 7, "five files and seven thumbs: {keys:?}");

    // A removed file takes its thumbs along; a deleted record all of them.
    let (s, body) = update(&srv, "pics", &id, Form::new().text("img-", png.clone())).await;
    assert_eq!(s, 200, "{body}");
    let webp_thumb = format!("50x0_{webp}");
    let jpg_thumb = format!("50x0_{jpg}");
    until_stored(&srv, &[&webp, &jpg, &txt, &bomb, &webp_thumb, &jpg_thumb]).await;
    let (s, _) = srv
        .send(
            "DELETE",
            &format!("/api/collections/pics/records/{id}"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 204);
    until_stored(&srv, &[]).await;
}

kulisse_testkit::engine_tests!(a_failing_file_store_refuses_the_upload_and_writes_no_record);

/// The file store fails (its bucket is gone): a write with files is refused with a clear
/// message and writes nothing; writes without files go on.
async fn a_failing_file_store_refuses_the_upload_and_writes_no_record() {
    if kulisse_testkit::s3_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_S3_URL is not set");
        return;
    }
    let srv = TestServer::start().await;
    collections(&srv).await;
    let su = srv.superuser_token().await;
    let mut s3 = kulisse_testkit::fresh_bucket().await;
    s3["bucket"] = json!("kulisse-no-such-bucket");
    let (s, body) = srv
        .send("PATCH", "/api/settings", Some(&su), Some(json!({"s3": s3})))
        .await;
    assert_eq!(s, 200, "{body}");

    let form = Form::new()
        .text("title", "with a file")
        .part("files", file("a.txt", b"bytes"));
    let (s, body) = create(&srv, "docs", form).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (400, Some("Failed to upload the files.")),
        "{body}"
    );
    let (s, list) = srv
        .send("GET", "/api/collections/docs/records", None, None)
        .await;
    assert_eq!((s, &list["totalItems"]), (200, &json!(0)), "{list}");
    let (s, body) = create(&srv, "docs", Form::new().text("title", "no file")).await;
    assert_eq!(s, 200, "a write without files needs no store: {body}");
}

storage_tests!(batches_store_their_sub_requests_files_all_or_nothing);

/// `/api/batch` with `requests.N.field` file parts (as the SDK's batch sends them): each
/// sub-request gets its files; a batch that fails stores none.
async fn batches_store_their_sub_requests_files_all_or_nothing() {
    let srv = TestServer::start().await;
    collections(&srv).await;
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
    let (s, existing) = create(
        &srv,
        "docs",
        Form::new().part("files", file("old.txt", b"old")),
    )
    .await;
    assert_eq!(s, 200, "{existing}");
    let existing_id = existing["id"].as_str().unwrap();
    let old = names(&existing, "files")[0].clone();
    let batch = |requests: Value, parts: Vec<(&str, Part)>| {
        let form = parts.into_iter().fold(
            Form::new().text("@jsonPayload", json!({ "requests": requests }).to_string()),
            |form, (key, part)| form.part(key.to_owned(), part),
        );
        srv.send_multipart(reqwest::Method::POST, "/api/batch", form)
    };

    let (s, answers) = batch(
        json!([
            {"method": "POST", "url": "/api/collections/docs/records", "body": {"title": "new"}},
            {"method": "PATCH", "url": format!("/api/collections/docs/records/{existing_id}"),
             "body": {}},
        ]),
        vec![
            ("requests.0.files", file("a.txt", b"first")),
            ("requests.0.files", file("b.txt", b"second")),
            ("requests.1.files+", file("c.txt", b"appended")),
            ("requests.7.files", file("nobody.txt", b"ignored")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{answers}");
    let created = &answers[0]["body"];
    let created_files = names(created, "files");
    assert_eq!(created_files.len(), 2, "{created}");
    let (s, _, bytes) = download(&srv, created["id"].as_str().unwrap(), &created_files[1]).await;
    assert_eq!((s, bytes.as_slice()), (200, &b"second"[..]));
    let updated = names(&answers[1]["body"], "files");
    assert_eq!(
        (updated.len(), &updated[0]),
        (2, &old),
        "appended: {answers}"
    );
    let (s, _, bytes) = download(&srv, existing_id, &updated[1]).await;
    assert_eq!((s, bytes.as_slice()), (200, &b"appended"[..]));
    let stored: Vec<&str> = [&old, &updated[1], &created_files[0], &created_files[1]]
        .into_iter()
        .map(String::as_str)
        .collect();
    until_stored(&srv, &stored).await;

    // The second sub-request fails inside the transaction (its id is taken by the first),
    // after the first one's file was stored: nothing stays.
    let (s, body) = batch(
        json!([
            {"method": "POST", "url": "/api/collections/docs/records",
             "body": {"id": "twice0000000000"}},
            {"method": "POST", "url": "/api/collections/docs/records",
             "body": {"id": "twice0000000000"}},
        ]),
        vec![("requests.0.files", file("lost.txt", b"lost"))],
    )
    .await;
    assert_eq!(
        (s, &body["data"]["requests"]["1"]["code"]),
        (400, &json!("batch_request_failed")),
        "{body}"
    );
    // A sub-request's file that fails its field's checks names that sub-request.
    let (s, body) = batch(
        json!([
            {"method": "POST", "url": "/api/collections/docs/records", "body": {}},
            {"method": "POST", "url": "/api/collections/docs/records", "body": {}},
        ]),
        vec![("requests.1.small", file("big.txt", b"more than ten bytes"))],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["data"]["requests"]["1"]["response"]["data"]["small"]["code"],
        "validation_file_size_limit",
        "{body}"
    );
    let (_, list) = srv
        .send("GET", "/api/collections/docs/records", None, None)
        .await;
    assert_eq!(list["totalItems"], 2, "{list}");
    until_stored(&srv, &stored).await;
}

storage_tests!(a_deleted_collection_takes_its_files_along);

/// Deleting a collection deletes its directory of files (after the commit, through the
/// change event, like a deleted record's).
async fn a_deleted_collection_takes_its_files_along() {
    let srv = TestServer::start().await;
    collections(&srv).await;
    let (s, doc) = create(
        &srv,
        "docs",
        Form::new().part("files", file("kept.txt", b"kept")),
    )
    .await;
    assert_eq!(s, 200, "{doc}");
    let (s, note) = create(
        &srv,
        "notes",
        Form::new().part("attachment", file("gone.txt", b"gone")),
    )
    .await;
    assert_eq!(s, 200, "{note}");
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send("DELETE", "/api/collections/notes", Some(&su), None)
        .await;
    assert_eq!(s, 204, "{body}");
    let kept = names(&doc, "files")[0].clone();
    until_stored(&srv, &[&kept]).await;
}

kulisse_testkit::engine_tests!(a_field_allowing_large_files_raises_the_body_limit);

/// A file field whose `maxSize` is past the usual 32 MiB request limit takes files that
/// large (streamed to disk, never held whole); a larger body still gets a 413.
async fn a_field_allowing_large_files_raises_the_body_limit() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "videos", "createRule": "", "viewRule": "",
                "fields": [{"name": "clip", "type": "file", "maxSelect": 1,
                    "maxSize": 40 << 20}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let big = vec![7u8; 36 << 20];
    let (s, record) = create(
        &srv,
        "videos",
        Form::new().part("clip", file("clip.bin", &big)),
    )
    .await;
    assert_eq!(s, 200, "{record}");
    let (s, _, bytes) = {
        let url = srv.url(&format!(
            "/api/files/videos/{}/{}",
            record["id"].as_str().unwrap(),
            record["clip"].as_str().unwrap()
        ));
        let response = srv.client.get(url).send().await.unwrap();
        (
            response.status().as_u16(),
            (),
            response.bytes().await.unwrap(),
        )
    };
    assert_eq!((s, bytes.len()), (200, 36 << 20));
    let too_big = vec![7u8; 42 << 20];
    let (s, body) = create(
        &srv,
        "videos",
        Form::new().part("clip", file("huge.bin", &too_big)),
    )
    .await;
    assert_eq!(s, 413, "{body}");
}
