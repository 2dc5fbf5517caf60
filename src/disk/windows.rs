//! Windows: GetVolumePathNameW finds the volume a (canonical, so junction- and link-free) path
//! lives on, GetVolumeNameForVolumeMountPointW names it uniquely (the volume serial does when
//! it has no GUID name), GetDiskFreeSpaceExW measures it (caller-available bytes, so quotas
//! count), GetVolumeInformationW gives the filesystem, and FSCTL_GET_REPARSE_POINT tells a
//! symbolic link, a junction and a volume mount point apart.
//!
//! Deleting and writing are not this module's: they go through `crate::safefs`.

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::fs::MetadataExt;
use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE,
    FILE_SHARE_READ, FILE_SHARE_WRITE, GetDiskFreeSpaceExW, GetDriveTypeW, GetLogicalDrives,
    GetVolumeInformationW, GetVolumeNameForVolumeMountPointW, GetVolumePathNameW, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::DeviceIoControl;

use super::reparse::{self, Reparse};
use super::{Mount, Space, VolumeId};

const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
/// `FSCTL_GET_REPARSE_POINT`.
const FSCTL_GET_REPARSE_POINT: u32 = 0x0009_00A8;
/// `DRIVE_FIXED` and `DRIVE_REMOTE` from GetDriveTypeW.
const DRIVE_FIXED: u32 = 3;
const DRIVE_REMOTE: u32 = 4;
const BUF: usize = 1024;
/// Paths at least this long keep their `\\?\` prefix: without it they would be too long.
const MAX_PATH: usize = 260;

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

fn from_wide(buf: &[u16]) -> OsString {
    let len = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    OsString::from_wide(&buf[..len])
}

/// The root of the volume holding `path`, e.g. `C:\` or `D:\mounts\data\`.
fn volume_path(path: &Path) -> io::Result<PathBuf> {
    let mut buf = vec![0u16; BUF];
    // SAFETY: both buffers are valid for the lengths passed; the input is NUL-terminated.
    let ok = unsafe { GetVolumePathNameW(wide(path).as_ptr(), buf.as_mut_ptr(), BUF as u32) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PathBuf::from(from_wide(&buf)))
}

/// `\\?\C:\dir` as `C:\dir` and `\\?\UNC\server\share` as `\\server\share`, the forms users
/// know, unless the path needs the prefix (too long for the classic form).
pub fn simplify(path: &Path) -> PathBuf {
    let Some(s) = path.to_str() else {
        return path.to_path_buf();
    };
    let plain = if let Some(rest) = s.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = s.strip_prefix(r"\\?\") {
        let b = rest.as_bytes();
        if b.len() < 2 || !b[0].is_ascii_alphabetic() || b[1] != b':' {
            return path.to_path_buf();
        }
        rest.to_string()
    } else {
        return path.to_path_buf();
    };
    if plain.len() >= MAX_PATH {
        return path.to_path_buf();
    }
    PathBuf::from(plain)
}

/// The canonical path (junctions, links and mount points followed), in its simple form.
pub fn canonicalize(path: &Path) -> io::Result<PathBuf> {
    std::fs::canonicalize(path).map(|p| simplify(&p))
}

pub fn space(path: &Path) -> io::Result<Space> {
    let (mut available, mut total, mut free) = (0u64, 0u64, 0u64);
    // SAFETY: the out-pointers point at live u64s; the input is NUL-terminated.
    let ok =
        unsafe { GetDiskFreeSpaceExW(wide(path).as_ptr(), &mut available, &mut total, &mut free) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Space {
        total,
        available,
        ..Space::default()
    })
}

/// The volume's GUID path (`\\?\Volume{…}\`) when it has one; otherwise (network shares,
/// some virtual drives) its root and serial number, which tell C: and D: apart all the same.
pub fn volume_id(path: &Path) -> io::Result<VolumeId> {
    let root = simplify(&volume_path(path)?);
    let mut buf = vec![0u16; BUF];
    // SAFETY: the buffer is valid for BUF u16s; the input is NUL-terminated.
    let ok = unsafe {
        GetVolumeNameForVolumeMountPointW(wide(&root).as_ptr(), buf.as_mut_ptr(), BUF as u32)
    };
    let name = if ok != 0 {
        from_wide(&buf).to_string_lossy().into_owned()
    } else {
        let serial = volume_information(&root).map_or(0, |(serial, _)| serial);
        format!("{}#{serial:08x}", root.display())
    };
    Ok(VolumeId(name.to_lowercase()))
}

/// The volume serial number and filesystem name of the volume whose root is `root`.
fn volume_information(root: &Path) -> Option<(u32, String)> {
    let mut fs_name = vec![0u16; 64];
    let mut serial = 0u32;
    // SAFETY: buffers are valid for the lengths passed; unused out-pointers are null.
    let ok = unsafe {
        GetVolumeInformationW(
            wide(root).as_ptr(),
            std::ptr::null_mut(),
            0,
            &mut serial,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            fs_name.as_mut_ptr(),
            fs_name.len() as u32,
        )
    };
    (ok != 0).then(|| (serial, from_wide(&fs_name).to_string_lossy().into_owned()))
}

pub fn mount_of(path: &Path, _volume: &VolumeId) -> Option<Mount> {
    let root = simplify(&volume_path(path).ok()?);
    let fs_type = volume_information(&root).map_or_else(String::new, |(_, fs)| fs);
    // SAFETY: the input is NUL-terminated.
    let remote = unsafe { GetDriveTypeW(wide(&root).as_ptr()) } == DRIVE_REMOTE;
    Some(Mount {
        source: root.display().to_string(),
        network: remote || root.to_str().is_some_and(reparse::is_unc),
        mount_point: root,
        fs_type,
    })
}

/// What the reparse point at `path` is, or `None` when `path` is no reparse point.
pub fn read_link(path: &Path) -> io::Result<Option<Reparse>> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT == 0 {
        return Ok(None);
    }
    // SAFETY: the name is NUL-terminated; no security attributes or template.
    let handle = unsafe {
        CreateFileW(
            wide(path).as_ptr(),
            0,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; reparse::MAX_BUFFER];
    let mut returned = 0u32;
    // SAFETY: the handle is open; the output buffer is valid for its length.
    let ok = unsafe {
        DeviceIoControl(
            handle,
            FSCTL_GET_REPARSE_POINT,
            std::ptr::null(),
            0,
            buf.as_mut_ptr().cast(),
            buf.len() as u32,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    let result = if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        reparse::parse(&buf[..returned as usize])
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    };
    // SAFETY: the handle is open and closed once.
    unsafe { CloseHandle(handle) };
    result
}

pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

/// The fixed drives (`C:\`, `D:\`, …): where Go's directories may be moved.
pub fn local_disks() -> Vec<Mount> {
    // SAFETY: no arguments; returns a bit mask of drive letters.
    let mask = unsafe { GetLogicalDrives() };
    (0..26u8)
        .filter(|i| mask & (1 << i) != 0)
        .filter_map(|i| {
            let root = PathBuf::from(format!("{}:\\", (b'A' + i) as char));
            // SAFETY: the input is NUL-terminated.
            let kind = unsafe { GetDriveTypeW(wide(&root).as_ptr()) };
            (kind == DRIVE_FIXED).then(|| mount_of(&root, &VolumeId(String::new())))?
        })
        .collect()
}
