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
use std::time::SystemTime;

use rayon::prelude::*;
use serde::Serialize;

use crate::disk::{DirHandle, Kind};
use crate::error::Error;

/// The first line of the README the go command writes at the root of every build cache.
pub const README_MARKER: &str =
    "This directory holds cached build artifacts from the Go build system.";

/// A verified Go build cache, opened by handle.
#[derive(Debug)]
pub struct BuildCache {
    root: PathBuf,
    handle: DirHandle,
}

/// One cache entry: a `-a` or `-d` file, or a `-d` directory holding an executable.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The shard directory's number (`0x00`…`0xff`).
    pub shard: u8,
    pub name: Box<OsStr>,
    /// Bytes on disk (for a directory entry, of everything in it).
    pub disk_bytes: u64,
    /// Files it consists of: 1, or the files of a directory entry.
    pub files: u64,
    /// Last use, as far as Go records it (see the module docs of `prune`).
    pub modified: SystemTime,
    pub is_dir: bool,
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    pub entries: Vec<Entry>,
    /// Shards or entries left alone, and why (links, other volumes, unreadable).
    pub skipped: Vec<String>,
}

/// Size and age of a cache, for reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// The least recent use among the entries.
    #[serde(serialize_with = "crate::report::serialize_time")]
    pub oldest: Option<SystemTime>,
    /// The most recent use among the entries.
    #[serde(serialize_with = "crate::report::serialize_time")]
    pub newest: Option<SystemTime>,
    /// When Go last trimmed the cache itself (from `trim.txt`).
    #[serde(serialize_with = "crate::report::serialize_time")]
    pub last_go_trim: Option<SystemTime>,
}

impl Scan {
    /// Totals over the entries.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for e in &self.entries {
            stats.entries += 1;
            stats.files += e.files;
            stats.bytes += e.disk_bytes;
            stats.oldest = Some(stats.oldest.map_or(e.modified, |t| t.min(e.modified)));
            stats.newest = Some(stats.newest.map_or(e.modified, |t| t.max(e.modified)));
        }
        stats
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
pub fn locate(gocache: &str) -> Result<Option<BuildCache>, Error> {
    let path = Path::new(gocache);
    if path.is_absolute() && std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    BuildCache::open(gocache).map(Some)
}

impl BuildCache {
    /// Opens `gocache` for pruning after checking that it is a Go build cache: an absolute,
    /// existing directory, neither `/` nor a home directory, whose README carries Go's marker.
    pub fn open(gocache: &str) -> Result<BuildCache, Error> {
        let refuse = |reason: &str| Error::NotABuildCache {
            path: PathBuf::from(gocache),
            reason: reason.to_string(),
        };
        match gocache {
            "" => return Err(refuse("GOCACHE is empty")),
            "off" => return Err(refuse("GOCACHE=off disables the build cache")),
            _ => {}
        }
        let path = Path::new(gocache);
        if !path.is_absolute() {
            return Err(refuse(
                "GOCACHE is not an absolute path (the go command rejects it too)",
            ));
        }
        let root = std::fs::canonicalize(path).map_err(|e| refuse(&e.to_string()))?;
        if root.parent().is_none() {
            return Err(refuse("it is the root of a filesystem"));
        }
        for var in ["HOME", "USERPROFILE"] {
            let home = std::env::var_os(var)
                .filter(|h| !h.is_empty())
                .and_then(|h| std::fs::canonicalize(h).ok());
            if home.is_some_and(|h| h == root) {
                return Err(refuse("it is a home directory"));
            }
        }
        if !root.is_dir() {
            return Err(refuse("it is not a directory"));
        }
        let handle = DirHandle::open(&root).map_err(|e| refuse(&e.to_string()))?;
        let first_line = std::fs::read(root.join("README")).ok().and_then(|data| {
            let line = data.split(|&b| b == b'\n').next()?.to_vec();
            String::from_utf8(line).ok()
        });
        if first_line.as_deref().map(str::trim_end) != Some(README_MARKER) {
            return Err(refuse(&format!(
                "it has no README starting with Go's marker line {README_MARKER:?}"
            )));
        }
        Ok(BuildCache { root, handle })
    }

