//! The cache program's storage: Go's own on-disk layout, so that `status`, `prune` and a plain
//! `GOCACHE` pointed at the same directory keep working.
//!
//! An action `A` is the file `<A[0]>/<A>-a` holding Go's index line
//! (`v1 <A> <output> <size> <unix nanos>`), its output `O` the file `<O[0]>/<O>-d`. Both are
//! written to a temporary file in this program's lease directory and renamed into their shard,
//! so a crash mid-put leaves no entry at all, never a short one. A get checks what Go checks
//! (a well-formed index line, an output file of the recorded size) and answers a miss
//! otherwise.
//!
//! The path handed to the go command (`DiskPath`) is a hard link to the output inside the
//! lease directory: the go command opens it later, and an eviction that removes the entry in
//! between cannot take the file from under it. The lease directory goes at `close`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::protocol::ID_LEN;
use crate::buildcache::README_MARKER;
use crate::safefs::{self, Dir, Kind, Open, Refusal};

/// Go's index line is exactly this long.
const INDEX_LEN: usize = 2 + 1 + 64 + 1 + 64 + 1 + 20 + 1 + 20 + 1;

/// The cache program's own directory in the cache root, and the leases' inside it.
pub const STATE_DIR: &str = "cacheprog";
pub const LEASES_DIR: &str = "leases";

/// What a hit hands back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub output_id: [u8; ID_LEN],
    pub size: u64,
    /// When the entry was put (from the index line).
    pub put_at: SystemTime,
    pub disk_path: PathBuf,
}

/// What a put stored.
#[derive(Clone, Debug)]
pub struct Stored {
    pub disk_path: PathBuf,
    /// The change in bytes on disk: the new files, less what they replaced.
    pub added_bytes: i64,
}

/// A body being written, before it becomes an entry.
pub struct PendingPut {
    temp: OsString,
    file: BufWriter<File>,
}

impl Write for PendingPut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The cache directory opened for a cache program: handles on its root, its 256 shards, and
/// its state and leases directories, each checked once (no link, no mount point) and used for
/// everything after.
#[derive(Debug)]
pub struct CacheDir {
    /// The root's path, for messages and the paths handed to the go command.
    pub path: PathBuf,
    pub root: Dir,
    pub shards: Vec<Dir>,
    pub state: Dir,
    pub leases: Dir,
}

/// Prepares `root` as a Go build cache: creates it, its README (Go's text) and its 256 shards
/// where missing, and opens it. A directory that already holds something but no README is
/// refused: it is not a cache, and the program evicts in what it manages. A shard, state
/// directory or leases directory that is a link or a mount point is refused: what is written
/// there would land elsewhere.
pub fn prepare(root: &Path) -> io::Result<CacheDir> {
    std::fs::create_dir_all(root)?;
    let handle = Dir::open(root)?;
    match read_small(&handle, "README", 4096) {
        Ok(text) if text.split(|&b| b == b'\n').next() == Some(README_MARKER.as_bytes()) => {}
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{}/README exists but does not start with Go's build-cache marker; not using {} \
                 as a cache",
                crate::escape::path(root),
                crate::escape::path(root)
            )));
        }
        Err(e) if safefs::is_gone(&e) => {
            let mut foreign = None;
            handle.each_name(|name| {
                if foreign.is_none() && !is_cache_name(name) {
                    foreign = Some(name.to_os_string());
                }
            })?;
            if let Some(name) = foreign {
                return Err(io::Error::other(format!(
                    "{} is not empty (it holds {}) and is not a Go build cache (no README marker)",
                    crate::escape::path(root),
                    crate::escape::os(&name)
                )));
            }
            match handle.open_file(OsStr::new("README"), Open::CreateNew) {
                Ok(mut f) => f.write_all(readme_text().as_bytes())?,
                // Another program wrote it meanwhile: the same text.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(with_name(e, "creating", root, "README")),
            }
        }
        Err(e) => return Err(with_name(e, "reading", root, "README")),
    }
    let open = |parent: &Dir, at: &Path, name: &str| -> io::Result<Dir> {
        match parent.create_dir(OsStr::new(name)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(with_name(e, "creating", at, name));
            }
            _ => {}
        }
        parent
            .open_dir(OsStr::new(name))
            .map_err(|e| match safefs::refusal(&e) {
                Some(r @ (Refusal::Link | Refusal::MountPoint | Refusal::NotADirectory)) => {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "{} {r}; refusing to use it (what is written there would land \
                             outside the cache)",
                            crate::escape::path(&at.join(name))
                        ),
                    )
                }
                _ => with_name(e, "opening", at, name),
            })
    };
    let mut shards = Vec::with_capacity(256);
    for shard in 0..=255u8 {
        shards.push(open(&handle, root, &format!("{shard:02x}"))?);
    }
    let state = open(&handle, root, STATE_DIR)?;
    let leases = open(&state, &root.join(STATE_DIR), LEASES_DIR)?;
    Ok(CacheDir {
        path: root.to_path_buf(),
        root: handle,
        shards,
        state,
        leases,
    })
}

