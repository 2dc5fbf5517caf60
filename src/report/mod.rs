//! Tell: what a run saw and did, as one [`Report`], rendered as text, JSON or Markdown.
//!
//! The JSON form is the report serialised as is; its shape is versioned by
//! [`SCHEMA_VERSION`] and documented in the README. Fields are only ever added within a
//! version.

mod markdown;
mod text;

use std::path::PathBuf;

use serde::Serialize;

use crate::buildcache::CacheStats;
use crate::exit_codes::ExitCode;
use crate::goenv::GoEnv;
use crate::prune::PruneOutcome;
use crate::settings::{Format, Settings};

pub use crate::policy::{Finding, FindingLevel, Status, Verdict, VolumeReport, WatchedPath};
pub use markdown::render as render_markdown;
#[cfg(feature = "remote")]
pub use text::remote_prune as render_remote_prune;
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
    pub settings: Settings,
    pub go: GoEnv,
    pub volumes: Vec<VolumeReport>,
    /// The build cache as found (status), when it could be read.
    pub cache: Option<CacheReport>,
    pub prunes: Vec<PruneOutcome>,
    /// What `--relocate` decided and moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relocation: Option<crate::relocate::Relocation>,
    /// Work directories of killed builds (`prune --stale-work`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_work: Option<crate::prune::work::StaleWork>,
    /// The GOCACHEPROG value handed on (`--cacheprog-max-size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cacheprog: Option<String>,
    /// The configuration file the settings were saved to (`--save-settings`), handed on as
    /// GO_DISK_GUARD_CONFIG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_file: Option<PathBuf>,
    /// What happened while `run`'s command ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::supervise::RunReport>,
    pub findings: Vec<Finding>,
    pub verdict: Verdict,
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
            settings: settings.clone(),
            go,
            volumes,
            cache: None,
            prunes: Vec::new(),
            relocation: None,
            stale_work: None,
            cacheprog: None,
            settings_file: None,
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
        self.verdict.exit()
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

/// The Go environment of [`sample`]: every variable, version and note holds `value`.
#[cfg(test)]
fn sample_go(value: &str, path: &std::path::Path) -> GoEnv {
    use crate::goenv::{GoVar, Origin, Resolver};

    GoEnv {
        resolver: Resolver::GoEnv {
            go: path.to_path_buf(),
            version: value.to_string(),
        },
        vars: ["GOROOT", "GOCACHE"]
            .into_iter()
            .map(|name| GoVar {
                name,
                value: value.into(),
                origin: Origin::Environment,
                error: Some(value.to_string()),
            })
            .collect(),
        sources: Default::default(),
        notes: vec![value.to_string()],
    }
}

/// The one volume of [`sample`], with a link and limits, every text holding `value`.
#[cfg(test)]
fn sample_volume(value: &str, path: &std::path::Path) -> VolumeReport {
    use crate::disk::{Link, Mount, Reparse, VolumeId};
    use crate::settings::Limits;

    VolumeReport {
        id: VolumeId(value.to_string()),
        mount: Mount {
            mount_point: path.to_path_buf(),
            fs_type: value.to_string(),
            source: value.to_string(),
            network: false,
        },
        total_bytes: 1 << 30,
        available_bytes_before: 1 << 20,
        available_bytes_after: 1 << 29,
        used_percent_after: 50.0,
        ram_backed: true,
        limited_by: crate::disk::quota::Binding::Quota,
        quota_remaining_bytes: None,
        limits: Some(Limits {
            hard: 1,
            soft: 2,
            target: 3,
        }),
        level: Some(crate::policy::VolumeLevel::Ok),
        paths: vec![WatchedPath {
            label: value.to_string(),
            path: path.to_path_buf(),
            exists: true,
            links: vec![Link {
                path: path.to_path_buf(),
                reparse: Reparse::Symlink {
                    target: value.to_string(),
                    relative: false,
                },
            }],
        }],
    }
}

