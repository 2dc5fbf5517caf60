//! `doctor`: settings that make builds use other directories than the ones measured, or that
//! make the Go directories slow, fragile or unusable. Each finding has a stable code, a
//! severity and a fix. Values in findings (paths, variables, filesystem types) are shown
//! escaped ([`escape::line`]): a finding is one line, whatever a value holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::disk;
use crate::escape;
use crate::goenv::{GO_DIR_VARS, GoEnv};
use crate::prune::work::{self, WorkDirFate};
use crate::report::{Finding, FindingLevel};
use crate::settings::DEFAULT_TMP_MIN;
use crate::units::{Size, format_bytes};

/// The directory variables checked for location problems: all but GOENV, which names a file.
fn dir_vars() -> impl Iterator<Item = &'static str> {
    GO_DIR_VARS.iter().copied().filter(|&v| v != "GOENV")
}

/// What doctor looks at besides the Go environment.
#[derive(Clone, Debug)]
pub struct DoctorContext {
    /// The checked-out workspace: `GITHUB_WORKSPACE`, `WORKSPACE` (Jenkins), or the git work
    /// tree around the working directory.
    pub workspace: Option<PathBuf>,
    /// The PATH the job runs with.
    pub path: Vec<PathBuf>,
    /// Below this much available, the temp volume is too small for large builds.
    pub tmp_min: Size,
    /// Work directories idle for longer count as left by killed builds.
    pub stale_age: Duration,
}

impl DoctorContext {
    /// The context of this process.
    pub fn current() -> DoctorContext {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let workspace = var("GITHUB_WORKSPACE")
            .or_else(|| var("WORKSPACE"))
            .or_else(|| {
                let cwd = std::env::current_dir().ok()?;
                cwd.ancestors()
                    .find(|d| d.join(".git").exists())
                    .map(Path::to_path_buf)
            });
        let path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        DoctorContext {
            workspace,
            path,
            tmp_min: DEFAULT_TMP_MIN,
            stale_age: crate::prune::work::default_age(),
        }
    }
}

fn finding(level: FindingLevel, code: &'static str, message: String, fix: String) -> Finding {
    Finding {
        level,
        code: Some(code),
        message,
        fix: Some(fix),
    }
}

/// Every finding for `go` in `ctx`.
pub fn diagnose(go: &GoEnv, ctx: &DoctorContext) -> Vec<Finding> {
    let mut out = Vec::new();
    goenv_file_findings(go, &mut out);
    gocache_findings(go, &mut out);
    gopath_findings(go, &mut out);
    gobin_findings(go, ctx, &mut out);
    tmpdir_findings(go, ctx, &mut out);
    workspace_cache_findings(go, ctx, &mut out);
    location_findings_of_all(go, &mut out);
    out
}

/// The GOENV file setting a directory the environment overrides.
fn goenv_file_findings(go: &GoEnv, out: &mut Vec<Finding>) {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(file) = &go.sources.goenv_file {
        for name in dir_vars() {
            let (Some(in_file), Some(in_env)) = (
                go.sources.goenv.get(name).filter(|v| !v.is_empty()),
                env(name),
            ) else {
                continue;
            };
            if *in_file != in_env {
                out.push(finding(
                    FindingLevel::Warning,
                    "goenv-file-overridden",
                    format!(
                        "{name} is {in_env} in the environment but {in_file} in the go env -w file \
                         {file}; the environment wins, so the go command uses {in_env}",
                        in_env = crate::escape::os(&in_env),
                        in_file = crate::escape::os(in_file),
                        file = crate::escape::os(file),
                    ),
                    format!(
                        "drop one of them: `go env -u {name}` removes it from {file}, or unset the \
                         environment variable",
                        file = crate::escape::os(file),
                    ),
                ));
            }
        }
    }
}

