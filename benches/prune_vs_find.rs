//! Prune half of a 200,000-file build cache by least-recent use, and compare with the
//! obvious alternative on an identical copy in the same run:
//! `find DIR -type f ! -newer REF -delete`, where REF carries the median entry's mtime.
//!
//! Both run as child processes of this benchmark (`go-disk-guard prune --max-size HALF` and
//! `find`), on fresh copies, alternating which goes first, for several rounds; the page
//! cache is dropped before each timed run where that is allowed (root).
//!
//! Each child runs under `/usr/bin/time -f %M` where that exists, and the peak resident set
//! size of both is printed beside the times (the figure `/usr/bin/time -v` calls "Maximum
//! resident set size").
//!
//! Run: `cargo bench --bench prune_vs_find` (options after `--`: `--files N`, `--rounds N`,
//! `--dir DIR` for where the caches are made, default the system temp dir).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;

const MARKER: &str = "This directory holds cached build artifacts from the Go build system.\n";
/// Entries alternate between these sizes, like small `-a` index entries and `-d` outputs.
const SIZES: [usize; 2] = [120, 1800];

/// The options after `--`.
struct Options {
    files: usize,
    rounds: usize,
    dir: PathBuf,
}

impl Options {
    fn parse() -> Options {
        let mut files = 200_000usize;
        let mut rounds = 3usize;
        let mut dir = std::env::temp_dir();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--files" => files = args.next().and_then(|v| v.parse().ok()).expect("--files N"),
                "--rounds" => {
                    rounds = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .expect("--rounds N")
                }
                "--dir" => dir = PathBuf::from(args.next().expect("--dir DIR")),
                "--bench" => {}
                other => panic!("unknown argument {other}"),
            }
        }
        Options { files, rounds, dir }
    }
}

/// What every round starts from: the template cache, the reference file carrying the median
/// entry's mtime, and the bytes of the newer half (go-disk-guard's --max-size).
struct Setup {
    template: PathBuf,
    reference: PathBuf,
    newer_half_bytes: u64,
}

