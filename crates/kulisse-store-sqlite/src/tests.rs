use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{
    CmpOp, Cond, Join, JoinSource, Literal, Order, Row, Select, Store, StoreError, Term, transact,
};
use serde_json::{Value, json};

use super::SqliteStore;

fn posts() -> Collection {
    Collection::from_create_input(&json!({
        "name": "posts",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "meta", "type": "json"}
        ],
        "indexes": ["CREATE UNIQUE INDEX `idx_title` ON `posts` (`title`)"]
    }))
    .unwrap()
}

fn row(v: Value) -> Row {
    v.as_object().unwrap().clone()
}

async fn seeded() -> (tempfile::TempDir, SqliteStore, Arc<Collection>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("data.db")).unwrap();
    let c = Arc::new(posts());
    let cc = Arc::clone(&c);
    transact::<_, StoreError, _>(&store, move |tx| {
        tx.create_collection(&cc)?;
        for (id, title, views, tags) in [
            ("p1", "Hello", 10, json!(["a", "b"])),
            ("p2", "World", 600, json!(["c"])),
            ("p3", "", 0, json!([])),
        ] {
            tx.insert(&cc, &row(json!({"id": id, "title": title, "views": views, "published": views > 5, "tags": tags, "meta": {"k": views}})))?;
        }
        Ok(())
    })
    .await
    .unwrap();
    (dir, store, c)
}

fn cmp(left: Term, op: CmpOp, right: Literal) -> Cond {
    Cond::Compare {
        left,
        op,
        right: Term::Value(right),
    }
}

async fn ids(store: &SqliteStore, c: &Arc<Collection>, cond: Cond) -> Vec<String> {
    let page = store
        .select(Select::all(Arc::clone(c)).and(cond))
        .await
        .unwrap();
    page.rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn rows_round_trip_with_canonical_values() {
    let (_dir, store, c) = seeded().await;
    let page = store
        .select(Select::by_id(Arc::clone(&c), "p1"))
        .await
        .unwrap();
    assert_eq!(
        Value::Object(page.rows[0].clone()),
        json!({"id":"p1","title":"Hello","views":10,"published":true,"tags":["a","b"],"meta":{"k":10}})
    );
}

#[tokio::test]
async fn filters_follow_pocketbase_semantics() {
    let (_dir, store, c) = seeded().await;
    let col = |n: &str| Term::Column(n.into());
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(col("views"), CmpOp::Gt, Literal::Number(5.0))
        )
        .await,
        ["p1", "p2"]
    );
    assert_eq!(
        ids(&store, &c, cmp(col("title"), CmpOp::Eq, Literal::Null)).await,
        ["p3"]
    );
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(col("title"), CmpOp::Neq, Literal::Text("Hello".into()))
        )
        .await,
        ["p2", "p3"]
    );
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(col("title"), CmpOp::Like, Literal::Text("ORL".into()))
        )
        .await,
        ["p2"]
    );
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(col("views"), CmpOp::Eq, Literal::Text("10".into()))
        )
        .await,
        ["p1"]
    );
    let json_path = Term::JsonPath {
        source: Box::new(Term::Column("meta".into())),
        path: vec!["k".into()],
    };
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(json_path, CmpOp::Eq, Literal::Number(600.0))
        )
        .await,
        ["p2"]
    );
    let each = |op, any: bool, v: &str| {
        let joins = vec![Join {
            alias: "t".into(),
            source: JoinSource::Elements {
                array: Term::Column("tags".into()),
            },
        }];
        let cond = Box::new(Cond::Compare {
            left: Term::Field {
                alias: "t".into(),
                column: "value".into(),
            },
            op,
            right: Term::Value(Literal::Text(v.into())),
        });
        if any {
            Cond::Exists { joins, cond }
        } else {
            Cond::Every { joins, cond }
        }
    };
    assert_eq!(ids(&store, &c, each(CmpOp::Eq, true, "a")).await, ["p1"]);
    assert_eq!(ids(&store, &c, each(CmpOp::Eq, false, "c")).await, ["p2"]);
    assert_eq!(
        ids(&store, &c, each(CmpOp::Neq, false, "a")).await,
        ["p2", "p3"],
        "an empty set matches !="
    );
    assert_eq!(
        ids(
            &store,
            &c,
            cmp(
                Term::JsonLength(Box::new(Term::Column("tags".into()))),
                CmpOp::Eq,
                Literal::Number(0.0)
            )
        )
        .await,
        ["p3"]
    );
}

