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
use crate::escape;
use crate::report::{FindingLevel, Report, Status};

/// The step outputs written to GITHUB_OUTPUT, in order (the action's outputs mirror them).
pub const OUTPUTS: &[&str] = &[
    "status",
    "available-bytes",
    "pruned-bytes",
    "pruned-files",
    "would-prune-bytes",
    "would-prune-files",
    "dry-run",
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
    let path = path_lines(&injection.path_prepend)?;
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
                "would-prune-bytes" => f.would_prune_bytes.to_string().into_bytes(),
                "would-prune-files" => f.would_prune_files.to_string().into_bytes(),
                "dry-run" => report.dry_run.to_string().into_bytes(),
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
            report.render(crate::settings::Format::Markdown).as_bytes(),
        )?;
    }
    Ok(workflow_commands(report))
}

/// The GITHUB_PATH lines for `dirs`, one directory a line. GitHub puts each line in front of
/// PATH, so the last line ends up first: they are written in reverse to keep the intended
/// order. A directory holding a line break is refused.
fn path_lines(dirs: &[PathBuf]) -> Result<Vec<u8>, EmitError> {
    let mut path = Vec::new();
    for dir in dirs.iter().rev() {
        let bytes = dir.as_os_str().as_encoded_bytes();
        if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
            return Err(EmitError::Unrepresentable {
                format: "github",
                why: format!(
                    "{} holds a line break, which GITHUB_PATH cannot carry",
                    escape::path(dir)
                ),
            });
        }
        path.extend_from_slice(bytes);
        path.push(b'\n');
    }
    Ok(path)
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
            why: format!(
                "\"{}\" is not a valid variable or output name",
                escape::line(name)
            ),
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
    result.map_err(|e| EmitError::Target(format!("writing {var} file {}: {e}", escape::path(path))))
}

/// Findings and the verdict as workflow commands. A message is shown as one line
/// ([`escape::line`]), as in the text report: the runner writes an annotation's message into
/// the log too, where a line break could start a line of its own.
pub fn workflow_commands(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let kind = match f.level {
            FindingLevel::Notice => "notice",
            FindingLevel::Warning => "warning",
            FindingLevel::Error => "error",
        };
        out.push_str(&command(kind, "go-disk-guard", &escape::line(&f.message)));
    }
    if report.verdict.status == Status::HardLimit {
        // Gone on past (`--fail-on-hard false`): a warning, so that a job that goes on shows
        // no error.
        let kind = if report.verdict.tolerated {
            "warning"
        } else {
            "error"
        };
        out.push_str(&command(
            kind,
            "go-disk-guard: hard limit",
            &escape::line(&report.verdict.message),
        ));
    }
    out
}

