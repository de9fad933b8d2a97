//! Reads: canonical values, filters with PocketBase's semantics, sorts, paging, totals.

use std::sync::Arc;

use kulisse_store::{CmpOp, Cond, Literal, Order, Select, Term};
use serde_json::{Value, json};

use super::{Subject, collection, create_with, ids};

fn cmp(column: &str, op: CmpOp, right: Literal) -> Cond {
    Cond::Compare {
        left: Term::Column(column.into()),
        op,
        right: Term::Value(right),
    }
}

fn by(column: &str, desc: bool) -> Order {
    Order::By {
        term: Term::Column(column.into()),
        desc,
    }
}

/// Rows come back with the values they were written with; filters fold `''`/NULL, match
/// `~` without case, compare numbers as numbers; sorts compare text bytewise; pages skip and
/// cut after ordering, and totals count every match.
pub async fn selects_filter_sort_page_and_count(s: &Subject) {
    let posts = collection(json!({
        "name": "posts",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "meta", "type": "json"}
        ]
    }));
    create_with(&s.store, &posts, vec![
        json!({"id": "p1", "title": "Hello", "views": 10, "published": true, "tags": ["a", "b"], "meta": {"k": 10}}),
        json!({"id": "p2", "title": "World", "views": 600, "published": true, "tags": ["c"], "meta": {"k": "x"}}),
        json!({"id": "p3", "title": "", "views": 0, "published": false, "tags": [], "meta": null}),
        json!({"id": "p4", "title": "hello again", "views": 5, "published": false, "tags": ["a"], "meta": [1, 2]}),
        json!({"id": "p5", "title": "Zed", "views": -3.5, "published": false, "tags": [], "meta": null}),
    ])
    .await;
    let all = || Select::all(Arc::clone(&posts));

    let p1 = s
        .store
        .select(Select::by_id(Arc::clone(&posts), "p1"))
        .await
        .unwrap();
    assert_eq!(
        Value::Object(p1.rows[0].clone()),
        json!({"id": "p1", "title": "Hello", "views": 10, "published": true, "tags": ["a", "b"], "meta": {"k": 10}})
    );
    let p5 = s
        .store
        .select(Select::by_id(Arc::clone(&posts), "p5"))
        .await
        .unwrap();
    assert_eq!(p5.rows[0]["views"], -3.5);

    assert_eq!(
        ids(&s.store, all()).await,
        ["p1", "p2", "p3", "p4", "p5"],
        "insertion order"
    );
    assert_eq!(
        ids(
            &s.store,
            all().and(cmp("views", CmpOp::Gt, Literal::Number(5.0)))
        )
        .await,
        ["p1", "p2"]
    );
    assert_eq!(
        ids(&s.store, all().and(cmp("title", CmpOp::Eq, Literal::Null))).await,
        ["p3"],
        "'' is empty like NULL"
    );
    assert_eq!(
        ids(
            &s.store,
            all().and(cmp("title", CmpOp::Neq, Literal::Text("Hello".into())))
        )
        .await,
        ["p2", "p3", "p4", "p5"]
    );
    assert_eq!(
        ids(
            &s.store,
            all().and(cmp("title", CmpOp::Like, Literal::Text("HELLO".into())))
        )
        .await,
        ["p1", "p4"],
        "~ ignores case"
    );
    assert_eq!(
        ids(
            &s.store,
            all().and(cmp("published", CmpOp::Eq, Literal::Bool(true)))
        )
        .await,
        ["p1", "p2"]
    );
    let both = Cond::Any(vec![
        cmp("views", CmpOp::Lt, Literal::Number(0.0)),
        cmp("title", CmpOp::Eq, Literal::Text("World".into())),
    ]);
    assert_eq!(ids(&s.store, all().and(both)).await, ["p2", "p5"]);

    let by_title = Select {
        order: vec![by("title", false)],
        ..all()
    };
    assert_eq!(
        ids(&s.store, by_title).await,
        ["p3", "p1", "p2", "p5", "p4"],
        "text sorts bytewise: upper case before lower case"
    );
    let newest_first = Select {
        order: vec![Order::RowId { desc: true }],
        ..all()
    };
    assert_eq!(
        ids(&s.store, newest_first).await,
        ["p5", "p4", "p3", "p2", "p1"]
    );

    let page = s
        .store
        .select(Select {
            order: vec![by("views", true)],
            limit: Some(2),
            offset: 1,
            count_total: true,
            ..all()
        })
        .await
        .unwrap();
    let got: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!((got, page.total), (vec!["p1", "p4"], Some(5)));

    let filtered = s
        .store
        .select(Select {
            limit: Some(1),
            count_total: true,
            ..all().and(cmp("views", CmpOp::Gte, Literal::Number(5.0)))
        })
        .await
        .unwrap();
    assert_eq!(
        (filtered.rows.len(), filtered.total),
        (1, Some(3)),
        "totals ignore the limit"
    );

    let past_the_end = s
        .store
        .select(Select {
            limit: Some(10),
            offset: 10,
            count_total: true,
            ..all()
        })
        .await
        .unwrap();
    assert_eq!((past_the_end.rows.len(), past_the_end.total), (0, Some(5)));

    let uncounted = s.store.select(all()).await.unwrap();
    assert_eq!(uncounted.total, None, "no total unless asked");
}
