//! `run`: the check, then a build under watch.

use crate::disk;
use crate::error::Error;
use crate::policy::{Status, Verdict};
use crate::prune;
use crate::report::Report;
use crate::settings::Settings;

use super::steps::locate_cache;
use super::{Hand, Invocation};

/// Runs `run`: `argv` under guard, watched every `options.interval`.
pub fn run(
    invocation: Invocation,
    argv: &[std::ffi::OsString],
    options: &crate::supervise::WatchOptions,
) -> anyhow::Result<super::Outcome> {
    invocation.run(Hand::Emit, |settings| report(settings, argv, options))
}

/// `run`: the check pass, then `argv` under watch (see [`crate::supervise`]). The command
/// does not start when the check already ends below the hard limit.
pub fn report(
    settings: &Settings,
    argv: &[std::ffi::OsString],
    options: &crate::supervise::WatchOptions,
) -> anyhow::Result<Report> {
    if options.interval.is_zero() {
        return Err(Error::Usage("--interval must be longer than 0s".into()).into());
    }
    let mut report = super::check::report(settings)?;
    report.command = "run";
    if report.verdict.status == Status::HardLimit {
        return Ok(report);
    }
    let watches: Vec<crate::supervise::Watch> = report
        .volumes
        .iter()
        .filter_map(|v| {
            let limits = v.limits?;
            let resolved = disk::probe(&v.paths.first()?.path).ok()?.resolved;
            Some(crate::supervise::Watch {
                mount_point: v.mount.mount_point.clone(),
                resolved,
                limits,
                holds_cache: v.paths.iter().any(|p| p.label == "GOCACHE"),
            })
        })
        .collect();
    let cache = report
        .go
        .get("GOCACHE")
        .and_then(|_| locate_cache(&report.go).ok().flatten());
    let injection = crate::emit::Injection::from_report(&report);
    let mut env: Vec<(String, std::ffi::OsString)> = injection
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if !injection.path_prepend.is_empty() {
        let mut dirs = injection.path_prepend.clone();
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        env.push(("PATH".into(), std::env::join_paths(dirs)?));
    }
    let request = prune::PruneRequest {
        keep_recent: settings.keep_recent,
        lock_timeout: settings.lock_timeout,
        dry_run: settings.dry_run,
        ..prune::PruneRequest::default()
    };
    let run = crate::supervise::supervise(argv, &env, &watches, cache, &request, options)?;
    if let Some(why) = &run.stopped {
        report.verdict = Verdict::new(Status::HardLimit, why.clone());
    } else if run.exit_code != 0 {
        report.verdict.message = format!(
            "{}; the command exited with code {}",
            report.verdict.message, run.exit_code
        );
    }
    report.run = Some(run);
    Ok(report)
}
