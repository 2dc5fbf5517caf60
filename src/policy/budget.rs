//! The cache program's budget: when it evicts, how far, and what it spares.
//!
//! `go-disk-guard cacheprog` (the mechanism, in [`crate::cacheprog`]) counts what it stores
//! and measures the volume; these functions say what the counts mean.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The budget a cache program runs with, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Evict when the entries take more than this.
    pub max_size: Option<u64>,
    /// Evict when the volume has less than this available.
    pub min_free: Option<u64>,
}

/// Eviction brings the entries down to this share of `--max-size`, so that it does not run
/// again at the very next put.
pub const LOW_WATER: f64 = 0.9;

/// Eviction for `--min-free` goes on until this share of the volume is available beyond it.
pub const FREE_MARGIN: f64 = 0.01;

impl Budget {
    /// Whether eviction is due: the entries take more than `max_size` — or their size is not
    /// known (`stored` is `None`: the ledger cannot be believed), which counts as over — or
    /// the volume has less than `min_free` available (an `available` that could not be
    /// measured counts as enough).
    pub fn exceeded(&self, stored: Option<u64>, available: Option<u64>) -> bool {
        let over_max = self
            .max_size
            .is_some_and(|max| stored.is_none_or(|bytes| bytes > max));
        let under_free = self
            .min_free
            .is_some_and(|min| available.is_some_and(|a| a < min));
        over_max || under_free
    }

    /// Whether a put that brought the entries to `stored` bytes crosses `max_size`.
    pub fn crossed_by(&self, stored: u64) -> bool {
        self.max_size.is_some_and(|max| stored > max)
    }

    /// Where eviction stops, on a volume of `volume_total` bytes: the entries at
    /// [`LOW_WATER`] of `max_size`, and `min_free` plus [`FREE_MARGIN`] of the volume
    /// available.
    pub fn eviction_goal(&self, volume_total: u64) -> (Option<u64>, Option<u64>) {
        let max_size = self.max_size.map(|max| (max as f64 * LOW_WATER) as u64);
        let free_at_least = self
            .min_free
            .map(|min| min.saturating_add((volume_total as f64 * FREE_MARGIN) as u64));
        (max_size, free_at_least)
    }
}

/// What eviction spares: every entry used since the oldest live cache program started (and a
/// second more, for the moments between this reading of the clock and the pruner's). Safety
/// does not rest on this — what a go command was handed is a link of its own — but a live
/// build's entries stay cached for it.
pub fn spared_window(oldest_live_start: Option<SystemTime>, now: SystemTime) -> Duration {
    oldest_live_start.map_or(Duration::ZERO, |start| {
        now.duration_since(start).unwrap_or_default() + Duration::from_secs(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_budget_or_under_the_free_space_is_due() {
        let b = Budget {
            max_size: Some(100),
            min_free: Some(50),
        };
        assert!(!b.exceeded(Some(100), Some(50)));
        assert!(b.exceeded(Some(101), Some(50)));
        assert!(b.exceeded(Some(10), Some(49)));
        // An unknown size is over; an unmeasured volume is not under.
        assert!(b.exceeded(None, Some(1000)));
        assert!(!b.exceeded(Some(10), None));
        assert!(!Budget::default().exceeded(None, Some(0)));
        assert!(b.crossed_by(101) && !b.crossed_by(100));
    }

    #[test]
    fn eviction_goes_below_the_marks() {
        let b = Budget {
            max_size: Some(1000),
            min_free: Some(u64::MAX - 1),
        };
        let (max, free) = b.eviction_goal(10_000);
        assert_eq!(max, Some(900));
        assert_eq!(free, Some(u64::MAX), "saturates");
    }

    #[test]
    fn a_live_program_spares_what_was_used_since_it_started() {
        let now = SystemTime::now();
        let start = now - Duration::from_secs(60);
        assert_eq!(spared_window(None, now), Duration::ZERO);
        assert_eq!(spared_window(Some(start), now), Duration::from_secs(61));
        // A start in the future (a clock stepped back) spares the second only.
        assert_eq!(
            spared_window(Some(now + Duration::from_secs(5)), now),
            Duration::from_secs(1)
        );
    }
}