/// Names a fresh cache may hold before it has a README (what a go command or this program
/// create first).
fn is_cache_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_hexdigit))
        || matches!(
            b,
            b"cacheprog" | b"trim.txt" | b"testexpire.txt" | b"fuzz" | b"go-disk-guard.lock"
        )
}

fn readme_text() -> String {
    format!(
        "{README_MARKER}\n\
         Run \"go clean -cache\" if the directory is getting too large.\n\
         Run \"go clean -fuzzcache\" to delete the fuzz cache.\n\
         See go.dev to learn more about Go.\n"
    )
}

/// At most `limit` bytes of the regular file `name` in `dir`, never through a link.
pub fn read_small(dir: &Dir, name: &str, limit: u64) -> io::Result<Vec<u8>> {
    let file = dir.open_file(OsStr::new(name), Open::Read)?;
    let mut data = Vec::new();
    file.take(limit).read_to_end(&mut data)?;
    Ok(data)
}

/// The cache directory as one cache program process uses it.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    shards: Vec<Dir>,
    /// This process's lease directory: temporary files and handed-out links.
    lease: Dir,
    lease_path: PathBuf,
    /// Cleared when the filesystem refuses hard links: `DiskPath` is then the entry itself.
    links: AtomicBool,
    seq: AtomicU64,
}

/// An entry's file name: `<hex>-a` or `<hex>-d`.
struct EntryName([u8; 66]);

