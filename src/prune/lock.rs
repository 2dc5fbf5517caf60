//! An advisory lock per build cache, so that two go-disk-guard processes never prune the same
//! cache at once. It is std's `File::lock` (flock on Unix, LockFileEx on Windows) on a file in
//! the cache's root, which the go command ignores, opened through the cache's handle (never
//! through a link, never a file of someone else's).

use std::ffi::OsStr;
use std::fs::{File, TryLockError};
use std::io;
use std::time::{Duration, Instant};

use crate::safefs::Dir;

/// The lock file's name in the cache root.
pub const LOCK_FILE_NAME: &str = "go-disk-guard.lock";

/// Held while pruning; released when dropped.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

/// Takes the lock on the cache whose root is `root`, waiting up to `timeout`. `Ok(None)`
/// when another process still held it when the time ran out.
pub fn acquire(root: &Dir, timeout: Duration) -> io::Result<Option<CacheLock>> {
    let file = root
        .open_own_file(OsStr::new(LOCK_FILE_NAME))
        .map_err(|e| io::Error::new(e.kind(), format!("{LOCK_FILE_NAME}: {e}")))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(CacheLock { _file: file })),
            Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = Dir::open(dir.path()).unwrap();
        let first = acquire(&root, Duration::ZERO).unwrap();
        assert!(first.is_some());
        let second = acquire(&root, Duration::from_millis(120)).unwrap();
        assert!(second.is_none());
        drop(first);
        assert!(acquire(&root, Duration::ZERO).unwrap().is_some());
    }
}
