//! How a run ends: the verdict on the measured volumes and what was pruned, the findings worth
//! a reader's attention, and the exit code each status maps to.

use std::path::PathBuf;

use serde::Serialize;

use super::VolumeLevel;
use crate::disk::{Mount, VolumeId};
use crate::exit_codes::ExitCode;
use crate::settings::Limits;
use crate::units::{format_bytes, format_bytes_pair};

/// One volume and the watched paths on it.
#[derive(Clone, Debug, Serialize)]
pub struct VolumeReport {
    pub id: VolumeId,
    #[serde(flatten)]
    pub mount: Mount,
    pub total_bytes: u64,
    pub available_bytes_before: u64,
    /// After pruning (a dry run projects it from what would be removed).
    pub available_bytes_after: u64,
    pub used_percent_after: f64,
    /// Whether the volume keeps its files in memory (tmpfs, ramfs): space there competes with
    /// the build for RAM.
    pub ram_backed: bool,
    /// What binds the available space: the volume's free space, or the user's quota.
    pub limited_by: crate::disk::quota::Binding,
    /// What the user's quota leaves on this volume, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_remaining_bytes: Option<u64>,
    /// Limits in bytes for this volume (check only).
    pub limits: Option<Limits>,
    pub level: Option<VolumeLevel>,
    pub paths: Vec<WatchedPath>,
}

impl VolumeReport {
    /// Whether the volume is below its soft limit (or its hard one); never without limits.
    pub fn below_soft(&self) -> bool {
        self.level.is_some_and(|l| l != VolumeLevel::Ok)
    }
}

/// A watched path: a Go directory or an extra `--path`.
#[derive(Clone, Debug, Serialize)]
pub struct WatchedPath {
    /// `GOCACHE`, `GOPATH`, …, or `path` for an extra path.
    pub label: String,
    #[serde(serialize_with = "crate::goenv::serialize_path_text")]
    pub path: PathBuf,
    pub exists: bool,
    /// The symbolic links, junctions and volume mount points on the way to it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::disk::Link>,
}

/// Something worth a reader's attention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: FindingLevel,
    /// A stable identifier for the kind of finding (doctor's checks), e.g. `gobin-not-on-path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A finding without a code or a fix.
    pub fn new(level: FindingLevel, message: String) -> Finding {
        Finding {
            level,
            code: None,
            message,
            fix: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingLevel {
    Notice,
    Warning,
    Error,
}

/// How the run ended.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub exit_code: u8,
    /// One line for people.
    pub message: String,
    /// A hard-limit breach the caller chose to go on past (`check --fail-on-hard false`): the
    /// status stays `hard-limit`, the exit code is 0 and the annotation a warning.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tolerated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every watched volume is above its limits (or nothing was asked of it).
    Ok,
    /// Something was pruned and every volume ends above hard.
    Pruned,
    /// A dry run: something would have been pruned, nothing was, and every volume would end
    /// above hard.
    WouldPrune,
    /// A volume is below its hard limit after pruning.
    HardLimit,
    /// `doctor` found an error-level problem.
    Unhealthy,
}

impl Status {
    /// The exit code a run ending with this status has (see [`crate::exit_codes`]).
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::HardLimit => ExitCode::HardLimit,
            Status::Unhealthy => ExitCode::Unhealthy,
            Status::Ok | Status::Pruned | Status::WouldPrune => ExitCode::Ok,
        }
    }

    /// The name used in JSON and step outputs: `ok`, `pruned`, `would-prune`, `hard-limit`,
    /// `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Pruned => "pruned",
            Status::WouldPrune => "would-prune",
            Status::HardLimit => "hard-limit",
            Status::Unhealthy => "unhealthy",
        }
    }
}

impl Verdict {
    /// The exit code the run ends with: its status's, or 0 for a breach gone on past.
    pub fn exit(&self) -> ExitCode {
        if self.tolerated {
            ExitCode::Ok
        } else {
            self.status.exit_code()
        }
    }

    pub fn new(status: Status, message: String) -> Verdict {
        Verdict {
            status,
            exit_code: status.exit_code().code(),
            message,
            tolerated: false,
        }
    }

