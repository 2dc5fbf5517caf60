//! Pruning a Go build cache, least recently used first.
//!
//! Go refreshes an entry's mtime when it uses it, but only when the mtime is more than an hour
//! old, so mtime order is last-use order to within an hour. The pruner:
//!
//! * works only on a [`BuildCache`], which has been verified to carry Go's README marker;
//! * removes whole entries (`…-a`/`…-d` files, or a `…-d` directory holding an executable) in
//!   the 256 shard directories, and nothing else (README, `trim.txt`, `fuzz/` stay);
//! * never follows a link and never crosses a mount point (bind mounts of the same filesystem
//!   included): everything goes through [`crate::safefs`], shards are opened with
//!   `O_NOFOLLOW` and checked for their mount, and entries are removed relative to the
//!   shard's handle, so a shard swapped for a link mid-run cannot redirect a deletion;
//! * spares every entry whose mtime falls within `keep_recent`, and re-reads each entry's
//!   mtime immediately before removing it, skipping it if a build has used it since the scan;
//! * takes an advisory lock per cache, so two pruners never run on one cache.

mod lock;
pub mod work;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;
use serde::Serialize;

pub use lock::LOCK_FILE_NAME;

use crate::buildcache::{BuildCache, CacheStats, Entry};
use crate::disk;
use crate::policy::PruneTally;
use crate::progress::Progress;
use crate::safefs::{self, Dir, Kind};

/// How many times a free-space goal re-measures and prunes further when the first round fell
/// short (other writers, block rounding).
const MAX_FREE_ROUNDS: usize = 4;

/// At most this many error messages are kept for the report.
const MAX_ERRORS_KEPT: usize = 10;

/// What to prune. The goals combine: an entry goes when any goal asks for it.
#[derive(Clone, Debug, Default)]
pub struct PruneRequest {
    /// Entries used (by mtime) within this window are never removed.
    pub keep_recent: Duration,
    /// Remove every entry last used longer ago than this (Go's own trim, on demand).
    pub older_than: Option<Duration>,
    /// Remove the least recently used entries until the cache holds at most this many bytes.
    pub max_size: Option<u64>,
    /// Remove the least recently used entries until the cache's volume has this many bytes
    /// available.
    pub free_at_least: Option<u64>,
    /// Say what would be removed, and remove nothing.
    pub dry_run: bool,
    /// How long to wait for another go-disk-guard pruning the same cache.
    pub lock_timeout: Duration,
    /// Show progress on stderr.
    pub progress: bool,
}

/// What a prune did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneOutcome {
    pub cache: PathBuf,
    pub dry_run: bool,
    /// Whether the lock was had; when false nothing was pruned.
    pub locked: bool,
    pub before: CacheStats,
    pub after: CacheStats,
    /// Entries, files and bytes removed (or that would be).
    pub removed_entries: u64,
    pub removed_files: u64,
    pub removed_bytes: u64,
    /// The most recent last-use among the removed entries.
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub newest_removed: Option<SystemTime>,
    /// Entries chosen but kept because a build used them after the scan.
    pub spared_in_use: u64,
    /// Entries chosen but already gone (another go command or pruner removed them).
    pub vanished: u64,
    /// Entries chosen but skipped because another process held a file of theirs open without
    /// sharing deletion (Windows): they stay, and the rest is pruned.
    pub held_open: u64,
    /// Whether every goal of the request was reached.
    pub goal_met: bool,
    /// Entries within keep-recent that no goal could touch.
    pub kept_recent_entries: u64,
    pub kept_recent_bytes: u64,
    /// Shards or entries left alone and failures, in words (the first few).
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
}

impl PruneOutcome {
    /// What the verdict weighs of this prune.
    pub fn tally(&self) -> PruneTally {
        PruneTally {
            cache: self.cache.clone(),
            locked: self.locked,
            removed_entries: self.removed_entries,
            removed_files: self.removed_files,
            removed_bytes: self.removed_bytes,
            kept_recent_entries: self.kept_recent_entries,
        }
    }
}

