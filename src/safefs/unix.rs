//! Unix: directory handles are file descriptors; children are reached with `openat`,
//! `statx`/`fstatat`, `unlinkat`, `renameat`, `linkat` and `utimensat` relative to them, never
//! following a link.
//!
//! Mount identity: on Linux, `statx` with `STATX_MNT_ID` (5.8+) gives each file's mount ID,
//! which tells a bind mount of the same filesystem from an ordinary directory. Where the
//! kernel lacks it, `name_to_handle_at` (2.6.39+) gives the same mount ID, relative to the
//! same handle. Only on a filesystem that gives no file handles either is a file a mount point
//! when its device differs from its parent's or its device and inode are those of a mount
//! root listed in `/proc/self/mountinfo` (which also marks a directory that is bind-mounted
//! elsewhere: left alone too, which is safe); that list names mounts by path, so it cannot see
//! a mount made after it was read or one whose path another mount covers. Other Unix systems
//! have no same-device bind mounts: the device number decides.

// Field types of `stat` differ between Unix systems (`st_mode` is a u16 on macOS): the casts
// that are no-ops on Linux are needed elsewhere.
#![allow(clippy::unnecessary_cast)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

use super::{FileId, Kind, Meta, Open, Refusal, check_name, time_from_unix};

/// Sets an open file's permission bits.
pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
}

/// Unix lets a file be unlinked while it is open: nothing is ever held open against deletion.
pub fn is_held_open(_error: &io::Error) -> bool {
    false
}

/// An open directory. See the module documentation of `safefs`.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    id: FileId,
    /// The mount ID where the kernel gives one.
    mount: Option<u64>,
}

/// What one `statx`/`fstat` says.
struct Stat {
    kind: Kind,
    mode: u32,
    len: u64,
    blocks: u64,
    modified: SystemTime,
    dev: u64,
    ino: u64,
    nlink: u64,
    mount: Option<u64>,
}

impl Stat {
    fn id(&self) -> FileId {
        FileId {
            volume: self.dev,
            file: u128::from(self.ino),
        }
    }

    fn disk_bytes(&self) -> u64 {
        match self.blocks.saturating_mul(512) {
            0 => self.len,
            allocated => allocated,
        }
    }
}

fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode as _) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Link,
        _ => Kind::Other,
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod mount_id {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0: not known yet, 1: `statx` gives mount IDs, 2: it does not (or is forced off).
    static STATX_MNT_ID: AtomicU8 = AtomicU8::new(0);

    pub fn usable() -> bool {
        STATX_MNT_ID.load(Ordering::Relaxed) != 2
    }

    pub fn record(works: bool) {
        let _ = STATX_MNT_ID.compare_exchange(
            0,
            if works { 1 } else { 2 },
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Makes this process tell mounts as on kernels before 5.8, without `statx`'s mount IDs.
    pub fn force_mountinfo() {
        STATX_MNT_ID.store(2, Ordering::Relaxed);
    }
}

/// Makes this process identify mount points without `statx`'s mount IDs, as it must on Linux
/// before 5.8: by `name_to_handle_at`'s mount IDs, and on a filesystem without file handles
/// through `/proc/self/mountinfo`. For tests of that fallback.
#[doc(hidden)]
pub fn force_mountinfo_fallback() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    mount_id::force_mountinfo();
}

/// `statx` of `name` in `dirfd` (or of `dirfd` itself when `name` is empty), not following a
/// link, with the mount ID where the kernel gives one.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn stat_at(dirfd: &OwnedFd, name: &OsStr) -> io::Result<Stat> {
    use rustix::fs::StatxFlags;
    let flags = AtFlags::SYMLINK_NOFOLLOW
        | AtFlags::NO_AUTOMOUNT
        | if name.is_empty() {
            AtFlags::EMPTY_PATH
        } else {
            AtFlags::empty()
        };
    if mount_id::usable() {
        let wanted = StatxFlags::BASIC_STATS | StatxFlags::MNT_ID;
        match rustix::fs::statx(dirfd, name, flags, wanted) {
            Ok(st) => {
                let has_id = st.stx_mask & StatxFlags::MNT_ID.bits() != 0;
                mount_id::record(has_id);
                if has_id {
                    let dev = rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor);
                    return Ok(Stat {
                        kind: kind_of(u32::from(st.stx_mode)),
                        mode: u32::from(st.stx_mode),
                        len: st.stx_size,
                        blocks: st.stx_blocks,
                        modified: time_from_unix(st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
                        dev,
                        ino: st.stx_ino,
                        nlink: u64::from(st.stx_nlink),
                        mount: Some(st.stx_mnt_id),
                    });
                }
            }
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => mount_id::record(false),
            Err(e) => return Err(e.into()),
        }
    }
    let mut st = stat_plain(dirfd, name)?;
    st.mount = handle_mount_id(dirfd, name);
    Ok(st)
}

