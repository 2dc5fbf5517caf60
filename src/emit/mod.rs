//! Tell the job: hand the resolved Go directories to what runs next, in the form it reads.
//!
//! * `github`: appends to the files GitHub Actions names in `GITHUB_ENV`, `GITHUB_PATH`,
//!   `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`, and prints findings as workflow commands;
//! * `jenkins`: one JSON document for the shared-library step to apply with `withEnv`;
//! * `sh`, `fish`, `pwsh`, `cmd`, `dotenv`: lines to source, quoted for that shell.
//!
//! Every value is quoted or delimited so that it reads back as exactly itself and cannot set
//! another variable; a value a format cannot carry safely is an error. What goes to stdout
//! (a payload, workflow commands) holds no line a CI runner would read as a command but the
//! workflow commands written on purpose, whose text is escaped.

pub mod github;
mod quote;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use serde::Serialize;

use crate::escape;
use crate::goenv::{GO_DIR_VARS, GoEnv};
use crate::report::Report;

/// The variables handed on, in this order.
pub const INJECTED_VARS: &[&str] = GO_DIR_VARS.split_at(GO_DIR_VARS.len() - 1).0;

// GOENV names a file and is never handed on: it must stay the last of Go's directory variables.
const _: () = assert!(matches!(
    GO_DIR_VARS[GO_DIR_VARS.len() - 1].as_bytes(),
    b"GOENV"
));

pub use crate::settings::EmitFormat;

/// Why something could not be emitted.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("cannot emit a value for {format}: {why}")]
    Unrepresentable { format: &'static str, why: String },
    #[error("{0}")]
    Target(String),
}

/// The environment to hand on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    /// Variables and values, in [`INJECTED_VARS`] order (then GOCACHEPROG, when handed on);
    /// unknown ones are left out.
    pub env: Vec<(&'static str, OsString)>,
    /// Directories to put in front of PATH: GOBIN, then `$GOROOT/bin`; never a relative one.
    pub path_prepend: Vec<PathBuf>,
}

impl Injection {
    /// What to hand on from the resolved Go directories.
    pub fn from_go(go: &GoEnv) -> Injection {
        let env: Vec<(&'static str, OsString)> = INJECTED_VARS
            .iter()
            .filter_map(|&name| go.get(name).map(|v| (name, v.to_os_string())))
            .collect();
        // Only absolute directories: the report says which were left off.
        let (path_prepend, _relative) = go.path_prepend();
        Injection { env, path_prepend }
    }

    /// What to hand on for `report`: its Go directories, and GOCACHEPROG when it has one.
    pub fn from_report(report: &Report) -> Injection {
        let mut injection = Injection::from_go(&report.go);
        if let Some(prog) = &report.cacheprog {
            injection.env.push(("GOCACHEPROG", OsString::from(prog)));
        }
        if let Some(file) = &report.settings_file {
            injection
                .env
                .push((crate::settings::CONFIG_ENV, file.clone().into_os_string()));
        }
        injection
    }

    /// The value of `name`, if handed on.
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.env
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_os_str())
    }
}

