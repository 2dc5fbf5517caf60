//! The commands, each one pass of measure → decide → act → tell, returning a [`Report`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::buildcache::{self, BuildCache};
use crate::disk::{self, Probe, VolumeId};
use crate::error::Error;
use crate::goenv::{self, GoEnv};
use crate::policy::{self, Level, PlannedPrune, VolumeState};
use crate::prune::{self, Outcome};
use crate::report::{
    CacheReport, Finding, FindingLevel, Report, Status, Verdict, VolumeReport, WatchedPath,
};
use crate::settings::{Format, Settings};
use crate::units::{Size, format_bytes};

/// The goals of an explicit `prune`.
#[derive(Clone, Debug, Default)]
pub struct PruneGoals {
    pub max_size: Option<Size>,
    pub older_than: Option<Duration>,
    pub free_at_least: Option<Size>,
    /// Remove work directories of killed builds older than this.
    pub stale_work: Option<Duration>,
}

/// `status`: what is where, how full each volume is, and how large the build cache is, with
/// a cache program's budget, leases and counts. Reads only, but for restarting those counts
/// (they are counts since the last report).
pub fn status(settings: &Settings) -> anyhow::Result<Report> {
    let go = goenv::resolve(&settings.go);
    let mut findings = go_findings(&go);
    let (volumes, _) = measure(&go, settings, &mut findings);
    let volumes: Vec<VolumeReport> = volumes
        .into_iter()
        .map(|v| with_limits(v, settings))
        .collect();
    let cache = match go.get("GOCACHE").map(|_| locate_cache(&go)) {
        Some(Ok(Some(cache))) => {
            let scan = cache.scan();
            findings.extend(scan.skipped.iter().map(|s| notice(s.clone())));
            Some(CacheReport {
                path: cache.root().to_path_buf(),
                stats: buildcache::CacheStats {
                    last_go_trim: cache.last_go_trim(),
                    ..scan.stats()
                },
                cacheprog: crate::cacheprog::report_state(cache.handle()),
            })
        }
        Some(Ok(None)) => {
            findings.push(notice(format!(
                "the build cache {} does not exist yet",
                crate::escape::os(go.get("GOCACHE").unwrap_or_default())
            )));
            None
        }
        Some(Err(e)) => {
            findings.push(warning(e.to_string()));
            None
        }
        None => None,
    };
    let verdict = verdict(&volumes, &[], false);
    json_ready(
        Report {
            cache,
            ..Report::new("status", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}

/// `--save-settings`: writes `layer`'s carried settings to `file`, whole or not at all, and
/// returns the path to hand on as GO_DISK_GUARD_CONFIG. Relative paths (the file's and the
/// watched ones) are made absolute against `cwd`, the directory the
/// check ran in, so that a later command elsewhere means the same directories. The file is
/// replaced as a name (a link planted there is replaced, never written through).
pub fn save_settings(
    layer: &crate::settings::Layer,
    file: &Path,
    cwd: &Path,
) -> anyhow::Result<PathBuf> {
    let absolute = |p: &PathBuf| cwd.join(p);
    let list = |l: &Option<Vec<PathBuf>>| l.as_ref().map(|l| l.iter().map(absolute).collect());
    let layer = crate::settings::Layer {
        paths: list(&layer.paths),
        relocate_candidates: list(&layer.relocate_candidates),
        system_volume: layer.system_volume.as_ref().map(absolute),
        ..layer.clone()
    };
    let file = &cwd.join(file);
    let text = layer.to_yaml()?;
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(Error::Usage(format!(
            "--save-settings: {} names no file",
            crate::escape::path(file)
        ))
        .into());
    };
    let dir = crate::safefs::Dir::open(dir)
        .with_context(|| format!("--save-settings: {}", crate::escape::path(dir)))?;
    crate::safefs::replace_file(&dir, name, text.as_bytes())
        .with_context(|| format!("--save-settings: {}", crate::escape::path(file)))?;
    Ok(file.to_path_buf())
}

/// `env`: resolve Go's directories and measure their volumes, to hand them on. No pruning,
/// no cache scan.
pub fn env(settings: &Settings) -> anyhow::Result<Report> {
    let (go, relocation) = resolve_and_relocate(settings)?;
    let mut findings = go_findings(&go);
    findings.extend(cacheprog_finding(settings, &go));
    let (volumes, _) = measure(&go, settings, &mut findings);
    let verdict = verdict(&volumes, &[], false);
    json_ready(
        Report {
            relocation,
            cacheprog: cacheprog_command(settings, &go)?,
            ..Report::new("env", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}

/// `doctor`: settings that send builds elsewhere than measured, or make Go's directories
/// slow, fragile or unusable; unhealthy (exit 4) when an error-level finding exists.
pub fn doctor(settings: &Settings) -> anyhow::Result<Report> {
    let go = goenv::resolve(&settings.go);
    let mut findings = Vec::new();
    if let goenv::Resolver::Computed { reason } = &go.resolver {
        findings.push(notice(format!(
            "Go directories were computed by Go's rules, not asked of go env: {reason}"
        )));
    }
    let (volumes, _) = measure(&go, settings, &mut findings);
    findings.extend(crate::doctor::diagnose(
        &go,
        &crate::doctor::Context {
            tmp_min: settings.tmp_min,
            ..crate::doctor::Context::current()
        },
    ));
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (errors, warnings) = (count(FindingLevel::Error), count(FindingLevel::Warning));
    let verdict = if errors > 0 {
        Verdict::new(
            Status::Unhealthy,
            format!("{errors} error(s) and {warnings} warning(s) found"),
        )
    } else {
        Verdict::new(Status::Ok, format!("no errors; {warnings} warning(s)"))
    };
    json_ready(
        Report::new("doctor", settings, go, volumes, findings, verdict),
        settings,
    )
}

/// `check`: measure; prune the build cache on any volume below soft, up to the target (and
/// to the cache budget, if set); measure again; fail when a volume stays below hard.
pub fn check(settings: &Settings) -> anyhow::Result<Report> {
    let (go, relocation) = resolve_and_relocate(settings)?;
    let mut findings = go_findings(&go);
    findings.extend(cacheprog_finding(settings, &go));
    let (volumes, probes) = measure(&go, settings, &mut findings);
    let mut volumes: Vec<VolumeReport> = volumes
        .into_iter()
        .map(|v| with_limits(v, settings))
        .collect();
    let states: Vec<VolumeState> = volumes
        .iter()
        .map(|v| VolumeState {
            id: v.id.clone(),
            space: disk::Space {
                total: v.total_bytes,
                available: v.available_bytes_before,
                ..disk::Space::default()
            },
        })
        .collect();

    // Decide.
    let gocache = go.get("GOCACHE").unwrap_or_default().to_os_string();
    let cache_volume = probes
        .iter()
        .find(|(label, p)| label == "GOCACHE" && p.path == Path::new(&gocache))
        .map(|(_, p)| p.volume.clone());
    let planned = cache_volume
        .as_ref()
        .and_then(|id| policy::plan_cache_prune(settings, &states, id));

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
    // Work directories of killed builds, on temp volumes below soft.
    let low_temp_dirs: Vec<PathBuf> = prune::work::temp_dirs(&go)
        .into_iter()
        .filter(|dir| {
            disk::probe(dir).is_ok_and(|p| {
                volumes
                    .iter()
                    .any(|v| v.id == p.volume && v.level.is_some_and(|l| l != Level::Ok))
            })
        })
        .collect();
    let stale_work = (!low_temp_dirs.is_empty())
        .then(|| prune::work::clean(&low_temp_dirs, prune::work::default_age(), settings.dry_run));
    for v in &volumes {
        let below = v.level.is_some_and(|l| l != Level::Ok);
        if below && cache_volume.as_ref() != Some(&v.id) {
            findings.push(warning(format!(
                "{} is below its soft limit ({} available) but holds no Go build cache to prune",
                v.mount.mount_point.display(),
                format_bytes(v.available_bytes_before)
            )));
        }
    }

    // Measure again.
    remeasure(&mut volumes, &probes, &prunes, settings);
    for v in volumes.iter_mut() {
        v.level = v
            .limits
            .map(|limits| Level::of(v.available_bytes_after, &limits));
    }
    let verdict = verdict(&volumes, &prunes, settings.dry_run);
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

/// `run`: the check pass, then `argv` under watch (see [`crate::supervise`]). The command
/// does not start when the check already ends below the hard limit.
pub fn run(
    settings: &Settings,
    argv: &[std::ffi::OsString],
    options: &crate::supervise::Options,
) -> anyhow::Result<Report> {
    if options.interval.is_zero() {
        return Err(Error::Usage("--interval must be longer than 0s".into()).into());
    }
    let mut report = check(settings)?;
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
    let request = prune::Request {
        keep_recent: settings.keep_recent,
        lock_timeout: settings.lock_timeout,
        dry_run: settings.dry_run,
        ..prune::Request::default()
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

/// `prune`: explicit maintenance of the build cache, towards the goals given.
pub fn prune(settings: &Settings, goals: &PruneGoals) -> anyhow::Result<Report> {
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
            let request = prune::Request {
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
    let verdict = verdict(&volumes, &prunes, settings.dry_run);
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

/// The GOCACHEPROG value that keeps GOCACHE within `--cacheprog-max-size`, if asked for:
/// this very binary, by absolute path.
fn cacheprog_command(settings: &Settings, go: &GoEnv) -> anyhow::Result<Option<String>> {
    let Some(max) = settings.cacheprog_max_size else {
        return Ok(None);
    };
    let gocache = go
        .get("GOCACHE")
        .filter(|c| std::path::Path::new(c).is_absolute())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--cacheprog-max-size: GOCACHE must be an absolute path, not {:?}",
                crate::escape::os(go.get("GOCACHE").unwrap_or_default())
            ))
        })?;
    let exe = std::env::current_exe().context("locating the go-disk-guard binary")?;
    Ok(Some(crate::cacheprog::command_line(
        &exe,
        std::path::Path::new(gocache),
        max,
    )?))
}

/// A warning when `--cacheprog-max-size` meets a go command older than 1.24, which ignores
/// GOCACHEPROG (1.21–1.23 read it only with GOEXPERIMENT=cacheprog).
fn cacheprog_finding(settings: &Settings, go: &GoEnv) -> Option<Finding> {
    settings.cacheprog_max_size?;
    let goenv::Resolver::GoEnv { version, .. } = &go.resolver else {
        return None;
    };
    let minor: u32 = version
        .strip_prefix("go1.")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    (minor < 24).then(|| {
        warning(format!(
            "GOCACHEPROG needs Go 1.24 or later; {version} ignores it, so the build cache is not \
             held to --cacheprog-max-size"
        ))
    })
}

/// Resolves Go's directories and, when asked, moves them (see [`crate::relocate`]).
fn resolve_and_relocate(
    settings: &Settings,
) -> anyhow::Result<(GoEnv, Option<crate::relocate::Outcome>)> {
    let mut go = goenv::resolve(&settings.go);
    let Some(how) = &settings.relocate else {
        return Ok((go, None));
    };
    // GITHUB_PATH takes one directory a line: a root whose GOBIN could not be handed on is
    // refused before anything is made under it.
    if let crate::relocate::Relocate::Dir(root) = how
        && settings.emit.contains(&crate::emit::EmitFormat::Github)
        && root
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .any(|b| matches!(b, b'\n' | b'\r'))
    {
        return Err(Error::Usage(format!(
            "--relocate: {} holds a line break, which GITHUB_PATH cannot carry; nothing was moved",
            crate::escape::path(root)
        ))
        .into());
    }
    let options = crate::relocate::Options {
        candidates: settings.relocate_candidates.clone(),
        system_volume: settings.system_volume.clone(),
        tmp_min: settings.tmp_min,
        migrate: settings.migrate,
    };
    let outcome = crate::relocate::relocate(&mut go, how, &options).context("relocating")?;
    Ok((go, Some(outcome)))
}

/// Prunes `cache` as planned.
fn run_prune(
    cache: &BuildCache,
    settings: &Settings,
    planned: &PlannedPrune,
) -> anyhow::Result<Outcome> {
    let request = prune::Request {
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

/// A warning when a prune fell short of its goal, saying what was kept and why.
fn unmet_goal(outcome: &Outcome, settings: &Settings) -> Option<Finding> {
    if outcome.goal_met || !outcome.locked {
        return None;
    }
    Some(warning(format!(
        "pruning {} fell short of its goal: nothing older was left to remove; {} in {} entries \
         used within the last {} (--keep-recent) was kept",
        outcome.cache.display(),
        format_bytes(outcome.kept_recent_bytes),
        outcome.kept_recent_entries,
        crate::units::format_duration(settings.keep_recent)
    )))
}

/// Measures every watched path; groups them by volume, in the order first seen.
fn measure(
    go: &GoEnv,
    settings: &Settings,
    findings: &mut Vec<Finding>,
) -> (Vec<VolumeReport>, Vec<(String, Probe)>) {
    let mut watched = go.watched_dirs();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    watched.extend(
        settings
            .paths
            .iter()
            .map(|p| ("path".to_string(), cwd.join(p))),
    );
    let mut probes = Vec::new();
    for (label, path) in watched {
        match disk::probe(&path) {
            Ok(p) => probes.push((label, p)),
            Err(e) => findings.push(warning(format!(
                "cannot measure {label} {}: {e}",
                path.display()
            ))),
        }
    }
    if let Some(why) = disk::quota_unreadable() {
        findings.push(notice(format!(
            "per-user quotas could not be read ({why}); available space is the volume's"
        )));
    }
    let mut order: Vec<VolumeId> = Vec::new();
    for (_, p) in &probes {
        if !order.contains(&p.volume) {
            order.push(p.volume.clone());
        }
    }
    let volumes = order
        .iter()
        .map(|id| {
            let members: Vec<(String, Probe)> = probes
                .iter()
                .filter(|(_, p)| &p.volume == id)
                .cloned()
                .collect();
            let first = members[0].1.clone();
            volume_report(&first, members)
        })
        .collect();
    (volumes, probes)
}

fn volume_report(first: &Probe, members: Vec<(String, Probe)>) -> VolumeReport {
    VolumeReport {
        id: first.volume.clone(),
        mount: first.mount.clone(),
        total_bytes: first.space.total,
        available_bytes_before: first.space.available,
        available_bytes_after: first.space.available,
        used_percent_after: first.space.used_percent(),
        ram_backed: first.mount.ram_backed(),
        limited_by: first.space.limited_by,
        quota_remaining_bytes: first.space.quota_remaining,
        limits: None,
        level: None,
        paths: members
            .into_iter()
            .map(|(label, p)| WatchedPath {
                label,
                path: p.path,
                exists: p.exists,
                links: p.links,
            })
            .collect(),
    }
}

fn with_limits(mut v: VolumeReport, settings: &Settings) -> VolumeReport {
    let limits = settings.limits_for(v.total_bytes);
    v.level = Some(Level::of(v.available_bytes_after, &limits));
    v.limits = Some(limits);
    v
}

/// Measures the volumes again after pruning; a dry run projects instead, adding what would
/// have been removed to the volume that holds it.
fn remeasure(
    volumes: &mut [VolumeReport],
    probes: &[(String, Probe)],
    prunes: &[Outcome],
    settings: &Settings,
) {
    if prunes.is_empty() {
        return;
    }
    for v in volumes.iter_mut() {
        if settings.dry_run {
            let would_free: u64 = prunes
                .iter()
                .filter(|p| {
                    probes
                        .iter()
                        .any(|(_, pr)| pr.volume == v.id && p.cache.starts_with(&pr.resolved))
                })
                .fold(0u64, |sum, p| sum.saturating_add(p.removed_bytes));
            v.available_bytes_after = v
                .available_bytes_before
                .saturating_add(would_free)
                .min(v.total_bytes);
        } else if let Some((_, probe)) = probes.iter().find(|(_, p)| p.volume == v.id)
            && let Ok(space) = disk::space(&probe.resolved)
        {
            v.available_bytes_after = space.available;
        }
        v.used_percent_after = disk::Space {
            total: v.total_bytes,
            available: v.available_bytes_after,
            ..disk::Space::default()
        }
        .used_percent();
    }
}

/// The verdict: a hard-limit breach names the volume, the figures, the limit and what was
/// pruned.
fn verdict(volumes: &[VolumeReport], prunes: &[Outcome], dry_run: bool) -> Verdict {
    let removed = prunes
        .iter()
        .fold(0u64, |sum, p| sum.saturating_add(p.removed_bytes));
    let removed_files = prunes
        .iter()
        .fold(0u64, |sum, p| sum.saturating_add(p.removed_files));
    let breaches: Vec<String> = volumes
        .iter()
        .filter(|v| v.level == Some(Level::BelowHard))
        .map(|v| {
            let limits = v.limits.expect("a level implies limits");
            let fs = if v.mount.fs_type.is_empty() {
                String::new()
            } else {
                format!(" ({})", v.mount.fs_type)
            };
            let holds_cache = v.paths.iter().any(|p| p.label == "GOCACHE");
            let pruned = match prunes.first().filter(|_| holds_cache) {
                Some(p) if !p.locked => format!(
                    "did not prune {}: another go-disk-guard held its lock",
                    p.cache.display()
                ),
                Some(p) if p.removed_entries > 0 => format!(
                    "{} {} ({} files) from {}",
                    if dry_run { "would prune" } else { "pruned" },
                    format_bytes(p.removed_bytes),
                    p.removed_files,
                    p.cache.display()
                ),
                Some(p) => format!(
                    "nothing could be pruned from {} ({} entries used within keep-recent)",
                    p.cache.display(),
                    p.kept_recent_entries
                ),
                None => "there was no Go build cache on it to prune".into(),
            };
            let (avail, hard) = crate::units::format_bytes_pair(v.available_bytes_after, limits.hard);
            format!(
                "hard limit breached on {}{fs}: {avail} available of {}, below the hard limit of {hard}; {pruned}",
                v.mount.mount_point.display(),
                format_bytes(v.total_bytes),
            )
        })
        .collect();
    if !breaches.is_empty() {
        return Verdict::new(Status::HardLimit, breaches.join("; and "));
    }
    if prunes.iter().any(|p| p.removed_entries > 0) {
        let (status, verb) = if dry_run {
            (Status::WouldPrune, "would prune")
        } else {
            (Status::Pruned, "pruned")
        };
        return Verdict::new(
            status,
            format!(
                "{verb} {} ({removed_files} files); every watched volume is above its hard limit",
                format_bytes(removed)
            ),
        );
    }
    let below_soft = volumes
        .iter()
        .filter(|v| v.level == Some(Level::BelowSoft))
        .count();
    let message = if below_soft > 0 {
        format!("{below_soft} volume(s) below the soft limit, none below the hard limit")
    } else {
        format!("{} volume(s) within limits", volumes.len())
    };
    Verdict::new(Status::Ok, message)
}

/// Findings about the Go environment itself: how it was resolved, and the values the go
/// command refuses, in its own words.
fn go_findings(go: &GoEnv) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let goenv::Resolver::Computed { reason } = &go.resolver {
        findings.push(notice(format!(
            "Go directories were computed by Go's rules, not asked of go env: {reason}"
        )));
    }
    findings.extend(go.notes.iter().map(|n| warning(n.clone())));
    let gocache = go.var("GOCACHE");
    let value = go.get("GOCACHE");
    match (gocache.and_then(|v| v.error.as_deref()), value) {
        (Some(error), _) => {
            let what = match go.setting("GOCACHE") {
                Some(set) => format!(
                    "GOCACHE={} ({})",
                    crate::escape::os(&set),
                    gocache.map_or("environment", |v| v.origin.describe())
                ),
                None => "GOCACHE is unset and has no default".into(),
            };
            findings.push(warning(format!(
                "{what}: the go command stops every build with \"build cache is required, but \
                 could not be located: {error}\""
            )));
        }
        (None, Some(v)) if v == "off" => findings.push(warning(
            "GOCACHE=off: the go command requires a build cache since Go 1.12, so builds will fail"
                .into(),
        )),
        (None, Some(v)) if !Path::new(v).is_absolute() => findings.push(warning(format!(
            "GOCACHE {} is a relative path (the user cache directory is relative): the go \
             command keeps the build cache under the directory each build runs in, and it is \
             not measured",
            crate::escape::os(v)
        ))),
        (None, None) => findings.push(warning("GOCACHE is not set and has no default".into())),
        _ => {}
    }
    let (_, relative) = go.path_prepend();
    for (name, dir) in relative {
        let var = go.var(name);
        let refusal = match var.and_then(|v| v.error.as_deref()) {
            Some(error) => format!("; `go install` stops with \"{error}\""),
            None => String::new(),
        };
        findings.push(warning(format!(
            "{name}={} ({}) is not an absolute path{refusal}; {} is never put on PATH",
            crate::escape::os(go.get(name).unwrap_or_default()),
            var.map_or("environment", |v| v.origin.describe()),
            crate::escape::path(&dir),
        )));
    }
    findings
}

/// Finds the build cache GOCACHE names. A GOCACHE the go command cannot use is refused in
/// its words, naming the setting. The path is taken as the bytes it is, UTF-8 or not.
fn locate_cache(go: &GoEnv) -> Result<Option<BuildCache>, Error> {
    if let Some(error) = go.var("GOCACHE").and_then(|v| v.error.as_deref()) {
        return Err(Error::NotABuildCache {
            path: PathBuf::from(go.setting("GOCACHE").unwrap_or_else(|| "off".into())),
            reason: format!("the go command cannot use it: {error}"),
        });
    }
    buildcache::locate(Path::new(go.get("GOCACHE").unwrap_or_default()))
}

/// `report`, unless `--format json` asks for JSON and the report holds a path that JSON text
/// cannot carry: a path that is not UTF-8 outside `go.vars` (which shows the exact bytes) and
/// the watched paths (whose bytes are their variable's). That is an error (exit 1), as it is
/// for an `--emit` format that cannot carry a value, never a report with altered paths.
fn json_ready(report: Report, settings: &Settings) -> anyhow::Result<Report> {
    if settings.format == Format::Json
        && let Err(e) = serde_json::to_writer(std::io::sink(), &report)
    {
        anyhow::bail!(
            "--format json cannot carry this report: {e} (a path that is not UTF-8); use \
             --format text or markdown, which show such bytes as \\xNN"
        );
    }
    Ok(report)
}

fn notice(message: String) -> Finding {
    Finding::new(FindingLevel::Notice, message)
}

fn warning(message: String) -> Finding {
    Finding::new(FindingLevel::Warning, message)
}