#[tokio::test]
async fn literals_never_reach_sql_text() {
    let (_dir, store, c) = seeded().await;
    let evil = "x'); DROP TABLE posts; --";
    let cond = cmp(
        Term::Column("title".into()),
        CmpOp::Eq,
        Literal::Text(evil.into()),
    );
    let sql = crate::render::select_rows(&Select::all(Arc::clone(&c)).and(cond.clone()));
    assert!(!sql.text.contains("DROP"), "{}", sql.text);
    assert!(ids(&store, &c, cond).await.is_empty());
    assert_eq!(
        store
            .select(Select::all(Arc::clone(&c)))
            .await
            .unwrap()
            .rows
            .len(),
        3
    );
}

#[tokio::test]
async fn paging_order_and_totals() {
    let (_dir, store, c) = seeded().await;
    let q = Select {
        order: vec![Order::By {
            term: Term::Column("views".into()),
            desc: true,
        }],
        limit: Some(2),
        offset: 1,
        count_total: true,
        ..Select::all(Arc::clone(&c))
    };
    let page = store.select(q).await.unwrap();
    assert_eq!(page.total, Some(3));
    let got: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["p1", "p3"]);
}

#[tokio::test]
async fn unique_index_violation_names_the_field() {
    let (_dir, store, c) = seeded().await;
    let cc = Arc::clone(&c);
    let err = transact::<(), StoreError, _>(&store, move |tx| {
        tx.insert(&cc, &row(json!({"id": "p9", "title": "Hello"})))
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Unique(ref col) if col == "title"),
        "{err:?}"
    );
}

