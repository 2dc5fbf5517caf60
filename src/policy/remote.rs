//! The cache program's remote tier: how long it may take, when it is given up, what is
//! believed, when a hit records its use, and what `prune --remote` removes.
//!
//! `go-disk-guard cacheprog --remote` (the mechanism, in `crate::cacheprog::remote`) asks
//! these; the remote must never fail a build, so every limit errs towards a miss: a local
//! build is always the way out.

use std::collections::{HashMap, HashSet};
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

/// How long `prune --remote` spares an output no kept action references, by default
/// (`--keep-recent`): an upload writes the body before its action, and an hour covers any
/// upload in flight.
pub const PRUNE_KEEP_RECENT: Duration = Duration::from_secs(3600);

/// The manifest a go command follows is the one that names the most of the first this many
/// distinct actions it asks for: enough to tell apart commands that start alike (`go build`,
/// `go vet`, `go test` of one module), few enough to be known within the first milliseconds
/// of a build, before most of its lookups.
pub const MANIFEST_AFTER_REQUESTS: usize = 8;

/// A manifest is followed only when it names at least this many of the first requests: one
/// alone (the first, which every manifest filed there names) says little.
pub const MANIFEST_FOLLOW_AT_LEAST: usize = 2;

/// At most this many manifests filed under one first request are read, the newest: one per
/// command that starts that way is the usual.
pub const MANIFEST_CANDIDATES: usize = 4;

/// Listing the manifests under one first request stops after this many.
pub const MANIFEST_LISTED_MAX: usize = 1000;

/// A go command that used fewer actions than this leaves no manifest: there is nothing to
/// gain from fetching ahead for it.
pub const MANIFEST_MIN_ACTIONS: usize = 32;

/// Outputs a manifest names are fetched this many at a time, ahead of the go command's
/// requests. On loopback a request is a few milliseconds of waiting, not of work: many at
/// once is what makes a cold local cache with a warm remote nearly as fast as a warm one.
pub const PREFETCH_AT_ONCE: usize = 16;

/// How many bytes of outputs a cache program fetches ahead of the go command, for a budget
/// of `max_size` bytes (none: a tenth of the volume of `volume_total` bytes): half of it.
/// What is fetched ahead counts as used by the live program, which eviction spares, so the
/// other half stays for the build's own puts.
pub fn prefetch_allowance(max_size: Option<u64>, volume_total: u64) -> u64 {
    max_size.unwrap_or(volume_total / 10) / 2
}

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

/// An object's ID: an ActionID or an OutputID.
pub type ObjectId = [u8; 32];

/// An object of the bucket as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: ObjectId,
    pub size: u64,
    /// The object's modification time (the server's: a client cannot set it).
    pub modified: SystemTime,
}

/// What an action object says, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionUse {
    /// The output it names.
    pub output: ObjectId,
    /// Its own last-use field.
    pub used_at: SystemTime,
}

/// An action as listed, and what reading it gave (`None`: it could not be read as one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedAction {
    pub object: Listed,
    pub read: Option<ActionUse>,
}

/// What `prune --remote` was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemotePruneGoals {
    /// Remove actions unused for longer than this, and manifests not written for longer than
    /// this.
    pub older_than: Duration,
    /// Then remove the oldest manifests, then the least recently used actions, until the
    /// objects kept take at most this.
    pub max_size: Option<u64>,
    /// Outputs no kept action references whose object is younger than this are spared.
    pub keep_recent: Duration,
}

/// What to remove: indices into the actions, outputs and manifests listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemotePrunePlan {
    pub actions: Vec<usize>,
    pub outputs: Vec<usize>,
    pub manifests: Vec<usize>,
    /// Actions that could not be read.
    pub unreadable: u64,
}

