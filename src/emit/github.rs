//! GitHub Actions: environment files, step outputs, the job summary and workflow commands.
//!
//! Values go to `GITHUB_ENV` and `GITHUB_OUTPUT` in the multi-line form
//! `NAME<<DELIMITER` / value / `DELIMITER`, with a random delimiter checked not to occur in the
//! value, so that no value, whatever it holds, can end its entry early and set another one.
//! Each file is written with one append of fully prepared content; a file that is missing or
//! cannot be written is an error.

use std::collections::hash_map::RandomState;
use std::fs::OpenOptions;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{EmitError, Injection, figures};
use crate::report::{FindingLevel, Report, Status};

/// The step outputs written to GITHUB_OUTPUT, in order (the action's outputs mirror them).
pub const OUTPUTS: &[&str] = &[
    "status",
    "available-bytes",
    "pruned-bytes",
    "pruned-files",
    "goroot",
    "gopath",
    "gocache",
    "gomodcache",
    "gobin",
];

/// The files GitHub Actions names in the environment.
#[derive(Clone, Debug, Default)]
pub struct Files {
    pub env: Option<PathBuf>,
    pub path: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
}

impl Files {
    /// From `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`.
    pub fn from_env() -> Files {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Files {
            env: var("GITHUB_ENV"),
            path: var("GITHUB_PATH"),
            output: var("GITHUB_OUTPUT"),
            step_summary: var("GITHUB_STEP_SUMMARY"),
        }
    }
}

/// Writes everything the `github` format hands on, and returns the workflow commands to print
/// on stdout (findings as notices and warnings, a hard-limit breach as an error).
pub fn write(files: &Files, injection: &Injection, report: &Report) -> Result<String, EmitError> {
    let env_file = required(&files.env, "GITHUB_ENV")?;
    let path_file = required(&files.path, "GITHUB_PATH")?;
    let output_file = required(&files.output, "GITHUB_OUTPUT")?;

    let mut env = Vec::new();
    for (name, value) in &injection.env {
        entry(&mut env, name, value.as_encoded_bytes())?;
    }
    // GitHub puts each GITHUB_PATH line in front of PATH, so the last line ends up first:
    // write them in reverse to keep the intended order.
    let mut path = Vec::new();
    for dir in injection.path_prepend.iter().rev() {
        let bytes = dir.as_os_str().as_encoded_bytes();
        if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
            return Err(EmitError::Unrepresentable {
                format: "github",
                why: format!(
                    "{} holds a line break, which GITHUB_PATH cannot carry",
                    dir.display()
                ),
            });
        }
        path.extend_from_slice(bytes);
        path.push(b'\n');
    }
    let f = figures(report);
    let dir = |var: &str| {
        injection
            .get(var)
            .map_or(Vec::new(), |v| v.as_encoded_bytes().to_vec())
    };
    let outputs: Vec<(&str, Vec<u8>)> = OUTPUTS
        .iter()
        .map(|&name| {
            let value = match name {
                "status" => report.verdict.status.as_str().as_bytes().to_vec(),
                "available-bytes" => f
                    .available
                    .map(|a| a.to_string())
                    .unwrap_or_default()
                    .into_bytes(),
                "pruned-bytes" => f.pruned_bytes.to_string().into_bytes(),
                "pruned-files" => f.pruned_files.to_string().into_bytes(),
                var => dir(&var.to_ascii_uppercase()),
            };
            (name, value)
        })
        .collect();
    let mut output = Vec::new();
    for (name, value) in &outputs {
        entry(&mut output, name, value)?;
    }

    append(env_file, "GITHUB_ENV", &env)?;
    append(path_file, "GITHUB_PATH", &path)?;
    append(output_file, "GITHUB_OUTPUT", &output)?;
    if let Some(summary) = &files.step_summary {
        append(
            summary,
            "GITHUB_STEP_SUMMARY",
            report.render(crate::policy::Format::Markdown).as_bytes(),
        )?;
    }
    Ok(workflow_commands(report))
}

fn required<'a>(file: &'a Option<PathBuf>, var: &str) -> Result<&'a Path, EmitError> {
    file.as_deref().ok_or_else(|| {
        EmitError::Target(format!(
            "--emit github needs {var}, which GitHub Actions sets; it is not set here"
        ))
    })
}

/// Appends `NAME<<DELIMITER\nvalue\nDELIMITER\n` to `out`.
fn entry(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), EmitError> {
    let valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(EmitError::Unrepresentable {
            format: "github",
            why: format!("{name:?} is not a valid variable or output name"),
        });
    }
    let delimiter = loop {
        let d = random_delimiter();
        if !contains(value, d.as_bytes()) {
            break d;
        }
    };
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"<<");
    out.extend_from_slice(delimiter.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(value);
    out.push(b'\n');
    out.extend_from_slice(delimiter.as_bytes());
    out.push(b'\n');
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `ghadelimiter_` and 128 random bits in hex. `RandomState` is seeded from the operating
/// system's random source.
fn random_delimiter() -> String {
    let word = || {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x676f2d6469736b);
        h.finish()
    };
    format!("ghadelimiter_{:016x}{:016x}", word(), word())
}

fn append(path: &Path, var: &str, data: &[u8]) -> Result<(), EmitError> {
    let result = OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.flush()));
    result.map_err(|e| EmitError::Target(format!("writing {var} file {}: {e}", path.display())))
}

/// Findings and the verdict as workflow commands.
pub fn workflow_commands(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let kind = match f.level {
            FindingLevel::Notice => "notice",
            FindingLevel::Warning => "warning",
            FindingLevel::Error => "error",
        };
        out.push_str(&command(kind, "go-disk-guard", &f.message));
    }
    if report.verdict.status == Status::HardLimit {
        out.push_str(&command(
            "error",
            "go-disk-guard: hard limit",
            &report.verdict.message,
        ));
    }
    out
}

/// `::KIND title=TITLE::MESSAGE` with GitHub's escaping: in the message `%`, CR and LF; in a
/// property also `:` and `,`.
pub fn command(kind: &str, title: &str, message: &str) -> String {
    format!(
        "::{kind} title={}::{}\n",
        escape_property(title),
        escape_data(message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_use_a_fresh_delimiter_absent_from_the_value() {
        let mut out = Vec::new();
        entry(&mut out, "GOCACHE", b"/a\nEVIL=1\nghadelimiter_").unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        let delimiter = first.strip_prefix("GOCACHE<<").unwrap();
        assert!(delimiter.len() > "ghadelimiter_".len() + 16);
        assert_eq!(text.lines().last().unwrap(), delimiter);
        assert_eq!(text.matches(delimiter).count(), 2);
        assert!(entry(&mut Vec::new(), "BAD NAME", b"x").is_err());
        assert!(entry(&mut Vec::new(), "A=B", b"x").is_err());
    }

    #[test]
    fn workflow_commands_escape_data_and_properties() {
        assert_eq!(
            command("warning", "a:b,c", "50% full\r\nnext"),
            "::warning title=a%3Ab%2Cc::50%25 full%0D%0Anext\n"
        );
    }
}
