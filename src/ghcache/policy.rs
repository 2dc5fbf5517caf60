//! Which caches to delete, and why: a pure function of the caches, what is known of their
//! refs, and the options, so that every policy is tested without a server.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// One entry of the repository's Actions cache, as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cache {
    pub id: u64,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub key: String,
    pub size_in_bytes: u64,
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub last_accessed_at: Option<SystemTime>,
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub created_at: Option<SystemTime>,
}

/// What is known of a ref.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefState {
    /// A branch or tag that exists, an open pull request, or a ref of a kind not checked.
    Live,
    /// A branch or tag that no longer exists.
    Gone,
    /// A pull request that is closed (merged or not).
    ClosedPullRequest,
}

/// What to delete. Each step is optional and they apply in this order.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Only caches whose key starts with one of these.
    pub key_prefixes: Vec<String>,
    /// Delete caches of gone refs and closed pull requests.
    pub closed_prs: bool,
    /// Keep only the newest N per ref and key prefix.
    pub keep_per_ref: Option<usize>,
    /// Delete caches last accessed longer ago than this.
    pub older_than: Option<Duration>,
    /// Then delete the least recently accessed until the selected caches total at most this.
    pub max_total: Option<u64>,
}

/// A cache chosen for deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub cache: Cache,
    /// In words, for the report.
    pub reason: String,
}

/// The plan: what goes (in order) and what stays among the selected caches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub deletions: Vec<Deletion>,
    pub kept: Vec<Cache>,
    /// Selected (by prefix) bytes before and after the plan.
    pub selected_bytes: u64,
    pub kept_bytes: u64,
}

/// The prefix of `key` among `prefixes` (the longest), if any.
fn prefix_of<'a>(key: &str, prefixes: &'a [String]) -> Option<&'a str> {
    prefixes
        .iter()
        .filter(|p| key.starts_with(p.as_str()))
        .max_by_key(|p| p.len())
        .map(String::as_str)
}

/// Newest first: last access, then creation, then id.
fn newest_first(a: &Cache, b: &Cache) -> std::cmp::Ordering {
    b.last_accessed_at
        .cmp(&a.last_accessed_at)
        .then(b.created_at.cmp(&a.created_at))
        .then(b.id.cmp(&a.id))
}

/// The bytes of `caches`, as the server states them: a sum that saturates rather than
/// overflows.
pub fn total_bytes(caches: &[Cache]) -> u64 {
    caches
        .iter()
        .fold(0u64, |sum, c| sum.saturating_add(c.size_in_bytes))
}

/// Plans the deletions. `refs` says what is known of each ref (absent: live).
pub fn plan(
    caches: &[Cache],
    refs: &BTreeMap<String, RefState>,
    policy: &Policy,
    now: SystemTime,
) -> Plan {
    let mut remaining: Vec<Cache> = caches
        .iter()
        .filter(|c| prefix_of(&c.key, &policy.key_prefixes).is_some())
        .cloned()
        .collect();
    remaining.sort_by(newest_first);
    let selected_bytes = total_bytes(&remaining);
    let mut deletions = Vec::new();
    if policy.closed_prs {
        take(&mut remaining, &mut deletions, |c| closed_ref(c, refs));
    }
    if let Some(n) = policy.keep_per_ref {
        take_beyond_newest_per_ref(&mut remaining, &mut deletions, n, &policy.key_prefixes);
    }
    if let Some(age) = policy.older_than {
        take_older_than(&mut remaining, &mut deletions, age, now);
    }
    if let Some(max) = policy.max_total {
        take_beyond_max_total(&mut remaining, &mut deletions, max);
    }
    let kept_bytes = total_bytes(&remaining);
    Plan {
        deletions,
        kept: remaining,
        selected_bytes,
        kept_bytes,
    }
}

/// Moves each of `remaining` that `pick` gives a reason for to `deletions`, in order.
fn take(
    remaining: &mut Vec<Cache>,
    deletions: &mut Vec<Deletion>,
    mut pick: impl FnMut(&Cache) -> Option<String>,
) {
    let mut kept = Vec::with_capacity(remaining.len());
    for c in remaining.drain(..) {
        match pick(&c) {
            Some(reason) => deletions.push(Deletion { cache: c, reason }),
            None => kept.push(c),
        }
    }
    *remaining = kept;
}

