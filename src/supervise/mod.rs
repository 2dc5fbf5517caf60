//! `run`: guard a build while it runs.
//!
//! The command starts with inherited stdio and the Go environment the check decided on. While
//! it runs, the watched volumes are measured every `interval` (one statvfs each). Below soft,
//! the build cache on that volume is pruned in the background, at most one prune at a time,
//! without pausing the command (not in a dry run, where pruning could free nothing). Below hard, a running prune is awaited (or one is run), and if
//! the volume is still below hard the command is stopped: SIGTERM to its process group (a job
//! object on Windows), SIGKILL after `grace`. Otherwise the guard ends with the command's own
//! exit code (128 + signal when a signal ended it).

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "windows.rs"]
mod sys;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde::Serialize;

use crate::buildcache::BuildCache;
use crate::disk;
use crate::escape;
use crate::policy;
use crate::prune::{self, PruneOutcome};
use crate::settings::Limits;
use crate::units::{format_bytes, format_bytes_pair};

/// A volume to watch while the command runs.
#[derive(Clone, Debug)]
pub struct Watch {
    pub mount_point: PathBuf,
    /// An existing path on the volume, to measure.
    pub resolved: PathBuf,
    pub limits: Limits,
    /// Whether the build cache lives on this volume (so pruning can help it).
    pub holds_cache: bool,
}

/// How to supervise.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub interval: Duration,
    pub grace: Duration,
}

/// What happened while the command ran.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    pub command: Vec<String>,
    /// The guard's exit code: the command's, or the hard-limit code when it was stopped.
    pub exit_code: u8,
    /// Why the command was stopped, if it was.
    pub stopped: Option<String>,
    pub duration_ms: u64,
    /// The least available space seen on any watched volume, where and when.
    pub lowest_available_bytes: Option<u64>,
    pub lowest_volume: Option<PathBuf>,
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub lowest_at: Option<SystemTime>,
    /// Pruning while the command ran.
    pub prunes: u32,
    pub pruned_bytes: u64,
    pub pruned_files: u64,
}

/// Runs `argv` with `env` added, under watch.
pub fn supervise(
    argv: &[OsString],
    env: &[(String, OsString)],
    watches: &[Watch],
    cache: Option<BuildCache>,
    prune_request: &prune::PruneRequest,
    options: &WatchOptions,
) -> anyhow::Result<RunReport> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| crate::Error::Usage("run needs a command after --".into()))?;
    let mut report = RunReport {
        command: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        ..RunReport::default()
    };
    let mut cmd = Command::new(program);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    let started = Instant::now();
    let (running, exit) = spawn_waited(&mut cmd, program)?;
    let mut pruner = Pruner {
        cache: cache.map(Arc::new),
        request: prune_request,
        running: None,
        exhausted: false,
    };
    let status = watch_until_exit(&running, &exit, watches, &mut pruner, &mut report, options)?;
    pruner.wait(&mut report);
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.exit_code = if report.stopped.is_some() {
        crate::ExitCode::HardLimit.code()
    } else {
        sys::exit_code(status)
    };
    Ok(report)
}

/// How the command's exit is told: its status, or why it could not be waited for.
type Exit = mpsc::Receiver<std::io::Result<ExitStatus>>;

/// Starts `cmd` (running `program`) and a thread that waits for it, so that the watch sleeps
/// until the next measurement or the command's end, whichever comes first: no polling in
/// between.
fn spawn_waited(cmd: &mut Command, program: &OsString) -> anyhow::Result<(sys::Supervised, Exit)> {
    let (mut child, running) =
        sys::spawn(cmd).with_context(|| format!("starting {}", escape::os(program)))?;
    let (exited, exit) = mpsc::channel();
    std::thread::Builder::new()
        .name("go-disk-guard-wait".into())
        .spawn(move || {
            let _ = exited.send(child.wait());
        })
        .context("starting the waiting thread")?;
    Ok((running, exit))
}

/// Measures the watched volumes every interval until the command ends, pruning in the
/// background below a soft limit and stopping the command below a hard one; its exit status.
fn watch_until_exit(
    running: &sys::Supervised,
    exit: &Exit,
    watches: &[Watch],
    pruner: &mut Pruner,
    report: &mut RunReport,
    options: &WatchOptions,
) -> anyhow::Result<ExitStatus> {
    // `None`: an interval longer than the clock can count from now, which is waiting for the
    // command to end.
    let mut next_measure = Some(Instant::now());
    loop {
        if let Some(status) = exit_before(exit, next_measure)? {
            return Ok(status);
        }
        next_measure = Instant::now().checked_add(options.interval);
        pruner.absorb_finished(report);
        let Some(w) = measure(watches, pruner, report) else {
            continue;
        };
        // Below hard: let pruning finish first, then look again.
        pruner.wait(report);
        let available = disk::space(&w.resolved).map(|s| s.available).unwrap_or(0);
        note_lowest(report, w, available);
        if !policy::while_running(available, &w.limits, false).below_hard {
            continue;
        }
        report.stopped = Some(hard_limit_breached(w, available, report));
        return stop(running, exit, options.grace);
    }
}

