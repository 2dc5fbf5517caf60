//! The cache program's shared bookkeeping in `cacheprog/`: the running size of the cache,
//! its budget, and what the programs did.
//!
//! `size` holds `<bytes> <walked at, Unix seconds>`: the entries' bytes on disk, kept by every
//! put under a file lock, so that no put has to walk the cache. Other writers (a plain go
//! command, `go-disk-guard prune`) do not keep it, so it is re-derived by a walk when it is
//! missing, unreadable or older than [`LEDGER_MAX_AGE`], and by every eviction, which walks
//! anyway. `state.json` holds the budget the last program started with and counters since the
//! last `status` report.
//!
//! Each file is guarded by a lock on a sidecar (`size.lock`, `state.lock`) that holds no data:
//! Windows' locks are mandatory, so a lock on the data file itself would stop readers that do
//! not take it (`status`), and Wine refuses even the holder's own reads.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::store::open_state_file;

/// A size kept longer than this without a walk is not trusted.
pub const LEDGER_MAX_AGE: Duration = Duration::from_secs(3600);

/// The cache program's own directory in the cache root.
pub fn state_dir(root: &Path) -> PathBuf {
    root.join("cacheprog")
}

/// The running size of the cache, shared by every cache program on it.
#[derive(Debug)]
pub struct Ledger {
    file: Mutex<File>,
    lock_path: PathBuf,
}

/// What the ledger holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub bytes: u64,
    /// When a walk last established `bytes`.
    pub walked_at: SystemTime,
}

impl Tally {
    /// Whether a walk is due.
    pub fn is_stale(&self, now: SystemTime) -> bool {
        now.duration_since(self.walked_at)
            .is_ok_and(|age| age > LEDGER_MAX_AGE)
    }
}

impl Ledger {
    /// Opens (creating) the ledger of the cache at `root`.
    pub fn open(root: &Path) -> io::Result<Ledger> {
        let dir = state_dir(root);
        Ok(Ledger {
            file: Mutex::new(open_state_file(&dir.join("size"))?),
            lock_path: dir.join("size.lock"),
        })
    }

    /// Runs `f` on the current tally (`None`: missing or unreadable) under the file lock and
    /// writes back what it returns.
    fn update(&self, f: impl FnOnce(Option<Tally>) -> Option<Tally>) -> io::Result<Option<Tally>> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // A fresh handle per update: closing it releases the lock whatever happens, and Wine
        // does not let one handle be locked again from another thread.
        let lock = open_state_file(&self.lock_path)?;
        lock.lock()?;
        let result = (|| {
            let current = read_tally(&mut file)?;
            let next = f(current);
            if let Some(t) = next
                && Some(t) != current
            {
                write_tally(&mut file, t)?;
            }
            Ok(next)
        })();
        drop(lock);
        result
    }

    /// The current tally.
    pub fn read(&self) -> io::Result<Option<Tally>> {
        self.update(|t| t)
    }

    /// Adds `delta` bytes; returns the new total (`None` when the ledger needs a walk first).
    pub fn add(&self, delta: i64) -> io::Result<Option<u64>> {
        let t = self.update(|t| {
            t.map(|t| Tally {
                bytes: t.bytes.saturating_add_signed(delta),
                ..t
            })
        })?;
        Ok(t.map(|t| t.bytes))
    }

    /// Records a walk's result. `seen_at_walk` is what the ledger said when the walk began:
    /// puts counted since then are kept on top of the walked figure.
    pub fn walked(
        &self,
        walked: u64,
        seen_at_walk: Option<u64>,
        at: SystemTime,
    ) -> io::Result<u64> {
        let t = self.update(|now| {
            let since = match (now, seen_at_walk) {
                (Some(now), Some(then)) => now.bytes.saturating_sub(then),
                _ => 0,
            };
            Some(Tally {
                bytes: walked + since,
                walked_at: at,
            })
        })?;
        Ok(t.map_or(walked, |t| t.bytes))
    }
}

fn read_tally(file: &mut File) -> io::Result<Option<Tally>> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    Ok(parse_tally(&text))
}

fn parse_tally(text: &str) -> Option<Tally> {
    let mut words = text.split_ascii_whitespace();
    let bytes = words.next()?.parse().ok()?;
    let secs: u64 = words.next()?.parse().ok()?;
    if words.next().is_some() {
        return None;
    }
    Some(Tally {
        bytes,
        walked_at: UNIX_EPOCH + Duration::from_secs(secs),
    })
}

