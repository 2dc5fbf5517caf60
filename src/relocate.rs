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
//! copied, verified byte for byte, and only then is the old copy deleted. Read-only modes (the
//! module cache's) are kept.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::disk;
use crate::goenv::{GoEnv, Origin};

/// The directory created under the chosen root.
pub const LAYOUT_DIR: &str = "go-disk-guard";

/// What `--relocate` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relocate {
    /// Choose the roomiest volume.
    Auto,
    /// Use this root.
    Dir(PathBuf),
}

impl FromStr for Relocate {
    type Err = String;
    fn from_str(s: &str) -> Result<Relocate, String> {
        match s.trim() {
            "" => Err("expected auto or a directory".into()),
            "auto" => Ok(Relocate::Auto),
            dir => Ok(Relocate::Dir(PathBuf::from(dir))),
        }
    }
}

/// A candidate volume, as measured.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub root: PathBuf,
    pub available_bytes: u64,
    pub system: bool,
}

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
pub struct Outcome {
    /// The root the Go directories now live under; `None` when they stayed.
    pub root: Option<PathBuf>,
    pub reason: String,
    pub candidates: Vec<Candidate>,
    pub moves: Vec<Move>,
}

/// How to choose.
#[derive(Clone, Debug)]
pub struct Options {
    /// Roots to choose among; empty: the local disks.
    pub candidates: Vec<PathBuf>,
    /// A path on the volume that counts as the system volume; `None`: `/` or `%SystemDrive%\`.
    pub system_volume: Option<PathBuf>,
    pub migrate: bool,
    /// GOTMPDIR moves when the temp dir is RAM-backed or has less than this available.
    pub tmp_min: crate::policy::Size,
}

