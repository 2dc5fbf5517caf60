//! `scan`: hard-coded paths that pin Go or its caches to a drive or a user, in a source tree.
//!
//! A parallel walk (ripgrep's `ignore`: .gitignore, .ignore and git's excludes are honoured;
//! `.git` and, unless asked, `vendor/` are skipped) reads three kinds of files:
//!
//! * Go source: the string literals only, found by a lexer that follows the Go specification
//!   ([`golex`]), with interpreted strings decoded;
//! * `go.mod` and `go.work`: `replace` and `use` directives naming absolute local paths;
//! * CI and build files (GitHub workflows, Jenkinsfile, Dockerfile, Makefile, shell,
//!   PowerShell and batch scripts): paths assigned to GOROOT, GOPATH, GOCACHE, GOMODCACHE,
//!   GOBIN, GOENV or put on PATH.
//!
//! [`paths`] says which paths count and names the rules; [`render`] writes text, JSON and
//! SARIF 2.1.0.

// Nothing that a file's contents, name or size decides may panic: no indexing or slicing that
// can fail (`get` instead), no `unwrap`/`expect`, no truncating casts. Tests may.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation
    )
)]

pub mod directives;
pub mod fix;
pub mod golex;
pub mod paths;
pub mod place;
pub mod render;
pub mod suppress;

#[cfg(test)]
mod props;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use directives::Dialect;
pub use paths::{Level, Rule};
pub use suppress::Suppression;

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Files or directories; relative ones are reported relative to the working directory.
    pub paths: Vec<PathBuf>,
    /// Also look inside `vendor/` directories.
    pub include_vendor: bool,
    /// The system drive's letter (`C`): paths on it are errors, on other drives warnings.
    pub system_drive: u8,
    /// Worker threads; 0 chooses by the number of cores.
    pub threads: usize,
    /// Report test data (test files, testdata, examples, fixtures) at the rules' own levels
    /// instead of `note`.
    pub include_tests: bool,
    /// Path globs whose findings are suppressed (the configuration's `scan.exclude`).
    pub exclude: Vec<String>,
    /// Rules turned off (the configuration's `scan.disable`).
    pub disabled: Vec<Rule>,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            paths: Vec::new(),
            include_vendor: false,
            system_drive: b'C',
            threads: 0,
            include_tests: false,
            exclude: Vec::new(),
            disabled: Vec::new(),
        }
    }
}

/// Where a finding was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Construct {
    /// A string literal in Go source.
    GoString,
    /// A directive of go.mod.
    GoMod,
    /// A directive of go.work.
    GoWork,
    /// An assignment in a CI or build file.
    Assignment,
}

/// One place (file, line, column, rule) holding hard-coded paths.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ScanFinding {
    /// As the walk found it, bytes and all; shown with [`shown`].
    #[serde(serialize_with = "serialize_file")]
    pub file: PathBuf,
    pub line: u32,
    /// 1-based, in Unicode code points.
    pub column: u32,
    #[serde(serialize_with = "serialize_rule_id")]
    pub rule: Rule,
    pub context: Construct,
    /// The path as found (decoded, for a Go string); the first of `paths`.
    pub path: String,
    /// The literal as written (Go), the directive's verb, or the variable assigned.
    pub source: String,
    /// Every path found at this place, in order (a literal or a line may hold several).
    pub paths: Vec<String>,
    /// Where the string lives: code, test data, or documentation text.
    pub place: Place,
    /// The level reported: the rule's; `note` for test data and documentation text; `warning`
    /// for a drive path in Go code that is none of Go's directories nor a user's.
    pub level: Level,
}

/// Where a string lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// What a build or job runs.
    Code,
    /// A test file, testdata, an example or a fixture, Go code built only for tests.
    TestData,
    /// Prose in a Go string (a help text, a message) or a Markdown code span in one.
    Text,
}

fn serialize_rule_id<S: serde::Serializer>(rule: &Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id())
}

fn serialize_file<S: serde::Serializer>(file: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&shown(file))
}

/// A file's name as every output shows it: bytes that are not UTF-8 as `\xNN`, control
/// characters (line breaks, escape sequences) as visible escapes, and `##[` broken up, so
/// that a name a pull request chose can neither fail to print nor start a workflow command.
/// SARIF's URIs carry the exact bytes instead, percent-encoded.
pub fn shown(file: &Path) -> std::borrow::Cow<'_, str> {
    crate::escape::path(file)
}

