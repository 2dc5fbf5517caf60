//! Unix: statvfs for space, `st_dev` for identity, `/proc/self/mountinfo` (Linux) or the
//! system's mount list (elsewhere) for the mount, and `openat`/`unlinkat` relative to
//! directory handles for deletion.

use std::io;
use std::path::Path;

use super::reparse::Reparse;
use super::{Mount, Space, VolumeId};

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
    let text = std::fs::read("/proc/self/mountinfo").unwrap_or_default();
    crate::safefs::mountinfo::parse(&text)
        .into_iter()
        .map(|m| MountInfo {
            dev: m.dev,
            read_only: m.read_only,
            mount: Mount {
                mount_point: m.mount_point.into(),
                network: super::is_network_fs(&m.fs_type),
                fs_type: m.fs_type,
                source: m.source.to_string_lossy().into_owned(),
            },
        })
        .collect()
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
