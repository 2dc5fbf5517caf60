//! Tell: what a run saw and did, as one [`Report`], rendered as text, JSON or Markdown.
//!
//! The JSON form is the report serialised as is; its shape is versioned by
//! [`SCHEMA_VERSION`] and documented in the README. Fields are only ever added within a
//! version.

mod markdown;
mod text;

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::buildcache::CacheStats;
use crate::disk::{Mount, VolumeId};
use crate::error::ExitCode;
use crate::goenv::GoEnv;
use crate::policy::{Format, Level, Limits, Settings};
use crate::prune::Outcome;

pub use markdown::render as render_markdown;
pub use text::render as render_text;

/// The version of the JSON report's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one run of `status`, `check` or `prune` has to say.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool_version: &'static str,
    /// `status`, `check` or `prune`.
    pub command: &'static str,
    pub dry_run: bool,
    pub settings: Option<Settings>,
    pub go: GoEnv,
    pub volumes: Vec<VolumeReport>,
    /// The build cache as found (status), when it could be read.
    pub cache: Option<CacheReport>,
    pub prunes: Vec<Outcome>,
    /// What `--relocate` decided and moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relocation: Option<crate::relocate::Outcome>,
    /// Work directories of killed builds (`prune --stale-work`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_work: Option<crate::prune::work::StaleWork>,
    /// The GOCACHEPROG value handed on (`--cacheprog-max-size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacheprog: Option<String>,
    /// What happened while `run`'s command ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::supervise::RunReport>,
    pub findings: Vec<Finding>,
    pub verdict: Verdict,
}

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
    pub level: Option<Level>,
    pub paths: Vec<WatchedPath>,
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

/// The build cache's size and age.
#[derive(Clone, Debug, Serialize)]
pub struct CacheReport {
    pub path: PathBuf,
    #[serde(flatten)]
    pub stats: CacheStats,
    /// When `go-disk-guard cacheprog` manages the cache: its budget, live leases and counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacheprog: Option<crate::cacheprog::Managed>,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every watched volume is above its limits (or nothing was asked of it).
    Ok,
    /// Something was pruned (or would be, in a dry run) and every volume ends above hard.
    Pruned,
    /// A volume is below its hard limit after pruning.
    HardLimit,
    /// `doctor` found an error-level problem.
    Unhealthy,
}

impl Status {
    /// The name used in JSON and step outputs: `ok`, `pruned`, `hard-limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Pruned => "pruned",
            Status::HardLimit => "hard-limit",
            Status::Unhealthy => "unhealthy",
        }
    }
}

impl Verdict {
    pub fn new(status: Status, message: String) -> Verdict {
        let exit = match status {
            Status::HardLimit => ExitCode::HardLimit,
            Status::Unhealthy => ExitCode::Unhealthy,
            Status::Ok | Status::Pruned => ExitCode::Ok,
        };
        Verdict {
            status,
            exit_code: exit.code(),
            message,
        }
    }
}

impl Report {
    /// A report of `command` with what every command has; no cache, prunes or relocation.
    pub fn new(
        command: &'static str,
        settings: &Settings,
        go: GoEnv,
        volumes: Vec<VolumeReport>,
        findings: Vec<Finding>,
        verdict: Verdict,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            command,
            dry_run: false,
            settings: Some(settings.clone()),
            go,
            volumes,
            cache: None,
            prunes: Vec::new(),
            relocation: None,
            stale_work: None,
            cacheprog: None,
            run: None,
            findings,
            verdict,
        }
    }

    /// The process exit code: `run`'s command's own, else the verdict's.
    pub fn process_exit_code(&self) -> u8 {
        match &self.run {
            Some(run) => run.exit_code,
            None => self.exit_code().code(),
        }
    }

    /// The exit code the run ends with.
    pub fn exit_code(&self) -> ExitCode {
        match self.verdict.status {
            Status::HardLimit => ExitCode::HardLimit,
            Status::Unhealthy => ExitCode::Unhealthy,
            Status::Ok | Status::Pruned => ExitCode::Ok,
        }
    }

    /// Renders the report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => render_text(self),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self)
                    .expect("a report always serialises: it holds no maps with non-string keys");
                s.push('\n');
                s
            }
            Format::Markdown => render_markdown(self),
        }
    }
}

/// Serialises an optional time as RFC 3339 (UTC, seconds), or `null`.
pub fn serialize_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&humantime::format_rfc3339_seconds(*t)),
        None => s.serialize_none(),
    }
}

/// "3h ago", "2d ago", "just now", "in the future" for a past time.
pub fn ago(t: SystemTime) -> String {
    match SystemTime::now().duration_since(t) {
        Ok(d) if d.as_secs() < 60 => "just now".into(),
        Ok(d) => {
            let secs = d.as_secs();
            let (n, unit) = if secs < 3600 {
                (secs / 60, "min")
            } else if secs < 2 * 86400 {
                (secs / 3600, "h")
            } else {
                (secs / 86400, "d")
            };
            format!("{n}{unit} ago")
        }
        Err(_) => "in the future".into(),
    }
}
