//! Windows: a [`Dir`] is an open directory handle, and every child is reached relative to it,
//! never by path.
//!
//! * **Handles.** A [`Dir`] holds an open handle on a directory (list, traverse and read
//!   attributes), sharing read, write and delete so that no one else is blocked, its path
//!   (for [`Dir::open_parent`] and the symbolic-link fallback below only) and its identity:
//!   volume serial number and 128-bit file ID from `GetFileInformationByHandleEx(FileIdInfo)`,
//!   or `BY_HANDLE_FILE_INFORMATION`'s 32-bit serial and 64-bit index where a filesystem does
//!   not support `FileIdInfo`. A top is opened by path with `CreateFileW` and
//!   `FILE_FLAG_BACKUP_SEMANTICS`: [`Dir::open`] follows links in the path (the caller chose
//!   it), [`Dir::open_no_follow`] adds `FILE_FLAG_OPEN_REPARSE_POINT` and refuses a reparse
//!   point. Everything below a top is opened relative to a handle.
//! * **Children by name, relative to the handle.** `NtCreateFile` with
//!   `OBJECT_ATTRIBUTES.RootDirectory` set to the directory's handle, the name as one
//!   component ([`check_name`]: no `\`, `/`, `:`, `.`, `..`), `FILE_OPEN_REPARSE_POINT` (a
//!   symbolic link, junction or other reparse point is opened as itself, never its target)
//!   and `OBJ_DONT_REPARSE` where the system knows it. A directory renamed away and replaced
//!   after it was opened cannot redirect anything: the handle still names the directory that
//!   was checked.
//! * **Listing** reads `FILE_ID_BOTH_DIR_INFO` records with
//!   `GetFileInformationByHandleEx(FileIdBothDirectoryInfo)` on a fresh handle to the same
//!   directory (reopened through the handle, so two listings never share a position); every
//!   offset and length in the records is checked against the buffer.
//! * **Examining** a child ([`Dir::meta`]) opens it (attributes only) and reads its
//!   attributes, length (also counted as its bytes on disk, as `crate::disk` counts them on
//!   Windows), last write, link count and identity from that handle. Every reparse point is
//!   [`Kind::Link`]. A volume mount point (`IO_REPARSE_TAG_MOUNT_POINT` whose substitute name
//!   is exactly `\??\Volume{GUID}\`) or anything on another volume is not on the directory's
//!   mount: walks leave it alone, as they leave a Unix mount point. Junctions and symbolic
//!   links are links on the directory's own volume: a walk removes them as names. On Windows
//!   a tree reaches another volume only through a reparse point, and none is ever entered:
//!   [`Dir::open_dir`] refuses a child whose handle or whose entry in the parent's listing
//!   says it is one.
//! * **Deleting** opens the child relative to the parent with `DELETE` access and
//!   `FILE_OPEN_REPARSE_POINT` (a link or junction is deleted as itself, never its target),
//!   checks through that handle that it is the kind of thing to be removed, and sets its
//!   disposition through the same handle: `FileDispositionInfoEx` with
//!   `FILE_DISPOSITION_FLAG_DELETE | POSIX_SEMANTICS | IGNORE_READONLY_ATTRIBUTE` (the name
//!   goes at once, read-only or not), or, where a system or filesystem lacks it,
//!   `FileDispositionInfo` after clearing `FILE_ATTRIBUTE_READONLY` through that handle (put
//!   back if the deletion fails; the name then goes when the last handle on the file closes,
//!   and until then the file counts as gone: `STATUS_DELETE_PENDING` is `NotFound`). A file
//!   another process holds open without `FILE_SHARE_DELETE` cannot be opened for deletion:
//!   that error is told apart ([`is_held_open`]) so that callers skip and count it.
//! * **Renaming and hard links** go through a handle on the source opened relative to its
//!   directory, with `NtSetInformationFile(FileRenameInformation[Ex] / FileLinkInformation)`
//!   whose `RootDirectory` is the target directory's handle and whose name is one component
//!   (the native call: some implementations of `SetFileInformationByHandle(FileRenameInfo)`,
//!   compatibility layers among them, turn the name into a path of the current directory).
//!   Renames replace an existing file, with POSIX semantics where the system has them
//!   (`FileRenameInformationEx`), else as `FileRenameInformation` does.
//! * **Times** are set through a handle opened relative to the parent; **state files**
//!   ([`Dir::open_file`]) are opened relative to it and refused unless they are regular files
//!   (no reparse point, no directory) on the directory's volume, with a single link when
//!   written. **Symbolic links** are created relative to the handle (`FSCTL_SET_REPARSE_POINT`
//!   on a new file); only when that needs a privilege this process lacks is
//!   `CreateSymbolicLinkW` used, by path, after checking the path still leads to this
//!   directory (creating a link never deletes anything).
//! * Windows ignores the read-only attribute of directories, so [`Dir::make_writable_if`] and
//!   [`Dir::set_mode`] do nothing; a file's mode maps to its read-only attribute
//!   ([`set_file_mode`], [`Dir::mode_of`]).
//! * A walk keeps every level's handle ([`Dir::CAN_REOPEN_PARENT`] is false): Windows has no
//!   `..` to reopen relative to a handle, and its handle limit is large.
//!
//! Everything the system hands back (buffer lengths, record offsets, reparse buffers, times)
//! is read with checked offsets and checked or saturating arithmetic.

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem::{
    FILE_CREATE, FILE_DIRECTORY_FILE, FILE_LINK_INFORMATION, FILE_NON_DIRECTORY_FILE, FILE_OPEN,
    FILE_OPEN_IF, FILE_OPEN_REPARSE_POINT, FILE_RENAME_INFORMATION, FILE_RENAME_POSIX_SEMANTICS,
    FILE_RENAME_REPLACE_IF_EXISTS, FILE_SYNCHRONOUS_IO_NONALERT, FileIdBothDirectoryInformation,
    FileLinkInformation, FileRenameInformation, FileRenameInformationEx, NtCreateFile,
    NtQueryDirectoryFile, NtSetInformationFile,
};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_INVALID_FUNCTION, ERROR_INVALID_PARAMETER,
    ERROR_LOCK_VIOLATION, ERROR_NO_MORE_FILES, ERROR_NOT_SUPPORTED, ERROR_PRIVILEGE_NOT_HELD,
    ERROR_SHARING_VIOLATION, HANDLE, INVALID_HANDLE_VALUE, NTSTATUS, OBJ_CASE_INSENSITIVE,
    OBJ_DONT_REPARSE, RtlNtStatusToDosError, STATUS_DELETE_PENDING, STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_INFO_CLASS, STATUS_INVALID_PARAMETER,
    STATUS_NOT_A_DIRECTORY, STATUS_NOT_IMPLEMENTED, STATUS_NOT_SUPPORTED, UNICODE_STRING,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, CreateFileW, CreateSymbolicLinkW, DELETE, FILE_ATTRIBUTE_DEVICE,
    FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_ATTRIBUTE_TAG_INFO, FILE_BASIC_INFO,
    FILE_DISPOSITION_FLAG_DELETE, FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE,
    FILE_DISPOSITION_FLAG_POSIX_SEMANTICS, FILE_DISPOSITION_INFO, FILE_DISPOSITION_INFO_EX,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_GENERIC_READ,
    FILE_GENERIC_WRITE, FILE_ID_BOTH_DIR_INFO, FILE_ID_INFO, FILE_INFO_BY_HANDLE_CLASS,
    FILE_LIST_DIRECTORY, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FILE_TRAVERSE, FILE_WRITE_ATTRIBUTES, FILE_WRITE_DATA, FileAttributeTagInfo,
    FileBasicInfo, FileDispositionInfo, FileDispositionInfoEx, FileIdBothDirectoryInfo,
    FileIdBothDirectoryRestartInfo, FileIdInfo, GetFileInformationByHandle,
    GetFileInformationByHandleEx, OPEN_EXISTING, SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE,
    SYNCHRONIZE, SetFileInformationByHandle,
};
use windows_sys::Win32::System::IO::{DeviceIoControl, IO_STATUS_BLOCK};

