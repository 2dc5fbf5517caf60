//! The human-readable report.
//!
//! Every value a machine, a repository or a server chose (paths, Go's variables, messages,
//! notes, reasons) goes through [`escape`] and stays within its line; `main` guards the whole
//! block before printing it.

use std::fmt::Write;

use super::{CacheReport, Finding, Report, Status, Verdict, VolumeReport};
use crate::escape;
use crate::goenv::{GoEnv, Resolver};
use crate::prune::PruneOutcome;
use crate::units::{ago, format_bytes};

/// Renders `report` as plain text, one section per stage.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    go_section(w, &report.go);
    volumes_section(w, &report.volumes);
    if let Some(cache) = &report.cache {
        cache_section(w, cache);
    }
    if let Some(prog) = &report.cacheprog {
        let _ = writeln!(w, "\nGOCACHEPROG handed on: {}", escape::line(prog));
    }
    if let Some(r) = &report.relocation {
        relocation_section(w, r);
    }
    if let Some(run) = &report.run {
        run_section(w, run);
    }
    for p in &report.prunes {
        prune_section(w, p);
    }
    if let Some(s) = &report.stale_work {
        stale_work_section(w, s);
    }
    findings_section(w, &report.findings);
    verdict_line(w, &report.verdict);
    out
}

/// Where Go's directories came from, and each variable's value and origin.
fn go_section(w: &mut String, env: &GoEnv) {
    match &env.resolver {
        Resolver::GoEnv { go, version } => {
            let _ = writeln!(
                w,
                "Go directories (go env, {}, {}):",
                escape::line(version),
                escape::path(go)
            );
        }
        Resolver::Computed { reason } => {
            let _ = writeln!(
                w,
                "Go directories (computed by Go's rules: {}):",
                escape::line(reason)
            );
        }
    }
    for var in &env.vars {
        let value = if var.value.is_empty() {
            "(unset)".into()
        } else {
            escape::os(&var.value)
        };
        let _ = writeln!(w, "  {:<11} {value}  [{}]", var.name, var.origin.describe());
    }
}

/// Each watched volume: its space, what lies on it, and where it stands against the limits.
fn volumes_section(w: &mut String, volumes: &[VolumeReport]) {
    let _ = writeln!(w, "\nVolumes:");
    for v in volumes {
        volume(w, v);
    }
}

/// One volume of [`volumes_section`].
fn volume(w: &mut String, v: &VolumeReport) {
    let ram = if v.ram_backed { ", RAM-backed" } else { "" };
    let fs = if v.mount.fs_type.is_empty() {
        String::new()
    } else {
        format!(" ({}{ram})", escape::line(&v.mount.fs_type))
    };
    let labels: Vec<&str> = v.paths.iter().map(|p| p.label.as_str()).collect();
    let _ = writeln!(
        w,
        "  {}{fs}: {} available of {} ({:.0}% used) — {}",
        escape::path(&v.mount.mount_point),
        format_bytes(v.available_bytes_after),
        format_bytes(v.total_bytes),
        v.used_percent_after,
        escape::line(&labels.join(", "))
    );
    let (before, after) = (
        format_bytes(v.available_bytes_before),
        format_bytes(v.available_bytes_after),
    );
    if before != after {
        let _ = writeln!(w, "    was {before} available before pruning");
    }
    if v.limited_by == crate::disk::quota::Binding::Quota {
        let _ = writeln!(
            w,
            "    your quota binds: it leaves less than the volume has free"
        );
    }
    for p in &v.paths {
        for link in &p.links {
            let _ = writeln!(
                w,
                "    {} {}: {} is {}",
                escape::line(&p.label),
                escape::path(&p.path),
                escape::path(&link.path),
                describe_link(&link.reparse)
            );
        }
    }
    if let (Some(limits), Some(level)) = (&v.limits, v.level) {
        let _ = writeln!(
            w,
            "    limits: hard {}, soft {}, target {} — {}",
            format_bytes(limits.hard),
            format_bytes(limits.soft),
            format_bytes(limits.target),
            serde_plain(&level)
        );
    }
}

