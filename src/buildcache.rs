//! Go's build cache (GOCACHE): recognising one, and reading its entries.
//!
//! Layout, as written by `cmd/go/internal/cache`: a `README` whose first line is
//! [`README_MARKER`]; `trim.txt` and `testexpire.txt`; `fuzz/` (the fuzzing corpus); and 256
//! shard directories `00`…`ff` holding entries named `<64 hex>-a` (action index) and
//! `<64 hex>-d` (output). Since Go 1.24 a `-d` entry may be a directory holding one executable
//! (cached `go run`/`go tool` binaries); it is one entry whose last use is the directory's
//! mtime. Anything else is not an entry and is never touched.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Error;
use crate::safefs::{self, Dir, Kind, Open};

/// The first line of the README the go command writes at the root of every build cache.
pub const README_MARKER: &str =
    "This directory holds cached build artifacts from the Go build system.";

/// A verified Go build cache, opened by handle.
#[derive(Debug)]
pub struct BuildCache {
    root: PathBuf,
    handle: Dir,
}

/// One cache entry: a `-a` or `-d` file, or a `-d` directory holding an executable.
///
/// Kept small (56 bytes), as a cache may hold millions: Go's names (64 hex digits and `-a` or
/// `-d`) are stored as their 32 bytes; other names ending in `-a`/`-d`, which Go's trim
/// removes too, live in the [`Scan`]'s side table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The hash of a Go name, or the index of the name in [`Scan::odd_names`].
    key: [u8; 32],
    /// Last use as nanoseconds since the Unix epoch (as far as Go records it, see `prune`);
    /// clamped to the range an `i64` holds (years 1678 to 2262).
    modified_nanos: i64,
    /// Bytes on disk (for a directory entry, of everything in it).
    pub disk_bytes: u64,
    /// Files it consists of: 1, or the files of a directory entry.
    files: u32,
    /// The shard directory's number (`0x00`…`0xff`).
    pub shard: u8,
    flags: u8,
}

const OUTPUT: u8 = 1;
const IS_DIR: u8 = 2;
const ODD_NAME: u8 = 4;

impl Entry {
    /// Last use, as far as Go records it.
    pub fn modified(&self) -> SystemTime {
        let nanos = Duration::from_nanos(self.modified_nanos.unsigned_abs());
        if self.modified_nanos >= 0 {
            UNIX_EPOCH.checked_add(nanos)
        } else {
            UNIX_EPOCH.checked_sub(nanos)
        }
        .unwrap_or(UNIX_EPOCH)
    }

    /// Files it consists of: 1, or the files of a directory entry.
    pub fn files(&self) -> u64 {
        u64::from(self.files)
    }

    /// The order in which entries are pruned: least recently used first, ties broken by shard
    /// and name so that the order is deterministic.
    pub fn lru_key(&self) -> (i64, u8, [u8; 32]) {
        (self.modified_nanos, self.shard, self.key)
    }

    /// Whether it is a `-d` directory holding an executable.
    pub fn is_dir(&self) -> bool {
        self.flags & IS_DIR != 0
    }