/// Why `c` goes with `--closed-prs`: its ref is gone, or its pull request is closed.
fn closed_ref(c: &Cache, refs: &BTreeMap<String, RefState>) -> Option<String> {
    match refs.get(&c.git_ref) {
        Some(RefState::Gone) => Some(format!("its ref {} no longer exists", c.git_ref)),
        Some(RefState::ClosedPullRequest) => Some(format!(
            "its pull request{} is closed",
            pull_number(&c.git_ref).map_or(String::new(), |n| format!(" #{n}"))
        )),
        _ => None,
    }
}

/// Takes all but the newest `n` of each (ref, prefix).
fn take_beyond_newest_per_ref(
    remaining: &mut Vec<Cache>,
    deletions: &mut Vec<Deletion>,
    n: usize,
    prefixes: &[String],
) {
    // `remaining` is newest first: the first N of each (ref, prefix) stay.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let ranks: Vec<usize> = remaining
        .iter()
        .map(|c| {
            let group = (
                c.git_ref.clone(),
                prefix_of(&c.key, prefixes).unwrap_or("").to_string(),
            );
            let rank = seen.entry(group).or_insert(0);
            *rank += 1;
            *rank
        })
        .collect();
    let mut i = 0;
    take(remaining, deletions, |c| {
        let rank = ranks[i];
        i += 1;
        (rank > n).then(|| {
            format!(
                "not among the newest {n} for {} with prefix {}",
                c.git_ref,
                prefix_of(&c.key, prefixes).unwrap_or("")
            )
        })
    });
}

/// Takes the caches last accessed longer than `age` before `now`.
fn take_older_than(
    remaining: &mut Vec<Cache>,
    deletions: &mut Vec<Deletion>,
    age: Duration,
    now: SystemTime,
) {
    let cutoff = now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
    take(remaining, deletions, |c| {
        let last = c.last_accessed_at?;
        (last < cutoff).then(|| {
            format!(
                "last accessed {} ago, longer than --older-than {}",
                crate::units::format_duration(round(now, last)),
                crate::units::format_duration(age)
            )
        })
    });
}

/// Takes the least recently accessed caches until the rest are at most `max` bytes; they are
/// added to `deletions` least recently accessed last, as `remaining` (newest first) has them.
fn take_beyond_max_total(remaining: &mut Vec<Cache>, deletions: &mut Vec<Deletion>, max: u64) {
    // Summed exactly: a saturated sum would stop the deletions early.
    let mut total: u128 = remaining.iter().map(|c| u128::from(c.size_in_bytes)).sum();
    if total <= u128::from(max) {
        return;
    }
    // Least recently accessed first: the end of the newest-first list.
    let mut order: Vec<usize> = (0..remaining.len()).collect();
    order.reverse();
    let mut doomed = vec![false; remaining.len()];
    for i in order {
        if total <= u128::from(max) {
            break;
        }
        total = total.saturating_sub(u128::from(remaining[i].size_in_bytes));
        doomed[i] = true;
    }
    let mut drop_order: Vec<Deletion> = Vec::new();
    let mut kept = Vec::new();
    for (c, d) in remaining.drain(..).zip(doomed) {
        if d {
            drop_order.push(Deletion {
                reason: format!(
                    "least recently accessed while the selected caches exceeded \
                     --max-total {}",
                    crate::units::format_bytes(max)
                ),
                cache: c,
            });
        } else {
            kept.push(c);
        }
    }
    drop_order.reverse();
    deletions.extend(drop_order);
    *remaining = kept;
}

/// `now - then`, to the second.
fn round(now: SystemTime, then: SystemTime) -> Duration {
    Duration::from_secs(now.duration_since(then).unwrap_or_default().as_secs())
}

