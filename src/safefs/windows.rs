//! Windows: a directory is kept as its path and the identity (volume serial number and file
//! index) of the directory opened there; every child is examined without following it
//! (`FILE_FLAG_OPEN_REPARSE_POINT`), and every reparse point (symbolic link, junction, volume
//! mount point) is refused as a directory and removed only as a link: on Windows a tree
//! reaches another volume only through one. A file another process holds open without
//! `FILE_SHARE_DELETE` cannot be deleted: that error is told apart ([`is_held_open`]).
//! Read-only files (the module cache's) have their attribute cleared before deletion.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_READONLY, FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    FILE_WRITE_ATTRIBUTES, GetFileInformationByHandle, SetFileAttributesW,
};

use super::{FileId, Kind, Meta, Open, Refusal, check_name};

const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x10;
const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Whether an error means another process holds the file open without sharing deletion.
pub fn is_held_open(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == ERROR_SHARING_VIOLATION as i32 || code == ERROR_LOCK_VIOLATION as i32
    )
}

/// Sets an open file's read-only attribute from Unix permission bits (no owner write bit:
/// read-only).
pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    let mut perms = file.metadata()?.permissions();
    perms.set_readonly(mode & 0o200 == 0);
    file.set_permissions(perms)
}

/// Opens `path` itself (a link or junction as such), for its identity and attributes.
fn open_no_follow(path: &Path, access: u32) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .access_mode(access)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Identity and attributes of an open handle.
fn info(file: &File) -> io::Result<(FileId, u32, u64)> {
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is a valid value to be overwritten.
    let mut i: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for as long as `file` lives; `i` is a valid out-pointer.
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut i) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let index = (u128::from(i.nFileIndexHigh) << 32) | u128::from(i.nFileIndexLow);
    let links = u64::from(i.nNumberOfLinks);
    Ok((
        FileId {
            volume: u64::from(i.dwVolumeSerialNumber),
            file: index,
        },
        i.dwFileAttributes,
        links,
    ))
}

/// An open directory, kept by path and identity. See the module documentation.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    id: FileId,
}

impl Dir {
    /// Handles are not reopened through `..` on Windows: a walk keeps every level's.
    pub const CAN_REOPEN_PARENT: bool = false;

