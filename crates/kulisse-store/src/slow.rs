//! The slow-query log's first stage: reads that took longer than a threshold, timed by the
//! engine that ran them and summed by their SQL. The SQL is already the query's normalised
//! shape, since every value is a bound parameter, so no user's data is kept. Each shape's
//! plan is asked of the engine (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL,
//! with the slow run's own parameters) on its first slow run since the last drain, so a
//! plan an index changed shows at the next one.
//!
//! The analytics drain the sums about once a minute into the hourly rollups every node
//! shares (`kulisse_core::analytics`), where the index advisor reads them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The most shapes held between two drains: a client sending ever new filters cannot
/// grow the log without bound; later shapes wait for the next drain.
const MAX_SHAPES: usize = 1_000;

/// Slow reads, summed by shape until drained.
#[derive(Debug)]
pub struct SlowQueries {
    /// What counts as slow; `None`: nothing does (the log is off).
    threshold: Option<Duration>,
    shapes: Mutex<HashMap<String, SlowQuery>>,
}

/// One shape's slow runs since the last drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowQuery {
    /// The SQL, parameters as placeholders.
    pub sql: String,
    /// The engine's plan for it, one step a line, indented by depth (empty when it could
    /// not be had).
    pub plan: String,
    /// Slow runs.
    pub count: u64,
    /// Their summed time.
    pub total: Duration,
    /// The slowest.
    pub max: Duration,
}

impl SlowQueries {
    /// A log of reads taking at least `threshold` (none when `None`).
    pub fn new(threshold: Option<Duration>) -> SlowQueries {
        SlowQueries {
            threshold,
            shapes: Mutex::default(),
        }
    }

    /// Whether a read that took `took` is recorded.
    pub fn is_slow(&self, took: Duration) -> bool {
        self.threshold.is_some_and(|t| took >= t)
    }

    /// Whether [`Self::record`] wants a plan with `sql`: its first slow run since the last
    /// drain (and room for it).
    pub fn wants_plan(&self, sql: &str) -> bool {
        let shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        !shapes.contains_key(sql) && shapes.len() < MAX_SHAPES
    }

    /// Adds a slow run of `sql`, with its `plan` when [`Self::wants_plan`] said so.
    pub fn record(&self, sql: &str, took: Duration, plan: Option<String>) {
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shape) = shapes.get_mut(sql) {
            shape.count += 1;
            shape.total += took;
            shape.max = shape.max.max(took);
        } else if shapes.len() < MAX_SHAPES {
            shapes.insert(
                sql.to_owned(),
                SlowQuery {
                    sql: sql.to_owned(),
                    plan: plan.unwrap_or_default(),
                    count: 1,
                    total: took,
                    max: took,
                },
            );
        }
    }

    /// The shapes recorded since the last drain, emptying the log.
    pub fn drain(&self) -> Vec<SlowQuery> {
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        shapes.drain().map(|(_, shape)| shape).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_runs_are_summed_by_shape_with_the_first_plan() {
        let log = SlowQueries::new(Some(Duration::from_millis(10)));
        assert!(!log.is_slow(Duration::from_millis(9)));
        assert!(log.is_slow(Duration::from_millis(10)));
        assert!(log.wants_plan("SELECT 1"));
        log.record("SELECT 1", Duration::from_millis(10), Some("SCAN t".into()));
        assert!(!log.wants_plan("SELECT 1"));
        log.record("SELECT 1", Duration::from_millis(30), None);
        let drained = log.drain();
        assert_eq!(
            drained,
            [SlowQuery {
                sql: "SELECT 1".into(),
                plan: "SCAN t".into(),
                count: 2,
                total: Duration::from_millis(40),
                max: Duration::from_millis(30),
            }]
        );
        assert!(log.drain().is_empty());
        assert!(
            log.wants_plan("SELECT 1"),
            "a drain asks for the plan again"
        );
    }

    #[test]
    fn an_off_log_records_nothing_and_a_full_one_no_new_shapes() {
        assert!(!SlowQueries::new(None).is_slow(Duration::MAX));
        let log = SlowQueries::new(Some(Duration::ZERO));
        for i in 0..=MAX_SHAPES {
            log.record(&format!("SELECT {i}"), Duration::ZERO, None);
        }
        assert!(!log.wants_plan("SELECT x"));
        assert_eq!(log.drain().len(), MAX_SHAPES);
    }
}