    /// The cache's canonical path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The handle on the cache's root directory.
    pub fn handle(&self) -> &DirHandle {
        &self.handle
    }

    /// When Go last trimmed this cache, from `trim.txt` (Unix seconds).
    pub fn last_go_trim(&self) -> Option<SystemTime> {
        let text = std::fs::read_to_string(self.root.join("trim.txt")).ok()?;
        let secs: u64 = text.trim().parse().ok()?;
        Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
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
        let mut scan = Scan::default();
        for s in per_shard {
            scan.entries.extend(s.entries);
            scan.skipped.extend(s.skipped);
        }
        scan
    }

    /// Opens shard `n`, refusing links and other volumes. `Ok(None)` when it does not exist.
    pub fn open_shard(&self, n: u8) -> io::Result<Option<DirHandle>> {
        match self.handle.open_child(&shard_name(n)) {
            Ok(h) => Ok(Some(h)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn scan_shard(&self, shard: u8) -> Scan {
        let mut scan = Scan::default();
        let dir = match self.open_shard(shard) {
            Ok(Some(dir)) => dir,
            Ok(None) => return scan,
            Err(e) => {
                scan.skipped.push(format!(
                    "shard {}: {}; left alone",
                    shard_name(shard).to_string_lossy(),
                    describe_open_error(&e)
                ));
                return scan;
            }
        };
        let names = match dir.names() {
            Ok(names) => names,
            Err(e) => {
                scan.skipped.push(format!(
                    "shard {}: cannot be read: {e}",
                    shard_name(shard).to_string_lossy()
                ));
                return scan;
            }
        };
        for name in names.into_iter().filter(|n| is_entry_name(n)) {
            let Ok(meta) = dir.meta(&name) else { continue };
            if !meta.same_volume {
                continue;
            }
            let is_output = name.as_encoded_bytes().ends_with(b"-d");
            let (disk_bytes, files, is_dir) = match meta.kind {
                Kind::File => (meta.disk_bytes, 1, false),
                Kind::Dir if is_output => match dir.open_child(&name) {
                    Ok(sub) => {
                        let (bytes, files) = usage(&sub);
                        (bytes, files, true)
                    }
                    Err(_) => continue,
                },
                _ => continue,
            };
            scan.entries.push(Entry {
                shard,
                name: name.into_boxed_os_str(),
                disk_bytes,
                files,
                modified: meta.modified,
                is_dir,
            });
        }
        scan
    }
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

/// Bytes and files under a directory, not following links nor leaving its volume.
fn usage(dir: &DirHandle) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    for name in dir.names().unwrap_or_default() {
        let Ok(meta) = dir.meta(&name) else { continue };
        match meta.kind {
            Kind::Dir => {
                if let Ok(sub) = dir.open_child(&name) {
                    let (b, f) = usage(&sub);
                    bytes += b;
                    files += f;
                }
            }
            Kind::File => {
                bytes += meta.disk_bytes;
                files += 1;
            }
            _ => files += 1,
        }
    }
    (bytes, files)
}

/// Why a shard could not be opened, in words.
fn describe_open_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::CrossesDevices => "is on another volume".into(),
        io::ErrorKind::NotADirectory => "is not a directory".into(),
        _ => e.to_string(),
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
            assert!(BuildCache::open(bad).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        let err = BuildCache::open(&path).unwrap_err().to_string();
        assert!(err.contains("marker"), "{err}");
        std::fs::write(
            dir.path().join("README"),
            format!("{README_MARKER}\nmore\n"),
        )
        .unwrap();
        assert!(BuildCache::open(&path).is_ok());
    }
}