impl EntryName {
    fn new(id: &[u8; ID_LEN], kind: u8) -> EntryName {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 66];
        for (i, byte) in id.iter().enumerate() {
            b[2 * i] = HEX[usize::from(byte >> 4)];
            b[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        b[64] = b'-';
        b[65] = kind;
        EntryName(b)
    }

    fn as_os_str(&self) -> &OsStr {
        // Hex digits and `-`: ASCII, so always valid text.
        OsStr::new(std::str::from_utf8(&self.0).unwrap_or("-"))
    }

    /// The hex of the ID alone, the name a handed-out link takes.
    fn hex(&self) -> &OsStr {
        OsStr::new(std::str::from_utf8(&self.0[..64]).unwrap_or("-"))
    }
}

impl Store {
    /// A store on the cache at `root` (its 256 `shards`, as [`prepare`] opened them) writing
    /// through the lease directory `lease` (at `lease_path`).
    pub fn new(root: PathBuf, shards: Vec<Dir>, lease: Dir, lease_path: PathBuf) -> Store {
        Store {
            root,
            shards,
            lease,
            lease_path,
            links: AtomicBool::new(true),
            seq: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &[u8; ID_LEN]) -> io::Result<&Dir> {
        self.shards
            .get(usize::from(id[0]))
            .ok_or_else(|| io::Error::other("the cache has fewer than 256 shards"))
    }

    fn temp_name(&self, what: &str) -> OsString {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        OsString::from(format!("{what}-{n}.tmp"))
    }

    /// Whether the cache has an index entry for `action`, whatever it says (nothing is
    /// touched or handed out). What is fetched ahead never replaces one.
    pub fn has_action(&self, action: &[u8; ID_LEN]) -> io::Result<bool> {
        let index_name = EntryName::new(action, b'a');
        match self.shard(action)?.meta(index_name.as_os_str()) {
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Looks `action` up. `Ok(None)` is a miss: no entry, a malformed index line, or an
    /// output that is missing, not a regular file on the cache's mount, or of the wrong size.
    /// A hit refreshes both files' mtimes.
    pub fn get(&self, action: &[u8; ID_LEN]) -> io::Result<Option<Hit>> {
        let index_name = EntryName::new(action, b'a');
        let shard = self.shard(action)?;
        let mut line = [0u8; INDEX_LEN + 1];
        let n = match shard.open_file(index_name.as_os_str(), Open::Read) {
            Ok(mut f) => read_up_to(&mut f, &mut line)?,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some((output_id, size, put_at)) =
            parse_index(line.get(..n).unwrap_or_default(), action)
        else {
            return Ok(None);
        };
        let now = SystemTime::now();
        touch_if_there(shard, index_name.as_os_str(), now)?;
        let output_name = EntryName::new(&output_id, b'd');
        let output_shard = self.shard(&output_id)?;
        match output_shard.meta(output_name.as_os_str()) {
            Ok(meta) if meta.kind == Kind::File && meta.same_mount && meta.len == size => {}
            Ok(_) => return Ok(None),
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        if !touch_if_there(output_shard, output_name.as_os_str(), now)? {
            return Ok(None);
        }
        match self.hand_out(output_shard, output_name.as_os_str(), &output_name) {
            Ok(disk_path) => Ok(Some(Hit {
                output_id,
                size,
                put_at,
                disk_path: disk_path.unwrap_or_else(|| self.entry_path(&output_name)),
            })),
            // Evicted between the check and the link.
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn entry_path(&self, name: &EntryName) -> PathBuf {
        let shard = OsStr::new(std::str::from_utf8(&name.0[..2]).unwrap_or("00"));
        self.root.join(shard).join(name.as_os_str())
    }

    /// Starts storing a body.
    pub fn begin_put(&self) -> io::Result<PendingPut> {
        let temp = self.temp_name("put");
        let file = self
            .lease
            .open_file(&temp, Open::CreateNew)
            .map_err(|e| with_name(e, "creating", &self.lease_path, &temp.to_string_lossy()))?;
        Ok(PendingPut {
            temp,
            file: BufWriter::with_capacity(128 * 1024, file),
        })
    }

    /// Drops a body that could not be written in full.
    pub fn discard(&self, pending: PendingPut) {
        let PendingPut { temp, file } = pending;
        drop(file);
        let _ = self.lease.remove_file(&temp);
    }

    /// Makes `pending` (holding exactly `size` bytes) the output `output` of action `action`.
    pub fn finish_put(
        &self,
        pending: PendingPut,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
    ) -> io::Result<Stored> {
        self.finish_put_at(pending, action, output, size, None)
    }

    /// [`Store::finish_put`], recording `put_at` (when the output was first put elsewhere)
    /// as the entry's time instead of now.
    pub fn finish_put_at(
        &self,
        pending: PendingPut,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
        put_at: Option<SystemTime>,
    ) -> io::Result<Stored> {
        let PendingPut { temp, file } = pending;
        let result = self.commit(&temp, file, action, output, size, put_at);
        if result.is_err() {
            let _ = self.lease.remove_file(&temp);
        }
        result
    }

    fn commit(
        &self,
        temp: &OsStr,
        file: BufWriter<File>,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
        put_at: Option<SystemTime>,
    ) -> io::Result<Stored> {
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let now = SystemTime::now();
        // The kernel's file clock may lag the wall clock by a tick: set it, so the entry is
        // never older than the lease that wrote it.
        file.set_modified(now)?;
        let new_output = crate::disk::allocated_bytes(&file.metadata()?);
        drop(file);
        let (handed_out, added) = self.put_output(temp, output, new_output, size, now)?;
        let put_at = put_at.unwrap_or(now);
        let added = self.put_index(action, output, size, put_at, now, added)?;
        Ok(Stored {
            disk_path: handed_out.unwrap_or_else(|| self.entry_path(&EntryName::new(output, b'd'))),
            added_bytes: added,
        })
    }

    /// Moves the written output `temp` (of `new_output` bytes on disk) into its shard, and hands
    /// out its path first; the path handed out, if not the entry's own, and the change in
    /// bytes on disk.
    fn put_output(
        &self,
        temp: &OsStr,
        output: &[u8; ID_LEN],
        new_output: u64,
        size: u64,
        now: SystemTime,
    ) -> io::Result<(Option<PathBuf>, i64)> {
        // The path handed out exists before the entry does: an eviction that takes the entry
        // the instant it appears cannot take the go command's file.
        let output_name = EntryName::new(output, b'd');
        let handed_out = self.hand_out(&self.lease, temp, &output_name)?;
        let output_shard = self.shard(output)?;
        let mut added = i64::try_from(new_output).unwrap_or(i64::MAX);
        if let Ok(old) = output_shard.meta(output_name.as_os_str()) {
            added = added.saturating_sub(i64::try_from(old.disk_bytes).unwrap_or(i64::MAX));
        }
        if let Err(e) = self
            .lease
            .rename(temp, output_shard, output_name.as_os_str())
            .map_err(|e| with_path(e, "renaming into", &self.entry_path(&output_name)))
        {
            // Windows refuses to replace a file another process reads. Go's outputs are named
            // by their content's hash, so one of the right size is this very output.
            match output_shard.meta(output_name.as_os_str()) {
                Ok(old) if old.kind == Kind::File && old.same_mount && old.len == size => {
                    self.lease.remove_file(temp)?;
                    output_shard.set_modified(output_name.as_os_str(), now)?;
                    added = 0;
                }
                _ => return Err(e),
            }
        }
        Ok((handed_out, added))
    }

    /// Writes the index entry of `action` (naming `output` of `size` bytes, put at `put_at`)
    /// with mtime `now` and moves it into its shard, replacing any; the change in bytes on
    /// disk so far, `added`, with the index's added to it.
    fn put_index(
        &self,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
        put_at: SystemTime,
        now: SystemTime,
        mut added: i64,
    ) -> io::Result<i64> {
        let index = format_index(action, output, size, put_at);
        let index_temp = self.temp_name("index");
        let index_name = EntryName::new(action, b'a');
        let index_shard = self.shard(action)?;
        let written = self
            .lease
            .open_file(&index_temp, Open::CreateNew)
            .and_then(|mut f| {
                f.write_all(index.as_bytes())?;
                f.set_modified(now)?;
                Ok(crate::disk::allocated_bytes(&f.metadata()?))
            })
            .map_err(|e| {
                with_name(
                    e,
                    "writing",
                    &self.lease_path,
                    &index_temp.to_string_lossy(),
                )
            });
        let index_bytes = match written {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = self.lease.remove_file(&index_temp);
                return Err(e);
            }
        };
        added = added.saturating_add(i64::try_from(index_bytes).unwrap_or(i64::MAX));
        if let Ok(old) = index_shard.meta(index_name.as_os_str()) {
            added = added.saturating_sub(i64::try_from(old.disk_bytes).unwrap_or(i64::MAX));
        }
        if let Err(e) = self
            .lease
            .rename(&index_temp, index_shard, index_name.as_os_str())
            .map_err(|e| with_path(e, "renaming into", &self.entry_path(&index_name)))
        {
            let _ = self.lease.remove_file(&index_temp);
            return Err(e);
        }
        Ok(added)
    }

    /// Makes action `action` name the output `output` already in the cache (`size` bytes,
    /// put at `put_at`) and hands it out. `Ok(None)` when that output is not there whole.
    pub fn adopt(
        &self,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
        put_at: SystemTime,
    ) -> io::Result<Option<Stored>> {
        let output_name = EntryName::new(output, b'd');
        let output_shard = self.shard(output)?;
        if !self.has_output(output, size)? {
            return Ok(None);
        }
        let now = SystemTime::now();
        if !touch_if_there(output_shard, output_name.as_os_str(), now)? {
            return Ok(None);
        }
        let handed_out = match self.hand_out(output_shard, output_name.as_os_str(), &output_name) {
            Ok(h) => h,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let added = self.put_index(action, output, size, put_at, now, 0)?;
        Ok(Some(Stored {
            disk_path: handed_out.unwrap_or_else(|| self.entry_path(&output_name)),
            added_bytes: added,
        }))
    }

    /// Whether output `output` is in the cache as a regular file of `size` bytes.
    pub fn has_output(&self, output: &[u8; ID_LEN], size: u64) -> io::Result<bool> {
        let name = EntryName::new(output, b'd');
        match self.shard(output)?.meta(name.as_os_str()) {
            Ok(meta) => Ok(meta.kind == Kind::File && meta.same_mount && meta.len == size),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What reads outputs back later, from another thread: handles of its own on the shards
    /// and the lease directory.
    pub fn body_opener(&self) -> io::Result<BodyOpener> {
        Ok(BodyOpener {
            shards: self
                .shards
                .iter()
                .map(Dir::try_clone)
                .collect::<io::Result<_>>()?,
            lease: self.lease.try_clone()?,
        })
    }

    /// The path the go command gets for output `output`, whose file is `source` in `dir`: a
    /// hard link in the lease directory. `None` where links are not supported: the entry
    /// itself is then handed out.
    fn hand_out(
        &self,
        dir: &Dir,
        source: &OsStr,
        output: &EntryName,
    ) -> io::Result<Option<PathBuf>> {
        if !self.links.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let link = output.hex();
        match dir.hard_link(source, &self.lease, link) {
            Ok(()) => Ok(Some(self.lease_path.join(link))),
            // Handed out before: the same content (outputs are named by their hash).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Ok(Some(self.lease_path.join(link)))
            }
            Err(e) if is_absent(&e) => Err(e),
            Err(e) if links_unsupported(&e) => {
                self.links.store(false, Ordering::Relaxed);
                eprintln!(
                    "go-disk-guard cacheprog: hard links are not supported in {} ({}); \
                     handing out entries directly",
                    crate::escape::path(&self.root),
                    crate::escape::line(&e.to_string())
                );
                Ok(None)
            }
            Err(e) => Err(with_path(e, "linking", &self.lease_path.join(link))),
        }
    }
}

/// Opens outputs for reading: the link handed out in the lease directory if there is one
/// (it outlives an eviction), else the entry.
#[derive(Debug)]
pub struct BodyOpener {
    shards: Vec<Dir>,
    lease: Dir,
}

impl BodyOpener {
    pub fn open(&self, output: &[u8; ID_LEN]) -> io::Result<File> {
        let name = EntryName::new(output, b'd');
        match self.lease.open_file(name.hex(), Open::Read) {
            Ok(f) => return Ok(f),
            Err(e) if !is_absent(&e) => return Err(e),
            Err(_) => {}
        }
        self.shards
            .get(usize::from(output[0]))
            .ok_or_else(|| io::Error::other("the cache has fewer than 256 shards"))?
            .open_file(name.as_os_str(), Open::Read)
    }
}

/// `e`, saying what was being done to which file.
fn with_path(e: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{doing} {}: {e}", crate::escape::path(path)),
    )
}

/// `e`, saying what was being done to the file `name` in `dir`.
fn with_name(e: io::Error, doing: &str, dir: &Path, name: &str) -> io::Error {
    with_path(e, doing, &dir.join(name))
}

fn links_unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(1) // EPERM/ERROR_INVALID_FUNCTION
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || matches!(
        safefs::refusal(e),
        Some(Refusal::Link | Refusal::NotAFile | Refusal::MountPoint)
    )
}

/// Sets the mtime of `name` in `dir`; `Ok(false)` when it is gone.
fn touch_if_there(dir: &Dir, name: &OsStr, when: SystemTime) -> io::Result<bool> {
    match dir.set_modified(name, when) {
        Ok(()) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        // Not ours to touch (a cache shared read-only): the entry is still good.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(true),
        Err(e) => Err(e),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..)
        && !rest.is_empty()
    {
        match f.read(rest)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Lower-case hex, as Go names entries.
pub fn hex(id: &[u8]) -> String {
    use std::fmt::Write as _;
    id.iter()
        .fold(String::with_capacity(id.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Go's index line for `action`.
pub fn format_index(
    action: &[u8; ID_LEN],
    output: &[u8; ID_LEN],
    size: u64,
    when: SystemTime,
) -> String {
    let nanos = when
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("v1 {} {} {size:20} {nanos:20}\n", hex(action), hex(output))
}

/// Parses Go's index line, checking it names `action`; `None` for anything Go would call a
/// miss.
pub fn parse_index(line: &[u8], action: &[u8; ID_LEN]) -> Option<([u8; ID_LEN], u64, SystemTime)> {
    if line.len() != INDEX_LEN || !line.starts_with(b"v1 ") || !line.ends_with(b"\n") {
        return None;
    }
    let text = std::str::from_utf8(line.get(3..INDEX_LEN - 1)?).ok()?;
    let (id, rest) = text.split_at_checked(64)?;
    let rest = rest.strip_prefix(' ')?;
    let (out, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix(' ')?;
    let (size, rest) = rest.split_at_checked(20)?;
    let nanos = rest.strip_prefix(' ')?;
    if unhex(id)? != *action {
        return None;
    }
    let output = unhex(out)?;
    let size: u64 = size.trim_start_matches(' ').parse().ok()?;
    let nanos: u64 = nanos.trim_start_matches(' ').parse().ok()?;
    Some((
        output,
        size,
        UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))?,
    ))
}

fn unhex(text: &str) -> Option<[u8; ID_LEN]> {
    let bytes = text.as_bytes();
    if bytes.len() != ID_LEN * 2 {
        return None;
    }
    let mut out = [0u8; ID_LEN];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |b: &u8| (*b as char).to_digit(16);
        let (hi, lo) = (digit(pair.first()?)?, digit(pair.get(1)?)?);
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn store(dir: &Path) -> Store {
        let cache = prepare(&dir.join("cache")).unwrap();
        let lease = dir.join("lease");
        fs::create_dir(&lease).unwrap();
        Store::new(cache.path, cache.shards, Dir::open(&lease).unwrap(), lease)
    }

    fn entry(s: &Store, id: u8, kind: u8) -> PathBuf {
        s.entry_path(&EntryName::new(&[id; ID_LEN], kind))
    }

    fn put(store: &Store, action: u8, output: u8, body: &[u8]) -> Stored {
        let mut p = store.begin_put().unwrap();
        p.write_all(body).unwrap();
        store
            .finish_put(p, &[action; ID_LEN], &[output; ID_LEN], body.len() as u64)
            .unwrap()
    }

    #[test]
    fn the_index_line_is_gos() {
        // A multiple of 100 ns, which is as fine as Windows keeps time.
        let when = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_700);
        let line = format_index(&[0xab; ID_LEN], &[0x01; ID_LEN], 4096, when);
        assert_eq!(line.len(), INDEX_LEN);
        assert_eq!(
            line,
            format!(
                "v1 {} {} {:>20} {:>20}\n",
                "ab".repeat(32),
                "01".repeat(32),
                4096,
                1_700_000_000_123_456_700u64
            )
        );
        assert_eq!(
            parse_index(line.as_bytes(), &[0xab; ID_LEN]),
            Some(([0x01; ID_LEN], 4096, when))
        );
        // Another action's line, a short line, a long line, garbage in the size.
        assert_eq!(parse_index(line.as_bytes(), &[0xac; ID_LEN]), None);
        assert_eq!(
            parse_index(&line.as_bytes()[..INDEX_LEN - 1], &[0xab; ID_LEN]),
            None
        );
        let long = format!("{line}x");
        assert_eq!(parse_index(long.as_bytes(), &[0xab; ID_LEN]), None);
        let bad = line.replace(" 4096 ", " 40x6 ");
        assert_eq!(parse_index(bad.as_bytes(), &[0xab; ID_LEN]), None);
    }

    #[test]
    fn a_put_is_got_back_through_a_link_that_outlives_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let stored = put(&s, 1, 2, b"hello, cache");
        assert!(stored.added_bytes > 0);
        assert_eq!(fs::read(&stored.disk_path).unwrap(), b"hello, cache");

        let hit = s.get(&[1; ID_LEN]).unwrap().unwrap();
        assert_eq!(hit.output_id, [2; ID_LEN]);
        assert_eq!(hit.size, 12);
        let entry = entry(&s, 2, b'd');
        fs::remove_file(&entry).unwrap();
        // Evicted: the handed-out path still reads; the next get misses.
        assert_eq!(fs::read(&hit.disk_path).unwrap(), b"hello, cache");
        assert_eq!(s.get(&[1; ID_LEN]).unwrap(), None);
        assert_eq!(s.get(&[9; ID_LEN]).unwrap(), None);
        // No temporary file is left in the lease directory.
        let names: Vec<_> = fs::read_dir(dir.path().join("lease"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![hex(&[2; ID_LEN])]);
    }

    #[test]
    fn short_or_corrupt_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        put(&s, 3, 4, b"0123456789");
        let output = entry(&s, 4, b'd');
        fs::write(&output, b"01234").unwrap();
        assert_eq!(s.get(&[3; ID_LEN]).unwrap(), None);
        put(&s, 3, 4, b"0123456789");
        assert!(s.get(&[3; ID_LEN]).unwrap().is_some());
        fs::write(entry(&s, 3, b'a'), b"v1 garbage\n").unwrap();
        assert_eq!(s.get(&[3; ID_LEN]).unwrap(), None);
    }

    #[test]
    fn plain_go_layout_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        put(&s, 0xab, 0xcd, b"x");
        let root = dir.path().join("cache");
        let readme = fs::read_to_string(root.join("README")).unwrap();
        assert!(readme.starts_with(README_MARKER));
        assert!(
            root.join("ab")
                .join(format!("{}-a", "ab".repeat(32)))
                .is_file()
        );
        assert!(
            root.join("cd")
                .join(format!("{}-d", "cd".repeat(32)))
                .is_file()
        );
        // README, the 256 shards, and this program's own state directory.
        assert_eq!(fs::read_dir(&root).unwrap().count(), 258);
        assert!(root.join(STATE_DIR).join(LEASES_DIR).is_dir());
    }

    #[test]
    fn a_directory_of_someone_elses_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("thesis.tex"), "mine").unwrap();
        let err = prepare(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is not a Go build cache"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("README"), "my notes\n").unwrap();
        assert!(prepare(other.path()).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(1000))]

            /// An index file holds whatever a writer left: reading it never panics, and what
            /// it accepts names the action asked for.
            #[test]
            fn any_index_bytes_are_judged(
                line in proptest::collection::vec(any::<u8>(), 0..200),
                action in any::<[u8; ID_LEN]>(),
            ) {
                if let Some((_, _, _)) = parse_index(&line, &action) {
                    prop_assert!(line.len() == INDEX_LEN);
                }
            }

            /// What this program writes, Go reads back, and so does this program.
            #[test]
            fn index_lines_round_trip(
                action in any::<[u8; ID_LEN]>(),
                output in any::<[u8; ID_LEN]>(),
                size in any::<u64>(),
                nanos in 0u64..4_000_000_000_000_000_000,
            ) {
                let when = UNIX_EPOCH + Duration::from_nanos(nanos / 100 * 100);
                let line = format_index(&action, &output, size, when);
                prop_assert_eq!(parse_index(line.as_bytes(), &action), Some((output, size, when)));
            }
        }
    }
}
