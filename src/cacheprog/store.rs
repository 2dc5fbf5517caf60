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

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::protocol::ID_LEN;
use crate::buildcache::README_MARKER;
use crate::disk;

/// Go's index line is exactly this long.
const INDEX_LEN: usize = 2 + 1 + 64 + 1 + 64 + 1 + 20 + 1 + 20 + 1;

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
    temp: PathBuf,
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

/// The cache directory as one cache program process uses it.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    /// This process's lease directory: temporary files and handed-out links.
    lease_dir: PathBuf,
    /// Cleared when the filesystem refuses hard links: `DiskPath` is then the entry itself.
    links: AtomicBool,
    seq: AtomicU64,
}

/// Prepares `root` as a Go build cache: creates it, its README (Go's text) and its 256 shards
/// where missing. A directory that already holds something but no README is refused: it is
/// not a cache, and the program evicts in what it manages.
pub fn prepare(root: &Path) -> io::Result<()> {
    fs::create_dir_all(root)?;
    let readme = root.join("README");
    match fs::read_to_string(&readme) {
        Ok(text) if text.lines().next() == Some(README_MARKER) => {}
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} exists but does not start with Go's build-cache marker; not using {} as a cache",
                readme.display(),
                root.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let foreign = fs::read_dir(root)?
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .find(|name| !is_cache_name(name));
            if let Some(name) = foreign {
                return Err(io::Error::other(format!(
                    "{} is not empty (it holds {:?}) and is not a Go build cache (no README marker)",
                    root.display(),
                    name
                )));
            }
            fs::write(&readme, readme_text())?;
        }
        Err(e) => return Err(e),
    }
    for shard in 0..=255u8 {
        match fs::create_dir(root.join(format!("{shard:02x}"))) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Names a fresh cache may hold before it has a README (what a go command or this program
/// create first).
fn is_cache_name(name: &OsString) -> bool {
    let s = name.to_string_lossy();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        || matches!(
            &*s,
            "cacheprog" | "trim.txt" | "testexpire.txt" | "fuzz" | crate::prune::LOCK_FILE_NAME
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

impl Store {
    /// A store in `root` (already [`prepare`]d) writing through `lease_dir` (which exists).
    pub fn new(root: PathBuf, lease_dir: PathBuf) -> Store {
        Store {
            root,
            lease_dir,
            links: AtomicBool::new(true),
            seq: AtomicU64::new(0),
        }
    }

    fn entry_path(&self, id: &[u8; ID_LEN], kind: char) -> PathBuf {
        let hex = hex(id);
        self.root.join(&hex[..2]).join(format!("{hex}-{kind}"))
    }

    fn temp_path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.lease_dir.join(format!("{what}-{n}.tmp"))
    }

    /// Looks `action` up. `Ok(None)` is a miss: no entry, a malformed index line, or an
    /// output that is missing or of the wrong size. A hit refreshes both files' mtimes.
    pub fn get(&self, action: &[u8; ID_LEN]) -> io::Result<Option<Hit>> {
        let index_path = self.entry_path(action, 'a');
        let mut line = [0u8; INDEX_LEN + 1];
        let n = match File::open(&index_path) {
            Ok(mut f) => read_up_to(&mut f, &mut line)?,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some((output_id, size, put_at)) = parse_index(&line[..n], action) else {
            return Ok(None);
        };
        let now = SystemTime::now();
        touch_if_there(&index_path, now)?;
        let output_path = self.entry_path(&output_id, 'd');
        match fs::symlink_metadata(&output_path) {
            Ok(meta) if meta.is_file() && meta.len() == size => {}
            Ok(_) => return Ok(None),
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        if !touch_if_there(&output_path, now)? {
            return Ok(None);
        }
        match self.hand_out(&output_path, &output_id) {
            Ok(disk_path) => Ok(Some(Hit {
                output_id,
                size,
                put_at,
                disk_path: disk_path.unwrap_or(output_path),
            })),
            // Evicted between the check and the link.
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts storing a body for output `output`.
    pub fn begin_put(&self) -> io::Result<PendingPut> {
        let temp = self.temp_path("put");
        let file = File::create(&temp).map_err(|e| with_path(e, "creating", &temp))?;
        Ok(PendingPut {
            temp,
            file: BufWriter::with_capacity(128 * 1024, file),
        })
    }

    /// Drops a body that could not be written in full.
    pub fn discard(&self, pending: PendingPut) {
        let PendingPut { temp, file } = pending;
        drop(file);
        let _ = fs::remove_file(temp);
    }

    /// Makes `pending` (holding exactly `size` bytes) the output `output` of action `action`.
    pub fn finish_put(
        &self,
        pending: PendingPut,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
    ) -> io::Result<Stored> {
        let PendingPut { temp, file } = pending;
        let result = self.commit(&temp, file, action, output, size);
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn commit(
        &self,
        temp: &Path,
        file: BufWriter<File>,
        action: &[u8; ID_LEN],
        output: &[u8; ID_LEN],
        size: u64,
    ) -> io::Result<Stored> {
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let now = SystemTime::now();
        // The kernel's file clock may lag the wall clock by a tick: set it, so the entry is
        // never older than the lease that wrote it.
        file.set_modified(now)?;
        let new_output = disk::allocated_bytes(&file.metadata()?);
        drop(file);

        // The path handed out exists before the entry does: an eviction that takes the entry
        // the instant it appears cannot take the go command's file.
        let handed_out = self.hand_out(temp, output)?;
        let output_path = self.entry_path(output, 'd');
        let mut added = new_output as i64;
        if let Ok(old) = fs::symlink_metadata(&output_path) {
            added -= disk::allocated_bytes(&old) as i64;
        }
        if let Err(e) =
            fs::rename(temp, &output_path).map_err(|e| with_path(e, "renaming into", &output_path))
        {
            // Windows refuses to replace a file another process reads. Go's outputs are named
            // by their content's hash, so one of the right size is this very output.
            match fs::symlink_metadata(&output_path) {
                Ok(old) if old.is_file() && old.len() == size => {
                    fs::remove_file(temp)?;
                    disk::touch(&output_path, now)?;
                    added = 0;
                }
                _ => return Err(e),
            }
        }

        let index = format_index(action, output, size, now);
        let index_temp = self.temp_path("index");
        fs::write(&index_temp, &index).map_err(|e| with_path(e, "writing", &index_temp))?;
        let index_path = self.entry_path(action, 'a');
        let index_bytes = disk::allocated_bytes(&fs::symlink_metadata(&index_temp)?) as i64;
        added += index_bytes;
        if let Ok(old) = fs::symlink_metadata(&index_path) {
            added -= disk::allocated_bytes(&old) as i64;
        }
        disk::touch(&index_temp, now)?;
        if let Err(e) = fs::rename(&index_temp, &index_path)
            .map_err(|e| with_path(e, "renaming into", &index_path))
        {
            let _ = fs::remove_file(&index_temp);
            return Err(e);
        }
        Ok(Stored {
            disk_path: handed_out.unwrap_or(output_path),
            added_bytes: added,
        })
    }

    /// The path the go command gets for output `output`, whose file is `source`: a hard link
    /// in the lease directory. `None` where links are not supported: the entry itself is then
    /// handed out.
    fn hand_out(&self, source: &Path, output: &[u8; ID_LEN]) -> io::Result<Option<PathBuf>> {
        if !self.links.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let link = self.lease_dir.join(hex(output));
        match fs::hard_link(source, &link) {
            Ok(()) => Ok(Some(link)),
            // Handed out before: the same content (outputs are named by their hash).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Some(link)),
            Err(e) if is_absent(&e) => Err(e),
            Err(e) if links_unsupported(&e) => {
                self.links.store(false, Ordering::Relaxed);
                eprintln!(
                    "go-disk-guard cacheprog: hard links are not supported in {} ({e}); \
                     handing out entries directly",
                    self.root.display()
                );
                Ok(None)
            }
            Err(e) => Err(with_path(e, "linking", &link)),
        }
    }
}

/// `e`, saying what was being done to which file.
fn with_path(e: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{doing} {}: {e}", path.display()))
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
    )
}

/// Sets `path`'s mtime; `Ok(false)` when it is gone.
fn touch_if_there(path: &Path, when: SystemTime) -> io::Result<bool> {
    match disk::touch(path, when) {
        Ok(()) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        // Not ours to touch (a cache shared read-only): the entry is still good.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(true),
        Err(e) => Err(e),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
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
    if line.len() != INDEX_LEN || !line.starts_with(b"v1 ") || line[INDEX_LEN - 1] != b'\n' {
        return None;
    }
    let text = std::str::from_utf8(&line[3..INDEX_LEN - 1]).ok()?;
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
    Some((output, size, UNIX_EPOCH + Duration::from_nanos(nanos)))
}

fn unhex(text: &str) -> Option<[u8; ID_LEN]> {
    let bytes = text.as_bytes();
    if bytes.len() != ID_LEN * 2 {
        return None;
    }
    let mut out = [0u8; ID_LEN];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// Opens a file for reading and writing, creating it: for the small state files.
pub fn open_state_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        let root = dir.join("cache");
        prepare(&root).unwrap();
        let lease = dir.join("lease");
        fs::create_dir(&lease).unwrap();
        Store::new(root, lease)
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
        let entry = s.entry_path(&[2; ID_LEN], 'd');
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
        let output = s.entry_path(&[4; ID_LEN], 'd');
        fs::write(&output, b"01234").unwrap();
        assert_eq!(s.get(&[3; ID_LEN]).unwrap(), None);
        put(&s, 3, 4, b"0123456789");
        assert!(s.get(&[3; ID_LEN]).unwrap().is_some());
        fs::write(s.entry_path(&[3; ID_LEN], 'a'), b"v1 garbage\n").unwrap();
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
        assert_eq!(fs::read_dir(&root).unwrap().count(), 257);
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
}
