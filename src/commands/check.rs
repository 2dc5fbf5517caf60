//! `check`, the CI step: measure, prune below soft, measure again, fail below hard.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::buildcache::BuildCache;
use crate::disk::{self, VolumeId};
use crate::goenv::GoEnv;
use crate::policy::{self, Finding, PlannedPrune, VolumeLevel, VolumeReport, VolumeState};
use crate::prune::{self, PruneOutcome};
use crate::report::Report;
use crate::settings::Settings;
use crate::units::format_bytes;

use super::steps::{
    cacheprog_command, cacheprog_finding, check_cacheprog_remote, go_findings, json_ready,
    locate_cache, measure, notice, remeasure, resolve_and_relocate, unmet_goal, warning,
    with_limits,
};
use super::{Hand, Invocation};

/// Runs `check`. With `fail_on_hard` false, a volume below hard is reported but the check
/// exits 0 (`--fail-on-hard false`).
pub fn run(invocation: Invocation, fail_on_hard: bool) -> anyhow::Result<super::Outcome> {
    invocation.run(Hand::Emit, |settings| {
        let mut report = report(settings)?;
        if !fail_on_hard {
            report.verdict.tolerate_hard_limit();
        }
        Ok(report)
    })
}

/// `check`: measure; prune the build cache on any volume below soft, up to the target (and
/// to the cache budget, if set); measure again; fail when a volume stays below hard.
pub fn report(settings: &Settings) -> anyhow::Result<Report> {
    check_cacheprog_remote(settings)?;
    let (go, relocation) = resolve_and_relocate(settings)?;
    let mut findings = go_findings(&go);
    findings.extend(cacheprog_finding(settings, &go));
    let (volumes, probes) = measure(&go, settings, &mut findings);
    let mut volumes: Vec<VolumeReport> = volumes
        .into_iter()
        .map(|v| with_limits(v, settings))
        .collect();

    // Decide.
    let gocache = go.get("GOCACHE").unwrap_or_default().to_os_string();
    let cache_volume = probes
        .iter()
        .find(|(label, p)| label == "GOCACHE" && p.path == Path::new(&gocache))
        .map(|(_, p)| p.volume.clone());
    let planned = cache_volume
        .as_ref()
        .and_then(|id| policy::plan_cache_prune(settings, &states(&volumes), id));

    // Act.
    let mut prunes = Vec::new();
    if let Some(planned) = &planned {
        match locate_cache(&go) {
            Ok(Some(cache)) => {
                let outcome = run_prune(&cache, settings, planned)?;
                findings.extend(unmet_goal(&outcome, settings));
                prunes.push(outcome);
            }
            Ok(None) => findings.push(notice(format!(
                "the build cache {} does not exist yet; nothing to prune",
                crate::escape::os(&gocache)
            ))),
            Err(e) => findings.push(warning(e.to_string())),
        }
    }
    let stale_work = clean_stale_work(&go, &volumes, settings);
    findings.extend(nothing_to_prune(&volumes, cache_volume.as_ref()));

    // Measure again.
    remeasure(&mut volumes, &probes, &prunes, settings);
    for v in volumes.iter_mut() {
        v.level = v
            .limits
            .map(|limits| VolumeLevel::of(v.available_bytes_after, &limits));
    }
    let tallies: Vec<_> = prunes.iter().map(PruneOutcome::tally).collect();
    let verdict = policy::judge(&volumes, &tallies, settings.dry_run);
    json_ready(
        Report {
            prunes,
            relocation,
            stale_work,
            dry_run: settings.dry_run,
            cacheprog: cacheprog_command(settings, &go)?,
            ..Report::new("check", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}

/// The volumes as the planner sees them: their size and what they had available.
fn states(volumes: &[VolumeReport]) -> Vec<VolumeState> {
    volumes
        .iter()
        .map(|v| VolumeState {
            id: v.id.clone(),
            space: disk::Space {
                total: v.total_bytes,
                available: v.available_bytes_before,
                ..disk::Space::default()
            },
        })
        .collect()
}

/// Removes the work directories of killed builds in the temp directories whose volumes
/// policy says to clean (those below soft); `None` when there are none.
fn clean_stale_work(
    go: &GoEnv,
    volumes: &[VolumeReport],
    settings: &Settings,
) -> Option<prune::work::StaleWork> {
    let low_temp_dirs: Vec<PathBuf> = prune::work::temp_dirs(go)
        .into_iter()
        .filter(|dir| {
            disk::probe(dir).is_ok_and(|p| policy::cleans_work_dirs_on(&p.volume, volumes))
        })
        .collect();
    (!low_temp_dirs.is_empty())
        .then(|| prune::work::clean(&low_temp_dirs, prune::work::default_age(), settings.dry_run))
}

/// A warning for each volume below soft that holds no build cache: pruning cannot help it.
fn nothing_to_prune(volumes: &[VolumeReport], cache_volume: Option<&VolumeId>) -> Vec<Finding> {
    volumes
        .iter()
        .filter(|v| v.below_soft() && cache_volume != Some(&v.id))
        .map(|v| {
            warning(format!(
                "{} is below its soft limit ({} available) but holds no Go build cache to prune",
                v.mount.mount_point.display(),
                format_bytes(v.available_bytes_before)
            ))
        })
        .collect()
}

/// Prunes `cache` as planned.
fn run_prune(
    cache: &BuildCache,
    settings: &Settings,
    planned: &PlannedPrune,
) -> anyhow::Result<PruneOutcome> {
    let request = prune::PruneRequest {
        keep_recent: settings.keep_recent,
        older_than: None,
        max_size: planned.max_size,
        free_at_least: planned.free_at_least,
        dry_run: settings.dry_run,
        lock_timeout: settings.lock_timeout,
        progress: true,
    };
    let mut outcome = prune::prune(cache, &request)
        .with_context(|| format!("pruning {}", cache.root().display()))?;
    outcome.notes.splice(0..0, planned.reasons.iter().cloned());
    Ok(outcome)
}
