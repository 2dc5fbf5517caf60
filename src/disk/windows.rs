//! Windows: GetVolumePathNameW finds the volume a (canonical, so junction- and link-free) path
//! lives on, GetVolumeNameForVolumeMountPointW names it uniquely, GetDiskFreeSpaceExW measures
//! it (caller-available bytes, so quotas count), GetVolumeInformationW gives the filesystem.
//!
//! Windows has no handle-relative unlink in std; [`DirHandle`] keeps a path and refuses every
//! reparse point (symbolic link, junction, volume mount point): on Windows a tree can only
//! reach another volume through one, so refusing them keeps deletion on one volume.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::fs::MetadataExt;
use std::path::{Path, PathBuf};

use windows_sys::Win32::Storage::FileSystem::{
    GetDiskFreeSpaceExW, GetDriveTypeW, GetLogicalDrives, GetVolumeInformationW,
    GetVolumeNameForVolumeMountPointW, GetVolumePathNameW,
};

use super::{EntryMeta, Kind, Mount, Space, VolumeId};

const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
const BUF: usize = 1024;

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

pub fn space(path: &Path) -> io::Result<Space> {
    let (mut available, mut total, mut free) = (0u64, 0u64, 0u64);
    // SAFETY: the out-pointers point at live u64s; the input is NUL-terminated.
    let ok =
        unsafe { GetDiskFreeSpaceExW(wide(path).as_ptr(), &mut available, &mut total, &mut free) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Space { total, available })
}

/// Whether this process may create files in the directory `path`: Windows ignores the
/// read-only attribute on directories, so a probe file is created and removed.
pub fn writable(path: &Path) -> bool {
    let probe = path.join(format!(".go-disk-guard-probe-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if created {
        let _ = std::fs::remove_file(&probe);
    }
    created
}

pub fn volume_id(path: &Path) -> io::Result<VolumeId> {
    let root = volume_path(path)?;
    let mut buf = vec![0u16; BUF];
    // SAFETY: the buffer is valid for BUF u16s; the input is NUL-terminated.
    let ok = unsafe {
        GetVolumeNameForVolumeMountPointW(wide(&root).as_ptr(), buf.as_mut_ptr(), BUF as u32)
    };
    let name = if ok != 0 {
        from_wide(&buf)
    } else {
        // Network shares and some virtual drives have no volume GUID: the root names them.
        root.into_os_string()
    };
    Ok(VolumeId(name.to_string_lossy().to_lowercase()))
}

pub fn mount_of(path: &Path, _volume: &VolumeId) -> Option<Mount> {
    let root = volume_path(path).ok()?;
    let mut fs_name = vec![0u16; 64];
    // SAFETY: buffers are valid for the lengths passed; unused out-pointers are null.
    let ok = unsafe {
        GetVolumeInformationW(
            wide(&root).as_ptr(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            fs_name.as_mut_ptr(),
            fs_name.len() as u32,
        )
    };
    let fs_type = if ok != 0 {
        from_wide(&fs_name).to_string_lossy().into_owned()
    } else {
        String::new()
    };
    Some(Mount {
        source: root.display().to_string(),
        mount_point: root,
        fs_type,
    })
}

/// `DRIVE_FIXED` from GetDriveTypeW.
const DRIVE_FIXED: u32 = 3;

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

/// A directory, by path. Every child is checked with `symlink_metadata` before use, and
/// reparse points are never entered.
#[derive(Debug)]
pub struct DirHandle {
    path: PathBuf,
    volume: VolumeId,
}

impl DirHandle {
    pub fn open(path: &Path) -> io::Result<DirHandle> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(DirHandle {
            path: path.to_path_buf(),
            volume: volume_id(path)?,
        })
    }

    pub fn open_child(&self, name: &OsStr) -> io::Result<DirHandle> {
        let path = self.path.join(name);
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                format!("{} is a link, junction or mount point", path.display()),
            ));
        }
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(DirHandle {
            path,
            volume: self.volume.clone(),
        })
    }

    pub fn volume(&self) -> VolumeId {
        self.volume.clone()
    }

    pub fn names(&self) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(&self.path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }

    pub fn meta(&self, name: &OsStr) -> io::Result<EntryMeta> {
        let meta = std::fs::symlink_metadata(self.path.join(name))?;
        let kind = if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            Kind::Link
        } else if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Ok(EntryMeta {
            kind,
            disk_bytes: meta.len(),
            modified: meta.modified()?,
            same_volume: kind != Kind::Link,
        })
    }

    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        let path = self.path.join(name);
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            // A directory link or junction: removing the link itself never touches its target.
            std::fs::remove_dir(path)
        } else {
            std::fs::remove_file(path)
        }
    }

    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        std::fs::remove_dir(self.path.join(name))
    }
}