/// What `prune --remote` removes from a bucket holding `actions`, `outputs` and `manifests`,
/// at `now`; `written_since` are the outputs named by actions written after the listing:
///
/// 1. an action whose last use (its own field: an object store does not let a client set
///    an object's modification time) is older than `older_than` goes; so does one that cannot
///    be read, once its object is that old. A manifest not written for `older_than` goes (by
///    its object's time: a manifest is rewritten whenever a go command's use changed it, so
///    one that old names a build nobody runs);
/// 2. with `max_size`, while the objects kept (the actions, the outputs they reference, the
///    manifests) do not fit, the manifests go, oldest first (they only speed builds up:
///    removing one costs at most a slower first build), then the least recently used
///    actions;
/// 3. every output no kept action references goes, unless its object is younger than
///    `keep_recent` (an upload writes the body before its action: a body whose action is on
///    its way is spared), or an action written since names it.
///
/// An output a kept action references is never removed.
pub fn plan_remote_prune(
    actions: &[ListedAction],
    outputs: &[Listed],
    manifests: &[Listed],
    written_since: &[ObjectId],
    goals: &RemotePruneGoals,
    now: SystemTime,
) -> RemotePrunePlan {
    let cutoff = now
        .checked_sub(goals.older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut plan = RemotePrunePlan::default();
    let (mut kept, unreadable_kept_bytes) = by_age(actions, cutoff, &mut plan);
    let mut kept_manifests = manifests_by_age(manifests, cutoff, &mut plan);
    if let Some(max) = goals.max_size {
        let sizes: HashMap<ObjectId, u64> = outputs.iter().map(|o| (o.id, o.size)).collect();
        by_size(
            actions,
            &mut kept,
            &sizes,
            Kept {
                max,
                unreadable_bytes: unreadable_kept_bytes,
                manifests,
                kept_manifests: &mut kept_manifests,
            },
            &mut plan,
        );
    }
    let young_after = now
        .checked_sub(goals.keep_recent)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let referenced: HashSet<ObjectId> = kept
        .iter()
        .map(|&(_, a)| a.output)
        .chain(written_since.iter().copied())
        .collect();
    plan.outputs = (0..outputs.len())
        .filter(|&i| !referenced.contains(&outputs[i].id) && outputs[i].modified < young_after)
        .collect();
    plan
}

/// Step 1 for the manifests: those written before `cutoff` go into `plan`; the kept ones
/// (indices into `manifests`), oldest first.
fn manifests_by_age(
    manifests: &[Listed],
    cutoff: SystemTime,
    plan: &mut RemotePrunePlan,
) -> Vec<usize> {
    let (gone, mut kept): (Vec<usize>, Vec<usize>) =
        (0..manifests.len()).partition(|&i| manifests[i].modified < cutoff);
    plan.manifests = gone;
    kept.sort_by_key(|&i| manifests[i].modified);
    kept
}

/// Step 1: the actions older than `cutoff` go into `plan`; the kept ones (index, what they
/// say), and the bytes of unreadable actions kept.
fn by_age(
    actions: &[ListedAction],
    cutoff: SystemTime,
    plan: &mut RemotePrunePlan,
) -> (Vec<(usize, ActionUse)>, u64) {
    let mut kept = Vec::new();
    let mut unreadable_kept_bytes = 0u64;
    for (i, action) in actions.iter().enumerate() {
        match action.read {
            Some(a) if a.used_at >= cutoff => kept.push((i, a)),
            Some(_) => plan.actions.push(i),
            None => {
                plan.unreadable += 1;
                if action.object.modified < cutoff {
                    plan.actions.push(i);
                } else {
                    unreadable_kept_bytes =
                        unreadable_kept_bytes.saturating_add(action.object.size);
                }
            }
        }
    }
    (kept, unreadable_kept_bytes)
}

/// What step 2 keeps besides the actions: the size to fit, the bytes of unreadable actions
/// kept, and the manifests kept (indices into `manifests`, oldest first).
struct Kept<'a> {
    max: u64,
    unreadable_bytes: u64,
    manifests: &'a [Listed],
    kept_manifests: &'a mut Vec<usize>,
}

