//! The evaluator against SQLite: random records × random filters must select the same rows.
// Fixtures are written straight into bare stores, which have no services to announce to.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Select, Store, StoreError, transact};
use kulisse_store_sqlite::SqliteStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use super::matches;
use crate::query::{RequestInfo, Resolver, compile_filter};

fn collection() -> Collection {
    Collection::from_create_input(&json!({
        "name": "things",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "meta", "type": "json"}
        ]
    }))
    .unwrap()
}

fn row_strategy() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["", "Hello", "hello world", "50%", "a_b", "Zed", "10"]),
        prop::sample::select(vec![0.0, 1.0, 10.0, -3.5, 600.0]),
        any::<bool>(),
        prop::sample::subsequence(vec!["a", "b", "c"], 0..=3),
        prop::sample::select(vec![json!(null), json!({"k": 1}), json!({"k": "x"}), json!({"k": [1, 2]})]),
    )
        .prop_map(|(t, v, p, tags, meta)| json!({"title": t, "views": v, "published": p, "tags": tags, "meta": meta}))
}

fn comparison_strategy() -> impl Strategy<Value = String> {
    let left = prop::sample::select(vec![
        "title",
        "views",
        "published",
        "tags",
        "meta.k",
        "title:lower",
        "tags:length",
        "tags:each",
        "id",
    ]);
    let op = prop::sample::select(vec![
        "=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?~",
    ]);
    let right = prop::sample::select(vec![
        "''", "null", "true", "false", "0", "10", "-3.5", "'hello'", "'Hello'", "'50%'", "'\\%'",
        "'a'", "'_'", "'10'", "views", "title",
    ]);
    (left, op, right).prop_map(|(l, o, r)| format!("{l} {o} {r}"))
}

fn filter_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            comparison_strategy(),
            prop::sample::select(vec!["&&", "||"]),
        ),
        1..4,
    )
    .prop_map(|parts| {
        let mut out = String::new();
        for (i, (cmp, join)) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(&format!(" {join} "));
            }
            out.push_str(cmp);
        }
        out
    })
}

/// A fresh PostgreSQL store when the test server is available (`KULISSE_TEST_PG_URL`).
fn postgres_store(rt: &tokio::runtime::Runtime) -> Option<Arc<dyn Store>> {
    let url = rt.block_on(kulisse_testkit_store::pg::fresh_database())?;
    Some(Arc::new(
        rt.block_on(kulisse_store_postgres::PostgresStore::connect(&url))
            .unwrap(),
    ))
}