impl ScanFinding {
    pub fn level(&self) -> Level {
        self.level
    }

    /// A finding of `rule` at one place, its level the rule's.
    pub fn new(
        file: PathBuf,
        (line, column): (u32, u32),
        rule: Rule,
        context: Construct,
        path: String,
        source: String,
    ) -> ScanFinding {
        ScanFinding {
            file,
            line,
            column,
            rule,
            context,
            paths: vec![path.clone()],
            path,
            source,
            place: Place::Code,
            level: rule.level(),
        }
    }

    /// The paths, joined for a message.
    pub fn paths_shown(&self) -> String {
        self.paths.join(", ")
    }

    /// One sentence: what was found where.
    pub fn message(&self) -> String {
        let what = self.rule.description();
        let message = match self.context {
            Construct::GoString => format!("{what} in a Go string literal: {}", self.paths_shown()),
            Construct::GoMod => format!("{what} in go.mod: {}", self.paths_shown()),
            Construct::GoWork => format!("{what} in go.work: {}", self.paths_shown()),
            Construct::Assignment => {
                format!(
                    "{what}, assigned to {}: {}",
                    self.source,
                    self.paths_shown()
                )
            }
        };
        match (self.place, self.level) {
            (Place::TestData, Level::Note) => format!("{message} (test data)"),
            (Place::Text, Level::Note) => format!("{message} (documentation text)"),
            _ => message,
        }
    }
}

/// A file that could not be read or lexed; its other findings still count.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// Empty when the walk could not say which file.
    #[serde(serialize_with = "serialize_file")]
    pub file: PathBuf,
    pub message: String,
}

/// What a scan found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanReport {
    pub files_scanned: u64,
    /// Sorted by file, line and column.
    pub findings: Vec<ScanFinding>,
    /// Findings the repository suppressed (inline comments, the configuration file), sorted.
    pub suppressed: Vec<(ScanFinding, Suppression)>,
    pub problems: Vec<Problem>,
}

impl ScanReport {
    /// How many findings have each level.
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level() == level).count()
    }

    /// How many suppressed findings were suppressed by inline comments and by the
    /// configuration file.
    pub fn suppressed_counts(&self) -> (usize, usize) {
        let inline = self
            .suppressed
            .iter()
            .filter(|(_, s)| matches!(s, Suppression::Comment { .. }))
            .count();
        (inline, self.suppressed.len() - inline)
    }
}

/// The kind of a file, by its name and place; `None`: not read. Names are compared as bytes,
/// so a name that is not UTF-8 (`caf\xe9.go`) is read like any other.
fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.as_encoded_bytes();
    let lower = name.to_ascii_lowercase();
    let lower = lower.as_slice();
    let ext = lower
        .iter()
        .rposition(|&b| b == b'.')
        .and_then(|dot| lower.get(dot + 1..));
    if ext == Some(b"go") {
        return Some(Kind::Go);
    }
    match name {
        b"go.mod" => return Some(Kind::GoMod),
        b"go.work" => return Some(Kind::GoWork),
        _ => {}
    }
    if matches!(ext, Some(b"yml" | b"yaml")) {
        let in_workflows = path
            .parent()
            .is_some_and(|p| p.ends_with(".github/workflows"));
        let is_action = lower == b"action.yml" || lower == b"action.yaml";
        return if in_workflows {
            Some(Kind::Build(Build::Workflow))
        } else {
            is_action.then_some(Kind::Build(Build::Action))
        };
    }
    let build = if lower == b"jenkinsfile"
        || lower.starts_with(b"jenkinsfile.")
        || lower.ends_with(b".jenkinsfile")
    {
        Build::Jenkinsfile
    } else if lower == b"dockerfile"
        || lower.starts_with(b"dockerfile.")
        || lower.ends_with(b".dockerfile")
        || lower == b"containerfile"
    {
        Build::Dockerfile
    } else if lower == b"makefile" || lower == b"gnumakefile" || ext == Some(b"mk") {
        Build::Makefile
    } else {
        match ext {
            Some(b"sh" | b"bash") => Build::Shell,
            Some(b"ps1" | b"psm1") => Build::PowerShell,
            Some(b"bat" | b"cmd") => Build::Batch,
            _ => return None,
        }
    };
    Some(Kind::Build(build))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Go,
    GoMod,
    GoWork,
    Build(Build),
}

