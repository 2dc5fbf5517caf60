//! go-disk-guard keeps Go builds in CI from dying of a full disk.
//!
//! Data flows one way: **measure** (where Go's directories are and how full their volumes) →
//! **decide** (prune? how far? move? how does the run end?) → **act** (prune, relocate, serve
//! the cache) → **tell** (the report, the environment handed to the job). Imports run the
//! other way, downwards only, with no cycle (`tests/it/architecture.rs` holds the code to it):
//!
//! * commands — [`commands`]: one file per subcommand; loads settings, calls the library,
//!   returns one outcome (a report or a document, and its exit code).
//! * tell — [`report`]: the report as text, JSON, Markdown; [`emit`]: the environment handed
//!   to GitHub Actions, Jenkins and shells; [`doctor`]: what is wrong with a Go setup.
//! * decide — [`policy`]: the plan (which cache to prune, how far), the verdict and its exit
//!   code, and the other choices the mechanisms below are told, never make.
//! * act — [`prune`]: removes build-cache entries least recently used first, and stale work
//!   directories; [`relocate`]: moves Go's directories to a volume with room; [`cacheprog`]:
//!   the GOCACHEPROG server; [`supervise`]: guards a build while it runs.
//! * measure — [`goenv`]: Go's directories as the go command resolves them; [`disk`]: the
//!   volumes holding them; [`buildcache`]: a directory verified to be Go's build cache.
//! * leaves, importing only each other — [`units`]: sizes, durations, byte counts, times,
//!   percent-encoding; [`settings`]: every setting, its sources and defaults; [`error`]: the
//!   typed errors; [`exit_codes`]: the exit codes and the one mapping to them; [`escape`]:
//!   untrusted text made safe to print; [`safefs`]: the one way files are deleted and state
//!   written; [`progress`]: a progress line on stderr.
//! * apart, importing leaves only — [`scan`]: hard-coded Go paths in a source tree;
//!   [`ghcache`]: the Go caches in GitHub's Actions cache storage.

pub mod buildcache;
pub mod cacheprog;
pub mod commands;
pub mod disk;
pub mod doctor;
pub mod emit;
pub mod error;
pub mod escape;
pub mod exit_codes;
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

pub use error::Error;
pub use exit_codes::ExitCode;