#[tokio::test]
async fn schema_changes_keep_data() {
    let (_dir, store, c) = seeded().await;
    // A read by id before the change: its SQL is now cached for the old definition.
    let before = store.select(Select::by_id(Arc::clone(&c), "p1")).await;
    assert_eq!(before.unwrap().rows[0]["title"], "Hello");
    let mut next = (*c).clone();
    let title_id = next.field("title").unwrap().id.clone();
    next.apply_input(&json!({
        "name": "articles",
        "indexes": [],
        "fields": [
            {"id": title_id, "name": "headline", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
            {"name": "extra", "type": "bool"}
        ]
    }))
    .unwrap();
    let (old, new) = ((*c).clone(), next.clone());
    transact::<_, StoreError, _>(&store, move |tx| tx.alter_collection(&old, &new))
        .await
        .unwrap();
    let page = store
        .select(Select::by_id(Arc::new(next), "p1"))
        .await
        .unwrap();
    assert_eq!(
        Value::Object(page.rows[0].clone()),
        json!({"id":"p1","headline":"Hello","views":10,"tags":"b","extra":false})
    );
    let reloaded = store.load_collections().await.unwrap();
    assert_eq!(reloaded[0]["name"], "articles");
}

#[tokio::test]
async fn concurrent_writes_are_group_committed_and_all_land() {
    let (_dir, store, c) = seeded().await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (store, c) = (Arc::clone(&store), Arc::clone(&c));
        tasks.push(tokio::spawn(async move {
            transact::<_, StoreError, _>(&*store, move |tx| {
                tx.insert(
                    &c,
                    &row(json!({"id": format!("n{i}"), "title": format!("t{i}")})),
                )
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let failing = Arc::clone(&c);
    assert!(
        transact::<(), StoreError, _>(&*store, move |tx| tx
            .insert(&failing, &row(json!({"id": "n1"}))))
        .await
        .is_err()
    );
    let total = store
        .select(Select {
            count_total: true,
            limit: Some(1),
            ..Select::all(Arc::clone(&c))
        })
        .await
        .unwrap()
        .total;
    assert_eq!(total, Some(203));
}

#[tokio::test]
async fn view_columns_are_described() {
    let (_dir, store, _c) = seeded().await;
    let cols = transact::<_, StoreError, _>(&store, |tx| {
        tx.describe_view(
            "SELECT id, title AS name, (SELECT 1) AS one, count(*) AS total FROM posts GROUP BY id",
        )
    })
    .await
    .unwrap();
    assert_eq!(cols[0].source, Some(("posts".into(), "id".into())));
    assert_eq!(cols[1].source, Some(("posts".into(), "title".into())));
    assert!(cols[2].source.is_none() && !cols[2].is_count);
    assert!(cols[3].is_count);
    let err = transact::<_, StoreError, _>(&store, |tx| tx.describe_view("DELETE FROM posts"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidQuery(_)));
}

mod no_literals_in_sql {
    //! Whatever a filter says, its values travel as parameters: no literal text may appear
    //! in the rendered SQL.

    use std::sync::Arc;

    use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Order, Select, Term};
    use proptest::prelude::*;

    use super::posts;

    fn literal() -> impl Strategy<Value = String> {
        // A marker around arbitrary text so a hit cannot be a coincidence with SQL syntax.
        "[ -~\\u{80}-\\u{10FFFF}]{0,12}".prop_map(|s| format!("zqx{s}xqz"))
    }

    fn term() -> impl Strategy<Value = Term> {
        let leaf = prop_oneof![
            prop::sample::select(vec!["title", "views", "published", "tags", "meta"])
                .prop_map(|c| Term::Column(c.into())),
            literal().prop_map(|s| Term::Value(Literal::Text(s))),
            literal().prop_map(|k| Term::JsonPath {
                source: Box::new(Term::Column("meta".into())),
                path: vec![k]
            }),
            any::<f64>().prop_map(|n| Term::Value(Literal::Number(n))),
        ];
        leaf.prop_recursive(2, 8, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Term::Lower(Box::new(t))),
                (literal(), inner).prop_map(|(f, t)| Term::Strftime {
                    format: f,
                    value: Some(Box::new(t)),
                    modifiers: vec![]
                }),
            ]
        })
    }

    fn cond() -> impl Strategy<Value = Cond> {
        let op = prop::sample::select(vec![
            CmpOp::Eq,
            CmpOp::Neq,
            CmpOp::Gt,
            CmpOp::Like,
            CmpOp::NotLike,
        ]);
        let leaf =
            (term(), op, term()).prop_map(|(left, op, right)| Cond::Compare { left, op, right });
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..3).prop_map(Cond::All),
                prop::collection::vec(inner.clone(), 1..3).prop_map(Cond::Any),
                inner.prop_map(|c| Cond::Every {
                    joins: vec![Join {
                        alias: "e".into(),
                        source: JoinSource::Elements {
                            array: Term::Column("tags".into())
                        }
                    }],
                    cond: Box::new(c),
                }),
            ]
        })
    }

    fn literals_of_cond(c: &Cond, out: &mut Vec<String>) {
        match c {
            Cond::All(v) | Cond::Any(v) => v.iter().for_each(|c| literals_of_cond(c, out)),
            Cond::Compare { left, right, .. } => {
                literals_of_term(left, out);
                literals_of_term(right, out);
            }
            Cond::Exists { cond, .. }
            | Cond::ExistsInner { cond, .. }
            | Cond::Every { cond, .. } => literals_of_cond(cond, out),
            Cond::True | Cond::False => {}
        }
    }

    fn literals_of_term(t: &Term, out: &mut Vec<String>) {
        match t {
            Term::Value(Literal::Text(s)) => out.push(s.clone()),
            Term::JsonPath { path, source } => {
                out.extend(path.iter().cloned());
                literals_of_term(source, out);
            }
            Term::Lower(t) => literals_of_term(t, out),
            Term::Strftime { format, value, .. } => {
                out.push(format.clone());
                if let Some(v) = value {
                    literals_of_term(v, out);
                }
            }
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn rendered_sql_never_contains_a_literal(cond in cond()) {
            let q = Select { order: vec![Order::Random], ..Select::all(Arc::new(posts())) }.and(cond.clone());
            let mut literals = Vec::new();
            literals_of_cond(&cond, &mut literals);
            for sql in [crate::render::select_rows(&q), crate::render::count_rows(&q)] {
                for lit in &literals {
                    prop_assert!(!sql.text.contains(lit.as_str()), "literal {lit:?} in {}", sql.text);
                }
            }
        }
    }
}