/// The mount ID of `name` in `dirfd` (of `dirfd` itself when `name` is empty), not following
/// a link, as `name_to_handle_at(2)` gives it: the mount ID kernels before 5.8 give, the same
/// number as `statx`'s. `None` on a filesystem that gives no file handles.
#[cfg(target_os = "linux")]
fn handle_mount_id(dirfd: &OwnedFd, name: &OsStr) -> Option<u64> {
    use std::os::fd::AsRawFd;
    /// `struct file_handle` with room for the largest handle.
    #[repr(C)]
    struct Handle {
        header: libc::file_handle,
        bytes: [u8; libc::MAX_HANDLE_SZ as usize],
    }
    let path = std::ffi::CString::new(name.as_bytes()).ok()?;
    let mut handle = Handle {
        header: libc::file_handle {
            handle_bytes: libc::MAX_HANDLE_SZ as libc::c_uint,
            handle_type: 0,
            f_handle: [],
        },
        bytes: [0; libc::MAX_HANDLE_SZ as usize],
    };
    let mut mount_id: libc::c_int = 0;
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        0
    };
    // SAFETY: `path` is a NUL-terminated string; `handle` is a `struct file_handle` whose
    // `handle_bytes` says how much room follows its header (MAX_HANDLE_SZ, the most the kernel
    // writes); `mount_id` is an int. All live for the duration of the call.
    let rc = unsafe {
        libc::name_to_handle_at(
            dirfd.as_raw_fd(),
            path.as_ptr(),
            &mut handle.header,
            &mut mount_id,
            flags,
        )
    };
    (rc == 0).then(|| u64::from(mount_id.unsigned_abs()))
}

#[cfg(target_os = "android")]
fn handle_mount_id(_dirfd: &OwnedFd, _name: &OsStr) -> Option<u64> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn stat_at(dirfd: &OwnedFd, name: &OsStr) -> io::Result<Stat> {
    stat_plain(dirfd, name)
}

/// `fstatat`/`fstat`, without a mount ID.
fn stat_plain(dirfd: &OwnedFd, name: &OsStr) -> io::Result<Stat> {
    let st = if name.is_empty() {
        rustix::fs::fstat(dirfd)?
    } else {
        rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW)?
    };
    let mode = st.st_mode as u32;
    Ok(Stat {
        kind: kind_of(mode),
        mode,
        len: u64::try_from(st.st_size).unwrap_or(0),
        blocks: u64::try_from(st.st_blocks).unwrap_or(0),
        modified: time_from_unix(st.st_mtime as i64, st.st_mtime_nsec as u32),
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        nlink: st.st_nlink as u64,
        mount: None,
    })
}

/// Whether a file with this identity is on another mount than a directory: by mount ID where
/// both have one, else by device number and (Linux) the mount table.
fn other_mount(parent: &Dir, child: &Stat) -> bool {
    match (parent.mount, child.mount) {
        (Some(a), Some(b)) => a != b,
        _ => child.dev != parent.id.volume || is_mount_root(child.dev, child.ino),
    }
}