/// Prunes `cache` as `request` asks.
pub fn prune(cache: &BuildCache, request: &PruneRequest) -> io::Result<PruneOutcome> {
    let started = Instant::now();
    let mut outcome = PruneOutcome {
        cache: cache.root().to_path_buf(),
        dry_run: request.dry_run,
        ..PruneOutcome::default()
    };
    // A dry run writes nothing, not even the lock file.
    let _lock = if request.dry_run {
        None
    } else {
        let Some(lock) = lock::acquire(cache.handle(), request.lock_timeout)? else {
            return Ok(not_locked(outcome, request.lock_timeout, started));
        };
        Some(lock)
    };
    outcome.locked = true;

    let now = SystemTime::now();
    let recent_cutoff = now
        .checked_sub(request.keep_recent)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut scan = cache.scan();
    outcome.notes.append(&mut scan.skipped);
    outcome.before = CacheStats {
        last_go_trim: cache.last_go_trim(),
        ..scan.stats()
    };

    let entries = std::mem::take(&mut scan.entries);
    // The exact total: sizes are the filesystem's claims (a sparse file claims up to
    // 2^63 − 1 bytes), so a saturated sum would call a goal met with entries still to go.
    let total_bytes: u128 = entries.iter().map(|e| u128::from(e.disk_bytes)).sum();
    let (candidates, oldest_recent) = candidates_oldest_first(entries, recent_cutoff, &mut outcome);
    let wanted = wanted(cache, request, &candidates, now, total_bytes)?;

    let progress = request.progress.then(|| {
        Progress::new(
            format!("pruning {}", cache.root().display()),
            wanted.count as u64,
        )
    });
    let removal = if request.dry_run {
        count_wanted(&candidates, &wanted)
    } else {
        remove_wanted(
            cache,
            &scan,
            &candidates,
            wanted.count,
            recent_cutoff,
            request.free_at_least,
            progress.as_ref(),
        )?
    };
    if let Some(p) = &progress {
        p.finish();
    }

    let oldest_left = candidates
        .get(removal.done)
        .map(Entry::modified)
        .or(oldest_recent);
    record_removal(
        &mut outcome,
        removal.tally,
        wanted.goal_met && removal.free_goal_met,
        oldest_left,
    );
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(outcome)
}

/// `outcome` of a prune that did not get the lock within `timeout`, having started at `started`.
fn not_locked(mut outcome: PruneOutcome, timeout: Duration, started: Instant) -> PruneOutcome {
    outcome.notes.push(format!(
        "another go-disk-guard held the lock on this cache for {}s; not pruning",
        timeout.as_secs()
    ));
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    outcome
}

/// The entries older than `recent_cutoff`, oldest first, and the oldest last-use among the
/// others, which are counted in `outcome` as kept for being recent. Sorted in place: a large
/// cache's list is never held twice.
fn candidates_oldest_first(
    mut entries: Vec<Entry>,
    recent_cutoff: SystemTime,
    outcome: &mut PruneOutcome,
) -> (Vec<Entry>, Option<SystemTime>) {
    let mut oldest_recent: Option<SystemTime> = None;
    entries.retain(|e| {
        let modified = e.modified();
        if modified < recent_cutoff {
            return true;
        }
        outcome.kept_recent_entries += 1;
        outcome.kept_recent_bytes = outcome.kept_recent_bytes.saturating_add(e.disk_bytes);
        oldest_recent = Some(oldest_recent.map_or(modified, |t| t.min(modified)));
        false
    });
    entries.sort_unstable_by_key(Entry::lru_key);
    (entries, oldest_recent)
}

/// How many of the oldest candidates the goals of a request ask for.
struct Wanted {
    /// The length of the prefix: each goal asks for one, and the longest serves them all.
    count: usize,
    /// Whether the age and size goals are met by removing them.
    goal_met: bool,
    /// Whether the free-space goal would be met by removing them, as far as a dry run can tell.
    free_goal_estimate: bool,
}

