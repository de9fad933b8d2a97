//! Bulk appends: the request log's rows, values in field order, JSON as its text.

use std::sync::Arc;

use kulisse_store::{Literal, Select};
use serde_json::{Value, json};

use super::{Subject, collection, create_with, write};

/// Appended rows read back as the same rows inserted as maps would; a row with the wrong
/// number of values is refused and its transaction rolls back.
pub async fn appended_rows_read_back_like_inserted_ones(s: &Subject) {
    let c = collection(json!({
        "name": "entries",
        "fields": [
            {"name": "level", "type": "number"},
            {"name": "message", "type": "text"},
            {"name": "data", "type": "json"}
        ]
    }));
    create_with(&s.store, &c, vec![]).await;
    let text = |s: &str| Literal::Text(s.to_owned());
    let rows = vec![
        vec![
            text("a1"),
            Literal::Number(8.0),
            text("GET /x"),
            text(r#"{"status":404,"url":"/x"}"#),
        ],
        vec![
            text("a2"),
            Literal::Number(0.5),
            text("GET /y"),
            Literal::Null,
        ],
    ];
    let target = Arc::clone(&c);
    write(&s.store, move |tx| tx.append(&target, &rows))
        .await
        .unwrap();
    let mut q = Select::all(Arc::clone(&c));
    q.order = vec![kulisse_store::Order::By {
        term: kulisse_store::Term::Column("id".into()),
        desc: false,
    }];
    let got: Vec<Value> = s
        .store
        .select(q)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(Value::Object)
        .collect();
    assert_eq!(
        got,
        [
            json!({"id": "a1", "level": 8, "message": "GET /x", "data": {"status": 404, "url": "/x"}}),
            json!({"id": "a2", "level": 0.5, "message": "GET /y", "data": null}),
        ]
    );
    let short = vec![vec![text("a3")]];
    let target = Arc::clone(&c);
    assert!(
        write(&s.store, move |tx| tx.append(&target, &short))
            .await
            .is_err()
    );
    assert_eq!(
        s.store
            .select(Select::all(Arc::clone(&c)))
            .await
            .unwrap()
            .rows
            .len(),
        2
    );
}