/// The build cache's size and age, and whether a GOCACHEPROG manages it.
fn cache_section(w: &mut String, cache: &CacheReport) {
    let s = &cache.stats;
    let _ = write!(
        w,
        "\nBuild cache {}: {} in {} files ({} entries)",
        escape::path(&cache.path),
        format_bytes(s.bytes),
        s.files,
        s.entries
    );
    if let (Some(old), Some(new)) = (s.oldest, s.newest) {
        let _ = write!(w, ", last used {} … {}", ago(old), ago(new));
    }
    let _ = writeln!(w);
    if let Some(t) = s.last_go_trim {
        let _ = writeln!(w, "  Go last trimmed it {}", ago(t));
    }
    if let Some(m) = &cache.cacheprog {
        let _ = writeln!(w, "  {}", cacheprog_line(m));
    }
}

/// Where the Go directories were moved to, or why they were not, and each move.
fn relocation_section(w: &mut String, r: &crate::relocate::Relocation) {
    match &r.root {
        Some(root) => {
            let _ = writeln!(
                w,
                "\nRelocated to {}: {}",
                escape::path(root),
                escape::line(&r.reason)
            );
        }
        None => {
            let _ = writeln!(w, "\nNot relocated: {}", escape::line(&r.reason));
        }
    }
    for m in &r.moves {
        let _ = write!(
            w,
            "  {:<11} {} -> {}",
            m.var,
            escape::path(&m.from),
            escape::path(&m.to)
        );
        if m.migrated_files > 0 {
            let _ = write!(
                w,
                " (migrated {} files, {})",
                m.migrated_files,
                format_bytes(m.migrated_bytes)
            );
        }
        let _ = writeln!(w);
    }
}

/// The supervised command: how it ended, how low space ran, and what was pruned meanwhile.
fn run_section(w: &mut String, run: &crate::supervise::RunReport) {
    let _ = write!(
        w,
        "\nRan `{}` for {:.1}s: exit code {}",
        escape::line(&run.command.join(" ")),
        run.duration_ms as f64 / 1000.0,
        run.exit_code
    );
    if let (Some(low), Some(vol)) = (run.lowest_available_bytes, &run.lowest_volume) {
        let _ = write!(
            w,
            "; lowest available {} on {}",
            format_bytes(low),
            escape::path(vol)
        );
    }
    if run.prunes > 0 {
        let _ = write!(
            w,
            "; pruned {} ({} files) in {} prune(s) during the run",
            format_bytes(run.pruned_bytes),
            run.pruned_files,
            run.prunes
        );
    }
    let _ = writeln!(w);
    if let Some(why) = &run.stopped {
        let _ = writeln!(w, "  {}", escape::line(why));
    }
}

/// One prune and its notes.
fn prune_section(w: &mut String, p: &PruneOutcome) {
    let _ = writeln!(w, "\n{}", prune_line(p));
    for note in &p.notes {
        let _ = writeln!(w, "  note: {}", escape::line(note));
    }
}

/// Stale work directories: what became of each, and the notes.
fn stale_work_section(w: &mut String, s: &crate::prune::work::StaleWork) {
    let _ = writeln!(w, "\n{}", stale_work_line(s));
    for d in &s.dirs {
        let _ = write!(
            w,
            "  {:<13} {} ({}, {} files",
            serde_plain(&d.fate),
            escape::path(&d.path),
            format_bytes(d.bytes),
            d.files
        );
        if let Some(t) = d.modified {
            let _ = write!(w, ", last changed {}", ago(t));
        }
        if let Some(pid) = d.used_by {
            let _ = write!(w, ", used by process {pid}");
        }
        let _ = writeln!(w, ")");
    }
    for note in &s.notes {
        let _ = writeln!(w, "  note: {}", escape::line(note));
    }
}

