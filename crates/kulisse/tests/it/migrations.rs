//! Versioned system migrations on both engines: a data dir or database made by the release
//! before migrations (the committed fixtures in `tests/fixtures/pre_migrations/`, made by
//! its `make.sh`) opens, is migrated without its data being touched, and answers the API
//! as that release did; a migrated database opens again without change; one migrated by a
//! newer kulisse is refused and left as it was; nodes opening a fresh database at once all
//! succeed, the migrations run once and the default collections are made once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kulisse_store::{Store, StoreError};
use kulisse_store_postgres::PostgresStore;
use kulisse_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use kulisse_testkit::{TestEngine, TestServer, current_engine, superuser_token_at};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre_migrations")
}

/// `(version, name)` of every step this binary knows, on the current engine.
fn known_steps() -> Vec<(i64, String)> {
    let list = match current_engine() {
        TestEngine::Sqlite => &kulisse_store_sqlite::SYSTEM_MIGRATIONS,
        TestEngine::Postgres => &kulisse_store_postgres::SYSTEM_MIGRATIONS,
    };
    list.steps()
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect()
}

/// A database on the current test's engine that a test opens, closes and inspects directly.
enum Place {
    /// The data dir holding `data.db`.
    Sqlite(tempfile::TempDir),
    /// The database's URL.
    Postgres(String),
}

impl Place {
    async fn fresh() -> Place {
        match current_engine() {
            TestEngine::Sqlite => Place::Sqlite(tempfile::tempdir().unwrap()),
            TestEngine::Postgres => Place::Postgres(
                kulisse_testkit::fresh_database()
                    .await
                    .expect("a PostgreSQL server"),
            ),
        }
    }

