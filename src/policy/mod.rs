//! Decide: settings, their sources, and the plan a check carries out.
//!
//! The plan is pure: it looks at measured volumes and settings and says which build caches to
//! prune and how far, without touching anything.

use serde::Serialize;

use crate::disk::{Space, VolumeId};
use crate::settings::{Limits, Settings};
use crate::units::format_bytes;

/// Where a volume stands against its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Ok,
    BelowSoft,
    BelowHard,
}

impl Level {
    /// The level of `available` bytes against `limits`.
    pub fn of(available: u64, limits: &Limits) -> Level {
        if available < limits.hard {
            Level::BelowHard
        } else if available < limits.soft {
            Level::BelowSoft
        } else {
            Level::Ok
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
        if Level::of(volume.space.available, &limits) != Level::Ok {
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
    fn levels() {
        let limits = Limits {
            hard: 10,
            soft: 20,
            target: 30,
        };
        assert_eq!(Level::of(9, &limits), Level::BelowHard);
        assert_eq!(Level::of(10, &limits), Level::BelowSoft);
        assert_eq!(Level::of(20, &limits), Level::Ok);
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
