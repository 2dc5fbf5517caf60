//! A scan's findings as text, JSON, or SARIF 2.1.0 for GitHub code scanning.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::fix::{Change, FilePlan};
use super::paths::{Level, Rule};
use super::{ScanFinding, ScanReport, Suppression, shown};
use crate::escape;
use crate::units::percent_encode_bytes;

/// The version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the project documents its rules (SARIF's `informationUri`).
const INFORMATION_URI: &str = "https://github.com/go-disk-guard/go-disk-guard#scan";

/// `path:line:column: level ID name: message`, the literal, and the fix; then a summary.
///
/// Everything a repository chose (file names, paths, literals, messages naming them) is shown
/// through [`escape`]: no line break, control character or `##[` of theirs reaches the output,
/// a literal spanning lines is shown line by line, and no line can start a workflow command.
pub fn text(report: &ScanReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        if f.level() == Level::Note {
            let _ = writeln!(
                out,
                "{}:{}:{}: note {} {}: {}",
                shown(&f.file),
                f.line,
                f.column,
                f.rule.id(),
                f.rule.name(),
                escape::line(&f.message())
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {} {}: {}",
            shown(&f.file),
            f.line,
            f.column,
            f.level().as_str(),
            f.rule.id(),
            f.rule.name(),
            escape::line(&f.message())
        );
        if f.source != f.path && f.context == super::Construct::GoString {
            for line in f.source.lines() {
                let _ = writeln!(out, "    {}", escape::line(line));
            }
        }
        let _ = writeln!(out, "    fix: {}", f.rule.fix());
    }
    let _ = writeln!(out, "{}", summary(report));
    if !report.problems.is_empty() {
        let _ = writeln!(out, "{} file(s) not read in full:", report.problems.len());
        for p in &report.problems {
            let message = escape::line(&p.message);
            if p.file.as_os_str().is_empty() {
                let _ = writeln!(out, "  {message}");
            } else {
                let _ = writeln!(out, "  {}: {message}", shown(&p.file));
            }
        }
    }
    // A file named `::error::x.go` at the top would still start its finding's line.
    escape::guard(&out).into_owned()
}

/// `N findings (E errors, W warnings[, K notes]) in F files scanned[; S suppressed (…)]`.
pub fn summary(report: &ScanReport) -> String {
    let notes = report.count(Level::Note);
    let notes = if notes > 0 {
        format!(", {notes} note{}", plural(notes))
    } else {
        String::new()
    };
    let mut line = format!(
        "{} finding{} ({} error{}, {} warning{}{notes}) in {} file{} scanned",
        report.findings.len(),
        plural(report.findings.len()),
        report.count(Level::Error),
        plural(report.count(Level::Error)),
        report.count(Level::Warning),
        plural(report.count(Level::Warning)),
        report.files_scanned,
        plural(report.files_scanned)
    );
    if !report.suppressed.is_empty() {
        let (inline, config) = report.suppressed_counts();
        let _ = write!(
            line,
            "; {} suppressed ({inline} by go-disk-guard:ignore comments, {config} by the \
             configuration file)",
            report.suppressed.len()
        );
    }
    line
}

fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}

/// The JSON document.
pub fn json(report: &ScanReport) -> String {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "file": shown(&f.file),
                "line": f.line,
                "column": f.column,
                "rule": f.rule.id(),
                "name": f.rule.name(),
                "level": f.level(),
                "context": f.context,
                "path": f.path,
                "paths": f.paths,
                "place": f.place,
                "source": f.source,
                "message": f.message(),
                "fix": f.rule.fix(),
            })
        })
        .collect();
    let doc = json!({
        "schema_version": SCHEMA_VERSION,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "command": "scan",
        "files_scanned": report.files_scanned,
        "errors": report.count(Level::Error),
        "warnings": report.count(Level::Warning),
        "notes": report.count(Level::Note),
        "findings": findings,
        "suppressed": report.suppressed.iter().map(|(f, s)| json!({
            "file": shown(&f.file),
            "line": f.line,
            "column": f.column,
            "rule": f.rule.id(),
            "paths": f.paths,
            "suppression": s,
        })).collect::<Vec<_>>(),
        "problems": report.problems,
    });
    crate::escape::guard_json(&format!("{doc:#}\n")).into_owned()
}