use super::{FileId, Kind, Meta, Open, Refusal, check_name, time_from_unix};

const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
/// What a directory handle may do: list, traverse, read attributes, wait.
const DIR_ACCESS: u32 = FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES | SYNCHRONIZE;
/// `FSCTL_GET_REPARSE_POINT` and `FSCTL_SET_REPARSE_POINT`.
const FSCTL_GET_REPARSE_POINT: u32 = 0x0009_00A8;
const FSCTL_SET_REPARSE_POINT: u32 = 0x0009_00A4;
/// `IO_REPARSE_TAG_SYMLINK` and `IO_REPARSE_TAG_MOUNT_POINT` (junctions and volume mount
/// points).
const TAG_SYMLINK: u32 = 0xA000_000C;
const TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// `SYMLINK_FLAG_RELATIVE`.
const SYMLINK_RELATIVE: u32 = 1;
/// `MAXIMUM_REPARSE_DATA_BUFFER_SIZE`.
const MAX_REPARSE_BUFFER: usize = 16 * 1024;
/// The bytes of one directory listing read: many records per call.
const LIST_BUFFER: usize = 64 * 1024;

// The layouts this module reads and writes by offset, checked against windows-sys.
const NAME_IN_DIR_INFO: usize = offset_of!(FILE_ID_BOTH_DIR_INFO, FileName);
const _: () = assert!(NAME_IN_DIR_INFO == 104);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, NextEntryOffset) == 0);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, LastWriteTime) == 24);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, EndOfFile) == 40);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, AllocationSize) == 48);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, FileAttributes) == 56);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, FileNameLength) == 60);
const _: () = assert!(offset_of!(FILE_ID_BOTH_DIR_INFO, FileId) == 96);
const _: () = assert!(offset_of!(FILE_RENAME_INFORMATION, RootDirectory) == 8);
const _: () = assert!(offset_of!(FILE_RENAME_INFORMATION, FileNameLength) == 16);
const _: () = assert!(offset_of!(FILE_RENAME_INFORMATION, FileName) == 20);
const _: () = assert!(offset_of!(FILE_LINK_INFORMATION, RootDirectory) == 8);
const _: () = assert!(offset_of!(FILE_LINK_INFORMATION, FileNameLength) == 16);
const _: () = assert!(offset_of!(FILE_LINK_INFORMATION, FileName) == 20);

/// Whether an error means another process holds the file open without sharing deletion (or
/// holds a lock on it): the caller skips it and says so.
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

fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle()
}

/// An `NTSTATUS` as the Win32 error the rest of the crate knows (so that `ErrorKind`,
/// [`is_held_open`] and messages work). A file whose deletion is pending is as good as gone.
fn nt_error(status: NTSTATUS) -> io::Error {
    if status == STATUS_DELETE_PENDING {
        return io::Error::new(io::ErrorKind::NotFound, "is being deleted");
    }
    // SAFETY: a pure function of a number.
    let code = unsafe { RtlNtStatusToDosError(status) };
    // Reinterpreted as std does: an unmapped status comes back as itself.
    io::Error::from_raw_os_error(code as i32)
}

/// Whether a status or error says an information class or flag is unknown to the system or
/// filesystem (older Windows, FAT, Wine): the caller then uses the older form.
fn unsupported_status(status: NTSTATUS) -> bool {
    matches!(
        status,
        STATUS_INVALID_INFO_CLASS
            | STATUS_INVALID_PARAMETER
            | STATUS_NOT_SUPPORTED
            | STATUS_NOT_IMPLEMENTED
            | STATUS_INVALID_DEVICE_REQUEST
    )
}

fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == ERROR_INVALID_PARAMETER as i32
            || code == ERROR_NOT_SUPPORTED as i32
            || code == ERROR_INVALID_FUNCTION as i32
    )
}

/// `OBJECT_ATTRIBUTES.Attributes` for relative opens: `OBJ_DONT_REPARSE` until the system
/// says it does not know it (before Windows 10 1607), then without.
static OPEN_ATTRIBUTES: AtomicU32 = AtomicU32::new(OBJ_CASE_INSENSITIVE | OBJ_DONT_REPARSE);

/// Opens `name` (one component, or empty for `root` itself) relative to the directory handle
/// `root` with `NtCreateFile`: never following a reparse point, sharing everything,
/// synchronous. `disposition` is `FILE_OPEN`, `FILE_CREATE` or `FILE_OPEN_IF`; `options` may
/// add `FILE_DIRECTORY_FILE` or `FILE_NON_DIRECTORY_FILE`.
fn nt_open(
    root: &OwnedHandle,
    name: &OsStr,
    access: u32,
    disposition: u32,
    options: u32,
) -> Result<OwnedHandle, NTSTATUS> {
    let units: Vec<u16> = name.encode_wide().collect();
    let Some(bytes) = units
        .len()
        .checked_mul(2)
        .and_then(|b| u16::try_from(b).ok())
    else {
        return Err(STATUS_INVALID_PARAMETER);
    };
    let unicode = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_ptr().cast_mut(),
    };
    loop {
        let attributes = OPEN_ATTRIBUTES.load(Ordering::Relaxed);
        let object = OBJECT_ATTRIBUTES {
            Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
            RootDirectory: raw(root),
            ObjectName: &unicode,
            Attributes: attributes,
            SecurityDescriptor: ptr::null(),
            SecurityQualityOfService: ptr::null(),
        };
        let mut handle: HANDLE = ptr::null_mut();
        // SAFETY: an all-zero IO_STATUS_BLOCK is a valid value for the call to overwrite.
        let mut status_block: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
        // SAFETY: every pointer points at a live local for the duration of the call: the
        // handle out-pointer, `object` (whose name points at `units`, alive until the end of
        // this function, with its length in bytes) and the status block; no allocation size
        // and no extended attributes are passed; `root` is an open handle.
        let status = unsafe {
            NtCreateFile(
                &mut handle,
                access | SYNCHRONIZE,
                &object,
                &mut status_block,
                ptr::null(),
                FILE_ATTRIBUTE_NORMAL,
                SHARE_ALL,
                disposition,
                options | FILE_OPEN_REPARSE_POINT | FILE_SYNCHRONOUS_IO_NONALERT,
                ptr::null(),
                0,
            )
        };
        if status >= 0 {
            // SAFETY: on success NtCreateFile returns a new open handle that nothing else
            // owns.
            return Ok(unsafe { OwnedHandle::from_raw_handle(handle) });
        }
        if status == STATUS_INVALID_PARAMETER && attributes & OBJ_DONT_REPARSE != 0 {
            OPEN_ATTRIBUTES.store(OBJ_CASE_INSENSITIVE, Ordering::Relaxed);
            continue;
        }
        return Err(status);
    }
}

/// Opens the path itself with `CreateFileW` as a directory handle would be opened; `flags`
/// adds `FILE_FLAG_OPEN_REPARSE_POINT` when the last component must not be followed.
fn open_path(path: &Path, flags: u32) -> io::Result<OwnedHandle> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    if wide
        .iter()
        .take(wide.len().saturating_sub(1))
        .any(|&c| c == 0)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "path holds a NUL",
        ));
    }
    // SAFETY: the name is NUL-terminated and alive for the call; no security attributes and
    // no template.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            DIR_ACCESS,
            SHARE_ALL,
            ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_BACKUP_SEMANTICS | flags,
            ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE || handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CreateFileW returned a new open handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// What this module reads of an open file.
struct Info {
    attributes: u32,
    len: u64,
    modified: SystemTime,
    links: u64,
    id: FileId,
}

