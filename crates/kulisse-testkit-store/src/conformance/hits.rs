//! The hit counters (rate limits, attempt caps).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Subject;

const NOW: i64 = 1_800_000_000;

/// Hits count up within a window, each key on its own; the window closes `window_secs`
/// after its first hit and the next hit opens a new one at 1; 50 hits at once on one key
/// each get their own count (1..=50), so a cap of n lets exactly n through.
pub async fn hits_count_per_key_in_fixed_windows(s: &Subject) {
    let hit = |key: &'static str, now: i64| {
        let store = Arc::clone(&s.store);
        async move { store.hit(key, 60, now).await.unwrap().count }
    };
    assert_eq!(hit("kt_a", NOW).await, 1);
    assert_eq!(hit("kt_a", NOW + 1).await, 2);
    assert_eq!(hit("kt_b", NOW + 1).await, 1, "keys count apart");
    assert_eq!(hit("kt_a", NOW + 59).await, 3, "the window is still open");
    assert_eq!(
        hit("kt_a", NOW + 60).await,
        1,
        "the window closed: a new one"
    );
    assert_eq!(hit("kt_a", NOW + 61).await, 2);
    let window = s.store.hit("kt_a", 60, NOW + 62).await.unwrap();
    assert_eq!(
        (window.count, window.closes),
        (3, NOW + 120),
        "closes a window after it opened"
    );

    let at_once: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move { store.hit("kt_c", 600, NOW).await.unwrap().count })
        })
        .collect();
    let mut counts = BTreeSet::new();
    for h in at_once {
        counts.insert(h.await.unwrap());
    }
    assert_eq!(counts, (1..=50).collect::<BTreeSet<u64>>());
}