/// A GOCACHE that is off or relative. `go env GOCACHE` says `off` for a relative GOCACHE and
/// for none at all: the go command's own reason tells them apart.
fn gocache_findings(go: &GoEnv, out: &mut Vec<Finding>) {
    let gocache_error = go.var("GOCACHE").and_then(|v| v.error.clone());
    match (go.get("GOCACHE"), gocache_error) {
        (_, Some(error)) if error == crate::goenv::GOCACHE_RELATIVE => out.push(finding(
            FindingLevel::Error,
            "gocache-relative",
            format!(
                "GOCACHE={} is not an absolute path: the go command stops every build with \
                 \"build cache is required, but could not be located: {error}\"",
                crate::escape::os(&go.setting("GOCACHE").unwrap_or_default())
            ),
            "make GOCACHE an absolute path".into(),
        )),
        (_, Some(error)) => out.push(finding(
            FindingLevel::Error,
            "gocache-off",
            format!(
                "the go command stops every build with \"build cache is required, but could not \
                 be located: {error}\""
            ),
            "set HOME (or XDG_CACHE_HOME; %LocalAppData% on Windows), or point GOCACHE at an \
             absolute directory"
                .into(),
        )),
        (Some(v), None) if v == "off" => out.push(finding(
            FindingLevel::Error,
            "gocache-off",
            "GOCACHE=off: the go command requires a build cache since Go 1.12, so every build fails"
                .into(),
            "unset GOCACHE, or point it at an absolute directory".into(),
        )),
        (Some(v), None) if !Path::new(v).is_absolute() => out.push(finding(
            FindingLevel::Warning,
            "gocache-relative",
            format!(
                "GOCACHE {} is relative (the user cache directory is): the go command keeps the \
                 build cache under the directory each build runs in",
                crate::escape::os(v)
            ),
            "make HOME an absolute path, or point GOCACHE at an absolute directory".into(),
        )),
        _ => {}
    }
}

/// A GOPATH entry that is GOROOT.
fn gopath_findings(go: &GoEnv, out: &mut Vec<Finding>) {
    let goroot = go.get("GOROOT").map(PathBuf::from);
    for entry in go
        .get("GOPATH")
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
    {
        if goroot.as_ref().is_some_and(|r| same_dir(r, &entry)) {
            out.push(finding(
                FindingLevel::Error,
                "gopath-is-goroot",
                format!(
                    "GOPATH {} is GOROOT: the go command ignores such a GOPATH",
                    escape::path(&entry)
                ),
                "set GOPATH to a directory of its own, e.g. $HOME/go".into(),
            ));
        }
    }
}

/// A relative GOBIN, or one that is not on PATH.
fn gobin_findings(go: &GoEnv, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    if let Some(error) = go.var("GOBIN").and_then(|v| v.error.as_deref()) {
        out.push(finding(
            FindingLevel::Warning,
            "gobin-relative",
            format!(
                "GOBIN={} is not an absolute path: `go install` stops with \"{error}\", and \
                 go-disk-guard never puts it on PATH",
                crate::escape::os(go.get("GOBIN").unwrap_or_default())
            ),
            "make GOBIN absolute (`go env -w GOBIN=/absolute/dir`), or unset it (`go env -u GOBIN`)"
                .into(),
        ));
    } else if let Some(gobin) = go.get("GOBIN").map(PathBuf::from)
        && !ctx.path.iter().any(|p| same_dir(p, &gobin))
    {
        out.push(finding(
            FindingLevel::Warning,
            "gobin-not-on-path",
            format!(
                "GOBIN {} is not on PATH: programs installed with `go install` are not found",
                escape::path(&gobin)
            ),
            "add it to PATH (`go-disk-guard env --emit github` or `--emit sh` does)".into(),
        ));
    }
}

/// GOCACHE or GOMODCACHE inside the workspace.
fn workspace_cache_findings(go: &GoEnv, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    if let Some(ws) = &ctx.workspace {
        for name in ["GOCACHE", "GOMODCACHE"] {
            let Some(dir) = go.get(name).map(PathBuf::from) else {
                continue;
            };
            if is_within(&dir, ws) {
                out.push(finding(
                    FindingLevel::Warning,
                    "cache-in-workspace",
                    format!(
                        "{name} {} is inside the workspace {}: a clean checkout deletes it, and \
                         tools that scan the workspace walk it",
                        escape::path(&dir),
                        escape::path(ws)
                    ),
                    format!(
                        "point {name} outside the workspace (e.g. under $RUNNER_TEMP or the \
                         agent's tool directory)"
                    ),
                ));
            }
        }
    }
}

