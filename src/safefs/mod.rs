//! The one way go-disk-guard deletes files and writes its state.
//!
//! Every removal and every write of state goes through a [`Dir`]: an open directory handle,
//! relative to which children are examined, opened, created, renamed and removed by name.
//! What that buys:
//!
//! * **No link is ever followed.** Children are opened with `O_NOFOLLOW` (Windows:
//!   `FILE_FLAG_OPEN_REPARSE_POINT`) and examined without following links; a symbolic link,
//!   junction or other reparse point is removed as a name where removing is the job, never
//!   entered. A directory swapped for a link after it was listed cannot redirect anything:
//!   the handle already open still names the directory that was checked.
//! * **No mount point is ever crossed**, bind mounts of the same filesystem included: on
//!   Linux a child's mount ID (`statx`'s `stx_mnt_id`, Linux 5.8+; `name_to_handle_at`'s
//!   before that, or `/proc/self/mountinfo` on a filesystem without file handles) must equal
//!   its parent's, which the device number alone cannot tell; on
//!   other Unix systems the device number must; on Windows every reparse point is refused, the
//!   only way a tree reaches another volume there. A mount point inside a tree is left alone
//!   and reported ([`Refusal::MountPoint`]); so is everything above it.
//! * **No recursion a tree can deepen.** [`remove_tree`] and [`usage`] walk with an explicit
//!   stack; at most [`MAX_OPEN`] directory handles are open per walk, and a directory whose
//!   handle was closed is reopened through `..` and checked to be the same directory (by
//!   device and inode) before it is used again.
//! * **State files are what they claim to be.** [`Dir::open_file`] opens with `O_NOFOLLOW`
//!   and non-blocking, then checks that the file is a regular file on the directory's own
//!   mount with a single link before it is used: a planted symbolic link, FIFO, device, bind
//!   mount or hard link to someone else's file is refused, and new files are created with
//!   `O_EXCL`.
//!
//! Callers decide *which* directories may be worked in (a verified Go build cache, a
//! `go-build<digits>` work directory, the cache program's own state directory); this module
//! makes sure that whatever happens inside them stays inside them.
//!
//! The platform code sits behind [`Dir`] (`unix.rs`, `windows.rs`); the walks and the
//! `/proc/self/mountinfo` parser ([`mountinfo`]) are shared and tested everywhere. This module
//! is a leaf: it imports nothing of the crate.

pub mod mountinfo;

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "windows.rs"]
mod sys;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(unix)]
#[doc(hidden)]
pub use sys::force_mountinfo_fallback;
pub use sys::{Dir, is_held_open, set_file_mode};

/// At most this many directory handles are open at once in one walk; deeper directories are
/// reached again through `..` (Unix) when the walk climbs back. Several walks run in parallel
/// (one per I/O thread), so this stays small.
pub const MAX_OPEN: usize = 16;

/// The kind of a directory entry, read without following a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic link, junction, mount point or other reparse point (Windows).
    Link,
    /// A FIFO, socket or device.
    Other,
}

/// Identifies a file on a machine: its volume and its number on it (Unix: device and inode;
/// Windows: volume serial number and file ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub volume: u64,
    pub file: u128,
}

/// Metadata of a directory entry, read without following a link.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: Kind,
    /// Bytes it occupies on disk: allocated blocks where the system reports them (as `du`
    /// counts), else its length.
    pub disk_bytes: u64,
    /// Its length in bytes.
    pub len: u64,
    pub modified: SystemTime,
    /// Whether it lives on the directory's own mount. False for a mount point (a bind mount
    /// of the same filesystem included) and for anything on another volume.
    pub same_mount: bool,
    pub id: FileId,
    /// Hard links to it.
    pub links: u64,
}