    /// Goes on past a hard-limit breach (`--fail-on-hard false`); any other verdict stays.
    pub fn tolerate_hard_limit(&mut self) {
        if self.status == Status::HardLimit {
            self.tolerated = true;
            self.exit_code = ExitCode::Ok.code();
        }
    }
}

/// What a prune did, as the verdict weighs it ([`crate::prune::PruneOutcome::tally`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneTally {
    pub cache: PathBuf,
    /// Whether the prune had the cache's lock; when not, it removed nothing.
    pub locked: bool,
    pub removed_entries: u64,
    pub removed_files: u64,
    pub removed_bytes: u64,
    /// Entries within keep-recent that no goal could touch.
    pub kept_recent_entries: u64,
}

/// The verdict of `check`, `run`, `prune`, `status` and `env`: a hard-limit breach names the
/// volume, the figures, the limit and what was pruned; otherwise what was pruned, or how the
/// volumes stand.
pub fn judge(volumes: &[VolumeReport], prunes: &[PruneTally], dry_run: bool) -> Verdict {
    let breaches: Vec<String> = volumes
        .iter()
        .filter(|v| v.level == Some(VolumeLevel::BelowHard))
        .filter_map(|v| breach(v, prunes, dry_run))
        .collect();
    if !breaches.is_empty() {
        return Verdict::new(Status::HardLimit, breaches.join("; and "));
    }
    if prunes.iter().any(|p| p.removed_entries > 0) {
        let sum = |of: fn(&PruneTally) -> u64| {
            prunes.iter().fold(0u64, |sum, p| sum.saturating_add(of(p)))
        };
        let (removed, removed_files) = (sum(|p| p.removed_bytes), sum(|p| p.removed_files));
        let (status, verb) = if dry_run {
            (Status::WouldPrune, "would prune")
        } else {
            (Status::Pruned, "pruned")
        };
        return Verdict::new(
            status,
            format!(
                "{verb} {} ({removed_files} files); every watched volume is above its hard limit",
                format_bytes(removed)
            ),
        );
    }
    let below_soft = volumes
        .iter()
        .filter(|v| v.level == Some(VolumeLevel::BelowSoft))
        .count();
    let message = if below_soft > 0 {
        format!("{below_soft} volume(s) below the soft limit, none below the hard limit")
    } else {
        format!("{} volume(s) within limits", volumes.len())
    };
    Verdict::new(Status::Ok, message)
}

/// The message for volume `v` below its hard limit: where, the figures, and what pruning did
/// for it. `None` for a volume without limits (it has no level either).
fn breach(v: &VolumeReport, prunes: &[PruneTally], dry_run: bool) -> Option<String> {
    let limits = v.limits?;
    let fs = if v.mount.fs_type.is_empty() {
        String::new()
    } else {
        format!(" ({})", v.mount.fs_type)
    };
    let holds_cache = v.paths.iter().any(|p| p.label == "GOCACHE");
    let pruned = match prunes.first().filter(|_| holds_cache) {
        Some(p) if !p.locked => format!(
            "did not prune {}: another go-disk-guard held its lock",
            p.cache.display()
        ),
        Some(p) if p.removed_entries > 0 => format!(
            "{} {} ({} files) from {}",
            if dry_run { "would prune" } else { "pruned" },
            format_bytes(p.removed_bytes),
            p.removed_files,
            p.cache.display()
        ),
        Some(p) => format!(
            "nothing could be pruned from {} ({} entries used within keep-recent)",
            p.cache.display(),
            p.kept_recent_entries
        ),
        None => "there was no Go build cache on it to prune".into(),
    };
    let (avail, hard) = format_bytes_pair(v.available_bytes_after, limits.hard);
    Some(format!(
        "hard limit breached on {}{fs}: {avail} available of {}, below the hard limit of {hard}; {pruned}",
        v.mount.mount_point.display(),
        format_bytes(v.total_bytes),
    ))
}

/// `doctor`'s verdict: unhealthy (exit 4) when an error-level finding exists.
pub fn doctor_verdict(findings: &[Finding]) -> Verdict {
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (errors, warnings) = (count(FindingLevel::Error), count(FindingLevel::Warning));
    if errors > 0 {
        Verdict::new(
            Status::Unhealthy,
            format!("{errors} error(s) and {warnings} warning(s) found"),
        )
    } else {
        Verdict::new(Status::Ok, format!("no errors; {warnings} warning(s)"))
    }
}
