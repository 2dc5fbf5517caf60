//! `status`: what is where, how full each volume is, and how large the build cache is.

use crate::buildcache;
use crate::goenv;
use crate::policy::{self, VolumeReport};
use crate::report::{CacheReport, Report};
use crate::settings::Settings;

use super::steps::{go_findings, json_ready, locate_cache, measure, notice, warning, with_limits};
use super::{Hand, Invocation};

/// Runs `status`; with `reset_counters` (`--reset-counters`), a cache program's counters
/// restart once shown.
pub fn run(invocation: Invocation, reset_counters: bool) -> anyhow::Result<super::Outcome> {
    invocation.run(Hand::Nothing, |settings| report(settings, reset_counters))
}

/// `status`: what is where, how full each volume is, and how large the build cache is, with
/// a cache program's budget, leases and counts. Reads only, but with `reset_counters`, which
/// restarts those counts after reading them.
pub fn report(settings: &Settings, reset_counters: bool) -> anyhow::Result<Report> {
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
                cacheprog: crate::cacheprog::report_state(cache.handle(), reset_counters),
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
    let verdict = policy::judge(&volumes, &[], false);
    json_ready(
        Report {
            cache,
            ..Report::new("status", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}
