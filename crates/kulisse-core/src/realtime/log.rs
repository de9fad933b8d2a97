//! The change sets a resuming client may still be owed: the dispatcher's recent past,
//! bounded by age and by the number of record events, on this node.
//!
//! A resume does not keep per-client queues of messages (that would cost memory per
//! subscriber); it runs the logged change sets through the client's subscriptions again,
//! as the dispatcher did live. The records themselves are kept as they were delivered, so
//! a replayed event shows what the live one showed.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kulisse_store::Row;

use super::Position;
use crate::changes::ChangeSet;

/// One change set as the dispatcher handled it.
pub(crate) struct Logged {
    /// Its number in publish order.
    pub(crate) number: u64,
    pub(crate) set: Arc<ChangeSet>,
    /// The record of each change, once read for a delivery (the change set carries it
    /// when it was recorded in the transaction; otherwise it is read after the commit).
    rows: Vec<OnceCell<Option<Row>>>,
    at: Instant,
}

impl Logged {
    /// The record of change `i`, read with `read` the first time it is asked for.
    pub(crate) fn row(&self, i: usize, read: impl FnOnce() -> Option<Row>) -> Option<&Row> {
        self.rows.get(i)?.get_or_init(read).as_ref()
    }
}

/// The log: every change set after `floor`, oldest first.
pub(crate) struct Log {
    entries: VecDeque<Logged>,
    /// Change sets up to this number are gone (too old, or lost when the dispatcher fell
    /// behind or the feed reconnected): a client behind it cannot resume.
    floor: u64,
    /// Record events in `entries`.
    events: usize,
    window: Duration,
    max_events: usize,
}

impl Log {
    pub(crate) fn new(window: Duration, max_events: usize) -> Log {
        Log {
            entries: VecDeque::new(),
            floor: 0,
            events: 0,
            window,
            max_events,
        }
    }

    /// Logs change set `number` (the next one); older ones past the window or the event
    /// limit are dropped.
    pub(crate) fn push(&mut self, number: u64, set: Arc<ChangeSet>) {
        let now = Instant::now();
        self.events += set.records.len();
        self.entries.push_back(Logged {
            number,
            rows: (0..set.records.len()).map(|_| OnceCell::new()).collect(),
            set,
            at: now,
        });
        while self.entries.len() > 1
            && let Some(oldest) = self.entries.front()
            && (self.events > self.max_events || now.duration_since(oldest.at) > self.window)
        {
            self.drop_oldest();
        }
        if self.window.is_zero() {
            // Resume is off: the last set stays only for its own delivery.
            self.floor = number;
        }
    }

    /// The change set logged last.
    pub(crate) fn latest(&self) -> Option<&Logged> {
        self.entries.back()
    }

    /// Change sets up to `number` cannot be sent again.
    pub(crate) fn forget_through(&mut self, number: u64) {
        while self.entries.front().is_some_and(|e| e.number <= number) {
            self.drop_oldest();
        }
        self.floor = self.floor.max(number);
    }

    fn drop_oldest(&mut self) {
        if let Some(oldest) = self.entries.pop_front() {
            self.events -= oldest.set.records.len();
            self.floor = self.floor.max(oldest.number);
        }
    }

    /// The change sets a client at `at` has not had yet, oldest first; `None` when some
    /// of them are gone.
    pub(crate) fn after(&self, at: Position) -> Option<impl Iterator<Item = &Logged>> {
        let first = if at.index == Position::WHOLE {
            at.set + 1
        } else {
            at.set
        };
        (first > self.floor).then(|| self.entries.iter().filter(move |e| e.number >= first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::{Action, RecordChange};

    fn set(n: usize) -> Arc<ChangeSet> {
        Arc::new(ChangeSet {
            records: (0..n)
                .map(|i| RecordChange {
                    collection: "c".into(),
                    id: i.to_string(),
                    action: Action::Create,
                    row: None,
                })
                .collect(),
            ..ChangeSet::default()
        })
    }

    fn numbers(log: &Log, at: Position) -> Option<Vec<u64>> {
        log.after(at).map(|it| it.map(|e| e.number).collect())
    }

    #[test]
    fn a_client_resumes_only_while_everything_after_it_is_logged() {
        let mut log = Log::new(Duration::from_secs(60), 5);
        for n in 1..=4 {
            log.push(n, set(1));
        }
        assert_eq!(numbers(&log, Position::through(2)), Some(vec![3, 4]));
        assert_eq!(
            numbers(&log, Position::message(2, 0, 0)),
            Some(vec![2, 3, 4])
        );
        assert_eq!(numbers(&log, Position::through(0)), Some(vec![1, 2, 3, 4]));
        // Three more events push the first two sets out (at most 5 events).
        log.push(5, set(3));
        assert_eq!(numbers(&log, Position::through(1)), None);
        assert_eq!(numbers(&log, Position::through(2)), Some(vec![3, 4, 5]));
        assert_eq!(
            numbers(&log, Position::message(3, 0, 0)),
            Some(vec![3, 4, 5])
        );
        assert_eq!(
            numbers(&log, Position::message(2, 0, 0)),
            None,
            "set 2 is gone"
        );
        // A gap: nothing up to 7 can be sent again, even what is still logged.
        log.forget_through(7);
        assert_eq!(numbers(&log, Position::through(5)), None);
        assert_eq!(numbers(&log, Position::through(7)), Some(vec![]));
    }

    #[test]
    fn a_zero_window_keeps_nothing() {
        let mut log = Log::new(Duration::ZERO, 5);
        log.push(1, set(1));
        assert_eq!(
            log.latest().map(|l| l.number),
            Some(1),
            "kept for its own delivery"
        );
        assert_eq!(numbers(&log, Position::through(0)), None);
    }
}