/// Each finding with its fix, after a blank line; nothing when there are none.
fn findings_section(w: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(w);
    for f in findings {
        let code = f.code.map(|c| format!("[{c}]")).unwrap_or_default();
        let _ = writeln!(
            w,
            "{}{code}: {}",
            serde_plain(&f.level),
            escape::line(&f.message)
        );
        if let Some(fix) = &f.fix {
            let _ = writeln!(w, "  fix: {}", escape::line(fix));
        }
    }
}

/// The closing line: FAILED or OK, and why.
fn verdict_line(w: &mut String, verdict: &Verdict) {
    let _ = writeln!(
        w,
        "\n{}: {}",
        match verdict.status {
            Status::HardLimit | Status::Unhealthy => "FAILED",
            _ => "OK",
        },
        escape::line(&verdict.message)
    );
}

/// `a junction to D:\go-build`, `a symbolic link to ../cache`, …
fn describe_link(r: &crate::disk::Reparse) -> String {
    use crate::disk::Reparse;
    match r {
        Reparse::Symlink { target, .. } => {
            format!("a symbolic link to {}", escape::line(target))
        }
        Reparse::Junction { target } => format!("a junction to {}", escape::line(target)),
        Reparse::VolumeMountPoint { volume } => {
            format!("the mount point of volume {}", escape::line(volume))
        }
        Reparse::Other { tag } => format!("a reparse point (tag {tag:#010x})"),
    }
}

/// One line saying what the clean-up of work directories did.
pub(crate) fn stale_work_line(s: &crate::prune::work::StaleWork) -> String {
    let dirs: Vec<String> = s
        .temp_dirs
        .iter()
        .map(|d| escape::path(d).into_owned())
        .collect();
    format!(
        "{} {} stale work director{} ({}) in {}, older than {}{}",
        if s.dry_run { "Would remove" } else { "Removed" },
        s.removed_dirs,
        if s.removed_dirs == 1 { "y" } else { "ies" },
        format_bytes(s.removed_bytes),
        dirs.join(", "),
        crate::units::format_duration(s.older_than),
        if s.in_use_check == "proc" {
            " and used by no live process"
        } else {
            " (age alone: live processes cannot be checked here)"
        }
    )
}

/// One line saying what a prune did.
pub(crate) fn prune_line(p: &PruneOutcome) -> String {
    let verb = if p.dry_run { "Would prune" } else { "Pruned" };
    if !p.locked {
        return format!(
            "Did not prune {}: it was locked by another go-disk-guard",
            escape::path(&p.cache)
        );
    }
    let mut line = format!(
        "{verb} {}: {} in {} files ({} entries)",
        escape::path(&p.cache),
        format_bytes(p.removed_bytes),
        p.removed_files,
        p.removed_entries
    );
    if let Some(t) = p.newest_removed {
        let _ = write!(line, ", the most recent used {}", ago(t));
    }
    let _ = write!(
        line,
        "; {} left ({} entries)",
        format_bytes(p.after.bytes),
        p.after.entries
    );
    if p.kept_recent_entries > 0 {
        let _ = write!(
            line,
            "; {} entries ({}) kept as recently used",
            p.kept_recent_entries,
            format_bytes(p.kept_recent_bytes)
        );
    }
    if p.spared_in_use > 0 {
        let _ = write!(line, "; {} spared, used during the prune", p.spared_in_use);
    }
    if p.vanished > 0 {
        let _ = write!(line, "; {} already gone", p.vanished);
    }
    if p.held_open > 0 {
        let _ = write!(
            line,
            "; {} skipped, held open by another process",
            p.held_open
        );
    }
    let _ = write!(line, " [{} ms]", p.elapsed_ms);
    line
}

