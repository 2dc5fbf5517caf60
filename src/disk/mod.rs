//! Volumes: free space, identity, and the mount that holds a path.
//!
//! A path is measured where it finally lives: links are followed (a GOCACHE that is a symlink
//! into `/mnt` is measured on `/mnt`), and a path that does not exist yet is measured at its
//! nearest existing ancestor, where it would be created. Paths with the same [`VolumeId`] are
//! one volume and are measured once.
//!
//! The platform code (statvfs and `/proc/self/mountinfo` on Unix, GetDiskFreeSpaceExW,
//! GetVolumePathNameW and FSCTL_GET_REPARSE_POINT on Windows) sits behind the few functions of
//! `sys`. This module only measures and reads: deleting and writing go through
//! [`crate::safefs`]. [`reparse`] decodes Windows reparse points, and [`quota`] the kernel's
//! answer on a user's quota (available space is the smaller of the volume's and the quota's);
//! both are pure, so they are tested everywhere.

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "windows.rs"]
mod sys;

pub mod quota;
pub mod reparse;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use reparse::Reparse;

/// Filesystem types (as Linux and macOS name them) that are network filesystems.
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "davfs",
    "fuse.rclone",
    "webdav",
];

/// Whether a filesystem type keeps its files in memory (and so competes with the build for
/// RAM, and is usually small).
pub fn is_ram_fs(fs_type: &str) -> bool {
    matches!(fs_type, "tmpfs" | "ramfs")
}

/// Whether a filesystem type names a network filesystem.
pub fn is_network_fs(fs_type: &str) -> bool {
    NETWORK_FS.contains(&fs_type)
}

/// Identifies a volume: the device number on Unix, the volume path on Windows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VolumeId(pub String);

/// Space on a volume, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Space {
    /// The volume's size.
    pub total: u64,
    /// What this user can still write: the smaller of the volume's available space (statvfs
    /// `f_bavail`) and what the user's quota leaves (Linux `quotactl_fd`); on Windows the
    /// caller-available bytes, which respect quotas already.
    pub available: u64,
    /// What the quota leaves, when the user has one on this volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_remaining: Option<u64>,
    /// Which of the two `available` is.
    pub limited_by: quota::Binding,
}

impl Space {
    /// Used share of the volume in percent, counting reserved blocks as used (as `df` does).
    pub fn used_percent(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        100.0 * (self.total.saturating_sub(self.available)) as f64 / self.total as f64
    }
}

/// Why quotas could not be read, the first time that happened in this process: the report
/// says so once.
pub fn quota_unreadable() -> Option<String> {
    QUOTA_UNREADABLE.get().cloned()
}

static QUOTA_UNREADABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The space this user has on a volume whose own available space is `volume_available`,
/// asking for the user's quota on the filesystem holding `path`.
fn with_quota(path: &Path, total: u64, volume_available: u64) -> Space {
    #[cfg(target_os = "linux")]
    let quota = match quota::linux::user_quota(path) {
        Ok(q) => q,
        Err(quota::Unreadable::Unsupported(why) | quota::Unreadable::Failed(why)) => {
            let _ = QUOTA_UNREADABLE.set(why);
            None
        }
    };
    #[cfg(not(target_os = "linux"))]
    let quota = {
        let _ = path;
        None
    };
    let (available, limited_by) = quota::effective(volume_available, quota);
    Space {
        total,
        available,
        quota_remaining: quota.map(|q| q.remaining()),
        limited_by,
    }
}

/// Where a volume is mounted and what it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// The mount point (Unix) or volume root (Windows, e.g. `C:\`).
    pub mount_point: PathBuf,
    /// The filesystem type: `ext4`, `tmpfs`, `apfs`, `NTFS`, …; empty when unknown.
    pub fs_type: String,
    /// The mounted device or source, when known.
    pub source: String,
    /// Whether it is a network filesystem (NFS, SMB, a Windows network drive or share, …).
    pub network: bool,
}

impl Mount {
    /// Whether the volume keeps its files in memory (tmpfs, ramfs).
    pub fn ram_backed(&self) -> bool {
        is_ram_fs(&self.fs_type)
    }
}

