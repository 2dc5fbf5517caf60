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

use go_disk_guard::error::exit_code_of;
use go_disk_guard::escape;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cli::run(cli) {
        Ok(cli::Outcome::Scanned(scanned)) => {
            if let Some(path) = &scanned.written_to {
                eprint!(
                    "{}",
                    escape::guard(&format!(
                        "go-disk-guard: {}; written to {}\n",
                        escape::line(&scanned.summary),
                        escape::path(path)
                    ))
                );
            } else {
                let document = if scanned.json {
                    escape::guard_json(&scanned.document)
                } else {
                    escape::guard(&scanned.document)
                };
                let mut stdout = std::io::stdout().lock();
                if let Err(e) = stdout
                    .write_all(document.as_bytes())
                    .and_then(|()| stdout.flush())
                    && e.kind() != std::io::ErrorKind::BrokenPipe
                {
                    print_error(&format!("writing to stdout: {e}"));
                    return ExitCode::from(go_disk_guard::ExitCode::Runtime.code());
                }
            }
            if !scanned.log.is_empty() {
                eprint!("{}", escape::guard(&scanned.log));
            }
            if let Some(error) = &scanned.error {
                print_error(error);
            }
            ExitCode::from(scanned.exit.code())
        }
        Ok(cli::Outcome::Served) => ExitCode::SUCCESS,
        Ok(cli::Outcome::Report(run)) => {
            let rendered = run.report.render(run.format);
            let rendered = match run.format {
                go_disk_guard::settings::Format::Json => escape::guard_json(&rendered),
                _ => escape::guard(&rendered),
            };
            let mut stdout = std::io::stdout().lock();
            // The workflow commands are ours (their text escaped inside them); a payload is
            // quoted so that none of its lines can be read as one.
            let mut written = stdout
                .write_all(run.emitted.commands.as_bytes())
                .and_then(|()| stdout.write_all(&run.emitted.payload));
            if run.print_report {
                if run.emitted.stdout_is_payload {
                    // stdout carries what the caller evaluates: the report goes to stderr.
                    eprint!("{rendered}");
                } else {
                    written = written.and_then(|()| stdout.write_all(rendered.as_bytes()));
                }
            }
            if let Err(e) = written.and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                print_error(&format!("writing to stdout: {e}"));
                return ExitCode::from(go_disk_guard::ExitCode::Runtime.code());
            }
            if run.report.exit_code() == go_disk_guard::ExitCode::HardLimit {
                print_error(&run.report.verdict.message);
            }
            ExitCode::from(run.report.process_exit_code())
        }
        Err(err) => {
            print_error(&format!("{err:#}"));
            ExitCode::from(exit_code_of(&err).code())
        }
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
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}
