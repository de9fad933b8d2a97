//! The key/value parameter table (settings, secrets).

use kulisse_store::StoreError;
use serde_json::json;

use super::{Subject, write};

/// A parameter reads back as written (any JSON), a later write replaces it, a write in a
/// rolled-back job is not kept, and a key never written reads as `None`.
pub async fn params_are_written_and_read_back(s: &Subject) {
    assert_eq!(s.store.param("kt_missing").await.unwrap(), None);
    let value = json!({"meta": {"appName": "Acme", "n": 1.5}, "list": [1, "two", null]});
    let v = value.clone();
    write(&s.store, move |tx| tx.set_param("kt_settings", &v))
        .await
        .unwrap();
    assert_eq!(s.store.param("kt_settings").await.unwrap(), Some(value));

    write(&s.store, |tx| {
        tx.set_param("kt_settings", &json!("replaced"))
    })
    .await
    .unwrap();
    assert_eq!(
        s.store.param("kt_settings").await.unwrap(),
        Some(json!("replaced"))
    );

    let rolled_back = write(&s.store, |tx| {
        tx.set_param("kt_settings", &json!("rolled back"))?;
        tx.set_param("kt_other", &json!(1))?;
        Err::<(), _>(StoreError::Constraint("refused".into()))
    })
    .await;
    assert!(rolled_back.is_err());
    assert_eq!(
        s.store.param("kt_settings").await.unwrap(),
        Some(json!("replaced"))
    );
    assert_eq!(s.store.param("kt_other").await.unwrap(), None);
}