/// A report whose every text that a machine, a repository or a server chooses holds `value`,
/// for tests of the renderers.
#[cfg(test)]
pub(crate) fn sample(value: &str) -> Report {
    use std::path::Path;

    use crate::settings::Layer;

    let path = Path::new("/v").join(value);
    let settings = Settings::from_layers(Layer::default()).expect("default settings");
    let go = sample_go(value, &path);
    let volume = sample_volume(value, &path);
    let finding = Finding {
        level: FindingLevel::Warning,
        code: Some("code"),
        message: value.to_string(),
        fix: Some(value.to_string()),
    };
    let mut report = Report::new(
        "check",
        &settings,
        go,
        vec![volume],
        vec![finding],
        Verdict::new(Status::HardLimit, value.to_string()),
    );
    report.cache = Some(CacheReport {
        path: path.clone(),
        stats: CacheStats::default(),
        cacheprog: None,
    });
    report.prunes = vec![PruneOutcome {
        cache: path.clone(),
        locked: true,
        notes: vec![value.to_string()],
        ..PruneOutcome::default()
    }];
    report.relocation = Some(crate::relocate::Relocation {
        root: Some(path.clone()),
        reason: value.to_string(),
        candidates: Vec::new(),
        moves: vec![crate::relocate::Move {
            var: "GOCACHE",
            from: path.clone(),
            to: path.clone(),
            migrated_files: 1,
            migrated_bytes: 1,
            why: Some(value.to_string()),
        }],
    });
    report.stale_work = Some(crate::prune::work::StaleWork {
        temp_dirs: vec![path.clone()],
        in_use_check: "proc",
        dirs: vec![crate::prune::work::WorkDir {
            path: path.clone(),
            files: 1,
            bytes: 1,
            modified: None,
            fate: crate::prune::work::WorkDirFate::Removed,
            used_by: Some(1),
        }],
        notes: vec![value.to_string()],
        ..Default::default()
    });
    report.cacheprog = Some(value.to_string());
    report.run = Some(crate::supervise::RunReport {
        command: vec![value.to_string(), value.to_string()],
        stopped: Some(value.to_string()),
        lowest_available_bytes: Some(1),
        lowest_volume: Some(path),
        ..Default::default()
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape;
    use crate::hostile;
    use proptest::prelude::*;

    #[test]
    fn hostile_values_stay_in_their_line_of_the_text_report() {
        let plain = render_text(&sample("x"));
        let evil = "/tmp/x\n::error::owned\r::add-mask::y\n##[error]z\n::stop-commands::t";
        let text = render_text(&sample(evil));
        assert_eq!(text.lines().count(), plain.lines().count(), "{text}");
        for l in hostile::runner_lines(&text) {
            assert!(!hostile::is_command(l), "{l:?} in\n{text}");
        }
        assert!(text.contains("/tmp/x\\n::error::owned\\r::add-mask::y\\n#\\x23[error]z"));
    }

    #[test]
    fn hostile_values_are_literal_text_in_the_markdown_report() {
        let plain = render_markdown(&sample("x"));
        let evil = "a`b`|c\n[l](http://e)![i](http://e)<img src=x>\r**b** www.e.x";
        let md = render_markdown(&sample(evil));
        assert_eq!(
            hostile::markdown_structure(&md),
            hostile::markdown_structure(&plain),
            "{md}"
        );
        assert!(!md.contains("www."), "{md}");
        assert!(!md.contains("http:"), "{md}");
    }

    proptest! {
        #![proptest_config(crate::testing::budget(128))]

        #[test]
        fn no_value_adds_a_line_or_a_command_to_the_text_report(value in hostile::text()) {
            let plain = render_text(&sample("x"));
            let text = render_text(&sample(&value));
            prop_assert_eq!(
                hostile::runner_lines(&text).len(),
                hostile::runner_lines(&plain).len()
            );
            for l in hostile::runner_lines(&escape::guard(&text)) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
            // Escaped values alone start no command, before the guard too.
            for l in hostile::runner_lines(&text) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
        }

        #[test]
        fn no_value_adds_markdown_structure(value in hostile::text()) {
            // An empty value shows as *unset*.
            prop_assume!(!value.is_empty());
            let plain = render_markdown(&sample("x"));
            let md = render_markdown(&sample(&value));
            prop_assert_eq!(hostile::markdown_structure(&md), hostile::markdown_structure(&plain));
            prop_assert!(!md.to_ascii_lowercase().contains("www."));
        }

        #[test]
        fn the_json_report_reads_back_and_starts_no_command(value in hostile::text()) {
            let json = escape::guard_json(&sample(&value).render(Format::Json)).into_owned();
            for l in hostile::runner_lines(&json) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
            let back: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back["verdict"]["message"], &serde_json::json!(value));
        }
    }
}
