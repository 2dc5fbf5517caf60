//! Moving Go's directories to a volume with room.
//!
//! `--relocate auto` looks at the candidate volumes (the local, writable, fixed disks, or the
//! roots given with `--relocate-candidate`) and picks, deterministically, the one with the most
//! available space, preferring a volume other than the system volume (`/`, or `%SystemDrive%`
//! on Windows; `--system-volume` names another): the system volume is chosen only when it has
//! strictly more room than every other. `--relocate DIR` forces the root.
//!
//! Under the chosen root the layout is `go-disk-guard/cache` (GOCACHE),
//! `go-disk-guard/modcache` (GOMODCACHE) and `go-disk-guard/path` (GOPATH, with GOBIN at
//! `path/bin`). Existing contents stay where they are unless `--migrate`: then every file is
//! copied, verified byte for byte, and only then is the old copy deleted, all through
//! [`crate::safefs`] (no link followed, no mount point crossed). Read-only modes (the module
//! cache's) are kept; set-user-ID, set-group-ID and sticky bits are not ([`COPIED_MODE_BITS`]):
//! a copy belongs to whoever migrates, not to the original's owner.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::disk;
use crate::goenv::{GoEnv, Origin};
use crate::policy;
use crate::safefs::{self, Dir, FileId, Kind, Open};

/// The directory created under the chosen root.
pub const LAYOUT_DIR: &str = "go-disk-guard";

pub use crate::settings::Relocate;

pub use crate::policy::Candidate;

