//! Backups (issue #18, spec §8.4): made while the server runs, holding a consistent copy
//! of the records, the request log and the uploaded files with a manifest that checks them,
//! listed, downloaded with a superuser's file token, deleted; only superusers reach them.

use std::io::Read;

use kulisse_testkit::{
    TestServer, bucket, engine_tests, fresh_bucket, mail_to, s3_url, smtp_settings,
};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

engine_tests!(
    a_backup_holds_the_records_the_files_and_a_manifest_that_checks_them,
    backups_are_listed_named_and_deleted_as_pocketbase_does,
    only_superusers_reach_backups,
    a_backup_schedule_makes_backups_and_keeps_the_newest,
    an_uploaded_backup_is_stored_as_it_came,
    backups_go_to_the_bucket_backups_s3_names,
    a_failed_scheduled_backup_is_mailed_to_every_superuser,
);

/// A public collection `docs` (anyone may list, view, create, update and delete) with a
/// title and a file, and one record titled `title` with `notes.txt` holding `bytes`: the
/// collection and the record.
pub async fn record_with_a_file(
    srv: &TestServer,
    su: &str,
    title: &str,
    bytes: &[u8],
) -> (Value, Value) {
    let (s, c) = srv
        .send(
            "POST",
            "/api/collections",
            Some(su),
            Some(
                json!({"name": "docs", "listRule": "", "viewRule": "", "createRule": "",
                "updateRule": "", "deleteRule": "",
                "fields": [{"name": "title", "type": "text"},
                           {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1000000}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let form = Form::new()
        .text("title", title.to_owned())
        .part("doc", Part::bytes(bytes.to_vec()).file_name("notes.txt"));
    let (s, record) = srv
        .send_multipart(reqwest::Method::POST, "/api/collections/docs/records", form)
        .await;
    assert_eq!(s, 200, "{record}");
    (c, record)
}

/// The entries of the zip `bytes`, by name.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (entry.name().unwrap().into_owned(), content)
        })
        .collect()
}

pub async fn download(srv: &TestServer, key: &str, token: &str) -> reqwest::Response {
    srv.client
        .get(srv.url(&format!("/api/backups/{key}?token={token}")))
        .send()
        .await
        .unwrap()
}

pub async fn file_token(srv: &TestServer, auth: &str) -> String {
    let (s, body) = srv.send("POST", "/api/files/token", Some(auth), None).await;
    assert_eq!(s, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn a_backup_holds_the_records_the_files_and_a_manifest_that_checks_them() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (c, record) =
        record_with_a_file(&srv, &su, "kept in the backup", b"the file's bytes").await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/backups",
            Some(&su),
            Some(json!({"name": "first.zip"})),
        )
        .await;
    assert_eq!((s, &body), (204, &Value::Null), "{body}");
    let res = download(&srv, "first.zip", &file_token(&srv, &su).await).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.bytes().await.unwrap();
    let entries = entries(&bytes);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let content = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("no {name} in {names:?}"))
    };
    // The uploaded file, under its storage key.
    let stored = record["doc"].as_str().unwrap();
    let key = format!(
        "storage/{}/{}/{stored}",
        c["id"].as_str().unwrap(),
        record["id"].as_str().unwrap()
    );
    assert_eq!(content(&key), b"the file's bytes");
    // The record, in the engine's snapshot.
    let manifest: Value = serde_json::from_slice(&content("kulisse-backup.json")).unwrap();
    let title = "kept in the backup";
    if srv.pg_url.is_some() {
        assert_eq!(manifest["engine"], "postgres");
        let docs = String::from_utf8(content("postgres-public/docs.copy")).unwrap();
        assert!(docs.contains(title), "{docs}");
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("postgres-kulisse_logs/")),
            "{names:?}"
        );
    } else {
        assert_eq!(manifest["engine"], "sqlite");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.db"), content("data.db")).unwrap();
        let db = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let found: String = db
            .query_row(r#"SELECT title FROM "docs""#, [], |r| r.get(0))
            .unwrap();
        assert_eq!(found, title);
        assert!(names.contains(&"logs.db"), "{names:?}");
    }
    // Every entry but the manifest is listed in it with its size and SHA-256.
    let listed = manifest["entries"].as_array().unwrap();
    assert_eq!(listed.len(), entries.len() - 1, "{manifest}");
    for entry in listed {
        let data = content(entry["name"].as_str().unwrap());
        assert_eq!(entry["size"], data.len());
        assert_eq!(
            entry["sha256"],
            data_encoding::HEXLOWER.encode(&Sha256::digest(&data))
        );
    }
}

