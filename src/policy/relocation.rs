//! Where `--relocate auto` moves Go's directories, and when GOTMPDIR follows them.
//!
//! [`crate::relocate`] measures the candidate volumes and moves the directories; these
//! functions choose.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::disk::{Probe, VolumeId};
use crate::units::{Size, format_bytes};

/// A candidate volume, as measured.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub root: PathBuf,
    pub available_bytes: u64,
    pub system: bool,
}

/// Puts `candidates` in order of preference: most room first, the system volume last among
/// equals, then by path, so that the same volumes always give the same choice.
pub fn rank(candidates: &mut [(Candidate, VolumeId)]) {
    candidates.sort_by(|(a, _), (b, _)| {
        b.available_bytes
            .cmp(&a.available_bytes)
            .then(a.system.cmp(&b.system))
            .then(a.root.cmp(&b.root))
    });
}

/// The root to move to, from `ranked` candidates (see [`rank`]), and why; `None` when nothing
/// moves: no candidate, or GOCACHE (on `gocache_volume`) is already on the roomiest. The
/// system volume, at `system_path`, has `system_available` bytes available.
pub fn choose_root(
    ranked: &[(Candidate, VolumeId)],
    gocache_volume: Option<&VolumeId>,
    system_available: u64,
    system_path: &Path,
) -> (Option<PathBuf>, String) {
    let Some((best, best_id)) = ranked.first() else {
        return (
            None,
            "no writable candidate volume was found; nothing moved".into(),
        );
    };
    if gocache_volume == Some(best_id) {
        return (
            None,
            format!(
                "GOCACHE is already on the roomiest volume ({}, {} available); nothing moved",
                best.root.display(),
                format_bytes(best.available_bytes)
            ),
        );
    }
    let reason = if best.system {
        format!(
            "the system volume {} has the most room ({} available)",
            best.root.display(),
            format_bytes(best.available_bytes)
        )
    } else {
        format!(
            "{} has the most room ({} available; the system volume {} has {})",
            best.root.display(),
            format_bytes(best.available_bytes),
            system_path.display(),
            format_bytes(system_available)
        )
    };
    (Some(best.root.clone()), reason)
}

/// Why GOTMPDIR, now at `from` on `tmp`, follows Go's directories to `chosen`: the temp dir is
/// RAM-backed or has less than `tmp_min` available, and the chosen volume is neither. `None`
/// when it stays.
pub fn tmpdir_moves(from: &Path, tmp: &Probe, chosen: &Probe, tmp_min: Size) -> Option<String> {
    if tmp.volume == chosen.volume || chosen.mount.ram_backed() {
        return None;
    }
    let min = tmp_min.resolve(tmp.space.total);
    if tmp.mount.ram_backed() {
        Some(format!(
            "the temp dir {} is RAM-backed ({})",
            from.display(),
            tmp.mount.fs_type
        ))
    } else if tmp.space.available < min {
        Some(format!(
            "the temp dir {} has {} available, less than --tmp-min {}",
            from.display(),
            format_bytes(tmp.space.available),
            format_bytes(min)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(root: &str, available_bytes: u64, system: bool) -> (Candidate, VolumeId) {
        (
            Candidate {
                root: PathBuf::from(root),
                available_bytes,
                system,
            },
            VolumeId(root.into()),
        )
    }

    #[test]
    fn the_roomiest_wins_and_the_system_volume_yields_a_tie() {
        let mut c = vec![
            candidate("/", 100, true),
            candidate("/b", 100, false),
            candidate("/a", 100, false),
            candidate("/small", 10, false),
        ];
        rank(&mut c);
        let order: Vec<_> = c.iter().map(|(c, _)| c.root.to_str().unwrap()).collect();
        assert_eq!(order, ["/a", "/b", "/", "/small"]);
        let (root, why) = choose_root(&c, None, 7, Path::new("/"));
        assert_eq!(root, Some(PathBuf::from("/a")));
        assert!(why.contains("the system volume / has"), "{why}");
        let (root, why) = choose_root(&c, Some(&VolumeId("/a".into())), 7, Path::new("/"));
        assert_eq!(root, None);
        assert!(why.contains("already on the roomiest"), "{why}");
        assert_eq!(choose_root(&[], None, 7, Path::new("/")).0, None);
    }
}
