//! `gh-cache`: the Go caches kept in a repository's GitHub Actions cache storage.
//!
//! actions/setup-go and actions/cache save the build and module caches there per key; the
//! store has a size cap and fills with entries of old branches and closed pull requests,
//! after which GitHub evicts what it likes. `gh-cache list` shows the store; `gh-cache prune`
//! deletes by [`policy`], in order: caches of gone refs and closed pull requests, all but the
//! newest N per ref and key prefix, caches unused for too long, then the least recently
//! accessed until the selection fits a total. [`api`] talks to the REST API through
//! octocrab. An error midway stops further deletions; the report says what was deleted and
//! what was not. Keys, refs, reasons and error messages come from the server or the inputs:
//! the text and Markdown forms show them escaped ([`escape`]).

pub mod api;
pub mod policy;

use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;

use crate::escape;
use crate::units::ago;
use crate::units::format_bytes;
use policy::{Cache, Plan, Policy};

/// Where and as whom.
#[derive(Clone, Debug)]
pub struct Target {
    /// `https://api.github.com`, or a GitHub Enterprise Server's `https://HOST/api/v3`.
    pub api_url: String,
    /// `OWNER/NAME`.
    pub repo: String,
    pub token: String,
}

/// What happened to one planned deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionFate {
    Deleted,
    /// It was gone when asked to delete it.
    AlreadyGone,
    /// A dry run.
    WouldDelete,
    /// The deletion failed: nothing after it was attempted.
    Failed,
    NotAttempted,
}

/// One planned deletion and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct DeletionRecord {
    #[serde(flatten)]
    pub cache: Cache,
    pub reason: String,
    pub fate: DeletionFate,
}

/// What `gh-cache list` or `prune` saw and did.
#[derive(Clone, Debug, Serialize)]
pub struct GhCacheReport {
    pub schema_version: u32,
    pub command: &'static str,
    pub repo: String,
    pub dry_run: bool,
    /// Every cache of the repository.
    pub total_caches: usize,
    pub total_bytes: u64,
    pub key_prefixes: Vec<String>,
    /// Caches with a selected prefix, and their bytes, before and after.
    pub selected_caches: usize,
    pub selected_bytes: u64,
    pub kept_bytes: u64,
    pub deletions: Vec<DeletionRecord>,
    /// `list`: the selected caches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<Cache>,
    /// The error that stopped the deletions.
    pub error: Option<String>,
}

impl GhCacheReport {
    pub fn count(&self, fate: DeletionFate) -> usize {
        self.deletions.iter().filter(|d| d.fate == fate).count()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Lists the caches whose key has one of the prefixes (all when none).
pub fn list(target: &Target, prefixes: &[String]) -> anyhow::Result<GhCacheReport> {
    runtime()?.block_on(async {
        let client = api::Client::new(&target.api_url, &target.repo, &target.token)?;
        let all = client.list_caches().await?;
        let mut selected: Vec<Cache> = all
            .iter()
            .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| c.key.starts_with(p)))
            .cloned()
            .collect();
        selected.sort_by_key(|c| std::cmp::Reverse(c.last_accessed_at));
        let selected_bytes = policy::total_bytes(&selected);
        Ok(GhCacheReport {
            schema_version: 1,
            command: "gh-cache list",
            repo: target.repo.clone(),
            dry_run: false,
            total_caches: all.len(),
            total_bytes: policy::total_bytes(&all),
            key_prefixes: prefixes.to_vec(),
            selected_caches: selected.len(),
            selected_bytes,
            kept_bytes: selected_bytes,
            deletions: Vec::new(),
            caches: selected,
            error: None,
        })
    })
}