    /// A copy of the fixture made by the release before migrations.
    async fn pre_migrations_fixture() -> Place {
        match current_engine() {
            TestEngine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                std::fs::copy(
                    fixtures().join("sqlite/data.db"),
                    dir.path().join("data.db"),
                )
                .unwrap();
                Place::Sqlite(dir)
            }
            TestEngine::Postgres => {
                let url = kulisse_testkit::fresh_database()
                    .await
                    .expect("a PostgreSQL server");
                let dump = std::fs::read_to_string(fixtures().join("postgres.sql")).unwrap();
                // pg_dump's `\restrict` lines are psql commands, not SQL.
                let sql: String = dump
                    .lines()
                    .filter(|l| !l.starts_with('\\'))
                    .map(|l| format!("{l}\n"))
                    .collect();
                pg_client(&url).await.batch_execute(&sql).await.unwrap();
                Place::Postgres(url)
            }
        }
    }

    async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            Place::Sqlite(dir) => {
                // On a blocking thread, so that stores opened at once really are.
                let path = dir.path().join("data.db");
                Arc::new(
                    tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                        .await
                        .unwrap()?,
                )
            }
            Place::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
        })
    }

    async fn execute(&self, sql: &str) {
        match self {
            Place::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("data.db"))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Place::Postgres(url) => pg_client(url).await.batch_execute(sql).await.unwrap(),
        }
    }

    /// The rows of the version table, `(version, name)`; empty when there is none.
    async fn versions(&self) -> Vec<(i64, String)> {
        self.snapshot()
            .await
            .into_iter()
            .find(|o| o.kind == "rows" && o.name == "_migrations")
            .map(|o| {
                o.text
                    .lines()
                    .map(|l| {
                        let cols: Vec<&str> = l.split('|').collect();
                        (cols[0].parse().unwrap(), cols[1].to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything stored: the schema (tables with their columns, indexes, views, the
    /// PostgreSQL helper functions) and every row of every table.
    async fn snapshot(&self) -> Vec<Stored> {
        match self {
            Place::Sqlite(dir) => sqlite_snapshot(&dir.path().join("data.db")),
            Place::Postgres(url) => pg_snapshot(url).await,
        }
    }
}

/// One object of a [`Place::snapshot`]: its definition, or (kind `rows`) a table's rows
/// sorted, one per line, columns joined by `|`.
#[derive(Debug, PartialEq)]
struct Stored {
    kind: String,
    name: String,
    text: String,
}

impl Stored {
    fn new(kind: &str, name: &str, text: String) -> Stored {
        Stored {
            kind: kind.to_owned(),
            name: name.to_owned(),
            text,
        }
    }
}

/// `snapshot` without the version table's definition and rows.
/// `snapshot` without the tables later steps add beside the data (the version table, the
/// hit counters): adopting a database must leave everything else as it was.
fn without_version_table(snapshot: Vec<Stored>) -> Vec<Stored> {
    snapshot
        .into_iter()
        .filter(|o| !o.name.contains("_migrations") && !o.name.starts_with("_hits"))
        .collect()
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn sqlite_snapshot(path: &Path) -> Vec<Stored> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap();
    let objects: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name, sql) in objects {
        out.push(Stored::new(&kind, &name, sql));
        if kind != "table" {
            continue;
        }
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let width = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let cols: Vec<String> = (0..width)
                    .map(|i| sqlite_text(r.get_ref(i).unwrap()))
                    .collect();
                Ok(cols.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.push(Stored::new("rows", &name, rows.join("\n")));
    }
    out
}

fn sqlite_text(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("{f:?}"),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("{b:?}"),
    }
}

async fn pg_snapshot(url: &str) -> Vec<Stored> {
    let client = pg_client(url).await;
    let mut out = Vec::new();
    let objects = client
        .query(
            "SELECT c.relname::text, c.relkind::text,
                    CASE c.relkind WHEN 'i' THEN pg_get_indexdef(c.oid)
                                   WHEN 'v' THEN pg_get_viewdef(c.oid)
                                   ELSE (SELECT string_agg(a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod)
                                                           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                                           || ' default ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
                                                           || ' identity ' || a.attidentity::text, ', ' ORDER BY a.attnum)
                                         FROM pg_attribute a
                                         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i')
             ORDER BY c.relname",
            &[],
        )
        .await
        .unwrap();
    for o in &objects {
        let (name, kind, def): (String, String, String) = (o.get(0), o.get(1), o.get(2));
        out.push(Stored::new(&kind, &name, def));
        if kind == "r" {
            let rows = client
                .query_one(
                    &format!(
                        "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \"{name}\" t"
                    ),
                    &[],
                )
                .await
                .unwrap();
            let rows: String = rows.get(0);
            // Row text is `(a,b,…)`; keep the `version|name` shape for the version table.
            let rows = if name == "_migrations" {
                rows.lines()
                    .map(|l| l.trim_matches(['(', ')']).replace(',', "|"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                rows
            };
            out.push(Stored::new("rows", &name, rows));
        }
    }
    let functions = client
        .query(
            "SELECT p.proname::text, pg_get_functiondef(p.oid) FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    for f in &functions {
        out.push(Stored::new("function", f.get(0), f.get(1)));
    }
    out
}

async fn a_database_made_before_migrations_is_adopted_without_touching_its_data() {
    let place = Place::pre_migrations_fixture().await;
    assert_eq!(
        place.versions().await,
        [],
        "the fixture predates versioning"
    );
    let before = place.snapshot().await;
    let posts = before
        .iter()
        .find(|o| o.kind == "rows" && o.name == "posts");
    assert_eq!(
        posts.map(|o| o.text.lines().count()),
        Some(3),
        "the snapshot holds rows"
    );
    let store = place.open().await.unwrap();
    store.close().await;
    assert_eq!(place.versions().await, known_steps());
    assert_eq!(without_version_table(place.snapshot().await), before);
}

/// The fixture's user (its superuser is the test superuser; see `make.sh`).
const USER_EMAIL: &str = "reader@example.com";
const USER_PASSWORD: &str = "reader-pass-1";

async fn a_database_made_before_migrations_answers_the_api_as_its_release_did() {
    let place = Place::pre_migrations_fixture().await;
    let srv = TestServer::start_on(place.open().await.unwrap()).await;
    let su = superuser_token_at(&srv.client, &srv.base).await;
    let (status, login) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-password",
            None,
            Some(json!({"identity": USER_EMAIL, "password": USER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "the fixture user signs in: {login}");
    let user = login["token"].as_str().unwrap().to_owned();
    let file = match current_engine() {
        TestEngine::Sqlite => "sqlite.expected.json",
        TestEngine::Postgres => "postgres.expected.json",
    };
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap();
    assert!(expected.len() >= 10);
    for e in &expected {
        let token = match e["who"].as_str().unwrap() {
            "su" => Some(su.as_str()),
            "user" => Some(user.as_str()),
            _ => None,
        };
        let path = e["path"].as_str().unwrap();
        let (status, body) = srv.send("GET", path, token, None).await;
        assert_eq!(
            (status, &body),
            (e["status"].as_u64().unwrap() as u16, &e["body"]),
            "{path}"
        );
        if path.ends_with("/users/records/fixtureuser0001") {
            assert_eq!(login["record"], body, "the signed-in record");
        }
    }
    // And it still takes writes: a new post through the relation.
    let (status, created) = srv
        .send(
            "POST",
            "/api/collections/posts/records",
            Some(&su),
            Some(json!({"title": "After", "author": "author000000002"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (_, stats) = srv
        .send(
            "GET",
            "/api/collections/post_stats/records?sort=name",
            None,
            None,
        )
        .await;
    assert_eq!(stats["items"][1]["posts"], 2, "{stats}");
}

async fn opening_a_migrated_database_again_changes_nothing() {
    let place = Place::fresh().await;
    place.open().await.unwrap().close().await;
    assert_eq!(place.versions().await, known_steps());
    let first = place.snapshot().await;
    place.open().await.unwrap().close().await;
    // The applied times are part of the snapshot: no step ran again.
    assert_eq!(place.snapshot().await, first);
}

async fn a_database_migrated_by_a_newer_kulisse_is_refused_and_left_untouched() {
    let place = Place::fresh().await;
    place.open().await.unwrap().close().await;
    let latest = known_steps().len() as i64;
    let newer = latest + 1;
    place
        .execute(&format!(
            "INSERT INTO _migrations (version, name, applied) \
             VALUES ({newer}, 'from_the_future', '2030-01-01 00:00:00.000Z')"
        ))
        .await;
    let before = place.snapshot().await;
    let err = place
        .open()
        .await
        .err()
        .expect("a newer database is refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == newer && known == latest),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("version {newer}")) && text.contains("newer"),
        "{text}"
    );
    assert_eq!(place.snapshot().await, before);
}

async fn stores_opening_a_fresh_database_at_once_all_succeed_and_migrate_once() {
    let place = Arc::new(Place::fresh().await);
    let opens = (0..4).map(|_| {
        let place = Arc::clone(&place);
        tokio::spawn(async move { place.open().await })
    });
    let stores = futures::future::join_all(opens).await;
    for store in stores {
        store.unwrap().unwrap().close().await;
    }
    assert_eq!(place.versions().await, known_steps());
}

async fn nodes_starting_together_on_a_fresh_database_all_start_with_one_set_of_defaults() {
    let place = Place::fresh().await;
    let (a, b) = tokio::join!(place.open(), place.open());
    let (a, b) = (a.unwrap(), b.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (files_a, files_b) = (dir.path().join("a"), dir.path().join("b"));
    let (sa, sb) = tokio::join!(
        kulisse::compose::start(Arc::clone(&a), None, Default::default(), &files_a),
        kulisse::compose::start(Arc::clone(&b), None, Default::default(), &files_b)
    );
    assert!(sa.is_ok() && sb.is_ok(), "{:?} {:?}", sa.err(), sb.err());
    let mut names: Vec<String> = a
        .load_collections()
        .await
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_authOrigins",
            "_externalAuths",
            "_mfas",
            "_otps",
            "_superusers",
            "users"
        ]
    );
    a.close().await;
    b.close().await;
}

kulisse_testkit::engine_tests!(
    a_database_made_before_migrations_is_adopted_without_touching_its_data,
    a_database_made_before_migrations_answers_the_api_as_its_release_did,
    opening_a_migrated_database_again_changes_nothing,
    a_database_migrated_by_a_newer_kulisse_is_refused_and_left_untouched,
    stores_opening_a_fresh_database_at_once_all_succeed_and_migrate_once,
    nodes_starting_together_on_a_fresh_database_all_start_with_one_set_of_defaults,
);

#[test]
fn both_engines_number_and_name_their_migrations_alike() {
    let names = |list: &kulisse_store::Migrations| -> Vec<(i64, &str)> {
        list.steps().iter().map(|m| (m.version, m.name)).collect()
    };
    assert_eq!(
        names(&kulisse_store_sqlite::SYSTEM_MIGRATIONS),
        names(&kulisse_store_postgres::SYSTEM_MIGRATIONS)
    );
}

/// What an operator sees when an older binary meets a data dir a newer one migrated.
#[tokio::test]
async fn the_binary_refuses_a_data_dir_of_a_newer_kulisse_naming_the_versions() {
    let place = Place::fresh().await;
    place.open().await.unwrap().close().await;
    place
        .execute(
            "INSERT INTO _migrations (version, name, applied) \
             VALUES (999, 'from_the_future', '2030-01-01 00:00:00.000Z')",
        )
        .await;
    let Place::Sqlite(dir) = &place else {
        unreachable!("outside engine_tests! the place is a SQLite data dir")
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kulisse"))
        .args([
            "superuser",
            "upsert",
            "a@example.com",
            "1234567890",
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("version 999, newer than this kulisse knows")
            && stderr.contains("open it with the newer kulisse"),
        "{stderr}"
    );
}