/// Why something was left alone. Carried inside an [`io::Error`]: see [`refusal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A symbolic link, junction or other reparse point where a directory or file was wanted.
    Link,
    /// A mount point, or something on another volume.
    MountPoint,
    NotADirectory,
    /// Not a regular file (a FIFO, socket, device or directory) where a file was wanted.
    NotAFile,
    /// A file with more than one hard link: writing it would change another name's content.
    HardLinked,
    /// A name that is not one component (empty, `.`, `..`, or holding a separator).
    BadName,
    /// A directory reopened through `..` was not the one left there: the tree was moved
    /// while it was walked.
    Moved,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Link => "is a symbolic link or reparse point",
            Refusal::MountPoint => "is a mount point or on another volume",
            Refusal::NotADirectory => "is not a directory",
            Refusal::NotAFile => "is not a regular file",
            Refusal::HardLinked => "has other hard links",
            Refusal::BadName => "is not a plain file name",
            Refusal::Moved => "was moved while it was walked",
        })
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// This refusal as an [`io::Error`] of a fitting kind.
    pub fn error(self) -> io::Error {
        let kind = match self {
            Refusal::MountPoint => io::ErrorKind::CrossesDevices,
            Refusal::NotADirectory => io::ErrorKind::NotADirectory,
            Refusal::BadName => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The refusal an error carries, if it is one of this module's.
pub fn refusal(e: &io::Error) -> Option<Refusal> {
    e.get_ref()?.downcast_ref::<Refusal>().copied()
}

/// Checks that `name` is one plain component: the only kind of name this module passes to the
/// system, so that no name can climb out of or reach through a directory.
pub fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_encoded_bytes();
    let separator = |c: &u8| *c == b'/' || *c == 0 || (cfg!(windows) && matches!(*c, b'\\' | b':'));
    if b.is_empty() || b == b"." || b == b".." || b.iter().any(separator) {
        return Err(Refusal::BadName.error());
    }
    Ok(())
}

/// A time read from the filesystem as seconds and nanoseconds since the Unix epoch, without
/// overflow whatever the numbers (a file can carry any time).
pub fn time_from_unix(secs: i64, nanos: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos.min(999_999_999)));
    if secs >= 0 {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs.unsigned_abs()) + nanos)
            .unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(nanos))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// Whether an error says the thing is simply not there (any more).
pub fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// How a state file is opened by [`Dir::open_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Read an existing file.
    Read,
    /// Read and write, creating the file when it is missing.
    ReadWrite,
    /// Create a new file for writing; fail if the name exists (`O_EXCL`).
    CreateNew,
}

impl Dir {
    /// Opens (creating) `name` as one of this program's own state files: as
    /// [`Open::ReadWrite`], but a link, FIFO, device or hard link planted under the name is
    /// removed as a name (its target, or the other name's file, untouched) and the file made
    /// afresh. A directory or a mount point under the name is refused.
    pub fn open_own_file(&self, name: &OsStr) -> io::Result<std::fs::File> {
        match self.open_file(name, Open::ReadWrite) {
            Err(e)
                if matches!(
                    refusal(&e),
                    Some(Refusal::Link | Refusal::NotAFile | Refusal::HardLinked)
                ) =>
            {
                self.remove_file(name)?;
                self.open_file(name, Open::ReadWrite)
            }
            other => other,
        }
    }
}

/// Writes `bytes` as the file `name` in `dir`, whole or not at all: into a new temporary file
/// beside it, then renamed over `name`. Whatever `name` was (a link, a FIFO, a hard link to
/// something else), it is replaced as a name; nothing is written through it. A directory under
/// the name is refused by the rename. The temporary name is short, so that any `name` the
/// system takes works; one that exists already (another process's) is passed over, never
/// removed: only a temporary file this call created is removed when something fails.
pub fn replace_file(dir: &Dir, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    check_name(name)?;
    let mut attempts = 0;
    let (temp, mut file) = loop {
        let temp = temp_name(std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        match dir.open_file(&temp, Open::CreateNew) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    // Closed before the rename, which Windows refuses for an open file.
    drop(file);
    let result = written.and_then(|()| dir.rename(&temp, dir, name));
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result
}

/// A temporary name for [`replace_file`]: a process's id and a serial number.
fn temp_name(pid: u32, serial: u64) -> OsString {
    OsString::from(format!(".go-disk-guard-{pid}-{serial}.tmp"))
}

/// Something a walk left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    /// Its path below the walk's top directory.
    pub path: PathBuf,
    pub why: String,
}

/// What [`remove_tree`] removed and what it left.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    /// Files, links and other non-directories removed.
    pub files: u64,
    pub dirs: u64,
    /// Bytes on disk of the files removed.
    pub bytes: u64,
    /// Things left in place (mount points, files held open, failures), the first
    /// [`MAX_LEFT_NAMED`] of them. The directories above them stay too.
    pub left: Vec<Left>,
    /// How many things were left in place in all.
    pub left_count: u64,
}