/// The kinds of CI and build files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `.github/workflows/*.yml`.
    Workflow,
    /// `action.yml`.
    Action,
    Shell,
    PowerShell,
    /// `.bat`, `.cmd`.
    Batch,
    /// Makefile, `*.mk`.
    Makefile,
    Dockerfile,
    Jenkinsfile,
}

impl Build {
    fn dialect(self) -> Dialect {
        match self {
            Build::Workflow | Build::Action => Dialect::Yaml,
            _ => Dialect::Script,
        }
    }
}

/// What every file's scan needs to know.
#[derive(Clone, Debug)]
struct Setup {
    system_drive: u8,
    include_tests: bool,
    exclude: Vec<String>,
    disabled: Vec<Rule>,
}

/// Scans the files under `options.paths`.
pub fn scan(options: &ScanOptions) -> anyhow::Result<ScanReport> {
    let mut roots = options.paths.clone();
    if roots.is_empty() {
        roots.push(PathBuf::from("."));
    }
    for root in &roots {
        if let Err(e) = std::fs::metadata(root) {
            anyhow::bail!("{}: {e}", shown(root));
        }
    }
    let mut roots = roots.iter();
    let mut builder = ignore::WalkBuilder::new(roots.next().map_or(Path::new("."), |r| r));
    for root in roots {
        builder.add(root);
    }
    let include_vendor = options.include_vendor;
    builder
        .hidden(false)
        .require_git(false)
        .threads(options.threads)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            let name = e.file_name();
            !(is_dir && (name == ".git" || (!include_vendor && name == "vendor")))
        });

    let collected = Mutex::new(ScanReport::default());
    let setup = Setup {
        system_drive: options.system_drive,
        include_tests: options.include_tests,
        exclude: options.exclude.clone(),
        disabled: options.disabled.clone(),
    };
    let setup = &setup;
    builder.build_parallel().run(|| {
        let mut worker = Worker {
            local: ScanReport::default(),
            into: &collected,
        };
        Box::new(move |entry| {
            match entry {
                Ok(entry) => {
                    if entry.file_type().is_some_and(|t| t.is_file())
                        && let Some(kind) = kind_of(entry.path())
                    {
                        // A path given to scan is followed if it is a link; what the walk
                        // finds under it never is.
                        let follow = entry.depth() == 0;
                        scan_file(entry.path(), follow, kind, setup, &mut worker.local);
                    }
                }
                Err(e) => worker.local.problems.push(walk_problem(&e)),
            }
            ignore::WalkState::Continue
        })
    });
    // A poisoned lock would mean a worker panicked; what it merged is kept all the same.
    let mut report = collected
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    report.findings.sort();
    report.suppressed.sort();
    report.problems.sort();
    Ok(report)
}

/// A problem of the walk (a directory that cannot be read, a bad `.gitignore` line), with the
/// file it names kept as a path rather than in the message, where it would be shown lossily.
fn walk_problem(mut err: &ignore::Error) -> Problem {
    let mut file = PathBuf::new();
    loop {
        match err {
            ignore::Error::WithPath { path, err: inner } => {
                if file.as_os_str().is_empty() {
                    file.clone_from(path);
                }
                err = inner;
            }
            ignore::Error::WithDepth { err: inner, .. } => err = inner,
            _ => break,
        }
    }
    Problem {
        file,
        message: err.to_string(),
    }
}

/// One walker thread's results, handed over when the walk drops it.
struct Worker<'a> {
    local: ScanReport,
    into: &'a Mutex<ScanReport>,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        merge(self.into, &mut self.local);
    }
}

fn merge(into: &Mutex<ScanReport>, local: &mut ScanReport) {
    let mut all = into
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.files_scanned += std::mem::take(&mut local.files_scanned);
    all.findings.append(&mut local.findings);
    all.suppressed.append(&mut local.suppressed);
    all.problems.append(&mut local.problems);
}

