//! `env`: resolve Go's directories (moving them, with `--relocate`) and hand them on.

use crate::policy;
use crate::report::Report;
use crate::settings::Settings;

use super::steps::{
    cacheprog_command, cacheprog_finding, check_cacheprog_remote, go_findings, json_ready, measure,
    resolve_and_relocate,
};
use super::{Hand, Invocation};

/// Runs `env`.
pub fn run(invocation: Invocation) -> anyhow::Result<super::Outcome> {
    invocation.run(Hand::EmitOnly, report)
}

/// `env`: resolve Go's directories and measure their volumes, to hand them on. No pruning,
/// no cache scan.
pub fn report(settings: &Settings) -> anyhow::Result<Report> {
    check_cacheprog_remote(settings)?;
    let (go, relocation) = resolve_and_relocate(settings)?;
    let mut findings = go_findings(&go);
    findings.extend(cacheprog_finding(settings, &go));
    let (volumes, _) = measure(&go, settings, &mut findings);
    let verdict = policy::judge(&volumes, &[], false);
    json_ready(
        Report {
            relocation,
            cacheprog: cacheprog_command(settings, &go)?,
            ..Report::new("env", settings, go, volumes, findings, verdict)
        },
        settings,
    )
}