impl Info {
    fn is_reparse(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }

    fn is_dir(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }

    fn kind(&self) -> Kind {
        if self.is_reparse() {
            Kind::Link
        } else if self.is_dir() {
            Kind::Dir
        } else if self.attributes & FILE_ATTRIBUTE_DEVICE != 0 {
            Kind::Other
        } else {
            Kind::File
        }
    }
}

/// A `FILETIME` (100-nanosecond intervals since 1601) as a `SystemTime`, whatever its value.
fn time_from_filetime(intervals: u64) -> SystemTime {
    /// Seconds from 1601-01-01 to 1970-01-01.
    const EPOCH_DIFFERENCE: i64 = 11_644_473_600;
    let secs = i64::try_from(intervals / 10_000_000)
        .unwrap_or(i64::MAX)
        .saturating_sub(EPOCH_DIFFERENCE);
    let nanos = u32::try_from((intervals % 10_000_000).saturating_mul(100)).unwrap_or(0);
    time_from_unix(secs, nanos)
}

/// Attributes, length, last write, links and identity of an open handle.
fn info(handle: &OwnedHandle) -> io::Result<Info> {
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is a valid value to be overwritten.
    let mut by_handle: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; the out-pointer points at a live struct of the right type.
    if unsafe { GetFileInformationByHandle(raw(handle), &mut by_handle) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let write = by_handle.ftLastWriteTime;
    let modified = (u64::from(write.dwHighDateTime) << 32) | u64::from(write.dwLowDateTime);
    let len = (u64::from(by_handle.nFileSizeHigh) << 32) | u64::from(by_handle.nFileSizeLow);
    let id = file_id(handle).unwrap_or(FileId {
        volume: u64::from(by_handle.dwVolumeSerialNumber),
        file: (u128::from(by_handle.nFileIndexHigh) << 32) | u128::from(by_handle.nFileIndexLow),
    });
    Ok(Info {
        attributes: by_handle.dwFileAttributes,
        len,
        modified: time_from_filetime(modified),
        links: u64::from(by_handle.nNumberOfLinks),
        id,
    })
}

/// `GetFileInformationByHandleEx(class)` read into a `T`; `None` when the call fails.
///
/// # Safety
/// `T` must be the fixed-size structure the system writes for `class`, made only of integers
/// (any bit pattern valid), so that an all-zero `T` is valid and so is what the call writes.
unsafe fn get_info<T>(handle: &OwnedHandle, class: FILE_INFO_BY_HANDLE_CLASS) -> Option<T> {
    // SAFETY: by the caller's contract an all-zero T is valid.
    let mut value: T = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; the buffer is a live T of the size passed, which by the
    // caller's contract is what the system writes for `class`.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            raw(handle),
            class,
            (&raw mut value).cast(),
            u32::try_from(size_of::<T>()).ok()?,
        )
    };
    (ok != 0).then_some(value)
}

/// `SetFileInformationByHandle(class)` with `value`, the structure the system reads for
/// `class`.
fn set_info<T>(
    handle: &OwnedHandle,
    class: FILE_INFO_BY_HANDLE_CLASS,
    value: &T,
) -> io::Result<()> {
    let size = u32::try_from(size_of::<T>()).map_err(io::Error::other)?;
    // SAFETY: the handle is open; the buffer is a live T of the size passed (the system only
    // reads it).
    let ok =
        unsafe { SetFileInformationByHandle(raw(handle), class, (&raw const *value).cast(), size) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The volume serial number and 128-bit file ID (`FileIdInfo`, Windows 8 / Server 2012 and
/// later, ReFS's IDs included); `None` where the filesystem does not give it.
fn file_id(handle: &OwnedHandle) -> Option<FileId> {
    // SAFETY: FILE_ID_INFO is what FileIdInfo writes: a u64 and a 16-byte array.
    let id: FILE_ID_INFO = unsafe { get_info(handle, FileIdInfo) }?;
    Some(FileId {
        volume: id.VolumeSerialNumber,
        file: u128::from_le_bytes(id.FileId.Identifier),
    })
}

/// The reparse tag of an open reparse point; `None` when it cannot be read.
fn reparse_tag(handle: &OwnedHandle) -> Option<u32> {
    // SAFETY: FILE_ATTRIBUTE_TAG_INFO is what FileAttributeTagInfo writes: two u32s.
    let tag: FILE_ATTRIBUTE_TAG_INFO = unsafe { get_info(handle, FileAttributeTagInfo) }?;
    Some(tag.ReparseTag)
}

/// The reparse data of an open reparse point (`FSCTL_GET_REPARSE_POINT`): the bytes the
/// system returned, no more.
fn reparse_data(handle: &OwnedHandle) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_REPARSE_BUFFER];
    let mut returned = 0u32;
    // SAFETY: the handle is open; no input; the output buffer is valid for the length passed;
    // `returned` is a live u32; the call is synchronous.
    let ok = unsafe {
        DeviceIoControl(
            raw(handle),
            FSCTL_GET_REPARSE_POINT,
            ptr::null(),
            0,
            buf.as_mut_ptr().cast(),
            MAX_REPARSE_BUFFER as u32,
            &mut returned,
            ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(usize::try_from(returned).unwrap_or(0));
    Ok(buf)
}

/// What a reparse buffer says, as far as this module needs: the tag, the substitute name (as
/// UTF-16, unpaired surrogates kept), and whether a symbolic link's name is relative. `None`
/// for any other tag or a malformed buffer. (`crate::disk::reparse` decodes reparse buffers
/// in full for reports; this module stays a leaf.)
fn substitute_name(buf: &[u8]) -> Option<(u32, Vec<u16>, bool)> {
    let u16_at = |b: &[u8], at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(
            b.get(at..at.checked_add(2)?)?.try_into().ok()?,
        ))
    };
    let tag = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?);
    let declared = usize::from(u16_at(buf, 4)?);
    let data = buf.get(8..8usize.checked_add(declared)?)?;
    let fields = match tag {
        TAG_SYMLINK => 12,
        TAG_MOUNT_POINT => 8,
        _ => return None,
    };
    let path = data.get(fields..)?;
    let offset = usize::from(u16_at(data, 0)?);
    let length = usize::from(u16_at(data, 2)?);
    if length % 2 != 0 {
        return None;
    }
    let name = path.get(offset..offset.checked_add(length)?)?;
    let units = name
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .collect();
    let relative = tag == TAG_SYMLINK
        && u32::from_le_bytes(data.get(8..12)?.try_into().ok()?) & SYMLINK_RELATIVE != 0;
    Some((tag, units, relative))
}

