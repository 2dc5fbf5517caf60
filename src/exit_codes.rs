//! The process exit codes, and the one mapping from an outcome to them.
//!
//! They are part of the interface and never change meaning; `--help` and the README list them
//! from [`MEANINGS`]. A leaf: it imports nothing of the crate but the error type it maps.

use crate::error::Error;

/// The process exit codes.
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
    /// `doctor` found an error-level problem; `scan` found a path at or above `--fail-on`.
    Unhealthy = 4,
}

/// Each exit code and what it means, as `--help` prints it.
pub const MEANINGS: &[(ExitCode, &str)] = &[
    (
        ExitCode::Ok,
        "every watched volume is above its hard limit (after pruning, if any)",
    ),
    (
        ExitCode::Runtime,
        "runtime error (I/O, an unreadable directory, …)",
    ),
    (
        ExitCode::Usage,
        "usage or configuration error (bad flag, value, YAML file, or a directory that is not a Go build cache)",
    ),
    (
        ExitCode::HardLimit,
        "a watched volume is below its hard limit after pruning",
    ),
    (
        ExitCode::Unhealthy,
        "doctor found an error-level problem; scan found a path at or above --fail-on",
    ),
];

impl ExitCode {
    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit code an error maps to: [`ExitCode::Usage`] for a bad value, file, setting or
/// directory and for input that breaks the GOCACHEPROG protocol (the first [`Error`] in its
/// chain decides), else [`ExitCode::Runtime`].
pub fn of_error(err: &anyhow::Error) -> ExitCode {
    match err.chain().find_map(|cause| cause.downcast_ref::<Error>()) {
        Some(
            Error::InvalidValue { .. }
            | Error::Config { .. }
            | Error::Usage(_)
            | Error::NotABuildCache { .. }
            | Error::Protocol(_),
        ) => ExitCode::Usage,
        None => ExitCode::Runtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_meaning_in_order() {
        let codes: Vec<u8> = MEANINGS.iter().map(|(c, _)| c.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn typed_errors_are_usage_errors_anywhere_in_the_chain() {
        let err = anyhow::Error::from(Error::Usage("x".into())).context("while doing y");
        assert_eq!(of_error(&err), ExitCode::Usage);
        assert_eq!(
            of_error(&anyhow::anyhow!("disk on fire")),
            ExitCode::Runtime
        );
    }
}
