//! Decide: what the mechanisms are told to do, and how a run ends.
//!
//! Every function here is pure: it looks at what was measured and at the settings and says
//! what to do, touching nothing. The mechanisms ([`crate::prune`], [`crate::relocate`],
//! [`crate::cacheprog`], [`crate::supervise`]) ask or are told; they decide nothing themselves.
//!
//! * the plan: which build cache `check` prunes, and how far ([`plan_cache_prune`]);
//! * the verdict, and the exit code of each status ([`judge`], [`doctor_verdict`]);
//! * the cache program's budget: when it evicts, how far, what a live build keeps
//!   ([`Budget`], [`spared_window`]);
//! * what `run` does at each measurement ([`while_running`]);
//! * where `--relocate auto` goes, and when GOTMPDIR follows ([`choose_root`],
//!   [`tmpdir_moves`]);
//! * which temp volumes' work directories `check` cleans ([`cleans_work_dirs_on`]), and which
//!   go command ignores GOCACHEPROG ([`ignores_gocacheprog`]);
//! * the cache program's remote tier: its timeouts, when it is given up, what it believes and
//!   when a hit records its use ([`remote`]).

mod budget;
mod relocation;
pub mod remote;
mod verdict;

pub use budget::{Budget, FREE_MARGIN, LOW_WATER, spared_window};
pub use relocation::{Candidate, choose_root, rank, tmpdir_moves};
pub use verdict::{
    Finding, FindingLevel, PruneTally, Status, Verdict, VolumeReport, WatchedPath, doctor_verdict,
    judge,
};

use serde::Serialize;

use crate::disk::{Space, VolumeId};
use crate::settings::{Limits, Settings};
use crate::units::format_bytes;

/// Where a volume stands against its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeLevel {
    Ok,
    BelowSoft,
    BelowHard,
}

impl VolumeLevel {
    /// The level of `available` bytes against `limits`.
    pub fn of(available: u64, limits: &Limits) -> VolumeLevel {
        if available < limits.hard {
            VolumeLevel::BelowHard
        } else if available < limits.soft {
            VolumeLevel::BelowSoft
        } else {
            VolumeLevel::Ok
        }
    }
}

/// A measured volume, as the planner sees it.
#[derive(Clone, Debug)]
pub struct VolumeState {
    pub id: VolumeId,
    pub space: Space,
}

/// One build cache to prune, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPrune {
    /// Prune until the volume has this many bytes available (the target).
    pub free_at_least: Option<u64>,
    /// Prune until the cache holds at most this many bytes.
    pub max_size: Option<u64>,
    /// Why, in words.
    pub reasons: Vec<String>,
}

/// Decides whether the build cache on `cache_volume` must be pruned: when that volume is
/// below its soft limit (prune up to the target), and when a cache budget is set.
/// `None` when nothing needs doing.
pub fn plan_cache_prune(
    settings: &Settings,
    volumes: &[VolumeState],
    cache_volume: &VolumeId,
) -> Option<PlannedPrune> {
    let mut planned = PlannedPrune {
        free_at_least: None,
        max_size: None,
        reasons: Vec::new(),
    };
    if let Some(volume) = volumes.iter().find(|v| &v.id == cache_volume) {
        let limits = settings.limits_for(volume.space.total);
        if VolumeLevel::of(volume.space.available, &limits) != VolumeLevel::Ok {
            planned.free_at_least = Some(limits.target);
            planned.reasons.push(format!(
                "{} available is below the soft limit of {}; pruning towards the target of {}",
                format_bytes(volume.space.available),
                format_bytes(limits.soft),
                format_bytes(limits.target)
            ));
        }
        if let Some(budget) = settings.cache_max_size {
            let bytes = budget.resolve(volume.space.total);
            planned.max_size = Some(bytes);
            planned
                .reasons
                .push(format!("the cache budget is {}", format_bytes(bytes)));
        }
    }
    (!planned.reasons.is_empty()).then_some(planned)
}

/// Whether the go command of `version` (`go1.23.4`, as `go env GOVERSION` says) ignores
/// GOCACHEPROG: before 1.24 it does (1.21–1.23 read it only with GOEXPERIMENT=cacheprog).
/// `false` for a version that does not read as `go1.N`: a development build, say.
pub fn ignores_gocacheprog(version: &str) -> bool {
    let minor = version
        .strip_prefix("go1.")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<u32>().ok());
    minor.is_some_and(|minor| minor < 24)
}

