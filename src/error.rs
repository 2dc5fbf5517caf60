//! Typed errors for the cases a caller branches on.
//!
//! Everything else travels as [`anyhow::Error`] with context; [`crate::exit_codes::of_error`]
//! maps an error to an exit code by looking for an [`Error`] in its chain.

use std::path::PathBuf;

/// An error a caller may want to tell apart from a plain runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value (size, percentage, duration) that does not parse. `origin` names where it came
    /// from: a flag, an environment variable or a key of the configuration file.
    #[error("{origin}: invalid {what} {value:?}: {reason}")]
    InvalidValue {
        origin: String,
        what: &'static str,
        value: String,
        reason: String,
    },

    /// The configuration file could not be read or has a syntax error or an unknown key.
    #[error("configuration file {}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    /// Settings that are each valid but contradict each other, or a command given nothing to do.
    #[error("{0}")]
    Usage(String),

    /// A directory that was to be pruned is not a Go build cache, or is one that must never be
    /// touched. Nothing was deleted.
    #[error("refusing to prune {}: {reason}", path.display())]
    NotABuildCache { path: PathBuf, reason: String },

    /// `cacheprog` was sent something the GOCACHEPROG protocol does not allow.
    #[error("cacheprog: {0}")]
    Protocol(String),
}