/// Plans by `policy` and deletes (or, in a dry run, lists). An API error while deleting
/// stops the deletions and is recorded in the report (`error`), not returned.
pub fn prune(target: &Target, policy: &Policy, dry_run: bool) -> anyhow::Result<GhCacheReport> {
    runtime()?.block_on(async {
        let client = api::Client::new(&target.api_url, &target.repo, &target.token)?;
        let all = client.list_caches().await?;
        let refs = if policy.closed_prs {
            let selected = all.iter().filter(|c| {
                policy
                    .key_prefixes
                    .iter()
                    .any(|p| c.key.starts_with(p.as_str()))
            });
            client
                .ref_states(selected.map(|c| c.git_ref.as_str()))
                .await?
        } else {
            Default::default()
        };
        let plan: Plan = policy::plan(&all, &refs, policy, SystemTime::now());
        let mut report = GhCacheReport {
            schema_version: 1,
            command: "gh-cache prune",
            repo: target.repo.clone(),
            dry_run,
            total_caches: all.len(),
            total_bytes: policy::total_bytes(&all),
            key_prefixes: policy.key_prefixes.clone(),
            selected_caches: plan.deletions.len() + plan.kept.len(),
            selected_bytes: plan.selected_bytes,
            kept_bytes: plan.kept_bytes,
            deletions: Vec::new(),
            caches: Vec::new(),
            error: None,
        };
        for d in plan.deletions {
            let fate = if dry_run {
                DeletionFate::WouldDelete
            } else if report.error.is_some() {
                DeletionFate::NotAttempted
            } else {
                match client.delete(d.cache.id).await {
                    Ok(true) => DeletionFate::Deleted,
                    Ok(false) => DeletionFate::AlreadyGone,
                    Err(e) => {
                        report.error = Some(format!(
                            "deleting cache {} ({}): {e}",
                            d.cache.id, d.cache.key
                        ));
                        DeletionFate::Failed
                    }
                }
            };
            report.deletions.push(DeletionRecord {
                cache: d.cache,
                reason: d.reason,
                fate,
            });
        }
        // What did not go stays.
        let not_deleted: u64 = report
            .deletions
            .iter()
            .filter(|d| matches!(d.fate, DeletionFate::Failed | DeletionFate::NotAttempted))
            .fold(0u64, |sum, d| sum.saturating_add(d.cache.size_in_bytes));
        report.kept_bytes = report.kept_bytes.saturating_add(not_deleted);
        Ok(report)
    })
}

/// The report as text.
pub fn text(r: &GhCacheReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "{}: {} caches, {} in all; {} with prefix {} ({})",
        escape::line(&r.repo),
        r.total_caches,
        format_bytes(r.total_bytes),
        r.selected_caches,
        if r.key_prefixes.is_empty() {
            "(any)".to_string()
        } else {
            escape::line(&r.key_prefixes.join(", ")).into_owned()
        },
        format_bytes(r.selected_bytes)
    );
    for c in &r.caches {
        let _ = writeln!(
            w,
            "  {:>10}  {:<24}  {}  (id {}, last used {})",
            format_bytes(c.size_in_bytes),
            escape::line(&c.git_ref),
            escape::line(&c.key),
            c.id,
            c.last_accessed_at.map_or("?".into(), ago)
        );
    }
    for d in &r.deletions {
        let verb = fate_name(d.fate);
        let _ = writeln!(
            w,
            "  {verb:<13} {} {} ({}, {}): {}",
            d.cache.id,
            escape::line(&d.cache.key),
            escape::line(&d.cache.git_ref),
            format_bytes(d.cache.size_in_bytes),
            escape::line(&d.reason)
        );
    }
    if r.command == "gh-cache prune" {
        let done = r.count(DeletionFate::Deleted) + r.count(DeletionFate::AlreadyGone);
        let _ = writeln!(
            w,
            "{} {} of {} planned; the selected caches now take {}",
            if r.dry_run { "would delete" } else { "deleted" },
            if r.dry_run {
                r.count(DeletionFate::WouldDelete)
            } else {
                done
            },
            r.deletions.len(),
            format_bytes(r.kept_bytes)
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(
            w,
            "stopped: {}; {} not attempted",
            escape::line(e),
            r.count(DeletionFate::NotAttempted)
        );
    }
    out
}

fn fate_name(fate: DeletionFate) -> &'static str {
    match fate {
        DeletionFate::Deleted => "deleted",
        DeletionFate::AlreadyGone => "already gone",
        DeletionFate::WouldDelete => "would delete",
        DeletionFate::Failed => "failed",
        DeletionFate::NotAttempted => "not attempted",
    }
}

