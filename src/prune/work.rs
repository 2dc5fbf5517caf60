//! Work directories that killed builds leave behind.
//!
//! The go command compiles in a work directory `go-build<digits>` directly under GOTMPDIR (or
//! the system's temp dir) and removes it when it exits; a build killed by a cancelled job
//! leaves it. A work directory is stale when it is older than the given age and, on Linux, no
//! live process has its working directory, an open file or a mapped file under it (read from
//! `/proc/*/cwd`, `/proc/*/fd` and `/proc/*/maps`); elsewhere age alone decides, with a longer
//! default. Removal follows the pruner's discipline, through [`crate::safefs`]: only real
//! directories with that name pattern, examined and removed relative to the temp dir's
//! handle, links never followed (removed as links inside a work directory), no mount point
//! entered (a bind mount of the same filesystem included: it and the directories holding it
//! are left, and the report says so), without recursion.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::safefs::{self, Dir, Kind};

/// How old a work directory must be, by default, before it counts as stale: where live
/// processes can be checked, and where only age can tell.
pub const DEFAULT_AGE: &str = if cfg!(target_os = "linux") {
    "6h"
} else {
    "24h"
};

/// [`DEFAULT_AGE`] as a duration.
pub fn default_age() -> Duration {
    crate::units::parse_duration(DEFAULT_AGE).expect("DEFAULT_AGE parses")
}

/// Where the go command leaves work directories: GOTMPDIR when set, and the OS temp dir
/// (where they went before GOTMPDIR was set, or where other go commands put them).
pub fn temp_dirs(go: &crate::goenv::GoEnv) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(gotmpdir) = go.get("GOTMPDIR") {
        dirs.push(PathBuf::from(gotmpdir));
    }
    let os_temp = std::env::temp_dir();
    if !dirs.contains(&os_temp) {
        dirs.push(os_temp);
    }
    dirs
}

/// What happened to one work directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkDirFate {
    Removed,
    WouldRemove,
    /// A live process uses it.
    InUse,
    /// Younger than the age asked for.
    Recent,
    /// Removing it failed (see the notes); what could be removed was.
    Failed,
}

/// One work directory.
#[derive(Clone, Debug, Serialize)]
pub struct WorkDir {
    pub path: PathBuf,
    pub files: u64,
    pub bytes: u64,
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub modified: Option<SystemTime>,
    pub fate: WorkDirFate,
    /// The process using it, when in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<u32>,
}

/// What the clean-up saw and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StaleWork {
    pub temp_dirs: Vec<PathBuf>,
    #[serde(serialize_with = "crate::settings::serialize_duration")]
    pub older_than: Duration,
    pub dry_run: bool,
    /// `proc` (live processes checked) or `age` (age alone).
    pub in_use_check: &'static str,
    pub dirs: Vec<WorkDir>,
    pub removed_dirs: u64,
    pub removed_bytes: u64,
    pub notes: Vec<String>,
}

/// Whether `name` is a go command work directory's: `go-build` and digits.
pub fn is_work_dir_name(name: &OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.strip_prefix("go-build"))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the stale work directories directly under each of `temp_dirs`.
pub fn clean(temp_dirs: &[PathBuf], older_than: Duration, dry_run: bool) -> StaleWork {
    let mut out = StaleWork {
        older_than,
        dry_run,
        in_use_check: if cfg!(target_os = "linux") {
            "proc"
        } else {
            "age"
        },
        ..StaleWork::default()
    };
    let seen = distinct_real_dirs(temp_dirs);
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let users = live_paths(&mut out.notes);
    for temp in &seen {
        out.temp_dirs.push(temp.clone());
        clean_temp_dir(temp, cutoff, &users, dry_run, &mut out);
    }
    out
}

/// The real paths of `dirs` that exist, each once, in the order first met.
fn distinct_real_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    for dir in dirs {
        let Ok(real) = std::fs::canonicalize(dir) else {
            continue;
        };
        if !seen.contains(&real) {
            seen.push(real);
        }
    }
    seen
}

/// Goes through the work directories directly under `temp`, in name order, into `out`:
/// removes (or, in a dry run, counts) those last changed before `cutoff` that none of `users`
/// holds.
fn clean_temp_dir(
    temp: &Path,
    cutoff: SystemTime,
    users: &[(u32, PathBuf)],
    dry_run: bool,
    out: &mut StaleWork,
) {
    let handle = match Dir::open(temp) {
        Ok(h) => h,
        Err(e) => {
            out.notes
                .push(format!("{}: {e}; left alone", crate::escape::path(temp)));
            return;
        }
    };
    let mut names = match handle.names() {
        Ok(n) => n,
        Err(e) => {
            out.notes
                .push(format!("{}: {e}; left alone", crate::escape::path(temp)));
            return;
        }
    };
    names.sort();
    for name in names.into_iter().filter(|n| is_work_dir_name(n)) {
        let notes = &mut out.notes;
        let Some(dir) = clean_work_dir(&handle, temp, &name, cutoff, users, dry_run, notes) else {
            continue;
        };
        if matches!(dir.fate, WorkDirFate::Removed | WorkDirFate::WouldRemove) {
            out.removed_dirs += 1;
            out.removed_bytes = out.removed_bytes.saturating_add(dir.bytes);
        }
        out.dirs.push(dir);
    }
}

