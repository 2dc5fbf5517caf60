//! `scan`: hard-coded paths that pin Go or its caches to a drive or a user.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Document, Outcome};
use crate::exit_codes::ExitCode;
use crate::scan::{self, Level, render};

/// What `scan` is asked to do.
#[derive(Debug)]
pub struct ScanRequest {
    /// Files or directories to scan.
    pub paths: Vec<PathBuf>,
    /// Output: text, json, or sarif (SARIF 2.1.0, for GitHub code scanning).
    pub format: ScanFormat,
    /// Write the findings to FILE instead of stdout (a summary goes to stderr).
    pub output: Option<PathBuf>,
    /// Exit with 4 when a finding is at least this serious.
    pub fail_on: FailOn,
    /// The system drive: paths on it are errors, on other drives warnings [default:
    /// %SystemDrive% on Windows, else C:].
    pub system_drive: Option<u8>,
    /// Look inside vendor/ directories too.
    pub include_vendor: bool,
    /// Report paths in test data (_test.go files, testdata/, examples, fixtures, test-only
    /// build tags) at their rules' levels instead of as notes.
    pub include_tests: bool,
    /// The configuration file whose `scan:` section applies [default: .go-disk-guard.yml in
    /// the working directory or the git root].
    pub config: Option<PathBuf>,
    /// Rewrite, in place, the hard-coded assignments it understands in CI and build files
    /// (shell, PowerShell, Makefile, workflow env) so that the value is taken at run time;
    /// each edited file is scanned again before it is written.
    pub fix: bool,
    /// With --fix: also show, as a unified diff, the edits it does not make (Go code,
    /// Dockerfiles, batch files: suggestions only).
    pub diff: bool,
    /// With --fix: show every edit as a unified diff and write nothing.
    pub dry_run: bool,
}

/// `scan --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

/// `scan --fail-on`: the least serious finding that fails the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

/// `C`, `c:`, `C:\` → `C`.
pub fn parse_drive(s: &str) -> Result<u8, String> {
    let t = s.trim().trim_end_matches(['\\', '/']);
    let t = t.strip_suffix(':').unwrap_or(t);
    match t.as_bytes() {
        [letter] if letter.is_ascii_alphabetic() => Ok(letter.to_ascii_uppercase()),
        _ => Err("expected a drive letter such as C:".into()),
    }
}

/// Scans (fixing first, with `--fix`), renders the findings and says whether they fail the
/// scan.
pub fn run(args: ScanRequest) -> anyhow::Result<Outcome> {
    let cwd = &std::env::current_dir().context("reading the working directory")?;
    let system_drive = args.system_drive.unwrap_or_else(|| {
        std::env::var("SystemDrive")
            .ok()
            .filter(|_| cfg!(windows))
            .and_then(|d| parse_drive(&d).ok())
            .unwrap_or(b'C')
    });
    let options = options(&args, system_drive, cwd)?;
    let mut report = scan::scan(&options)?;
    let mut log = String::new();
    if args.fix {
        let plans = scan::fix::plan(&report, system_drive);
        log = scan::fix::run(&plans, args.dry_run, args.diff);
        if !args.dry_run {
            report = scan::scan(&options)?;
        }
    }
    let plans = if args.format == ScanFormat::Sarif {
        scan::fix::plan(&report, system_drive)
    } else {
        Vec::new()
    };
    let mut text = match args.format {
        ScanFormat::Text => render::text(&report),
        ScanFormat::Json => render::json(&report),
        ScanFormat::Sarif => render::sarif_with_fixes(&report, cwd, &plans),
    };
    if args.format == ScanFormat::Text && args.output.is_none() {
        text.insert_str(0, &log);
        log.clear();
    }
    if let Some(path) = &args.output {
        std::fs::write(path, &text).with_context(|| {
            let shown = crate::escape::path(path);
            format!("writing the findings to {shown}")
        })?;
    }
    Ok(Outcome::Document(Document {
        text,
        written_to: args.output,
        summary: summary(&report),
        json: !matches!(args.format, ScanFormat::Text),
        log,
        error: None,
        exit: exit_code(&report, args.fail_on),
    }))
}

/// What to scan and how: the request, with the configuration file's `scan:` section.
fn options(args: &ScanRequest, system_drive: u8, cwd: &Path) -> anyhow::Result<scan::ScanOptions> {
    let config = crate::settings::find_config_file(args.config.as_deref(), cwd)
        .map(|path| crate::settings::load_scan_section(&path))
        .transpose()?
        .unwrap_or_default();
    let disabled = config
        .disable
        .iter()
        .map(|(word, origin)| {
            scan::Rule::parse(word).ok_or_else(|| {
                crate::Error::Usage(format!(
                    "{origin}: {} is no rule (GDG001…GDG009 or a rule's name)",
                    crate::escape::line(word)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(scan::ScanOptions {
        paths: args.paths.clone(),
        include_vendor: args.include_vendor,
        system_drive,
        threads: 0,
        include_tests: args.include_tests || config.include_tests.unwrap_or(false),
        exclude: config.exclude,
        disabled,
    })
}

/// [`ExitCode::Unhealthy`] when a finding is at least as serious as `fail_on`.
fn exit_code(report: &scan::ScanReport, fail_on: FailOn) -> ExitCode {
    let failing = match fail_on {
        FailOn::Error => report.count(Level::Error),
        FailOn::Warning => report.count(Level::Error) + report.count(Level::Warning),
        FailOn::Never => 0,
    };
    if failing > 0 {
        ExitCode::Unhealthy
    } else {
        ExitCode::Ok
    }
}

/// One line: how many findings of each level in how many files, and how many suppressed.
fn summary(report: &scan::ScanReport) -> String {
    let (inline, configured) = report.suppressed_counts();
    format!(
        "scan: {} finding(s), {} error(s), {} warning(s), {} note(s) in {} file(s); {} suppressed ({inline} inline, {configured} by the configuration file)",
        report.findings.len(),
        report.count(Level::Error),
        report.count(Level::Warning),
        report.count(Level::Note),
        report.files_scanned,
        report.suppressed.len(),
    )
}