#[tokio::test]
async fn cached_reads_are_not_prepared_again() {
    let (dir, store, c) = seeded().await;
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    for q in [
        Select::by_id(Arc::clone(&c), "p1"),
        Select {
            limit: Some(20),
            offset: 20,
            order: vec![Order::RowId { desc: true }],
            ..Select::all(Arc::clone(&c))
        },
    ] {
        let sql = crate::render::select_rows(&q);
        for _ in 0..3 {
            let mut stmt = conn.prepare_cached(&sql.text).unwrap();
            let _ = stmt
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |_| Ok(()))
                .unwrap()
                .count();
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{}",
                sql.text
            );
        }
    }
}

/// Pages sorted by creation time read the sort index instead of sorting every match, before
/// and after a table rebuild; the index stays out of the collection's own `indexes`.
#[tokio::test]
async fn pages_sorted_by_created_use_the_sort_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("data.db")).unwrap();
    let c = Collection::from_create_input(&json!({
        "name": "notes",
        "fields": [
            {"name": "views", "type": "number"},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
        ]
    }))
    .unwrap();
    assert!(c.indexes.is_empty());
    let mut renamed = c.clone();
    renamed.apply_input(&json!({"name": "memos"})).unwrap();
    let (first, old, new) = (c.clone(), c.clone(), renamed.clone());
    transact::<_, StoreError, _>(&store, move |tx| tx.create_collection(&first))
        .await
        .unwrap();
    let plan = |c: &Collection, sort: &str| {
        let q = Select {
            filter: Some(cmp(
                Term::Column("views".into()),
                CmpOp::Gt,
                Literal::Number(5.0),
            )),
            order: vec![Order::By {
                term: Term::Column(sort.into()),
                desc: true,
            }],
            limit: Some(20),
            ..Select::all(Arc::new(c.clone()))
        };
        let sql = crate::render::select_rows(&q);
        let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .unwrap();
        stmt.query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ")
    };
    let uses_sort_index = |p: &str| p.contains("USING INDEX _kulisse_sort_");
    assert!(
        uses_sort_index(&plan(&c, "created")),
        "{}",
        plan(&c, "created")
    );
    assert!(
        !uses_sort_index(&plan(&c, "updated")),
        "{}",
        plan(&c, "updated")
    );
    transact::<_, StoreError, _>(&store, move |tx| tx.alter_collection(&old, &new))
        .await
        .unwrap();
    assert!(
        uses_sort_index(&plan(&renamed, "created")),
        "{}",
        plan(&renamed, "created")
    );
}

