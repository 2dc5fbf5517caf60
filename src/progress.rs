//! Progress on stderr: a bar on a terminal, and in CI (no terminal) one line every few seconds
//! so that a long prune shows it is alive without flooding the log. The label (which names a
//! path) is shown escaped, as one line that starts no workflow command.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::escape;
use crate::units::format_bytes;

/// How often the plain-line mode reports.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Variables whose presence says the process runs in CI: GitHub Actions and most CI systems
/// set `CI`, Jenkins sets `JENKINS_URL`.
const CI_VARIABLES: &[&str] = &["CI", "GITHUB_ACTIONS", "JENKINS_URL"];

/// Whether progress is a bar: only on a terminal that is not `dumb`, and never in CI, where a
/// runner may give steps a terminal but the log keeps every redraw, and a workflow command
/// printed after a bar lands on the bar's line, where the runner does not read it.
fn draws_a_bar(terminal: bool, var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let dumb = var("TERM").is_some_and(|t| t == "dumb");
    terminal && !dumb && !CI_VARIABLES.iter().any(|name| set(name))
}

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
        let mode = if draws_a_bar(std::io::stderr().is_terminal(), |name| {
            std::env::var_os(name)
        }) {
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::draws_a_bar;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_bar_only_on_a_terminal_outside_ci() {
        assert!(draws_a_bar(true, env(&[("TERM", "xterm")])));
        assert!(!draws_a_bar(false, env(&[])));
        assert!(!draws_a_bar(true, env(&[("TERM", "dumb")])));
        for ci in ["CI", "GITHUB_ACTIONS", "JENKINS_URL"] {
            assert!(!draws_a_bar(true, env(&[(ci, "true")])), "{ci}");
        }
        // An empty variable is unset, as the runners pass empty values.
        assert!(draws_a_bar(true, env(&[("CI", "")])));
    }
}