fn write_tally(file: &mut File, t: Tally) -> io::Result<()> {
    let secs = t
        .walked_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let text = format!("{} {secs}\n", t.bytes);
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.set_len(text.len() as u64)
}

/// The budget a cache program runs with, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Evict when the entries take more than this.
    pub max_size: Option<u64>,
    /// Evict when the volume has less than this available.
    pub min_free: Option<u64>,
}

/// What the cache programs did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
    pub puts: u64,
    pub put_bytes: u64,
    pub evicted_entries: u64,
    pub evicted_bytes: u64,
    /// Requests answered with an error.
    pub errors: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.puts += other.puts;
        self.put_bytes += other.put_bytes;
        self.evicted_entries += other.evicted_entries;
        self.evicted_bytes += other.evicted_bytes;
        self.errors += other.errors;
    }
}

/// `state.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub budget: Budget,
    /// Counters since `since` (the last `status` report, or the first program).
    pub counts: Counts,
    /// Unix seconds.
    pub since: u64,
}

/// Reads and rewrites `state.json` under its lock. An unreadable file starts afresh. The new
/// state replaces the old by a rename, so a reader never sees half of it.
pub fn update_state(root: &Path, f: impl FnOnce(&mut State)) -> io::Result<State> {
    let dir = state_dir(root);
    let lock = open_state_file(&dir.join("state.lock"))?;
    lock.lock()?;
    let path = dir.join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        other => other?,
    };
    let mut state: State = serde_json::from_str(&text).unwrap_or_else(|_| State {
        since: now_secs(),
        ..State::default()
    });
    let before = state.clone();
    f(&mut state);
    if state != before || text.is_empty() {
        let json = serde_json::to_string_pretty(&state).map_err(io::Error::other)? + "\n";
        let temp = dir.join(format!("state.json.{}.tmp", std::process::id()));
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, &path)?;
    }
    Ok(state)
}

/// The state, if the directory is managed by a cache program; reads only.
pub fn read_state(root: &Path) -> Option<State> {
    let text = std::fs::read_to_string(state_dir(root).join("state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The ledger's tally, if there is one; reads only.
pub fn read_tally_at(root: &Path) -> Option<Tally> {
    parse_tally(&std::fs::read_to_string(state_dir(root).join("size")).ok()?)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_adds_under_its_lock_and_needs_a_walk_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(state_dir(dir.path())).unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.add(100).unwrap(), None, "no walk yet");
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(ledger.walked(5000, None, at).unwrap(), 5000);
        assert_eq!(ledger.add(300).unwrap(), Some(5300));
        assert_eq!(ledger.add(-6000).unwrap(), Some(0), "never below zero");
        ledger.add(700).unwrap();
        // A walk that began at 0 and found 400: the 700 put since are kept on top.
        assert_eq!(ledger.walked(400, Some(0), at).unwrap(), 1100);
        assert_eq!(
            read_tally_at(dir.path()),
            Some(Tally {
                bytes: 1100,
                walked_at: at
            })
        );
        // Threads share one ledger.
        let ledger = std::sync::Arc::new(ledger);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        l.add(1).unwrap();
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(ledger.read().unwrap().unwrap().bytes, 1500);
    }

    #[test]
    fn staleness_and_garbage() {
        let now = SystemTime::now();
        let fresh = Tally {
            bytes: 1,
            walked_at: now - Duration::from_secs(60),
        };
        assert!(!fresh.is_stale(now));
        let old = Tally {
            walked_at: now - LEDGER_MAX_AGE - Duration::from_secs(1),
            ..fresh
        };
        assert!(old.is_stale(now));
        assert_eq!(parse_tally(""), None);
        assert_eq!(parse_tally("12"), None);
        assert_eq!(parse_tally("12 x"), None);
        assert_eq!(parse_tally("12 3 4"), None);
        assert_eq!(parse_tally("-5 3"), None);
    }

    #[test]
    fn state_counts_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(state_dir(dir.path())).unwrap();
        let c = Counts {
            hits: 2,
            misses: 1,
            ..Counts::default()
        };
        update_state(dir.path(), |s| s.counts.add(&c)).unwrap();
        let s = update_state(dir.path(), |s| s.counts.add(&c)).unwrap();
        assert_eq!((s.counts.hits, s.counts.misses), (4, 2));
        assert_eq!(read_state(dir.path()), Some(s));
        std::fs::write(state_dir(dir.path()).join("state.json"), "{not json").unwrap();
        let s = update_state(dir.path(), |_| {}).unwrap();
        assert_eq!(s.counts, Counts::default());
    }
}