async fn backups_are_listed_named_and_deleted_as_pocketbase_does() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv.send("GET", "/api/backups", Some(&su), None).await;
    assert_eq!((s, body), (200, json!([])));
    let (s, body) = srv
        .send("POST", "/api/backups", Some(&su), Some(json!({})))
        .await;
    assert_eq!(s, 204, "{body}");
    let (_, list) = srv.send("GET", "/api/backups", Some(&su), None).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let key = items[0]["key"].as_str().unwrap().to_owned();
    let stamp = key
        .strip_prefix("pb_backup_acme_")
        .and_then(|k| k.strip_suffix(".zip"))
        .unwrap_or_else(|| panic!("not PocketBase's default name: {key}"));
    assert!(
        stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "{key}"
    );
    assert!(items[0]["size"].as_u64().unwrap() > 0);
    assert!(items[0]["modified"].as_str().unwrap().ends_with('Z'));
    for bad in ["Bad.zip", "../x.zip", "x.tar", ""] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/backups",
                Some(&su),
                Some(json!({"name": bad.to_owned() + if bad.is_empty() { "a b.zip" } else { "" }})),
            )
            .await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert_eq!(
            body["data"]["name"]["code"], "validation_match_invalid",
            "{body}"
        );
    }
    let (s, body) = srv
        .send("DELETE", "/api/backups/nothing.zip", Some(&su), None)
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, _) = srv
        .send("DELETE", &format!("/api/backups/{key}"), Some(&su), None)
        .await;
    assert_eq!(s, 204);
    let (_, list) = srv.send("GET", "/api/backups", Some(&su), None).await;
    assert_eq!(list, json!([]));
}

async fn only_superusers_reach_backups() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.create_user("nosy@example.com", "nosy-password").await;
    let user = srv
        .login("users", "nosy@example.com", "nosy-password")
        .await;
    let (s, _) = srv
        .send(
            "POST",
            "/api/backups",
            Some(&su),
            Some(json!({"name": "secret.zip"})),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(srv.send("GET", "/api/backups", None, None).await.0, 401);
    assert_eq!(
        srv.send("GET", "/api/backups", Some(&user), None).await.0,
        403
    );
    assert_eq!(
        srv.send("POST", "/api/backups", Some(&user), Some(json!({})))
            .await
            .0,
        403
    );
    assert_eq!(
        srv.send("DELETE", "/api/backups/secret.zip", Some(&user), None)
            .await
            .0,
        403
    );
    for token in [String::new(), file_token(&srv, &user).await, su.clone()] {
        let res = download(&srv, "secret.zip", &token).await;
        assert_eq!(res.status(), 403);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["message"],
            "Insufficient permissions to access the resource."
        );
    }
    assert_eq!(
        download(&srv, "secret.zip", &file_token(&srv, &su).await)
            .await
            .status(),
        200
    );
}