/// Step 2: while the actions kept, the outputs they reference (sized by `sizes`; a missing
/// one counts nothing), the unreadable actions and the manifests kept take more than the
/// maximum, the oldest manifests go into `plan`, then the least recently used of `kept`
/// (indices into `actions`).
fn by_size(
    actions: &[ListedAction],
    kept: &mut Vec<(usize, ActionUse)>,
    sizes: &HashMap<ObjectId, u64>,
    rest: Kept<'_>,
    plan: &mut RemotePrunePlan,
) {
    let Kept {
        max,
        unreadable_bytes,
        manifests,
        kept_manifests,
    } = rest;
    kept.sort_by_key(|&(_, a)| a.used_at);
    let mut refs: HashMap<ObjectId, u64> = HashMap::new();
    for (_, a) in kept.iter() {
        *refs.entry(a.output).or_default() += 1;
    }
    let output_size = |o: &ObjectId| sizes.get(o).copied().unwrap_or(0);
    let mut total = kept
        .iter()
        .map(|&(i, _)| actions[i].object.size)
        .chain(refs.keys().map(output_size))
        .chain(kept_manifests.iter().map(|&i| manifests[i].size))
        .fold(unreadable_bytes, u64::saturating_add);
    let mut cut = 0;
    for &i in kept_manifests.iter() {
        if total <= max {
            break;
        }
        total = total.saturating_sub(manifests[i].size);
        plan.manifests.push(i);
        cut += 1;
    }
    kept_manifests.drain(..cut);
    let mut cut = 0;
    for &(i, a) in kept.iter() {
        if total <= max {
            break;
        }
        total = total.saturating_sub(actions[i].object.size);
        if let Some(n) = refs.get_mut(&a.output) {
            *n -= 1;
            if *n == 0 {
                refs.remove(&a.output);
                total = total.saturating_sub(output_size(&a.output));
            }
        }
        plan.actions.push(i);
        cut += 1;
    }
    kept.drain(..cut);
}

#[cfg(test)]
mod tests {

