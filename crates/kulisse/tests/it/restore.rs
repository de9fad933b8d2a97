//! Restoring a backup (issue #18): the data, the settings and the uploaded files come back
//! as they were, with the server running on; a damaged, altered or hostile archive is
//! refused with its reason and nothing live changes.

use std::io::{Read, Write};

use kulisse_testkit::{TestServer, engine_tests};

use crate::backups::{download, file_token, record_with_a_file, upload};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

engine_tests!(
    a_restore_brings_back_records_files_and_settings,
    a_damaged_or_hostile_archive_is_refused_and_nothing_changes,
);

async fn backup(srv: &TestServer, su: &str, name: &str) {
    let (s, body) = srv
        .send(
            "POST",
            "/api/backups",
            Some(su),
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
}

async fn restore(srv: &TestServer, su: &str, name: &str) -> (u16, Value) {
    srv.send(
        "POST",
        &format!("/api/backups/{name}/restore"),
        Some(su),
        None,
    )
    .await
}

async fn titles(srv: &TestServer) -> Vec<String> {
    let (s, body) = srv
        .send(
            "GET",
            "/api/collections/docs/records?sort=title",
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

/// `docs` with two records, the first with a file; the first record.
async fn two_docs(srv: &TestServer, su: &str) -> Value {
    let (_, first) = record_with_a_file(srv, su, "a first", b"original bytes").await;
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/docs/records",
            None,
            Some(json!({"title": "b second"})),
        )
        .await;
    assert_eq!(s, 200);
    first
}

async fn file_of(srv: &TestServer, record: &Value) -> (u16, Vec<u8>) {
    let path = format!(
        "/api/files/docs/{}/{}",
        record["id"].as_str().unwrap(),
        record["doc"].as_str().unwrap()
    );
    let res = srv.client.get(srv.url(&path)).send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

async fn a_restore_brings_back_records_files_and_settings() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let first = two_docs(&srv, &su).await;
    backup(&srv, &su, "before.zip").await;
    // Change everything the backup holds.
    let id = first["id"].as_str().unwrap();
    let (s, _) = srv
        .send(
            "DELETE",
            &format!("/api/collections/docs/records/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 204);
    srv.send(
        "POST",
        "/api/collections/docs/records",
        None,
        Some(json!({"title": "c later"})),
    )
    .await;
    let (s, _) = srv
        .send(
            "PATCH",
            "/api/settings",
            Some(&su),
            Some(json!({"meta": {"appName": "Changed"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(titles(&srv).await, ["b second", "c later"]);
    assert_eq!(file_of(&srv, &first).await.0, 404);

    let (s, body) = restore(&srv, &su, "before.zip").await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(titles(&srv).await, ["a first", "b second"]);
    assert_eq!(
        file_of(&srv, &first).await,
        (200, b"original bytes".to_vec())
    );
    let (_, settings) = srv.send("GET", "/api/settings", Some(&su), None).await;
    assert_eq!(settings["meta"]["appName"], "Acme");
    // The data as it was before the restore is kept, to undo it.
    let (_, list) = srv.send("GET", "/api/backups", Some(&su), None).await;
    let undo = list
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| b["key"].as_str().filter(|k| k.starts_with("pre_restore_")))
        .unwrap_or_else(|| panic!("no rollback backup: {list}"))
        .to_owned();
    let (s, body) = restore(&srv, &su, &undo).await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(titles(&srv).await, ["b second", "c later"]);
}

/// A zip of `entries` (name, bytes, a link when true) with `manifest` as its manifest.
fn zip_of(entries: &[(&str, Vec<u8>, bool)], manifest: &Value) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes, link) in entries {
        if *link {
            zip.add_symlink(*name, "/etc/passwd", options).unwrap();
        } else {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
    }
    zip.start_file("kulisse-backup.json", options).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// The manifest listing `entries` as they are (`lie`: a size for each instead).
fn manifest(entries: &[(&str, &[u8])], engine: &str) -> Value {
    json!({"format": 1, "version": "0", "engine": engine, "created": "2026-12-05 00:00:00.000Z",
        "entries": entries.iter().map(|(name, bytes)| json!({"name": name, "size": bytes.len(),
            "sha256": data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))})).collect::<Vec<_>>()})
}

async fn a_damaged_or_hostile_archive_is_refused_and_nothing_changes() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    two_docs(&srv, &su).await;
    backup(&srv, &su, "good.zip").await;
    let token = file_token(&srv, &su).await;
    let good = download(&srv, "good.zip", &token)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let engine = if srv.pg_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let other = if engine == "sqlite" {
        "postgres"
    } else {
        "sqlite"
    };
    // The good archive's first entry with content, to alter.
    let (name, content) = {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&good)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut entry = zip.by_index(i).unwrap();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                (entry.name().unwrap().into_owned(), content)
            })
            .find(|(name, content)| !content.is_empty() && name != "kulisse-backup.json")
            .unwrap()
    };
    let mut altered = content.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0xff;
    let small: &[u8] = b"x";
    let zeros = vec![0u8; 64 << 20];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.zip",
            good[..good.len() / 2].to_vec(),
            "not a readable zip archive",
        ),
        (
            "altered.zip",
            zip_of(
                &[(&name, altered, false)],
                &manifest(&[(&name, &content)], engine),
            ),
            "does not match its checksum",
        ),
        (
            "slip.zip",
            zip_of(
                &[("../../evil.txt", small.to_vec(), false)],
                &manifest(&[("../../evil.txt", small)], engine),
            ),
            "points outside the archive",
        ),
        (
            "link.zip",
            zip_of(
                &[("storage/link", Vec::new(), true)],
                &manifest(&[("storage/link", small)], engine),
            ),
            "is a link",
        ),
        (
            // 64 MiB of zeros (a few KiB zipped) listed as one byte: reading stops there.
            "bomb.zip",
            zip_of(
                &[("data.db", zeros, false)],
                &manifest(&[("data.db", small)], engine),
            ),
            "does not match its checksum",
        ),
        (
            "unlisted.zip",
            zip_of(&[(&name, content.clone(), false)], &manifest(&[], engine)),
            "is not in the manifest",
        ),
        (
            "foreign.zip",
            zip_of(
                &[(&name, content.clone(), false)],
                &manifest(&[(&name, &content)], other),
            ),
            "cannot be restored into",
        ),
    ];
    let before = titles(&srv).await;
    for (key, bytes, why) in cases {
        assert_eq!(upload(&srv, Some(&su), key, &bytes).await.0, 204, "{key}");
        let (s, body) = restore(&srv, &su, key).await;
        assert_eq!(s, 400, "{key}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("Failed to restore the backup: ") && message.contains(why),
            "{key}: {message}"
        );
        assert_eq!(titles(&srv).await, before, "{key} changed the data");
    }
    assert!(!srv.uploads().parent().unwrap().join("../evil.txt").exists());
}

