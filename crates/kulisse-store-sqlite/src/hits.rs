//! [`Store::hit`](kulisse_store::Store::hit) for SQLite: one process owns a data dir, so the
//! counts live in that process's memory, and a hit never waits for the writer (rate limits
//! may cover the busiest routes).

use std::collections::HashMap;
use std::sync::Mutex;

use kulisse_store::Hits;

/// Windows kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// Fixed-window counters by key: when each window opened, when it closes, its hits.
#[derive(Default)]
pub(crate) struct Counters(Mutex<HashMap<String, Window>>);

struct Window {
    closes: i64,
    hits: u64,
}

impl Counters {
    /// Counts a hit on `key` at `now` in a window of `window_secs`.
    pub(crate) fn hit(&self, key: &str, window_secs: i64, now: i64) -> Hits {
        let mut windows = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| w.closes > now);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            closes: i64::MIN,
            hits: 0,
        });
        if window.closes <= now {
            *window = Window {
                closes: now.saturating_add(window_secs),
                hits: 0,
            };
        }
        window.hits += 1;
        Hits {
            count: window.hits,
            closes: window.closes,
        }
    }
}