/// A SARIF 2.1.0 log with one run. Relative paths are given relative to `%SRCROOT%`, the
/// directory `base` (the working directory), as GitHub code scanning expects.
pub fn sarif(report: &ScanReport, base: &Path) -> String {
    sarif_with_fixes(report, base, &[])
}

/// [`sarif`], each result that an edit of `plans` fixes carrying it as a SARIF `fix`.
pub fn sarif_with_fixes(report: &ScanReport, base: &Path, plans: &[FilePlan]) -> String {
    let rules = sarif_rules();
    let results = sarif_results(report, plans);
    let notifications = sarif_notifications(report);
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "go-disk-guard",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "originalUriBaseIds": {
                "%SRCROOT%": { "uri": directory_uri(base) },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    crate::escape::guard_json(&format!("{doc:#}\n")).into_owned()
}

/// Every rule, as the run's driver describes it.
fn sarif_rules() -> Vec<Value> {
    Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.name(),
                "shortDescription": { "text": r.description() },
                "fullDescription": { "text": r.help() },
                "help": {
                    "text": format!("{}. {}", r.description(), r.help()),
                    "markdown": format!("**{}.** {}\n\nFix: {}.", r.description(), r.help(), r.fix()),
                },
                "helpUri": INFORMATION_URI,
                "defaultConfiguration": { "level": r.level().as_str() },
                "properties": { "tags": ["portability", "go"] },
            })
        })
        .collect()
}

/// Every place once, suppressed ones included (marked so, as code scanning expects), each
/// with a fingerprint that no other result of the run shares, and with the edit of `plans`
/// that fixes it.
fn sarif_results(report: &ScanReport, plans: &[FilePlan]) -> Vec<Value> {
    let mut all: Vec<(&ScanFinding, Option<&Suppression>)> = report
        .findings
        .iter()
        .map(|f| (f, None))
        .chain(report.suppressed.iter().map(|(f, s)| (f, Some(s))))
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all.dedup_by(|a, b| {
        (&a.0.file, a.0.line, a.0.column, a.0.rule) == (&b.0.file, b.0.line, b.0.column, b.0.rule)
    });
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    all.into_iter()
        .map(|(f, suppression)| {
            let base = fingerprint(f);
            let n = seen.entry(base.clone()).or_insert(0);
            let print = format!("{base}:{n}");
            *n = n.saturating_add(1);
            let mut r = result(f, suppression, &print);
            if let (Some(fix), Some(object)) = (sarif_fix(f, plans), r.as_object_mut()) {
                object.insert("fixes".into(), json!([fix]));
            }
            r
        })
        .collect()
}

/// The problems met scanning, as notifications of the run's invocation.
fn sarif_notifications(report: &ScanReport) -> Vec<Value> {
    report
        .problems
        .iter()
        .map(|p| {
            let mut n = serde_json::Map::new();
            n.insert("level".into(), "warning".into());
            n.insert(
                "message".into(),
                json!({ "text": format!("{}: {}", shown(&p.file), p.message) }),
            );
            if !p.file.as_os_str().is_empty() {
                n.insert(
                    "locations".into(),
                    json!([{ "physicalLocation": { "artifactLocation": location(&p.file) } }]),
                );
            }
            Value::Object(n)
        })
        .collect()
}