/// What measuring one path found.
#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    /// The path as given.
    pub path: PathBuf,
    /// The existing path that was measured: the path itself or its nearest existing ancestor,
    /// with links resolved.
    pub resolved: PathBuf,
    /// Whether the path itself exists.
    pub exists: bool,
    /// Links (symbolic links, junctions, volume mount points) among the path's components.
    pub links: Vec<Link>,
    pub volume: VolumeId,
    pub mount: Mount,
    pub space: Space,
}

/// Measures the volume holding `path`.
pub fn probe(path: &Path) -> io::Result<Probe> {
    let (resolved, exists) = nearest_existing(path)?;
    let volume = sys::volume_id(&resolved)?;
    let space = space(&resolved)?;
    let mount = sys::mount_of(&resolved, &volume).unwrap_or_default();
    Ok(Probe {
        path: path.to_path_buf(),
        resolved,
        exists,
        links: links_on(path),
        volume,
        mount,
        space,
    })
}

/// Local, writable, fixed disks (mount points on Unix, drive roots on Windows): the places
/// Go's directories may be moved to.
pub fn local_disks() -> Vec<Mount> {
    sys::local_disks()
}

/// Whether files can be created in the existing directory `path` (asked through the safe
/// filesystem layer: on Windows that creates and removes a probe file).
pub fn writable(path: &Path) -> bool {
    crate::safefs::Dir::open(path).is_ok_and(|d| d.writable())
}

/// Measures free space again at an already resolved path (cheap: one statvfs).
pub fn space(resolved: &Path) -> io::Result<Space> {
    let volume = sys::space(resolved)?;
    Ok(with_quota(resolved, volume.total, volume.available))
}

/// A link met on the way to a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The link itself.
    pub path: PathBuf,
    #[serde(flatten)]
    pub reparse: Reparse,
}

/// The links among the existing components of `path`, outermost first, each read without
/// following it. Where they lead is in [`Probe::resolved`]; this says how it got there.
pub fn links_on(path: &Path) -> Vec<Link> {
    let Ok(absolute) = std::path::absolute(path) else {
        return Vec::new();
    };
    let mut components: Vec<&Path> = absolute.ancestors().collect();
    components.reverse();
    components
        .into_iter()
        .filter_map(|c| match sys::read_link(c) {
            Ok(Some(reparse)) => Some(Link {
                path: c.to_path_buf(),
                reparse,
            }),
            _ => None,
        })
        .collect()
}

/// Bytes a file occupies on disk: its allocated blocks where the system reports them (as
/// `du` counts), else its length.
pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    sys::allocated_bytes(meta)
}

/// Where `path` really is, whether or not it exists yet: its canonical form, or the canonical
/// form of its nearest existing ancestor followed by the rest. For comparing paths.
pub fn real_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .ancestors()
        .find_map(|ancestor| {
            let rest = absolute.strip_prefix(ancestor).ok()?;
            sys::canonicalize(ancestor).ok().map(|real| real.join(rest))
        })
        .unwrap_or(absolute)
}

/// The canonical form of `path` or of its nearest existing ancestor, and whether `path` exists.
fn nearest_existing(path: &Path) -> io::Result<(PathBuf, bool)> {
    let absolute = std::path::absolute(path)?;
    let mut exists = true;
    for candidate in absolute.ancestors() {
        match sys::canonicalize(candidate) {
            Ok(real) => return Ok((real, exists)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => exists = false,
            // A dangling link, or a component that is a file: try the parent.
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => exists = false,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("resolving {}: {e}", candidate.display()),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no part of {} exists", path.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_measured_at_its_nearest_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("a/b/c");
        let p = probe(&missing).unwrap();
        assert!(!p.exists);
        assert_eq!(
            std::fs::canonicalize(&p.resolved).unwrap(),
            std::fs::canonicalize(dir.path()).unwrap()
        );
        assert!(p.space.total > 0);
        assert!(p.space.available <= p.space.total);
        assert!(!p.mount.mount_point.as_os_str().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn real_paths_resolve_links_in_existing_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        assert_eq!(
            real_path(&dir.path().join("link/not/yet")),
            real.join("not/yet")
        );
        assert_eq!(real_path(&dir.path().join("link")), real);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_to_the_real_volume() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/proc", &link).unwrap();
        let p = probe(&link).unwrap();
        assert_eq!(p.resolved, Path::new("/proc"));
        assert_eq!(p.mount.fs_type, "proc");
    }
}