    /// Its file name in its shard.
    pub fn name<'a>(&self, scan_names: &'a [Box<OsStr>], buf: &'a mut [u8; 66]) -> &'a OsStr {
        if self.flags & ODD_NAME != 0 {
            let mut index = [0u8; 8];
            index.copy_from_slice(&self.key[..8]);
            let index = usize::try_from(u64::from_le_bytes(index)).unwrap_or(usize::MAX);
            return scan_names.get(index).map_or(OsStr::new(""), |n| n);
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in self.key.iter().enumerate() {
            buf[2 * i] = HEX[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        buf[64] = b'-';
        buf[65] = if self.flags & OUTPUT != 0 { b'd' } else { b'a' };
        // Hex digits and `-`: ASCII, so always valid text.
        OsStr::new(std::str::from_utf8(&buf[..]).unwrap_or(""))
    }
}

/// Nanoseconds since the epoch, clamped to what an `i64` holds.
fn unix_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// The 32 bytes a Go entry name `<64 hex>-a|-d` stands for.
fn go_key(name: &[u8]) -> Option<[u8; 32]> {
    let hex = name.get(..64)?;
    if name.len() != 66 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        *k = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(key)
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    pub entries: Vec<Entry>,
    /// Names of entries that are not Go's own `<64 hex>-a|-d` (see [`Entry`]).
    pub odd_names: Vec<Box<OsStr>>,
    /// Shards or entries left alone, and why (links, mount points, unreadable).
    pub skipped: Vec<String>,
}

/// Size and age of a cache, for reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// The least recent use among the entries.
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub oldest: Option<SystemTime>,
    /// The most recent use among the entries.
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub newest: Option<SystemTime>,
    /// When Go last trimmed the cache itself (from `trim.txt`).
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub last_go_trim: Option<SystemTime>,
}

impl Scan {
    /// Totals over the entries.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for e in &self.entries {
            stats.entries += 1;
            stats.files = stats.files.saturating_add(e.files());
            stats.bytes = stats.bytes.saturating_add(e.disk_bytes);
            let t = e.modified();
            stats.oldest = Some(stats.oldest.map_or(t, |o| o.min(t)));
            stats.newest = Some(stats.newest.map_or(t, |n| n.max(t)));
        }
        stats
    }

    /// The file name of `entry`, one of this scan's.
    pub fn name_of<'a>(&'a self, entry: &Entry, buf: &'a mut [u8; 66]) -> &'a OsStr {
        entry.name(&self.odd_names, buf)
    }
}

/// The two-digit lower-case hex name of shard `n`.
pub fn shard_name(n: u8) -> OsString {
    OsString::from(format!("{n:02x}"))
}

/// Whether `name` is an entry name (`…-a` or `…-d`), as Go's own trim decides.
pub fn is_entry_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    b.len() > 2 && (b.ends_with(b"-a") || b.ends_with(b"-d"))
}

/// Finds the build cache named by GOCACHE: `Ok(None)` when the directory does not exist yet
/// (a fresh machine: nothing to prune), an error when it exists but may not be pruned.
pub fn locate(gocache: &Path) -> Result<Option<BuildCache>, Error> {
    let path = gocache;
    if path.is_absolute() && std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    BuildCache::open(gocache).map(Some)
}

/// At most this much of the README is read to find Go's marker line.
const README_READ_LIMIT: u64 = 4096;

impl BuildCache {
    /// Opens `gocache` for pruning after checking that it is a Go build cache: an absolute,
    /// existing directory, neither `/` nor a home directory, whose README carries Go's marker.
    /// The README is read through the opened handle, so the directory checked is the one
    /// worked in.
    pub fn open(gocache: &Path) -> Result<BuildCache, Error> {
        let refuse = |reason: &str| Error::NotABuildCache {
            path: gocache.to_path_buf(),
            reason: reason.to_string(),
        };
        match gocache.as_os_str().as_encoded_bytes() {
            b"" => return Err(refuse("GOCACHE is empty")),
            b"off" => return Err(refuse("GOCACHE=off disables the build cache")),
            _ => {}
        }
        let path = gocache;
        if !path.is_absolute() {
            return Err(refuse(
                "GOCACHE is not an absolute path (the go command rejects it too)",
            ));
        }
        let root = std::fs::canonicalize(path).map_err(|e| refuse(&e.to_string()))?;
        if root.parent().is_none() {
            return Err(refuse("it is the root of a filesystem"));
        }
        let handle = Dir::open(&root).map_err(|e| match safefs::refusal(&e) {
            Some(safefs::Refusal::NotADirectory) => refuse("it is not a directory"),
            _ => refuse(&e.to_string()),
        })?;
        // The checks by path, once more by identity: what was opened is what was checked,
        // even if a path was swapped in between.
        let same_as = |other: &Path| Dir::open(other).is_ok_and(|d| d.id() == handle.id());
        if same_as(Path::new("/")) {
            return Err(refuse("it is the root of a filesystem"));
        }
        for var in ["HOME", "USERPROFILE"] {
            let home = std::env::var_os(var)
                .filter(|h| !h.is_empty())
                .map(std::path::PathBuf::from);
            let is_home = home
                .is_some_and(|h| std::fs::canonicalize(&h).is_ok_and(|h| h == root) || same_as(&h));
            if is_home {
                return Err(refuse("it is a home directory"));
            }
        }
        if !has_marker(&handle) {
            return Err(refuse(&format!(
                "it has no README starting with Go's marker line {README_MARKER:?}"
            )));
        }
        Ok(BuildCache { root, handle })
    }

