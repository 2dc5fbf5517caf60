//! Scan `$(go env GOROOT)/src` for hard-coded paths and compare with the obvious
//! alternative in the same run: ripgrep searching the same tree for drive paths,
//! `rg -c '[A-Za-z]:[\\/]' .`.
//!
//! The scan does more (it lexes every Go file, decodes string literals, reads go.mod and
//! build files, and applies all rules), so the ratio says what that precision costs. Both run
//! as child processes, warm (one untimed run of each first), alternating which goes first,
//! for several rounds; the median of each is compared.
//!
//! Run: `cargo bench --bench scan_vs_rg` (options after `--`: `--rounds N`, `--go GO`; `rg`
//! must be on PATH: Debian's `ripgrep`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The options after `--`: the rounds, and the go whose GOROOT/src is scanned.
fn options() -> (usize, PathBuf) {
    let mut rounds = 7usize;
    let mut go = std::env::var_os("GO_DISK_GUARD_TEST_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("go"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--go" => go = PathBuf::from(args.next().expect("--go GO")),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    (rounds, go)
}

/// `$(go env GOROOT)/src`.
fn goroot_src(go: &Path) -> PathBuf {
    let goroot = Command::new(go)
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("running go env GOROOT (set --go or GO_DISK_GUARD_TEST_GO)");
    PathBuf::from(String::from_utf8(goroot.stdout).unwrap().trim()).join("src")
}

fn scan() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_go-disk-guard"));
    cmd.args(["scan", "--format", "json", "--fail-on", "never", "."]);
    cmd
}

fn rg() -> Command {
    let mut cmd = Command::new("rg");
    cmd.args(["-c", r"[A-Za-z]:[\\/]", "."]);
    cmd
}

/// Warms the page cache, and shows what each finds.
fn warm_and_show_what_each_finds(src: &Path) {
    let scanned = scan()
        .current_dir(src)
        .output()
        .expect("running go-disk-guard");
    let report: serde_json::Value = serde_json::from_slice(&scanned.stdout).unwrap();
    let rg_out = rg()
        .current_dir(src)
        .output()
        .expect("running rg (install ripgrep)");
    let rg_lines: u64 = String::from_utf8_lossy(&rg_out.stdout)
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse::<u64>().ok())
        .sum();
    println!(
        "{}: go-disk-guard scan reads {} files and reports {} findings; rg -c finds {} lines \
         with a drive-path pattern",
        src.display(),
        report["files_scanned"],
        report["findings"].as_array().map_or(0, Vec::len),
        rg_lines
    );
}

/// The wall time of `cmd` run in `src`, its output discarded.
fn time(mut cmd: Command, src: &Path) -> Duration {
    let started = Instant::now();
    let status = cmd
        .current_dir(src)
        .stdout(Stdio::null())
        .status()
        .expect("running a child");
    assert!(status.success() || status.code() == Some(1), "{status}");
    started.elapsed()
}

fn main() {
    let (rounds, go) = options();
    let src = goroot_src(&go);
    warm_and_show_what_each_finds(&src);

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            ours.push(time(scan(), &src));
            theirs.push(time(rg(), &src));
        } else {
            theirs.push(time(rg(), &src));
            ours.push(time(scan(), &src));
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "median of {rounds}: go-disk-guard scan {:.0} ms, rg {:.0} ms: {:.2}x rg's time",
        ours.as_secs_f64() * 1e3,
        theirs.as_secs_f64() * 1e3,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
