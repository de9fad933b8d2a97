//! Schema changes: tables created, rebuilt keeping values by field id, dropped; views read
//! the tables they name.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Order, Select};
use serde_json::{Value, json};

use super::{Subject, collection, create_with, ids, write};

/// A collection renamed, with a field renamed (same id), one removed and one added, keeps
/// its rows and the renamed field's values; the stored definitions follow; a dropped
/// collection is gone from them and from the database.
pub async fn schema_rebuilds_keep_values_by_field_id(s: &Subject) {
    let posts = collection(json!({
        "name": "posts",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "draft", "type": "bool"}
        ]
    }));
    create_with(
        &s.store,
        &posts,
        vec![
            json!({"id": "p1", "title": "Hello", "views": 10, "draft": true}),
            json!({"id": "p2", "title": "World", "views": 20, "draft": false}),
        ],
    )
    .await;

    let mut next = (*posts).clone();
    let title_id = next.field("title").unwrap().id.clone();
    let views_id = next.field("views").unwrap().id.clone();
    next.apply_input(&json!({
        "name": "articles",
        "fields": [
            {"id": title_id, "name": "headline", "type": "text"},
            {"id": views_id, "name": "views", "type": "number"},
            {"name": "extra", "type": "text"}
        ]
    }))
    .unwrap();
    let next = Arc::new(next);
    let (old, new) = (Arc::clone(&posts), Arc::clone(&next));
    write(&s.store, move |tx| tx.alter_collection(&old, &new))
        .await
        .unwrap();

    let page = s
        .store
        .select(Select::all(Arc::clone(&next)))
        .await
        .unwrap();
    let rows: Vec<Value> = page.rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        rows,
        [
            json!({"id": "p1", "headline": "Hello", "views": 10, "extra": ""}),
            json!({"id": "p2", "headline": "World", "views": 20, "extra": ""}),
        ],
        "values follow their field id; a new field reads as its zero value"
    );
    let stored = s.store.load_collections().await.unwrap();
    let names: Vec<&str> = stored.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(
        names.contains(&"articles") && !names.contains(&"posts"),
        "{names:?}"
    );

    let gone = Arc::clone(&next);
    write(&s.store, move |tx| tx.drop_collection(&gone))
        .await
        .unwrap();
    let stored = s.store.load_collections().await.unwrap();
    assert!(stored.iter().all(|c| c["name"] != "articles"), "{stored:?}");
    assert!(
        s.store.select(Select::all(next)).await.is_err(),
        "its table is gone"
    );
}

/// A view collection reads its query's current rows (paged by id: a view has no insertion
/// order), the engine describes its columns' sources, and it drops before its table.
pub async fn views_read_their_tables(s: &Subject) {
    let posts = collection(json!({
        "name": "posts",
        "fields": [{"name": "title", "type": "text"}, {"name": "views", "type": "number"}]
    }));
    create_with(
        &s.store,
        &posts,
        vec![
            json!({"id": "p2", "title": "World", "views": 600}),
            json!({"id": "p1", "title": "Hello", "views": 10}),
            json!({"id": "p3", "title": "Quiet", "views": 1}),
        ],
    )
    .await;
    let query = "SELECT id, title FROM posts WHERE views > 5";
    let columns = write(&s.store, move |tx| tx.describe_view(query))
        .await
        .unwrap();
    let sources: Vec<_> = columns.iter().map(|c| c.source.clone()).collect();
    assert_eq!(
        sources,
        [
            Some(("posts".to_owned(), "id".to_owned())),
            Some(("posts".to_owned(), "title".to_owned()))
        ]
    );
    let popular = Arc::new(
        Collection::from_create_input(&json!({
            "name": "popular",
            "type": "view",
            "viewQuery": query,
            "fields": [
                {"name": "id", "type": "text", "primaryKey": true},
                {"name": "title", "type": "text"}
            ]
        }))
        .unwrap(),
    );
    let view = Arc::clone(&popular);
    write(&s.store, move |tx| tx.create_collection(&view))
        .await
        .unwrap();
    // Natural order asked for explicitly: with no order at all, SQLite returns the view's
    // rows in whatever order its plan gives, PostgreSQL by id.
    let by_id = || Select {
        order: vec![Order::RowId { desc: false }],
        ..Select::all(Arc::clone(&popular))
    };
    let page = s.store.select(by_id()).await.unwrap();
    let rows: Vec<Value> = page.rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        rows,
        [
            json!({"id": "p1", "title": "Hello"}),
            json!({"id": "p2", "title": "World"})
        ]
    );

    let c = Arc::clone(&posts);
    write(&s.store, move |tx| {
        tx.update(&c, "p3", &super::row(json!({"views": 50})))
    })
    .await
    .unwrap();
    assert_eq!(
        ids(&s.store, by_id()).await,
        ["p1", "p2", "p3"],
        "a view reads its table as it is now"
    );

    let (view, table) = (Arc::clone(&popular), Arc::clone(&posts));
    write(&s.store, move |tx| {
        tx.drop_collection(&view)?;
        tx.drop_collection(&table)
    })
    .await
    .unwrap();
    assert!(
        s.store
            .load_collections()
            .await
            .unwrap()
            .iter()
            .all(|c| c["name"] != "popular" && c["name"] != "posts")
    );
}