/// Where a path found at byte `start` of a literal's value is reported: at the literal, or,
/// on a later line of a raw string, where the path itself stands.
fn position_in(lit: &golex::Literal<'_>, start: usize) -> (u32, u32) {
    let before = lit
        .value
        .as_bytes()
        .get(..start)
        .unwrap_or(lit.value.as_bytes());
    match memchr::memrchr(b'\n', before) {
        Some(last) if lit.quote == golex::Quote::Raw => {
            let breaks = memchr::memchr_iter(b'\n', before).count();
            let tail = before.get(last + 1..).unwrap_or_default();
            (
                lit.line.saturating_add(golex::saturating_u32(breaks)),
                golex::code_points(tail).saturating_add(1),
            )
        }
        _ => (lit.line, lit.column),
    }
}

/// Scans one file into `out`.
fn scan_file(path: &Path, follow: bool, kind: Kind, setup: &Setup, out: &mut ScanReport) {
    let bytes = match read_regular(path, follow) {
        Ok(b) => b,
        Err(e) => {
            out.problems.push(Problem {
                file: path.to_path_buf(),
                message: format!("cannot read: {e}"),
            });
            return;
        }
    };
    out.files_scanned += 1;
    scan_text(path, &bytes, kind, setup, out);
}

/// The contents of the regular file at `path`, through a link only when `follow`. The walk
/// listed it as a regular file, but anything else on the machine may have exchanged it since:
/// a FIFO without a writer would be waited on forever, and a link could name a device that
/// never ends. So it is opened without blocking and without following a link, and read only
/// if what was opened is a regular file.
fn read_regular(path: &Path, follow: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        let flags = if follow {
            OFlags::NONBLOCK
        } else {
            OFlags::NONBLOCK | OFlags::NOFOLLOW
        };
        options.custom_flags(i32::from_ne_bytes(flags.bits().to_ne_bytes()));
    }
    #[cfg(not(unix))]
    let _ = follow;
    let mut file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file any more (exchanged since it was listed)",
        ));
    }
    // As `std::fs::read`: room for the stated length if it can be had, else an error.
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(meta.len()).unwrap_or(usize::MAX))
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Scans the contents of one file into `out`, with the default setup (tests).
#[cfg(test)]
fn scan_bytes(path: &Path, bytes: &[u8], kind: Kind, system_drive: u8, out: &mut ScanReport) {
    let setup = Setup {
        system_drive,
        include_tests: false,
        exclude: Vec::new(),
        disabled: Vec::new(),
    };
    scan_text(path, bytes, kind, &setup, out);
}

/// Scans the contents of one file into `out`: its findings, one per place, at the level
/// where they stand, those the repository suppressed set apart.
fn scan_text(path: &Path, bytes: &[u8], kind: Kind, setup: &Setup, out: &mut ScanReport) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let file = path.strip_prefix("./").unwrap_or(path).to_path_buf();
    let mut found = find_in(&file, &text, kind, setup.system_drive, &mut out.problems);
    // Most files hold nothing: what follows is done only for those that do.
    if found.is_empty() {
        return;
    }
    let found = merge_places(&mut found);
    let test_data =
        place::is_test_path(&file) || (kind == Kind::Go && place::builds_only_for_tests(&text));
    let comments = suppress::comments(&text);
    let shown_file = file
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let excluded = setup
        .exclude
        .iter()
        .find(|g| suppress::glob_matches(g, &shown_file));
    for mut f in found {
        // A path that says it does not exist (`C:\nonexistent`) is a sentinel, read by
        // nothing.
        if f.paths.iter().all(|p| place::says_it_does_not_exist(p)) {
            f.level = f.level.min(Level::Warning);
        }
        if test_data {
            f.place = Place::TestData;
            f.level = if setup.include_tests {
                f.rule.level()
            } else {
                Level::Note
            };
        }
        let suppression = if let Some(c) = comments.iter().find(|c| c.covers(f.line, f.rule)) {
            Some(Suppression::Comment {
                line: c.line,
                reason: c.reason.clone(),
            })
        } else if let Some(glob) = excluded {
            Some(Suppression::Excluded { glob: glob.clone() })
        } else if setup.disabled.contains(&f.rule) {
            Some(Suppression::Disabled)
        } else {
            None
        };
        match suppression {
            Some(s) => out.suppressed.push((f, s)),
            None => out.findings.push(f),
        }
    }
}