/// The keys of the stored backups.
async fn keys(srv: &TestServer, su: &str) -> Vec<String> {
    let (s, list) = srv.send("GET", "/api/backups", Some(su), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_backup_schedule_makes_backups_and_keeps_the_newest() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"cron": "every night", "cronMaxKeep": 0}})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["data"]["backups"]["cron"]["code"],
        "validation_invalid_cron"
    );
    assert_eq!(
        body["data"]["backups"]["cronMaxKeep"]["code"],
        "validation_required"
    );
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"cron": "0 3 * * *", "cronMaxKeep": 2}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, crons) = srv.send("GET", "/api/crons", Some(&su), None).await;
    assert_eq!(
        crons.as_array().unwrap().last(),
        Some(&json!({"id": "__auto_pb_backup__", "expression": "0 3 * * *"})),
        "{crons}"
    );
    let (s, _) = srv
        .send(
            "POST",
            "/api/backups",
            Some(&su),
            Some(json!({"name": "by-hand.zip"})),
        )
        .await;
    assert_eq!(s, 204);
    // Three scheduled runs, a second apart (their names have the second in them); each
    // is done once a scheduled backup not seen before is listed.
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..3 {
        let (s, _) = srv
            .send("POST", "/api/crons/__auto_pb_backup__", Some(&su), None)
            .await;
        assert_eq!(s, 204);
        let mut new = None;
        for _ in 0..100 {
            new = keys(&srv, &su)
                .await
                .into_iter()
                .find(|k| k.starts_with("@auto_") && !seen.contains(k));
            if new.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        seen.push(new.expect("the scheduled backup was never made"));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let keys = keys(&srv, &su).await;
    let scheduled: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("@auto_pb_backup_acme_"))
        .collect();
    assert_eq!(scheduled.len(), 2, "the newest two are kept: {keys:?}");
    assert!(keys.contains(&"by-hand.zip".to_owned()), "{keys:?}");
    let token = file_token(&srv, &su).await;
    assert_eq!(download(&srv, scheduled[0], &token).await.status(), 200);
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"cron": ""}})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, crons) = srv.send("GET", "/api/crons", Some(&su), None).await;
    assert_eq!(crons.as_array().unwrap().len(), 4, "{crons}");
}

pub async fn upload(
    srv: &TestServer,
    token: Option<&str>,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let form = Form::new().part(
        "file",
        Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    let mut req = srv
        .client
        .post(srv.url("/api/backups/upload"))
        .multipart(form);
    if let Some(token) = token {
        req = req.header("Authorization", token);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn an_uploaded_backup_is_stored_as_it_came() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    record_with_a_file(&srv, &su, "uploaded", b"bytes").await;
    let (s, _) = srv
        .send(
            "POST",
            "/api/backups",
            Some(&su),
            Some(json!({"name": "orig.zip"})),
        )
        .await;
    assert_eq!(s, 204);
    let token = file_token(&srv, &su).await;
    let original = download(&srv, "orig.zip", &token)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(upload(&srv, Some(&su), "copy.zip", &original).await.0, 204);
    let copy = download(&srv, "copy.zip", &token)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(copy, original);
    assert_eq!(keys(&srv, &su).await.len(), 2);
    let code = |body: &Value| {
        body["data"]["file"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (s, body) = upload(&srv, Some(&su), "copy.zip", &original).await;
    assert_eq!(
        (s, code(&body)),
        (400, "validation_backup_exists".into()),
        "{body}"
    );
    let (s, body) = upload(&srv, Some(&su), "text.zip", b"not a zip at all").await;
    assert_eq!(
        (s, code(&body)),
        (400, "validation_invalid_mime_type".into()),
        "{body}"
    );
    let (s, body) = upload(&srv, Some(&su), "Bad Name.zip", &original).await;
    assert_eq!(
        (s, code(&body)),
        (400, "validation_match_invalid".into()),
        "{body}"
    );
    let res = srv
        .client
        .post(srv.url("/api/backups/upload"))
        .header("Authorization", &su)
        .multipart(Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code(&body), "validation_required", "{body}");
    srv.create_user("up@example.com", "up-password").await;
    let user = srv.login("users", "up@example.com", "up-password").await;
    assert_eq!(
        upload(&srv, Some(&user), "mine.zip", &original).await.0,
        403
    );
    assert_eq!(upload(&srv, None, "mine.zip", &original).await.0, 401);
    assert_eq!(keys(&srv, &su).await.len(), 2);
}

async fn backups_go_to_the_bucket_backups_s3_names() {
    if s3_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_S3_URL is not set");
        return;
    }
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let (_, record) = record_with_a_file(&srv, &su, "to the bucket", b"bucket bytes").await;
    let s3 = fresh_bucket().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"s3": s3}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send(
            "POST",
            "/api/settings/test/s3",
            Some(&su),
            Some(json!({"filesystem": "backups"})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, _) = srv
        .send(
            "POST",
            "/api/backups",
            Some(&su),
            Some(json!({"name": "in-bucket.zip"})),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(keys(&srv, &su).await, ["in-bucket.zip"]);
    let stored = bucket(&s3);
    assert_eq!(
        stored.list("").await.unwrap(),
        ["in-bucket.zip"],
        "the backup is in the bucket"
    );
    let token = file_token(&srv, &su).await;
    let downloaded = download(&srv, "in-bucket.zip", &token)
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        entries(&downloaded)
            .iter()
            .any(|(n, c)| n.starts_with("storage/") && c == b"bucket bytes"),
        "the uploaded file is in the backup"
    );
    // Restored from the bucket.
    let path = format!(
        "/api/collections/docs/records/{}",
        record["id"].as_str().unwrap()
    );
    let (s, _) = srv
        .send("PATCH", &path, None, Some(json!({"title": "changed"})))
        .await;
    assert_eq!(s, 200);
    let (s, body) = srv
        .send(
            "POST",
            "/api/backups/in-bucket.zip/restore",
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, back) = srv.send("GET", &path, None, None).await;
    assert_eq!(
        (s, &back["title"]),
        (200, &json!("to the bucket")),
        "{back}"
    );
    let (s, _) = srv
        .send("DELETE", "/api/backups/in-bucket.zip", Some(&su), None)
        .await;
    assert_eq!(s, 204);
    let left = stored.list("").await.unwrap();
    assert!(
        left.len() == 1 && left[0].starts_with("pre_restore_"),
        "deleted from the bucket; the restore's undo is kept there: {left:?}"
    );
    // Back to the data dir: the bucket's backups are not listed there.
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"backups": {"s3": {"enabled": false}}})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        keys(&srv, &su).await.is_empty(),
        "{:?}",
        keys(&srv, &su).await
    );
}