/// Whether `(dev, ino)` is the root of a mount in `/proc/self/mountinfo` (read afresh at most
/// once a second; readers share the list without waiting on each other).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_mount_root(dev: u64, ino: u64) -> bool {
    use std::sync::{Arc, RwLock};
    use std::time::{Duration, Instant};
    type Roots = Option<(Instant, Arc<Vec<(u64, u64)>>)>;
    static ROOTS: RwLock<Roots> = RwLock::new(None);
    let fresh = |roots: &Roots| {
        roots
            .as_ref()
            .filter(|(at, _)| at.elapsed() <= Duration::from_secs(1))
            .map(|(_, list)| Arc::clone(list))
    };
    let current = fresh(&ROOTS.read().unwrap_or_else(|p| p.into_inner()));
    let list = match current {
        Some(list) => list,
        None => {
            let mut roots = ROOTS.write().unwrap_or_else(|p| p.into_inner());
            match fresh(&roots) {
                Some(list) => list,
                None => {
                    let text = std::fs::read("/proc/self/mountinfo").unwrap_or_default();
                    let mut list: Vec<(u64, u64)> = super::mountinfo::parse(&text)
                        .into_iter()
                        .filter_map(|m| {
                            let st = rustix::fs::stat(Path::new(&m.mount_point)).ok()?;
                            Some((st.st_dev as u64, st.st_ino as u64))
                        })
                        .collect();
                    list.sort_unstable();
                    let list = Arc::new(list);
                    *roots = Some((Instant::now(), Arc::clone(&list)));
                    list
                }
            }
        }
    };
    list.binary_search(&(dev, ino)).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_mount_root(_dev: u64, _ino: u64) -> bool {
    false
}

impl Dir {
    /// Whether a walk may close this handle and reach the directory again through `..`.
    pub const CAN_REOPEN_PARENT: bool = true;