/// Renders `injection` for one of the shell-like formats (not `github` or `jenkins`).
pub fn shell(format: EmitFormat, injection: &Injection) -> Result<Vec<u8>, EmitError> {
    let mut out = Vec::new();
    let bytes = |s: &OsStr| s.as_encoded_bytes().to_vec();
    for (name, value) in &injection.env {
        let v = bytes(value);
        let n = name.as_bytes();
        let line: Vec<u8> = match format {
            EmitFormat::Sh => [&b"export "[..], n, b"=", &quote::sh(&v)?].concat(),
            EmitFormat::Fish => [&b"set -gx "[..], n, b" ", &quote::fish(&v)?].concat(),
            EmitFormat::Pwsh => [&b"$env:"[..], n, b" = ", &quote::pwsh(&v)?].concat(),
            EmitFormat::Cmd => [&b"set \""[..], n, b"=", &quote::cmd(&v)?, b"\""].concat(),
            EmitFormat::Dotenv => [n, b"=", &quote::dotenv(&v)?].concat(),
            EmitFormat::Github | EmitFormat::Jenkins => return Err(not_a_shell(format)),
        };
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    if injection.path_prepend.is_empty() {
        return Ok(out);
    }
    let dirs: Vec<Vec<u8>> = injection
        .path_prepend
        .iter()
        .map(|p| bytes(p.as_os_str()))
        .collect();
    let line: Vec<u8> = match format {
        EmitFormat::Sh => {
            let mut l = b"export PATH=".to_vec();
            for d in &dirs {
                l.extend(quote::sh(d)?);
                l.push(b':');
            }
            l.extend_from_slice(b"\"$PATH\"");
            l
        }
        EmitFormat::Fish => {
            let mut l = b"set -gx PATH".to_vec();
            for d in &dirs {
                l.push(b' ');
                l.extend(quote::fish(d)?);
            }
            l.extend_from_slice(b" $PATH");
            l
        }
        EmitFormat::Pwsh => {
            let mut l = b"$env:PATH = ".to_vec();
            for d in &dirs {
                l.extend(quote::pwsh(d)?);
                l.extend_from_slice(b" + [System.IO.Path]::PathSeparator + ");
            }
            l.extend_from_slice(b"$env:PATH");
            l
        }
        EmitFormat::Cmd => {
            let mut l = b"set \"PATH=".to_vec();
            for d in &dirs {
                l.extend(quote::cmd(d)?);
                l.push(b';');
            }
            l.extend_from_slice(b"%PATH%\"");
            l
        }
        // A dotenv file cannot refer to the existing PATH: the directories go in a comment.
        EmitFormat::Dotenv => {
            let mut l = b"# prepend to PATH:".to_vec();
            for d in &dirs {
                l.push(b' ');
                l.extend(quote::dotenv(d)?);
            }
            l
        }
        EmitFormat::Github | EmitFormat::Jenkins => return Err(not_a_shell(format)),
    };
    out.extend(line);
    out.push(b'\n');
    Ok(out)
}

fn not_a_shell(format: EmitFormat) -> EmitError {
    EmitError::Target(format!("{format:?} is not a shell format").to_lowercase())
}

/// The document the Jenkins step reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsDocument {
    pub env: std::collections::BTreeMap<String, String>,
    pub path_prepend: Vec<String>,
    pub status: String,
    pub exit_code: u8,
    pub available_bytes: Option<u64>,
    pub pruned_bytes: u64,
    pub pruned_files: u64,
    /// What a dry run would have pruned (0 when it was no dry run).
    pub would_prune_bytes: u64,
    pub would_prune_files: u64,
    pub dry_run: bool,
    pub message: String,
}

/// Renders the Jenkins document for `injection` and `report`.
pub fn jenkins(injection: &Injection, report: &Report) -> Result<Vec<u8>, EmitError> {
    let text = |s: &OsStr| {
        s.to_str()
            .map(str::to_string)
            .ok_or_else(|| EmitError::Unrepresentable {
                format: "jenkins",
                why: format!("{} is not valid UTF-8", escape::os(s)),
            })
    };
    let f = figures(report);
    let doc = JenkinsDocument {
        env: injection
            .env
            .iter()
            .map(|(n, v)| Ok((n.to_string(), text(v)?)))
            .collect::<Result<_, EmitError>>()?,
        path_prepend: injection
            .path_prepend
            .iter()
            .map(|p| text(p.as_os_str()))
            .collect::<Result<_, EmitError>>()?,
        status: report.verdict.status.as_str().to_string(),
        exit_code: report.verdict.exit_code,
        available_bytes: f.available,
        pruned_bytes: f.pruned_bytes,
        pruned_files: f.pruned_files,
        would_prune_bytes: f.would_prune_bytes,
        would_prune_files: f.would_prune_files,
        dry_run: report.dry_run,
        message: report.verdict.message.clone(),
    };
    let json = serde_json::to_string_pretty(&doc).map_err(|e| EmitError::Unrepresentable {
        format: "jenkins",
        why: e.to_string(),
    })?;
    // `##[` inside a value is written `##\u005b`: the same value, and no command in a log.
    let mut out = escape::guard_json(&json).into_owned().into_bytes();
    out.push(b'\n');
    Ok(out)
}

