//! [`CpuBudget`]: how much CPU the request log's writer may use.
//!
//! An entry costs its writer ~8 µs (its JSON, its row and two index entries in SQLite);
//! a cheap request costs about as much. On a machine serving tens of thousands of requests
//! a second, writing every entry would take a fifth of its throughput, even on CPU that
//! looks idle (a writer on one hyperthread slows a request on its sibling). So the writer
//! has a budget: a share of one core, banked for up to a second so bursts are kept whole,
//! charged with each batch's time from queueing to commit (see `writer::write`).
//! A batch that finds the budget spent is dropped and counted, like a full queue's entries,
//! and until the budget refills requests are not even captured (only counted); a machine
//! with CPU to spare never gets there.

use std::time::{Duration, Instant};

/// The longest the budget banks: bursts up to a second's worth of the share are written.
const BANK: Duration = Duration::from_secs(1);

/// What the writer's share of a core allows now.
#[derive(Debug)]
pub(super) struct CpuBudget {
    /// The share of one core, in (0, 1]; 1 never drops anything.
    share: f64,
    /// CPU seconds the writer may still spend (negative: overspent by the last batch).
    credit: f64,
    last: Instant,
}

impl CpuBudget {
    /// A budget of `share` of one core, starting with a full bank.
    pub(super) fn new(share: f64, now: Instant) -> CpuBudget {
        let share = share.clamp(0.0, 1.0);
        CpuBudget {
            share,
            credit: BANK.as_secs_f64() * share,
            last: now,
        }
    }

    /// Whether a batch may be written at `now` (the credit refilled for the time passed).
    pub(super) fn allows(&mut self, now: Instant) -> bool {
        if self.share >= 1.0 {
            return true;
        }
        let passed = now.saturating_duration_since(self.last).as_secs_f64();
        self.credit = (self.credit + passed * self.share).min(BANK.as_secs_f64() * self.share);
        self.last = now;
        self.credit > 0.0
    }

    /// How long until the spent credit is back above zero (zero when it is).
    pub(super) fn refilled_in(&self) -> Duration {
        if self.credit > 0.0 || self.share <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((-self.credit / self.share).min(BANK.as_secs_f64() * 60.0))
    }

    /// Charges a written batch's time.
    pub(super) fn spend(&mut self, cpu: Duration) {
        self.credit -= cpu.as_secs_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_refills_at_its_share() {
        let t0 = Instant::now();
        let mut budget = CpuBudget::new(0.05, t0);
        assert!(
            budget.allows(t0),
            "a fresh budget has a second's worth banked"
        );
        budget.spend(Duration::from_millis(100));
        assert!(
            !budget.allows(t0 + Duration::from_millis(500)),
            "50 ms overspent, 25 ms back"
        );
        assert!(
            budget.allows(t0 + Duration::from_millis(1100)),
            "55 ms back"
        );
        // Idle time banks at most a second's worth.
        let later = t0 + Duration::from_secs(60);
        assert!(budget.allows(later));
        budget.spend(Duration::from_millis(51));
        assert!(!budget.allows(later));
    }

    #[test]
    fn an_overspent_budget_says_when_it_is_back() {
        let t0 = Instant::now();
        let mut budget = CpuBudget::new(0.05, t0);
        assert_eq!(budget.refilled_in(), Duration::ZERO);
        budget.spend(Duration::from_millis(75));
        // 25 ms short at 5 % of a core: half a second.
        let wait = budget.refilled_in().as_secs_f64();
        assert!((wait - 0.5).abs() < 1e-6, "{wait}");
        assert!(!budget.allows(t0 + Duration::from_millis(499)));
        assert!(budget.allows(t0 + Duration::from_millis(501)));
    }

    #[test]
    fn a_whole_core_never_refuses() {
        let t0 = Instant::now();
        let mut budget = CpuBudget::new(1.0, t0);
        budget.spend(Duration::from_secs(10));
        assert!(budget.allows(t0));
    }
}
