//! Unix: statvfs for space, `st_dev` for identity, `/proc/self/mountinfo` (Linux) or the
//! system's mount list (elsewhere) for the mount, and `openat`/`unlinkat` relative to
//! directory handles for deletion.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags};

use super::reparse::Reparse;
use super::{EntryMeta, Kind, Mount, Space, VolumeId};

/// The canonical path: links followed, `.` and `..` gone.
pub fn canonicalize(path: &Path) -> io::Result<std::path::PathBuf> {
    std::fs::canonicalize(path)
}

/// Where the symbolic link at `path` points, or `None` when `path` is no link.
pub fn read_link(path: &Path) -> io::Result<Option<Reparse>> {
    if !std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Ok(None);
    }
    let target = std::fs::read_link(path)?;
    Ok(Some(Reparse::Symlink {
        relative: target.is_relative(),
        target: target.to_string_lossy().into_owned(),
    }))
}

/// Unix lets a file be unlinked while it is open: nothing is ever held open against deletion.
pub fn is_held_open(_error: &io::Error) -> bool {
    false
}

/// Removes a file or a link (never its target).
pub fn remove_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

pub fn touch(path: &Path, when: std::time::SystemTime) -> io::Result<()> {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = rustix::fs::Timespec {
        tv_sec: since.as_secs() as _,
        tv_nsec: since.subsec_nanos() as _,
    };
    let times = rustix::fs::Timestamps {
        last_access: stamp,
        last_modification: stamp,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    match meta.blocks().saturating_mul(512) {
        0 => meta.len(),
        allocated => allocated,
    }
}

pub fn space(path: &Path) -> io::Result<Space> {
    let st = rustix::fs::statvfs(path)?;
    let unit = st.f_frsize as u64;
    Ok(Space {
        total: (st.f_blocks as u64).saturating_mul(unit),
        available: (st.f_bavail as u64).saturating_mul(unit),
        ..Space::default()
    })
}

/// Whether this process may create files in the directory `path` (`access(W_OK)`: honours
/// read-only mounts even for root).
pub fn writable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
}

pub fn volume_id(path: &Path) -> io::Result<VolumeId> {
    let st = rustix::fs::stat(path)?;
    Ok(dev_id(st.st_dev as u64))
}

fn dev_id(dev: u64) -> VolumeId {
    let dev = dev as rustix::fs::Dev;
    VolumeId(format!(
        "{}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    ))
}

/// One line of `/proc/self/mountinfo`.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct MountInfo {
    /// `major:minor`, as in [`VolumeId`].
    dev: String,
    mount: Mount,
    read_only: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn mountinfo() -> Vec<MountInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rfields: Vec<&str> = right.split(' ').collect();
        if fields.len() < 6 || rfields.is_empty() {
            continue;
        }
        out.push(MountInfo {
            dev: fields[2].to_string(),
            read_only: fields[5].split(',').any(|o| o == "ro"),
            mount: Mount {
                mount_point: unescape_mountinfo(fields[4]).into(),
                fs_type: rfields[0].to_string(),
                network: super::is_network_fs(rfields[0]),
                source: rfields
                    .get(1)
                    .map(|s| unescape_mountinfo(s))
                    .unwrap_or_default(),
            },
        });
    }
    out
}

/// The mount holding `path` (already canonical): among mounts of the same device, the one
/// with the longest mount point that is a prefix of `path` (bind mounts share a device).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn mount_of(path: &Path, volume: &VolumeId) -> Option<Mount> {
    mountinfo()
        .into_iter()
        .filter(|m| path.starts_with(&m.mount.mount_point))
        // Later lines win ties: a later mount on the same point hides the earlier one.
        .max_by_key(|m| (m.dev == volume.0, m.mount.mount_point.as_os_str().len()))
        .map(|m| m.mount)
}

/// Filesystems on local disks: where Go's directories may be moved.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DISK_FS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "ntfs", "ntfs3", "bcachefs",
];

