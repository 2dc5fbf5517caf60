//! `gh-cache list|prune`: the Go caches in the repository's GitHub Actions cache storage.

use std::time::Duration;

#[cfg(feature = "gh-cache")]
use anyhow::Context as _;

#[cfg(feature = "gh-cache")]
use crate::Error;
#[cfg(feature = "gh-cache")]
use crate::exit_codes::ExitCode;

#[cfg(feature = "gh-cache")]
use super::Document;
use super::Outcome;
use crate::settings::Format;
use crate::units::Size;

/// What `gh-cache` is asked to do.
#[derive(Debug)]
pub struct GhCacheRequest {
    /// OWNER/NAME [default: $GITHUB_REPOSITORY].
    pub repo: Option<String>,
    /// The API token [default: $GITHUB_TOKEN, else $GH_TOKEN].
    pub token: Option<String>,
    /// The API's root URL [default: $GITHUB_API_URL, else `https://api.github.com`].
    pub api_url: Option<String>,
    /// Only caches whose key starts with one of these [prune: default setup-go-; list: all].
    pub key_prefixes: Vec<String>,
    pub format: Format,
    /// `prune`'s goals; `None` for `list`.
    pub prune: Option<GhCachePrune>,
}

/// What `gh-cache prune` deletes.
#[derive(Debug)]
pub struct GhCachePrune {
    pub closed_prs: bool,
    pub keep_per_ref: Option<usize>,
    pub older_than: Option<Duration>,
    pub max_total: Option<Size>,
    pub dry_run: bool,
}

/// Lists or prunes the caches; the report goes to the job summary too inside GitHub Actions.
#[cfg(feature = "gh-cache")]
pub fn run(args: GhCacheRequest) -> anyhow::Result<Outcome> {
    use crate::ghcache;
    // The flags are checked before the environment is read.
    let prune = match args.prune {
        None => None,
        Some(prune) => {
            let dry_run = prune.dry_run;
            Some((prune_policy(args.key_prefixes.clone(), prune)?, dry_run))
        }
    };
    let target = target(args.repo, args.token, args.api_url)?;
    let report = match prune {
        None => ghcache::list(&target, &args.key_prefixes)?,
        Some((policy, dry_run)) => ghcache::prune(&target, &policy, dry_run)?,
    };
    let markdown = ghcache::markdown(&report);
    if let Some(summary) = env("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(markdown.as_bytes()))
            .with_context(|| format!("writing the job summary {summary}"))?;
    }
    let text = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s
        }
        Format::Markdown => markdown,
        Format::Text => ghcache::text(&report),
    };
    let exit = if report.error.is_some() {
        ExitCode::Runtime
    } else {
        ExitCode::Ok
    };
    Ok(Outcome::Document(Document {
        text,
        written_to: None,
        summary: String::new(),
        json: matches!(args.format, Format::Json),
        log: String::new(),
        error: report.error,
        exit,
    }))
}

/// An environment variable's value; unset when empty, as GitHub Actions passes unset inputs.
#[cfg(feature = "gh-cache")]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The repository and API to talk to: the flags, else GitHub Actions' variables.
#[cfg(feature = "gh-cache")]
fn target(
    repo: Option<String>,
    token: Option<String>,
    api_url: Option<String>,
) -> anyhow::Result<crate::ghcache::Target> {
    let repo = repo.or_else(|| env("GITHUB_REPOSITORY")).ok_or_else(|| {
        Error::Usage(
            "gh-cache: no repository: give --repo OWNER/NAME or set GITHUB_REPOSITORY".into(),
        )
    })?;
    if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
        return Err(Error::Usage(format!("--repo: expected OWNER/NAME, got {repo:?}")).into());
    }
    let token = token
        .or_else(|| env("GITHUB_TOKEN"))
        .or_else(|| env("GH_TOKEN"))
        .ok_or_else(|| {
            Error::Usage("gh-cache: no token: give --token or set GITHUB_TOKEN or GH_TOKEN".into())
        })?;
    Ok(crate::ghcache::Target {
        api_url: api_url
            .or_else(|| env("GITHUB_API_URL"))
            .unwrap_or_else(|| "https://api.github.com".into()),
        repo,
        token,
    })
}

/// What `gh-cache prune` deletes: caches whose key starts with one of `prefixes` (`setup-go-`
/// when none is given), by the goals of `prune`, of which there must be one.
#[cfg(feature = "gh-cache")]
fn prune_policy(
    mut prefixes: Vec<String>,
    prune: GhCachePrune,
) -> anyhow::Result<crate::ghcache::policy::Policy> {
    let max_total = match prune.max_total {
        None => None,
        Some(Size::Bytes(b)) => Some(b),
        Some(Size::Percent(_)) => {
            return Err(
                Error::Usage("--max-total: a size such as 5GB, not a percentage".into()).into(),
            );
        }
    };
    if prefixes.is_empty() {
        prefixes.push("setup-go-".into());
    }
    if !prune.closed_prs
        && prune.keep_per_ref.is_none()
        && prune.older_than.is_none()
        && max_total.is_none()
    {
        return Err(Error::Usage(
            "gh-cache prune: nothing to do: give --closed-prs, --keep-per-ref, --older-than or \
             --max-total"
                .into(),
        )
        .into());
    }
    Ok(crate::ghcache::policy::Policy {
        key_prefixes: prefixes,
        closed_prs: prune.closed_prs,
        keep_per_ref: prune.keep_per_ref,
        older_than: prune.older_than,
        max_total,
    })
}

#[cfg(not(feature = "gh-cache"))]
pub fn run(_: GhCacheRequest) -> anyhow::Result<Outcome> {
    Err(crate::Error::Usage(
        "gh-cache: this go-disk-guard was built without the gh-cache feature".into(),
    )
    .into())
}