/// `\??\Volume{GUID}\`, exactly: what a volume mount point targets (a junction targets a
/// path, even one inside a volume GUID path).
fn is_volume_guid_path(name: &[u16]) -> bool {
    let Ok(name) = String::from_utf16(name) else {
        return false;
    };
    let Some(guid) = name
        .strip_prefix(r"\??\Volume{")
        .and_then(|rest| rest.strip_suffix(r"}\"))
    else {
        return false;
    };
    guid.len() == 36
        && guid.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether an open reparse point is a volume mount point. One whose data cannot be read or
/// decoded counts as one: it is left alone, which is safe.
fn is_volume_mount_point(handle: &OwnedHandle) -> bool {
    if reparse_tag(handle).is_some_and(|tag| tag != TAG_MOUNT_POINT) {
        return false;
    }
    match reparse_data(handle).map(|buf| substitute_name(&buf)) {
        Ok(Some((TAG_MOUNT_POINT, name, _))) => is_volume_guid_path(&name),
        Ok(Some(_)) => false,
        _ => true,
    }
}

/// Sets the disposition of an open file to "delete": POSIX semantics (the name goes at once),
/// ignoring the read-only attribute; where the system or filesystem lacks that, the classic
/// disposition, after clearing the read-only attribute through the same handle (restored if
/// the deletion is refused). `attributes` are the file's, read through this handle.
fn delete(handle: &OwnedHandle, attributes: u32) -> io::Result<()> {
    let ex = FILE_DISPOSITION_INFO_EX {
        Flags: FILE_DISPOSITION_FLAG_DELETE
            | FILE_DISPOSITION_FLAG_POSIX_SEMANTICS
            | FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE,
    };
    match set_info(handle, FileDispositionInfoEx, &ex) {
        Err(e) if unsupported(&e) => {}
        done => return done,
    }
    let read_only = attributes & FILE_ATTRIBUTE_READONLY != 0;
    if read_only {
        set_attributes(handle, attributes & !FILE_ATTRIBUTE_READONLY)?;
    }
    let classic = FILE_DISPOSITION_INFO { DeleteFile: true };
    let deleted = set_info(handle, FileDispositionInfo, &classic);
    if deleted.is_err() && read_only {
        let _ = set_attributes(handle, attributes);
    }
    deleted
}

/// Sets an open file's attributes (times unchanged), through a handle with
/// `FILE_WRITE_ATTRIBUTES`.
fn set_attributes(handle: &OwnedHandle, attributes: u32) -> io::Result<()> {
    let basic = FILE_BASIC_INFO {
        // Zero times leave them unchanged.
        CreationTime: 0,
        LastAccessTime: 0,
        LastWriteTime: 0,
        ChangeTime: 0,
        // No attribute at all is written as "normal".
        FileAttributes: if attributes == 0 {
            FILE_ATTRIBUTE_NORMAL
        } else {
            attributes
        },
    };
    set_info(handle, FileBasicInfo, &basic)
}

/// A `FILE_RENAME_INFORMATION` or `FILE_LINK_INFORMATION` (one layout): `flags` (or
/// `ReplaceIfExists` in the low byte), the target directory's handle and the new name, in a
/// buffer aligned for the structure. Returns the buffer and the length to pass.
fn rename_information(flags: u32, root: HANDLE, name: &OsStr) -> io::Result<(Vec<u64>, u32)> {
    let units: Vec<u16> = name.encode_wide().collect();
    let name_bytes = units
        .len()
        .checked_mul(2)
        .and_then(|b| u32::try_from(b).ok())
        .ok_or_else(|| Refusal::BadName.error())?;
    let mut bytes =
        Vec::with_capacity(NAME_IN_RENAME.saturating_add(units.len().saturating_mul(2)));
    bytes.extend(flags.to_le_bytes());
    bytes.extend([0u8; 4]);
    bytes.extend((root as usize).to_le_bytes());
    bytes.extend(name_bytes.to_le_bytes());
    bytes.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    let length = bytes.len().max(size_of::<FILE_RENAME_INFORMATION>());
    bytes.resize(length.next_multiple_of(8), 0);
    let words = bytes
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(u64::from_le_bytes)
        .collect();
    let length = u32::try_from(length).map_err(|_| Refusal::BadName.error())?;
    Ok((words, length))
}

const NAME_IN_RENAME: usize = offset_of!(FILE_RENAME_INFORMATION, FileName);

/// `NtSetInformationFile` with a rename or link structure built by [`rename_information`].
fn set_name_information(
    handle: &OwnedHandle,
    class: i32,
    info: &(Vec<u64>, u32),
) -> Result<(), NTSTATUS> {
    // SAFETY: an all-zero IO_STATUS_BLOCK is a valid value for the call to overwrite.
    let mut status_block: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; the buffer is 8-byte aligned, at least as long as the length
    // passed, and laid out as the class's structure (offsets checked at compile time); its
    // RootDirectory is an open handle borrowed for the call.
    let status = unsafe {
        NtSetInformationFile(
            raw(handle),
            &mut status_block,
            info.0.as_ptr().cast(),
            info.1,
            class,
        )
    };
    if status >= 0 { Ok(()) } else { Err(status) }
}

/// One record of a `FILE_ID_BOTH_DIR_INFO` listing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    name: Vec<u16>,
    attributes: u32,
    len: u64,
    /// The last write, as a `FILETIME`.
    modified: u64,
}

/// Decodes the `FILE_ID_BOTH_DIR_INFO` records at the start of `buf`, as the system filled
/// it. Every record and name must lie inside the buffer and every `NextEntryOffset` move
/// forward: a record that does not is an error, never a read outside the buffer or a loop.
fn parse_listing(buf: &[u8], mut each: impl FnMut(Listed)) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed directory listing");
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(
            b.get(at..at.checked_add(8)?)?.try_into().ok()?,
        ))
    };
    let mut at = 0usize;
    loop {
        let record = buf.get(at..).ok_or_else(bad)?;
        let next = u32_at(record, 0).ok_or_else(bad)?;
        let name_len = usize::try_from(u32_at(record, 60).ok_or_else(bad)?).map_err(|_| bad())?;
        let name = record
            .get(NAME_IN_DIR_INFO..NAME_IN_DIR_INFO.checked_add(name_len).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        if name_len % 2 != 0 {
            return Err(bad());
        }
        each(Listed {
            name: name
                .chunks_exact(2)
                .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                .map(u16::from_le_bytes)
                .collect(),
            attributes: u32_at(record, 56).ok_or_else(bad)?,
            len: u64_at(record, 40).ok_or_else(bad)?,
            modified: u64_at(record, 24).ok_or_else(bad)?,
        });
        if next == 0 {
            return Ok(());
        }
        at = at
            .checked_add(usize::try_from(next).map_err(|_| bad())?)
            .ok_or_else(bad)?;
    }
}

/// An open directory: its handle, its path (for messages) and its identity. See the module
/// documentation.
#[derive(Debug)]
pub struct Dir {
    handle: OwnedHandle,
    path: PathBuf,
    id: FileId,
}

impl Dir {
    /// Handles are not reopened through `..` on Windows: a walk keeps every level's.
    pub const CAN_REOPEN_PARENT: bool = false;