/// The prefix of `candidates` (oldest first, `total_bytes` in the cache) that `request`'s
/// goals ask for at `now`.
fn wanted(
    cache: &BuildCache,
    request: &PruneRequest,
    candidates: &[Entry],
    now: SystemTime,
    total_bytes: u128,
) -> io::Result<Wanted> {
    let mut wanted = Wanted {
        count: 0,
        goal_met: true,
        free_goal_estimate: true,
    };
    if let Some(age) = request.older_than {
        let cutoff = now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        let n = candidates.partition_point(|e| e.modified() < cutoff);
        wanted.count = wanted.count.max(n);
    }
    if let Some(max) = request.max_size {
        let excess = total_bytes.saturating_sub(u128::from(max));
        let (n, met) = prefix_freeing(candidates, 0, excess);
        wanted.count = wanted.count.max(n);
        wanted.goal_met &= met;
    }
    if let Some(target) = request.free_at_least {
        let (n, met) = prefix_freeing(candidates, 0, shortfall(cache, target)?);
        wanted.count = wanted.count.max(n);
        wanted.free_goal_estimate = met;
    }
    Ok(wanted)
}

/// How far the cache's volume is from having `target` bytes available.
fn shortfall(cache: &BuildCache, target: u64) -> io::Result<u128> {
    Ok(u128::from(
        target.saturating_sub(disk::space(cache.root())?.available),
    ))
}

/// What removing (or, in a dry run, counting) the wanted entries came to.
struct Pass {
    tally: Tally,
    /// How many of the candidates, oldest first, were gone through.
    done: usize,
    /// Whether the free-space goal, if any, is met (in a dry run: would be).
    free_goal_met: bool,
}

/// What removing the wanted candidates would come to, for a dry run.
fn count_wanted(candidates: &[Entry], wanted: &Wanted) -> Pass {
    let mut tally = Tally::default();
    for e in candidates.get(..wanted.count).unwrap_or_default() {
        tally.removed(e);
    }
    Pass {
        tally,
        done: wanted.count,
        free_goal_met: wanted.free_goal_estimate,
    }
}

/// Removes the first `want` of `candidates`, then, while the volume has less than
/// `free_at_least` available, measures again and removes further.
fn remove_wanted(
    cache: &BuildCache,
    scan: &crate::buildcache::Scan,
    candidates: &[Entry],
    want: usize,
    recent_cutoff: SystemTime,
    free_at_least: Option<u64>,
    progress: Option<&Progress>,
) -> io::Result<Pass> {
    let mut tally = remove_entries(
        cache,
        scan,
        candidates.get(..want).unwrap_or_default(),
        recent_cutoff,
        progress,
    );
    let mut done = want;
    let Some(target) = free_at_least else {
        return Ok(Pass {
            tally,
            done,
            free_goal_met: true,
        });
    };
    // Space freed is not exactly the bytes removed (other writers, block rounding,
    // entries spared or vanished): measure again and go on while the goal is missed.
    for _ in 0..MAX_FREE_ROUNDS {
        let short = shortfall(cache, target)?;
        if short == 0 || done >= candidates.len() {
            break;
        }
        let (end, _) = prefix_freeing(candidates, done, short);
        let more = remove_entries(
            cache,
            scan,
            candidates.get(done..end).unwrap_or_default(),
            recent_cutoff,
            progress,
        );
        tally.add(more);
        done = end;
    }
    Ok(Pass {
        tally,
        done,
        free_goal_met: shortfall(cache, target)? == 0,
    })
}

