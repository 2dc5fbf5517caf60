//! A scan's findings as text, JSON, or SARIF 2.1.0 for GitHub code scanning.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::paths::{Level, Rule};
use super::{Finding, ScanReport};

/// The version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the project documents its rules (SARIF's `informationUri`).
const INFORMATION_URI: &str = "https://github.com/go-disk-guard/go-disk-guard#scan";

/// `path:line:column: level ID name: message`, the literal, and the fix; then a summary.
pub fn text(report: &ScanReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {} {}: {}",
            f.file.display(),
            f.line,
            f.column,
            f.level().as_str(),
            f.rule.id(),
            f.rule.name(),
            f.message()
        );
        if f.source != f.path && f.context == super::Context::GoString {
            let _ = writeln!(out, "    {}", f.source.replace('\n', "\n    "));
        }
        let _ = writeln!(out, "    fix: {}", f.rule.fix());
    }
    let _ = writeln!(
        out,
        "{} finding{} ({} error{}, {} warning{}) in {} file{} scanned",
        report.findings.len(),
        plural(report.findings.len()),
        report.count(Level::Error),
        plural(report.count(Level::Error)),
        report.count(Level::Warning),
        plural(report.count(Level::Warning)),
        report.files_scanned,
        plural(report.files_scanned)
    );
    if !report.problems.is_empty() {
        let _ = writeln!(out, "{} file(s) not read in full:", report.problems.len());
        for p in &report.problems {
            let _ = writeln!(out, "  {}: {}", p.file.display(), p.message);
        }
    }
    out
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
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "rule": f.rule.id(),
                "name": f.rule.name(),
                "level": f.level(),
                "context": f.context,
                "path": f.path,
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
        "findings": findings,
        "problems": report.problems,
    });
    format!("{doc:#}\n")
}

/// A SARIF 2.1.0 log with one run. Relative paths are given relative to `%SRCROOT%`, the
/// directory `base` (the working directory), as GitHub code scanning expects.
pub fn sarif(report: &ScanReport, base: &Path) -> String {
    let rules: Vec<Value> = Rule::ALL
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
        .collect();
    let results: Vec<Value> = report.findings.iter().map(result).collect();
    let notifications: Vec<Value> = report
        .problems
        .iter()
        .map(|p| {
            let mut n = serde_json::Map::new();
            n.insert("level".into(), "warning".into());
            n.insert(
                "message".into(),
                json!({ "text": format!("{}: {}", p.file.display(), p.message) }),
            );
            if !p.file.as_os_str().is_empty() {
                n.insert(
                    "locations".into(),
                    json!([{ "physicalLocation": { "artifactLocation": location(&p.file) } }]),
                );
            }
            Value::Object(n)
        })
        .collect();
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
    format!("{doc:#}\n")
}

fn result(f: &Finding) -> Value {
    let mut region = serde_json::Map::new();
    region.insert("startLine".into(), f.line.into());
    region.insert("startColumn".into(), f.column.into());
    let span = if f.context == super::Context::GoString {
        &f.source
    } else {
        &f.path
    };
    if !span.contains('\n') {
        let width = u32::try_from(span.chars().count()).unwrap_or(u32::MAX);
        region.insert("endColumn".into(), f.column.saturating_add(width).into());
        region.insert("snippet".into(), json!({ "text": span }));
    }
    json!({
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
            "goDiskGuardFinding/v1": fingerprint(f),
        },
    })
}

/// A relative file against `%SRCROOT%`, or an absolute `file:` URI.
fn location(file: &Path) -> Value {
    if file.is_absolute() {
        json!({ "uri": file_uri(file) })
    } else {
        json!({ "uri": encode_path(file), "uriBaseId": "%SRCROOT%" })
    }
}

/// Stable across runs and line moves: the rule, the file and the text found.
fn fingerprint(f: &Finding) -> String {
    let key = format!(
        "{}\0{}\0{}\0{}",
        f.rule.id(),
        f.file.display(),
        f.path,
        f.source
    );
    let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
}

/// A relative path as a URI reference: `/` separators, everything else percent-encoded.
fn encode_path(path: &Path) -> String {
    percent_encode(&path.to_string_lossy().replace('\\', "/"))
}

/// `text` with every byte but unreserved ones and `/` percent-encoded, for a URI path.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
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

    #[test]
    fn uris() {
        assert_eq!(encode_path(Path::new("a b/c#d.go")), "a%20b/c%23d.go");
        assert_eq!(file_uri(Path::new("/w/a b")), "file:///w/a%20b");
        assert_eq!(directory_uri(Path::new("/w")), "file:///w/");
        assert_eq!(file_uri(Path::new(r"C:\w\x")), "file:///C:/w/x");
    }
}