    /// A build cache already opened by `handle` (whose canonical path is `root`), after the
    /// same check of Go's marker, read through the handle.
    pub fn from_handle(root: PathBuf, handle: Dir) -> Result<BuildCache, Error> {
        if !has_marker(&handle) {
            return Err(Error::NotABuildCache {
                path: root,
                reason: format!(
                    "it has no README starting with Go's marker line {README_MARKER:?}"
                ),
            });
        }
        Ok(BuildCache { root, handle })
    }

    /// The cache's canonical path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The handle on the cache's root directory.
    pub fn handle(&self) -> &Dir {
        &self.handle
    }

    /// When Go last trimmed this cache, from `trim.txt` (Unix seconds).
    pub fn last_go_trim(&self) -> Option<SystemTime> {
        let text = read_small(&self.handle, "trim.txt", 64).ok()?;
        let secs: u64 = std::str::from_utf8(&text).ok()?.trim().parse().ok()?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// Reads every entry, the 256 shards in parallel. Entries that vanish during the scan
    /// (a concurrent go command, another pruner) are simply not listed.
    pub fn scan(&self) -> Scan {
        let per_shard: Vec<Scan> = io_pool().install(|| {
            (0..=255u8)
                .into_par_iter()
                .map(|shard| self.scan_shard(shard))
                .collect()
        });
        // Moved shard by shard into one list sized once, each shard's list freed as it goes,
        // so that a large cache is never held twice.
        let total = per_shard.iter().map(|s| s.entries.len()).sum();
        let mut scan = Scan {
            entries: Vec::with_capacity(total),
            ..Scan::default()
        };
        for s in per_shard {
            let base = scan.odd_names.len() as u64;
            scan.entries.extend(s.entries.into_iter().map(|mut e| {
                if e.flags & ODD_NAME != 0 {
                    let mut index = [0u8; 8];
                    index.copy_from_slice(&e.key[..8]);
                    let moved = u64::from_le_bytes(index).saturating_add(base);
                    e.key[..8].copy_from_slice(&moved.to_le_bytes());
                }
                e
            }));
            scan.odd_names.extend(s.odd_names);
            scan.skipped.extend(s.skipped);
        }
        scan
    }

    /// Opens shard `n`, refusing links and mount points. `Ok(None)` when it does not exist.
    pub fn open_shard(&self, n: u8) -> io::Result<Option<Dir>> {
        match self.handle.open_dir(&shard_name(n)) {
            Ok(h) => Ok(Some(h)),
            Err(e) if safefs::is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn scan_shard(&self, shard: u8) -> Scan {
        let mut scan = Scan::default();
        let shown = shard_name(shard);
        let shown = shown.to_string_lossy();
        let dir = match self.open_shard(shard) {
            Ok(Some(dir)) => dir,
            Ok(None) => return scan,
            Err(e) => {
                scan.skipped
                    .push(format!("shard {shown}: {}; left alone", describe(&e)));
                return scan;
            }
        };
        let listed = dir.each_name(|name| {
            if !is_entry_name(name) {
                return;
            }
            let Ok(meta) = dir.meta(name) else { return };
            if !meta.same_mount {
                scan.skipped.push(format!(
                    "{shown}/{}: is a mount point; left alone",
                    crate::escape::os(name)
                ));
                return;
            }
            let bytes = name.as_encoded_bytes();
            let is_output = bytes.ends_with(b"-d");
            let (disk_bytes, files, is_dir) = match meta.kind {
                Kind::File => (meta.disk_bytes, 1, false),
                Kind::Dir if is_output => match safefs::usage(&dir, name) {
                    Ok(u) if u.not_entered == 0 => (u.bytes, u.files, true),
                    Ok(_) => {
                        scan.skipped.push(format!(
                            "{shown}/{}: holds a mount point; left alone",
                            crate::escape::os(name)
                        ));
                        return;
                    }
                    Err(_) => return,
                },
                _ => return,
            };
            let (key, odd) = match go_key(bytes) {
                Some(key) => (key, 0),
                None => {
                    let mut key = [0u8; 32];
                    key[..8].copy_from_slice(&(scan.odd_names.len() as u64).to_le_bytes());
                    scan.odd_names.push(name.into());
                    (key, ODD_NAME)
                }
            };
            scan.entries.push(Entry {
                key,
                modified_nanos: unix_nanos(meta.modified),
                disk_bytes,
                files: u32::try_from(files).unwrap_or(u32::MAX),
                shard,
                flags: odd | if is_output { OUTPUT } else { 0 } | if is_dir { IS_DIR } else { 0 },
            });
        });
        if let Err(e) = listed {
            scan.skipped
                .push(format!("shard {shown}: cannot be read: {e}"));
        }
        scan
    }
}

/// Whether the cache's README (a regular file, read without following a link) starts with
/// Go's marker line.
fn has_marker(cache: &Dir) -> bool {
    let Ok(data) = read_small(cache, "README", README_READ_LIMIT) else {
        return false;
    };
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    std::str::from_utf8(first).is_ok_and(|line| line.trim_end() == README_MARKER)
}

/// At most `limit` bytes of the regular file `name` in `dir`, read without following a link.
fn read_small(dir: &Dir, name: &str, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = dir.open_file(OsStr::new(name), Open::Read)?;
    let mut data = Vec::new();
    file.take(limit).read_to_end(&mut data)?;
    Ok(data)
}

/// The thread pool for filesystem work. Stat and unlink calls mostly wait on the disk (a cold
/// inode cache, a network volume), so more threads than cores keep more requests in flight:
/// four per core, between 4 and 16.
pub fn io_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads((cores * 4).clamp(4, 16))
            .thread_name(|i| format!("go-disk-guard-io-{i}"))
            .build()
            .expect("creating the filesystem thread pool")
    })
}

/// Why a shard could not be opened, in words.
fn describe(e: &io::Error) -> String {
    match safefs::refusal(e) {
        Some(r) => r.to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_follow_go() {
        assert!(is_entry_name(OsStr::new("0123abcd-a")));
        assert!(is_entry_name(OsStr::new("0123abcd-d")));
        assert!(!is_entry_name(OsStr::new("-d")));
        assert!(!is_entry_name(OsStr::new("0123abcd-d.tmp")));
        assert!(!is_entry_name(OsStr::new("README")));
        assert_eq!(shard_name(0x0a), OsString::from("0a"));
    }

    #[test]
    fn refusals() {
        for bad in ["", "off", "relative/path", "/"] {
            assert!(BuildCache::open(Path::new(bad)).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let err = BuildCache::open(path).unwrap_err().to_string();
        assert!(err.contains("marker"), "{err}");
        std::fs::write(
            dir.path().join("README"),
            format!("{README_MARKER}\nmore\n"),
        )
        .unwrap();
        assert!(BuildCache::open(path).is_ok());
    }
}