/// The work directory `name` in `handle` (the temp dir `temp`) and its fate: recent, in use,
/// removed (or, in a dry run, to be), or failed. `None` when it is no directory of its own
/// (a link, a file or a mount point) or cannot be looked at.
fn clean_work_dir(
    handle: &Dir,
    temp: &Path,
    name: &OsStr,
    cutoff: SystemTime,
    users: &[(u32, PathBuf)],
    dry_run: bool,
    notes: &mut Vec<String>,
) -> Option<WorkDir> {
    let path = temp.join(name);
    let meta = handle.meta(name).ok()?;
    // A link (even to a directory), a file or a mount point is not a work dir.
    if meta.kind != Kind::Dir || !meta.same_mount {
        return None;
    }
    let (files, bytes) = safefs::usage(handle, name)
        .map(|u| (u.files, u.bytes))
        .unwrap_or((0, 0));
    let mut dir = WorkDir {
        path: path.clone(),
        files,
        bytes,
        modified: Some(meta.modified),
        fate: WorkDirFate::Recent,
        used_by: None,
    };
    if meta.modified >= cutoff {
        return Some(dir);
    }
    if let Some(pid) = users
        .iter()
        .find(|(_, p)| p.starts_with(&path))
        .map(|u| u.0)
    {
        dir.fate = WorkDirFate::InUse;
        dir.used_by = Some(pid);
        return Some(dir);
    }
    dir.fate = if dry_run {
        WorkDirFate::WouldRemove
    } else {
        remove_work_dir(handle, name, &path, notes)
    };
    Some(dir)
}

/// Removes the work directory `name` in `handle` (at `path`), noting in `notes` what was
/// left and why.
fn remove_work_dir(
    handle: &Dir,
    name: &OsStr,
    path: &Path,
    notes: &mut Vec<String>,
) -> WorkDirFate {
    match safefs::remove_tree(handle, name) {
        Ok(removed) if removed.complete() => WorkDirFate::Removed,
        Ok(removed) => {
            for left in &removed.left {
                notes.push(format!(
                    "{}: {}; left alone",
                    crate::escape::path(&path.join(&left.path)),
                    left.why
                ));
            }
            WorkDirFate::Failed
        }
        Err(e) => {
            notes.push(format!("{}: {e}", crate::escape::path(path)));
            WorkDirFate::Failed
        }
    }
}

/// Every path a live process holds: working directories, open files and mapped files, with
/// the process id. Processes that cannot be read (another user's) are counted in a note.
#[cfg(target_os = "linux")]
fn live_paths(notes: &mut Vec<String>) -> Vec<(u32, PathBuf)> {
    let mut out = Vec::new();
    let mut unreadable = 0u32;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        notes.push("/proc cannot be read: work directories are judged by age alone".into());
        return out;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let base = entry.path();
        match std::fs::read_link(base.join("cwd")) {
            Ok(cwd) => out.push((pid, cwd)),
            Err(_) => unreadable += 1,
        }
        if let Ok(fds) = std::fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    out.push((pid, target));
                }
            }
        }
        if let Ok(maps) = std::fs::read_to_string(base.join("maps")) {
            out.extend(parse_maps(&maps).map(|p| (pid, p)));
        }
    }
    if unreadable > 0 {
        notes.push(format!(
            "{unreadable} processes could not be inspected (another user's); their work \
             directories are theirs to clean"
        ));
    }
    out
}

#[cfg(not(target_os = "linux"))]
fn live_paths(_notes: &mut Vec<String>) -> Vec<(u32, PathBuf)> {
    Vec::new()
}

/// The file paths of `/proc/PID/maps` lines (the sixth field, when it is a path).
pub fn parse_maps(maps: &str) -> impl Iterator<Item = PathBuf> + '_ {
    maps.lines().filter_map(|line| {
        let mut fields = line.splitn(6, ' ');
        let path = fields.nth(5)?.trim_start();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        path.starts_with('/').then(|| Path::new(path).to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_dir_names() {
        for yes in ["go-build1", "go-build1234567890"] {
            assert!(is_work_dir_name(OsStr::new(yes)), "{yes}");
        }
        for no in [
            "go-build",
            "go-buildx",
            "go-build12a",
            "go-build-1",
            "gobuild1",
            "x",
        ] {
            assert!(!is_work_dir_name(OsStr::new(no)), "{no}");
        }
    }

    #[test]
    fn maps_paths() {
        let maps = "\
55d4a1a00000-55d4a1a22000 r--p 00000000 08:01 1234                       /usr/bin/sleep
7f00000000-7f00001000 rw-p 00000000 00:00 0 
7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]
7f10000000-7f10001000 r-xp 00000000 00:2a 99                         /tmp/go-build42/b001/exe/a.out (deleted)
7f20000000-7f20001000 r--p 00000000 00:2a 98                         /tmp/with space/lib.so
";
        let paths: Vec<PathBuf> = parse_maps(maps).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/usr/bin/sleep"),
                PathBuf::from("/tmp/go-build42/b001/exe/a.out"),
                PathBuf::from("/tmp/with space/lib.so"),
            ]
        );
    }
}