/// Whether `check` cleans the work directories of killed builds on the volume `volume`: when
/// that volume is one of the watched ones and is below its soft limit.
pub fn cleans_work_dirs_on(volume: &VolumeId, volumes: &[VolumeReport]) -> bool {
    volumes.iter().any(|v| &v.id == volume && v.below_soft())
}

/// What `run` does about one watched volume at one measurement, while the command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhileRunning {
    /// Prune the build cache until this much is available (the target): the volume is below
    /// its soft limit and pruning can help it.
    pub prune_to: Option<u64>,
    /// The volume is below its hard limit: once pruning has had its go, stop the command.
    pub below_hard: bool,
}

/// What `run` does about a volume with `available` bytes against `limits`; `can_prune` when
/// the volume holds the build cache and pruning can still free something (not a dry run,
/// not exhausted, none running).
pub fn while_running(available: u64, limits: &Limits, can_prune: bool) -> WhileRunning {
    WhileRunning {
        prune_to: (can_prune && available < limits.soft).then_some(limits.target),
        below_hard: available < limits.hard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Layer;
    use crate::units::Size;

    fn settings(soft: u64, hard: u64, target: u64) -> Settings {
        Settings::from_layers(Layer {
            soft: Some(Size::Bytes(soft)),
            hard: Some(Size::Bytes(hard)),
            target: Some(Size::Bytes(target)),
            ..Layer::default()
        })
        .unwrap()
    }

    fn volume(available: u64) -> Vec<VolumeState> {
        vec![VolumeState {
            id: VolumeId("v".into()),
            space: Space {
                total: 1000,
                available,
                ..Space::default()
            },
        }]
    }

    #[test]
    fn go_before_1_24_ignores_gocacheprog() {
        assert!(ignores_gocacheprog("go1.23.4"));
        assert!(ignores_gocacheprog("go1.9"));
        assert!(!ignores_gocacheprog("go1.24"));
        assert!(!ignores_gocacheprog("go1.27.3"));
        assert!(!ignores_gocacheprog("devel go1.28-abcdef"));
        assert!(!ignores_gocacheprog("go1."));
        assert!(!ignores_gocacheprog(""));
    }

    #[test]
    fn while_running_prunes_below_soft_and_stops_below_hard() {
        let limits = Limits {
            hard: 10,
            soft: 20,
            target: 30,
        };
        let at = |available, can_prune| while_running(available, &limits, can_prune);
        assert_eq!(at(20, true).prune_to, None);
        assert_eq!(at(19, true).prune_to, Some(30));
        assert_eq!(at(19, false).prune_to, None);
        assert!(!at(10, true).below_hard);
        assert!(at(9, false).below_hard);
    }

    #[test]
    fn levels() {
        let limits = Limits {
            hard: 10,
            soft: 20,
            target: 30,
        };
        assert_eq!(VolumeLevel::of(9, &limits), VolumeLevel::BelowHard);
        assert_eq!(VolumeLevel::of(10, &limits), VolumeLevel::BelowSoft);
        assert_eq!(VolumeLevel::of(20, &limits), VolumeLevel::Ok);
    }

    #[test]
    fn above_soft_plans_nothing_below_soft_plans_the_target() {
        let s = settings(200, 100, 300);
        let id = VolumeId("v".into());
        assert_eq!(plan_cache_prune(&s, &volume(250), &id), None);
        let p = plan_cache_prune(&s, &volume(150), &id).unwrap();
        assert_eq!(p.free_at_least, Some(300));
        assert_eq!(p.max_size, None);
        // A cache on another volume is not pruned for this one.
        assert_eq!(
            plan_cache_prune(&s, &volume(150), &VolumeId("other".into())),
            None
        );
    }

    #[test]
    fn a_budget_always_plans() {
        let mut s = settings(200, 100, 300);
        s.cache_max_size = Some(Size::Percent(5.0));
        let p = plan_cache_prune(&s, &volume(900), &VolumeId("v".into())).unwrap();
        assert_eq!(p.max_size, Some(50));
        assert_eq!(p.free_at_least, None);
    }
}