/// The command's exit status if it ends before `deadline` (`None`: whenever it ends), or
/// `None` at the deadline.
fn exit_before(exit: &Exit, deadline: Option<Instant>) -> anyhow::Result<Option<ExitStatus>> {
    let received = match deadline {
        Some(at) => exit.recv_timeout(at.saturating_duration_since(Instant::now())),
        None => exit
            .recv()
            .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
    };
    match received {
        Ok(status) => Ok(Some(status?)),
        Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            anyhow::bail!("lost track of the command")
        }
    }
}

/// Measures each watched volume, noting the lowest and starting a prune for one below its
/// soft limit; the first below its hard limit.
fn measure<'w>(
    watches: &'w [Watch],
    pruner: &mut Pruner,
    report: &mut RunReport,
) -> Option<&'w Watch> {
    let mut breach: Option<&Watch> = None;
    for w in watches {
        let Ok(space) = disk::space(&w.resolved) else {
            continue;
        };
        note_lowest(report, w, space.available);
        let decided = policy::while_running(space.available, &w.limits, pruner.can_prune(w));
        if let Some(target) = decided.prune_to {
            pruner.start(target);
        }
        if decided.below_hard && breach.is_none() {
            breach = Some(w);
        }
    }
    breach
}

/// Why the command was stopped: `w`'s volume had only `available`, below its hard limit.
fn hard_limit_breached(w: &Watch, available: u64, report: &RunReport) -> String {
    let (avail, hard) = format_bytes_pair(available, w.limits.hard);
    format!(
        "hard limit breached on {} while the command ran: {avail} available, below the hard \
         limit of {hard}; pruned {} ({} files) during the run; stopped the command",
        escape::path(&w.mount_point),
        format_bytes(report.pruned_bytes),
        report.pruned_files
    )
}

/// Pruning the build cache in the background while the command runs, one prune at a time.
struct Pruner<'r> {
    cache: Option<Arc<BuildCache>>,
    request: &'r prune::PruneRequest,
    running: Option<JoinHandle<std::io::Result<PruneOutcome>>>,
    /// Set once a prune removed nothing: pruning cannot help any more.
    exhausted: bool,
}

impl Pruner<'_> {
    /// Whether a prune can help `w`'s volume now: it holds the cache, none is running, the
    /// last one removed something, and this is no dry run (a dry run frees nothing, so it
    /// prunes nothing while the command runs: the check before it said what would have been
    /// pruned).
    fn can_prune(&self, w: &Watch) -> bool {
        w.holds_cache
            && self.cache.is_some()
            && self.running.is_none()
            && !self.exhausted
            && !self.request.dry_run
    }

    /// Starts a prune to bring the cache's volume to `target` bytes available, unless one is
    /// running.
    fn start(&mut self, target: u64) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        if self.running.is_some() {
            return;
        }
        let c = Arc::clone(cache);
        let mut request = self.request.clone();
        request.free_at_least = Some(target);
        request.progress = false;
        self.running = Some(std::thread::spawn(move || prune::prune(&c, &request)));
    }

    /// Adds the prune to `report` if it has finished.
    fn absorb_finished(&mut self, report: &mut RunReport) {
        if let Some(handle) = self.running.take_if(|h| h.is_finished()) {
            self.exhausted |= absorb(handle, report);
        }
    }

    /// Waits for the prune, if one is running, and adds it to `report`.
    fn wait(&mut self, report: &mut RunReport) {
        if let Some(handle) = self.running.take() {
            self.exhausted |= absorb(handle, report);
        }
    }
}

/// Asks the command's group to stop, and kills it after `grace`.
fn stop(
    running: &sys::Supervised,
    exit: &mpsc::Receiver<std::io::Result<ExitStatus>>,
    grace: Duration,
) -> anyhow::Result<ExitStatus> {
    running.terminate();
    let status = match exit.recv_timeout(grace) {
        Ok(status) => status?,
        Err(_) => {
            running.kill();
            exit.recv().context("lost track of the command")??
        }
    };
    // The leader is gone; make sure nothing it started lingers.
    running.kill();
    Ok(status)
}

/// Adds a finished background prune to the report; true when it removed nothing.
fn absorb(handle: JoinHandle<std::io::Result<PruneOutcome>>, report: &mut RunReport) -> bool {
    match handle.join() {
        Ok(Ok(outcome)) => {
            report.prunes += 1;
            report.pruned_bytes = report.pruned_bytes.saturating_add(outcome.removed_bytes);
            report.pruned_files = report.pruned_files.saturating_add(outcome.removed_files);
            outcome.removed_entries == 0
        }
        Ok(Err(e)) => {
            let message = format!(
                "go-disk-guard: pruning during the run failed: {}",
                escape::line(&e.to_string())
            );
            eprintln!("{}", escape::guard(&message));
            true
        }
        Err(_) => true,
    }
}

fn note_lowest(report: &mut RunReport, w: &Watch, available: u64) {
    if report.lowest_available_bytes.is_none_or(|l| available < l) {
        report.lowest_available_bytes = Some(available);
        report.lowest_volume = Some(w.mount_point.clone());
        report.lowest_at = Some(SystemTime::now());
    }
}
