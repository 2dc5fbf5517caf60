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

use std::ffi::{OsStr, OsString};
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::safefs::{self, Dir, Kind, Open};

/// How far a lease's recorded start is put before the moment it was taken: file times come
/// from a coarser clock than the wall clock, and an entry written just after the start must
/// never look older than the lease.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// This process's lease; released (files removed) on [`Lease::release`] or drop.
#[derive(Debug)]
pub struct Lease {
    lock: Option<File>,
    leases: Dir,
    name: OsString,
    dir: Dir,
    path: PathBuf,
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
    crate::units::serialize_time(&Some(*t), s)
}

fn lock_name(name: &OsStr) -> OsString {
    let mut lock = name.to_os_string();
    lock.push(".lock");
    lock
}

impl Lease {
    /// Takes a new lease in the leases directory `leases` (at `leases_path`).
    pub fn take(leases: &Dir, leases_path: &Path) -> io::Result<Lease> {
        let start = SystemTime::now()
            .checked_sub(CLOCK_SLACK)
            .unwrap_or(UNIX_EPOCH);
        let nanos = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = OsString::from(format!("{nanos}-{}", std::process::id()));
        // The lock file appears under its name already locked (the lock belongs to the open
        // file and survives the rename), so no one ever sees it unlocked and takes it for dead.
        let fresh = OsString::from(format!(".{}.new", name.to_string_lossy()));
        let lock = leases.open_file(&fresh, Open::CreateNew)?;
        lock.lock()?;
        leases.rename(&fresh, leases, &lock_name(&name))?;
        // Then the directory: one without a lock file is an orphan (see `live`).
        leases.create_dir(&name)?;
        let dir = leases.open_dir(&name)?;
        Ok(Lease {
            lock: Some(lock),
            leases: leases.try_clone()?,
            path: leases_path.join(&name),
            name,
            dir,
            start,
        })
    }

    /// The directory for this process's temporary files and handed-out links.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Its path, for the paths handed to the go command.
    pub fn path(&self) -> &Path {
        &self.path
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
        clear_lease_dir(&self.leases, &self.name);
        let unlinked = self.leases.remove_file(&lock_name(&self.name));
        drop(lock);
        unlinked
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// Removes the lease directory `name` in `leases` and what it holds, as far as it can: a file
/// another process still holds (Windows) stays, and so does the directory then. Through
/// handles only: a link planted under a lease's name is removed as a link, never followed; a
/// mount point is left alone.
fn clear_lease_dir(leases: &Dir, name: &OsStr) {
    match leases.meta(name) {
        Ok(meta) if meta.kind == Kind::Dir && meta.same_mount => {
            let _ = safefs::remove_tree(leases, name);
        }
        Ok(meta) if meta.kind == Kind::Link => {
            let _ = leases.remove_file(name);
        }
        _ => {}
    }
}

/// The live leases in the leases directory `leases`, oldest first. With `reap`, dead ones
/// (their lock free) are removed on the way, with their directories. Anything in the
/// directory that is not a lease (a link or a FIFO under a lock file's name, a stray file) is
/// left alone.
pub fn live(leases: &Dir, reap: bool) -> io::Result<Vec<LiveLease>> {
    let mut live = Vec::new();
    let names = leases.names()?;
    for name in &names {
        let Some(text) = name.to_str() else { continue };
        let Some(stem) = text.strip_suffix(".lock") else {
            // A directory whose lock file is gone: released with files still held open then.
            // (A lease's lock file exists before its directory and goes after it, so this is
            // never a lease being taken.)
            if reap
                && parse_name(text).is_some()
                && leases
                    .meta(&lock_name(name))
                    .is_err_and(|e| safefs::is_gone(&e))
            {
                clear_lease_dir(leases, name);
            }
            continue;
        };
        let Some((start, pid)) = parse_name(stem) else {
            continue;
        };
        let file = match leases.open_file(name, Open::Read) {
            Ok(f) => f,
            Err(e) if safefs::is_gone(&e) => continue,
            // Not a lease's lock file (a link, a FIFO, …): not ours to judge or remove.
            Err(e) if safefs::refusal(&e).is_some() => continue,
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => live.push(LiveLease { pid, start }),
            Ok(()) if !reap => {}
            Ok(()) => {
                // Dead: its owner is gone. Clean up while holding the lock.
                clear_lease_dir(leases, OsStr::new(stem));
                match leases.remove_file(name) {
                    Err(e) if !safefs::is_gone(&e) => return Err(e),
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
    let start = UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))?;
    Some((start, pid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_held_lease_is_live_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let leases = Dir::open(dir.path()).unwrap();
        let mut lease = Lease::take(&leases, dir.path()).unwrap();
        fs::write(lease.path().join("x.tmp"), "t").unwrap();
        let seen = live(&leases, true).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].pid, std::process::id());
        // Nanoseconds survive the name.
        assert_eq!(seen[0].start, lease.start());
        lease.release().unwrap();
        assert!(live(&leases, true).unwrap().is_empty());
        // Windows removes a directory once every handle on it is closed (at once only where
        // the filesystem has POSIX delete semantics; Wine has none): the lease keeps one on
        // its own until it goes. (On Unix this drop removes nothing more.)
        drop(lease);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_lease_whose_lock_is_free_is_dead_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().to_path_buf();
        let handle = Dir::open(&leases).unwrap();
        fs::create_dir_all(leases.join("1000-42")).unwrap();
        fs::write(leases.join("1000-42").join("put-0.tmp"), "half a body").unwrap();
        fs::write(leases.join("1000-42.lock"), "").unwrap();
        fs::write(leases.join("notes.txt"), "not a lease").unwrap();
        // Released with a file still held open: the directory stayed, its lock file went.
        fs::create_dir_all(leases.join("2000-43")).unwrap();
        fs::write(leases.join("2000-43").join("abcd"), "a link").unwrap();
        assert!(live(&handle, false).unwrap().is_empty());
        assert_eq!(
            fs::read_dir(&leases).unwrap().count(),
            4,
            "without reap, all stays"
        );
        assert!(live(&handle, true).unwrap().is_empty());
        let left: Vec<_> = fs::read_dir(&leases)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec!["notes.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_among_the_leases_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("precious"), "keep me").unwrap();
        let leases = dir.path().join("leases");
        fs::create_dir(&leases).unwrap();
        let handle = Dir::open(&leases).unwrap();
        // A dead-looking lease whose directory is a link to the victim.
        std::os::unix::fs::symlink(&victim, leases.join("1000-42")).unwrap();
        fs::write(leases.join("1000-42.lock"), "").unwrap();
        // An orphan directory name that is a link, and a lock file that is a link.
        std::os::unix::fs::symlink(&victim, leases.join("2000-43")).unwrap();
        std::os::unix::fs::symlink(victim.join("precious"), leases.join("3000-44.lock")).unwrap();
        assert!(live(&handle, true).unwrap().is_empty());
        assert_eq!(
            fs::read_to_string(victim.join("precious")).unwrap(),
            "keep me"
        );
        // The links under lease names went as links; the link under a lock's name stays.
        assert!(fs::symlink_metadata(leases.join("1000-42")).is_err());
        assert!(fs::symlink_metadata(leases.join("2000-43")).is_err());
        assert!(fs::symlink_metadata(leases.join("3000-44.lock")).is_ok());
    }
}