/// The edit of `plans` that fixes `f`, as a SARIF fix: a replacement of a region of the
/// file (columns in code points, as the run's `columnKind` says).
fn sarif_fix(f: &ScanFinding, plans: &[FilePlan]) -> Option<Value> {
    let plan = plans.iter().find(|p| p.file == f.file)?;
    let edit = plan
        .applied
        .iter()
        .chain(&plan.suggested)
        .find(|e| e.fixes.contains(&(f.line, f.column, f.rule.id())))?;
    let line_text = plan
        .original
        .split('\n')
        .nth(usize::try_from(edit.line).ok()?.checked_sub(1)?)?;
    let column_of = |byte: usize| {
        super::golex::code_points(line_text.as_bytes().get(..byte).unwrap_or_default())
            .saturating_add(1)
    };
    let mut replacements = Vec::new();
    match &edit.change {
        Change::Remove { with_parent } => {
            for line in with_parent.iter().chain([&edit.line]) {
                replacements.push(json!({
                    "deletedRegion": {
                        "startLine": line,
                        "startColumn": 1,
                        "endLine": line.saturating_add(1),
                        "endColumn": 1,
                    },
                    "insertedContent": { "text": "" },
                }));
            }
        }
        Change::Replace(spans) => {
            for (start, end, new) in spans {
                replacements.push(json!({
                    "deletedRegion": {
                        "startLine": edit.line,
                        "startColumn": column_of(*start),
                        "endLine": edit.line,
                        "endColumn": column_of(*end),
                    },
                    "insertedContent": { "text": new },
                }));
            }
        }
    }
    Some(json!({
        "description": { "text": edit.description },
        "artifactChanges": [{
            "artifactLocation": location(&f.file),
            "replacements": replacements,
        }],
    }))
}

fn result(f: &ScanFinding, suppression: Option<&Suppression>, print: &str) -> Value {
    let mut region = serde_json::Map::new();
    region.insert("startLine".into(), f.line.into());
    region.insert("startColumn".into(), f.column.into());
    let span = if f.context == super::Construct::GoString {
        &f.source
    } else {
        &f.path
    };
    if !span.contains('\n') {
        let width = u32::try_from(span.chars().count()).unwrap_or(u32::MAX);
        region.insert("endColumn".into(), f.column.saturating_add(width).into());
        region.insert("snippet".into(), json!({ "text": span }));
    }
    let mut result = json!({
        "ruleId": f.rule.id(),
        "ruleIndex": f.rule.index(),
        "level": f.level().as_str(),
        "message": { "text": format!("{} Fix: {}.", f.message(), f.rule.fix()) },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": location(&f.file),
                "region": region,
            }
        }],
        "partialFingerprints": {
            "goDiskGuardFinding/v2": print,
        },
    });
    if let (Some(s), Some(object)) = (suppression, result.as_object_mut()) {
        object.insert(
            "suppressions".into(),
            json!([{ "kind": s.sarif_kind(), "justification": s.justification() }]),
        );
    }
    result
}

/// A relative file against `%SRCROOT%`, or an absolute `file:` URI.
fn location(file: &Path) -> Value {
    if file.is_absolute() {
        json!({ "uri": file_uri(file) })
    } else {
        json!({ "uri": encode_path(file), "uriBaseId": "%SRCROOT%" })
    }
}

/// Stable across runs and line moves: the rule, the file (its bytes), the paths found and
/// the text they were found in (the run adds which occurrence of these it is, in order).
fn fingerprint(f: &ScanFinding) -> String {
    let paths = f.paths.join("\0");
    let key = [
        f.rule.id().as_bytes(),
        f.file.as_os_str().as_encoded_bytes(),
        paths.as_bytes(),
        f.source.as_bytes(),
    ]
    .join(&0u8);
    let hash = key.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
}

/// A path as a URI reference (RFC 3986): its bytes, whether UTF-8 or not, percent-encoded but
/// for unreserved ones and the separators, which become `/` (a backslash is one on Windows
/// only; elsewhere it is part of a name).
fn encode_path(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    if cfg!(windows) {
        let slashed: Vec<u8> = bytes
            .iter()
            .map(|&b| if b == b'\\' { b'/' } else { b })
            .collect();
        percent_encode_bytes(&slashed)
    } else {
        percent_encode_bytes(bytes)
    }
}

/// `file:///abs/path` (`file:///C:/abs/path` on Windows).
fn file_uri(path: &Path) -> String {
    let encoded = encode_path(path);
    let encoded = encoded.replacen("%3A", ":", 1);
    if encoded.starts_with('/') {
        format!("file://{encoded}")
    } else {
        format!("file:///{encoded}")
    }
}

