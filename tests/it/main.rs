//! The integration tests, in one binary (one link, one run), as modules by subject. Shared
//! helpers live in `common`.
//!
//! A test that needs what a plain `cargo test` cannot count on — root for a mount, a Go
//! toolchain, nektos/act, SeaweedFS, Wine, Python with jsonschema, dash, fish, rclone — is
//! `#[ignore]`d, saying what it needs. Run with `-- --include-ignored` (as `.ci/run` does), it
//! fails when that is missing: none returns early and passes.

mod common;
#[cfg(unix)]
#[path = "../../src/hostile.rs"]
mod hostile;

#[cfg(target_os = "linux")]
mod act;
#[cfg(unix)]
mod action;
#[cfg(target_os = "linux")]
mod adversarial;
mod architecture;
#[cfg(unix)]
mod cacheprog;
#[cfg(all(unix, feature = "remote"))]
mod cacheprog_remote;
mod cli;
mod docs;
#[cfg(unix)]
mod doctor;
#[cfg(unix)]
mod emit;
#[cfg(feature = "gh-cache")]
mod gh_cache;
#[cfg(target_os = "linux")]
mod go_values;
#[cfg(target_os = "linux")]
mod gotmpdir;
#[cfg(unix)]
mod log_safety;
#[cfg(target_os = "linux")]
mod quota;
#[cfg(unix)]
mod real_go;
#[cfg(unix)]
mod refusal;
#[cfg(unix)]
mod relocate;
#[cfg(unix)]
mod run;
mod scan;
#[cfg(target_os = "linux")]
mod stale_work;
#[cfg(windows)]
mod windows;
#[cfg(target_os = "linux")]
mod wine;