/// `::KIND title=TITLE::MESSAGE` with GitHub's escaping ([`escape::command_property`],
/// [`escape::command_data`]): one line, which the runner reads back as exactly this title and
/// message. `kind` is one of ours (`notice`, `warning`, `error`).
pub fn command(kind: &str, title: &str, message: &str) -> String {
    format!(
        "::{kind} title={}::{}\n",
        escape::command_property(title),
        escape::command_data(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

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

    #[test]
    fn findings_become_one_line_commands_showing_their_values_escaped() {
        let report = crate::report::sample("/x\n::error::owned ##[error]y 50%");
        assert_eq!(
            workflow_commands(&report),
            "::warning title=go-disk-guard::/x\\n::error::owned #\\x23[error]y 50%25\n\
             ::error title=go-disk-guard%3A hard limit::/x\\n::error::owned #\\x23[error]y 50%25\n"
        );
    }

    #[test]
    fn a_hard_limit_gone_on_past_is_a_warning_and_exit_0() {
        let mut report = crate::report::sample("/x");
        assert_eq!(report.verdict.status, Status::HardLimit);
        report.verdict.tolerate_hard_limit();
        let commands = workflow_commands(&report);
        assert!(
            commands.contains("::warning title=go-disk-guard%3A hard limit::"),
            "{commands}"
        );
        assert!(!commands.contains("::error"), "{commands}");
        assert_eq!(report.exit_code(), crate::exit_codes::ExitCode::Ok);
        assert_eq!(report.verdict.exit_code, 0);
    }

    /// GitHub's environment-file format, as documented (and as the runner reads it on Linux:
    /// lines end at LF): `NAME=value` on one line, or `NAME<<DELIMITER`, value lines, and a
    /// line holding only `DELIMITER`. `None` for anything else.
    fn parse_env_file(data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut lines = data.strip_suffix(b"\n")?.split(|&b| b == b'\n');
        while let Some(line) = lines.next() {
            let text = std::str::from_utf8(line).ok()?;
            let heredoc = text.find("<<");
            let equals = text.find('=');
            match (heredoc, equals) {
                (Some(h), e) if e.is_none_or(|e| h < e) => {
                    let (name, delimiter) = (text.get(..h)?, text.get(h + 2..)?);
                    let mut value: Vec<&[u8]> = Vec::new();
                    loop {
                        let next = lines.next()?;
                        if next == delimiter.as_bytes() {
                            break;
                        }
                        value.push(next);
                    }
                    out.push((name.to_string(), value.join(&b'\n')));
                }
                (_, Some(e)) => out.push((text.get(..e)?.to_string(), line.get(e + 1..)?.to_vec())),
                _ => return None,
            }
        }
        Some(out)
    }

    const NAMES: &[&str] = &[
        "GOROOT",
        "GOPATH",
        "GOCACHE",
        "GOMODCACHE",
        "GOBIN",
        "GOTMPDIR",
        "GOCACHEPROG",
        "available-bytes",
        "_x-1",
    ];

    proptest! {
        #![proptest_config(crate::testing::budget(256))]

        #[test]
        fn env_and_output_entries_read_back_as_exactly_the_values(
            values in prop::collection::vec(hostile::bytes(), 1..6)
        ) {
            let mut file = Vec::new();
            let expected: Vec<(String, Vec<u8>)> = NAMES
                .iter()
                .zip(&values)
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect();
            for (name, value) in &expected {
                entry(&mut file, name, value).unwrap();
            }
            prop_assert_eq!(parse_env_file(&file), Some(expected));
        }

        #[test]
        fn a_value_holding_a_delimiter_like_line_sets_nothing_else(
            value in hostile::bytes(),
            tail in hostile::bytes(),
        ) {
            // The value repeats the delimiter prefix and fake entries around line breaks.
            let value = [
                value.as_slice(),
                b"\nghadelimiter_0\nEVIL=1\nX<<ghadelimiter_\n",
                tail.as_slice(),
            ]
            .concat();
            let mut file = Vec::new();
            entry(&mut file, "GOCACHE", &value).unwrap();
            prop_assert_eq!(parse_env_file(&file), Some(vec![("GOCACHE".into(), value)]));
        }

        #[test]
        fn names_are_validated(name in hostile::text()) {
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let mut file = Vec::new();
            prop_assert_eq!(entry(&mut file, &name, b"v").is_ok(), valid);
            if valid {
                prop_assert_eq!(parse_env_file(&file), Some(vec![(name, b"v".to_vec())]));
            } else {
                prop_assert!(file.is_empty());
            }
        }

        #[test]
        #[cfg(unix)]
        fn path_lines_read_back_or_are_refused(
            dirs in prop::collection::vec(hostile::bytes(), 0..4)
        ) {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStringExt;
                let paths: Vec<PathBuf> = dirs
                    .iter()
                    .map(|d| PathBuf::from(std::ffi::OsString::from_vec(d.clone())))
                    .collect();
                match path_lines(&paths) {
                    Ok(data) => {
                        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
                        prop_assert_eq!(lines.pop(), Some(&b""[..]));
                        lines.reverse();
                        prop_assert_eq!(lines, dirs.iter().map(Vec::as_slice).collect::<Vec<_>>());
                    }
                    Err(_) => prop_assert!(dirs.iter().any(|d| d.contains(&b'\n') || d.contains(&b'\r'))),
                }
            }
        }

        #[test]
        fn a_workflow_command_is_one_line_that_reads_back(
            kind in prop::sample::select(&["notice", "warning", "error"][..]),
            title in hostile::text(),
            message in hostile::text(),
        ) {
            let c = command(kind, &title, &message);
            let body = c.strip_suffix('\n').unwrap();
            prop_assert!(!body.contains(['\n', '\r']), "{c:?}");
            let rest = body.strip_prefix(&format!("::{kind} title=")).unwrap();
            let (t, m) = rest.split_once("::").unwrap();
            prop_assert_eq!(hostile::unescape_property(t), title);
            prop_assert_eq!(hostile::unescape_data(m), message);
        }

        #[test]
        fn findings_are_one_command_each(value in hostile::text()) {
            let report = crate::report::sample(&value);
            let commands = workflow_commands(&report);
            let lines: Vec<&str> = commands.lines().collect();
            prop_assert_eq!(lines.len(), 2);
            prop_assert!(lines[0].starts_with("::warning title=go-disk-guard::"));
            prop_assert!(lines[1].starts_with("::error title=go-disk-guard%3A hard limit::"));
            prop_assert!(!commands.contains('\r'));
            for l in lines {
                let message = hostile::unescape_data(l.splitn(3, "::").nth(2).unwrap());
                prop_assert_eq!(message, escape::line(&value).into_owned());
            }
        }
    }
}
