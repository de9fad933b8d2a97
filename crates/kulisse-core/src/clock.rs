//! The time services read: the system's, or one a test sets.
//!
//! Everything that expires or is stamped goes through a [`Clock`]: token lifetimes (issue
//! and verification), record autodates and the `@now` family of rule macros; OTPs,
//! rate-limit windows and log retention will too. A test moves a [`ManualClock`] forward
//! instead of sleeping.

use std::sync::RwLock;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until moved.
#[derive(Debug)]
pub struct ManualClock {
    now: RwLock<Timestamp>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock {
            now: RwLock::new(at),
        }
    }

    /// Moves the clock by `by` (backwards when negative).
    pub fn advance(&self, by: SignedDuration) {
        if let Ok(mut now) = self.now.write() {
            *now = now.saturating_add(by).unwrap_or(*now);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        match self.now.read() {
            Ok(now) => *now,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_hours(2));
        assert_eq!(clock.now().as_second(), start.as_second() + 7200);
    }
}
