//! The cache program's shared bookkeeping in `cacheprog/`: the running size of the cache,
//! its budget, and what the programs did.
//!
//! `size` holds `<bytes> <walked at, Unix seconds>`: the entries' bytes on disk, kept by every
//! put under a file lock, so that no put has to walk the cache. Other writers (a plain go
//! command, `go-disk-guard prune`) do not keep it, so it is re-derived by a walk when it is
//! missing, unreadable or older than [`LEDGER_MAX_AGE`], and by every eviction, which walks
//! anyway. What it says is evidence, not truth: a figure that does not parse, a walk time in
//! the future or one that overflows, or more bytes than the volume holds, counts as missing
//! ([`Tally::is_plausible`]) and is walked again. `state.json` holds the budget the last program started with and counters since the
//! last `status` report.
//!
//! Each file is guarded by a lock on a sidecar (`size.lock`, `state.lock`) that holds no data:
//! Windows' locks are mandatory, so a lock on the data file itself would stop readers that do
//! not take it (`status`), and Wine refuses even the holder's own reads. Every file is opened
//! through the state directory's handle ([`crate::safefs`]): never through a link, never a
//! file with another name elsewhere.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::safefs::{self, Dir, Open};

/// A size kept longer than this without a walk is not trusted.
pub const LEDGER_MAX_AGE: Duration = Duration::from_secs(3600);

/// A walk time this far ahead of the clock is a clock step, not tampering; further ahead, the
/// figure is not trusted.
const CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// `state.json` is never longer than this; a longer one is not the program's.
const STATE_READ_LIMIT: u64 = 64 * 1024;

/// The running size of the cache, shared by every cache program on it.
#[derive(Debug)]
pub struct Ledger {
    file: Mutex<File>,
    state: Dir,
}

/// What the ledger holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub bytes: u64,
    /// When a walk last established `bytes`.
    pub walked_at: SystemTime,
}

impl Tally {
    /// Whether a walk is due: the figure is older than [`LEDGER_MAX_AGE`], or it claims a walk
    /// in the future (a clock stepped back, or a ledger written to suppress eviction).
    pub fn is_stale(&self, now: SystemTime) -> bool {
        match now.duration_since(self.walked_at) {
            Ok(age) => age > LEDGER_MAX_AGE,
            Err(ahead) => ahead.duration() > CLOCK_TOLERANCE,
        }
    }

    /// Whether the figure can be true of a volume of `volume_total` bytes at `now`.
    pub fn is_plausible(&self, volume_total: u64, now: SystemTime) -> bool {
        self.bytes <= volume_total && !self.is_stale(now)
    }
}

/// Opens the state file `name`, saying which on failure. Written files are the program's own:
/// a link or hard link planted under the name is replaced, never written through.
fn open_state(state: &Dir, name: &str, how: Open) -> io::Result<File> {
    let name_os = OsStr::new(name);
    match how {
        Open::ReadWrite => state.open_own_file(name_os),
        _ => state.open_file(name_os, how),
    }
    .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
}

impl Ledger {
    /// Opens (creating) the ledger in the cache program's state directory `state`.
    pub fn open(state: &Dir) -> io::Result<Ledger> {
        Ok(Ledger {
            file: Mutex::new(open_state(state, "size", Open::ReadWrite)?),
            state: state.try_clone()?,
        })
    }

    /// Runs `f` on the current tally (`None`: missing or unreadable) under the file lock and
    /// writes back what it returns.
    fn update(&self, f: impl FnOnce(Option<Tally>) -> Option<Tally>) -> io::Result<Option<Tally>> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // A fresh handle per update: closing it releases the lock whatever happens, and Wine
        // does not let one handle be locked again from another thread.
        let lock = open_state(&self.state, "size.lock", Open::ReadWrite)?;
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
                bytes: walked.saturating_add(since),
                walked_at: at,
            })
        })?;
        Ok(t.map_or(walked, |t| t.bytes))
    }
}

/// The ledger is one short line; more is not the program's.
const TALLY_READ_LIMIT: u64 = 128;

fn read_tally(file: &mut File) -> io::Result<Option<Tally>> {
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.take(TALLY_READ_LIMIT).read_to_end(&mut text)?;
    Ok(parse_tally(&text))
}

