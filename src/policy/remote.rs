//! The cache program's remote tier: how long it may take, when it is given up, what is
//! believed, and when a hit records its use.
//!
//! `go-disk-guard cacheprog --remote` (the mechanism, in `crate::cacheprog::remote`) asks
//! these; the remote must never fail a build, so every limit errs towards a miss: a local
//! build is always the way out.

use std::time::{Duration, SystemTime};

/// After this many consecutive failed requests the remote is left alone for the rest of the
/// program (the circuit breaker): a dead or unreachable server then costs a build a few
/// timeouts, not one per lookup.
pub const BREAKER_AFTER: u32 = 3;

/// Connecting may take this long: a server that far away is no help to a build.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A request for an action, or a check that an object exists, may take this long. Each waits
/// on a compile that the go command could start instead.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A body's transfer may take this long, plus a second for each [`BODY_BYTES_PER_SECOND`]
/// of it ([`body_timeout`]).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The slowest transfer a body is allowed: 4 MiB a second.
pub const BODY_BYTES_PER_SECOND: u64 = 4 << 20;

/// A failed request is tried again at most this often, and not after this long.
pub const RETRIES: usize = 1;
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `close` waits for the uploads still pending (`--remote-flush-timeout`'s default):
/// long enough for a build's last outputs, short enough that a job does not hang on a slow
/// server. What remains is dropped, and counted.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// A hit rewrites its action's last-use field when it is older than this: the age `prune
/// --remote` goes by stays within a day of the truth, for at most one write per action a day.
pub const REFRESH_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How far in the future a time in the bucket may lie (clocks differ between machines);
/// beyond it the action is not believed.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// A body's time limit ([`BODY_TIMEOUT`] and a second per [`BODY_BYTES_PER_SECOND`]), at
/// most a day, so that a deadline computed from it never overflows.
pub fn body_timeout(size: u64) -> Duration {
    BODY_TIMEOUT
        .saturating_add(Duration::from_secs(size / BODY_BYTES_PER_SECOND))
        .min(Duration::from_secs(86400))
}

/// Whether a hit at `now` on an action last used at `used_at` rewrites its last-use field
/// (never in read-only mode: the caller checks).
pub fn refresh_due(used_at: SystemTime, now: SystemTime) -> bool {
    now.duration_since(used_at)
        .is_ok_and(|age| age >= REFRESH_AFTER)
}

/// Whether a time read from the bucket at `now` can be believed: not further ahead than
/// [`CLOCK_TOLERANCE`].
pub fn believable_time(t: SystemTime, now: SystemTime) -> bool {
    now.checked_add(CLOCK_TOLERANCE)
        .is_some_and(|latest| t <= latest)
}

/// The largest output a remote action may name and still be believed, for a cache on a
/// volume of `volume_total` bytes: a larger one could not be kept. One larger than the budget
/// can: the go command stores such outputs locally too.
pub fn largest_believed_output(volume_total: u64) -> u64 {
    volume_total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_may_take_longer_the_larger_it_is() {
        assert_eq!(body_timeout(0), BODY_TIMEOUT);
        assert_eq!(
            body_timeout(40 << 20),
            BODY_TIMEOUT + Duration::from_secs(10)
        );
        assert!(body_timeout(u64::MAX) > BODY_TIMEOUT);
        assert!(body_timeout(u64::MAX) <= Duration::from_secs(86400));
    }

    #[test]
    fn a_refresh_is_due_once_a_day() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(!refresh_due(now - Duration::from_secs(3600), now));
        assert!(refresh_due(now - REFRESH_AFTER, now));
        assert!(!refresh_due(now + Duration::from_secs(60), now));
    }

    #[test]
    fn times_a_little_ahead_are_believed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(believable_time(now, now));
        assert!(believable_time(now + CLOCK_TOLERANCE, now));
        assert!(!believable_time(
            now + CLOCK_TOLERANCE + Duration::from_secs(1),
            now
        ));
    }
}