/// [`location_findings`] for every directory Go uses, GOPATH's entries each on its own.
fn location_findings_of_all(go: &GoEnv, out: &mut Vec<Finding>) {
    for name in dir_vars() {
        let dirs: Vec<PathBuf> = match go.get(name) {
            Some(v) if name == "GOPATH" => std::env::split_paths(v).collect(),
            Some(v) if Path::new(v).is_absolute() => vec![PathBuf::from(v)],
            // An empty GOTMPDIR means the temp dir: that is where builds compile.
            None if name == "GOTMPDIR" => vec![go.effective_tmpdir()],
            _ => continue,
        };
        for dir in dirs {
            location_findings(name, &dir, out);
        }
    }
}

/// Findings about the go command's scratch space: GOTMPDIR, or the temp dir when it is empty.
fn tmpdir_findings(go: &GoEnv, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    let tmpdir = go.effective_tmpdir();
    let what = if go.get("GOTMPDIR").is_some() {
        format!("GOTMPDIR {}", escape::path(&tmpdir))
    } else {
        format!("the temp dir {} (GOTMPDIR is empty)", escape::path(&tmpdir))
    };
    tmpdir_in_workspace(&what, &tmpdir, ctx, out);
    tmpdir_space_findings(&what, &tmpdir, ctx, out);
    stale_work_findings(go, ctx, out);
}

/// The scratch space `what` (at `tmpdir`) inside the workspace.
fn tmpdir_in_workspace(what: &str, tmpdir: &Path, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    if let Some(ws) = &ctx.workspace
        && is_within(tmpdir, ws)
    {
        out.push(finding(
            FindingLevel::Warning,
            "tmpdir-in-workspace",
            format!(
                "{what} is inside the workspace {}: work directories of killed builds are left \
                 in the checkout, and a clean checkout deletes them under a running build",
                escape::path(ws)
            ),
            "point GOTMPDIR outside the workspace (e.g. $RUNNER_TEMP, or the workspace's @tmp \
             sibling on Jenkins)"
                .into(),
        ));
    }
}

/// The scratch space `what` (at `tmpdir`) on a RAM-backed or small volume, while a local disk
/// has more room.
fn tmpdir_space_findings(what: &str, tmpdir: &Path, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    let Ok(probe) = disk::probe(tmpdir) else {
        return;
    };
    let min = ctx.tmp_min.resolve(probe.space.total);
    let small = probe.space.available < min;
    let ram = probe.mount.ram_backed();
    if !ram && !small {
        return;
    }
    let Some((available, disk)) = roomier_disk(&probe, min) else {
        return;
    };
    let why = tmpdir_shortfall(&probe, ram, small, min);
    out.push(finding(
        FindingLevel::Warning,
        "tmpdir-small",
        format!(
            "{what} is on {}, which is {why}, while {} ({}) has {} available: large \
             builds fail there with \"no space left on device\" or \"disk quota \
             exceeded\"",
            escape::path(&probe.mount.mount_point),
            escape::path(&disk.mount_point),
            escape::line(&disk.fs_type),
            format_bytes(available)
        ),
        format!(
            "`go-disk-guard check --relocate auto --emit …` moves GOTMPDIR there, or \
             set GOTMPDIR to a directory on {}",
            escape::path(&disk.mount_point)
        ),
    ));
}

/// The local, disk-backed volume with the most available, if it has more than `probe`'s and
/// at least `min`.
fn roomier_disk(probe: &disk::Probe, min: u64) -> Option<(u64, disk::Mount)> {
    disk::local_disks()
        .into_iter()
        .filter(|m| !m.ram_backed() && m.mount_point != probe.mount.mount_point)
        .filter_map(|m| Some((disk::space(&m.mount_point).ok()?.available, m)))
        .filter(|(available, _)| *available > probe.space.available && *available >= min)
        .max_by_key(|(available, _)| *available)
}

