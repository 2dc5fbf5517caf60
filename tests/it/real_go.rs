//! go-disk-guard against a real Go toolchain: a build cache made by real `go build` and
//! `go run`, Go directories compared with `go env`, pruning while builds run, and (as root)
//! real small volumes filled to below the soft and hard limits.
//!
//! The Go toolchain is `$GO_DISK_GUARD_TEST_GO` or `go` on PATH; builds run offline
//! (GOPROXY=off, GOTOOLCHAIN=local, standard library only).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::common::*;

const HOUR: Duration = Duration::from_secs(3600);

/// A build cache filled once per test run by real go commands (`go build` of a program using
/// a few standard packages, and `go run`, which caches its executable as a `-d` directory),
/// copied afresh for each test.
fn seed_cache() -> &'static Path {
    static SEED: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let go = require_go();
    let (_, cache) = SEED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cache = dir.path().join("gocache");
        let src = dir.path().join("seed");
        write_module(&src, "seed", &["encoding/json", "text/tabwriter"]);
        go_build(&go, &home, &cache, &src);
        let out = go_cmd(&go, &home, &cache, &src)
            .args(["run", "."])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "go run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, cache)
    });
    cache
}

/// A fresh copy of the seed cache at `dest`; the test fails without Go.
fn copy_seed(dest: &Path) -> PathBuf {
    let seed = seed_cache();
    let status = Command::new("cp")
        .arg("-a")
        .arg(seed)
        .arg(dest)
        .status()
        .unwrap();
    assert!(status.success());
    dest.to_path_buf()
}

/// Gives every entry a distinct last use, `base` ago and older, in name order, so that
/// least-recently-used order is observable.
fn spread_mtimes(cache: &Path, base: Duration) -> BTreeMap<PathBuf, SystemTime> {
    let mut entries = cache_entries(cache);
    entries.sort();
    let now = SystemTime::now();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let t = now - base - Duration::from_secs(i as u64 * 7);
            set_mtime(&e, t);
            (e, t)
        })
        .collect()
}

/// Entries present before but not after.
fn removed(before: &BTreeMap<PathBuf, SystemTime>) -> (Vec<SystemTime>, Vec<SystemTime>) {
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for (path, t) in before {
        if path.exists() {
            kept.push(*t);
        } else {
            gone.push(*t);
        }
    }
    (gone, kept)
}

/// Bytes allocated on disk under `path` (as `du` counts them), not following links.
fn du(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path).unwrap();
    let own = meta.blocks() * 512;
    if meta.is_dir() {
        own + fs::read_dir(path)
            .unwrap()
            .flatten()
            .map(|e| du(&e.path()))
            .sum::<u64>()
    } else {
        own
    }
}

#[test]
#[ignore = "needs Go: fills a cache with go build and go run"]
fn the_seed_cache_has_go_run_executables_as_directory_entries() {
    let home = tempfile::tempdir().unwrap();
    let cache = copy_seed(&home.path().join("gocache"));
    let dirs: Vec<PathBuf> = cache_entries(&cache)
        .into_iter()
        .filter(|e| e.is_dir())
        .collect();
    assert!(
        !dirs.is_empty(),
        "go run cached no executable directory entry"
    );
    // Pruning by age removes such a directory whole, as Go's trim does.
    for d in &dirs {
        set_mtime(d, SystemTime::now() - 30 * 24 * HOUR);
    }
    let out = guard(home.path())
        .args(["prune", "--older-than", "20d", "--format", "json"])
        .env("GOCACHE", &cache)
        .output()
        .unwrap();
    assert_success(&out);
    for d in &dirs {
        assert!(!d.exists(), "{} survived", d.display());
    }
    let report = json(&out);
    assert_eq!(report["prunes"][0]["removed_entries"], dirs.len() as u64);
    assert!(cache.join("README").exists() && cache.join("trim.txt").exists());
}