/// Puts what a removal came to into `outcome`, whose remaining stats start from its oldest
/// entry left, `oldest_left`.
fn record_removal(
    outcome: &mut PruneOutcome,
    tally: Tally,
    goal_met: bool,
    oldest_left: Option<SystemTime>,
) {
    outcome.removed_entries = tally.entries;
    outcome.removed_files = tally.files;
    outcome.removed_bytes = tally.bytes;
    outcome.newest_removed = tally.newest;
    outcome.spared_in_use = tally.spared;
    outcome.vanished = tally.vanished;
    outcome.held_open = tally.held_open;
    outcome.goal_met = goal_met;
    outcome.after = remaining_stats(&outcome.before, oldest_left, &tally);
    outcome.notes.extend(tally.errors);
}

/// The end of the shortest run of candidates from `start` whose bytes reach `bytes`, and
/// whether they do. Summed exactly (no count of entries of at most 2^64 − 1 bytes each can
/// reach `u128::MAX`), so that sizes a sparse file claims cannot make it stop early.
fn prefix_freeing(candidates: &[Entry], start: usize, bytes: u128) -> (usize, bool) {
    let mut sum = 0u128;
    let mut end = start;
    while sum < bytes
        && let Some(e) = candidates.get(end)
    {
        sum = sum.saturating_add(u128::from(e.disk_bytes));
        end += 1;
    }
    (end, sum >= bytes)
}

/// The cache's statistics after removing what the tally says, without another scan.
/// `oldest_left` is the oldest entry not chosen for removal.
fn remaining_stats(
    before: &CacheStats,
    oldest_left: Option<SystemTime>,
    tally: &Tally,
) -> CacheStats {
    let mut after = before.clone();
    after.entries -= tally.entries.min(after.entries);
    after.files -= tally.files.min(after.files);
    after.bytes -= tally.bytes.min(after.bytes);
    if tally.entries > 0 {
        after.oldest = oldest_left;
    }
    if after.entries == 0 {
        after.oldest = None;
        after.newest = None;
    }
    after
}

/// Counts of one removal pass.
#[derive(Debug, Default)]
struct Tally {
    entries: u64,
    files: u64,
    bytes: u64,
    newest: Option<SystemTime>,
    spared: u64,
    vanished: u64,
    held_open: u64,
    errors: Vec<String>,
}

impl Tally {
    fn removed(&mut self, e: &Entry) {
        self.entries += 1;
        self.files = self.files.saturating_add(e.files());
        self.bytes = self.bytes.saturating_add(e.disk_bytes);
        let modified = e.modified();
        self.newest = Some(self.newest.map_or(modified, |t| t.max(modified)));
    }

    fn note(&mut self, note: String) {
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(note);
        }
    }

    fn add(&mut self, other: Tally) {
        // Sizes are the filesystem's claims (a sparse file claims up to 2^63 − 1 bytes): the
        // sums saturate.
        self.entries = self.entries.saturating_add(other.entries);
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.newest = match (self.newest, other.newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.spared += other.spared;
        self.vanished += other.vanished;
        self.held_open += other.held_open;
        for e in other.errors {
            if self.errors.len() < MAX_ERRORS_KEPT {
                self.errors.push(e);
            }
        }
    }
}