fn directory_uri(dir: &Path) -> String {
    let mut uri = file_uri(dir);
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::Construct;

    fn finding(file: &Path, path: &str, source: &str) -> ScanFinding {
        ScanFinding::new(
            file.to_path_buf(),
            (3, 9),
            Rule::SystemDrivePath,
            Construct::GoString,
            path.into(),
            source.into(),
        )
    }

    #[test]
    fn text_shows_what_a_repository_chose_escaped_and_starts_no_command() {
        let report = ScanReport {
            files_scanned: 1,
            findings: vec![
                finding(
                    Path::new("::error::x.go"),
                    "C:\\##[warning]y",
                    "`C:\\##[warning]y\r\n::add-mask::z\u{1b}[2J`",
                ),
                finding(Path::new("a\n::error::b.go"), "C:\\x", "\"C:\\\\x\""),
            ],
            suppressed: vec![],
            problems: vec![super::super::Problem {
                file: std::path::PathBuf::from("c\r::warning::d.go"),
                message: "cannot read: ##[error]\n::error::e".into(),
            }],
        };
        let text = text(&report);
        for line in text.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
            assert!(!line.contains('\u{1b}'), "{line:?}");
        }
        assert!(
            text.contains("\\x3a:error::x.go:3:9: error GDG001"),
            "{text}"
        );
        assert!(text.contains("    \\x3a:add-mask::z\\x1b[2J`\n"), "{text}");
        assert!(text.contains("a\\n::error::b.go:3:9: "), "{text}");
        assert!(
            text.contains("  c\\r::warning::d.go: cannot read: #\\x23[error]\\n::error::e\n"),
            "{text}"
        );
    }

    #[test]
    fn json_and_sarif_keep_values_whole_but_no_line_starts_a_command() {
        let report = ScanReport {
            files_scanned: 1,
            findings: vec![finding(
                Path::new("x.go"),
                "C:\\##[warning]y",
                "\"C:\\\\##[warning]y\"",
            )],
            suppressed: vec![],
            problems: vec![],
        };
        for doc in [json(&report), sarif(&report, Path::new("/w"))] {
            assert!(!doc.contains("##["), "{doc}");
            let value: Value = serde_json::from_str(&doc).unwrap();
            let found = value.to_string();
            assert!(found.contains("C:\\\\##[warning]y"), "{found}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_are_shown_escaped_and_encoded_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let file = Path::new(std::ffi::OsStr::from_bytes(b"d/caf\xe9\\.go"));
        assert_eq!(encode_path(file), "d/caf%E9%5C.go");
        let report = ScanReport {
            files_scanned: 1,
            findings: vec![finding(file, "C:\\x", "\"C:\\\\x\"")],
            suppressed: vec![],
            problems: vec![],
        };
        assert!(text(&report).starts_with("d/caf\\xe9\\.go:3:9: "));
        let doc: Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(doc["findings"][0]["file"], "d/caf\\xe9\\.go");
        // The fingerprint hashes the name's bytes: two names that show alike differ.
        let other = Path::new(std::ffi::OsStr::from_bytes(b"d/caf\xe8\\.go"));
        assert_ne!(
            fingerprint(&finding(file, "C:\\x", "")),
            fingerprint(&finding(other, "C:\\x", ""))
        );
    }

    #[test]
    fn uris() {
        assert_eq!(encode_path(Path::new("a b/c#d.go")), "a%20b/c%23d.go");
        assert_eq!(file_uri(Path::new("/w/a b")), "file:///w/a%20b");
        assert_eq!(directory_uri(Path::new("/w")), "file:///w/");
        // A backslash separates on Windows; elsewhere it is part of a name.
        #[cfg(windows)]
        assert_eq!(file_uri(Path::new(r"C:\w\x")), "file:///C:/w/x");
        #[cfg(not(windows))]
        assert_eq!(encode_path(Path::new(r"a\b.go")), "a%5Cb.go");
    }
}
