//! Steps several commands share: measuring the watched volumes, locating the build cache,
//! findings about the Go environment, resolving (and moving) Go's directories.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::buildcache::{self, BuildCache};
use crate::disk::{self, Probe, VolumeId};
use crate::error::Error;
use crate::goenv::{self, GoEnv};
use crate::policy::{self, Finding, FindingLevel, VolumeLevel, VolumeReport, WatchedPath};
use crate::prune::PruneOutcome;
use crate::report::Report;
use crate::settings::{Format, Settings};
use crate::units::format_bytes;

/// Checks `--cacheprog-remote` before anything is done: it needs `--cacheprog-max-size` (it
/// only joins the GOCACHEPROG that one hands on), and its URL must be one `cacheprog
/// --remote` takes, read by the same parser. A usage error otherwise.
pub(crate) fn check_cacheprog_remote(settings: &Settings) -> Result<(), Error> {
    let Some(url) = &settings.cacheprog_remote else {
        return Ok(());
    };
    if settings.cacheprog_max_size.is_none() {
        return Err(Error::Usage(
            "--cacheprog-remote needs --cacheprog-max-size SIZE: the remote tier is part of \
             the GOCACHEPROG handed on with a budget"
                .into(),
        ));
    }
    remote_url_ok(url)
}

#[cfg(feature = "remote")]
fn remote_url_ok(url: &str) -> Result<(), Error> {
    crate::cacheprog::remote::parse_url(url)
        .map(drop)
        .map_err(|e| Error::Usage(format!("--cacheprog-remote: {}", crate::escape::line(&e))))
}

#[cfg(not(feature = "remote"))]
fn remote_url_ok(_: &str) -> Result<(), Error> {
    Err(Error::Usage(
        "--cacheprog-remote: this go-disk-guard was built without the `remote` feature".into(),
    ))
}

/// The GOCACHEPROG value that keeps GOCACHE within `--cacheprog-max-size`, if asked for:
/// this very binary, by absolute path, with the remote tier of `--cacheprog-remote`.
pub(crate) fn cacheprog_command(settings: &Settings, go: &GoEnv) -> anyhow::Result<Option<String>> {
    let Some(max) = settings.cacheprog_max_size else {
        return Ok(None);
    };
    check_cacheprog_remote(settings)?;
    let remote = settings
        .cacheprog_remote
        .as_deref()
        .map(|url| crate::cacheprog::HandedRemote {
            url,
            read_only: settings.cacheprog_remote_read_only,
        });
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
        remote,
    )?))
}

/// A warning when `--cacheprog-max-size` meets a go command older than 1.24, which ignores
/// GOCACHEPROG (1.21–1.23 read it only with GOEXPERIMENT=cacheprog).
pub(crate) fn cacheprog_finding(settings: &Settings, go: &GoEnv) -> Option<Finding> {
    settings.cacheprog_max_size?;
    let goenv::Resolver::GoEnv { version, .. } = &go.resolver else {
        return None;
    };
    policy::ignores_gocacheprog(version).then(|| {
        warning(format!(
            "GOCACHEPROG needs Go 1.24 or later; {version} ignores it, so the build cache is not \
             held to --cacheprog-max-size"
        ))
    })
}

/// Resolves Go's directories and, when asked, moves them (see [`crate::relocate`]).
pub(crate) fn resolve_and_relocate(
    settings: &Settings,
) -> anyhow::Result<(GoEnv, Option<crate::relocate::Relocation>)> {
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
    let options = crate::relocate::RelocateOptions {
        candidates: settings.relocate_candidates.clone(),
        system_volume: settings.system_volume.clone(),
        tmp_min: settings.tmp_min,
        migrate: settings.migrate,
    };
    let outcome = crate::relocate::relocate(&mut go, how, &options).context("relocating")?;
    Ok((go, Some(outcome)))
}

/// Measures every watched path; groups them by volume, in the order first seen.
pub(crate) fn measure(
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

pub(crate) fn volume_report(first: &Probe, members: Vec<(String, Probe)>) -> VolumeReport {
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

pub(crate) fn with_limits(mut v: VolumeReport, settings: &Settings) -> VolumeReport {
    let limits = settings.limits_for(v.total_bytes);
    v.level = Some(VolumeLevel::of(v.available_bytes_after, &limits));
    v.limits = Some(limits);
    v
}

/// Measures the volumes again after pruning; a dry run projects instead, adding what would
/// have been removed to the volume that holds it.
pub(crate) fn remeasure(
    volumes: &mut [VolumeReport],
    probes: &[(String, Probe)],
    prunes: &[PruneOutcome],
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

/// Findings about the Go environment itself: how it was resolved, and the values the go
/// command refuses, in its own words.
pub(crate) fn go_findings(go: &GoEnv) -> Vec<Finding> {
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
pub(crate) fn locate_cache(go: &GoEnv) -> Result<Option<BuildCache>, Error> {
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
pub(crate) fn json_ready(report: Report, settings: &Settings) -> anyhow::Result<Report> {
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

pub(crate) fn notice(message: String) -> Finding {
    Finding::new(FindingLevel::Notice, message)
}

pub(crate) fn warning(message: String) -> Finding {
    Finding::new(FindingLevel::Warning, message)
}

/// A warning when a prune fell short of its goal, saying what was kept and why.
pub(crate) fn unmet_goal(outcome: &PruneOutcome, settings: &Settings) -> Option<Finding> {
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
