//! The Markdown report, as for a CI job summary.
//!
//! Every value a machine, a repository or a server chose goes through [`escape::markdown`]
//! (or [`escape::markdown_code`] for inline code): it shows as literal text and cannot close
//! a code span, break a table cell, or add a link, an image or HTML.

use std::fmt::Write;

use super::text::{cacheprog_line, prune_line, serde_plain, stale_work_line};
use super::{Report, Status};
use crate::escape;
use crate::policy::format_bytes;

/// Renders `report` as GitHub-flavoured Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let icon = match report.verdict.status {
        Status::HardLimit | Status::Unhealthy => "❌",
        Status::Pruned => "🧹",
        Status::Ok => "✅",
    };
    let _ = writeln!(w, "### {icon} go-disk-guard {}\n", report.command);
    let _ = writeln!(w, "{}\n", escape::markdown(&report.verdict.message));

    let _ = writeln!(
        w,
        "| Volume | Type | Size | Available before | Available after | Limits (hard / soft / target) | Holds |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|---|---|");
    for v in &report.volumes {
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

    if let Some(r) = &report.relocation {
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
    if !report.findings.is_empty() {
        let _ = writeln!(w);
        for f in &report.findings {
            let _ = writeln!(
                w,
                "- **{}**: {}",
                serde_plain(&f.level),
                escape::markdown(&f.message)
            );
        }
    }

    let _ = writeln!(w, "\n<details><summary>Go directories</summary>\n");
    let _ = writeln!(w, "| Variable | Value | From |");
    let _ = writeln!(w, "|---|---|---|");
    for var in &report.go.vars {
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
    out
}
