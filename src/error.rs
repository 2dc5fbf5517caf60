//! Typed errors for the cases a caller branches on, and the documented exit codes.
//!
//! Everything else travels as [`anyhow::Error`] with context; `main` maps an error to an exit
//! code by looking for an [`Error`] in its chain.

use std::path::PathBuf;

/// The process exit codes. They are part of the interface and never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything is within limits (possibly after pruning).
    Ok = 0,
    /// Something failed at run time: I/O, an unexpected `go env` failure, …
    Runtime = 1,
    /// The command line, the environment or the configuration file is wrong.
    Usage = 2,
    /// Available space stayed below the hard limit on a watched volume.
    HardLimit = 3,
    /// `doctor` found an error-level problem.
    Unhealthy = 4,
}

impl ExitCode {
    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }
}

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

impl Error {
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::InvalidValue { .. } | Error::Config { .. } | Error::Usage(_) => ExitCode::Usage,
            Error::NotABuildCache { .. } | Error::Protocol(_) => ExitCode::Usage,
        }
    }
}

/// The exit code for any error: the code of the first [`Error`] in its chain, else
/// [`ExitCode::Runtime`].
pub fn exit_code_of(err: &anyhow::Error) -> ExitCode {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .map_or(ExitCode::Runtime, Error::exit_code)
}
