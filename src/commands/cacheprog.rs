//! `cacheprog`: serve the go command's build cache within a budget (GOCACHEPROG).

use std::path::PathBuf;
use std::time::Duration;

use super::Outcome;
use crate::cacheprog::RemoteOptions;
use crate::settings::{BoolKind, Kind as _};
use crate::units::Size;

/// The environment variable that makes the remote tier read-only, as `--remote-read-only`
/// does (a job can set it for untrusted builds without changing GOCACHEPROG).
pub const REMOTE_READ_ONLY_ENV: &str = "GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY";

/// What `cacheprog` was asked to serve.
#[derive(Clone, Debug)]
pub struct CacheprogRequest {
    /// `--dir`.
    pub dir: PathBuf,
    /// `--max-size`.
    pub max_size: Option<Size>,
    /// `--min-free`.
    pub min_free: Option<Size>,
    /// `--remote` and its options.
    pub remote: Option<RemoteRequest>,
}

/// The remote tier as the flags ask for it.
#[derive(Clone, Debug)]
pub struct RemoteRequest {
    /// `--remote s3://BUCKET[/PREFIX]`.
    pub url: String,
    /// `--remote-read-only`.
    pub read_only: bool,
    /// `--remote-flush-timeout`.
    pub flush_timeout: Option<Duration>,
}

/// `cacheprog`: serves stdin/stdout until the go command closes the cache.
pub fn run(request: CacheprogRequest) -> anyhow::Result<Outcome> {
    if request.max_size.is_none() && request.min_free.is_none() {
        return Err(crate::Error::Usage(
            "cacheprog needs a budget: --max-size SIZE, --min-free SIZE|PCT, or both".into(),
        )
        .into());
    }
    let remote = match request.remote {
        Some(remote) => Some(remote_options(remote, |name| std::env::var_os(name))?),
        None => None,
    };
    let options = crate::cacheprog::ServeOptions {
        dir: request.dir,
        max_size: request.max_size,
        min_free: request.min_free,
        workers: std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8),
        remote,
    };
    crate::cacheprog::serve(&options, std::io::stdin(), std::io::stdout())?;
    Ok(Outcome::Served)
}

/// The remote tier's options: the flags, [`REMOTE_READ_ONLY_ENV`] read through `get` (empty
/// counts as unset), and the flush timeout's default.
fn remote_options(
    request: RemoteRequest,
    get: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<RemoteOptions, crate::Error> {
    let from_env = match get(REMOTE_READ_ONLY_ENV) {
        None => false,
        Some(raw) => {
            let origin = format!("environment variable {REMOTE_READ_ONLY_ENV}");
            let text = raw.to_str().ok_or_else(|| {
                crate::Error::Usage(format!(
                    "{origin}: its value {} is not UTF-8",
                    crate::escape::os(&raw)
                ))
            })?;
            !text.trim().is_empty() && BoolKind::parse(text, &origin)?
        }
    };
    Ok(RemoteOptions {
        url: request.url,
        read_only: request.read_only || from_env,
        flush_timeout: request
            .flush_timeout
            .unwrap_or(crate::policy::remote::FLUSH_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(read_only: bool) -> RemoteRequest {
        RemoteRequest {
            url: "s3://bucket/prefix".into(),
            read_only,
            flush_timeout: None,
        }
    }

    #[test]
    fn read_only_by_flag_or_by_variable() {
        fn with(value: Option<&'static str>) -> impl Fn(&str) -> Option<std::ffi::OsString> {
            move |name| {
                assert_eq!(name, REMOTE_READ_ONLY_ENV);
                value.map(Into::into)
            }
        }
        let options = remote_options(request(false), with(None)).unwrap();
        assert!(!options.read_only);
        assert_eq!(options.flush_timeout, crate::policy::remote::FLUSH_TIMEOUT);
        assert!(remote_options(request(true), with(None)).unwrap().read_only);
        assert!(
            remote_options(request(false), with(Some("true")))
                .unwrap()
                .read_only
        );
        assert!(
            remote_options(request(false), with(Some("on")))
                .unwrap()
                .read_only
        );
        assert!(
            !remote_options(request(false), with(Some("")))
                .unwrap()
                .read_only
        );
        assert!(
            !remote_options(request(false), with(Some("0")))
                .unwrap()
                .read_only
        );
        // The flag wins over a variable saying false; a value that is no boolean is an error
        // naming the variable.
        assert!(
            remote_options(request(true), with(Some("false")))
                .unwrap()
                .read_only
        );
        let e = remote_options(request(false), with(Some("maybe"))).unwrap_err();
        assert!(e.to_string().contains(REMOTE_READ_ONLY_ENV), "{e}");
    }
}