/// Writable mounts of local disk filesystems, one per device (the shortest mount point),
/// leaving out system areas such as `/boot`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn local_disks() -> Vec<Mount> {
    let mut by_dev: Vec<MountInfo> = Vec::new();
    for m in mountinfo() {
        let point = &m.mount.mount_point;
        let system_area = [
            "/boot",
            "/snap",
            "/proc",
            "/sys",
            "/dev",
            "/run",
            "/var/lib/docker",
        ]
        .iter()
        .any(|a| point.starts_with(a));
        if m.read_only || system_area || !DISK_FS.contains(&m.mount.fs_type.as_str()) {
            continue;
        }
        match by_dev.iter_mut().find(|b| b.dev == m.dev) {
            Some(b) if b.mount.mount_point.as_os_str().len() > point.as_os_str().len() => *b = m,
            Some(_) => {}
            None => by_dev.push(m),
        }
    }
    by_dev.into_iter().map(|m| m.mount).collect()
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Elsewhere (macOS, the BSDs): local, writable, fixed disks from the system's list.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn local_disks() -> Vec<Mount> {
    let disks = sysinfo::Disks::new_with_refreshed_list();
    disks
        .list()
        .iter()
        .filter(|d| !d.is_removable() && !d.is_read_only())
        .map(|d| Mount {
            mount_point: d.mount_point().to_path_buf(),
            fs_type: d.file_system().to_string_lossy().into_owned(),
            network: super::is_network_fs(&d.file_system().to_string_lossy()),
            source: d.name().to_string_lossy().into_owned(),
        })
        .collect()
}

/// Elsewhere (macOS, the BSDs): the longest mount point of the system's list that holds `path`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn mount_of(path: &Path, _volume: &VolumeId) -> Option<Mount> {
    let disks = sysinfo::Disks::new_with_refreshed_list();
    disks
        .list()
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| Mount {
            mount_point: d.mount_point().to_path_buf(),
            fs_type: d.file_system().to_string_lossy().into_owned(),
            network: super::is_network_fs(&d.file_system().to_string_lossy()),
            source: d.name().to_string_lossy().into_owned(),
        })
}

/// An open directory. Children are opened, read and removed relative to it, never following
/// a link, so a directory swapped for a link after it was opened cannot redirect anything.
#[derive(Debug)]
pub struct DirHandle {
    fd: OwnedFd,
    dev: u64,
}

impl DirHandle {
    /// Opens the directory at `path`. Links in `path` itself are followed: callers resolve
    /// and verify the root before opening it.
    pub fn open(path: &Path) -> io::Result<DirHandle> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let dev = rustix::fs::fstat(&fd)?.st_dev as u64;
        Ok(DirHandle { fd, dev })
    }

    /// Opens the child directory `name`. Fails if it is a link (`ELOOP`), not a directory, or
    /// on another volume (a mount inside the tree).
    pub fn open_child(&self, name: &OsStr) -> io::Result<DirHandle> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            // O_NOFOLLOW on a link fails with ELOOP, or with ENOTDIR where O_DIRECTORY is
            // checked first: say which.
            let is_link = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode as _) == FileType::Symlink);
            if is_link {
                io::Error::other("is a symbolic link")
            } else {
                io::Error::from(e)
            }
        })?;
        let dev = rustix::fs::fstat(&fd)?.st_dev as u64;
        if dev != self.dev {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                format!("{} is on another volume", Path::new(name).display()),
            ));
        }
        Ok(DirHandle { fd, dev })
    }

    /// The volume this directory is on.
    pub fn volume(&self) -> VolumeId {
        dev_id(self.dev)
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        for entry in Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        Ok(out)
    }

    /// Metadata of the child `name`, not following a link.
    pub fn meta(&self, name: &OsStr) -> io::Result<EntryMeta> {
        let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = match FileType::from_raw_mode(st.st_mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Link,
            _ => Kind::Other,
        };
        let secs = st.st_mtime as i64;
        let nanos = st.st_mtime_nsec as u32;
        let modified = if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs as u64, nanos)
        } else {
            UNIX_EPOCH
        };
        let allocated = (st.st_blocks as u64).saturating_mul(512);
        Ok(EntryMeta {
            kind,
            disk_bytes: if allocated > 0 {
                allocated
            } else {
                st.st_size as u64
            },
            modified,
            same_volume: st.st_dev as u64 == self.dev,
        })
    }

    /// Removes the non-directory child `name` (a link is removed, never followed).
    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?;
        Ok(())
    }

    /// Removes the empty child directory `name`.
    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?;
        Ok(())
    }
}