    #[test]
    fn manifests_go_by_age_and_first_by_size() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (actions, outputs) = bucket(now);
        let at = |id: u8, size: u64, age: Duration| Listed {
            id: [id; 32],
            size,
            modified: now - age,
        };
        let hour = Duration::from_secs(3600);
        let manifests = [
            at(0xe1, 100, day(15)), // not written for 15 days
            at(0xe2, 600, day(1)),
            at(0xe3, 10, day(3)),
            at(0xe4, 15, day(14) - hour),
        ];
        let plan_for = |keep_recent: Duration, max_size: Option<u64>| {
            let goals = goals(keep_recent, max_size);
            plan_remote_prune(&actions, &outputs, &manifests, &[], &goals, now)
        };
        // By age: the manifest not written for --older-than, whatever --keep-recent.
        for keep_recent in [Duration::ZERO, hour * 3] {
            let plan = plan_for(keep_recent, None);
            assert_eq!((plan.actions, plan.manifests), (vec![0, 2], vec![0]));
        }
        // By size: kept after the age step, the actions and their outputs take 4304 bytes
        // (see beyond_the_size_the_least_recently_used_go_first), the manifests 625 more. The
        // oldest manifest goes first (14 days less an hour, 15 bytes), then the next (3 days,
        // 10 bytes); no action goes while a manifest is left.
        let plan = plan_for(Duration::ZERO, Some(4929));
        assert_eq!((plan.actions, plan.manifests), (vec![0, 2], vec![0]));
        let plan = plan_for(Duration::ZERO, Some(4928));
        assert_eq!((plan.actions, plan.manifests), (vec![0, 2], vec![0, 3]));
        let plan = plan_for(Duration::ZERO, Some(4914));
        assert_eq!((plan.actions, plan.manifests), (vec![0, 2], vec![0, 3]));
        let plan = plan_for(Duration::ZERO, Some(4913));
        assert_eq!((plan.actions, plan.manifests), (vec![0, 2], vec![0, 3, 2]));
        // Every manifest goes before an action does.
        let plan = plan_for(Duration::ZERO, Some(4303));
        assert_eq!(plan.manifests, [0, 3, 2, 1]);
        assert_eq!(plan.actions, [0, 2, 3]);
        let plan = plan_for(Duration::ZERO, Some(4304));
        assert_eq!(plan.manifests, [0, 3, 2, 1]);
        assert_eq!(plan.actions, [0, 2]);
    }

    #[test]
    fn fetching_ahead_takes_half_the_budget() {
        assert_eq!(prefetch_allowance(Some(10 << 30), 1 << 40), 5 << 30);
        assert_eq!(prefetch_allowance(None, 100 << 30), 5 << 30);
        assert_eq!(prefetch_allowance(Some(0), 1 << 40), 0);
    }

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

    fn day(n: u64) -> Duration {
        Duration::from_secs(n * 86400)
    }

    /// The bucket of `prune --remote`'s test: actions 0xa1…0xa6 and outputs 0x51…0x54, as
    /// written an hour ago, with last uses `days` ago.
    fn bucket(now: SystemTime) -> (Vec<ListedAction>, Vec<Listed>) {
        let listed = |id: u8, size: u64| Listed {
            id: [id; 32],
            size,
            modified: now - Duration::from_secs(3600),
        };
        let action = |id: u8, output: u8, days: u64| ListedAction {
            object: listed(id, 100),
            read: Some(ActionUse {
                output: [output; 32],
                used_at: now - day(days),
            }),
        };
        let actions = vec![
            action(0xa1, 0x51, 20), // old; its output shared with a recent action
            action(0xa2, 0x51, 1),
            action(0xa3, 0x52, 20), // old; its output only its own
            action(0xa4, 0x54, 2),
            action(0xa5, 0x55, 1), // its output is missing
            ListedAction {
                object: listed(0xa6, 4), // unreadable, but its object is new
                read: None,
            },
        ];
        let outputs = vec![
            listed(0x51, 1000),
            listed(0x52, 2000),
            listed(0x53, 500), // no action at all
            listed(0x54, 3000),
        ];
        (actions, outputs)
    }

    fn goals(keep_recent: Duration, max_size: Option<u64>) -> RemotePruneGoals {
        RemotePruneGoals {
            older_than: day(14),
            max_size,
            keep_recent,
        }
    }

    #[test]
    fn old_actions_go_and_outputs_no_kept_action_references() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (actions, outputs) = bucket(now);
        // Every output was written within the default --keep-recent: none goes.
        let plan = plan_remote_prune(
            &actions,
            &outputs,
            &[],
            &[],
            &goals(PRUNE_KEEP_RECENT * 2, None),
            now,
        );
        assert_eq!(plan.actions, [0, 2]);
        assert!(plan.outputs.is_empty());
        assert_eq!(plan.unreadable, 1);
        // Sparing nothing for age: the old action's own output and the orphan go, never the
        // output a kept action shares, nor one an action written since names.
        let plan = plan_remote_prune(
            &actions,
            &outputs,
            &[],
            &[],
            &goals(Duration::ZERO, None),
            now,
        );
        assert_eq!((plan.actions, plan.outputs), (vec![0, 2], vec![1, 2]));
        let plan = plan_remote_prune(
            &actions,
            &outputs,
            &[],
            &[[0x53; 32]],
            &goals(Duration::ZERO, None),
            now,
        );
        assert_eq!(plan.outputs, [1]);
        // An unreadable action goes once its object is that old.
        let mut old = actions.clone();
        old[5].object.modified = now - day(15);
        let plan = plan_remote_prune(&old, &outputs, &[], &[], &goals(Duration::ZERO, None), now);
        assert_eq!(plan.actions, [0, 2, 5]);
    }

    #[test]
    fn beyond_the_size_the_least_recently_used_go_first() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (actions, outputs) = bucket(now);
        // Kept after the age step: 0xa2 (1 day, 0x51), 0xa4 (2 days, 0x54), 0xa5 (1 day, no
        // output) and the unreadable 0xa6: 3 × 100 + 4 + 1000 + 3000 bytes. At 2000 the
        // least recently used, 0xa4, goes, and with it its output.
        let plan = plan_remote_prune(
            &actions,
            &outputs,
            &[],
            &[],
            &goals(Duration::ZERO, Some(2000)),
            now,
        );
        assert_eq!(plan.actions, [0, 2, 3]);
        assert_eq!(plan.outputs, [1, 2, 3]);
        // Nothing fits in nothing: every readable action goes, the unreadable new one stays.
        let plan = plan_remote_prune(
            &actions,
            &outputs,
            &[],
            &[],
            &goals(Duration::ZERO, Some(0)),
            now,
        );
        assert_eq!(plan.actions, [0, 2, 3, 1, 4]);
        assert_eq!(plan.outputs, [0, 1, 2, 3]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(500))]

            /// Whatever the bucket holds: no output a kept action (or one written since)
            /// references is removed, and no index is out of range or removed twice.
            #[test]
            fn a_kept_actions_output_is_never_removed(
                entries in proptest::collection::vec(
                    (0u8..8, 0u8..6, 0u64..40, 0u64..2000, any::<bool>()), 0..24),
                outputs in proptest::collection::vec((0u8..6, 0u64..5000, 0u64..3), 0..8),
                manifests in proptest::collection::vec((0u64..40, 0u64..100), 0..6),
                written_since in proptest::collection::vec(0u8..6, 0..3),
                max_size in proptest::option::of(0u64..20_000),
                keep_recent_hours in 0u64..3,
            ) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
                let actions: Vec<ListedAction> = entries.iter().map(|&(id, out, days, size, readable)| {
                    ListedAction {
                        object: Listed { id: [id; 32], size, modified: now - day(days) },
                        read: readable.then(|| ActionUse { output: [out; 32], used_at: now - day(days) }),
                    }
                }).collect();
                let outputs: Vec<Listed> = outputs.iter().map(|&(id, size, hours)| Listed {
                    id: [id; 32], size, modified: now - Duration::from_secs(hours * 3600),
                }).collect();
                let since: Vec<ObjectId> = written_since.iter().map(|&o| [o; 32]).collect();
                let goals = RemotePruneGoals {
                    older_than: day(14),
                    max_size,
                    keep_recent: Duration::from_secs(keep_recent_hours * 3600),
                };
                let manifests: Vec<Listed> = manifests.iter().map(|&(days, size)| Listed {
                    id: [0; 32], size, modified: now - day(days),
                }).collect();
                let plan = plan_remote_prune(&actions, &outputs, &manifests, &since, &goals, now);
                let gone_manifests: HashSet<usize> = plan.manifests.iter().copied().collect();
                prop_assert_eq!(gone_manifests.len(), plan.manifests.len());
                prop_assert!(plan.manifests.iter().all(|&i| i < manifests.len()));
                // Every manifest goes before any action goes for the size.
                let cutoff = now - goals.older_than;
                let removed_for_size = plan.actions.iter()
                    .any(|&i| actions[i].read.is_some_and(|r| r.used_at >= cutoff));
                if removed_for_size {
                    prop_assert_eq!(gone_manifests.len(), manifests.len());
                }
                // Without a size, a manifest written within --older-than stays.
                if max_size.is_none() {
                    for &i in &plan.manifests {
                        prop_assert!(manifests[i].modified < cutoff);
                    }
                }
                let removed: HashSet<usize> = plan.actions.iter().copied().collect();
                prop_assert_eq!(removed.len(), plan.actions.len());
                prop_assert!(plan.actions.iter().all(|&i| i < actions.len()));
                prop_assert!(plan.outputs.iter().all(|&i| i < outputs.len()));
                let kept_refs: HashSet<ObjectId> = actions.iter().enumerate()
                    .filter(|(i, _)| !removed.contains(i))
                    .filter_map(|(_, a)| a.read.map(|r| r.output))
                    .chain(since.iter().copied())
                    .collect();
                for &o in &plan.outputs {
                    prop_assert!(!kept_refs.contains(&outputs[o].id));
                }
            }
        }
    }
}
