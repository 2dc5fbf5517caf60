//! The `go-disk-guard` command: parse the arguments, run a command, print its report, and
//! map the outcome to a documented exit code.
//!
//! Everything printed here may hold text a repository, a machine or a server chose: values are
//! escaped where they are formatted ([`escape::line`] and friends), and every block goes
//! through [`escape::guard`] (or [`escape::guard_json`] for JSON) on its way out, so that no
//! line of it can be read by a GitHub Actions runner as a workflow command.

mod cli;

use std::borrow::Cow;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use go_disk_guard::commands::{Document, Outcome, Rendered};
use go_disk_guard::settings::Format;
use go_disk_guard::{escape, exit_codes};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let code = match cli::run(cli) {
        Ok(outcome) => match &outcome {
            Outcome::Document(document) => print_document(document),
            Outcome::Report(rendered) => print_report(rendered),
            Outcome::Served => Ok(()),
        }
        .map_or(exit_codes::ExitCode::Runtime.code(), |()| {
            outcome.process_exit_code()
        }),
        Err(err) => {
            print_error(&format!("{err:#}"));
            exit_codes::of_error(&err).code()
        }
    };
    ExitCode::from(code)
}

/// Prints a document (`scan`, `gh-cache`): to stdout, or only a summary when it was written
/// to a file; then what it logged and its error, on stderr. `Err` when stdout failed.
fn print_document(document: &Document) -> Result<(), ()> {
    if let Some(path) = &document.written_to {
        eprint!(
            "{}",
            escape::guard(&format!(
                "go-disk-guard: {}; written to {}\n",
                escape::line(&document.summary),
                escape::path(path)
            ))
        );
    } else {
        let text = if document.json {
            escape::guard_json(&document.text)
        } else {
            escape::guard(&document.text)
        };
        write_stdout(&[text.as_bytes()])?;
    }
    if !document.log.is_empty() {
        eprint!("{}", escape::guard(&document.log));
    }
    if let Some(error) = &document.error {
        print_error(error);
    }
    Ok(())
}

/// Prints a report: what emitting left for stdout (workflow commands, a payload), then the
/// report (on stderr when stdout carries a payload); the verdict of a hard-limit breach once
/// more, as an error line. `Err` when stdout failed.
fn print_report(run: &Rendered) -> Result<(), ()> {
    let rendered = run.report.render(run.format);
    let rendered = match run.format {
        Format::Json => escape::guard_json(&rendered),
        _ => escape::guard(&rendered),
    };
    // The workflow commands are ours (their text escaped inside them); a payload is quoted so
    // that none of its lines can be read as one.
    let mut parts = vec![run.emitted.commands.as_bytes(), &run.emitted.payload[..]];
    if run.print_report {
        if run.emitted.stdout_is_payload {
            // stdout carries what the caller evaluates: the report goes to stderr.
            eprint!("{rendered}");
        } else {
            parts.push(rendered.as_bytes());
        }
    }
    write_stdout(&parts)?;
    if run.report.exit_code() == exit_codes::ExitCode::HardLimit {
        print_error(&run.report.verdict.message);
    }
    Ok(())
}

/// Writes `parts` to stdout and flushes it. A closed pipe is no error (`| head`); any other
/// failure is printed, and is `Err`.
fn write_stdout(parts: &[&[u8]]) -> Result<(), ()> {
    let mut stdout = std::io::stdout().lock();
    let written = parts
        .iter()
        .try_for_each(|part| stdout.write_all(part))
        .and_then(|()| stdout.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            print_error(&format!("writing to stdout: {e}"));
            Err(())
        }
        _ => Ok(()),
    }
}

/// Prints `go-disk-guard: error: MESSAGE` on stderr: one line, whatever the message holds.
fn print_error(message: &str) {
    eprintln!(
        "{}",
        escape::guard(&format!("go-disk-guard: error: {}", escape::line(message)))
    );
}

/// A usage error or `--help`/`--version` from the argument parser. It may quote an argument:
/// when that would put a workflow command in the log, the text is printed guarded and plain.
fn usage_error(e: &clap::Error) -> ExitCode {
    let plain = e.render().to_string();
    let Cow::Owned(safe) = escape::guard(&plain) else {
        e.exit()
    };
    if e.use_stderr() {
        eprint!("{safe}");
    } else {
        print!("{safe}");
        let _ = std::io::stdout().flush();
    }
    let code = if e.use_stderr() {
        exit_codes::ExitCode::Usage
    } else {
        exit_codes::ExitCode::Ok
    };
    ExitCode::from(code.code())
}
