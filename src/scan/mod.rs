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
pub mod golex;
pub mod paths;
pub mod render;

#[cfg(test)]
mod props;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use directives::Dialect;
pub use paths::{Level, Rule};

/// What to scan.
#[derive(Clone, Debug)]
pub struct Options {
    /// Files or directories; relative ones are reported relative to the working directory.
    pub paths: Vec<PathBuf>,
    /// Also look inside `vendor/` directories.
    pub include_vendor: bool,
    /// The system drive's letter (`C`): paths on it are errors, on other drives warnings.
    pub system_drive: u8,
    /// Worker threads; 0 chooses by the number of cores.
    pub threads: usize,
}

/// Where a finding was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// A string literal in Go source.
    GoString,
    /// A directive of go.mod.
    GoMod,
    /// A directive of go.work.
    GoWork,
    /// An assignment in a CI or build file.
    Assignment,
}

/// One hard-coded path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// As the walk found it, bytes and all; shown with [`shown`].
    #[serde(serialize_with = "serialize_file")]
    pub file: PathBuf,
    pub line: u32,
    /// 1-based, in Unicode code points.
    pub column: u32,
    #[serde(serialize_with = "serialize_rule_id")]
    pub rule: Rule,
    pub context: Context,
    /// The path as found (decoded, for a Go string).
    pub path: String,
    /// The literal as written (Go), the directive's verb, or the variable assigned.
    pub source: String,
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

impl Finding {
    pub fn level(&self) -> Level {
        self.rule.level()
    }

    /// One sentence: what was found where.
    pub fn message(&self) -> String {
        let what = self.rule.description();
        match self.context {
            Context::GoString => format!("{what} in a Go string literal: {}", self.path),
            Context::GoMod => format!("{what} in go.mod: {}", self.path),
            Context::GoWork => format!("{what} in go.work: {}", self.path),
            Context::Assignment => format!("{what}, assigned to {}: {}", self.source, self.path),
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
    pub findings: Vec<Finding>,
    pub problems: Vec<Problem>,
}

impl ScanReport {
    /// How many findings have each level.
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level() == level).count()
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
        return (in_workflows || is_action).then_some(Kind::Build(Dialect::Yaml));
    }
    let build = lower == b"jenkinsfile"
        || lower.starts_with(b"jenkinsfile.")
        || lower.ends_with(b".jenkinsfile")
        || lower == b"dockerfile"
        || lower.starts_with(b"dockerfile.")
        || lower.ends_with(b".dockerfile")
        || lower == b"containerfile"
        || lower == b"makefile"
        || lower == b"gnumakefile"
        || matches!(
            ext,
            Some(b"mk" | b"sh" | b"bash" | b"ps1" | b"psm1" | b"bat" | b"cmd")
        );
    build.then_some(Kind::Build(Dialect::Script))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Go,
    GoMod,
    GoWork,
    Build(Dialect),
}

/// Scans the files under `options.paths`.
pub fn scan(options: &Options) -> anyhow::Result<ScanReport> {
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
    let system_drive = options.system_drive;
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
                        scan_file(entry.path(), follow, kind, system_drive, &mut worker.local);
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
fn scan_file(path: &Path, follow: bool, kind: Kind, system_drive: u8, out: &mut ScanReport) {
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
    scan_bytes(path, &bytes, kind, system_drive, out);
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

/// Scans the contents of one file into `out`.
fn scan_bytes(path: &Path, bytes: &[u8], kind: Kind, system_drive: u8, out: &mut ScanReport) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let file = path.strip_prefix("./").unwrap_or(path).to_path_buf();
    match kind {
        Kind::Go => {
            let (literals, error) = golex::string_literals(&text);
            for lit in literals {
                for hit in paths::find(&lit.value, system_drive) {
                    let (line, column) = position_in(&lit, hit.start);
                    out.findings.push(Finding {
                        file: file.clone(),
                        line,
                        column,
                        rule: hit.rule,
                        context: Context::GoString,
                        path: hit.path,
                        source: lit.source.to_string(),
                    });
                }
            }
            if let Some(e) = error {
                out.problems.push(Problem {
                    file: file.clone(),
                    message: format!("not valid Go at {e}; literals after it were not read"),
                });
            }
        }
        Kind::GoMod | Kind::GoWork => {
            let work = kind == Kind::GoWork;
            for h in directives::go_mod(&text, work) {
                out.findings.push(Finding {
                    file: file.clone(),
                    line: h.line,
                    column: h.column,
                    rule: h.rule,
                    context: if work {
                        Context::GoWork
                    } else {
                        Context::GoMod
                    },
                    path: h.path,
                    source: h.context,
                });
            }
        }
        Kind::Build(dialect) => {
            for h in directives::assignments(&text, dialect, system_drive) {
                out.findings.push(Finding {
                    file: file.clone(),
                    line: h.line,
                    column: h.column,
                    rule: h.rule,
                    context: Context::Assignment,
                    path: h.path,
                    source: h.context,
                });
            }
        }
    }
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
            Some(Kind::Build(Dialect::Yaml))
        );
        assert_eq!(kind("action.yml"), Some(Kind::Build(Dialect::Yaml)));
        assert_eq!(kind("config/app.yml"), None);
        for build in [
            "Jenkinsfile",
            "Dockerfile",
            "build/Dockerfile.windows",
            "Makefile",
            "rules.mk",
            "ci.sh",
            "setup.ps1",
            "env.bat",
            "env.CMD",
        ] {
            assert_eq!(kind(build), Some(Kind::Build(Dialect::Script)), "{build}");
        }
        assert_eq!(kind("README.md"), None);
        assert_eq!(kind("main.rs"), None);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let kind = |p: &[u8]| kind_of(Path::new(std::ffi::OsStr::from_bytes(p)));
            assert_eq!(kind(b"caf\xe9.go"), Some(Kind::Go));
            assert_eq!(kind(b"x/\xff\xfe.SH"), Some(Kind::Build(Dialect::Script)));
            assert_eq!(
                kind(b".github/workflows/\xe9.yml"),
                Some(Kind::Build(Dialect::Yaml))
            );
            assert_eq!(kind(b"\xe9.txt"), None);
        }
    }
}
