//! Write jobs: one transaction each, committed whole or rolled back with the job's error;
//! row writes refused by kind (missing rows, duplicates).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kulisse_store::{AfterCommit, Select, StoreError, transact};
use serde_json::json;

use super::{Subject, collection, create_with, ids, row, write};

/// A job's error as the services define it: the store must hand it back as it was.
#[derive(Debug, PartialEq)]
enum Refusal {
    Mine(&'static str),
    Store(String),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e.to_string())
    }
}

/// Every write of a job lands, or (when the job fails, by its own choice or a failed
/// statement) none does, and the caller gets the job's own error.
pub async fn write_jobs_commit_whole_or_roll_back_with_their_error(s: &Subject) {
    let notes = collection(json!({"name": "notes", "fields": [{"name": "text", "type": "text"}]}));
    create_with(&s.store, &notes, vec![]).await;
    let all = || Select::all(Arc::clone(&notes));

    let c = Arc::clone(&notes);
    write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "a", "text": "one"})))?;
        tx.insert(&c, &row(json!({"id": "b", "text": "two"})))
    })
    .await
    .unwrap();
    assert_eq!(ids(&s.store, all()).await, ["a", "b"]);

    let c = Arc::clone(&notes);
    let refused = s
        .store
        .write(Box::new(move |tx| {
            tx.insert(&c, &row(json!({"id": "c", "text": "three"})))?;
            tx.update(&c, "a", &row(json!({"text": "changed"})))?;
            Err(StoreError::Constraint("the job refused".into()))
        }))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Constraint(m)) if m == "the job refused"),
        "{refused:?}"
    );

    let c = Arc::clone(&notes);
    let typed = transact::<(), Refusal, _>(&*s.store, move |tx| {
        tx.delete(&c, "b")?;
        Err(Refusal::Mine("no"))
    })
    .await;
    assert_eq!(
        typed,
        Err(Refusal::Mine("no")),
        "a typed job's error comes back as is"
    );

    let c = Arc::clone(&notes);
    let failed_statement = write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "d", "text": "four"})))?;
        tx.update(&c, "missing", &row(json!({"text": "x"})))
    })
    .await;
    assert!(
        matches!(failed_statement, Err(StoreError::NotFound)),
        "{failed_statement:?}"
    );

    let page = s.store.select(all()).await.unwrap();
    let texts: Vec<_> = page
        .rows
        .iter()
        .map(|r| (r["id"].clone(), r["text"].clone()))
        .collect();
    assert_eq!(
        texts,
        [(json!("a"), json!("one")), (json!("b"), json!("two"))],
        "nothing of the failed jobs was kept"
    );

    // The store still writes after failed jobs.
    let c = Arc::clone(&notes);
    write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "e", "text": "five"})))
    })
    .await
    .unwrap();
    assert_eq!(ids(&s.store, all()).await, ["a", "b", "e"]);
}