/// Chooses where to move and, unless it is where the directories already are, moves them:
/// updates `go` in place and returns what was done.
pub fn relocate(go: &mut GoEnv, how: &Relocate, options: &Options) -> anyhow::Result<Outcome> {
    let (root, reason, candidates) = match how {
        Relocate::Dir(dir) => (
            Some(std::path::absolute(dir)?),
            format!("--relocate {} was given", dir.display()),
            Vec::new(),
        ),
        Relocate::Auto => choose(go, options)?,
    };
    let mut outcome = Outcome {
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
    for (var, to) in targets {
        let from = go.get(var).map(PathBuf::from).unwrap_or_default();
        let from_path = from.clone();
        if !from.as_os_str().is_empty() && overlaps(&from_path, &to) {
            if same(&from_path, &to) {
                continue;
            }
            anyhow::bail!(
                "cannot relocate {var} from {} to {}: one lies inside the other",
                crate::escape::path(&from),
                to.display()
            );
        }
        fs::create_dir_all(&to)
            .map_err(|e| anyhow::anyhow!("creating {} for {var}: {e}", to.display()))?;
        if !disk::writable(&to) {
            anyhow::bail!("{} (for {var}) is not writable", to.display());
        }
        let (files, bytes) = if options.migrate && from_path.is_absolute() && from_path.is_dir() {
            migrate(&from_path, &to).map_err(|e| {
                anyhow::anyhow!("migrating {var} from {}: {e}", crate::escape::path(&from))
            })?
        } else {
            (0, 0)
        };
        set(go, var, to.clone().into_os_string());
        outcome.moves.push(Move {
            var,
            from,
            to,
            migrated_files: files,
            migrated_bytes: bytes,
            why: None,
        });
    }
    let gobin = base.join("path").join("bin");
    if go.get("GOBIN") != Some(gobin.as_os_str()) {
        let from = go.get("GOBIN").map(PathBuf::from).unwrap_or_default();
        set(go, "GOBIN", gobin.clone().into_os_string());
        outcome.moves.push(Move {
            var: "GOBIN",
            from,
            to: gobin,
            migrated_files: 0,
            migrated_bytes: 0,
            why: None,
        });
    }
    if let Some(m) = move_tmpdir(go, &root, &base, options.tmp_min)? {
        outcome.moves.push(m);
    }
    Ok(outcome)
}

/// GOTMPDIR follows to the chosen volume when the temp dir is RAM-backed or has less than
/// `tmp_min` available, and the chosen volume is neither. On GitHub `RUNNER_TEMP`, and on
/// Jenkins the workspace's `@tmp` sibling, are used when they are on the chosen volume.
fn move_tmpdir(
    go: &mut GoEnv,
    root: &Path,
    base: &Path,
    tmp_min: crate::policy::Size,
) -> anyhow::Result<Option<Move>> {
    let from = go.effective_tmpdir();
    let (Ok(tmp), Ok(chosen)) = (disk::probe(&from), disk::probe(root)) else {
        return Ok(None);
    };
    if tmp.volume == chosen.volume || chosen.mount.ram_backed() {
        return Ok(None);
    }
    let min = tmp_min.resolve(tmp.space.total);
    let why = if tmp.mount.ram_backed() {
        format!(
            "the temp dir {} is RAM-backed ({})",
            from.display(),
            tmp.mount.fs_type
        )
    } else if tmp.space.available < min {
        format!(
            "the temp dir {} has {} available, less than --tmp-min {}",
            from.display(),
            crate::policy::format_bytes(tmp.space.available),
            crate::policy::format_bytes(min)
        )
    } else {
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
    fs::create_dir_all(&to)
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
    options: &Options,
) -> anyhow::Result<(Option<PathBuf>, String, Vec<Candidate>)> {
    let system_path = options
        .system_volume
        .clone()
        .unwrap_or_else(default_system_volume);
    let system = disk::probe(&system_path).map_err(|e| {
        anyhow::anyhow!("measuring the system volume {}: {e}", system_path.display())
    })?;
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
    // Most room first; the system volume last among equals; then by path, for determinism.
    candidates.sort_by(|(a, _), (b, _)| {
        b.available_bytes
            .cmp(&a.available_bytes)
            .then(a.system.cmp(&b.system))
            .then(a.root.cmp(&b.root))
    });
    let list: Vec<Candidate> = candidates.iter().map(|(c, _)| c.clone()).collect();
    let Some((best, best_id)) = candidates.first() else {
        return Ok((
            None,
            "no writable candidate volume was found; nothing moved".into(),
            list,
        ));
    };
    let gocache_volume = go
        .get("GOCACHE")
        .and_then(|c| disk::probe(Path::new(c)).ok())
        .map(|p| p.volume);
    let human = crate::policy::format_bytes;
    if gocache_volume.as_ref() == Some(best_id) {
        return Ok((
            None,
            format!(
                "GOCACHE is already on the roomiest volume ({}, {} available); nothing moved",
                best.root.display(),
                human(best.available_bytes)
            ),
            list,
        ));
    }
    let reason = if best.system {
        format!(
            "the system volume {} has the most room ({} available)",
            best.root.display(),
            human(best.available_bytes)
        )
    } else {
        let system_room = human(system.space.available);
        format!(
            "{} has the most room ({} available; the system volume {} has {system_room})",
            best.root.display(),
            human(best.available_bytes),
            system_path.display()
        )
    };
    Ok((Some(best.root.clone()), reason, list))
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

/// Copies the tree `from` into `to`, verifies every file, then removes the copied files and
/// emptied directories from `from`. Links are recreated, not followed. A file already at the
/// destination with the same content counts as copied; with other content it is an error
/// before anything is removed. Returns (files, bytes) migrated.
pub fn migrate(from: &Path, to: &Path) -> io::Result<(u64, u64)> {
    let mut files = Vec::new();
    copy_tree(from, to, &mut files)?;
    for (src, dst) in &files {
        if !same_content(src, dst)? {
            return Err(io::Error::other(format!(
                "{} differs from its copy {}; nothing was removed",
                src.display(),
                dst.display()
            )));
        }
    }
    let mut bytes = 0;
    for (src, _) in &files {
        bytes += fs::symlink_metadata(src).map(|m| m.len()).unwrap_or(0);
        make_parent_writable(src)?;
        disk::remove_file(src)?;
    }
    remove_empty_dirs(from)?;
    Ok((files.len() as u64, bytes))
}

fn copy_tree(from: &Path, to: &Path, files: &mut Vec<(PathBuf, PathBuf)>) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type()?;
        if ft.is_dir() {
            copy_tree(&src, &dst, files)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src)?;
            if fs::symlink_metadata(&dst).is_err() {
                make_link(&target, &dst)?;
            }
            files.push((src, dst));
        } else if ft.is_file() {
            if fs::symlink_metadata(&dst).is_ok() {
                if !same_content(&src, &dst)? {
                    return Err(io::Error::other(format!(
                        "{} already exists with other content; nothing was removed",
                        dst.display()
                    )));
                }
            } else {
                fs::copy(&src, &dst)?;
                let mtime = fs::metadata(&src)?.modified()?;
                let _ = fs::File::options()
                    .write(true)
                    .open(&dst)
                    .and_then(|f| f.set_modified(mtime));
            }
            files.push((src, dst));
        }
    }
    // The directory's own mode last, so that a read-only directory is filled first.
    fs::set_permissions(to, meta.permissions())?;
    Ok(())
}

#[cfg(unix)]
fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// Two files, or two links, hold the same content (or target).
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (ma, mb) = (fs::symlink_metadata(a)?, fs::symlink_metadata(b)?);
    if ma.file_type().is_symlink() || mb.file_type().is_symlink() {
        return Ok(ma.file_type().is_symlink()
            && mb.file_type().is_symlink()
            && fs::read_link(a)? == fs::read_link(b)?);
    }
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Read-only directories (the module cache's) must be made writable before their files go.
fn make_parent_writable(file: &Path) -> io::Result<()> {
    match file.parent() {
        Some(parent) => make_writable(parent),
        None => Ok(()),
    }
}

/// Clears the read-only mode of a directory, so that entries can be removed from it.
fn make_writable(dir: &Path) -> io::Result<()> {
    let mut perms = fs::metadata(dir)?.permissions();
    if perms.readonly() {
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(dir, perms)?;
    }
    Ok(())
}

/// Removes `dir` and every directory under it that is empty now, deepest first.
fn remove_empty_dirs(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_empty_dirs(&entry.path())?;
        }
    }
    make_writable(dir)?;
    match fs::remove_dir(dir) {
        // Something else still lives there (a mount, a file we did not copy): leave it.
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(()),
        other => other,
    }
}