/// The headline figures of a report. What was pruned and what a dry run would have pruned
/// are told apart: a dry run prunes nothing, so its `pruned_*` are 0.
pub struct Figures {
    /// The least available space on any watched volume, after pruning.
    pub available: Option<u64>,
    pub pruned_bytes: u64,
    pub pruned_files: u64,
    pub would_prune_bytes: u64,
    pub would_prune_files: u64,
}

/// The headline figures of `report`.
pub fn figures(report: &Report) -> Figures {
    let sum = |dry_run: bool, of: fn(&crate::prune::PruneOutcome) -> u64| {
        report
            .prunes
            .iter()
            .filter(|p| p.dry_run == dry_run)
            .fold(0u64, |sum, p| sum.saturating_add(of(p)))
    };
    Figures {
        available: report.volumes.iter().map(|v| v.available_bytes_after).min(),
        pruned_bytes: sum(false, |p| p.removed_bytes),
        pruned_files: sum(false, |p| p.removed_files),
        would_prune_bytes: sum(true, |p| p.removed_bytes),
        would_prune_files: sum(true, |p| p.removed_files),
    }
}

/// What emitting leaves to print on stdout, in this order.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Workflow commands (`github`): one line each, their text escaped.
    pub commands: String,
    /// A shell or Jenkins payload without --emit-file.
    pub payload: Vec<u8>,
    /// Whether stdout now carries a payload, so that the report must go to stderr.
    pub stdout_is_payload: bool,
}