#[test]
#[ignore = "needs Go: prunes a cache go filled, then builds"]
fn pruning_to_a_budget_removes_least_recently_used_first_and_go_still_builds() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let cache = copy_seed(&home.path().join("gocache"));
    let before = spread_mtimes(&cache, 10 * HOUR);
    // A second program reuses part of the cache: Go refreshes the mtime of every entry it
    // uses (they are more than an hour old), so those become the most recently used.
    let second = home.path().join("second");
    write_module(&second, "second", &["text/tabwriter"]);
    go_build(&go, home.path(), &cache, &second);
    let recent: BTreeSet<PathBuf> = cache_entries(&cache)
        .into_iter()
        .filter(|e| fs::symlink_metadata(e).unwrap().modified().unwrap() > SystemTime::now() - HOUR)
        .collect();
    assert!(!recent.is_empty());
    let recent_bytes: u64 = recent.iter().map(|e| du(e)).sum();
    let total = du(&cache);
    let budget = recent_bytes + (total - recent_bytes) / 3;

    let out = guard(home.path())
        .args(["prune", "--keep-recent", "0s", "--format", "json"])
        .arg(format!("--max-size={budget}"))
        .env("GOCACHE", &cache)
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    let outcome = &report["prunes"][0];
    assert!(
        outcome["after"]["bytes"].as_u64().unwrap() <= budget,
        "{outcome}"
    );
    assert!(outcome["removed_entries"].as_u64().unwrap() > 0);
    let left: u64 = cache_entries(&cache).iter().map(|e| du(e)).sum();
    assert!(
        left <= budget + 64 * 1024,
        "entries still take {left} bytes > budget {budget}"
    );

    // Every recently used entry survived, and everything removed was older than everything
    // kept among the entries that were not used since.
    for e in &recent {
        assert!(e.exists(), "recently used {} was removed", e.display());
    }
    let old: BTreeMap<PathBuf, SystemTime> = before
        .into_iter()
        .filter(|(p, _)| !recent.contains(p))
        .collect();
    let (gone, kept) = removed(&old);
    assert!(!gone.is_empty());
    if let (Some(newest_gone), Some(oldest_kept)) = (gone.iter().max(), kept.iter().min()) {
        assert!(newest_gone <= oldest_kept, "not least-recently-used order");
    }

    // Go builds fine from the pruned cache: both programs, and they run.
    for dir in [home.path().join("second"), seed_source(home.path())] {
        go_build(&go, home.path(), &cache, &dir);
        let run = Command::new(dir.join("out")).output().unwrap();
        assert!(run.status.success());
    }
    assert!(cache.join("README").exists());
}

fn seed_source(home: &Path) -> PathBuf {
    let dir = home.join("seed-again");
    write_module(&dir, "seed", &["encoding/json", "text/tabwriter"]);
    dir
}

/// Four small programs, each importing some of what the seed's builds used.
fn programs(home: &Path) -> Vec<PathBuf> {
    (0..4)
        .map(|i| {
            let dir = home.join(format!("p{i}"));
            let imports: &[&str] = match i {
                0 => &["encoding/json"],
                1 => &["text/tabwriter", "encoding/json"],
                2 => &["text/tabwriter"],
                _ => &["encoding/json", "strings"],
            };
            write_module(&dir, &format!("p{i}"), imports);
            dir
        })
        .collect()
}

/// What pruning over and over while builds ran came to.
struct PruningWhileBuilding {
    prunes: u32,
    removed_total: u64,
    /// The stderr of each build that failed.
    failures: Vec<String>,
}

