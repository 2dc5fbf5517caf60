//! What guarding costs: the CPU time `go-disk-guard run` itself uses while its command sleeps
//! for 60 s, at the default interval (2 s) and at a tight one (100 ms).
//!
//! The figure is the CPU time of the guard and its waited-for descendants, from this process's
//! `cutime + cstime` in /proc/self/stat (the command, `sleep`, uses next to none).
//!
//! Run: `cargo bench --bench run_overhead` (options after `--`: `--seconds N`).

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let mut seconds = 60u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let ticks = clock_ticks();
    for interval in ["2s", "100ms"] {
        let before = children_cpu_ticks();
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_go-disk-guard"))
            .args([
                "run",
                "--go",
                "/nonexistent/go",
                "--soft",
                "1KiB",
                "--hard",
                "0",
            ])
            .args(["--interval", interval, "--", "sleep", &seconds.to_string()])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let wall = started.elapsed().as_secs_f64();
        let cpu = (children_cpu_ticks() - before) as f64 / ticks;
        println!(
            "interval {interval:>5}: {wall:.1}s wall, {:.0} ms CPU ({:.3}% of one core)",
            cpu * 1000.0,
            100.0 * cpu / wall
        );
    }
}

/// cutime + cstime of this process, in clock ticks.
fn children_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of stat; here 0-based after pid and comm: 13, 14.
    fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}