    /// Opens the directory at `path` as the top of a tree to work in. Links within `path` are
    /// followed: the caller resolved and chose it.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Dir::from_fd(fd)
    }

    /// Opens the directory at `path`, refusing it if its last component is a link.
    pub fn open_no_follow(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| link_or(e, || rustix::fs::lstat(path).map(|st| st.st_mode as u32)))?;
        Dir::from_fd(fd)
    }

    fn from_fd(fd: OwnedFd) -> io::Result<Dir> {
        let st = stat_at(&fd, OsStr::new(""))?;
        if st.kind != Kind::Dir {
            return Err(Refusal::NotADirectory.error());
        }
        Ok(Dir {
            id: st.id(),
            mount: st.mount,
            fd,
        })
    }

    /// This directory's identity.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// A second handle on the same directory.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            id: self.id,
            mount: self.mount,
        })
    }

    /// Opens the child directory `name`: refused if it is a link, not a directory, or a
    /// mount point (a bind mount of the same filesystem included).
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        check_name(name)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            link_or(e, || {
                rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| st.st_mode as u32)
            })
        })?;
        let child = Dir::from_fd(fd)?;
        let st = Stat {
            kind: Kind::Dir,
            mode: 0,
            len: 0,
            blocks: 0,
            modified: SystemTime::UNIX_EPOCH,
            dev: child.id.volume,
            ino: child.id.file as u64,
            nlink: 1,
            mount: child.mount,
        };
        if other_mount(self, &st) {
            return Err(Refusal::MountPoint.error());
        }
        Ok(child)
    }

    /// Opens the parent directory (`..`). The caller checks it is the one it expects.
    pub fn open_parent(&self) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            "..",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Dir::from_fd(fd)
    }

    /// The names in this directory, without `.` and `..`.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        self.each_name(|name| out.push(name.to_os_string()))?;
        Ok(out)
    }

    /// Calls `f` with each name in this directory, without `.` and `..`.
    pub fn each_name(&self, mut f: impl FnMut(&OsStr)) -> io::Result<()> {
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                f(OsStr::from_bytes(name));
            }
        }
        Ok(())
    }

    /// Metadata of the child `name`, not following a link.
    pub fn meta(&self, name: &OsStr) -> io::Result<Meta> {
        check_name(name)?;
        let st = stat_at(&self.fd, name)?;
        Ok(Meta {
            kind: st.kind,
            disk_bytes: st.disk_bytes(),
            len: st.len,
            modified: st.modified,
            same_mount: !other_mount(self, &st),
            id: st.id(),
            links: st.nlink,
        })
    }

    /// Removes the child `name` if it is not a directory (a link is removed, never followed).
    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?;
        Ok(())
    }

    /// Removes the empty child directory `name`.
    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?;
        Ok(())
    }

    /// Creates the child directory `name` (mode 0777 less the umask).
    pub fn create_dir(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777))?;
        Ok(())
    }

    /// Opens the child file `name` as `how` says, never through a link, and checks that it is
    /// a regular file with one link on this directory's mount before handing it out.
    pub fn open_file(&self, name: &OsStr, how: Open) -> io::Result<File> {
        check_name(name)?;
        let flags = OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
        let flags = flags
            | match how {
                Open::Read => OFlags::RDONLY,
                Open::ReadWrite => OFlags::RDWR | OFlags::CREATE,
                Open::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            };
        let fd =
            rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o666)).map_err(|e| {
                link_or(e, || {
                    rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                        .map(|st| st.st_mode as u32)
                })
            })?;
        let st = stat_at(&fd, OsStr::new(""))?;
        if st.kind != Kind::File {
            return Err(Refusal::NotAFile.error());
        }
        if other_mount(self, &st) {
            return Err(Refusal::MountPoint.error());
        }
        if st.nlink > 1 && how != Open::Read {
            return Err(Refusal::HardLinked.error());
        }
        // Blocking reads and writes from here on (a regular file never blocks anyway).
        rustix::fs::fcntl_setfl(&fd, rustix::fs::fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
        Ok(File::from(fd))
    }

    /// Renames the child `from` to `to` in `to_dir` (replacing a file there).
    pub fn rename(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        rustix::fs::renameat(&self.fd, from, &to_dir.fd, to)?;
        Ok(())
    }

    /// Makes `to` in `to_dir` a hard link to the child `from` (a link itself, never its
    /// target, if `from` is one).
    pub fn hard_link(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        rustix::fs::linkat(&self.fd, from, &to_dir.fd, to, AtFlags::empty())?;
        Ok(())
    }

    /// Sets the child `name`'s last-modified (and access) time, on a link itself, never its
    /// target.
    pub fn set_modified(&self, name: &OsStr, when: SystemTime) -> io::Result<()> {
        check_name(name)?;
        let since = when
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = rustix::fs::Timespec {
            tv_sec: i64::try_from(since.as_secs()).unwrap_or(i64::MAX) as _,
            tv_nsec: since.subsec_nanos() as _,
        };
        let times = rustix::fs::Timestamps {
            last_access: stamp,
            last_modification: stamp,
        };
        rustix::fs::utimensat(&self.fd, name, &times, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }

    /// Where the child link `name` points.
    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        check_name(name)?;
        let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())?;
        Ok(OsStr::from_bytes(target.to_bytes()).to_os_string())
    }

    /// Creates the child `name` as a symbolic link to `target`.
    pub fn symlink(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        rustix::fs::symlinkat(target, &self.fd, name)?;
        Ok(())
    }

    /// Gives this directory's owner write permission on it, when it lacks it and `yes` (Go
    /// makes the module cache's directories read-only; their entries can only be removed
    /// once it is writable). Failure is not reported: the removal that follows reports it.
    pub fn make_writable_if(&self, yes: bool) {
        if !yes {
            return;
        }
        if let Ok(st) = rustix::fs::fstat(&self.fd) {
            let mode = st.st_mode as u32;
            if mode & 0o200 == 0 {
                let _ = rustix::fs::fchmod(&self.fd, Mode::from_raw_mode((mode | 0o700) & 0o7777));
            }
        }
    }

    /// Sets this directory's permission bits (for copies that keep a source's mode).
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode & 0o7777))?;
        Ok(())
    }

    /// This directory's own permission bits.
    pub fn own_mode(&self) -> io::Result<u32> {
        Ok(stat_at(&self.fd, OsStr::new(""))?.mode & 0o7777)
    }

    /// The permission bits of the child `name` (not following a link).
    pub fn mode_of(&self, name: &OsStr) -> io::Result<u32> {
        check_name(name)?;
        Ok(stat_at(&self.fd, name)?.mode & 0o7777)
    }

    /// Whether this process may create files here (`access(W_OK)` on the handle: honours
    /// read-only mounts even for root).
    pub fn writable(&self) -> bool {
        rustix::fs::accessat(
            &self.fd,
            ".",
            rustix::fs::Access::WRITE_OK,
            AtFlags::empty(),
        )
        .is_ok()
    }
}

/// An open that failed: a refusal when the thing at the name is a link (`O_NOFOLLOW` fails
/// with `ELOOP`, or `ENOTDIR` where `O_DIRECTORY` is checked first), else the error itself.
fn link_or(e: rustix::io::Errno, mode: impl FnOnce() -> rustix::io::Result<u32>) -> io::Error {
    if matches!(e, rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
        && mode().is_ok_and(|m| kind_of(m) == Kind::Link)
    {
        return Refusal::Link.error();
    }
    if e == rustix::io::Errno::NOTDIR {
        return Refusal::NotADirectory.error();
    }
    e.into()
}
