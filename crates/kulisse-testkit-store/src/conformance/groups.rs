//! Counts per key: the request log's hourly statistics.

use std::sync::Arc;

use kulisse_store::{CmpOp, Cond, Literal, Select, Term};
use serde_json::json;

use super::{Subject, collection, create_with};

/// Rows matching the filter are counted per value of a key term (here the hour of a
/// datetime, as the log's stats ask), in ascending key order; a NULL key counts under "".
pub async fn counts_per_key_follow_the_filter_in_key_order(s: &Subject) {
    let logs = collection(json!({
        "name": "entries",
        "fields": [
            {"name": "level", "type": "number"},
            {"name": "at", "type": "date"}
        ]
    }));
    create_with(
        &s.store,
        &logs,
        vec![
            json!({"id": "e1", "level": 0, "at": "2026-12-05 10:59:59.999Z"}),
            json!({"id": "e2", "level": 8, "at": "2026-12-05 09:00:00.000Z"}),
            json!({"id": "e3", "level": 0, "at": "2026-12-05 10:00:00.000Z"}),
            json!({"id": "e4", "level": 0, "at": "2026-12-05 09:30:00.000Z"}),
            json!({"id": "e5", "level": 0, "at": ""}),
        ],
    )
    .await;
    let hour = Term::Strftime {
        format: "%Y-%m-%d %H:00:00.000Z".into(),
        value: Some(Box::new(Term::Column("at".into()))),
        modifiers: vec![],
    };
    let infos = Select::all(Arc::clone(&logs)).and(Cond::Compare {
        left: Term::Column("level".into()),
        op: CmpOp::Eq,
        right: Term::Value(Literal::Number(0.0)),
    });
    let counts = s.store.count_per(infos, hour.clone()).await.unwrap();
    assert_eq!(
        counts,
        [
            (String::new(), 1),
            ("2026-12-05 09:00:00.000Z".to_owned(), 1),
            ("2026-12-05 10:00:00.000Z".to_owned(), 2),
        ]
    );
    let all = s
        .store
        .count_per(Select::all(Arc::clone(&logs)), hour)
        .await
        .unwrap();
    assert_eq!(all.iter().map(|(_, n)| n).sum::<u64>(), 5);
    assert_eq!(all[1], ("2026-12-05 09:00:00.000Z".to_owned(), 2));
}