impl Removed {
    /// Whether the whole tree, its top included, is gone.
    pub fn complete(&self) -> bool {
        self.left_count == 0
    }
}

/// Bytes and files under a directory, as [`usage`] counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    /// Files, links and other non-directories.
    pub files: u64,
    pub dirs: u64,
    /// Mount points and links to directories met and not entered.
    pub not_entered: u64,
}

/// At most this many things left alone are named in a [`Removed`].
pub const MAX_LEFT_NAMED: usize = 10;

/// One directory on a walk's stack.
struct Frame {
    /// Open while among the top [`MAX_OPEN`] frames; reopened through `..` when needed.
    dir: Option<Dir>,
    id: FileId,
    /// Its name in its parent.
    name: OsString,
    /// Children not yet handled.
    pending: Vec<OsString>,
    /// Something inside stays, so the directory cannot be removed.
    blocked: bool,
}

/// What the walk met, handed to its visitor. The visitor answers `Some(why)` when the thing
/// stays in place (which keeps every directory above it), `None` otherwise.
enum Step<'a> {
    /// A non-directory child (file, link, other) of `dir`.
    Entry {
        dir: &'a Dir,
        name: &'a OsStr,
        meta: &'a Meta,
    },
    /// A child that is not entered: a mount point, something on another volume, or a
    /// directory that could not be opened.
    Skipped { why: String },
    /// A directory whose children have all been handled; `parent` holds it (`None` for the
    /// top), `blocked` when something inside stays.
    DirDone {
        parent: Option<&'a Dir>,
        name: &'a OsStr,
        blocked: bool,
    },
}

/// The walk shared by [`remove_tree`] and [`usage`]: depth first, iterative, with at most
/// [`MAX_OPEN`] handles open, entering only real directories on the top's mount.
struct Walk {
    stack: Vec<Frame>,
    left: Vec<Left>,
    left_count: u64,
    /// Make each directory writable before its children are handled (for removal).
    make_writable: bool,
}

impl Walk {
    fn new(top: Dir, name: OsString) -> io::Result<Walk> {
        let pending = top.names()?;
        Ok(Walk {
            stack: vec![Frame {
                id: top.id(),
                dir: Some(top),
                name,
                pending,
                blocked: false,
            }],
            left: Vec::new(),
            left_count: 0,
            make_writable: false,
        })
    }

    /// Records that `name`, a child of the top frame (or the top itself when the stack is
    /// empty), stays.
    fn leave(&mut self, name: &OsStr, why: String) {
        self.left_count = self.left_count.saturating_add(1);
        if self.left.len() < MAX_LEFT_NAMED {
            let mut path: PathBuf = self.stack.iter().skip(1).map(|f| &f.name).collect();
            path.push(name);
            self.left.push(Left { path, why });
        }
    }