/// What is wrong with the scratch space's volume: RAM-backed, small, or both.
fn tmpdir_shortfall(probe: &disk::Probe, ram: bool, small: bool, min: u64) -> String {
    match (ram, small) {
        (true, true) => format!(
            "RAM-backed ({}) and has {} available, less than tmp-min {}",
            escape::line(&probe.mount.fs_type),
            format_bytes(probe.space.available),
            format_bytes(min)
        ),
        (true, false) => format!(
            "RAM-backed ({}): what builds write there takes memory",
            escape::line(&probe.mount.fs_type)
        ),
        _ => format!(
            "has {} available, less than tmp-min {}",
            format_bytes(probe.space.available),
            format_bytes(min)
        ),
    }
}

/// Work directories of killed builds, idle for longer than the stale age, in the temp dirs.
fn stale_work_findings(go: &GoEnv, ctx: &DoctorContext, out: &mut Vec<Finding>) {
    let stale = work::clean(&work::temp_dirs(go), ctx.stale_age, true);
    let (count, bytes) = stale
        .dirs
        .iter()
        .filter(|d| d.fate == WorkDirFate::WouldRemove)
        .fold((0u64, 0u64), |(n, b), d| (n + 1, b.saturating_add(d.bytes)));
    if count > 0 {
        let dirs: Vec<String> = stale
            .temp_dirs
            .iter()
            .map(|d| escape::path(d).into_owned())
            .collect();
        out.push(finding(
            FindingLevel::Warning,
            "stale-work-dirs",
            format!(
                "{count} work director{} of killed builds ({}) idle for over {} in {}",
                if count == 1 { "y" } else { "ies" },
                format_bytes(bytes),
                crate::units::format_duration(ctx.stale_age),
                dirs.join(" and ")
            ),
            "`go-disk-guard prune --stale-work` removes them (`check` does when space runs low)"
                .into(),
        ));
    }
}

/// Findings about where one directory really is: through a link onto another volume, on a
/// network filesystem, not writable.
fn location_findings(name: &str, dir: &Path, out: &mut Vec<Finding>) {
    let Ok(probe) = disk::probe(dir) else {
        return;
    };
    if probe.exists
        && let Some(parent) = dir.parent()
        && let Ok(parent_probe) = disk::probe(parent)
        && parent_probe.volume != probe.volume
    {
        out.push(finding(
            FindingLevel::Notice,
            "other-volume",
            format!(
                "{name} {} lives on another volume than its parent: it resolves to {} on {} ({}), \
                 where its free space is measured",
                escape::path(dir),
                escape::path(&probe.resolved),
                escape::path(&probe.mount.mount_point),
                escape::line(&probe.mount.fs_type)
            ),
            "nothing to do if intended; otherwise point it at the volume you mean".into(),
        ));
    }
    if probe.mount.network {
        out.push(finding(
            FindingLevel::Warning,
            "network-filesystem",
            format!(
                "{name} {} is on a network filesystem ({} at {}): builds are slow there, and the \
                 build cache's file locks and mtimes may not behave",
                escape::path(dir),
                escape::line(&probe.mount.fs_type),
                escape::path(&probe.mount.mount_point)
            ),
            format!("point {name} at a local disk"),
        ));
    }
    // GOROOT is only read; the others must be writable (or creatable).
    if name != "GOROOT" && !disk::writable(&probe.resolved) {
        let what = if probe.exists {
            "is not writable"
        } else {
            "cannot be created: its nearest existing ancestor is not writable"
        };
        out.push(finding(
            FindingLevel::Error,
            "not-writable",
            format!(
                "{name} {} {what} ({})",
                escape::path(dir),
                escape::path(&probe.resolved)
            ),
            format!("fix its permissions or mount, or point {name} at a writable directory"),
        ));
    }
}

/// Whether two paths name the same directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    disk::real_path(a) == disk::real_path(b)
}

/// Whether `dir` is `root` or inside it.
fn is_within(dir: &Path, root: &Path) -> bool {
    disk::real_path(dir).starts_with(disk::real_path(root))
}
