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

use super::steps::{
    go_findings, json_ready, locate_cache, notice, remeasure, unmet_goal, volume_report,
};
use super::{Hand, Invocation};

/// Runs `prune` towards `goals`.
pub fn run(invocation: Invocation, goals: &PruneGoals) -> anyhow::Result<super::Outcome> {
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
