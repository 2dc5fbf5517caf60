//! `prune`: explicit maintenance of the build cache and of work directories of killed builds.

use std::time::Duration;

use anyhow::Context;

use crate::disk;
use crate::error::Error;
use crate::goenv;
use crate::policy;
use crate::prune::{self, PruneOutcome};
use crate::report::Report;
use crate::settings::Settings;
use crate::units::Size;

#[cfg(feature = "remote")]
use super::Document;
use super::steps::{
    go_findings, json_ready, locate_cache, notice, remeasure, unmet_goal, volume_report,
};
use super::{Hand, Invocation, Outcome};
#[cfg(feature = "remote")]
use crate::settings::Format;

/// Runs `prune` towards `goals`: on the build cache and work directories, or on a cache
/// program's remote tier (`--remote`).
pub fn run(invocation: Invocation, goals: &PruneGoals) -> anyhow::Result<Outcome> {
    if let Some(url) = &goals.remote {
        return remote(invocation, url, goals);
    }
    invocation.run(Hand::Nothing, |settings| report(settings, goals))
}

/// The goals of an explicit `prune`.
#[derive(Clone, Debug, Default)]
pub struct PruneGoals {
    pub max_size: Option<Size>,
    pub older_than: Option<Duration>,
    pub free_at_least: Option<Size>,
    /// Remove work directories of killed builds older than this.
    pub stale_work: Option<Duration>,
    /// Prune the cache program's remote tier at this URL instead (`s3://BUCKET[/PREFIX]`),
    /// towards `older_than` and `max_size`.
    pub remote: Option<String>,
}

/// `prune`: explicit maintenance of the build cache, towards the goals given.
pub fn report(settings: &Settings, goals: &PruneGoals) -> anyhow::Result<Report> {
    let cache_goal =
        goals.max_size.is_some() || goals.older_than.is_some() || goals.free_at_least.is_some();
    if !cache_goal && goals.stale_work.is_none() {
        return Err(Error::Usage(
            "prune needs a goal: --max-size SIZE, --older-than DURATION, --free-at-least SIZE \
             or --stale-work [AGE]"
                .into(),
        )
        .into());
    }
    let go = goenv::resolve(&settings.go);
    let mut findings = go_findings(&go);
    let gocache = go.get("GOCACHE").unwrap_or_default().to_os_string();
    let mut prunes = Vec::new();
    let mut volumes = Vec::new();
    let stale_work = goals
        .stale_work
        .map(|age| prune::work::clean(&prune::work::temp_dirs(&go), age, settings.dry_run));
    let located = if cache_goal { locate_cache(&go)? } else { None };
    match located {
        None if !cache_goal => {}
        None => findings.push(notice(format!(
            "the build cache {} does not exist yet; nothing to prune",
            crate::escape::os(&gocache)
        ))),
        Some(cache) => {
            let probe = disk::probe(cache.root())
                .with_context(|| format!("measuring the volume of {}", cache.root().display()))?;
            let total = probe.space.total;
            let request = prune::PruneRequest {
                keep_recent: settings.keep_recent,
                older_than: goals.older_than,
                max_size: goals.max_size.map(|s| s.resolve(total)),
                free_at_least: goals.free_at_least.map(|s| s.resolve(total)),
                dry_run: settings.dry_run,
                lock_timeout: settings.lock_timeout,
                progress: true,
            };
            let outcome = prune::prune(&cache, &request)
                .with_context(|| format!("pruning {}", cache.root().display()))?;
            findings.extend(unmet_goal(&outcome, settings));
            let mut volume = volume_report(&probe, vec![("GOCACHE".into(), probe.clone())]);
            prunes.push(outcome);
            remeasure(
                std::slice::from_mut(&mut volume),
                &[("GOCACHE".into(), probe)],
                &prunes,
                settings,
            );
            volumes.push(volume);
        }
    }
    let tallies: Vec<_> = prunes.iter().map(PruneOutcome::tally).collect();
    let verdict = policy::judge(&volumes, &tallies, settings.dry_run);
    json_ready(
        Report {
            prunes,
            stale_work,
            dry_run: settings.dry_run,
            ..Report::new("prune", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}

/// `prune --remote URL`: the cache program's remote tier, by age and size. `--dry-run` comes
/// from every source of settings; `--keep-recent` only from the flag, as the configuration's
/// keep-recent is about the local cache (its default here is
/// [`policy::remote::PRUNE_KEEP_RECENT`]).
#[cfg(feature = "remote")]
fn remote(invocation: Invocation, url: &str, goals: &PruneGoals) -> anyhow::Result<Outcome> {
    use crate::cacheprog::remote::prune::{self as remote_prune, RemotePruneRequest};
    use crate::exit_codes::ExitCode;
    let older_than = goals.older_than.ok_or_else(|| {
        Error::Usage("prune --remote needs --older-than DURATION (e.g. 14d)".into())
    })?;
    let max_size = match goals.max_size {
        None => None,
        Some(Size::Bytes(b)) => Some(b),
        Some(Size::Percent(_)) => {
            return Err(Error::Usage(
                "prune --remote --max-size: a size such as 200GB, not a percentage".into(),
            )
            .into());
        }
    };
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let (_, settings) = invocation.load(&cwd)?;
    let request = RemotePruneRequest {
        goals: policy::remote::RemotePruneGoals {
            older_than,
            max_size,
            keep_recent: invocation
                .flags
                .keep_recent
                .unwrap_or(policy::remote::PRUNE_KEEP_RECENT),
        },
        dry_run: settings.dry_run,
    };
    let outcome = remote_prune::prune(url, &request)?;
    let json = settings.format == Format::Json;
    let failed = outcome.failed > 0;
    Ok(Outcome::Document(Document {
        text: if json {
            serde_json::to_string_pretty(&outcome)? + "\n"
        } else {
            crate::report::render_remote_prune(&outcome)
        },
        written_to: None,
        summary: String::new(),
        json,
        log: String::new(),
        error: failed.then(|| format!("{} objects could not be removed", outcome.failed)),
        exit: if failed {
            ExitCode::Runtime
        } else {
            ExitCode::Ok
        },
    }))
}

#[cfg(not(feature = "remote"))]
fn remote(_: Invocation, _: &str, _: &PruneGoals) -> anyhow::Result<Outcome> {
    Err(Error::Usage(
        "prune --remote: this go-disk-guard was built without the `remote` feature".into(),
    )
    .into())
}