/// The pull request number of `refs/pull/N/merge` or `refs/pull/N/head`.
pub fn pull_number(git_ref: &str) -> Option<u64> {
    git_ref
        .strip_prefix("refs/pull/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn cache(id: u64, git_ref: &str, key: &str, size: u64, days_ago: u64) -> Cache {
        Cache {
            id,
            git_ref: git_ref.into(),
            key: key.into(),
            size_in_bytes: size,
            last_accessed_at: Some(now() - DAY * days_ago as u32),
            created_at: Some(now() - DAY * (days_ago as u32 + 1)),
        }
    }

    fn ids(plan: &Plan) -> Vec<u64> {
        plan.deletions.iter().map(|d| d.cache.id).collect()
    }

    fn fixture() -> Vec<Cache> {
        vec![
            cache(1, "refs/heads/main", "setup-go-Linux-go-1.27-aaa", 100, 1),
            cache(2, "refs/heads/main", "setup-go-Linux-go-1.27-bbb", 100, 3),
            cache(3, "refs/heads/main", "setup-go-Linux-go-1.27-ccc", 100, 9),
            cache(4, "refs/pull/7/merge", "setup-go-Linux-go-1.27-ddd", 50, 2),
            cache(5, "refs/heads/gone", "setup-go-Linux-go-1.27-eee", 70, 4),
            cache(6, "refs/heads/main", "node-cache-Linux-fff", 999, 30),
            cache(7, "refs/heads/main", "go-build-Linux-ggg", 10, 20),
        ]
    }

    fn refs() -> BTreeMap<String, RefState> {
        BTreeMap::from([
            ("refs/pull/7/merge".to_string(), RefState::ClosedPullRequest),
            ("refs/heads/gone".to_string(), RefState::Gone),
            ("refs/heads/main".to_string(), RefState::Live),
        ])
    }

    fn policy() -> Policy {
        Policy {
            key_prefixes: vec!["setup-go-".into(), "go-build-".into()],
            ..Policy::default()
        }
    }

    #[test]
    fn nothing_is_planned_without_a_step_and_other_prefixes_are_never_touched() {
        let p = plan(&fixture(), &refs(), &policy(), now());
        assert!(p.deletions.is_empty());
        assert_eq!(p.kept.len(), 6);
        assert_eq!(p.selected_bytes, 430);
        let all = Policy {
            closed_prs: true,
            keep_per_ref: Some(0),
            older_than: Some(Duration::ZERO),
            max_total: Some(0),
            ..policy()
        };
        let p = plan(&fixture(), &refs(), &all, now());
        assert!(!ids(&p).contains(&6), "another prefix was selected");
        assert_eq!(p.kept_bytes, 0);
    }

    #[test]
    fn closed_pull_requests_and_gone_refs() {
        let p = plan(
            &fixture(),
            &refs(),
            &Policy {
                closed_prs: true,
                ..policy()
            },
            now(),
        );
        assert_eq!(ids(&p), [4, 5]);
        assert_eq!(p.deletions[0].reason, "its pull request #7 is closed");
        assert_eq!(
            p.deletions[1].reason,
            "its ref refs/heads/gone no longer exists"
        );
    }

    #[test]
    fn keep_per_ref_keeps_the_newest_per_ref_and_prefix() {
        let p = plan(
            &fixture(),
            &refs(),
            &Policy {
                keep_per_ref: Some(1),
                ..policy()
            },
            now(),
        );
        // main/setup-go- has 1, 2, 3: 1 stays. main/go-build- has only 7.
        assert_eq!(ids(&p), [2, 3]);
        assert!(
            p.deletions[0]
                .reason
                .contains("newest 1 for refs/heads/main with prefix setup-go-")
        );
    }

    #[test]
    fn older_than_and_max_total_take_the_least_recently_accessed() {
        let p = plan(
            &fixture(),
            &refs(),
            &Policy {
                older_than: Some(8 * DAY),
                ..policy()
            },
            now(),
        );
        assert_eq!(ids(&p), [3, 7]);
        assert!(p.deletions[0].reason.starts_with("last accessed 9d ago"));
        let p = plan(
            &fixture(),
            &refs(),
            &Policy {
                max_total: Some(200),
                ..policy()
            },
            now(),
        );
        // 430 selected: drop 7 (20d), 3 (9d), 5 (4d) -> 250, then 2 (3d) -> 150.
        assert_eq!(ids(&p), [7, 3, 5, 2]);
        assert_eq!(p.kept_bytes, 150);
    }

    #[test]
    fn steps_apply_in_order_and_never_twice() {
        let p = plan(
            &fixture(),
            &refs(),
            &Policy {
                closed_prs: true,
                keep_per_ref: Some(1),
                older_than: Some(8 * DAY),
                max_total: Some(100),
                ..policy()
            },
            now(),
        );
        assert_eq!(ids(&p), [4, 5, 2, 3, 7]);
        assert_eq!(p.kept.iter().map(|c| c.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn pull_numbers() {
        assert_eq!(pull_number("refs/pull/12/merge"), Some(12));
        assert_eq!(pull_number("refs/pull/12/head"), Some(12));
        assert_eq!(pull_number("refs/heads/main"), None);
    }
}