    /// Opens the directory at `path` as the top of a tree to work in (links in `path`
    /// followed: the caller chose it).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let handle = open_path(path, 0)?;
        let info = info(&handle)?;
        if !info.is_dir() {
            return Err(Refusal::NotADirectory.error());
        }
        Ok(Dir {
            handle,
            path: path.to_path_buf(),
            id: info.id,
        })
    }

    /// Opens the directory at `path`, refusing it if it is itself a reparse point.
    pub fn open_no_follow(path: &Path) -> io::Result<Dir> {
        let handle = open_path(path, FILE_FLAG_OPEN_REPARSE_POINT)?;
        let info = info(&handle)?;
        if info.is_reparse() {
            return Err(if is_volume_mount_point(&handle) {
                Refusal::MountPoint
            } else {
                Refusal::Link
            }
            .error());
        }
        if !info.is_dir() {
            return Err(Refusal::NotADirectory.error());
        }
        Ok(Dir {
            handle,
            path: path.to_path_buf(),
            id: info.id,
        })
    }

    /// A second handle on the same directory: reopened through this one (not duplicated), so
    /// that it lists independently.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            handle: self.reopen()?,
            path: self.path.clone(),
            id: self.id,
        })
    }

    /// A new handle on this very directory, opened relative to this one with an empty name.
    fn reopen(&self) -> io::Result<OwnedHandle> {
        nt_open(
            &self.handle,
            OsStr::new(""),
            DIR_ACCESS,
            FILE_OPEN,
            FILE_DIRECTORY_FILE,
        )
        .map_err(nt_error)
    }

    /// This directory's identity.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// Opens the child directory `name`: refused if it is a reparse point (a junction or link:
    /// [`Refusal::Link`]; a volume mount point: [`Refusal::MountPoint`]), not a directory, or
    /// on another volume.
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        check_name(name)?;
        let handle = match nt_open(
            &self.handle,
            name,
            DIR_ACCESS,
            FILE_OPEN,
            FILE_DIRECTORY_FILE,
        ) {
            Ok(handle) => handle,
            Err(STATUS_NOT_A_DIRECTORY) => {
                return Err(match self.meta(name) {
                    Ok(meta) if meta.kind == Kind::Link => Refusal::Link,
                    _ => Refusal::NotADirectory,
                }
                .error());
            }
            Err(status) => return Err(nt_error(status)),
        };
        let info = info(&handle)?;
        if info.is_reparse() {
            return Err(if is_volume_mount_point(&handle) {
                Refusal::MountPoint
            } else {
                Refusal::Link
            }
            .error());
        }
        if !info.is_dir() {
            return Err(Refusal::NotADirectory.error());
        }
        if info.id.volume != self.id.volume {
            return Err(Refusal::MountPoint.error());
        }
        // The directory's own entry must agree: a filesystem (or an emulation: Wine opens a
        // Linux symbolic link as its target even with FILE_OPEN_REPARSE_POINT) that marks the
        // entry as a reparse point and yet opened a plain directory is not trusted.
        if self
            .listed_attributes(name)
            .is_some_and(|attributes| attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0)
        {
            return Err(Refusal::Link.error());
        }
        Ok(Dir {
            handle,
            path: self.path.join(name),
            id: info.id,
        })
    }

    /// Opens the parent directory by path (Windows has no `..` relative to a handle). Walks
    /// never need it on Windows ([`Dir::CAN_REOPEN_PARENT`]); a caller checks it is the one it
    /// expects.
    pub fn open_parent(&self) -> io::Result<Dir> {
        let parent = self
            .path
            .parent()
            .ok_or_else(|| io::Error::other("a volume's root has no parent"))?;
        Dir::open_no_follow(parent)
    }

    /// The names in this directory, without `.` and `..`.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        self.each_name(|name| out.push(name.to_os_string()))?;
        Ok(out)
    }

    /// Calls `f` with each name in this directory, without `.` and `..`.
    pub fn each_name(&self, mut f: impl FnMut(&OsStr)) -> io::Result<()> {
        self.each_listed(|listed| {
            if listed.name != [u16::from(b'.')] && listed.name != [u16::from(b'.'); 2] {
                f(&OsString::from_wide(&listed.name));
            }
        })
    }

    /// Calls `f` with each record of this directory's listing, read through a fresh handle.
    fn each_listed(&self, mut f: impl FnMut(Listed)) -> io::Result<()> {
        let handle = self.reopen()?;
        // u64s: the records hold 8-byte fields and must be 8-byte aligned.
        let mut buf = vec![0u64; LIST_BUFFER / 8];
        let mut class = FileIdBothDirectoryRestartInfo;
        loop {
            buf.fill(0);
            // SAFETY: the handle is an open, synchronous directory handle; the buffer is valid
            // for the length passed and 8-byte aligned.
            let ok = unsafe {
                GetFileInformationByHandleEx(
                    raw(&handle),
                    class,
                    buf.as_mut_ptr().cast(),
                    LIST_BUFFER as u32,
                )
            };
            if ok == 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(code) if code == ERROR_NO_MORE_FILES as i32 => Ok(()),
                    // No entry at all (not even `.`): an empty listing.
                    Some(code)
                        if code == ERROR_FILE_NOT_FOUND as i32
                            && class == FileIdBothDirectoryRestartInfo =>
                    {
                        Ok(())
                    }
                    _ => Err(e),
                };
            }
            class = FileIdBothDirectoryInfo;
            let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
            parse_listing(&bytes, &mut f)?;
        }
    }

    /// The attributes this directory's listing gives the entry `name` (a single-entry
    /// `NtQueryDirectoryFile` on a fresh handle); `None` when the listing has no entry of
    /// exactly that name or cannot be read.
    fn listed_attributes(&self, name: &OsStr) -> Option<u32> {
        let handle = self.reopen().ok()?;
        let units: Vec<u16> = name.encode_wide().collect();
        let bytes = u16::try_from(units.len().checked_mul(2)?).ok()?;
        let unicode = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: units.as_ptr().cast_mut(),
        };
        // One record with this name, and room to spare, in 8-byte aligned words.
        let len = NAME_IN_DIR_INFO
            .checked_add(usize::from(bytes))?
            .checked_add(64)?
            .next_multiple_of(8);
        let mut buf = vec![0u64; len / 8];
        // SAFETY: an all-zero IO_STATUS_BLOCK is a valid value for the call to overwrite.
        let mut status_block: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
        // SAFETY: the handle is an open, synchronous directory handle; no event or APC; the
        // status block is live; the buffer is valid for the length passed and 8-byte aligned;
        // the name points at `units`, alive for the call, with its length in bytes.
        let status = unsafe {
            NtQueryDirectoryFile(
                raw(&handle),
                ptr::null_mut(),
                None,
                ptr::null(),
                &mut status_block,
                buf.as_mut_ptr().cast(),
                u32::try_from(len).ok()?,
                FileIdBothDirectoryInformation,
                true,
                &unicode,
                true,
            )
        };
        if status < 0 {
            return None;
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let mut found = None;
        // A name is matched as a pattern: only a record of exactly this name counts.
        parse_listing(&bytes, |listed| {
            if listed.name == units {
                found = Some(listed.attributes);
            }
        })
        .ok()?;
        found
    }

    /// Opens the child `name` for examination only (attributes), not following it.
    fn open_child(&self, name: &OsStr, access: u32, options: u32) -> io::Result<OwnedHandle> {
        check_name(name)?;
        nt_open(&self.handle, name, access, FILE_OPEN, options).map_err(nt_error)
    }

    /// Metadata of the child `name`, not following a link.
    pub fn meta(&self, name: &OsStr) -> io::Result<Meta> {
        let handle = self.open_child(name, FILE_READ_ATTRIBUTES, 0)?;
        let info = info(&handle)?;
        let kind = info.kind();
        let elsewhere = info.id.volume != self.id.volume
            || (info.is_reparse() && is_volume_mount_point(&handle));
        Ok(Meta {
            kind,
            // As `crate::disk::allocated_bytes` counts on Windows: the length.
            disk_bytes: info.len,
            len: info.len,
            modified: info.modified,
            same_mount: !elsewhere,
            id: info.id,
            links: info.links,
        })
    }

    /// Opens the child `name` for deletion (and, where allowed, for clearing its read-only
    /// attribute), as itself, never its target.
    fn open_for_delete(&self, name: &OsStr, options: u32) -> io::Result<(OwnedHandle, Info)> {
        check_name(name)?;
        let access = DELETE | FILE_READ_ATTRIBUTES;
        let handle = match nt_open(
            &self.handle,
            name,
            access | FILE_WRITE_ATTRIBUTES,
            FILE_OPEN,
            options,
        ) {
            Ok(handle) => handle,
            // An ACL may grant deletion but not attribute changes.
            Err(status) if nt_error(status).raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
                nt_open(&self.handle, name, access, FILE_OPEN, options).map_err(nt_error)?
            }
            Err(STATUS_NOT_A_DIRECTORY) => return Err(Refusal::NotADirectory.error()),
            Err(status) => return Err(nt_error(status)),
        };
        let info = info(&handle)?;
        Ok((handle, info))
    }

    /// Removes the child `name` if it is not a directory. A symbolic link, junction or other
    /// reparse point is removed as itself (a directory link too), never followed.
    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        let (handle, info) = self.open_for_delete(name, 0)?;
        if info.is_dir() && !info.is_reparse() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        delete(&handle, info.attributes)
    }

    /// Removes the empty child directory `name`; a reparse point is refused.
    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        let (handle, info) = self.open_for_delete(name, FILE_DIRECTORY_FILE)?;
        if info.is_reparse() {
            return Err(Refusal::Link.error());
        }
        delete(&handle, info.attributes)
    }

    /// Creates the child directory `name`.
    pub fn create_dir(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        nt_open(
            &self.handle,
            name,
            FILE_LIST_DIRECTORY,
            FILE_CREATE,
            FILE_DIRECTORY_FILE,
        )
        .map_err(nt_error)?;
        Ok(())
    }

    /// Opens the child file `name` as `how` says, never through a link, and checks that it is
    /// a regular file with one link on this directory's volume before handing it out.
    pub fn open_file(&self, name: &OsStr, how: Open) -> io::Result<File> {
        check_name(name)?;
        let (access, disposition) = match how {
            Open::Read => (FILE_GENERIC_READ, FILE_OPEN),
            Open::ReadWrite => (FILE_GENERIC_READ | FILE_GENERIC_WRITE, FILE_OPEN_IF),
            Open::CreateNew => (FILE_GENERIC_WRITE | FILE_READ_ATTRIBUTES, FILE_CREATE),
        };
        let handle = nt_open(
            &self.handle,
            name,
            access,
            disposition,
            FILE_NON_DIRECTORY_FILE,
        )
        .map_err(|status| match status {
            STATUS_FILE_IS_A_DIRECTORY => Refusal::NotAFile.error(),
            status => nt_error(status),
        })?;
        let info = info(&handle)?;
        if info.is_reparse() {
            return Err(Refusal::Link.error());
        }
        if info.kind() != Kind::File {
            return Err(Refusal::NotAFile.error());
        }
        if info.id.volume != self.id.volume {
            return Err(Refusal::MountPoint.error());
        }
        if info.links > 1 && how != Open::Read {
            return Err(Refusal::HardLinked.error());
        }
        Ok(File::from(handle))
    }

    /// Renames the child `from` to `to` in `to_dir` (replacing a file there; a link is
    /// renamed as itself).
    pub fn rename(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        check_name(to)?;
        let handle = self.open_child(from, DELETE | FILE_READ_ATTRIBUTES, 0)?;
        let posix = rename_information(
            FILE_RENAME_REPLACE_IF_EXISTS | FILE_RENAME_POSIX_SEMANTICS,
            raw(&to_dir.handle),
            to,
        )?;
        match set_name_information(&handle, FileRenameInformationEx, &posix) {
            Ok(()) => Ok(()),
            Err(status) if unsupported_status(status) => {
                // `ReplaceIfExists`, a BOOLEAN, in the first byte.
                let classic = rename_information(1, raw(&to_dir.handle), to)?;
                set_name_information(&handle, FileRenameInformation, &classic).map_err(nt_error)
            }
            Err(status) => Err(nt_error(status)),
        }
    }

    /// Makes `to` in `to_dir` a hard link to the child `from` (a link itself, never its
    /// target, if `from` is one). An existing `to` is an error (`AlreadyExists`).
    pub fn hard_link(&self, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        check_name(to)?;
        let handle = self.open_child(from, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, 0)?;
        let info = rename_information(0, raw(&to_dir.handle), to)?;
        set_name_information(&handle, FileLinkInformation, &info).map_err(nt_error)
    }

    /// Sets the child `name`'s last-modified (and access) time, on a link itself, never its
    /// target.
    pub fn set_modified(&self, name: &OsStr, when: SystemTime) -> io::Result<()> {
        let handle = self.open_child(name, FILE_WRITE_ATTRIBUTES, 0)?;
        File::from(handle).set_times(FileTimes::new().set_accessed(when).set_modified(when))
    }

    /// Where the child link `name` points: a symbolic link's or junction's substitute name,
    /// with `\??\` given as `\\?\` (as `std::fs::read_link` gives it).
    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        let handle = self.open_child(name, FILE_READ_ATTRIBUTES, 0)?;
        if !info(&handle)?.is_reparse() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is not a link"));
        }
        let Some((_, mut target, relative)) = substitute_name(&reparse_data(&handle)?) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "is a reparse point of another kind, or a malformed one",
            ));
        };
        let nt_prefix = [b'\\', b'?', b'?', b'\\'].map(u16::from);
        if !relative
            && target.starts_with(&nt_prefix)
            && let Some(second) = target.get_mut(1)
        {
            *second = u16::from(b'\\');
        }
        Ok(OsString::from_wide(&target))
    }

    /// Creates the child `name` as a (file) symbolic link to `target`.
    pub fn symlink(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        let data = symlink_buffer(target)?;
        let handle = nt_open(
            &self.handle,
            name,
            FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | DELETE,
            FILE_CREATE,
            FILE_NON_DIRECTORY_FILE,
        )
        .map_err(nt_error)?;
        let len = u32::try_from(data.len()).map_err(|_| io::Error::other("link too long"))?;
        let mut returned = 0u32;
        // SAFETY: the handle is open; the input buffer is valid for the length passed; no
        // output; `returned` is a live u32; the call is synchronous.
        let ok = unsafe {
            DeviceIoControl(
                raw(&handle),
                FSCTL_SET_REPARSE_POINT,
                data.as_ptr().cast(),
                len,
                ptr::null_mut(),
                0,
                &mut returned,
                ptr::null_mut(),
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // The file just made is ours: take it back through its handle.
        let _ = delete(&handle, 0);
        drop(handle);
        if e.raw_os_error() == Some(ERROR_PRIVILEGE_NOT_HELD as i32) {
            return self.symlink_unprivileged(target, name);
        }
        Err(e)
    }

    /// `CreateSymbolicLinkW` with `SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE` (developer
    /// mode lets it create links without the privilege, which the handle-relative call needs),
    /// by path, once the path is checked to still lead to this directory. Creating never
    /// deletes: the worst a swap in between could do is put the link elsewhere.
    fn symlink_unprivileged(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        if Dir::open_no_follow(&self.path)?.id != self.id {
            return Err(Refusal::Moved.error());
        }
        let link: Vec<u16> = self
            .path
            .join(name)
            .as_os_str()
            .encode_wide()
            .chain(Some(0))
            .collect();
        let to: Vec<u16> = target.encode_wide().chain(Some(0)).collect();
        // SAFETY: both names are NUL-terminated and alive for the call.
        let ok = unsafe {
            CreateSymbolicLinkW(
                link.as_ptr(),
                to.as_ptr(),
                SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE,
            )
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Windows ignores the read-only attribute on directories: nothing to do.
    pub fn make_writable_if(&self, _yes: bool) {}

    /// Windows ignores the read-only attribute on directories: nothing to do.
    pub fn set_mode(&self, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    /// Directories have no permission bits on Windows.
    pub fn own_mode(&self) -> io::Result<u32> {
        Ok(0o777)
    }

    /// Unix-style permission bits from the child's read-only attribute (not following it).
    pub fn mode_of(&self, name: &OsStr) -> io::Result<u32> {
        let handle = self.open_child(name, FILE_READ_ATTRIBUTES, 0)?;
        Ok(
            if info(&handle)?.attributes & FILE_ATTRIBUTE_READONLY != 0 {
                0o444
            } else {
                0o666
            },
        )
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

/// The `REPARSE_DATA_BUFFER` of a symbolic link to `target`: an absolute Win32 path
/// (`C:\dir`, `\\?\C:\dir`, `\\server\share`) becomes an NT substitute name (`\??\C:\dir`,
/// `\??\UNC\server\share`); anything else is a relative link. The print name is the target as
/// given.
fn symlink_buffer(target: &OsStr) -> io::Result<Vec<u8>> {
    let print: Vec<u16> = target.encode_wide().collect();
    let text = target.to_string_lossy();
    let bytes = text.as_bytes();
    let drive_absolute = bytes.len() >= 3
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':')
        && bytes.get(2) == Some(&b'\\');
    let (substitute, relative): (Vec<u16>, bool) =
        if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
            (
                r"\??\UNC\"
                    .encode_utf16()
                    .chain(rest.encode_utf16())
                    .collect(),
                false,
            )
        } else if let Some(rest) = text.strip_prefix(r"\\?\") {
            (
                r"\??\".encode_utf16().chain(rest.encode_utf16()).collect(),
                false,
            )
        } else if let Some(rest) = text.strip_prefix(r"\\") {
            (
                r"\??\UNC\"
                    .encode_utf16()
                    .chain(rest.encode_utf16())
                    .collect(),
                false,
            )
        } else if drive_absolute {
            (
                r"\??\".encode_utf16().chain(text.encode_utf16()).collect(),
                false,
            )
        } else {
            (print.clone(), true)
        };
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "link target too long");
    let byte_len = |units: &[u16]| {
        units
            .len()
            .checked_mul(2)
            .and_then(|b| u16::try_from(b).ok())
            .ok_or_else(too_long)
    };
    let sub_bytes = byte_len(&substitute)?;
    let print_bytes = byte_len(&print)?;
    let mut path = Vec::new();
    path.extend(substitute.iter().flat_map(|u| u.to_le_bytes()));
    path.extend(print.iter().flat_map(|u| u.to_le_bytes()));
    let mut data = Vec::new();
    data.extend(0u16.to_le_bytes());
    data.extend(sub_bytes.to_le_bytes());
    data.extend(sub_bytes.to_le_bytes());
    data.extend(print_bytes.to_le_bytes());
    data.extend(if relative { SYMLINK_RELATIVE } else { 0 }.to_le_bytes());
    data.extend(path);
    let data_len = u16::try_from(data.len()).map_err(|_| too_long())?;
    let mut buf = TAG_SYMLINK.to_le_bytes().to_vec();
    buf.extend(data_len.to_le_bytes());
    buf.extend([0, 0]);
    buf.extend(data);
    if buf.len() > MAX_REPARSE_BUFFER {
        return Err(too_long());
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::super::{is_gone, refusal};
    use super::*;
    use crate::disk::reparse::{self, Reparse};
    use proptest::prelude::*;
    use std::fs;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    /// One `FILE_ID_BOTH_DIR_INFO` record as the system lays it out, `next` bytes from the
    /// next (0: the last).
    fn record(listed: &Listed, next: u32) -> Vec<u8> {
        let mut r = vec![0u8; NAME_IN_DIR_INFO];
        r[0..4].copy_from_slice(&next.to_le_bytes());
        r[24..32].copy_from_slice(&listed.modified.to_le_bytes());
        r[40..48].copy_from_slice(&listed.len.to_le_bytes());
        r[56..60].copy_from_slice(&listed.attributes.to_le_bytes());
        r[60..64].copy_from_slice(&(listed.name.len() as u32 * 2).to_le_bytes());
        r.extend(listed.name.iter().flat_map(|u| u.to_le_bytes()));
        r
    }

    /// Records chained as the system chains them: each starts 8-byte aligned.
    fn listing(entries: &[Listed]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let len = record(e, 0).len().next_multiple_of(8);
            let next = if i + 1 == entries.len() {
                0
            } else {
                len as u32
            };
            let mut r = record(e, next);
            r.resize(len, 0);
            buf.extend(r);
        }
        buf
    }

    fn listed(name: &str, attributes: u32) -> Listed {
        Listed {
            name: wide(name),
            attributes,
            len: 42,
            modified: 133_000_000_000_000_000,
        }
    }

    fn parse_all(buf: &[u8]) -> io::Result<Vec<Listed>> {
        let mut out = Vec::new();
        parse_listing(buf, |l| out.push(l))?;
        Ok(out)
    }

    #[test]
    fn listing_records_are_decoded_in_order() {
        let entries = vec![
            listed(".", FILE_ATTRIBUTE_DIRECTORY),
            listed("..", FILE_ATTRIBUTE_DIRECTORY),
            listed("00", FILE_ATTRIBUTE_DIRECTORY),
            listed("a-d", FILE_ATTRIBUTE_READONLY),
            listed(
                "名前",
                FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY,
            ),
        ];
        let mut buf = listing(&entries);
        // What follows the last record is never read.
        buf.extend([0xff; 64]);
        assert_eq!(parse_all(&buf).unwrap(), entries);
    }

    #[test]
    fn malformed_listings_are_errors_not_panics() {
        let good = listing(&[listed("abc", 0x20), listed("def", 0x20)]);
        // The last name ends 6 bytes after the second record's header; padding follows.
        let end = 112 + NAME_IN_DIR_INFO + 6;
        for cut in 0..good.len() {
            // Cut inside a record (or between the records: the first points past the end),
            // an error; cut in the padding after the last name, whole.
            assert_eq!(parse_all(&good[..cut]).is_ok(), cut >= end, "cut at {cut}");
        }
        // A name longer than what is left.
        let mut long = good.clone();
        long[60..64].copy_from_slice(&10_000u32.to_le_bytes());
        assert!(parse_all(&long).is_err());
        // An odd name length.
        let mut odd = listing(&[listed("abc", 0x20)]);
        odd[60..64].copy_from_slice(&5u32.to_le_bytes());
        assert!(parse_all(&odd).is_err());
        // A next offset past the end, or as large as can be.
        for next in [good.len() as u32, u32::MAX] {
            let mut far = good.clone();
            far[0..4].copy_from_slice(&next.to_le_bytes());
            assert!(parse_all(&far).is_err(), "next {next}");
        }
        assert!(parse_all(&[]).is_err());
    }

    #[test]
    fn reparse_buffers_are_read_with_checked_offsets() {
        // A symbolic link this module writes is what the full decoder reads.
        for (target, expected, relative) in [
            (r"C:\go\cache", r"C:\go\cache", false),
            (r"\\?\D:\x", r"D:\x", false),
            (r"\\server\share\go", r"\\server\share\go", false),
            (r"\\?\UNC\server\share", r"\\server\share", false),
            (r"..\cache", r"..\cache", true),
            ("名前", "名前", true),
        ] {
            let buf = symlink_buffer(OsStr::new(target)).unwrap();
            assert_eq!(
                reparse::parse(&buf).unwrap(),
                Reparse::Symlink {
                    target: expected.into(),
                    relative
                },
                "{target}"
            );
            let (tag, name, rel) = substitute_name(&buf).unwrap();
            assert_eq!((tag, rel), (TAG_SYMLINK, relative));
            if relative {
                assert_eq!(name, wide(target));
            }
        }
        // Every prefix of a good buffer: no panic, and never a name from outside it.
        let buf = symlink_buffer(OsStr::new(r"C:\x")).unwrap();
        for cut in 0..buf.len() {
            assert_eq!(substitute_name(&buf[..cut]), None, "cut at {cut}");
        }
        assert!(substitute_name(&buf).is_some());
        // Other tags carry no name this module wants.
        let mut other = buf.clone();
        other[0..4].copy_from_slice(&0x8000_0013u32.to_le_bytes());
        assert_eq!(substitute_name(&other), None);
    }

    #[test]
    fn a_volume_mount_point_is_told_from_a_junction() {
        let volume = wide(r"\??\Volume{5b1c3d2e-0f4a-11ef-9a3b-806e6f6e6963}\");
        assert!(is_volume_guid_path(&volume));
        for junction in [
            r"\??\Volume{5b1c3d2e-0f4a-11ef-9a3b-806e6f6e6963}\go",
            r"\??\Volume{not-a-guid}\",
            r"\??\C:\go",
            "",
        ] {
            assert!(!is_volume_guid_path(&wide(junction)), "{junction}");
        }
        // An unpaired surrogate is no GUID.
        let mut broken = volume.clone();
        broken[12] = 0xD800;
        assert!(!is_volume_guid_path(&broken));
    }

    #[test]
    fn file_times_never_overflow() {
        assert_eq!(
            time_from_filetime(116_444_736_000_000_000),
            SystemTime::UNIX_EPOCH
        );
        assert_eq!(
            time_from_filetime(116_444_736_000_000_000 + 15),
            SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1500)
        );
        for t in [0, 1, u64::MAX, i64::MAX as u64, u64::MAX - 1] {
            let _ = time_from_filetime(t);
        }
    }

    proptest! {
        #![proptest_config(crate::testing::budget(1000))]

        #[test]
        fn any_bytes_are_a_listing_or_an_error(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_all(&buf);
            let _ = substitute_name(&buf);
        }

        #[test]
        fn listings_decode_to_what_was_encoded(
            entries in proptest::collection::vec(
                (proptest::collection::vec(any::<u16>(), 0..40), any::<u32>(), any::<u64>(), any::<u64>())
                    .prop_map(|(name, attributes, len, modified)| Listed { name, attributes, len, modified }),
                1..12,
            )
        ) {
            prop_assert_eq!(parse_all(&listing(&entries)).unwrap(), entries);
        }

        #[test]
        fn damaged_listings_never_panic(
            entries in proptest::collection::vec(
                proptest::collection::vec(any::<u16>(), 0..20)
                    .prop_map(|name| Listed { name, attributes: 0x20, len: 1, modified: 1 }),
                1..6,
            ),
            at in any::<usize>(),
            byte in any::<u8>(),
            cut in any::<usize>(),
        ) {
            let mut buf = listing(&entries);
            let n = buf.len();
            buf[at % n] = byte;
            buf.truncate(cut % (n + 1));
            let _ = parse_all(&buf);
        }
    }

    // ---- Against the filesystem (under Wine by scripts/test-windows.sh).

    fn names(dir: &Dir) -> Vec<String> {
        let mut v: Vec<String> = dir
            .names()
            .unwrap()
            .into_iter()
            .map(|n| n.into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_listing_longer_than_one_buffer_is_read_whole_and_clones_list_on_their_own() {
        let tmp = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        // About 300 bytes a record: many more than one 64 KiB read holds.
        for i in 0..600 {
            let name = format!("{i:04}-{}", "x".repeat(90));
            fs::write(tmp.path().join(&name), "").unwrap();
            expected.push(name);
        }
        expected.sort();
        let dir = Dir::open(tmp.path()).unwrap();
        let clone = dir.try_clone().unwrap();
        assert_eq!(clone.id(), dir.id());
        // Interleaved listings through both handles, each whole.
        let mut first = Vec::new();
        dir.each_name(|n| {
            if first.len() == 10 {
                assert_eq!(names(&clone), expected);
            }
            first.push(n.to_string_lossy().into_owned());
        })
        .unwrap();
        first.sort();
        assert_eq!(first, expected);
        assert_eq!(names(&dir), expected);
    }

    #[test]
    fn an_empty_directory_lists_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(Dir::open(tmp.path()).unwrap().names().unwrap().is_empty());
    }

    #[test]
    fn metadata_comes_from_the_childs_own_handle() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("f"), "12345").unwrap();
        fs::create_dir(tmp.path().join("d")).unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let f = dir.meta(OsStr::new("f")).unwrap();
        assert_eq!((f.kind, f.len, f.links), (Kind::File, 5, 1));
        assert!(f.same_mount);
        assert_eq!(f.id.volume, dir.id().volume);
        let std_modified = fs::metadata(tmp.path().join("f"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(f.modified, std_modified);
        let d = dir.meta(OsStr::new("d")).unwrap();
        assert_eq!(d.kind, Kind::Dir);
        assert_eq!(dir.open_dir(OsStr::new("d")).unwrap().id(), d.id);
        assert_ne!(d.id, f.id);
        assert!(is_gone(&dir.meta(OsStr::new("missing")).unwrap_err()));
        assert_eq!(
            refusal(&dir.open_dir(OsStr::new("f")).unwrap_err()),
            Some(Refusal::NotADirectory)
        );
        let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        dir.set_modified(OsStr::new("f"), when).unwrap();
        assert_eq!(dir.meta(OsStr::new("f")).unwrap().modified, when);
        assert_eq!(dir.mode_of(OsStr::new("f")).unwrap(), 0o666);
    }

    #[test]
    fn state_files_are_checked_before_they_are_handed_out() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let name = OsStr::new("state.json");
        {
            let mut f = dir.open_file(name, Open::CreateNew).unwrap();
            std::io::Write::write_all(&mut f, b"{}").unwrap();
            f.set_modified(SystemTime::now()).unwrap();
            assert_eq!(f.metadata().unwrap().len(), 2);
        }
        assert_eq!(
            dir.open_file(name, Open::CreateNew).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut dir.open_file(name, Open::Read).unwrap(), &mut text)
            .unwrap();
        assert_eq!(text, "{}");
        drop(dir.open_file(name, Open::ReadWrite).unwrap());
        // A second name for the file: someone else's content could change through it.
        dir.hard_link(name, &dir, OsStr::new("other")).unwrap();
        assert_eq!(
            dir.hard_link(name, &dir, OsStr::new("other"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            refusal(&dir.open_file(name, Open::ReadWrite).unwrap_err()),
            Some(Refusal::HardLinked)
        );
        assert!(dir.open_file(name, Open::Read).is_ok());
        fs::create_dir(tmp.path().join("d")).unwrap();
        assert_eq!(
            refusal(&dir.open_file(OsStr::new("d"), Open::Read).unwrap_err()),
            Some(Refusal::NotAFile)
        );
        assert!(dir.writable());
    }

    #[test]
    fn renames_and_links_go_where_the_target_handle_is() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("a")).unwrap();
        fs::create_dir(tmp.path().join("b")).unwrap();
        let a = Dir::open(&tmp.path().join("a")).unwrap();
        let b = Dir::open(&tmp.path().join("b")).unwrap();
        fs::write(tmp.path().join("a/new"), "new").unwrap();
        fs::write(tmp.path().join("b/old"), "old").unwrap();
        // Replacing what is there.
        a.rename(OsStr::new("new"), &b, OsStr::new("old")).unwrap();
        assert_eq!(fs::read_to_string(tmp.path().join("b/old")).unwrap(), "new");
        assert!(!tmp.path().join("a/new").exists());
        b.hard_link(OsStr::new("old"), &a, OsStr::new("linked"))
            .unwrap();
        assert_eq!(
            fs::read_to_string(tmp.path().join("a/linked")).unwrap(),
            "new"
        );
        assert_eq!(b.meta(OsStr::new("old")).unwrap().links, 2);
        a.create_dir(OsStr::new("sub")).unwrap();
        assert_eq!(
            a.create_dir(OsStr::new("sub")).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            refusal(&a.remove_dir(OsStr::new("linked")).unwrap_err()),
            Some(Refusal::NotADirectory)
        );
        assert_eq!(
            a.remove_file(OsStr::new("sub")).unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        a.remove_dir(OsStr::new("sub")).unwrap();
        a.remove_file(OsStr::new("linked")).unwrap();
        assert_eq!(names(&a), Vec::<String>::new());
        assert_eq!(names(&b), ["old"]);
    }

    #[test]
    fn a_symbolic_link_is_made_relative_to_the_handle_or_not_at_all() {
        // Wine cannot make one (FSCTL_SET_REPARSE_POINT is not supported): then nothing is
        // left behind under the name. Windows makes it, and reads it back.
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let name = OsStr::new("link");
        match dir.symlink(OsStr::new(r"..\target"), name) {
            Ok(()) => {
                assert_eq!(dir.meta(name).unwrap().kind, Kind::Link);
                assert_eq!(dir.read_link(name).unwrap(), r"..\target");
            }
            Err(e) => {
                assert!(is_gone(&dir.meta(name).unwrap_err()), "{e}");
            }
        }
    }
}
