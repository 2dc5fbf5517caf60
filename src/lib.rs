//! go-disk-guard keeps Go builds in CI from dying of a full disk.
//!
//! One pass, in one direction: **measure** ([`goenv`] finds Go's directories as the go
//! command does, [`disk`] measures the volumes holding them) → **decide** ([`policy`]: settings
//! and the plan) → **act** ([`prune`] removes build-cache entries least recently used first,
//! from a [`buildcache`] verified to be Go's) → **tell** ([`report`]: text, JSON, Markdown; [`emit`]: the environment handed to the
//! job, for GitHub Actions, Jenkins and shells).
//! [`commands`] strings the stages together for each subcommand.

pub mod buildcache;
pub mod cacheprog;
pub mod commands;
pub mod disk;
pub mod doctor;
pub mod emit;
pub mod error;
pub mod escape;
#[cfg(feature = "gh-cache")]
pub mod ghcache;
pub mod goenv;
#[cfg(test)]
pub(crate) mod hostile;
pub mod policy;
pub mod progress;
pub mod prune;
pub mod relocate;
pub mod report;
pub mod safefs;
pub mod scan;
pub mod settings;
pub mod supervise;
#[cfg(test)]
mod testing;
pub mod units;

pub use error::{Error, ExitCode};