/// Hands the environment on in every format `formats` names: `github` to its files, the one
/// other format (if any) to `emit_file` or stdout.
pub fn deliver(
    formats: &[EmitFormat],
    emit_file: Option<&std::path::Path>,
    report: &Report,
) -> anyhow::Result<Delivered> {
    let streams: Vec<EmitFormat> = formats
        .iter()
        .copied()
        .filter(|f| *f != EmitFormat::Github)
        .collect();
    if streams.len() > 1 {
        return Err(crate::Error::Usage(format!(
            "--emit: only one format besides github can be written (to stdout or --emit-file); got {}",
            streams
                .iter()
                .map(|f| format!("{f:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    let injection = Injection::from_report(report);
    let mut delivered = Delivered::default();
    if formats.contains(&EmitFormat::Github) {
        delivered.commands = github::write(&github::Files::from_env(), &injection, report)?;
    }
    if let Some(&format) = streams.first() {
        let payload = match format {
            EmitFormat::Jenkins => jenkins(&injection, report)?,
            other => shell(other, &injection)?,
        };
        match emit_file {
            Some(path) => std::fs::write(path, &payload).map_err(|e| {
                EmitError::Target(format!("writing --emit-file {}: {e}", escape::path(path)))
            })?,
            None => {
                delivered.payload = payload;
                delivered.stdout_is_payload = true;
            }
        }
    }
    Ok(delivered)
}

// The readers these tests check the formats with take bytes: they run where values are bytes.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    fn injection(values: &[Vec<u8>]) -> Injection {
        use std::os::unix::ffi::OsStringExt;
        let os = |v: &Vec<u8>| OsString::from_vec(v.clone());
        Injection {
            env: INJECTED_VARS
                .iter()
                .copied()
                .zip(values.iter().map(os))
                .collect(),
            path_prepend: values
                .iter()
                .take(2)
                .map(|v| PathBuf::from(os(v)))
                .collect(),
        }
    }

    /// Variables set, in order: each name and value.
    type Vars = Vec<(String, Vec<u8>)>;

    /// Variables set, in order, and directories put in front of PATH.
    type ReadBack = (Vars, Vec<Vec<u8>>);

    /// Reads `out` back as `format`'s shell would, in the forms written here: the variables
    /// it sets, in order, and the directories put in front of PATH. `None` when `out` holds
    /// anything else (another statement, a command).
    fn read_back(format: EmitFormat, out: &[u8]) -> Option<ReadBack> {
        let (vars, rest) = read_vars(format, out)?;
        // Then PATH, if anything is prepended.
        let dirs = if rest.is_empty() {
            Vec::new()
        } else {
            read_path(format, rest.strip_suffix(b"\n")?)?
        };
        Some((vars, dirs))
    }

    /// The variables `out` sets, in order, up to the line that sets PATH, and what follows.
    fn read_vars(format: EmitFormat, out: &[u8]) -> Option<(Vars, &[u8])> {
        let mut vars = Vec::new();
        let mut rest = out;
        loop {
            let (prefix, end): (&[u8], u8) = match format {
                EmitFormat::Sh => (b"export ", b'='),
                EmitFormat::Fish => (b"set -gx ", b' '),
                EmitFormat::Pwsh => (b"$env:", b' '),
                EmitFormat::Cmd => (b"set \"", b'='),
                EmitFormat::Dotenv => (b"", b'='),
                EmitFormat::Github | EmitFormat::Jenkins => return None,
            };
            if format == EmitFormat::Dotenv && rest.starts_with(b"#") {
                break;
            }
            let Some(r) = rest.strip_prefix(prefix) else {
                break;
            };
            let (name, skip) = var_name(r, end)?;
            if name == "PATH" {
                break;
            }
            let (value, after) = read_value(format, r.get(skip..)?)?;
            vars.push((name, value));
            rest = after.strip_prefix(b"\n")?;
        }
        Some((vars, rest))
    }

    /// The name at the start of `r`, up to `end`, and how far past `end` its value starts.
    fn var_name(r: &[u8], end: u8) -> Option<(String, usize)> {
        let n = r.iter().position(|&b| b == end)?;
        let name = std::str::from_utf8(r.get(..n)?).ok()?;
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            .then(|| (name.to_string(), n + 1))
    }

    /// The value at the start of `r`, written as `format` writes it, and what follows it.
    fn read_value(format: EmitFormat, r: &[u8]) -> Option<(Vec<u8>, &[u8])> {
        let read = match format {
            EmitFormat::Sh => quote::read::sh_word(r)?,
            EmitFormat::Fish => quote::read::fish_word(r)?,
            EmitFormat::Pwsh => {
                let text = std::str::from_utf8(r.strip_prefix(b"= ")?).ok()?;
                let (v, after) = quote::read::pwsh_expr(text)?;
                (v.into_bytes(), after.as_bytes())
            }
            EmitFormat::Cmd => {
                let line_end = r.iter().position(|&b| b == b'\n')?;
                let inner = r.get(..line_end)?.strip_suffix(b"\"")?;
                let text = std::str::from_utf8(inner).ok()?;
                if text.contains('"') {
                    return None;
                }
                (text.replace("%%", "%").into_bytes(), r.get(line_end..)?)
            }
            EmitFormat::Dotenv => {
                let line_end = r.iter().position(|&b| b == b'\n')?;
                let inner = r.get(..line_end)?.strip_prefix(b"'")?.strip_suffix(b"'")?;
                if inner.contains(&b'\'') {
                    return None;
                }
                (inner.to_vec(), r.get(line_end..)?)
            }
            EmitFormat::Github | EmitFormat::Jenkins => return None,
        };
        Some(read)
    }

    /// The directories the PATH line `line` puts in front of PATH.
    fn read_path(format: EmitFormat, line: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut dirs = Vec::new();
        match format {
            EmitFormat::Sh => {
                let mut r = line
                    .strip_prefix(b"export PATH=")?
                    .strip_suffix(b"\"$PATH\"")?;
                while !r.is_empty() {
                    let (d, after) = quote::read::sh_word(r)?;
                    dirs.push(d);
                    r = after.strip_prefix(b":")?;
                }
            }
            EmitFormat::Fish => {
                let mut r = line
                    .strip_prefix(b"set -gx PATH")?
                    .strip_suffix(b" $PATH")?;
                while !r.is_empty() {
                    let (d, after) = quote::read::fish_word(r.strip_prefix(b" ")?)?;
                    dirs.push(d);
                    r = after;
                }
            }
            EmitFormat::Pwsh => {
                let mut r = std::str::from_utf8(line)
                    .ok()?
                    .strip_prefix("$env:PATH = ")?
                    .strip_suffix("$env:PATH")?;
                while !r.is_empty() {
                    let (d, after) = quote::read::pwsh_expr(r)?;
                    dirs.push(d.into_bytes());
                    r = after.strip_prefix(" + [System.IO.Path]::PathSeparator + ")?;
                }
            }
            EmitFormat::Cmd => {
                let r = std::str::from_utf8(line)
                    .ok()?
                    .strip_prefix("set \"PATH=")?
                    .strip_suffix("%PATH%\"")?;
                for d in r.strip_suffix(';')?.split(';') {
                    dirs.push(d.replace("%%", "%").into_bytes());
                }
            }
            // A comment: nothing is set.
            EmitFormat::Dotenv => {
                line.strip_prefix(b"# prepend to PATH:")?;
            }
            EmitFormat::Github | EmitFormat::Jenkins => return None,
        }
        Some(dirs)
    }

    proptest! {
        #![proptest_config(crate::testing::budget(256))]

        /// Every shell format reads back as exactly the variables and PATH directories given,
        /// nothing more; or the value is refused with the documented error. No line of the
        /// output could be read as a workflow command by a runner showing it.
        #[test]
        fn shell_formats_read_back_exactly_or_refuse(
            values in prop::collection::vec(hostile::bytes(), 1..4),
            format in prop::sample::select(&[
                EmitFormat::Sh, EmitFormat::Fish, EmitFormat::Pwsh, EmitFormat::Cmd,
                EmitFormat::Dotenv,
            ][..]),
        ) {
            let inj = injection(&values);
            match shell(format, &inj) {
                Ok(out) => {
                    let text = String::from_utf8_lossy(&out);
                    for l in hostile::runner_lines(&text) {
                        prop_assert!(!hostile::is_command(l), "{l:?} in {text:?}");
                    }
                    let (vars, dirs) = read_back(format, &out)
                        .ok_or_else(|| TestCaseError::fail(format!("unreadable: {text:?}")))?;
                    let expected: Vec<(String, Vec<u8>)> = inj
                        .env
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.as_encoded_bytes().to_vec()))
                        .collect();
                    prop_assert_eq!(vars, expected);
                    // cmd's PATH is `;`-separated and dotenv's only a comment: values holding
                    // `;` or `'` do not split back there.
                    if format != EmitFormat::Dotenv && format != EmitFormat::Cmd {
                        let want: Vec<Vec<u8>> = inj
                            .path_prepend
                            .iter()
                            .map(|p| p.as_os_str().as_encoded_bytes().to_vec())
                            .collect();
                        prop_assert_eq!(dirs, want);
                    }
                }
                Err(EmitError::Unrepresentable { .. }) => {
                    let cannot = |v: &[u8]| -> bool {
                        let text = std::str::from_utf8(v);
                        match format {
                            EmitFormat::Sh | EmitFormat::Fish => v.contains(&0),
                            EmitFormat::Pwsh => text.is_err() || v.contains(&0),
                            EmitFormat::Cmd => text.map_or(true, |t| {
                                t.contains(['"', '\n', '\r', '\0', '!']) || t.contains("##[")
                            }),
                            _ => text.map_or(true, |t| {
                                t.contains(['\'', '\n', '\r', '\0']) || t.contains("##[")
                            }),
                        }
                    };
                    prop_assert!(values.iter().any(|v| cannot(v)), "{values:?}");
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        /// The Jenkins document parses back to the same variables, PATH and message, and no line
        /// of it could be read as a workflow command.
        #[test]
        fn the_jenkins_document_reads_back(
            values in prop::collection::vec(hostile::text(), 1..4),
            message in hostile::text(),
        ) {
            let values: Vec<Vec<u8>> = values.into_iter().map(String::into_bytes).collect();
            let inj = injection(&values);
            let mut report = crate::report::sample("x");
            report.verdict.message = message.clone();
            let out = jenkins(&inj, &report).unwrap();
            let text = String::from_utf8(out).unwrap();
            for l in hostile::runner_lines(&text) {
                prop_assert!(!hostile::is_command(l), "{l:?} in {text:?}");
            }
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let env = doc["env"].as_object().unwrap();
            prop_assert_eq!(env.len(), inj.env.len());
            for (name, value) in &inj.env {
                prop_assert_eq!(env[*name].as_str(), value.to_str());
            }
            let path: Vec<&str> = doc["pathPrepend"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            let want: Vec<&str> = inj.path_prepend.iter().map(|p| p.to_str().unwrap()).collect();
            prop_assert_eq!(path, want);
            prop_assert_eq!(doc["message"].as_str(), Some(message.as_str()));
        }
    }
}