/// Makes the template cache of `files` entries under `work` (and says so), and the reference.
fn set_up(work: &Path, files: usize) -> Setup {
    let now = SystemTime::now() - Duration::from_secs(48 * 3600);
    let template = work.join("template");
    let started = Instant::now();
    make_cache(&template, files, now);
    let total_bytes: u64 = (0..files).map(|i| disk_size(&template, i)).sum();
    println!(
        "synthetic cache: {files} entries, {:.1} MiB on disk, made in {:.1}s",
        total_bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    // The median entry: entries 0..files/2 are the newer half (entry i is i seconds older).
    let median_age = Duration::from_secs((files / 2) as u64);
    let reference = work.join("ref");
    fs::write(&reference, "").unwrap();
    set_mtime(&reference, now - median_age);
    let newer_half_bytes: u64 = (0..files / 2).map(|i| disk_size(&template, i)).sum();
    Setup {
        template,
        reference,
        newer_half_bytes,
    }
}

fn main() {
    let Options { files, rounds, dir } = Options::parse();
    let work = tempfile::tempdir_in(&dir).expect("temp dir");
    let setup = set_up(work.path(), files);
    let mut ratios = Vec::new();
    for round in 0..rounds {
        ratios.push(run_round(work.path(), &setup, files, round));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio go-disk-guard / find over {rounds} rounds on {} cores: {:.2}x",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ratios[ratios.len() / 2]
    );
}

/// One round: both prune a fresh copy of the template (the first to go alternating), each
/// leaves half; prints the times and peak RSS, and returns the ratio of the times.
fn run_round(work: &Path, setup: &Setup, files: usize, round: usize) -> f64 {
    let ours_dir = work.join(format!("ours{round}"));
    let find_dir = work.join(format!("find{round}"));
    copy(&setup.template, &ours_dir);
    copy(&setup.template, &find_dir);
    let ours_rss = work.join(format!("ours{round}.rss"));
    let find_rss = work.join(format!("find{round}.rss"));
    let run_ours = || time(|| prune_ours(&ours_dir, &ours_rss, setup.newer_half_bytes));
    let run_find = || time(|| prune_find(&find_dir, &find_rss, &setup.reference));
    let (ours, find) = if round.is_multiple_of(2) {
        let o = run_ours();
        (o, run_find())
    } else {
        let f = run_find();
        (run_ours(), f)
    };
    let left_ours = count_entries(&ours_dir);
    let left_find = count_entries(&find_dir);
    assert!(
        left_ours.abs_diff(files / 2) <= 1 && left_find.abs_diff(files / 2) <= 1,
        "expected half left: ours {left_ours}, find {left_find}"
    );
    let ratio = ours.as_secs_f64() / find.as_secs_f64();
    println!(
        "round {round}: go-disk-guard {:.3}s, find -delete {:.3}s, ratio {ratio:.2}x{}",
        ours.as_secs_f64(),
        find.as_secs_f64(),
        rss_note(&ours_rss, &find_rss)
    );
    fs::remove_dir_all(&ours_dir).unwrap();
    fs::remove_dir_all(&find_dir).unwrap();
    ratio
}

/// `go-disk-guard prune --max-size HALF` on `dir`.
fn prune_ours(dir: &Path, rss: &Path, newer_half_bytes: u64) {
    let out = measured(env!("CARGO_BIN_EXE_go-disk-guard"), rss)
        .args(["prune", "--keep-recent", "0s", "--go", "/nonexistent/go"])
        .arg(format!("--max-size={newer_half_bytes}"))
        .env("GOCACHE", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `find DIR -type f ! -newer REF -delete`.
fn prune_find(dir: &Path, rss: &Path, reference: &Path) {
    let status = measured("find", rss)
        .arg(dir)
        .args(["-type", "f", "!", "-newer"])
        .arg(reference)
        .arg("-delete")
        .status()
        .unwrap();
    assert!(status.success());
}

/// The peak RSS of both, for the round's line, where both were recorded.
fn rss_note(ours_rss: &Path, find_rss: &Path) -> String {
    match (peak_rss(ours_rss), peak_rss(find_rss)) {
        (Some(o), Some(f)) => format!(
            "; peak RSS go-disk-guard {:.1} MiB, find {:.1} MiB",
            o as f64 / 1024.0,
            f as f64 / 1024.0
        ),
        _ => String::new(),
    }
}

/// The path and mtime of entry `i`: spread over the 256 shards; entry i is i seconds older.
fn entry_path(root: &Path, i: usize) -> PathBuf {
    let spread = (i as u128 + 1).wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc835);
    let id = format!("{spread:032x}{i:032x}");
    let suffix = if i.is_multiple_of(2) { "-a" } else { "-d" };
    root.join(&id[..2]).join(format!("{id}{suffix}"))
}

fn make_cache(root: &Path, files: usize, now: SystemTime) {
    fs::create_dir_all(root).unwrap();
    fs::write(root.join("README"), MARKER).unwrap();
    for shard in 0..=255u8 {
        fs::create_dir_all(root.join(format!("{shard:02x}"))).unwrap();
    }
    let bodies: Vec<Vec<u8>> = SIZES.iter().map(|&n| vec![b'g'; n]).collect();
    (0..files).into_par_iter().for_each(|i| {
        let path = entry_path(root, i);
        fs::write(&path, &bodies[i % 2]).unwrap();
        set_mtime(&path, now - Duration::from_secs(i as u64));
    });
}

fn disk_size(root: &Path, i: usize) -> u64 {
    let meta = fs::metadata(entry_path(root, i)).unwrap();
    #[cfg(unix)]
    return std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    #[cfg(not(unix))]
    return meta.len();
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn copy(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn count_entries(root: &Path) -> usize {
    fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|shard| fs::read_dir(shard.path()).unwrap().count())
        .sum()
}

/// `program` run under `/usr/bin/time -f %M -o RSS` when that exists (peak RSS in KiB to the
/// file `rss`), else directly.
fn measured(program: &str, rss: &Path) -> Command {
    if Path::new("/usr/bin/time").exists() {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%M", "-o"]).arg(rss).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// The peak RSS in KiB that `measured` recorded, if it could.
fn peak_rss(rss: &Path) -> Option<u64> {
    fs::read_to_string(rss)
        .ok()?
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Times `f` after syncing and, where allowed, dropping the page cache.
fn time(f: impl FnOnce()) -> Duration {
    let _ = Command::new("sync").status();
    let _ = fs::write("/proc/sys/vm/drop_caches", "3");
    let started = Instant::now();
    f();
    started.elapsed()
}