/// `<bytes> <Unix seconds>`; `None` for anything else, numbers that do not fit included.
pub fn parse_tally(text: &[u8]) -> Option<Tally> {
    let text = std::str::from_utf8(text).ok()?;
    let mut words = text.split_ascii_whitespace();
    let bytes = words.next()?.parse().ok()?;
    let secs: u64 = words.next()?.parse().ok()?;
    if words.next().is_some() {
        return None;
    }
    Some(Tally {
        bytes,
        walked_at: UNIX_EPOCH.checked_add(Duration::from_secs(secs))?,
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

pub use crate::policy::Budget;

/// What the cache programs did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
    pub puts: u64,
    pub put_bytes: u64,
    pub evicted_entries: u64,
    pub evicted_bytes: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Local misses the remote tier answered (output fetched and verified).
    pub remote_hits: u64,
    /// Local misses the remote tier could not answer (for any reason).
    pub remote_misses: u64,
    /// Actions written to the remote.
    pub remote_uploads: u64,
    /// Bodies that did not match their OutputID (fetched, or about to be sent), and action
    /// objects that could not be read.
    pub remote_verify_failures: u64,
    /// Remote requests that failed (refused, timed out, 5xx, denied).
    pub remote_errors: u64,
    /// Writes given up (uploads, and refreshes of a last use): the queue full, the flush
    /// timeout passed, the remote switched off.
    pub remote_dropped: u64,
    /// Outputs fetched from the remote ahead of the go command's requests (a manifest named
    /// them); a request for one is then a local hit.
    pub remote_prefetched: u64,
}

impl Counts {
    /// Adds `other`, saturating: counts read from a file may hold any number.
    pub fn add(&mut self, other: &Counts) {
        self.hits = self.hits.saturating_add(other.hits);
        self.misses = self.misses.saturating_add(other.misses);
        self.puts = self.puts.saturating_add(other.puts);
        self.put_bytes = self.put_bytes.saturating_add(other.put_bytes);
        self.evicted_entries = self.evicted_entries.saturating_add(other.evicted_entries);
        self.evicted_bytes = self.evicted_bytes.saturating_add(other.evicted_bytes);
        self.errors = self.errors.saturating_add(other.errors);
        self.remote_hits = self.remote_hits.saturating_add(other.remote_hits);
        self.remote_misses = self.remote_misses.saturating_add(other.remote_misses);
        self.remote_uploads = self.remote_uploads.saturating_add(other.remote_uploads);
        self.remote_verify_failures = self
            .remote_verify_failures
            .saturating_add(other.remote_verify_failures);
        self.remote_errors = self.remote_errors.saturating_add(other.remote_errors);
        self.remote_dropped = self.remote_dropped.saturating_add(other.remote_dropped);
        self.remote_prefetched = self
            .remote_prefetched
            .saturating_add(other.remote_prefetched);
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

impl State {
    /// When the counters started, if `since` is a time this system can hold.
    pub fn since_time(&self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_secs(self.since))
    }
}

/// Reads `state.json` (`None`: missing, unreadable, not the program's).
fn read_state_file(state: &Dir) -> Option<State> {
    let file = open_state(state, "state.json", Open::Read).ok()?;
    let mut text = Vec::new();
    file.take(STATE_READ_LIMIT).read_to_end(&mut text).ok()?;
    let mut parsed: State = serde_json::from_slice(&text).ok()?;
    // A start in the future is not one: count from now.
    let now = now_secs();
    if parsed.since > now.saturating_add(CLOCK_TOLERANCE.as_secs()) {
        parsed.since = now;
    }
    Some(parsed)
}

/// Reads and rewrites `state.json` in the state directory `state`, under its lock. An
/// unreadable file starts afresh. The new state replaces the old by a rename, so a reader never
/// sees half of it.
pub fn update_state(state: &Dir, f: impl FnOnce(&mut State)) -> io::Result<State> {
    let lock = open_state(state, "state.lock", Open::ReadWrite)?;
    lock.lock()?;
    let existing = read_state_file(state);
    let fresh = existing.is_none();
    let mut current = existing.unwrap_or_else(|| State {
        since: now_secs(),
        ..State::default()
    });
    let before = current.clone();
    f(&mut current);
    if current != before || fresh {
        let json = serde_json::to_string_pretty(&current).map_err(io::Error::other)? + "\n";
        // Whole or not at all, through a temporary file of its own renamed over the old one.
        safefs::replace_file(state, OsStr::new("state.json"), json.as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("state.json: {e}")))?;
    }
    Ok(current)
}

/// The state, if the directory is managed by a cache program; reads only.
pub fn read_state(state: &Dir) -> Option<State> {
    read_state_file(state)
}

/// The ledger's tally, if there is one; reads only.
pub fn read_tally_at(state: &Dir) -> Option<Tally> {
    let file = open_state(state, "size", Open::Read).ok()?;
    let mut text = Vec::new();
    file.take(TALLY_READ_LIMIT).read_to_end(&mut text).ok()?;
    parse_tally(&text)
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
        let state = Dir::open(dir.path()).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        assert_eq!(ledger.add(100).unwrap(), None, "no walk yet");
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(ledger.walked(5000, None, at).unwrap(), 5000);
        assert_eq!(ledger.add(300).unwrap(), Some(5300));
        assert_eq!(ledger.add(-6000).unwrap(), Some(0), "never below zero");
        ledger.add(700).unwrap();
        // A walk that began at 0 and found 400: the 700 put since are kept on top.
        assert_eq!(ledger.walked(400, Some(0), at).unwrap(), 1100);
        assert_eq!(
            read_tally_at(&state),
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
        assert_eq!(parse_tally(b""), None);
        assert_eq!(parse_tally(b"12"), None);
        assert_eq!(parse_tally(b"12 x"), None);
        assert_eq!(parse_tally(b"12 3 4"), None);
        assert_eq!(parse_tally(b"-5 3"), None);
        assert_eq!(parse_tally(b"\xff 3"), None);
        // Numbers that fit a u64 but no time: unreadable, not a panic.
        assert_eq!(parse_tally(b"0 18446744073709551615"), None);
        assert_eq!(parse_tally(b"18446744073709551616 3"), None);
        // In the future: stale, so that it is walked again rather than trusted.
        let ahead = Tally {
            bytes: 0,
            walked_at: now + Duration::from_secs(86_400),
        };
        assert!(ahead.is_stale(now));
        assert!(!ahead.is_plausible(u64::MAX, now));
        // More than the volume holds.
        assert!(!fresh.is_plausible(0, now));
        assert!(fresh.is_plausible(1, now));
    }

    #[test]
    fn state_counts_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let state = Dir::open(dir.path()).unwrap();
        let c = Counts {
            hits: 2,
            misses: 1,
            ..Counts::default()
        };
        update_state(&state, |s| s.counts.add(&c)).unwrap();
        let s = update_state(&state, |s| s.counts.add(&c)).unwrap();
        assert_eq!((s.counts.hits, s.counts.misses), (4, 2));
        assert_eq!(read_state(&state), Some(s));
        std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
        let s = update_state(&state, |_| {}).unwrap();
        assert_eq!(s.counts, Counts::default());
        // Counts at the top of the range saturate; a start in the future is taken as now.
        std::fs::write(
            dir.path().join("state.json"),
            format!(
                r#"{{"budget":{{"max_size":null,"min_free":null}},"counts":{{"hits":{max},"misses":0,"puts":0,"put_bytes":{max},"evicted_entries":0,"evicted_bytes":0,"errors":0}},"since":{max}}}"#,
                max = u64::MAX
            ),
        )
        .unwrap();
        let s = update_state(&state, |s| s.counts.add(&c)).unwrap();
        assert_eq!(s.counts.hits, u64::MAX);
        assert!(s.since <= now_secs());
        assert!(s.since_time().is_some());
    }

    fn counts_of(n: [u64; 14]) -> Counts {
        let [
            hits,
            misses,
            puts,
            put_bytes,
            evicted_entries,
            evicted_bytes,
            errors,
            remote_hits,
            remote_misses,
            remote_uploads,
            remote_verify_failures,
            remote_errors,
            remote_dropped,
            remote_prefetched,
        ] = n;
        Counts {
            hits,
            misses,
            puts,
            put_bytes,
            evicted_entries,
            evicted_bytes,
            errors,
            remote_hits,
            remote_misses,
            remote_uploads,
            remote_verify_failures,
            remote_errors,
            remote_dropped,
            remote_prefetched,
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(1000))]

            /// A ledger holds whatever a writer left: it parses or it does not, never panics,
            /// and a figure it accepts is judged without overflow.
            #[test]
            fn any_ledger_bytes_are_judged(text in proptest::collection::vec(any::<u8>(), 0..64)) {
                if let Some(t) = parse_tally(&text) {
                    let _ = t.is_plausible(u64::MAX, SystemTime::now());
                }
            }

            #[test]
            fn any_two_numbers_are_judged(bytes in any::<u64>(), secs in any::<u64>()) {
                let text = format!("{bytes} {secs}\n");
                if let Some(t) = parse_tally(text.as_bytes()) {
                    prop_assert_eq!(t.bytes, bytes);
                    let _ = t.is_stale(SystemTime::now());
                }
            }

            /// A state written before the remote counters existed reads with them at zero.
            #[test]
            fn older_states_read(counts in any::<[u64; 7]>(), since in any::<u64>()) {
                let [hits, misses, puts, put_bytes, evicted_entries, evicted_bytes, errors] = counts;
                let json = format!(
                    "{{\"budget\":{{\"max_size\":null,\"min_free\":null}},\"counts\":{{\"hits\":{hits},\"misses\":{misses},\"puts\":{puts},\"put_bytes\":{put_bytes},\"evicted_entries\":{evicted_entries},\"evicted_bytes\":{evicted_bytes},\"errors\":{errors}}},\"since\":{since}}}"
                );
                let back: State = serde_json::from_str(&json).unwrap();
                let mut expected = [0u64; 14];
                expected[..7].copy_from_slice(&counts);
                prop_assert_eq!(back.counts, counts_of(expected));
            }

            /// `state.json` with any numbers: read, counted on, written back, never a panic.
            #[test]
            fn any_state_numbers_are_survived(
                counts in any::<[u64; 14]>(),
                since in any::<u64>(),
                add in any::<[u64; 14]>(),
            ) {
                let mut state = State {
                    budget: Budget::default(),
                    counts: counts_of(counts),
                    since,
                };
                state.counts.add(&counts_of(add));
                let _ = state.since_time();
                let json = serde_json::to_string(&state).unwrap();
                let back: State = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, state);
            }
        }
    }
}