/// The text of line `line` (1-based) before code-point column `column`, from the offsets
/// where lines start.
fn line_before<'t>(text: &'t str, line_starts: &[usize], line: u32, column: u32) -> &'t str {
    let start = usize::try_from(line)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| line_starts.get(i))
        .copied()
        .unwrap_or(0);
    let rest = text.get(start..).unwrap_or_default();
    let wanted = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    let end = rest
        .char_indices()
        .nth(wanted)
        .map_or(rest.len(), |(i, _)| i);
    let before = rest.get(..end).unwrap_or_default();
    before.rsplit('\n').next().unwrap_or_default()
}

/// One finding per place (line, column, rule), holding every path found there, in order.
fn merge_places(found: &mut Vec<ScanFinding>) -> Vec<ScanFinding> {
    found.sort_by_key(|f| (f.line, f.column, f.rule));
    let mut merged: Vec<ScanFinding> = Vec::with_capacity(found.len());
    for f in found.drain(..) {
        match merged.last_mut() {
            Some(last) if (last.line, last.column, last.rule) == (f.line, f.column, f.rule) => {
                for p in f.paths {
                    if !last.paths.contains(&p) {
                        last.paths.push(p);
                    }
                }
            }
            _ => merged.push(f),
        }
    }
    merged
}

/// The hard-coded paths in one file's text, one finding per path, less those the platform
/// the file runs on brings along.
fn find_in(
    file: &Path,
    text: &str,
    kind: Kind,
    system_drive: u8,
    problems: &mut Vec<Problem>,
) -> Vec<ScanFinding> {
    match kind {
        Kind::Go => find_in_go(file, text, system_drive, problems),
        Kind::GoMod | Kind::GoWork => find_in_go_mod(file, text, kind == Kind::GoWork),
        Kind::Build(build) => find_in_build(file, text, build, system_drive),
    }
}

/// The hard-coded paths in the string literals of a Go file; text that reads as prose is a
/// note, a comparison a warning. A syntax error is a problem: literals after it are not read.
fn find_in_go(
    file: &Path,
    text: &str,
    system_drive: u8,
    problems: &mut Vec<Problem>,
) -> Vec<ScanFinding> {
    let mut found = Vec::new();
    let (literals, error) = golex::string_literals(text);
    let mut line_starts: Vec<usize> = Vec::new();
    for lit in literals {
        let hits = paths::find(&lit.value, system_drive);
        if hits.is_empty() {
            continue;
        }
        if line_starts.is_empty() {
            line_starts.push(0);
            line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        }
        let before = line_before(text, &line_starts, lit.line, lit.column);
        let compared = place::is_comparison(before);
        let prose = place::is_prose(&lit.value, &hits);
        for hit in hits {
            let mut f = ScanFinding::new(
                file.to_path_buf(),
                position_in(&lit, hit.start),
                hit.rule,
                Construct::GoString,
                hit.path,
                lit.source.to_string(),
            );
            if prose || place::in_code_span(&lit.value, hit.start) {
                f.place = Place::Text;
                f.level = Level::Note;
            } else if compared
                || (hit.rule == Rule::SystemDrivePath && !place::go_or_user_dir(&f.path))
            {
                f.level = f.level.min(Level::Warning);
            }
            found.push(f);
        }
    }
    if let Some(e) = error {
        problems.push(Problem {
            file: file.to_path_buf(),
            message: format!("not valid Go at {e}; literals after it were not read"),
        });
    }
    found
}

/// The hard-coded paths in the directives of a go.mod file, or of a go.work file if `work`.
fn find_in_go_mod(file: &Path, text: &str, work: bool) -> Vec<ScanFinding> {
    let mut found = Vec::new();
    for h in directives::go_mod(text, work) {
        let context = if work {
            Construct::GoWork
        } else {
            Construct::GoMod
        };
        found.push(ScanFinding::new(
            file.to_path_buf(),
            (h.line, h.column),
            h.rule,
            context,
            h.path,
            h.context,
        ));
    }
    found
}