/// The serde name of a unit-like enum value (`below-soft`, `warning`, …).
pub(crate) fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What `prune --remote` found in the bucket, removed (or would remove) and left.
#[cfg(feature = "remote")]
pub fn remote_prune(o: &crate::cacheprog::remote::prune::RemotePruneOutcome) -> String {
    let verb = if o.dry_run { "would remove" } else { "removed" };
    let mut out = format!(
        "remote {}: {} actions ({} unreadable), {} outputs, {}\n{verb} {} actions and {} \
         outputs, {}\n",
        escape::line(&o.url),
        o.actions,
        o.unreadable_actions,
        o.outputs,
        format_bytes(o.bytes),
        o.removed_actions,
        o.removed_outputs,
        format_bytes(o.removed_bytes),
    );
    out.push_str(&format!(
        "left: {} actions, {} outputs, {}\n",
        o.actions.saturating_sub(o.removed_actions),
        o.outputs.saturating_sub(o.removed_outputs),
        format_bytes(o.bytes.saturating_sub(o.removed_bytes))
    ));
    if o.manifests > 0 {
        out.push_str(&format!(
            "manifests: {} ({verb} {})\n",
            o.manifests, o.removed_manifests
        ));
    }
    if o.failed > 0 {
        out.push_str(&format!("{} objects could not be removed\n", o.failed));
    }
    out
}

/// One line on a cache that `go-disk-guard cacheprog` manages.
pub fn cacheprog_line(m: &crate::cacheprog::Managed) -> String {
    let mut budget = Vec::new();
    if let Some(max) = m.budget.max_size {
        budget.push(format!("at most {}", format_bytes(max)));
    }
    if let Some(min) = m.budget.min_free {
        budget.push(format!("{} kept free", format_bytes(min)));
    }
    let leases = match m.leases.first() {
        None => "no live cache program".to_string(),
        Some(oldest) => format!(
            "{} live cache program(s), the oldest started {}",
            m.leases.len(),
            ago(oldest.start)
        ),
    };
    let c = &m.counts;
    let since = m
        .counts_since
        .map_or(String::new(), |t| format!(" since {}", ago(t)));
    let remote = if [
        c.remote_hits,
        c.remote_misses,
        c.remote_uploads,
        c.remote_verify_failures,
        c.remote_errors,
        c.remote_dropped,
        c.remote_prefetched,
    ]
    .iter()
    .all(|&n| n == 0)
    {
        String::new()
    } else {
        format!(
            "; remote: {} hits, {} fetched ahead, {} misses, {} uploads, {} verification \
             failures, {} errors, {} dropped",
            c.remote_hits,
            c.remote_prefetched,
            c.remote_misses,
            c.remote_uploads,
            c.remote_verify_failures,
            c.remote_errors,
            c.remote_dropped
        )
    };
    format!(
        "cacheprog budget: {}; {leases}; {} hits, {} misses, {} puts ({}), {} evicted ({}), {} errors{remote}{since}",
        if budget.is_empty() {
            "none".to_string()
        } else {
            budget.join(", ")
        },
        c.hits,
        c.misses,
        c.puts,
        format_bytes(c.put_bytes),
        c.evicted_entries,
        format_bytes(c.evicted_bytes),
        c.errors,
    )
}

#[cfg(all(test, feature = "remote"))]
mod remote_prune_tests {
    use crate::cacheprog::remote::prune::RemotePruneOutcome;

    #[test]
    fn the_report_counts_manifests() {
        let o = RemotePruneOutcome {
            url: "s3://b/p".into(),
            actions: 3,
            outputs: 2,
            manifests: 4,
            removed_manifests: 1,
            ..RemotePruneOutcome::default()
        };
        let text = super::remote_prune(&o);
        assert!(text.contains("manifests: 4 (removed 1)\n"), "{text}");
        let dry = super::remote_prune(&RemotePruneOutcome {
            manifests: 2,
            dry_run: true,
            ..RemotePruneOutcome::default()
        });
        assert!(dry.contains("manifests: 2 (would remove 0)\n"), "{dry}");
        let none = super::remote_prune(&RemotePruneOutcome::default());
        assert!(!none.contains("manifests"), "{none}");
    }
}
