//! The Markdown report, as for a CI job summary.
//!
//! Every value a machine, a repository or a server chose goes through [`escape::markdown`]
//! (or [`escape::markdown_code`] for inline code): it shows as literal text and cannot close
//! a code span, break a table cell, or add a link, an image or HTML.

use std::fmt::Write;

use super::text::{cacheprog_line, prune_line, serde_plain, stale_work_line};
use super::{Finding, Report, Status, VolumeReport};
use crate::escape;
use crate::goenv::GoEnv;
use crate::units::format_bytes;

/// Cells in a usage bar.
const BAR_CELLS: u64 = 24;

/// The share of `total` used when `available` is left, in `scale` parts, rounded; `None` for a
/// volume that reports no size. Figures from the system are evidence: available can exceed
/// total (a quota, a racing write), so the share is clamped to 0..=scale.
fn used_share(total: u64, available: u64, scale: u64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let used = total.saturating_sub(available);
    let scaled = u128::from(used) * u128::from(scale) + u128::from(total) / 2;
    Some(u64::try_from(scaled / u128::from(total)).map_or(scale, |n| n.min(scale)))
}

/// A bar of `BAR_CELLS` cells, `█` for used space and `░` for available, and the share used:
/// `███████████░░░░░░░░░░░░░ 46%`. `None` for a volume that reports no size.
fn usage_bar(total: u64, available: u64) -> Option<String> {
    let cells = used_share(total, available, BAR_CELLS)?;
    let percent = used_share(total, available, 100)?;
    let mut bar = "█".repeat(cells as usize);
    bar.push_str(&"░".repeat((BAR_CELLS - cells) as usize));
    Some(format!("{bar} {percent}%"))
}

/// Each watched volume's usage before and after, drawn, with where the soft and hard limits
/// lie: the picture beside the table.
fn usage_chart(w: &mut String, report: &Report) {
    if report.volumes.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n| Volume | Used before | Used after |");
    let _ = writeln!(w, "|---|---|---|");
    for v in &report.volumes {
        let bar = |available| {
            usage_bar(v.total_bytes, available).map_or("—".to_string(), |b| format!("`{b}`"))
        };
        let mut after = bar(v.available_bytes_after);
        if let Some(l) = v.limits {
            // Where the limits fall, as the share used at which each is reached.
            let at = |limit: u64| {
                used_share(v.total_bytes, limit, 100).map_or(String::new(), |p| format!("{p}%"))
            };
            after.push_str(&format!(
                " soft at {} used, hard at {}",
                at(l.soft),
                at(l.hard)
            ));
        }
        let _ = writeln!(
            w,
            "| {} | {} | {} |",
            escape::markdown_code_os(v.mount.mount_point.as_os_str()),
            bar(v.available_bytes_before),
            after
        );
    }
}

/// Renders `report` as GitHub-flavoured Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    heading(w, report);
    volume_table(w, &report.volumes);
    usage_chart(w, report);
    if let Some(r) = &report.relocation {
        relocation(w, r);
    }
    what_was_done(w, report);
    findings(w, &report.findings);
    go_directories(w, &report.go);
    out
}

/// The icon for the verdict, the command, and the verdict's message.
fn heading(w: &mut String, report: &Report) {
    let icon = match report.verdict.status {
        Status::HardLimit if report.verdict.tolerated => "⚠️",
        Status::HardLimit | Status::Unhealthy => "❌",
        Status::Pruned => "🧹",
        Status::WouldPrune => "🔍",
        Status::Ok => "✅",
    };
    let _ = writeln!(w, "### {icon} go-disk-guard {}\n", report.command);
    let _ = writeln!(w, "{}\n", escape::markdown(&report.verdict.message));
}

/// One row for each watched volume: its type, size, space before and after, limits and contents.
fn volume_table(w: &mut String, volumes: &[VolumeReport]) {
    let _ = writeln!(
        w,
        "| Volume | Type | Size | Available before | Available after | Limits (hard / soft / target) | Holds |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|---|---|");
    for v in volumes {
        let limits = v.limits.map_or("—".to_string(), |l| {
            format!(
                "{} / {} / {}",
                format_bytes(l.hard),
                format_bytes(l.soft),
                format_bytes(l.target)
            )
        });
        let holds: Vec<&str> = v.paths.iter().map(|p| p.label.as_str()).collect();
        let mut fs_type = escape::markdown(&v.mount.fs_type);
        if v.ram_backed {
            fs_type.push_str(" (RAM-backed)");
        }
        if v.limited_by == crate::disk::quota::Binding::Quota {
            fs_type.push_str(", quota binds");
        }
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape::markdown_code_os(v.mount.mount_point.as_os_str()),
            fs_type,
            format_bytes(v.total_bytes),
            format_bytes(v.available_bytes_before),
            format_bytes(v.available_bytes_after),
            limits,
            escape::markdown(&holds.join(", "))
        );
    }
}