/// The hard-coded paths assigned in a build file, less those a golang image (in a Dockerfile)
/// or the runners (of a workflow or an action) bring along.
fn find_in_build(file: &Path, text: &str, build: Build, system_drive: u8) -> Vec<ScanFinding> {
    let mut found = Vec::new();
    let golang = if build == Build::Dockerfile {
        place::golang_stages(text)
    } else {
        Vec::new()
    };
    let runners = match build {
        Build::Workflow => place::Runners::of_workflow(text),
        Build::Action => place::Runners::ALL,
        _ => place::Runners::default(),
    };
    for h in directives::assignments(text, build.dialect(), system_drive) {
        let in_golang = usize::try_from(h.line)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| golang.get(i))
            .copied()
            .unwrap_or(false);
        if (in_golang && place::golang_image_owns(&h.path)) || runners.owns(&h.path) {
            continue;
        }
        // An image's PATH holds what the Dockerfile put there; only Go's directories
        // on it are errors.
        let image_path =
            build == Build::Dockerfile && h.context == "PATH" && !place::go_dir(&h.path);
        let mut f = ScanFinding::new(
            file.to_path_buf(),
            (h.line, h.column),
            h.rule,
            Construct::Assignment,
            h.path,
            h.context,
        );
        if image_path {
            f.level = f.level.min(Level::Warning);
        }
        found.push(f);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_problems_keep_the_file_apart_from_the_message() {
        let err = ignore::Error::WithDepth {
            depth: 2,
            err: Box::new(ignore::Error::WithPath {
                path: PathBuf::from("a/.gitignore"),
                err: Box::new(ignore::Error::WithLineNumber {
                    line: 3,
                    err: Box::new(ignore::Error::Glob {
                        glob: Some("x[".into()),
                        err: "unclosed".into(),
                    }),
                }),
            }),
        };
        let p = walk_problem(&err);
        assert_eq!(p.file, Path::new("a/.gitignore"));
        assert!(p.message.starts_with("line 3: "), "{}", p.message);
        let p = walk_problem(&ignore::Error::Io(std::io::Error::other("gone")));
        assert_eq!((p.file, p.message), (PathBuf::new(), "gone".to_string()));
    }

    #[test]
    fn positions_inside_raw_strings() {
        let (lits, _) = golex::string_literals("x := `one\nzwei é /home/u/x`");
        let lit = &lits[0];
        assert_eq!(position_in(lit, 0), (1, 6));
        let at = lit.value.find("/home").unwrap();
        assert_eq!(position_in(lit, at), (2, 8));
        // An offset past the value counts to its end; it does not panic.
        assert_eq!(position_in(lit, 999), (2, 17));
    }

    #[test]
    fn files_are_chosen_by_name() {
        let kind = |p: &str| kind_of(Path::new(p));
        assert_eq!(kind("a/b.go"), Some(Kind::Go));
        assert_eq!(kind("go.mod"), Some(Kind::GoMod));
        assert_eq!(kind("x/go.work"), Some(Kind::GoWork));
        assert_eq!(
            kind(".github/workflows/ci.yml"),
            Some(Kind::Build(Build::Workflow))
        );
        assert_eq!(kind("action.yml"), Some(Kind::Build(Build::Action)));
        assert_eq!(kind("config/app.yml"), None);
        for (name, build) in [
            ("Jenkinsfile", Build::Jenkinsfile),
            ("Dockerfile", Build::Dockerfile),
            ("build/Dockerfile.windows", Build::Dockerfile),
            ("Makefile", Build::Makefile),
            ("rules.mk", Build::Makefile),
            ("ci.sh", Build::Shell),
            ("setup.ps1", Build::PowerShell),
            ("env.bat", Build::Batch),
            ("env.CMD", Build::Batch),
        ] {
            assert_eq!(kind(name), Some(Kind::Build(build)), "{name}");
        }
        assert_eq!(kind("README.md"), None);
        assert_eq!(kind("main.rs"), None);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let kind = |p: &[u8]| kind_of(Path::new(std::ffi::OsStr::from_bytes(p)));
            assert_eq!(kind(b"caf\xe9.go"), Some(Kind::Go));
            assert_eq!(kind(b"x/\xff\xfe.SH"), Some(Kind::Build(Build::Shell)));
            assert_eq!(
                kind(b".github/workflows/\xe9.yml"),
                Some(Kind::Build(Build::Workflow))
            );
            assert_eq!(kind(b"\xe9.txt"), None);
        }
    }
}