/// A relation filter on a to-one relation (`author.name = 'x' && views > 5`) runs its
/// subquery once, as a list SQLite builds into an ephemeral index, not once per row; and
/// answers as the correlated form would, NULL and empty relations included.
#[tokio::test]
async fn relation_filters_run_one_uncorrelated_subquery() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("data.db")).unwrap();
    let people = Arc::new(
        Collection::from_create_input(&json!({
            "id": "pbc_people", "name": "people", "fields": [{"name": "name", "type": "text"}]
        }))
        .unwrap(),
    );
    let notes = Arc::new(
        Collection::from_create_input(&json!({
            "name": "notes", "fields": [
                {"name": "views", "type": "number"},
                {"name": "author", "type": "relation", "collectionId": "pbc_people", "maxSelect": 1}
            ]
        }))
        .unwrap(),
    );
    let (p, n) = (Arc::clone(&people), Arc::clone(&notes));
    transact::<_, StoreError, _>(&store, move |tx| {
        tx.create_collection(&p)?;
        tx.create_collection(&n)?;
        tx.insert(&p, &row(json!({"id": "a", "name": "Ann"})))?;
        tx.insert(&p, &row(json!({"id": "b", "name": "Bob"})))?;
        for (id, views, author) in [
            ("n1", 10, "a"),
            ("n2", 1, "a"),
            ("n3", 10, "b"),
            ("n4", 10, ""),
        ] {
            tx.insert(
                &n,
                &row(json!({"id": id, "views": views, "author": author})),
            )?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let by_author = |name: &str| Cond::ExistsInner {
        joins: vec![Join {
            alias: "author".into(),
            source: JoinSource::Record {
                collection: Arc::clone(&people),
                key: Term::Column("author".into()),
            },
        }],
        cond: Box::new(Cond::All(vec![
            cmp(
                Term::Field {
                    alias: "author".into(),
                    column: "name".into(),
                },
                CmpOp::Eq,
                Literal::Text(name.into()),
            ),
            cmp(
                Term::Column("views".into()),
                CmpOp::Gt,
                Literal::Number(5.0),
            ),
        ])),
    };
    let q = Select::all(Arc::clone(&notes)).and(by_author("Ann"));
    let sql = crate::render::select_rows(&q);
    assert!(sql.text.contains(" IN (SELECT "), "{}", sql.text);
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
        .unwrap();
    let plan = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ");
    assert!(plan.contains("LIST SUBQUERY"), "{plan}");
    assert!(!plan.contains("CORRELATED"), "{plan}");
    assert_eq!(ids(&store, &notes, by_author("Ann")).await, ["n1"]);
    assert_eq!(ids(&store, &notes, by_author("Bob")).await, ["n3"]);
    assert!(ids(&store, &notes, by_author("")).await.is_empty());
}

/// The title of `id` as a point read on this thread sees it.
async fn title_of(store: &SqliteStore, c: &Arc<Collection>, id: &str) -> String {
    let page = store
        .select(Select::by_id(Arc::clone(c), id))
        .await
        .unwrap();
    page.rows[0]["title"].as_str().unwrap().to_owned()
}

/// Sets the title of `id` through the store's writer.
async fn retitle(store: &SqliteStore, c: &Arc<Collection>, id: &'static str, title: &str) {
    let (cc, changes) = (Arc::clone(c), row(json!({ "title": title })));
    transact::<_, StoreError, _>(store, move |tx| tx.update(&cc, id, &changes))
        .await
        .unwrap();
}

/// On a thread that releases its snapshots when idle, point reads share one read
/// transaction while nothing is written, and every acknowledged write is seen by the next
/// read all the same.
#[tokio::test]
async fn held_snapshots_never_hide_acknowledged_writes() {
    let (_dir, store, c) = seeded().await;
    crate::release_thread_snapshots(); // this test thread now holds snapshots
    assert_eq!(title_of(&store, &c, "p1").await, "Hello");
    assert!(
        !crate::inline::holds_snapshot(store.id),
        "first read: autocommit"
    );
    assert_eq!(title_of(&store, &c, "p1").await, "Hello");
    assert!(
        crate::inline::holds_snapshot(store.id),
        "quiet: the snapshot is kept"
    );

    for n in 0..20 {
        let title = format!("title {n}");
        retitle(&store, &c, "p1", &title).await;
        assert_eq!(
            title_of(&store, &c, "p1").await,
            title,
            "read after write {n}"
        );
        // While writes keep coming, reads do not hold the WAL back.
        assert!(!crate::inline::holds_snapshot(store.id));
    }
    assert_eq!(title_of(&store, &c, "p2").await, "World");
    assert!(crate::inline::holds_snapshot(store.id));
    crate::release_thread_snapshots();
    assert!(
        !crate::inline::holds_snapshot(store.id),
        "parking ends the snapshot"
    );
}

/// A write by another process (one the writer's count cannot see) reaches point reads on a
/// holding thread within the snapshot age limit, and a released snapshot lets a full
/// checkpoint through.
#[tokio::test]
async fn held_snapshots_age_out_for_other_writers() {
    let (dir, store, c) = seeded().await;
    crate::release_thread_snapshots();
    title_of(&store, &c, "p2").await;
    title_of(&store, &c, "p2").await;
    assert!(crate::inline::holds_snapshot(store.id));

    let other = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    other
        .execute("UPDATE posts SET title = 'elsewhere' WHERE id = 'p2'", [])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(40));
    assert_eq!(title_of(&store, &c, "p2").await, "elsewhere");

    crate::release_thread_snapshots();
    let (busy, _, _): (i64, i64, i64) = other
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(busy, 0, "no reader holds the WAL");
}

/// A view whose query never ends.
fn endless_view() -> Collection {
    Collection::from_create_input(&json!({
        "name": "endless",
        "type": "view",
        "viewQuery": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) \
                      SELECT 'forever' AS id, max(x) AS top FROM r",
        "fields": [{"name": "id", "type": "text", "primaryKey": true}, {"name": "top", "type": "json"}]
    }))
    .unwrap()
}

