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
        Ok(report) => {
            let format = report.format;
            let rendered = report.report.render(format);
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(rendered.as_bytes())
                .and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                eprintln!("go-disk-guard: error: writing the report: {e}");
                return ExitCode::from(go_disk_guard::ExitCode::Runtime.code());
            }
            let code = report.report.exit_code();
            if code == go_disk_guard::ExitCode::HardLimit {
                eprintln!("go-disk-guard: error: {}", report.report.verdict.message);
            }
            ExitCode::from(code.code())
        }
        Err(err) => {
            eprintln!("go-disk-guard: error: {err:#}");
            ExitCode::from(exit_code_of(&err).code())
        }
    }
}
