//! Progress on stderr: a bar on a terminal, and in CI (no terminal) one line every few seconds
//! so that a long prune shows it is alive without flooding the log. The label (which names a
//! path) is shown escaped, as one line that starts no workflow command.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::escape;
use crate::policy::format_bytes;

/// How often the plain-line mode reports.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Counts deleted entries and bytes; safe to share between threads.
pub struct Progress {
    label: String,
    total: u64,
    done: AtomicU64,
    bytes: AtomicU64,
    mode: Mode,
}

enum Mode {
    Bar(ProgressBar),
    Lines { last: Mutex<Instant> },
}

impl Progress {
    /// Progress over `total` entries. A bar when stderr is a terminal, else plain lines.
    pub fn new(label: impl Into<String>, total: u64) -> Progress {
        let label = escape::line(&label.into()).into_owned();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let mode = if std::io::stderr().is_terminal() && !dumb {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} entries ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(label.clone());
            Mode::Bar(bar)
        } else {
            Mode::Lines {
                last: Mutex::new(Instant::now()),
            }
        };
        Progress {
            label,
            total,
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            mode,
        }
    }

    /// Records one more entry of `bytes` handled.
    pub fn inc(&self, bytes: u64) {
        // Sizes come from the filesystem (a sparse file claims up to 2^63 − 1 bytes): the
        // sums saturate.
        let add = |counter: &AtomicU64, n: u64| {
            let before = counter
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    Some(c.saturating_add(n))
                })
                .unwrap_or_else(|c| c);
            before.saturating_add(n)
        };
        let done = add(&self.done, 1);
        let bytes = add(&self.bytes, bytes);
        match &self.mode {
            Mode::Bar(bar) => bar.set_position(done),
            Mode::Lines { last } => {
                let Ok(mut last) = last.try_lock() else {
                    return;
                };
                if last.elapsed() >= LINE_INTERVAL {
                    *last = Instant::now();
                    let line = format!(
                        "{}: {done}/{} entries, {}",
                        self.label,
                        self.total,
                        format_bytes(bytes)
                    );
                    eprintln!("{}", escape::guard(&line));
                }
            }
        }
    }

    /// Removes the bar, if any.
    pub fn finish(&self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}
