//! `run`: a command under guard, on real small volumes. Writers are shell loops appending a
//! MiB at a time to a tmpfs.

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A shell command appending `mib` MiB to `file`, one MiB every `pause` seconds.
fn writer(file: &Path, mib: u32, pause: &str) -> String {
    format!(
        "i=0; while [ $i -lt {mib} ]; do dd if=/dev/zero bs=1M count=1 status=none >> '{}' || exit 1; \
         i=$((i+1)); sleep {pause}; done",
        file.display()
    )
}

fn guard_run(home: &Path, gocache: &Path, limits: &[&str], script: &str) -> (Output, Duration) {
    let started = Instant::now();
    let out = guard(home)
        .args([
            "run",
            "--format",
            "json",
            "--go",
            "/nonexistent/go",
            "--interval",
            "50ms",
        ])
        .args(limits)
        .args(["--", "sh", "-c", script])
        .env("GOCACHE", gocache)
        .output()
        .unwrap();
    (out, started.elapsed())
}

/// The JSON report, which follows whatever the command printed.
fn report(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("{\n").expect("no JSON report");
    serde_json::from_str(&text[start..]).unwrap()
}

#[test]
fn exit_codes_and_signals_pass_through() {
    let home = tempfile::tempdir().unwrap();
    let c = home.path().join("c");
    let limits = ["--soft", "1KiB", "--hard", "0"];
    let (out, _) = guard_run(home.path(), &c, &limits, "echo from-the-command; exit 7");
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("from-the-command\n"));
    assert_eq!(report(&out)["run"]["exit_code"], 7);
    let (out, _) = guard_run(home.path(), &c, &limits, "kill -TERM $$");
    assert_eq!(out.status.code(), Some(143));

    // SIGTERM sent to the guard reaches the command, which ends of it.
    let child = guard(home.path())
        .args([
            "run",
            "--go",
            "/nonexistent/go",
            "--soft",
            "1KiB",
            "--hard",
            "0",
            "--",
        ])
        .args(["sleep", "30"])
        .env("GOCACHE", &c)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let started = Instant::now();
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_steady_writer_triggers_a_prune_mid_run_and_completes() {
    let home = tempfile::tempdir().unwrap();
    let vol = home.path().join("vol");
    let _mnt = Tmpfs::mount(&vol, "64m");
    let cache = vol.join("gocache");
    // 32 MiB of entries last used 10 hours ago.
    synthetic_cache(&cache, 256, 128 * 1024, Duration::from_secs(10 * 3600));
    let script = writer(&vol.join("out"), 40, "0.02");
    let (out, _) = guard_run(
        home.path(),
        &cache,
        &["--soft", "16MiB", "--target", "24MiB", "--hard", "2MiB"],
        &script,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = &report(&out)["run"];
    assert!(run["prunes"].as_u64().unwrap() >= 1, "{run}");
    assert!(run["pruned_bytes"].as_u64().unwrap() >= 8 * MIB, "{run}");
    assert!(run["stopped"].is_null());
    assert_eq!(fs::metadata(vol.join("out")).unwrap().len(), 40 * MIB);
    assert!(cache.join("README").exists());
}

/// Runs `script` on a fresh 64 MiB tmpfs at `home/vol` with the given limits; returns the
/// output, the time taken and the pid of the grandchild the script recorded.
fn fill_run(home: &Path, vol: &Path, args: &[&str], script: &str) -> (Output, Duration, i32) {
    let started = Instant::now();
    let out = guard(home)
        .args([
            "run",
            "--format",
            "json",
            "--go",
            "/nonexistent/go",
            "--interval",
            "50ms",
        ])
        .args(args)
        .arg("--path")
        .arg(vol)
        .args(["--", "sh", "-c", script])
        .env("GOCACHE", vol.join("no-cache-here"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let pid = fs::read_to_string(vol.join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (out, elapsed, pid)
}

/// Whether process `pid` still runs (a zombie does not count).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}

fn gone_soon(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_writer_that_would_fill_the_volume_is_stopped_before_enospc() {
    let home = tempfile::tempdir().unwrap();
    let vol = home.path().join("vol");
    let _mnt = Tmpfs::mount(&vol, "64m");
    // 100 MiB into 64, at 20 MiB/s, leaving a grandchild behind.
    let script = format!(
        "sleep 300 & echo $! > '{}'; {}",
        vol.join("grandchild.pid").display(),
        writer(&vol.join("out"), 100, "0.05")
    );
    let (out, _, pid) = fill_run(
        home.path(),
        &vol,
        &["--soft", "16MiB", "--hard", "12MiB"],
        &script,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("No space left") && !stderr.contains("No space left"),
        "{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("hard limit breached"))
        .expect("no message");
    assert!(
        line.contains(vol.to_str().unwrap()) && line.contains("stopped the command"),
        "{line}"
    );
    let written = fs::metadata(vol.join("out")).unwrap().len();
    assert!(written <= 64 * MIB - 8 * MIB, "wrote {written} bytes");
    assert!(report(&out)["run"]["stopped"].is_string());
    assert!(gone_soon(pid), "grandchild {pid} survived");
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    let home = tempfile::tempdir().unwrap();
    let vol = home.path().join("vol");
    let _mnt = Tmpfs::mount(&vol, "64m");
    // Ignored signals stay ignored across exec: the whole group ignores SIGTERM.
    let script = format!(
        "trap '' TERM; sleep 300 & echo $! > '{}'; {}",
        vol.join("grandchild.pid").display(),
        writer(&vol.join("out"), 60, "0.25")
    );
    let (out, elapsed, pid) = fill_run(
        home.path(),
        &vol,
        &["--grace", "1s", "--soft", "52MiB", "--hard", "48MiB"],
        &script,
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = &report(&out)["run"];
    assert!(run["stopped"].is_string(), "{run}");
    assert!(
        elapsed >= Duration::from_secs(1),
        "killed before the grace period: {elapsed:?}"
    );
    assert!(gone_soon(pid), "grandchild {pid} survived");
}

#[test]
fn a_check_below_hard_does_not_start_the_command() {
    let home = tempfile::tempdir().unwrap();
    let marker = home.path().join("ran");
    let out = guard(home.path())
        .args([
            "run",
            "--go",
            "/nonexistent/go",
            "--soft",
            "100%",
            "--hard",
            "100%",
            "--",
        ])
        .args(["touch"])
        .arg(&marker)
        .env("GOCACHE", home.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!marker.exists());
}

#[test]
fn a_command_line_holding_workflow_commands_stays_in_its_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let is_command = |l: &str| l.trim_start().starts_with("::") || l.contains("##[");
    // A command that cannot start: one line of error, naming it escaped.
    let out = guard(h)
        .args([
            "run",
            "--go",
            "/nonexistent/go",
            "--soft",
            "1KiB",
            "--hard",
            "0",
        ])
        .args(["--", "/nonexistent\n::error::owned ##[error]x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().split(['\n', '\r']).count(), 1, "{stderr}");
    assert!(
        stderr.contains("starting /nonexistent\\n::error::owned #\\x23[error]x"),
        "{stderr}"
    );
    // A command that runs: the report shows its arguments on one line.
    let out = guard(h)
        .args([
            "run",
            "--go",
            "/nonexistent/go",
            "--soft",
            "1KiB",
            "--hard",
            "0",
        ])
        .args(["--", "sh", "-c", "exit 0", "x\n::add-mask::y\r::error::z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("Ran `sh -c exit 0 x\\n::add-mask::y\\r::error::z` for "),
        "{stdout}"
    );
    for l in stdout.split(['\n', '\r']).chain(stderr.split(['\n', '\r'])) {
        assert!(!is_command(l), "{l:?} in {stdout}");
    }
}

/// An interval longer than the clock can count from now is the longest wait, not a panic.
#[test]
fn an_interval_past_the_end_of_time_neither_panics_nor_waits() {
    let home = tempfile::tempdir().unwrap();
    let c = home.path().join("c");
    let out = guard(home.path())
        .args(["run", "--format", "json", "--go", "/nonexistent/go"])
        .args([
            "--interval",
            "500000000000y",
            "--soft",
            "1KiB",
            "--hard",
            "0",
        ])
        .args(["--", "sh", "-c", "sleep 0.2; exit 5"])
        .env("GOCACHE", &c)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(5), "{stderr}");
}

/// A dry run removes nothing while the command runs, and its report does not claim it did:
/// nothing counted as pruned during the run.
#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_dry_run_prunes_nothing_during_the_run_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let vol = home.path().join("vol");
    let _mnt = Tmpfs::mount(&vol, "64m");
    let cache = vol.join("gocache");
    synthetic_cache(&cache, 256, 128 * 1024, Duration::from_secs(10 * 3600));
    let entries = cache_entries(&cache).len();
    let script = writer(&vol.join("out"), 16, "0.02");
    let (out, _) = guard_run(
        home.path(),
        &cache,
        &[
            "--soft",
            "40MiB",
            "--target",
            "48MiB",
            "--hard",
            "1MiB",
            "--dry-run",
        ],
        &script,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cache_entries(&cache).len(), entries);
    let run = &report(&out)["run"];
    assert_eq!(run["pruned_bytes"], 0, "{run}");
    assert_eq!(run["pruned_files"], 0, "{run}");
}