#[tokio::test]
async fn reads_past_the_timeout_are_interrupted_and_leave_the_other_jobs_of_their_commit() {
    let dir = tempfile::tempdir().unwrap();
    let limits = kulisse_store::QueryLimits {
        timeout: std::time::Duration::from_millis(200),
        ..kulisse_store::QueryLimits::default()
    };
    let store = Arc::new(SqliteStore::open_with(&dir.path().join("data.db"), limits).unwrap());
    let c = Arc::new(posts());
    let view = Arc::new(endless_view());
    let (cc, vv) = (Arc::clone(&c), Arc::clone(&view));
    transact::<_, StoreError, _>(&*store, move |tx| {
        tx.create_collection(&cc)?;
        tx.create_collection(&vv)
    })
    .await
    .unwrap();
    // A reader is stopped.
    let read = store.select(Select::all(Arc::clone(&view))).await;
    assert!(matches!(read, Err(StoreError::Interrupted)), "{read:?}");
    // On the writer, a job that blocks the writer for a moment lets the next two queue up,
    // so they share one transaction: the one whose read is stopped is undone alone.
    let blocker = store.write(Box::new(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        Ok(None)
    }));
    let (c1, v1, c2) = (Arc::clone(&c), Arc::clone(&view), Arc::clone(&c));
    let stopped = store.write(Box::new(move |tx| {
        tx.insert(&c1, &row(json!({"id": "undone", "title": "undone"})))?;
        tx.select(&Select::all(v1)).map(|_| None)
    }));
    let kept = store.write(Box::new(move |tx| {
        tx.insert(&c2, &row(json!({"id": "kept", "title": "kept"})))
            .map(|()| None)
    }));
    let (blocked, stopped, kept) = tokio::join!(blocker, stopped, kept);
    blocked.unwrap();
    assert!(
        matches!(stopped, Err(StoreError::Interrupted)),
        "{stopped:?}"
    );
    kept.unwrap();
    assert_eq!(ids(&store, &c, Cond::True).await, vec!["kept"]);
}

/// Under a stream of writes that never pauses, the background checkpointer copies the WAL
/// and the writer lets it start over: it stays near `START_OVER_AT` frames instead of
/// growing with everything written (a checkpoint beside the writer alone never finishes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_starts_over_under_writes_that_never_pause() {
    let (dir, store, c) = seeded().await;
    let store = Arc::new(store);
    let wal = dir.path().join("data.db-wal");
    let frame = 4096 + 24;
    // Rows of ~8 KB: about three frames each, so ~7 times the WAL's limit in all.
    let rows = 24_000;
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, c, written) = (Arc::clone(&store), Arc::clone(&c), Arc::clone(&written));
            tokio::spawn(async move {
                let big = "x".repeat(8_000);
                loop {
                    let n = written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= rows {
                        return;
                    }
                    let (c, big) = (Arc::clone(&c), big.clone());
                    transact::<_, StoreError, _>(&*store, move |tx| {
                        tx.insert(&c, &row(json!({"id": format!("w{w}n{n}"), "title": format!("t{n}"), "meta": big})))
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    // The WAL's header holds a salt that changes each time the WAL starts over.
    let salt = |wal: &std::path::Path| {
        std::fs::read(wal)
            .ok()
            .and_then(|b| b.get(16..20).map(<[u8]>::to_vec))
    };
    let (mut longest, mut salts) = (0, std::collections::HashSet::new());
    while writers.iter().any(|w| !w.is_finished()) {
        longest = longest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        salts.extend(salt(&wal));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        salts.len() > 2,
        "the WAL started over {} times",
        salts.len().saturating_sub(1)
    );
    let limit = 3 * crate::checkpoint::START_OVER_AT as u64 * frame;
    assert!(
        longest < limit,
        "the WAL grew to {} MB (limit {} MB)",
        longest >> 20,
        limit >> 20
    );
}