/// The report as Markdown, for the job summary: every key, ref, reason and message is
/// literal text ([`escape::markdown`], [`escape::markdown_code`]).
pub fn markdown(r: &GhCacheReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "### go-disk-guard {}: {}\n",
        r.command,
        escape::markdown(&r.repo)
    );
    let _ = writeln!(
        w,
        "{} caches ({}); selected by prefix: {} ({}); after: {}.\n",
        r.total_caches,
        format_bytes(r.total_bytes),
        r.selected_caches,
        format_bytes(r.selected_bytes),
        format_bytes(r.kept_bytes)
    );
    if !r.deletions.is_empty() {
        let _ = writeln!(
            w,
            "| cache | ref | size | outcome | reason |\n|---|---|---|---|---|"
        );
        for d in &r.deletions {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                escape::markdown_code(&d.cache.key),
                escape::markdown_code(&d.cache.git_ref),
                format_bytes(d.cache.size_in_bytes),
                fate_name(d.fate),
                escape::markdown(&d.reason)
            );
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(w, "\n**Stopped:** {}", escape::markdown(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    /// A prune report whose keys, refs, reasons, prefixes and error hold `value`.
    fn sample(value: &str) -> GhCacheReport {
        let cache = Cache {
            id: 7,
            git_ref: value.to_string(),
            key: value.to_string(),
            size_in_bytes: 1000,
            last_accessed_at: None,
            created_at: None,
        };
        GhCacheReport {
            schema_version: 1,
            command: "gh-cache prune",
            repo: value.to_string(),
            dry_run: false,
            total_caches: 1,
            total_bytes: 1000,
            key_prefixes: vec![value.to_string()],
            selected_caches: 1,
            selected_bytes: 1000,
            kept_bytes: 0,
            deletions: vec![DeletionRecord {
                cache: cache.clone(),
                reason: value.to_string(),
                fate: DeletionFate::Failed,
            }],
            caches: vec![cache],
            error: Some(value.to_string()),
        }
    }

    #[test]
    fn server_text_cannot_break_the_summary_or_the_log() {
        let evil = "refs/heads/x`|<img src=x>\n::error::owned ##[error]y [l](http://e)";
        let md = markdown(&sample(evil));
        let plain = markdown(&sample("x"));
        for c in ['`', '|', '<', '>', '[', ']', '(', ')', '\n', '!', '#'] {
            assert_eq!(
                hostile::outside_references(&md).matches(c).count(),
                hostile::outside_references(&plain).matches(c).count(),
                "{c:?} in {md}"
            );
        }
        let shown = text(&sample(evil));
        assert_eq!(shown.lines().count(), text(&sample("x")).lines().count());
        for l in hostile::runner_lines(&shown) {
            assert!(!hostile::is_command(l), "{l:?}");
        }
    }

    /// Found by the property test below: a repository named `:` began the text's first
    /// line, `{repo}: …`, with `::`.
    #[test]
    fn regression_a_repository_named_colon_starts_no_command() {
        let shown = text(&sample(":"));
        for l in hostile::runner_lines(&shown) {
            assert!(!hostile::is_command(l), "{l:?}");
        }
        assert!(shown.starts_with("\\x3a: 1 caches"), "{shown}");
    }

    proptest! {
        #![proptest_config(crate::testing::budget(128))]

        #[test]
        fn no_server_text_adds_a_line_a_command_or_markup(value in hostile::text()) {
            prop_assume!(!value.is_empty());
            let shown = text(&sample(&value));
            prop_assert_eq!(
                hostile::runner_lines(&shown).len(),
                hostile::runner_lines(&text(&sample("x"))).len()
            );
            for l in hostile::runner_lines(&shown) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
            let md = hostile::outside_references(&markdown(&sample(&value)));
            let plain = hostile::outside_references(&markdown(&sample("x")));
            for c in ['`', '|', '<', '>', '[', ']', '(', ')', '\n', '\r', '!', '*', '_', '\\'] {
                prop_assert_eq!(md.matches(c).count(), plain.matches(c).count(), "{:?}", c);
            }
        }
    }
}