/// Removes `chosen` entries (of `scan`), shards in parallel, each relative to its shard's
/// handle.
fn remove_entries(
    cache: &BuildCache,
    scan: &crate::buildcache::Scan,
    chosen: &[Entry],
    recent_cutoff: SystemTime,
    progress: Option<&Progress>,
) -> Tally {
    let mut by_shard: Vec<Vec<&Entry>> = vec![Vec::new(); 256];
    for e in chosen {
        if let Some(list) = by_shard.get_mut(usize::from(e.shard)) {
            list.push(e);
        }
    }
    let tallies: Vec<Tally> = crate::buildcache::io_pool().install(|| {
        by_shard
            .par_iter()
            .enumerate()
            .filter(|(_, entries)| !entries.is_empty())
            .map(|(shard, entries)| {
                let mut tally = Tally::default();
                let dir = match u8::try_from(shard).map(|n| cache.open_shard(n)) {
                    Ok(Ok(Some(dir))) => dir,
                    Ok(Ok(None)) => {
                        tally.vanished += entries.len() as u64;
                        return tally;
                    }
                    Ok(Err(e)) => {
                        let why =
                            safefs::refusal(&e).map_or_else(|| e.to_string(), |r| r.to_string());
                        tally.note(format!("shard {shard:02x}: {why}; left alone"));
                        return tally;
                    }
                    Err(_) => return tally,
                };
                let mut buf = [0u8; 66];
                for entry in entries {
                    let name = scan.name_of(entry, &mut buf);
                    let shown = format!("{shard:02x}/{}", crate::escape::os(name));
                    match remove_entry(&dir, name, entry, recent_cutoff) {
                        Ok(Removal::Removed) => tally.removed(entry),
                        Ok(Removal::InUse) => tally.spared += 1,
                        Ok(Removal::Vanished) => tally.vanished += 1,
                        Ok(Removal::LeftAlone(why)) => {
                            tally.note(format!("{shown}: {why}; left alone"))
                        }
                        Err(e) if safefs::is_held_open(&e) => {
                            tally.held_open += 1;
                            tally
                                .note(format!("{shown}: held open by another process; left alone"));
                        }
                        Err(e) => tally.note(format!("{shown}: {e}")),
                    }
                    if let Some(p) = progress {
                        p.inc(entry.disk_bytes);
                    }
                }
                tally
            })
            .collect()
    });
    let mut total = Tally::default();
    for t in tallies {
        total.add(t);
    }
    total
}

enum Removal {
    Removed,
    /// A build used it after the scan: its mtime is now recent.
    InUse,
    /// Already gone, or changed into something else since the scan (not ours to judge).
    Vanished,
    /// It is, or holds, something that is never removed (a mount point, a link to a
    /// directory); why, in words.
    LeftAlone(String),
}

