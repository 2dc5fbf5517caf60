//! `doctor`: settings that make builds use other directories than the ones measured, or make
//! Go's directories slow, fragile or unusable.

use crate::goenv;
use crate::policy;
use crate::report::Report;
use crate::settings::Settings;

use super::steps::{json_ready, measure, notice};
use super::{Hand, Invocation};

/// Runs `doctor`.
pub fn run(invocation: Invocation) -> anyhow::Result<super::Outcome> {
    invocation.run(Hand::Nothing, report)
}

/// `doctor`: settings that send builds elsewhere than measured, or make Go's directories
/// slow, fragile or unusable; unhealthy (exit 4) when an error-level finding exists.
pub fn report(settings: &Settings) -> anyhow::Result<Report> {
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
        &crate::doctor::DoctorContext {
            tmp_min: settings.tmp_min,
            ..crate::doctor::DoctorContext::current()
        },
    ));
    let verdict = policy::doctor_verdict(&findings);
    json_ready(
        Report::new("doctor", settings, go, volumes, findings, verdict),
        settings,
    )
}