    /// Opens the directory at `path` as the top of a tree to work in (links in `path`
    /// followed: the caller chose it).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_dir() {
            return Err(Refusal::NotADirectory.error());
        }
        let file = std::fs::OpenOptions::new()
            .access_mode(0)
            .share_mode(SHARE_ALL)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)?;
        let (id, ..) = info(&file)?;
        Ok(Dir {
            path: path.to_path_buf(),
            id,
        })
    }

    /// Opens the directory at `path`, refusing it if it is itself a reparse point.
    pub fn open_no_follow(path: &Path) -> io::Result<Dir> {
        let file = open_no_follow(path, 0)?;
        let (id, attributes, _) = info(&file)?;
        if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(Refusal::Link.error());
        }
        if attributes & FILE_ATTRIBUTE_DIRECTORY == 0 {
            return Err(Refusal::NotADirectory.error());
        }
        Ok(Dir {
            path: path.to_path_buf(),
            id,
        })
    }

    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            path: self.path.clone(),
            id: self.id,
        })
    }

    pub fn id(&self) -> FileId {
        self.id
    }

    fn child(&self, name: &OsStr) -> io::Result<PathBuf> {
        check_name(name)?;
        // The directory must still be the one opened.
        let (id, ..) = info(&open_no_follow(&self.path, 0)?)?;
        if id != self.id {
            return Err(Refusal::Moved.error());
        }
        Ok(self.path.join(name))
    }

    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let path = self.child(name)?;
        let file = open_no_follow(&path, 0)?;
        let (id, attributes, _) = info(&file)?;
        if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(Refusal::Link.error());
        }
        if attributes & FILE_ATTRIBUTE_DIRECTORY == 0 {
            return Err(Refusal::NotADirectory.error());
        }
        if id.volume != self.id.volume {
            return Err(Refusal::MountPoint.error());
        }
        Ok(Dir { path, id })
    }

    pub fn open_parent(&self) -> io::Result<Dir> {
        let parent = self
            .path
            .parent()
            .ok_or_else(|| io::Error::other("a volume's root has no parent"))?;
        Dir::open_no_follow(parent)
    }

    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        self.each_name(|n| out.push(n.to_os_string()))?;
        Ok(out)
    }

    pub fn each_name(&self, mut f: impl FnMut(&OsStr)) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.path)? {
            f(&entry?.file_name());
        }
        Ok(())
    }

    pub fn meta(&self, name: &OsStr) -> io::Result<Meta> {
        let path = self.child(name)?;
        let meta = std::fs::symlink_metadata(&path)?;
        let attributes = meta.file_attributes();
        let kind = if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            Kind::Link
        } else if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        let (id, _, links) = open_no_follow(&path, 0)
            .and_then(|f| info(&f))
            .unwrap_or((self.id, attributes, 1));
        Ok(Meta {
            kind,
            disk_bytes: meta.len(),
            len: meta.len(),
            modified: meta.modified()?,
            same_mount: kind != Kind::Link && id.volume == self.id.volume,
            id,
            links,
        })
    }

    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        let path = self.child(name)?;
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
                // A directory link or junction: removing the link itself never touches its
                // target.
                return std::fs::remove_dir(path);
            }
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
                let attributes = meta.file_attributes();
                if attributes & FILE_ATTRIBUTE_READONLY == 0
                    || attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
                {
                    return Err(e);
                }
                // SAFETY: the name is NUL-terminated.
                let ok = unsafe {
                    SetFileAttributesW(wide(&path).as_ptr(), attributes & !FILE_ATTRIBUTE_READONLY)
                };
                if ok == 0 {
                    return Err(e);
                }
                std::fs::remove_file(path)
            }
            other => other,
        }
    }

    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        let path = self.child(name)?;
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(Refusal::Link.error());
        }
        std::fs::remove_dir(path)
    }

    pub fn create_dir(&self, name: &OsStr) -> io::Result<()> {
        std::fs::create_dir(self.child(name)?)
    }

    pub fn open_file(&self, name: &OsStr, how: Open) -> io::Result<File> {
        let path = self.child(name)?;
        let mut options = std::fs::OpenOptions::new();
        match how {
            Open::Read => options.read(true),
            Open::ReadWrite => options.read(true).write(true).create(true),
            Open::CreateNew => options.write(true).create_new(true),
        };
        let file = options
            .share_mode(SHARE_ALL)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(&path)?;
        let (id, attributes, links) = info(&file)?;
        if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(Refusal::Link.error());
        }
        if attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
            return Err(Refusal::NotAFile.error());
        }
        if id.volume != self.id.volume {
            return Err(Refusal::MountPoint.error());
        }
        if links > 1 && how != Open::Read {
            return Err(Refusal::HardLinked.error());
        }
        Ok(file)
    }

    /// As on Unix: `name` opened as one of the program's own state files, a link or hard link
    /// planted under the name removed as a name and the file made afresh.
    pub fn open_own_file(&self, name: &OsStr) -> io::Result<File> {
        match self.open_file(name, Open::ReadWrite) {
            Err(e)
                if matches!(
                    super::refusal(&e),
                    Some(Refusal::Link | Refusal::NotAFile | Refusal::HardLinked)
                ) =>
            {
                self.remove_file(name)?;
                self.open_file(name, Open::ReadWrite)
            }
            other => other,
        }
    }

    pub fn rename(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        std::fs::rename(self.child(from)?, to_dir.child(to)?)
    }

    pub fn hard_link(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        std::fs::hard_link(self.child(from)?, to_dir.child(to)?)
    }

    pub fn set_modified(&self, name: &OsStr, when: SystemTime) -> io::Result<()> {
        open_no_follow(&self.child(name)?, FILE_WRITE_ATTRIBUTES)?.set_modified(when)
    }

    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        Ok(std::fs::read_link(self.child(name)?)?.into_os_string())
    }

    pub fn symlink(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        std::os::windows::fs::symlink_file(target, self.child(name)?)
    }

    /// Windows ignores the read-only attribute on directories: nothing to do.
    pub fn make_writable_if(&self, _yes: bool) {}

    /// Windows ignores the read-only attribute on directories: nothing to do.
    pub fn set_mode(&self, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    pub fn own_mode(&self) -> io::Result<u32> {
        Ok(0o777)
    }

    /// Unix-style permission bits from the read-only attribute.
    pub fn mode_of(&self, name: &OsStr) -> io::Result<u32> {
        let meta = std::fs::symlink_metadata(self.child(name)?)?;
        Ok(if meta.permissions().readonly() {
            0o444
        } else {
            0o666
        })
    }

    /// Whether this process may create files here: Windows ignores the read-only attribute on
    /// directories, so a probe file is created and removed.
    pub fn writable(&self) -> bool {
        let probe = OsString::from(format!(".go-disk-guard-probe-{}", std::process::id()));
        let created = self.open_file(&probe, Open::CreateNew).is_ok();
        if created {
            let _ = self.remove_file(&probe);
        }
        created
    }
}