/// Why the Go directories were or were not relocated, and each move.
fn relocation(w: &mut String, r: &crate::relocate::Relocation) {
    let _ = writeln!(w, "\n**Relocation**: {}\n", escape::markdown(&r.reason));
    for m in &r.moves {
        let _ = writeln!(
            w,
            "- `{}`: {} → {}{}",
            m.var,
            escape::markdown_code_os(m.from.as_os_str()),
            escape::markdown_code_os(m.to.as_os_str()),
            if m.migrated_files > 0 {
                format!(" ({} files migrated)", m.migrated_files)
            } else {
                String::new()
            }
        );
    }
}

/// The prunes, the stale work directories, and the GOCACHEPROG, one line each.
fn what_was_done(w: &mut String, report: &Report) {
    if !report.prunes.is_empty() {
        let _ = writeln!(w);
        for p in &report.prunes {
            let _ = writeln!(w, "- {}", escape::markdown(&prune_line(p)));
        }
    }
    if let Some(s) = &report.stale_work {
        let _ = writeln!(w, "\n- {}", escape::markdown(&stale_work_line(s)));
    }
    if let Some(m) = report.cache.as_ref().and_then(|c| c.cacheprog.as_ref()) {
        let _ = writeln!(w, "\n- {}", escape::markdown(&cacheprog_line(m)));
    }
    if let Some(prog) = &report.cacheprog {
        let _ = writeln!(
            w,
            "\n- GOCACHEPROG handed on: {}",
            escape::markdown_code(prog)
        );
    }
}

/// Each finding with its level, after a blank line; nothing when there are none.
fn findings(w: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(w);
    for f in findings {
        let _ = writeln!(
            w,
            "- **{}**: {}",
            serde_plain(&f.level),
            escape::markdown(&f.message)
        );
    }
}

/// Go's variables and where each came from, folded away.
fn go_directories(w: &mut String, env: &GoEnv) {
    let _ = writeln!(w, "\n<details><summary>Go directories</summary>\n");
    let _ = writeln!(w, "| Variable | Value | From |");
    let _ = writeln!(w, "|---|---|---|");
    for var in &env.vars {
        let value = if var.value.is_empty() {
            "*unset*".to_string()
        } else {
            escape::markdown_code_os(&var.value)
        };
        let _ = writeln!(
            w,
            "| `{}` | {value} | {} |",
            var.name,
            var.origin.describe()
        );
    }
    let _ = writeln!(w, "\n</details>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_bars_show_the_share_used() {
        let bar = |t, a| usage_bar(t, a).unwrap();
        assert_eq!(bar(100, 100), format!("{} 0%", "░".repeat(24)));
        assert_eq!(bar(100, 0), format!("{} 100%", "█".repeat(24)));
        assert_eq!(
            bar(100, 50),
            format!("{}{} 50%", "█".repeat(12), "░".repeat(12))
        );
        // Figures from the system are evidence: more available than the volume holds is
        // nothing used; u64::MAX does not overflow.
        assert_eq!(bar(100, 1000), format!("{} 0%", "░".repeat(24)));
        assert_eq!(bar(u64::MAX, 0), format!("{} 100%", "█".repeat(24)));
        assert_eq!(usage_bar(0, 5), None);
    }

    #[test]
    fn the_summary_draws_each_volume_before_and_after() {
        let report = crate::report::sample("v");
        let text = render(&report);
        assert!(
            text.contains("| Volume | Used before | Used after |"),
            "{text}"
        );
        assert!(text.contains("soft at "), "{text}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(2000))]

            #[test]
            fn a_bar_is_always_whole(total in any::<u64>(), available in any::<u64>()) {
                if let Some(bar) = usage_bar(total, available) {
                    prop_assert_eq!(bar.chars().take_while(|c| *c == '█' || *c == '░').count(), 24);
                    let pct: u64 = bar.rsplit(' ').next().unwrap().trim_end_matches('%').parse().unwrap();
                    prop_assert!(pct <= 100);
                }
            }
        }
    }
}