/// Random records and accepted filters select the same rows on SQLite, on PostgreSQL
/// (when available) and in the in-memory evaluator.
#[test]
fn evaluator_sqlite_and_postgres_agree() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    let pg = postgres_store(&rt);
    if pg.is_none() {
        eprintln!("PostgreSQL arm skipped: KULISSE_TEST_PG_URL is not set");
    }
    let c = Arc::new(collection());
    for s in std::iter::once(&store).chain(pg.as_ref()) {
        let cc = Arc::clone(&c);
        rt.block_on(transact::<_, StoreError, _>(&**s, move |tx| {
            tx.create_collection(&cc)
        }))
        .unwrap();
    }

    let compared = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let case = (
        prop::collection::vec(row_strategy(), 1..12),
        prop::collection::vec(filter_strategy(), 8),
    );
    runner
        .run(&case, |(rows, filters)| {
            for s in std::iter::once(&store).chain(pg.as_ref()) {
                let (c2, rows2) = (Arc::clone(&c), rows.clone());
                rt.block_on(transact::<_, StoreError, _>(&**s, move |tx| {
                    tx.truncate(&c2)?;
                    for (i, r) in rows2.iter().enumerate() {
                        let mut row = r.as_object().unwrap().clone();
                        row.insert("id".into(), json!(format!("r{i:014}")));
                        tx.insert(&c2, &row)?;
                    }
                    Ok(())
                }))
                .unwrap();
            }
            let stored = rt
                .block_on(store.select(Select::all(Arc::clone(&c))))
                .unwrap()
                .rows;
            let req = RequestInfo::default();
            let schema = crate::collections::Snapshot::default();
            let resolver = Resolver {
                collection: &c,
                schema: &schema,
                request: &req,
                allow_hidden: true,
            };
            for filter in &filters {
                let Ok(Some(cond)) = compile_filter(filter, &resolver) else {
                    continue;
                };
                compared.set(compared.get() + 1);
                let mut by_sql: Vec<Value> = rt
                    .block_on(store.select(Select::all(Arc::clone(&c)).and(cond.clone())))
                    .unwrap_or_else(|e| panic!("filter `{filter}` failed in SQL: {e}"))
                    .rows
                    .into_iter()
                    .map(|r| r["id"].clone())
                    .collect();
                // Without ORDER BY the engine may return rows in index order; compare sets.
                by_sql.sort_by_key(|v| v.to_string());
                let in_memory: Vec<Value> = stored
                    .iter()
                    .filter(|r| matches(&c, &cond, r))
                    .map(|r| r["id"].clone())
                    .collect();
                prop_assert_eq!(&by_sql, &in_memory, "filter `{}` over {:?}", filter, stored);
                if let Some(pg) = &pg {
                    let mut by_pg: Vec<Value> = rt
                        .block_on(pg.select(Select::all(Arc::clone(&c)).and(cond.clone())))
                        .unwrap_or_else(|e| panic!("filter `{filter}` failed on PostgreSQL: {e}"))
                        .rows
                        .into_iter()
                        .map(|r| r["id"].clone())
                        .collect();
                    by_pg.sort_by_key(|v| v.to_string());
                    prop_assert_eq!(
                        &by_pg,
                        &in_memory,
                        "PostgreSQL: filter `{}` over {:?}",
                        filter,
                        stored
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        compared.get() > 1000,
        "only {} filters compiled; the generator drifted",
        compared.get()
    );
}

proptest! {
    /// Resolution never panics, whatever the text and whatever the identifiers name.
    #[test]
    fn compiling_arbitrary_filters_never_panics(
        parts in prop::collection::vec(prop::sample::select(vec![
            "title", "views", "tags:each", "tags:length", "meta.k.0", "id", "@request.auth.id", "@request.body.x:changed",
            "@collection.things.title", "things_via_id.title", "@now", "nope", "title:upper", "strftime('%Y', title)",
            "geoDistance(1,2,3,4)", "lower(x)", "=", "!=", "?=", "~", "&&", "||", "(", ")", "'x'", "1", "-2.5", "null", "true",
        ]), 0..12),
        noise in "\\PC{0,40}",
    ) {
        let c = collection();
        let schema = crate::collections::Snapshot::default();
        let req = RequestInfo::default();
        for allow_hidden in [true, false] {
            let resolver = Resolver { collection: &c, schema: &schema, request: &req, allow_hidden };
            let _ = compile_filter(&parts.join(" "), &resolver);
            let _ = compile_filter(&noise, &resolver);
            let _ = crate::query::parse_sort(&parts.join(","), &resolver);
        }
    }
}

/// Related records for the evaluator, from the rows inserted in the stores.
struct Fixture {
    people: Vec<kulisse_store::Row>,
    things: Vec<kulisse_store::Row>,
}

impl super::JoinData for Fixture {
    fn record(&self, c: &Collection, id: &str) -> Option<kulisse_store::Row> {
        self.rows(c).iter().find(|r| r["id"] == id).cloned()
    }

    fn referencing(&self, c: &Collection, field: &str, id: &str) -> Vec<kulisse_store::Row> {
        self.rows(c)
            .iter()
            .filter(|r| {
                kulisse_schema::value::as_list(&r[field])
                    .iter()
                    .any(|v| v == id)
            })
            .cloned()
            .collect()
    }

    fn all(&self, c: &Collection) -> Vec<kulisse_store::Row> {
        self.rows(c).to_vec()
    }
}

impl Fixture {
    fn rows(&self, c: &Collection) -> &[kulisse_store::Row] {
        if c.id == "pbc_people" {
            &self.people
        } else {
            &self.things
        }
    }
}

fn related_collections() -> (Collection, Collection) {
    let people =
        Collection::from_create_input(&json!({"id": "pbc_people", "name": "people", "fields": [
            {"name": "name", "type": "text"},
            {"name": "fav", "type": "relation", "collectionId": "pbc_things", "maxSelect": 1}
        ]}))
        .unwrap();
    let things =
        Collection::from_create_input(&json!({"id": "pbc_things", "name": "things", "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "author", "type": "relation", "collectionId": "pbc_people", "maxSelect": 1},
            {"name": "coauthors", "type": "relation", "collectionId": "pbc_people", "maxSelect": 3}
        ]}))
        .unwrap();
    (people, things)
}

fn relation_filter_strategy() -> impl Strategy<Value = String> {
    let left = prop::sample::select(vec![
        "author.name",
        "coauthors.name",
        "author.name:lower",
        "coauthors.id",
        "people_via_fav.name",
        "@collection.people.name",
        "title",
        "views",
        "author.fav.title",
        "coauthors:length",
    ]);
    let op = prop::sample::select(vec!["=", "!=", "?=", "?!=", "~", "!~", ">", "<"]);
    let right = prop::sample::select(vec![
        "'Alice'",
        "'bob'",
        "''",
        "null",
        "'x'",
        "10",
        "'t1'",
        "title",
        "'p000000000002'",
    ]);
    let cmp = (left, op, right).prop_map(|(l, o, r)| format!("{l} {o} {r}"));
    prop::collection::vec((cmp, prop::sample::select(vec!["&&", "||"])), 1..3).prop_map(|parts| {
        parts
            .iter()
            .enumerate()
            .map(|(i, (c, j))| {
                if i == 0 {
                    c.clone()
                } else {
                    format!("{j} {c}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Relation paths, back-relations and `@collection` select the same rows on SQLite, on
/// PostgreSQL (when available) and in the evaluator given the related records.
#[test]
fn relation_filters_agree_across_engines_and_evaluator() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("data.db")).unwrap());
    let stores: Vec<Arc<dyn Store>> = std::iter::once(sqlite).chain(postgres_store(&rt)).collect();
    let (people, things) = related_collections();
    let (people, things) = (Arc::new(people), Arc::new(things));
    for s in &stores {
        let (p, t) = (Arc::clone(&people), Arc::clone(&things));
        rt.block_on(transact::<_, StoreError, _>(&**s, move |tx| {
            tx.create_collection(&p)?;
            tx.create_collection(&t)
        }))
        .unwrap();
    }
    let schema = crate::collections::Snapshot::default()
        .with(&people)
        .with(&things);
    let person = |i: usize| format!("p{i:012}");
    let thing = |i: usize| format!("t{i:014}");
    let case = (
        prop::collection::vec(
            (
                prop::sample::select(vec!["t1", "hello", ""]),
                0..20i64,
                0..5usize,
                prop::sample::subsequence(vec![0usize, 1, 2, 3], 0..=3),
            ),
            1..6,
        ),
        prop::collection::vec(0..7usize, 4),
        prop::collection::vec(relation_filter_strategy(), 10),
    );
    let compared = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&case, |(thing_rows, favs, filters)| {
            let names = ["Alice", "bob", "carol", ""];
            let people_rows: Vec<kulisse_store::Row> = (0..4)
                .map(|i| {
                    let fav = if favs[i] < thing_rows.len() { thing(favs[i]) } else { String::new() };
                    json!({"id": person(i), "name": names[i], "fav": fav}).as_object().unwrap().clone()
                })
                .collect();
            let thing_rows: Vec<kulisse_store::Row> = thing_rows
                .iter()
                .enumerate()
                .map(|(i, (title, views, author, coauthors))| {
                    let author = if *author < 4 { person(*author) } else { String::new() };
                    let coauthors: Vec<String> = coauthors.iter().map(|c| person(*c)).collect();
                    json!({"id": thing(i), "title": title, "views": views, "author": author, "coauthors": coauthors}).as_object().unwrap().clone()
                })
                .collect();
            for s in &stores {
                let (p, t, pr, tr) = (Arc::clone(&people), Arc::clone(&things), people_rows.clone(), thing_rows.clone());
                rt.block_on(transact::<_, StoreError, _>(&**s, move |tx| {
                    tx.truncate(&p)?;
                    tx.truncate(&t)?;
                    pr.iter().try_for_each(|r| tx.insert(&p, r))?;
                    tr.iter().try_for_each(|r| tx.insert(&t, r))
                }))
                .unwrap();
            }
            let data = Fixture { people: people_rows.clone(), things: thing_rows.clone() };
            let req = RequestInfo::default();
            let resolver = Resolver { collection: &things, schema: &schema, request: &req, allow_hidden: true };
            for filter in &filters {
                let Ok(Some(cond)) = compile_filter(filter, &resolver) else { continue };
                compared.set(compared.get() + 1);
                let in_memory: Vec<Value> = thing_rows.iter().filter(|r| super::matches_with(&things, &cond, r, &data)).map(|r| r["id"].clone()).collect();
                for (i, s) in stores.iter().enumerate() {
                    let mut by_sql: Vec<Value> = rt
                        .block_on(s.select(Select::all(Arc::clone(&things)).and(cond.clone())))
                        .unwrap_or_else(|e| panic!("filter `{filter}` failed on store {i}: {e}"))
                        .rows
                        .into_iter()
                        .map(|r| r["id"].clone())
                        .collect();
                    by_sql.sort_by_key(|v| v.to_string());
                    prop_assert_eq!(&by_sql, &in_memory, "store {} filter `{}`\npeople {:?}\nthings {:?}", i, filter, people_rows, thing_rows);
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        compared.get() > 300,
        "only {} filters compiled",
        compared.get()
    );
}
