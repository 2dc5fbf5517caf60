//! Leases: each cache program holds one for its lifetime, so eviction knows which entries a
//! live go command may still open.
//!
//! A lease is a lock file `cacheprog/leases/<start>-<pid>.lock` (start in Unix nanoseconds),
//! held with std's `File::lock` (flock, LockFileEx) for as long as the process lives, and a
//! directory of the same name without `.lock` holding the process's temporary files and the
//! links it handed out. The kernel drops the lock when the process dies, however it dies, so
//! a lease whose lock can be taken is dead: [`live`] removes it and its directory.
//!
//! On Windows a file another process holds open or mapped cannot be deleted, and the go
//! command maps some cache files (the module index) until it exits, after `close`. Such links
//! stay in a directory whose lock file is gone; [`live`] removes those orphans later.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::store::open_state_file;

/// How far a lease's recorded start is put before the moment it was taken: file times come
/// from a coarser clock than the wall clock, and an entry written just after the start must
/// never look older than the lease.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// This process's lease; released (files removed) on [`Lease::release`] or drop.
#[derive(Debug)]
pub struct Lease {
    lock: Option<File>,
    lock_path: PathBuf,
    dir: PathBuf,
    start: SystemTime,
}

/// A live lease, as eviction and `status` see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveLease {
    pub pid: u32,
    #[serde(serialize_with = "rfc3339_seconds")]
    pub start: SystemTime,
}

fn rfc3339_seconds<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*t))
}

/// The directory holding the leases of the cache at `root`.
pub fn leases_dir(root: &Path) -> PathBuf {
    root.join("cacheprog").join("leases")
}

impl Lease {
    /// Takes a new lease in `root`'s leases directory, creating it.
    pub fn take(root: &Path) -> io::Result<Lease> {
        let dir = leases_dir(root);
        fs::create_dir_all(&dir)?;
        let start = SystemTime::now() - CLOCK_SLACK;
        let nanos = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("{nanos}-{}", std::process::id());
        // The lock file appears under its name already locked (the lock belongs to the open
        // file and survives the rename), so no one ever sees it unlocked and takes it for dead.
        let lock_path = dir.join(format!("{name}.lock"));
        let fresh = dir.join(format!(".{name}.new"));
        let lock = open_state_file(&fresh)?;
        lock.lock()?;
        fs::rename(&fresh, &lock_path)?;
        // Then the directory: one without a lock file is an orphan (see `live`).
        let dir = dir.join(name);
        fs::create_dir(&dir)?;
        Ok(Lease {
            lock: Some(lock),
            lock_path,
            dir,
            start,
        })
    }

    /// The directory for this process's temporary files and handed-out links.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// When this lease began (a little before it was taken).
    pub fn start(&self) -> SystemTime {
        self.start
    }

    /// Ends the lease: its directory goes (but for files still open elsewhere, left to a later
    /// [`live`]), then its lock file.
    pub fn release(&mut self) -> io::Result<()> {
        let Some(lock) = self.lock.take() else {
            return Ok(());
        };
        clear_lease_dir(&self.dir);
        let unlinked = fs::remove_file(&self.lock_path);
        drop(lock);
        unlinked
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// Removes a lease directory and what it holds, as far as it can: a file another process
/// still holds (Windows) stays, and so does the directory then. It holds only files.
fn clear_lease_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = crate::disk::remove_file(&entry.path());
        }
    }
    let _ = fs::remove_dir(dir);
}

/// The live leases on the cache at `root`, oldest first. With `reap`, dead ones (their lock
/// free) are removed on the way, with their directories.
pub fn live(root: &Path, reap: bool) -> io::Result<Vec<LiveLease>> {
    let dir = leases_dir(root);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut live = Vec::new();
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry?.file_name());
    }
    for name in &names {
        let Some(name) = name.to_str() else { continue };
        let path = dir.join(name);
        let Some(stem) = name.strip_suffix(".lock") else {
            // A directory whose lock file is gone: released with files still held open then.
            // (A lease's lock file exists before its directory and goes after it, so this is
            // never a lease being taken.)
            if reap && parse_name(name).is_some() && !dir.join(format!("{name}.lock")).exists() {
                clear_lease_dir(&path);
            }
            continue;
        };
        let Some((start, pid)) = parse_name(stem) else {
            continue;
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => live.push(LiveLease { pid, start }),
            Ok(()) if !reap => {}
            Ok(()) => {
                // Dead: its owner is gone. Clean up while holding the lock.
                clear_lease_dir(&dir.join(stem));
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
    live.sort_by_key(|l| l.start);
    Ok(live)
}

fn parse_name(stem: &str) -> Option<(SystemTime, u32)> {
    let (nanos, pid) = stem.split_once('-')?;
    let nanos: u64 = nanos.parse().ok()?;
    Some((UNIX_EPOCH + Duration::from_nanos(nanos), pid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lease_is_live_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut lease = Lease::take(dir.path()).unwrap();
        fs::write(lease.dir().join("x.tmp"), "t").unwrap();
        let seen = live(dir.path(), true).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].pid, std::process::id());
        // Nanoseconds survive the name.
        assert_eq!(seen[0].start, lease.start());
        lease.release().unwrap();
        assert!(live(dir.path(), true).unwrap().is_empty());
        assert_eq!(fs::read_dir(leases_dir(dir.path())).unwrap().count(), 0);
    }

    #[test]
    fn a_lease_whose_lock_is_free_is_dead_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let leases = leases_dir(dir.path());
        fs::create_dir_all(leases.join("1000-42")).unwrap();
        fs::write(leases.join("1000-42").join("put-0.tmp"), "half a body").unwrap();
        fs::write(leases.join("1000-42.lock"), "").unwrap();
        fs::write(leases.join("notes.txt"), "not a lease").unwrap();
        // Released with a file still held open: the directory stayed, its lock file went.
        fs::create_dir_all(leases.join("2000-43")).unwrap();
        fs::write(leases.join("2000-43").join("abcd"), "a link").unwrap();
        assert!(live(dir.path(), false).unwrap().is_empty());
        assert_eq!(
            fs::read_dir(&leases).unwrap().count(),
            4,
            "without reap, all stays"
        );
        assert!(live(dir.path(), true).unwrap().is_empty());
        let left: Vec<_> = fs::read_dir(&leases)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec!["notes.txt"]);
    }
}