/// One directory moved.
#[derive(Clone, Debug, Serialize)]
pub struct Move {
    pub var: &'static str,
    pub from: PathBuf,
    pub to: PathBuf,
    /// Files copied, verified and removed from the old place (`--migrate`).
    pub migrated_files: u64,
    pub migrated_bytes: u64,
    /// Why it moved, where that is not simply the choice of volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// What relocation decided and did.
#[derive(Clone, Debug, Serialize)]
pub struct Relocation {
    /// The root the Go directories now live under; `None` when they stayed.
    pub root: Option<PathBuf>,
    pub reason: String,
    pub candidates: Vec<Candidate>,
    pub moves: Vec<Move>,
}

/// How to choose.
#[derive(Clone, Debug)]
pub struct RelocateOptions {
    /// Roots to choose among; empty: the local disks.
    pub candidates: Vec<PathBuf>,
    /// A path on the volume that counts as the system volume; `None`: `/` or `%SystemDrive%\`.
    pub system_volume: Option<PathBuf>,
    pub migrate: bool,
    /// GOTMPDIR moves when the temp dir is RAM-backed or has less than this available.
    pub tmp_min: crate::units::Size,
}

/// Chooses where to move and, unless it is where the directories already are, moves them:
/// updates `go` in place and returns what was done.
pub fn relocate(
    go: &mut GoEnv,
    how: &Relocate,
    options: &RelocateOptions,
) -> anyhow::Result<Relocation> {
    let (root, reason, candidates) = match how {
        Relocate::Dir(dir) => (
            Some(std::path::absolute(dir)?),
            format!("--relocate {} was given", dir.display()),
            Vec::new(),
        ),
        Relocate::Auto => choose(go, options)?,
    };
    let mut outcome = Relocation {
        root: root.clone(),
        reason,
        candidates,
        moves: Vec::new(),
    };
    let Some(root) = root else {
        return Ok(outcome);
    };
    let base = root.join(LAYOUT_DIR);
    let targets = [
        ("GOCACHE", base.join("cache")),
        ("GOMODCACHE", base.join("modcache")),
        ("GOPATH", base.join("path")),
    ];
    let mut sources = migration_sources(go, &targets, options.migrate)?;
    for (var, to) in targets {
        if let Some(m) = move_var(go, var, to, &root, &mut sources)? {
            outcome.moves.push(m);
        }
    }
    if let Some(m) = move_gobin(go, &base) {
        outcome.moves.push(m);
    }
    if let Some(m) = move_tmpdir(go, &root, &base, options.tmp_min)? {
        outcome.moves.push(m);
    }
    Ok(outcome)
}

/// The directory to migrate each of `targets`' variables from, when `migrate`: those set to an
/// existing absolute directory. Every source is checked before anything moves: a refusal
/// leaves all in place. The directory checked is the directory migrated: its handle, never its
/// path opened again.
fn migration_sources(
    go: &GoEnv,
    targets: &[(&'static str, PathBuf)],
    migrate: bool,
) -> anyhow::Result<HashMap<&'static str, Dir>> {
    let mut sources: HashMap<&str, Dir> = HashMap::new();
    if migrate {
        for (var, _) in targets {
            if let Some(from) = go.get(var).map(Path::new)
                && from.is_absolute()
                && from.is_dir()
            {
                sources.insert(var, check_migration_source(var, from)?);
            }
        }
    }
    Ok(sources)
}

/// Moves `var` to `to` under `root`, migrating what it holds from `sources` if there: `go`
/// updated, and the move; `None` when it is there already.
fn move_var(
    go: &mut GoEnv,
    var: &'static str,
    to: PathBuf,
    root: &Path,
    sources: &mut HashMap<&'static str, Dir>,
) -> anyhow::Result<Option<Move>> {
    let from = go.get(var).map(PathBuf::from).unwrap_or_default();
    let from_path = from.clone();
    if !from.as_os_str().is_empty() && overlaps(&from_path, &to) {
        if same(&from_path, &to) {
            return Ok(None);
        }
        anyhow::bail!(
            "cannot relocate {var} from {} to {}: one lies inside the other",
            crate::escape::path(&from),
            to.display()
        );
    }
    // The layout checked is the layout used: its handle, never its path again, which a
    // link swapped in meanwhile could redirect.
    let to_dir = create_layout(root, &to)
        .map_err(|e| anyhow::anyhow!("creating {} for {var}: {e}", to.display()))?;
    if !to_dir.writable() {
        anyhow::bail!("{} (for {var}) is not writable", to.display());
    }
    let (files, bytes) = match sources.remove(var) {
        Some(src) => migrate(src, &from_path, to_dir, &to).map_err(|e| {
            anyhow::anyhow!("migrating {var} from {}: {e}", crate::escape::path(&from))
        })?,
        None => (0, 0),
    };
    set(go, var, to.clone().into_os_string());
    Ok(Some(Move {
        var,
        from,
        to,
        migrated_files: files,
        migrated_bytes: bytes,
        why: None,
    }))
}

/// Points GOBIN at the bin directory of the relocated GOPATH under `base`: `go` updated, and
/// the move; `None` when it points there already.
fn move_gobin(go: &mut GoEnv, base: &Path) -> Option<Move> {
    let gobin = base.join("path").join("bin");
    if go.get("GOBIN") == Some(gobin.as_os_str()) {
        return None;
    }
    let from = go.get("GOBIN").map(PathBuf::from).unwrap_or_default();
    set(go, "GOBIN", gobin.clone().into_os_string());
    Some(Move {
        var: "GOBIN",
        from,
        to: gobin,
        migrated_files: 0,
        migrated_bytes: 0,
        why: None,
    })
}

/// Refuses to migrate (and so empty) `from`, the value of `var`, when it is the root of a
/// filesystem, a home directory or holds one, or for GOCACHE when it is neither empty nor a Go
/// build cache (what `prune` refuses, for the same reasons). A Go variable can name any directory: an old
/// `export GOPATH=$HOME`, or a `go env -w` left in a runner's GOENV file.
fn check_migration_source(var: &str, from: &Path) -> Result<Dir, crate::error::Error> {
    let refuse = |reason: &str| {
        crate::error::Error::Usage(format!(
            "not migrating {var} from {}: {reason}; nothing was moved",
            crate::escape::path(from)
        ))
    };
    let real = fs::canonicalize(from).map_err(|e| refuse(&e.to_string()))?;
    if real.parent().is_none() {
        return Err(refuse("it is the root of a filesystem"));
    }
    let src = Dir::open(&real).map_err(|e| refuse(&e.to_string()))?;
    // By path, and by the identity of what was opened (a path swapped meanwhile changes the
    // one, not the other).
    let homes: Vec<PathBuf> = ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(std::env::var_os)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .collect();
    let holds_home = homes.iter().any(|h| {
        fs::canonicalize(h).is_ok_and(|home| home.starts_with(&real))
            || Dir::open(h).is_ok_and(|d| d.id() == src.id())
    });
    if holds_home || Dir::open(Path::new("/")).is_ok_and(|d| d.id() == src.id()) {
        return Err(refuse(
            "it is, or holds, a home directory or a filesystem's root",
        ));
    }
    let mut empty = true;
    src.each_name(|_| empty = false)
        .map_err(|e| refuse(&e.to_string()))?;
    if var == "GOCACHE" && !empty {
        let handle = src.try_clone().map_err(|e| refuse(&e.to_string()))?;
        crate::buildcache::BuildCache::from_handle(real, handle).map_err(|e| match e {
            crate::error::Error::NotABuildCache { reason, .. } => {
                refuse(&format!("it is not a Go build cache ({reason})"))
            }
            other => other,
        })?;
    }
    Ok(src)
}

/// GOTMPDIR follows to the chosen volume when the temp dir is RAM-backed or has less than
/// `tmp_min` available, and the chosen volume is neither. On GitHub `RUNNER_TEMP`, and on
/// Jenkins the workspace's `@tmp` sibling, are used when they are on the chosen volume.
fn move_tmpdir(
    go: &mut GoEnv,
    root: &Path,
    base: &Path,
    tmp_min: crate::units::Size,
) -> anyhow::Result<Option<Move>> {
    let from = go.effective_tmpdir();
    let (Ok(tmp), Ok(chosen)) = (disk::probe(&from), disk::probe(root)) else {
        return Ok(None);
    };
    let Some(why) = policy::tmpdir_moves(&from, &tmp, &chosen, tmp_min) else {
        return Ok(None);
    };
    let on_chosen =
        |dir: &Path| disk::probe(dir).is_ok_and(|p| p.exists && p.volume == chosen.volume);
    let runner_temp = std::env::var_os("RUNNER_TEMP").map(PathBuf::from);
    let jenkins_tmp = std::env::var_os("WORKSPACE").map(|w| {
        let mut tmp = w;
        tmp.push("@tmp");
        PathBuf::from(tmp)
    });
    let to = match (runner_temp, jenkins_tmp) {
        (Some(dir), _) if on_chosen(&dir) => dir,
        (_, Some(dir)) if on_chosen(dir.parent().unwrap_or(&dir)) => dir,
        _ => base.join("tmp"),
    };
    if to.starts_with(base) {
        create_layout(root, &to).map(drop)
    } else {
        fs::create_dir_all(&to)
    }
    .map_err(|e| anyhow::anyhow!("creating {} for GOTMPDIR: {e}", to.display()))?;
    if !disk::writable(&to) {
        anyhow::bail!("{} (for GOTMPDIR) is not writable", to.display());
    }
    let previous = go.get("GOTMPDIR").map(PathBuf::from);
    set(go, "GOTMPDIR", to.clone().into_os_string());
    Ok(Some(Move {
        var: "GOTMPDIR",
        from: previous.unwrap_or(from),
        to,
        migrated_files: 0,
        migrated_bytes: 0,
        why: Some(why),
    }))
}

fn set(go: &mut GoEnv, name: &str, value: std::ffi::OsString) {
    if let Some(v) = go.vars.iter_mut().find(|v| v.name == name) {
        v.value = value;
        v.origin = Origin::Relocated;
        v.error = None;
    }
}

/// The `auto` choice: the roomiest candidate, the system volume only when strictly roomier.
fn choose(
    go: &GoEnv,
    options: &RelocateOptions,
) -> anyhow::Result<(Option<PathBuf>, String, Vec<Candidate>)> {
    let system_path = options
        .system_volume
        .clone()
        .unwrap_or_else(default_system_volume);
    let system = disk::probe(&system_path).map_err(|e| {
        anyhow::anyhow!("measuring the system volume {}: {e}", system_path.display())
    })?;
    let candidates = candidate_volumes(options, &system);
    let gocache_volume = go
        .get("GOCACHE")
        .and_then(|c| disk::probe(Path::new(c)).ok())
        .map(|p| p.volume);
    let (root, reason) = policy::choose_root(
        &candidates,
        gocache_volume.as_ref(),
        system.space.available,
        &system_path,
    );
    let list = candidates.into_iter().map(|(c, _)| c).collect();
    Ok((root, reason, list))
}

/// The volumes to choose from, each once, with its volume, in order of preference: the
/// candidates of `options`, or else every local disk, that exist and are writable; `system` is
/// the system volume.
fn candidate_volumes(
    options: &RelocateOptions,
    system: &disk::Probe,
) -> Vec<(Candidate, disk::VolumeId)> {
    let roots: Vec<PathBuf> = if options.candidates.is_empty() {
        disk::local_disks()
            .into_iter()
            .map(|m| m.mount_point)
            .collect()
    } else {
        options.candidates.clone()
    };
    let mut candidates: Vec<(Candidate, disk::VolumeId)> = Vec::new();
    for root in roots {
        let Ok(p) = disk::probe(&root) else { continue };
        if !p.exists || !disk::writable(&p.resolved) {
            continue;
        }
        if candidates.iter().any(|(_, id)| *id == p.volume) {
            continue;
        }
        let is_system = p.volume == system.volume;
        candidates.push((
            Candidate {
                root,
                available_bytes: p.space.available,
                system: is_system,
            },
            p.volume,
        ));
    }
    policy::rank(&mut candidates);
    candidates
}

fn default_system_volume() -> PathBuf {
    if cfg!(windows) {
        let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
        PathBuf::from(format!("{drive}\\"))
    } else {
        PathBuf::from("/")
    }
}

/// Whether one of two paths lies inside the other (or they are the same).
fn overlaps(a: &Path, b: &Path) -> bool {
    let (a, b) = (disk::real_path(a), disk::real_path(b));
    a.starts_with(&b) || b.starts_with(&a)
}

fn same(a: &Path, b: &Path) -> bool {
    disk::real_path(a) == disk::real_path(b)
}

/// Creates `dir`, which lies under the chosen `root`, one component at a time through
/// [`crate::safefs`] handles: `root` itself may be reached through links (it was chosen), but
/// nothing below it may be a link or a mount point, so that the layout cannot be redirected
/// into someone else's directory. Returns the handle on `dir`, which is what is written to.
fn create_layout(root: &Path, dir: &Path) -> io::Result<Dir> {
    let rest = dir.strip_prefix(root).map_err(io::Error::other)?;
    fs::create_dir_all(root)?;
    let mut here = Dir::open(root)?;
    for part in rest.components() {
        let std::path::Component::Normal(name) = part else {
            return Err(io::Error::other(format!(
                "{} is not a plain path below {}",
                crate::escape::path(dir),
                crate::escape::path(root)
            )));
        };
        match here.create_dir(name) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        here = here
            .open_dir(name)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", crate::escape::os(name))))?;
    }
    Ok(here)
}

/// The permission bits a copy keeps of its original's: read, write and execute. A copy
/// belongs to whoever migrates; with the original's set-ID bits it would run someone else's
/// content with their privileges.
pub const COPIED_MODE_BITS: u32 = 0o777;

/// Directories nested deeper than this in a tree being migrated stop the migration before
/// anything is removed: each level holds two handles open (the original and its copy).
pub const MAX_MIGRATE_DEPTH: usize = 128;

/// What the copy made of one original.
#[derive(Clone, Copy)]
struct Copied {
    len: u64,
    modified: std::time::SystemTime,
}

/// Copies the tree under the open directory `src` (at `from`) into the open directory `to`
/// (at `to_path`; both paths for messages and the final removal of `from`'s name), verifies
/// every file, then removes from `from` exactly the files copied (as they were when copied)
/// and the directories that are empty then. Links are recreated, not followed; mount points
/// inside `from` (bind mounts included), FIFOs, sockets and devices are neither copied nor
/// removed. A file already at the destination with the same content counts as copied; with
/// other content it is an error before anything is removed. Everything goes through
/// [`crate::safefs`] handles, without recursion. Returns (files, bytes) migrated.
pub fn migrate(src: Dir, from: &Path, to: Dir, to_path: &Path) -> io::Result<(u64, u64)> {
    let src_id = src.id();
    let copied = copy_tree(src.try_clone()?, to, from, to_path)?;
    let files = copied.len() as u64;
    let mut bytes = 0u64;
    let removed = safefs::clear(src, |_, meta| {
        let taken = copied
            .get(&meta.id)
            .is_some_and(|c| c.len == meta.len && c.modified == meta.modified);
        if taken {
            bytes = bytes.saturating_add(meta.len);
        }
        taken
    })?;
    if removed.complete()
        && let (Some(parent), Some(name)) = (from.parent(), from.file_name())
        && let Ok(parent) = Dir::open(parent)
        && parent.meta(name).is_ok_and(|m| m.id == src_id)
    {
        // The emptied directory itself, if its name still names it (not a link or a mount
        // point, which stay).
        let _ = parent.remove_dir(name);
    }
    Ok((files, bytes))
}

/// One directory being copied: the original, its copy, and the names still to copy.
struct CopyFrame {
    src: Dir,
    dst: Dir,
    pending: Vec<OsString>,
    /// Its path below the top, for messages.
    rel: PathBuf,
    mode: u32,
}

/// Copies the tree under `src` into `dst`, verifying each file; returns what was copied, by
/// the original's identity.
fn copy_tree(src: Dir, dst: Dir, from: &Path, to: &Path) -> io::Result<HashMap<FileId, Copied>> {
    let mut copied = HashMap::new();
    let mode = src.own_mode()?;
    let mut stack = vec![CopyFrame {
        pending: src.names()?,
        src,
        dst,
        rel: PathBuf::new(),
        mode,
    }];
    loop {
        let depth = stack.len();
        let Some(frame) = stack.last_mut() else { break };
        let Some(name) = frame.pending.pop() else {
            // The directory's own mode last, so that a read-only directory is filled first.
            if let Some(done) = stack.pop() {
                done.dst.set_mode(done.mode & COPIED_MODE_BITS)?;
            }
            continue;
        };
        let rel = frame.rel.join(&name);
        let shown = || crate::escape::path(&from.join(&rel)).into_owned();
        let meta = match frame.src.meta(&name) {
            Ok(meta) => meta,
            Err(e) if safefs::is_gone(&e) => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", shown()))),
        };
        if !meta.same_mount {
            // A mount point: neither copied nor removed.
            continue;
        }
        match meta.kind {
            Kind::Dir => {
                if depth >= MAX_MIGRATE_DEPTH {
                    return Err(io::Error::other(format!(
                        "{} is nested deeper than {MAX_MIGRATE_DEPTH} directories; nothing was removed",
                        shown()
                    )));
                }
                let sub = enter_dir(frame, &name, rel)?;
                stack.push(sub);
            }
            Kind::Link => {
                copy_link(frame, &name, to, &rel)?;
                copied.insert(
                    meta.id,
                    Copied {
                        len: meta.len,
                        modified: meta.modified,
                    },
                );
            }
            Kind::File => {
                copy_file(&frame.src, &frame.dst, &name, &meta)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", shown())))?;
                copied.insert(
                    meta.id,
                    Copied {
                        len: meta.len,
                        modified: meta.modified,
                    },
                );
            }
            // FIFOs, sockets, devices: not Go's, neither copied nor removed.
            Kind::Other => {}
        }
    }
    Ok(copied)
}

/// The frame of the directory `name` in `frame`'s, at `rel`: opened in the source, and made
/// (or, if there, opened) in the destination, writable while it is filled.
fn enter_dir(frame: &CopyFrame, name: &OsStr, rel: PathBuf) -> io::Result<CopyFrame> {
    let sub = frame.src.open_dir(name)?;
    match frame.dst.create_dir(name) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let sub_dst = frame.dst.open_dir(name)?;
    // Writable while it is filled; its own mode is set when it is done.
    sub_dst.set_mode(0o700)?;
    let mode = frame.src.mode_of(name)?;
    Ok(CopyFrame {
        pending: sub.names()?,
        src: sub,
        dst: sub_dst,
        rel,
        mode,
    })
}

/// Recreates the link `name` of `frame`'s directory (at `rel` under `to`) in the destination,
/// unless a link to the same target is there already.
fn copy_link(frame: &CopyFrame, name: &OsStr, to: &Path, rel: &Path) -> io::Result<()> {
    let target = frame.src.read_link(name)?;
    match frame.dst.read_link(name) {
        Ok(existing) if existing == target => Ok(()),
        Ok(_) => Err(io::Error::other(format!(
            "{} already exists with another target; nothing was removed",
            crate::escape::path(&to.join(rel))
        ))),
        Err(e) if safefs::is_gone(&e) => frame.dst.symlink(&target, name),
        Err(e) => Err(e),
    }
}

/// Copies the file `name` from `src` to `dst` (or accepts a copy already there with the same
/// content), keeping its mode and mtime, and checks the copy byte for byte.
fn copy_file(src: &Dir, dst: &Dir, name: &OsStr, meta: &safefs::Meta) -> io::Result<()> {
    match dst.open_file(name, Open::CreateNew) {
        Ok(mut out) => {
            let mut input = src.open_file(name, Open::Read)?;
            io::copy(&mut input, &mut out)?;
            out.set_modified(meta.modified)?;
            safefs::set_file_mode(&out, src.mode_of(name)? & COPIED_MODE_BITS)?;
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let same = same_content(
        &mut src.open_file(name, Open::Read)?,
        &mut dst.open_file(name, Open::Read)?,
    )?;
    if !same {
        return Err(io::Error::other(
            "differs from its copy at the destination; nothing was removed",
        ));
    }
    Ok(())
}

/// Whether two open files hold the same bytes.
fn same_content(a: &mut fs::File, b: &mut fs::File) -> io::Result<bool> {
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut ba)?;
        if n == 0 {
            return Ok(b.read(&mut bb)? == 0);
        }
        let (Some(chunk_a), Some(chunk_b)) = (ba.get(..n), bb.get_mut(..n)) else {
            return Ok(false);
        };
        match b.read_exact(chunk_b) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            other => other?,
        }
        if chunk_a != chunk_b {
            return Ok(false);
        }
    }
}