/// Prunes the cache (everything older than 2h) over and over until every build has ended.
fn prune_until_the_builds_end(
    home: &Path,
    cache: &Path,
    builds: Vec<std::process::Child>,
) -> PruningWhileBuilding {
    let mut prunes = 0;
    let mut removed_total = 0;
    let mut builds: Vec<Option<std::process::Child>> = builds.into_iter().map(Some).collect();
    let mut failures = Vec::new();
    while builds.iter().any(Option::is_some) {
        let out = guard(home)
            .args([
                "prune",
                "--max-size",
                "0",
                "--keep-recent",
                "2h",
                "--format",
                "json",
            ])
            .env("GOCACHE", cache)
            .output()
            .unwrap();
        assert_success(&out);
        removed_total += json(&out)["prunes"][0]["removed_entries"].as_u64().unwrap();
        prunes += 1;
        for slot in builds.iter_mut() {
            if let Some(child) = slot
                && child.try_wait().unwrap().is_some()
            {
                let out = slot.take().unwrap().wait_with_output().unwrap();
                if !out.status.success() {
                    failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
            }
        }
    }
    PruningWhileBuilding {
        prunes,
        removed_total,
        failures,
    }
}

#[test]
#[ignore = "needs Go: prunes while go builds run"]
fn pruning_while_go_builds_run_on_the_same_cache_fails_no_build() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let cache = copy_seed(&home.path().join("gocache"));
    // Everything was last used 3h ago: all of it is a candidate under a 2h window, and every
    // build re-uses (and so refreshes) part of it while the pruner runs.
    age_cache(&cache, 3 * HOUR);
    let programs = programs(home.path());
    let builds: Vec<std::process::Child> = programs
        .iter()
        .map(|dir| {
            go_cmd(&go, home.path(), &cache, dir)
                .args(["build", "-o", "out"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let PruningWhileBuilding {
        prunes,
        removed_total,
        failures,
    } = prune_until_the_builds_end(home.path(), &cache, builds);
    assert!(
        failures.is_empty(),
        "builds failed while pruning:\n{}",
        failures.join("\n")
    );
    assert!(prunes >= 2, "the pruner ran only {prunes} time(s)");
    assert!(
        removed_total > 0,
        "the pruner removed nothing, so the test proved nothing"
    );
    for dir in &programs {
        assert!(
            Command::new(dir.join("out"))
                .output()
                .unwrap()
                .status
                .success()
        );
    }
}

/// The Go-directory variables of a JSON report.
fn reported_go(out: &std::process::Output) -> BTreeMap<String, (String, String)> {
    let report = json(out);
    report["go"]["vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                (
                    v["value"].as_str().unwrap().to_string(),
                    v["origin"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// One way of setting Go's directories: a name, the environment, and the origins the report
/// must give.
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    &'static [(&'static str, &'static str)],
);

/// The cases, with a GOENV file and an XDG config go env file written under `h`.
fn go_directory_cases(h: &Path, goroot: &str) -> Vec<Case> {
    let goenv_file = h.join("custom-goenv");
    fs::write(
        &goenv_file,
        "GOMODCACHE=/from/goenv/mod\nGOBIN=/from/goenv/bin\n",
    )
    .unwrap();
    fs::create_dir_all(h.join("xdgconfig/go")).unwrap();
    fs::write(h.join("xdgconfig/go/env"), "GOCACHE=/from/xdg/gocache\n").unwrap();
    vec![
        (
            "defaults",
            vec![],
            &[("GOCACHE", "default"), ("GOPATH", "default")],
        ),
        (
            "xdg cache and config",
            vec![
                ("XDG_CACHE_HOME", h.join("xdgcache").display().to_string()),
                ("XDG_CONFIG_HOME", h.join("xdgconfig").display().to_string()),
            ],
            &[("GOCACHE", "goenv-file")],
        ),
        (
            "explicit GOENV file and a two-entry GOPATH",
            vec![
                ("GOENV", goenv_file.display().to_string()),
                (
                    "GOPATH",
                    format!("{}:{}", h.join("gp1").display(), h.join("gp2").display()),
                ),
                ("GOTMPDIR", h.join("tmp").display().to_string()),
            ],
            &[
                ("GOMODCACHE", "goenv-file"),
                ("GOPATH", "environment"),
                ("GOTMPDIR", "environment"),
            ],
        ),
        (
            "GOROOT from the environment",
            vec![
                ("GOROOT", goroot.to_string()),
                ("GOCACHE", h.join("c").display().to_string()),
            ],
            &[("GOROOT", "environment"), ("GOCACHE", "environment")],
        ),
    ]
}

/// What `go env` says of the Go directories in a clean environment plus `env`.
fn go_env_json(go: &Path, h: &Path, env: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut go_env = Command::new(go);
    go_env
        .env_clear()
        .env("HOME", h)
        .env("PATH", test_path())
        .env("GOTOOLCHAIN", "local")
        .args([
            "env",
            "-json",
            "GOROOT",
            "GOPATH",
            "GOCACHE",
            "GOMODCACHE",
            "GOBIN",
            "GOTMPDIR",
            "GOENV",
        ]);
    for (k, v) in env {
        go_env.env(k, v);
    }
    serde_json::from_slice(&go_env.output().unwrap().stdout).unwrap()
}

#[test]
#[ignore = "needs Go: compares with go env"]
fn go_directories_match_go_env_with_and_without_a_go_binary() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let goroot = String::from_utf8(
        Command::new(&go)
            .args(["env", "GOROOT"])
            .env("GOTOOLCHAIN", "local")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    for case in go_directory_cases(h, &goroot) {
        let expected = go_env_json(&go, h, &case.1);
        for go_flag in [None, Some("/nonexistent/go")] {
            assert_status_reports_what_go_env_says(h, &case, &expected, go_flag);
        }
    }
}

/// `status` with the case's environment (and `--go` if given) reports each directory as
/// `go env` does, with the case's origins; without a go binary GOROOT can only come from
/// the environment.
fn assert_status_reports_what_go_env_says(
    h: &Path,
    (name, env, origins): &Case,
    expected: &BTreeMap<String, String>,
    go_flag: Option<&str>,
) {
    let mut cmd = guard(h);
    cmd.env_remove("GOENV").args(["status", "--format", "json"]);
    if let Some(flag) = go_flag {
        cmd.args(["--go", flag]);
        // Without a go binary GOROOT can only come from the environment.
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = reported_go(&out);
    for (var, value) in expected {
        if var == "GOROOT" && go_flag.is_some() && !env.iter().any(|(k, _)| *k == "GOROOT") {
            continue;
        }
        assert_eq!(&got[var].0, value, "{name}, go={go_flag:?}: {var}");
    }
    for (var, origin) in origins.iter() {
        assert_eq!(
            got[*var].1, *origin,
            "{name}, go={go_flag:?}: origin of {var}"
        );
    }
}

/// Runs `check` with the given limits against a cache on a 64 MiB tmpfs.
fn check_on(home: &Path, cache: &Path, limits: &[&str]) -> std::process::Output {
    guard(home)
        .args(["check", "--format", "json", "--keep-recent", "1h"])
        .args(limits)
        .env("GOCACHE", cache)
        .env("GOPATH", home.join("go"))
        .output()
        .unwrap()
}

const MIB: u64 = 1 << 20;

/// A 64 MiB tmpfs at `home/vol` holding a copy of the seed cache at `vol/gocache`; the test
/// fails without root or Go.
fn seed_on_tmpfs(home: &Path) -> (Tmpfs, PathBuf, PathBuf) {
    let mnt_dir = home.join("vol");
    let mnt = Tmpfs::mount(&mnt_dir, "64m");
    let cache = copy_seed(&mnt_dir.join("gocache"));
    (mnt, mnt_dir, cache)
}

#[test]
#[ignore = "needs Go and root: a cache go filled on a tmpfs"]
fn a_real_small_volume_above_soft_below_soft_and_below_hard() {
    let home = tempfile::tempdir().unwrap();
    let (_mnt, mnt_dir, cache) = seed_on_tmpfs(home.path());
    let before = spread_mtimes(&cache, 10 * HOUR);
    let sums = checksums(&cache);
    let cache_bytes = du(&cache);
    assert!(
        cache_bytes > 16 * MIB,
        "seed cache only {cache_bytes} bytes"
    );
    let free = assert_above_soft_nothing_is_pruned(home.path(), &mnt_dir, &cache, &sums);
    assert_below_soft_the_oldest_go_until_the_target(home.path(), &mnt_dir, &cache, &before, free);
    assert_still_below_hard_names_the_volume_and_figures(home.path(), &mnt_dir, &cache);
}

/// 1. Above soft: nothing is pruned. Returns what was available.
fn assert_above_soft_nothing_is_pruned(
    home: &Path,
    mnt_dir: &Path,
    cache: &Path,
    sums: &BTreeMap<PathBuf, u64>,
) -> u64 {
    let free = available(mnt_dir);
    let soft = free - 2 * MIB;
    let out = check_on(
        home,
        cache,
        &[&format!("--soft={soft}"), &format!("--hard={}", soft / 2)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["prunes"].as_array().unwrap().len(), 0);
    assert_eq!(
        &checksums(cache),
        sums,
        "a check above soft changed the cache"
    );
    free
}

/// 2. Below soft: the oldest entries go until the target is available, and no more.
fn assert_below_soft_the_oldest_go_until_the_target(
    home: &Path,
    mnt_dir: &Path,
    cache: &Path,
    before: &BTreeMap<PathBuf, SystemTime>,
    free: u64,
) {
    let largest_entry = before.keys().map(|p| du(p)).max().unwrap();
    fill(&mnt_dir.join("filler"), free - 3 * MIB);
    let free = available(mnt_dir);
    let (hard, soft, target) = (MIB, 6 * MIB, 10 * MIB);
    let out = check_on(
        home,
        cache,
        &[
            &format!("--soft={soft}"),
            &format!("--hard={hard}"),
            &format!("--target={target}"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["verdict"]["status"], "pruned");
    let after = available(mnt_dir);
    assert!(
        after >= target,
        "only {after} available after pruning, target {target}"
    );
    let (gone, kept) = removed(before);
    assert!(
        !gone.is_empty() && !kept.is_empty(),
        "pruned all or nothing"
    );
    assert!(gone.iter().max() <= kept.iter().min(), "not oldest-first");
    let removed_bytes = report["prunes"][0]["removed_bytes"].as_u64().unwrap();
    assert!(
        removed_bytes <= (target - free) + largest_entry,
        "removed {removed_bytes} to free {}",
        target - free
    );
    let volume = report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["paths"].to_string().contains("\"GOCACHE\""))
        .expect("no volume holds GOCACHE");
    assert_eq!(volume["fs_type"], "tmpfs");
    assert_eq!(volume["available_bytes_before"], free);
}

/// 3. Still below hard after pruning: exit 3, and a line naming the volume, the figures,
///    the limit and what was pruned.
fn assert_still_below_hard_names_the_volume_and_figures(home: &Path, mnt_dir: &Path, cache: &Path) {
    fs::remove_file(mnt_dir.join("filler")).unwrap();
    let left = du(cache);
    fill(&mnt_dir.join("filler"), available(mnt_dir) - 2 * MIB);
    let hard = 2 * MIB + left + 8 * MIB; // more than pruning everything can give
    let out = check_on(
        home,
        cache,
        &[
            &format!("--soft={hard}"),
            &format!("--hard={hard}"),
            "--keep-recent=0s",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("hard limit"))
        .expect("no hard-limit line");
    assert!(line.contains(mnt_dir.to_str().unwrap()), "{line}");
    assert!(
        line.contains("(tmpfs)") && line.contains("of 64.0 MiB"),
        "{line}"
    );
    assert!(line.contains("below the hard limit of"), "{line}");
    assert!(
        line.contains("pruned") && line.contains("files) from"),
        "{line}"
    );
    let report = json(&out);
    assert_eq!(report["verdict"]["status"], "hard-limit");
    assert_eq!(report["verdict"]["exit_code"], 3);
    assert!(
        cache.join("README").exists(),
        "the README marker must survive"
    );
}

#[test]
#[ignore = "needs Go and root: a cache go filled on a tmpfs"]
fn a_dry_run_on_a_full_volume_deletes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let (_mnt, mnt_dir, cache) = seed_on_tmpfs(home.path());
    age_cache(&cache, 10 * HOUR);
    fill(&mnt_dir.join("filler"), available(&mnt_dir) - 3 * MIB);
    let sums = checksums(&mnt_dir);
    let out = check_on(
        home.path(),
        &cache,
        &["--soft=6MiB", "--hard=1MiB", "--dry-run"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert!(report["dry_run"].as_bool().unwrap());
    assert_eq!(report["verdict"]["status"], "would-prune");
    assert!(report["prunes"][0]["removed_entries"].as_u64().unwrap() > 0);
    assert_eq!(checksums(&mnt_dir), sums, "a dry run changed files");
    assert!(!cache.join(go_disk_guard::prune::LOCK_FILE_NAME).exists());
}