/// A restore on one node of a PostgreSQL database reaches the others: they reload the
/// schema and the settings it replaced.
#[tokio::test]
async fn a_restore_on_one_node_reaches_the_others() {
    if kulisse_testkit::pg_admin_url().is_none() {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    }
    let scope = async {
        let a = TestServer::start().await;
        let b = TestServer::join(a.pg_url.as_deref().unwrap()).await;
        let su = a.superuser_token().await;
        two_docs(&a, &su).await;
        backup(&a, &su, "shared.zip").await;
        let (s, _) = a
            .send(
                "POST",
                "/api/collections",
                Some(&su),
                Some(json!({"name": "later", "fields": [{"name": "x", "type": "text"}]})),
            )
            .await;
        assert_eq!(s, 200);
        let (s, _) = a
            .send(
                "PATCH",
                "/api/settings",
                Some(&su),
                Some(json!({"meta": {"appName": "Later"}})),
            )
            .await;
        assert_eq!(s, 200);
        let seen_on_b = |path: &'static str| {
            let (b, su) = (&b, su.clone());
            async move { b.send("GET", path, Some(&su), None).await }
        };
        for _ in 0..100 {
            if seen_on_b("/api/collections/later").await.0 == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen_on_b("/api/collections/later").await.0, 200);
        let (s, body) = restore(&a, &su, "shared.zip").await;
        assert_eq!(s, 204, "{body}");
        for _ in 0..100 {
            if seen_on_b("/api/collections/later").await.0 == 404 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            seen_on_b("/api/collections/later").await.0,
            404,
            "b still has the collection"
        );
        assert_eq!(
            seen_on_b("/api/settings").await.1["meta"]["appName"],
            "Acme"
        );
        assert_eq!(titles(&b).await, ["a first", "b second"]);
    };
    kulisse_testkit::ENGINE
        .scope(kulisse_testkit::TestEngine::Postgres, scope)
        .await;
}
