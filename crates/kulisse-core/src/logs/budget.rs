//! [`CpuBudget`]: how much CPU the request log's writer may use.
//!
//! An entry costs its writer ~8 µs (its JSON, its row and two index entries in SQLite);
//! a cheap request costs about as much. On a machine serving tens of thousands of requests
//! a second, writing every entry would take a fifth of its throughput, even on CPU that
//! looks idle (a writer on one hyperthread slows a request on its sibling). So the writer
//! has a budget: a share of one core, banked for up to a second so bursts are kept whole.
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

    /// Charges a written batch's CPU time.
    pub(super) fn spend(&mut self, cpu: Duration) {
        self.credit -= cpu.as_secs_f64();
    }
}

/// The CPU time the calling thread has used so far: what a write job costs is the
/// difference (Linux; elsewhere wall time, which also counts time the thread waited).
pub(super) fn thread_cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
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
    fn a_whole_core_never_refuses() {
        let t0 = Instant::now();
        let mut budget = CpuBudget::new(1.0, t0);
        budget.spend(Duration::from_secs(10));
        assert!(budget.allows(t0));
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time() > before);
    }
}