    /// Runs the walk to its end, handing every step to `visit`; returns what was left alone
    /// (the first few) and how many things were.
    fn run(
        mut self,
        mut visit: impl FnMut(Step<'_>) -> io::Result<Option<String>>,
    ) -> io::Result<(Vec<Left>, u64)> {
        while let Some(top) = self.stack.last_mut() {
            let Some(child) = top.pending.pop() else {
                self.finish_dir(&mut visit)?;
                continue;
            };
            let Some(dir) = top.dir.as_ref() else {
                return Err(io::Error::other("a walk lost its directory handle"));
            };
            let stays = match dir.meta(&child) {
                Err(e) if is_gone(&e) => None,
                Err(e) => visit(Step::Skipped { why: e.to_string() })?,
                Ok(meta) if !meta.same_mount => visit(Step::Skipped {
                    why: Refusal::MountPoint.to_string(),
                })?,
                Ok(meta) if meta.kind != Kind::Dir => visit(Step::Entry {
                    dir,
                    name: &child,
                    meta: &meta,
                })?,
                Ok(_) => match dir.open_dir(&child).and_then(|sub| {
                    sub.make_writable_if(self.make_writable);
                    let pending = sub.names()?;
                    Ok((sub, pending))
                }) {
                    Ok((sub, pending)) => {
                        self.push(sub, child, pending);
                        continue;
                    }
                    Err(e) if is_gone(&e) => None,
                    Err(e) => visit(Step::Skipped {
                        why: refusal(&e).map_or_else(|| e.to_string(), |r| r.to_string()),
                    })?,
                },
            };
            if let Some(why) = stays {
                if let Some(top) = self.stack.last_mut() {
                    top.blocked = true;
                }
                self.leave(&child, why);
            }
        }
        Ok((self.left, self.left_count))
    }

    fn push(&mut self, dir: Dir, name: OsString, pending: Vec<OsString>) {
        // Keep at most MAX_OPEN handles: close the one that falls out of the window.
        if Dir::CAN_REOPEN_PARENT
            && let Some(at) = (self.stack.len() + 1).checked_sub(MAX_OPEN + 1)
            && let Some(frame) = self.stack.get_mut(at)
        {
            frame.dir = None;
        }
        self.stack.push(Frame {
            id: dir.id(),
            dir: Some(dir),
            name,
            pending,
            blocked: false,
        });
    }

    /// Pops the finished top frame, reopening its parent through `..` when that handle was
    /// closed, and reports it.
    fn finish_dir(
        &mut self,
        visit: &mut impl FnMut(Step<'_>) -> io::Result<Option<String>>,
    ) -> io::Result<()> {
        let Some(done) = self.stack.pop() else {
            return Ok(());
        };
        let Some(parent) = self.stack.last_mut() else {
            drop(done.dir);
            if let Some(why) = visit(Step::DirDone {
                parent: None,
                name: &done.name,
                blocked: done.blocked,
            })? {
                self.leave(&done.name, why);
            }
            return Ok(());
        };
        if parent.dir.is_none() {
            let child = done
                .dir
                .as_ref()
                .ok_or_else(|| io::Error::other("a walk lost its directory handle"))?;
            let reopened = child.open_parent()?;
            if reopened.id() != parent.id {
                return Err(Refusal::Moved.error());
            }
            parent.dir = Some(reopened);
        }
        drop(done.dir);
        let Some(parent_dir) = parent.dir.as_ref() else {
            return Err(io::Error::other("a walk lost its directory handle"));
        };
        let stays = visit(Step::DirDone {
            parent: Some(parent_dir),
            name: &done.name,
            blocked: done.blocked,
        })?;
        if let Some(why) = stays {
            parent.blocked = true;
            self.leave(&done.name, why);
        }
        Ok(())
    }
}

/// The reason a removal failed, or nothing when the thing was already gone.
fn failed(result: io::Result<()>) -> Option<String> {
    match result {
        Ok(()) => None,
        Err(e) if is_gone(&e) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// Removes the directory `name` in `parent` and everything under it: links as links, never
/// followed; mount points (bind mounts included) and whatever holds them left in place and
/// reported; read-only directories made writable first (Go makes the module cache's so).
/// Without recursion, with at most [`MAX_OPEN`] handles open. `name` itself must be a real
/// directory on `parent`'s mount, or nothing is done.
pub fn remove_tree(parent: &Dir, name: &OsStr) -> io::Result<Removed> {
    let mut removed = clear(parent.open_dir(name)?, |_, _| true)?;
    if removed.complete() {
        match parent.remove_dir(name) {
            Ok(()) => removed.dirs += 1,
            Err(e) if is_gone(&e) => {}
            Err(e) => {
                removed.left_count += 1;
                removed.left.push(Left {
                    path: PathBuf::new(),
                    why: e.to_string(),
                });
            }
        }
    }
    Ok(removed)
}

/// Removes what is under the open directory `top` (not `top` itself), as [`remove_tree`]
/// does, but only the non-directories for which `removable(name, meta)` says yes: the others
/// stay, and so do the directories holding them.
pub fn clear(top: Dir, mut removable: impl FnMut(&OsStr, &Meta) -> bool) -> io::Result<Removed> {
    top.make_writable_if(true);
    let mut removed = Removed::default();
    let mut walk = Walk::new(top, OsString::new())?;
    walk.make_writable = true;
    (removed.left, removed.left_count) = walk.run(|step| {
        Ok(match step {
            Step::Entry { name, meta, .. } if !removable(name, meta) => {
                Some("not to be removed".to_string())
            }
            Step::Entry { dir, name, meta } => {
                let why = failed(dir.remove_file(name));
                if why.is_none() {
                    removed.files += 1;
                    removed.bytes = removed.bytes.saturating_add(meta.disk_bytes);
                }
                why
            }
            Step::Skipped { why } => Some(why),
            Step::DirDone { blocked: true, .. } | Step::DirDone { parent: None, .. } => None,
            Step::DirDone {
                parent: Some(dir),
                name,
                ..
            } => {
                let why = failed(dir.remove_dir(name));
                if why.is_none() {
                    removed.dirs += 1;
                }
                why
            }
        })
    })?;
    Ok(removed)
}

/// Bytes and files under the directory `name` in `parent`, never following a link nor
/// entering a mount point, without recursion.
pub fn usage(parent: &Dir, name: &OsStr) -> io::Result<Usage> {
    usage_of(parent.open_dir(name)?)
}

/// Bytes and files under an open directory, as [`usage`].
pub fn usage_of(top: Dir) -> io::Result<Usage> {
    let mut usage = Usage::default();
    Walk::new(top, OsString::new())?.run(|step| {
        match step {
            Step::Entry { meta, .. } => {
                usage.files += 1;
                usage.bytes = usage.bytes.saturating_add(meta.disk_bytes);
            }
            Step::Skipped { .. } => usage.not_entered += 1,
            Step::DirDone {
                parent: Some(_), ..
            } => usage.dirs += 1,
            Step::DirDone { parent: None, .. } => {}
        }
        Ok(None)
    })?;
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_one_component() {
        for bad in ["", ".", "..", "a/b", "/", "a\0b"] {
            assert_eq!(
                check_name(OsStr::new(bad)).map_err(|e| refusal(&e)),
                Err(Some(Refusal::BadName)),
                "{bad:?}"
            );
        }
        for good in ["a", "...", "00", "go-build123", "名前", ".hidden"] {
            assert!(check_name(OsStr::new(good)).is_ok(), "{good:?}");
        }
    }

    /// `replace_file` writes through a temporary name of its own: a file already under such a
    /// name (another process's, in a directory shared with another PID namespace) is neither
    /// removed nor in the way, and a name as long as the system allows still works.
    #[cfg(unix)]
    #[test]
    fn replacing_a_file_leaves_others_files_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let name = OsStr::new("settings.yml");
        let theirs: Vec<_> = (0..64)
            .map(|serial| temp_name(std::process::id(), serial))
            .collect();
        for other in &theirs {
            std::fs::write(tmp.path().join(other), "theirs").unwrap();
        }
        replace_file(&dir, name, b"mine").unwrap();
        assert_eq!(std::fs::read(tmp.path().join(name)).unwrap(), b"mine");
        for other in &theirs {
            assert_eq!(
                std::fs::read(tmp.path().join(other)).unwrap(),
                b"theirs",
                "{other:?}"
            );
        }
        let long = "s".repeat(255);
        replace_file(&dir, OsStr::new(&long), b"long").unwrap();
        assert_eq!(std::fs::read(tmp.path().join(&long)).unwrap(), b"long");
    }

    #[test]
    fn times_never_overflow() {
        assert_eq!(time_from_unix(0, 0), UNIX_EPOCH);
        assert_eq!(
            time_from_unix(1, 5),
            UNIX_EPOCH + Duration::from_secs(1) + Duration::from_nanos(5)
        );
        for secs in [i64::MAX, i64::MIN, i64::MAX - 1, -1] {
            let _ = time_from_unix(secs, u32::MAX);
        }
    }

    #[cfg(unix)]
    mod walks {
        use super::*;
        use proptest::prelude::*;
        use std::fs;
        use std::path::Path;

        /// One step of building a tree: go down into a new directory, up, or put a file or a
        /// link to the victim here.
        #[derive(Clone, Debug)]
        enum Op {
            Down,
            Up,
            File(u8),
            LinkOut,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => Just(Op::Down),
                2 => Just(Op::Up),
                3 => any::<u8>().prop_map(Op::File),
                1 => Just(Op::LinkOut),
            ]
        }

        /// Builds the tree the ops describe under `top`; returns its files and directories.
        fn build(top: &Path, ops: &[Op], victim: &Path) -> (u64, u64) {
            let mut here = top.to_path_buf();
            let (mut files, mut dirs, mut n) = (0, 0, 0);
            for op in ops {
                n += 1;
                match op {
                    Op::Down => {
                        here.push(format!("d{n}"));
                        fs::create_dir(&here).unwrap();
                        dirs += 1;
                    }
                    Op::Up if here != top => {
                        here.pop();
                    }
                    Op::Up => {}
                    Op::File(len) => {
                        fs::write(here.join(format!("f{n}")), vec![b'x'; usize::from(*len)])
                            .unwrap();
                        files += 1;
                    }
                    Op::LinkOut => {
                        std::os::unix::fs::symlink(victim, here.join(format!("l{n}"))).unwrap();
                        files += 1;
                    }
                }
            }
            (files, dirs)
        }

        proptest! {
            #![proptest_config(crate::testing::budget(48))]

            /// Any tree, deeper than the open-handle window or not: usage counts it exactly,
            /// removal takes all of it, and a directory its links point to is untouched.
            #[test]
            fn any_tree_is_counted_and_removed_and_nothing_outside(
                ops in proptest::collection::vec(op(), 0..120)
            ) {
                let dir = tempfile::tempdir().unwrap();
                let victim = dir.path().join("victim");
                fs::create_dir(&victim).unwrap();
                fs::write(victim.join("precious"), "keep").unwrap();
                let top = dir.path().join("tree");
                fs::create_dir(&top).unwrap();
                let (files, dirs) = build(&top, &ops, &victim);
                let parent = Dir::open(dir.path()).unwrap();
                let u = usage(&parent, OsStr::new("tree")).unwrap();
                prop_assert_eq!((u.files, u.dirs, u.not_entered), (files, dirs, 0));
                let removed = remove_tree(&parent, OsStr::new("tree")).unwrap();
                prop_assert!(removed.complete(), "{:?}", removed.left);
                prop_assert_eq!((removed.files, removed.dirs), (files, dirs + 1));
                prop_assert!(!top.exists());
                prop_assert_eq!(fs::read_to_string(victim.join("precious")).unwrap(), "keep");
            }
        }

        #[test]
        fn a_chain_deeper_than_the_handle_window_is_walked_through_dotdot() {
            let dir = tempfile::tempdir().unwrap();
            let mut path = dir.path().join("top");
            for _ in 0..(MAX_OPEN * 3 + 1) {
                path.push("d");
            }
            fs::create_dir_all(&path).unwrap();
            fs::write(path.join("bottom"), "b").unwrap();
            let parent = Dir::open(dir.path()).unwrap();
            let u = usage(&parent, OsStr::new("top")).unwrap();
            assert_eq!((u.files, u.dirs), (1, MAX_OPEN as u64 * 3 + 1));
            assert!(remove_tree(&parent, OsStr::new("top")).unwrap().complete());
            assert!(!dir.path().join("top").exists());
        }
    }
}
