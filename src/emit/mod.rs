//! Tell the job: hand the resolved Go directories to what runs next, in the form it reads.
//!
//! * `github`: appends to the files GitHub Actions names in `GITHUB_ENV`, `GITHUB_PATH`,
//!   `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`, and prints findings as workflow commands;
//! * `jenkins`: one JSON document for the shared-library step to apply with `withEnv`;
//! * `sh`, `fish`, `pwsh`, `cmd`, `dotenv`: lines to source, quoted for that shell.
//!
//! Every value is quoted or delimited so that it reads back as exactly itself and cannot set
//! another variable; a value a format cannot carry safely is an error.

pub mod github;
mod quote;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use serde::Serialize;

use crate::goenv::{GO_DIR_VARS, GoEnv};
use crate::report::Report;

/// The variables handed on, in this order.
pub const INJECTED_VARS: &[&str] = GO_DIR_VARS.split_at(GO_DIR_VARS.len() - 1).0;

// GOENV names a file and is never handed on: it must stay the last of Go's directory variables.
const _: () = assert!(matches!(
    GO_DIR_VARS[GO_DIR_VARS.len() - 1].as_bytes(),
    b"GOENV"
));

/// Where the emitted environment goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmitFormat {
    /// GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and workflow commands.
    Github,
    /// A JSON document for the Jenkins step.
    Jenkins,
    /// `export NAME='value'` lines for sh, bash, dash, zsh.
    Sh,
    /// `set -gx NAME 'value'` lines for fish.
    Fish,
    /// `$env:NAME = 'value'` lines for PowerShell.
    Pwsh,
    /// `set "NAME=value"` lines for a cmd.exe batch file.
    Cmd,
    /// `NAME='value'` lines for a dotenv file.
    Dotenv,
}

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
            EmitFormat::Github | EmitFormat::Jenkins => {
                unreachable!("github and jenkins are not shell formats")
            }
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
        EmitFormat::Github | EmitFormat::Jenkins => unreachable!(),
    };
    out.extend(line);
    out.push(b'\n');
    Ok(out)
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
    pub message: String,
}

/// Renders the Jenkins document for `injection` and `report`.
pub fn jenkins(injection: &Injection, report: &Report) -> Result<Vec<u8>, EmitError> {
    let text = |s: &OsStr| {
        s.to_str()
            .map(str::to_string)
            .ok_or_else(|| EmitError::Unrepresentable {
                format: "jenkins",
                why: format!("{} is not valid UTF-8", s.to_string_lossy()),
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
        message: report.verdict.message.clone(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("the document serialises");
    out.push(b'\n');
    Ok(out)
}

/// The headline figures of a report.
pub struct Figures {
    /// The least available space on any watched volume, after pruning.
    pub available: Option<u64>,
    pub pruned_bytes: u64,
    pub pruned_files: u64,
}

/// The headline figures of `report`.
pub fn figures(report: &Report) -> Figures {
    Figures {
        available: report.volumes.iter().map(|v| v.available_bytes_after).min(),
        pruned_bytes: report.prunes.iter().map(|p| p.removed_bytes).sum(),
        pruned_files: report.prunes.iter().map(|p| p.removed_files).sum(),
    }
}

/// What emitting leaves to print.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Bytes for stdout: workflow commands, and a shell or Jenkins payload without --emit-file.
    pub stdout: Vec<u8>,
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
        let commands = github::write(&github::Files::from_env(), &injection, report)?;
        delivered.stdout.extend(commands.into_bytes());
    }
    if let Some(&format) = streams.first() {
        let payload = match format {
            EmitFormat::Jenkins => jenkins(&injection, report)?,
            other => shell(other, &injection)?,
        };
        match emit_file {
            Some(path) => std::fs::write(path, &payload).map_err(|e| {
                EmitError::Target(format!("writing --emit-file {}: {e}", path.display()))
            })?,
            None => {
                delivered.stdout.extend(payload);
                delivered.stdout_is_payload = true;
            }
        }
    }
    Ok(delivered)
}