/// Updates and deletes of a missing row fail with `NotFound`; a duplicate id or a value a
/// unique index already holds fails with `Unique` naming the column; an update changes only
/// the columns it names; a truncate empties the table and leaves it usable.
pub async fn missing_rows_and_duplicates_are_refused(s: &Subject) {
    let people = collection(json!({
        "name": "people",
        "fields": [{"name": "handle", "type": "text"}, {"name": "age", "type": "number"}],
        "indexes": ["CREATE UNIQUE INDEX `idx_handle` ON `people` (`handle`)"]
    }));
    create_with(
        &s.store,
        &people,
        vec![
            json!({"id": "u1", "handle": "ann", "age": 30}),
            json!({"id": "u2", "handle": "bob", "age": 40}),
        ],
    )
    .await;

    let c = Arc::clone(&people);
    let update = write(&s.store, move |tx| {
        tx.update(&c, "nobody", &row(json!({"age": 1})))
    })
    .await;
    assert!(matches!(update, Err(StoreError::NotFound)), "{update:?}");
    let c = Arc::clone(&people);
    let delete = write(&s.store, move |tx| tx.delete(&c, "nobody")).await;
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");

    let c = Arc::clone(&people);
    let same_id = write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "u1", "handle": "carl"})))
    })
    .await;
    assert!(
        matches!(&same_id, Err(StoreError::Unique(col)) if col == "id"),
        "{same_id:?}"
    );
    let c = Arc::clone(&people);
    let same_handle = write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "u3", "handle": "ann"})))
    })
    .await;
    assert!(
        matches!(&same_handle, Err(StoreError::Unique(col)) if col == "handle"),
        "{same_handle:?}"
    );
    let c = Arc::clone(&people);
    let taken_by_update = write(&s.store, move |tx| {
        tx.update(&c, "u2", &row(json!({"handle": "ann"})))
    })
    .await;
    assert!(
        matches!(&taken_by_update, Err(StoreError::Unique(col)) if col == "handle"),
        "{taken_by_update:?}"
    );

    let c = Arc::clone(&people);
    write(&s.store, move |tx| {
        tx.update(&c, "u2", &row(json!({"age": 41})))
    })
    .await
    .unwrap();
    let u2 = s
        .store
        .select(Select::by_id(Arc::clone(&people), "u2"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(u2.rows[0].clone()),
        json!({"id": "u2", "handle": "bob", "age": 41})
    );

    let c = Arc::clone(&people);
    write(&s.store, move |tx| tx.delete(&c, "u2"))
        .await
        .unwrap();
    assert_eq!(
        ids(&s.store, Select::all(Arc::clone(&people))).await,
        ["u1"]
    );

    let c = Arc::clone(&people);
    write(&s.store, move |tx| tx.truncate(&c)).await.unwrap();
    assert!(
        ids(&s.store, Select::all(Arc::clone(&people)))
            .await
            .is_empty()
    );
    let c = Arc::clone(&people);
    write(&s.store, move |tx| {
        tx.insert(&c, &row(json!({"id": "u1", "handle": "ann"})))
    })
    .await
    .unwrap();
    assert_eq!(
        ids(&s.store, Select::all(Arc::clone(&people))).await,
        ["u1"],
        "usable after a truncate"
    );
}

/// A successful job's after-commit hook runs once, with `true`, before the write returns;
/// and it runs too when the caller stopped waiting (a request whose client left): the
/// services publish what changed through it, so no committed change goes unannounced.
pub async fn after_commit_hooks_run_even_when_the_caller_stopped_waiting(s: &Subject) {
    let notes = collection(json!({"name": "notes", "fields": [{"name": "text", "type": "text"}]}));
    create_with(&s.store, &notes, vec![json!({"id": "a", "text": "one"})]).await;
    let fired: Arc<std::sync::Mutex<Vec<bool>>> = Arc::default();
    let hook = |fired: &Arc<std::sync::Mutex<Vec<bool>>>| -> AfterCommit {
        let fired = Arc::clone(fired);
        Box::new(move |committed| fired.lock().expect("hook log").push(committed))
    };

    let (c, h) = (Arc::clone(&notes), hook(&fired));
    s.store
        .write(Box::new(move |tx| {
            tx.update(&c, "a", &row(json!({"text": "two"})))?;
            Ok(Some(h))
        }))
        .await
        .expect("the write commits");
    assert_eq!(
        *fired.lock().expect("hook log"),
        [true],
        "ran before the reply"
    );

    // The row is held (by a lock on PostgreSQL, by the one writer on SQLite) so the next
    // write is still waiting when its caller gives up on it.
    let (store, c) = (Arc::clone(&s.store), Arc::clone(&notes));
    let blocker = tokio::spawn(async move {
        store
            .write(Box::new(move |tx| {
                let held = Select {
                    for_update: true,
                    ..Select::by_id(c, "a")
                };
                tx.select(&held)?;
                std::thread::sleep(Duration::from_millis(300));
                Ok(None)
            }))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (c, h) = (Arc::clone(&notes), hook(&fired));
    let abandoned = s.store.write(Box::new(move |tx| {
        tx.update(&c, "a", &row(json!({"text": "three"})))?;
        Ok(Some(h))
    }));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), abandoned).await;
    assert!(gave_up.is_err(), "the write was still waiting for the row");
    blocker.await.expect("blocker task").expect("blocker job");
    let deadline = Instant::now() + Duration::from_secs(5);
    while fired.lock().expect("hook log").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the abandoned write's hook never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*fired.lock().expect("hook log"), [true, true]);
    let stored = s
        .store
        .select(Select::by_id(notes, "a"))
        .await
        .expect("read");
    assert_eq!(
        stored.rows[0]["text"], "three",
        "the abandoned write committed"
    );
}
