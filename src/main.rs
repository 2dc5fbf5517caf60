//! The `go-disk-guard` command: parse the arguments, run a command, print its report, and
//! map the outcome to a documented exit code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use go_disk_guard::error::exit_code_of;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(cli::Outcome::Scanned(scanned)) => {
            if let Some(path) = &scanned.written_to {
                eprintln!(
                    "go-disk-guard: {}; written to {}",
                    scanned.summary,
                    path.display()
                );
            } else {
                let mut stdout = std::io::stdout().lock();
                if let Err(e) = stdout
                    .write_all(scanned.document.as_bytes())
                    .and_then(|()| stdout.flush())
                    && e.kind() != std::io::ErrorKind::BrokenPipe
                {
                    eprintln!("go-disk-guard: error: writing to stdout: {e}");
                    return ExitCode::from(go_disk_guard::ExitCode::Runtime.code());
                }
            }
            if let Some(error) = &scanned.error {
                eprintln!("go-disk-guard: error: {error}");
            }
            ExitCode::from(scanned.exit.code())
        }
        Ok(cli::Outcome::Served) => ExitCode::SUCCESS,
        Ok(cli::Outcome::Report(run)) => {
            let rendered = run.report.render(run.format);
            let mut stdout = std::io::stdout().lock();
            let mut written = stdout.write_all(&run.emitted.stdout);
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
                eprintln!("go-disk-guard: error: writing to stdout: {e}");
                return ExitCode::from(go_disk_guard::ExitCode::Runtime.code());
            }
            if run.report.exit_code() == go_disk_guard::ExitCode::HardLimit {
                eprintln!("go-disk-guard: error: {}", run.report.verdict.message);
            }
            ExitCode::from(run.report.process_exit_code())
        }
        Err(err) => {
            eprintln!("go-disk-guard: error: {err:#}");
            ExitCode::from(exit_code_of(&err).code())
        }
    }
}
