//! `cacheprog`: serve the go command's build cache within a budget (GOCACHEPROG).

use std::path::PathBuf;

use super::Outcome;
use crate::units::Size;

/// `cacheprog`: serves stdin/stdout until the go command closes the cache.
pub fn run(
    dir: PathBuf,
    max_size: Option<Size>,
    min_free: Option<Size>,
) -> anyhow::Result<Outcome> {
    if max_size.is_none() && min_free.is_none() {
        return Err(crate::Error::Usage(
            "cacheprog needs a budget: --max-size SIZE, --min-free SIZE|PCT, or both".into(),
        )
        .into());
    }
    let options = crate::cacheprog::ServeOptions {
        dir,
        max_size,
        min_free,
        workers: std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8),
    };
    crate::cacheprog::serve(&options, std::io::stdin(), std::io::stdout())?;
    Ok(Outcome::Served)
}