async fn a_failed_scheduled_backup_is_mailed_to_every_superuser() {
    let (Some(smtp), Some(_)) = (smtp_settings(), s3_url()) else {
        eprintln!("skipped: KULISSE_TEST_SMTP or KULISSE_TEST_S3_URL is not set");
        return;
    };
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let to = format!(
        "backup-{}@example.com",
        srv.base.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/_superusers/records",
            Some(&su),
            Some(json!({"email": to, "password": "second-superuser",
                "passwordConfirm": "second-superuser"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // A bucket that is not there: the backup cannot be stored.
    let mut s3 = fresh_bucket().await;
    s3["bucket"] = json!("kulisse-no-such-backup-bucket");
    let settings = json!({"smtp": smtp, "meta": {"appName": "Shop <One>"},
        "backups": {"cron": "0 3 * * *", "cronMaxKeep": 2, "s3": s3}});
    let (s, body) = srv
        .send("PATCH", "/api/settings", Some(&su), Some(settings))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = srv
        .send("POST", "/api/crons/__auto_pb_backup__", Some(&su), None)
        .await;
    assert_eq!(s, 204);
    let mails = mail_to(&to, 1).await;
    assert_eq!(mails.len(), 1, "one notice: {mails:?}");
    assert_eq!(mails[0].subject, "[Shop <One>] Scheduled backup failed");
    assert!(
        mails[0].body.contains("__auto_pb_backup__")
            && mails[0]
                .body
                .contains("storing the backup in the bucket kulisse-no-such-backup-bucket"),
        "the body says what failed: {}",
        mails[0].body
    );
    // A backup made by hand is the superuser's own answer: no mail for it.
    let (s, _) = srv
        .send("POST", "/api/backups", Some(&su), Some(json!({})))
        .await;
    assert_eq!(s, 400);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mail_to(&to, 1).await.len(), 1);
}