/// Removes one entry after re-reading its metadata: it must still be the same kind of thing,
/// on the shard's mount, and not used since the scan.
fn remove_entry(
    dir: &Dir,
    name: &std::ffi::OsStr,
    entry: &Entry,
    recent_cutoff: SystemTime,
) -> io::Result<Removal> {
    let meta = match dir.meta(name) {
        Ok(meta) => meta,
        Err(e) if safefs::is_gone(&e) => return Ok(Removal::Vanished),
        Err(e) => return Err(e),
    };
    if meta.modified >= recent_cutoff {
        return Ok(Removal::InUse);
    }
    if !meta.same_mount {
        return Ok(Removal::LeftAlone(safefs::Refusal::MountPoint.to_string()));
    }
    let result = match (meta.kind, entry.is_dir()) {
        (Kind::File, false) => dir.remove_file(name),
        (Kind::Dir, true) => {
            let removed = safefs::remove_tree(dir, name)?;
            if let Some(left) = removed.left.first() {
                return Ok(Removal::LeftAlone(format!(
                    "{} {} inside",
                    crate::escape::path(&left.path),
                    left.why
                )));
            }
            Ok(())
        }
        _ => return Ok(Removal::Vanished),
    };
    match result {
        Ok(()) => Ok(Removal::Removed),
        Err(e) if safefs::is_gone(&e) => Ok(Removal::Vanished),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildcache::README_MARKER;
    use std::fs;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A cache with `n` one-block entries in shard `00`, entry i last used (10h + i min) ago.
    fn cache(n: usize) -> (tempfile::TempDir, BuildCache) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("README"), format!("{README_MARKER}\n")).unwrap();
        fs::create_dir(dir.path().join("00")).unwrap();
        for i in 0..n {
            let path = dir.path().join(format!("00/{i:064x}-d"));
            fs::write(&path, b"x").unwrap();
            let t = SystemTime::now() - 10 * HOUR - Duration::from_secs(60 * i as u64);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let cache = BuildCache::open(dir.path()).unwrap();
        (dir, cache)
    }

    fn request() -> PruneRequest {
        PruneRequest {
            keep_recent: 2 * HOUR,
            lock_timeout: Duration::from_secs(1),
            ..PruneRequest::default()
        }
    }

    #[test]
    fn an_entry_used_after_the_scan_is_spared() {
        let (dir, cache) = cache(6);
        let scan = cache.scan();
        let mut entries = scan.entries.clone();
        entries.sort_by_key(Entry::lru_key);
        let mut buf = [0u8; 66];
        // A build uses two of the chosen entries after the scan: Go refreshes their mtime.
        for e in &entries[..2] {
            let path = dir.path().join("00").join(scan.name_of(e, &mut buf));
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(SystemTime::now())
                .unwrap();
        }
        let cutoff = SystemTime::now() - 2 * HOUR;
        let tally = remove_entries(&cache, &scan, &entries, cutoff, None);
        assert_eq!(tally.entries, 4);
        assert_eq!(tally.spared, 2);
        for e in &entries[..2] {
            assert!(
                dir.path()
                    .join("00")
                    .join(scan.name_of(e, &mut buf))
                    .exists()
            );
        }
        // Gone already is not an error.
        let again = remove_entries(&cache, &scan, &entries[2..], cutoff, None);
        assert_eq!((again.entries, again.vanished), (0, 4));
        assert!(again.errors.is_empty());
    }

    #[test]
    fn older_than_and_max_size_select_the_oldest() {
        let (_dir, c) = cache(10);
        let before = c.scan().stats();
        let per_entry = before.bytes / 10;
        let out = prune(
            &c,
            &PruneRequest {
                max_size: Some(per_entry * 7),
                ..request()
            },
        )
        .unwrap();
        assert_eq!(out.removed_entries, 3);
        assert!(out.goal_met);
        assert_eq!(out.after.entries, 7);
        let newest_removed = out.newest_removed.unwrap();
        assert!(
            c.scan()
                .entries
                .iter()
                .all(|e| e.modified() > newest_removed)
        );

        // Entries i ≥ 5 were last used more than 10h + 5min ago.
        let out = prune(
            &c,
            &PruneRequest {
                older_than: Some(10 * HOUR + Duration::from_secs(4 * 60 + 30)),
                ..request()
            },
        )
        .unwrap();
        assert_eq!(out.removed_entries, 2);
        assert_eq!(c.scan().entries.len(), 5);
    }

    #[test]
    fn keep_recent_limits_every_goal() {
        let (_dir, c) = cache(4);
        let out = prune(
            &c,
            &PruneRequest {
                max_size: Some(0),
                keep_recent: 24 * HOUR,
                ..request()
            },
        )
        .unwrap();
        assert_eq!(out.removed_entries, 0);
        assert_eq!(out.kept_recent_entries, 4);
        assert!(!out.goal_met);
    }

    #[test]
    fn a_dry_run_removes_nothing_and_takes_no_lock() {
        let (dir, c) = cache(4);
        let out = prune(
            &c,
            &PruneRequest {
                max_size: Some(0),
                dry_run: true,
                ..request()
            },
        )
        .unwrap();
        assert_eq!(out.removed_entries, 4);
        assert_eq!(c.scan().entries.len(), 4);
        assert!(!dir.path().join(LOCK_FILE_NAME).exists());
    }

    #[test]
    fn a_held_lock_means_no_pruning() {
        let (_dir, c) = cache(4);
        let _held = lock::acquire(c.handle(), Duration::ZERO).unwrap().unwrap();
        let out = prune(
            &c,
            &PruneRequest {
                max_size: Some(0),
                lock_timeout: Duration::from_millis(100),
                ..request()
            },
        )
        .unwrap();
        assert!(!out.locked);
        assert_eq!(out.removed_entries, 0);
        assert_eq!(c.scan().entries.len(), 4);
    }
}
