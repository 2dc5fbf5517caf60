//! The adversarial suite: go-disk-guard against what a hostile pull request can leave on a
//! runner — bind mounts of the same filesystem at every depth of a build cache and of a work
//! directory, links and mounts swapped in while a prune runs, links planted in every state
//! location of the cache program, trees 50,000 levels deep, tampered ledgers and state, and
//! hostile file names. Each case checks that the victims (files outside the cache and work
//! directories) are byte for byte unchanged, that the exit code is a documented one (0–4), and
//! that nothing panicked, overflowed or printed a workflow command.
//!
//! Every case mounts filesystems, so every case needs root: they are ignored by default and
//! `.ci/run` runs them with `--include-ignored`. Each runs in a tmpfs of its own, unmounted at
//! the end, so that even a tree too deep for other tools to remove goes with it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::common::cacheprog::{Prog, b64, du_entries, put_head};
use crate::common::*;

const OLD: Duration = Duration::from_secs(30 * 24 * 3600);

/// A tmpfs of its own for one case, with a home, a cache and victims in it.
struct Lab {
    root: PathBuf,
    _fs: Tmpfs,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lab");
        let fs = Tmpfs::mount(&root, "512m");
        fs::create_dir_all(root.join("home")).unwrap();
        Lab {
            root,
            _fs: fs,
            _dir: dir,
        }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// A directory of someone else's files, named and aged like cache entries so that a
    /// pruner that strayed into it would delete them.
    fn victim(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        fs::create_dir_all(dir.join("nested")).unwrap();
        for i in 0..3 {
            let file = dir.join(format!("{:064x}-d", i + 1));
            fs::write(&file, format!("precious {name} {i}")).unwrap();
            set_mtime(&file, SystemTime::now() - OLD);
        }
        fs::write(dir.join("nested").join(format!("{:064x}-a", 9)), "precious").unwrap();
        fs::write(dir.join("thesis.tex"), "mine").unwrap();
        dir
    }

    /// A Go build cache of `n` old entries.
    fn cache(&self, n: usize) -> PathBuf {
        let cache = self.root.join("cache");
        synthetic_cache(&cache, n, 512, OLD);
        cache
    }

    fn guard(&self) -> Command {
        let mut cmd = guard(&self.home());
        cmd.env("GO_DISK_GUARD_GO", "/nonexistent/go");
        cmd
    }
}

/// Checksums of several victims at once.
fn sums(victims: &[&Path]) -> BTreeMap<PathBuf, u64> {
    victims.iter().flat_map(|v| checksums(v)).collect()
}

/// The run ended with a documented exit code, and nothing it printed panicked, overflowed or
/// could be read as a workflow command.
fn assert_clean(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=4)),
        "exit {:?} is not a documented code\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("panicked") && !text.contains("overflow"),
            "{text}"
        );
        for line in text.split(['\n', '\r']) {
            assert!(
                !line.trim_start().starts_with("::") && !line.contains("##["),
                "a workflow command: {line:?}\nin: {text}"
            );
        }
    }
}

fn prune_all(lab: &Lab, cache: &Path) -> Output {
    let out = lab
        .guard()
        .args(["prune", "--max-size", "0", "--keep-recent", "0s"])
        .args(["--format", "json"])
        .env("GOCACHE", cache)
        .output()
        .unwrap();
    assert_clean(&out);
    out
}

fn status(lab: &Lab, cache: &Path) -> Output {
    let out = lab
        .guard()
        .args(["status", "--format", "json"])
        .env("GOCACHE", cache)
        .output()
        .unwrap();
    assert_clean(&out);
    out
}

fn hex_name(i: u64, kind: char) -> String {
    format!("{:016x}{:048x}-{kind}", 0xadu64 << 56 | i, i)
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn bind_mounts_of_the_same_filesystem_are_never_crossed_in_a_cache() {
    let lab = Lab::new();
    let cache = lab.cache(64);
    let victims: Vec<PathBuf> = ["v-shard", "v-inside", "v-entry", "v-file", "v-deep"]
        .iter()
        .map(|v| lab.victim(v))
        .collect();
    let refs: Vec<&Path> = victims.iter().map(PathBuf::as_path).collect();
    let before = sums(&refs);

    // A whole shard that is a bind mount of someone else's directory.
    let shard = cache.join("3f");
    let _ = fs::remove_dir_all(&shard);
    let _m1 = BindMount::new(&victims[0], &shard);
    // A `-d` directory entry (Go 1.24's cached executables) holding a bind mount.
    let entry = cache.join("00").join(hex_name(1, 'd'));
    fs::create_dir_all(&entry).unwrap();
    fs::write(entry.join("exe"), "binary").unwrap();
    let _m2 = BindMount::new(&victims[1], &entry.join("sub"));
    // A `-d` directory entry that is itself a bind mount.
    let mounted_entry = cache.join("01").join(hex_name(2, 'd'));
    let _m3 = BindMount::new(&victims[2], &mounted_entry);
    // A `-d` file entry that is a bind mount of a file.
    fs::create_dir_all(cache.join("02")).unwrap();
    let file_entry = cache.join("02").join(hex_name(3, 'd'));
    let _m4 = BindMount::new(&victims[3].join("thesis.tex"), &file_entry);
    // A bind mount deep inside a `-d` directory entry.
    let deep_entry = cache.join("04").join(hex_name(4, 'd'));
    fs::create_dir_all(deep_entry.join("a/b/c")).unwrap();
    fs::write(deep_entry.join("a/exe"), "binary").unwrap();
    let _m5 = BindMount::new(&victims[4], &deep_entry.join("a/b/c/d"));
    for e in [&entry, &mounted_entry, &file_entry, &deep_entry] {
        set_mtime(e, SystemTime::now() - OLD);
    }

    let report = json(&status(&lab, &cache));
    assert!(report["cache"]["entries"].as_u64().unwrap() > 0);
    let out = prune_all(&lab, &cache);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    let notes = report["prunes"][0]["notes"].to_string();
    assert!(notes.contains("mount point"), "{notes}");
    assert_eq!(sums(&refs), before, "a victim changed");
    // The ordinary entries went.
    assert!(
        cache_entries(&cache).len() <= 8,
        "{:?}",
        cache_entries(&cache)
    );
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn the_mountinfo_fallback_refuses_bind_mounts_too() {
    // As on kernels before 5.8, which give no mount IDs: this process's library calls tell
    // mounts by /proc/self/mountinfo.
    go_disk_guard::safefs::force_mountinfo_fallback();
    let lab = Lab::new();
    let cache = lab.cache(16);
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let shard = cache.join("7e");
    let _ = fs::remove_dir_all(&shard);
    let _m1 = BindMount::new(&victim, &shard);
    let entry = cache.join("00").join(hex_name(5, 'd'));
    fs::create_dir_all(&entry).unwrap();
    let _m2 = BindMount::new(&victim, &entry.join("sub"));
    set_mtime(&entry, SystemTime::now() - OLD);

    let opened = go_disk_guard::buildcache::BuildCache::open(&cache).unwrap();
    let request = go_disk_guard::prune::PruneRequest {
        max_size: Some(0),
        lock_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let outcome = go_disk_guard::prune::prune(&opened, &request).unwrap();
    assert!(outcome.removed_entries > 0, "{outcome:?}");
    assert_eq!(checksums(&victim), before);
    let left: Vec<PathBuf> = cache_entries(&cache)
        .into_iter()
        .filter(|e| !e.starts_with(cache.join("7e")))
        .collect();
    assert_eq!(
        left,
        std::slice::from_ref(&entry),
        "only the entry holding a mount stays"
    );
    let root = go_disk_guard::safefs::Dir::open(&cache).unwrap();
    let refused = root.open_dir(OsStr::new("7e")).unwrap_err();
    assert_eq!(
        go_disk_guard::safefs::refusal(&refused),
        Some(go_disk_guard::safefs::Refusal::MountPoint)
    );
}

/// A `go-build<digits>` work directory under `tmp`, idle for two days.
fn work_dir(tmp: &Path, name: &str) -> PathBuf {
    let dir = tmp.join(name);
    fs::create_dir_all(dir.join("b001/exe")).unwrap();
    fs::write(dir.join("b001/_pkg_.a"), "archive").unwrap();
    dir
}

fn age(path: &Path) {
    set_mtime(path, SystemTime::now() - Duration::from_secs(2 * 24 * 3600));
}

fn clean_stale_work(lab: &Lab, tmp: &Path) -> Output {
    let out = lab
        .guard()
        .args(["prune", "--stale-work", "1h", "--format", "json"])
        .env("GOTMPDIR", tmp)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    assert_clean(&out);
    out
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn bind_mounts_in_idle_work_directories_are_never_crossed() {
    let lab = Lab::new();
    let tmp = lab.root.join("tmp");
    let victim = lab.victim("v");
    let other = lab.victim("w");
    let before = sums(&[&victim, &other]);
    let w1 = work_dir(&tmp, "go-build111");
    let _m1 = BindMount::new(&victim, &w1.join("b001/mounted"));
    // A work directory that is itself a bind mount, and one holding a link out.
    let w2 = tmp.join("go-build222");
    let _m2 = BindMount::new(&other, &w2);
    let w3 = work_dir(&tmp, "go-build333");
    symlink(&other, w3.join("b001/link")).unwrap();
    for w in [&w1, &w2, &w3] {
        age(w);
    }
    let out = clean_stale_work(&lab, &tmp);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sums(&[&victim, &other]), before);
    assert!(!w3.exists(), "the idle work dir holding only a link went");
    assert!(w1.join("b001/mounted").exists(), "the mount stayed");
    let report = json(&out);
    assert!(
        report["stale_work"].to_string().contains("mount point"),
        "{report}"
    );
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn links_and_mounts_swapped_in_while_a_prune_runs_cannot_redirect_it() {
    let lab = Lab::new();
    let cache = lab.cache(40_000);
    let victim = lab.victim("v");
    let before = checksums(&victim);
    for round in 0..3 {
        if round > 0 {
            synthetic_cache(&cache, 20_000, 256, OLD);
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            // Swaps shards for links to the victim and then for bind mounts of it, keeps the
            // mounts most of the time, and puts the shards back, until the prune is over
            // (each swap is undone before the next check of `stop`).
            let swapper = s.spawn(|| {
                let shards = ["10", "20", "30", "40", "50", "60", "70", "80"];
                let mut swaps = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let mut mounts = Vec::new();
                    for shard in shards {
                        let path = cache.join(shard);
                        let aside = cache.join(format!("{shard}.aside"));
                        if fs::rename(&path, &aside).is_err() {
                            fs::create_dir(&aside).unwrap();
                        }
                        symlink(&victim, &path).unwrap();
                        std::thread::sleep(Duration::from_millis(1));
                        fs::remove_file(&path).unwrap();
                        fs::create_dir(&path).unwrap();
                        mounts.push(BindMount::new(&victim, &path));
                    }
                    std::thread::sleep(Duration::from_millis(40));
                    drop(mounts);
                    for shard in shards {
                        let path = cache.join(shard);
                        fs::remove_dir(&path).unwrap();
                        fs::rename(cache.join(format!("{shard}.aside")), &path).unwrap();
                    }
                    swaps += 1;
                }
                swaps
            });
            let out = lab
                .guard()
                .args(["prune", "--max-size", "0", "--keep-recent", "0s"])
                .env("GOCACHE", &cache)
                .output()
                .unwrap();
            stop.store(true, Ordering::Relaxed);
            assert!(swapper.join().unwrap() > 0);
            assert_clean(&out);
        });
        assert_eq!(checksums(&victim), before, "round {round}");
    }
    assert_eq!(checksums(&victim), before);
}

/// A cache program's state, made by one short session on `cache`.
fn cacheprog_session(cache: &Path, budget: &[&str], bodies: usize) -> (bool, String) {
    let mut prog = Prog::start(cache, budget);
    for i in 0..bodies {
        let body: Vec<u8> = (0..64 * 1024).map(|b| (b % 251) as u8 ^ i as u8).collect();
        prog.send(&put_head(
            i as i64 + 1,
            i as u8,
            (i as u8).wrapping_add(0x80),
            body.len(),
        ));
        prog.send(&format!("\"{}\"\n", b64(&body)));
        let answer = prog.response();
        assert!(answer["Err"].is_null(), "{answer}");
    }
    prog.send("{\"ID\":99999,\"Command\":\"close\"}\n\n");
    let _ = prog.response();
    let (status, stderr) = prog.finish();
    (status.success(), stderr)
}

/// Runs the cache program on `cache` with a close only, returning its output.
fn cacheprog_close(cache: &Path) -> Output {
    let mut child = Command::new(bin())
        .args(["cacheprog", "--dir"])
        .arg(cache)
        .args(["--max-size", "1MiB"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"ID\":1,\"Command\":\"close\"}\n\n");
    let out = child.wait_with_output().unwrap();
    assert_clean(&out);
    out
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn links_planted_in_the_cache_programs_state_are_never_followed() {
    let lab = Lab::new();
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let victim_file = victim.join("thesis.tex");

    // The state directory, and the leases directory, as links: refused, exit 1.
    for (i, planted) in ["cacheprog", "cacheprog/leases"].iter().enumerate() {
        let cache = lab.root.join(format!("cache{i}"));
        assert!(cacheprog_session(&cache, &["--max-size", "1MiB"], 1).0);
        let at = cache.join(planted);
        fs::remove_dir_all(&at).unwrap();
        symlink(&victim, &at).unwrap();
        let out = cacheprog_close(&cache);
        assert_eq!(out.status.code(), Some(1), "{planted}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("symbolic link"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(checksums(&victim), before, "{planted}");
    }

    // Every state file as a link to, or a hard link of, someone else's file; a lease planted
    // as a link to someone else's directory, dead (its lock free) or orphaned.
    let cache = lab.root.join("cache-files");
    assert!(cacheprog_session(&cache, &["--max-size", "1MiB"], 2).0);
    let state = cache.join("cacheprog");
    for name in ["size", "size.lock", "state.json", "state.lock"] {
        fs::remove_file(state.join(name)).unwrap();
        symlink(&victim_file, state.join(name)).unwrap();
    }
    fs::remove_file(cache.join("go-disk-guard.lock")).ok();
    symlink(&victim_file, cache.join("go-disk-guard.lock")).unwrap();
    let leases = state.join("leases");
    symlink(&victim, leases.join("1000-42")).unwrap();
    fs::write(leases.join("1000-42.lock"), "").unwrap();
    symlink(&victim, leases.join("2000-43")).unwrap();
    symlink(&victim_file, leases.join("3000-44.lock")).unwrap();
    let (ok, stderr) = cacheprog_session(&cache, &["--max-size", "64KiB"], 4);
    assert!(ok, "{stderr}");
    assert_eq!(checksums(&victim), before);
    assert!(fs::symlink_metadata(state.join("size")).unwrap().is_file());

    // Hard links of someone else's file under the state files' names.
    for name in ["size", "state.json"] {
        fs::remove_file(state.join(name)).unwrap();
        fs::hard_link(&victim_file, state.join(name)).unwrap();
    }
    let (ok, stderr) = cacheprog_session(&cache, &["--max-size", "64KiB"], 4);
    assert!(ok, "{stderr}");
    assert_eq!(checksums(&victim), before);
    assert_clean(&status(&lab, &cache));
    // The cache's own lock file as a link: prune replaces the link, never writes through it.
    fs::remove_file(cache.join("go-disk-guard.lock")).ok();
    symlink(&victim_file, cache.join("go-disk-guard.lock")).unwrap();
    prune_all(&lab, &cache);
    assert_eq!(checksums(&victim), before);
}

/// Makes a chain of `depth` directories named `d` under `top`, with a file at the bottom,
/// relative to handles (a path that long could not be named).
fn deep_tree(top: &Path, depth: usize) {
    use rustix::fs::{Mode, OFlags};
    fs::create_dir_all(top).unwrap();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = rustix::fs::open(top, flags, Mode::empty()).unwrap();
    for _ in 0..depth {
        rustix::fs::mkdirat(&fd, "d", Mode::from_raw_mode(0o755)).unwrap();
        fd = rustix::fs::openat(&fd, "d", flags, Mode::empty()).unwrap();
    }
    let file = rustix::fs::openat(
        &fd,
        "bottom",
        OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&file, b"at the bottom").unwrap();
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn trees_fifty_thousand_levels_deep_are_measured_and_removed_without_recursion() {
    let lab = Lab::new();
    let cache = lab.cache(8);
    let entry = cache.join("00").join(hex_name(7, 'd'));
    deep_tree(&entry, 50_000);
    set_mtime(&entry, SystemTime::now() - OLD);
    let report = json(&status(&lab, &cache));
    let files = report["cache"]["files"].as_u64().unwrap();
    assert!(files >= 9, "the deep entry's file is counted: {report}");
    let out = prune_all(&lab, &cache);
    assert_eq!(out.status.code(), Some(0));
    assert!(!entry.exists(), "the deep entry is removed whole");
    assert!(cache_entries(&cache).is_empty());

    let tmp = lab.root.join("tmp");
    let work = work_dir(&tmp, "go-build4242");
    deep_tree(&work.join("b001"), 50_000);
    age(&work);
    let out = clean_stale_work(&lab, &tmp);
    assert_eq!(out.status.code(), Some(0));
    assert!(!work.exists());
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn tampered_ledgers_and_state_neither_crash_nor_keep_the_cache_over_budget() {
    let lab = Lab::new();
    let year_ahead = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 365 * 24 * 3600;
    let ledgers = [
        "0 18446744073709551615".to_string(),
        format!("0 {year_ahead}"),
        "18446744073709551615 1700000000".to_string(),
        "garbage".to_string(),
        "-5 1700000000".to_string(),
        "\u{ff}\u{fe} 1".to_string(),
        "1 2 3 4 5 6 7 8 9".repeat(1000),
    ];
    let max = u64::MAX;
    let state = format!(
        r#"{{"budget":{{"max_size":{max},"min_free":{max}}},"counts":{{"hits":{max},"misses":{max},"puts":{max},"put_bytes":{max},"evicted_entries":{max},"evicted_bytes":{max},"errors":{max}}},"since":{max}}}"#
    );
    for (i, ledger) in ledgers.iter().enumerate() {
        let cache = lab.root.join(format!("cache{i}"));
        assert!(cacheprog_session(&cache, &["--max-size", "256KiB"], 2).0);
        fs::write(cache.join("cacheprog/size"), ledger).unwrap();
        fs::write(cache.join("cacheprog/state.json"), &state).unwrap();
        status(&lab, &cache);
        fs::write(cache.join("cacheprog/size"), ledger).unwrap();
        fs::write(cache.join("cacheprog/state.json"), &state).unwrap();
        // 24 bodies of 64 KiB through a 256 KiB budget: when the program exits, the cache
        // holds at most the budget, whatever the ledger claimed.
        let (ok, stderr) = cacheprog_session(&cache, &["--max-size", "256KiB"], 24);
        assert!(ok, "{ledger:?}: {stderr}");
        let held = du_entries(&cache);
        assert!(held <= 256 << 10, "{ledger:?}: {held} bytes left");
        status(&lab, &cache);
    }
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn a_cache_program_directory_that_is_not_utf8_is_held_to_its_budget() {
    let lab = Lab::new();
    let cache = lab.root.join(OsStr::from_bytes(b"caf\xe9 cache"));
    let (ok, stderr) = cacheprog_session(&cache, &["--max-size", "256KiB"], 24);
    assert!(ok, "{stderr}");
    let held = du_entries(&cache);
    assert!(held <= 256 << 10, "{held} bytes left");
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn hostile_file_names_are_pruned_and_shown_escaped() {
    let lab = Lab::new();
    let cache = lab.cache(4);
    let shard = cache.join("00");
    fs::create_dir_all(&shard).unwrap();
    let hostile: [&[u8]; 4] = [
        b"x\n::error::owned-d",
        b"y\r\n::add-mask::secret-a",
        b"z ##[warning]w-d",
        b"\xff\xfe\n::stop-commands::t-d",
    ];
    for name in hostile {
        let path = shard.join(OsStr::from_bytes(name));
        fs::write(&path, "entry").unwrap();
        set_mtime(&path, SystemTime::now() - OLD);
    }
    for format in ["text", "json", "markdown"] {
        let out = lab
            .guard()
            .args(["status", "--format", format])
            .env("GOCACHE", &cache)
            .output()
            .unwrap();
        assert_clean(&out);
    }
    let out = lab
        .guard()
        .args(["prune", "--max-size", "0", "--keep-recent", "0s"])
        .env("GOCACHE", &cache)
        .output()
        .unwrap();
    assert_clean(&out);
    assert!(
        cache_entries(&cache).is_empty(),
        "Go's trim removes any -a/-d name"
    );

    // A cache whose own path holds a line break and a workflow command.
    let odd = lab.root.join("cache\n::error::owned\r\n##[warning]x");
    synthetic_cache(&odd, 4, 64, OLD);
    for format in ["text", "markdown", "json"] {
        let out = lab
            .guard()
            .args(["status", "--format", format])
            .env("GOCACHE", &odd)
            .output()
            .unwrap();
        assert_clean(&out);
    }

    let tmp = lab.root.join("tmp");
    let work = work_dir(&tmp, "go-build77");
    fs::write(work.join(OsStr::from_bytes(b"\n::error::x\xff")), "x").unwrap();
    age(&work);
    for format in ["text", "json"] {
        let out = lab
            .guard()
            .args([
                "prune",
                "--stale-work",
                "1h",
                "--dry-run",
                "--format",
                format,
            ])
            .env("GOTMPDIR", &tmp)
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert_clean(&out);
    }
    clean_stale_work(&lab, &tmp);
    assert!(!work.exists());
}

#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn a_relocation_layout_planted_as_a_link_is_refused() {
    let lab = Lab::new();
    let cache = lab.cache(8);
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let roomy = lab.root.join("roomy");
    fs::create_dir_all(&roomy).unwrap();
    symlink(&victim, roomy.join("go-disk-guard")).unwrap();
    let out = lab
        .guard()
        .args(["env", "--emit", "sh", "--migrate", "--relocate"])
        .arg(&roomy)
        .env("GOCACHE", &cache)
        .output()
        .unwrap();
    assert_clean(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(
        checksums(&victim),
        before,
        "nothing was written into the victim"
    );
    assert_eq!(cache_entries(&cache).len(), 8, "nothing was migrated away");
}

/// Makes `path` a sparse file as long as a file can be: no block is allocated, so it is
/// counted at its length, 2^63 − 1 bytes.
fn huge_sparse_file(path: &Path) {
    fs::File::create(path)
        .unwrap()
        .set_len(i64::MAX as u64)
        .unwrap();
    set_mtime(path, SystemTime::now() - OLD);
}

/// Sizes are the filesystem's claims: sums of them neither overflow (a panic) nor saturate
/// into a goal that looks met while entries are left.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn sizes_as_large_as_a_file_can_claim_are_summed_without_overflow() {
    let lab = Lab::new();
    let cache = lab.cache(4);
    // Entries in four shards: the shards' sums are added up after the parallel removal.
    for (i, shard) in ["10", "20", "30", "40"].iter().enumerate() {
        fs::create_dir_all(cache.join(shard)).unwrap();
        huge_sparse_file(&cache.join(shard).join(hex_name(i as u64 + 100, 'd')));
    }
    status(&lab, &cache);
    for format in ["text", "json", "markdown"] {
        let out = lab
            .guard()
            .args([
                "prune",
                "--max-size",
                "0",
                "--keep-recent",
                "0s",
                "--dry-run",
            ])
            .args(["--format", format])
            .env("GOCACHE", &cache)
            .output()
            .unwrap();
        assert_clean(&out);
    }
    prune_all(&lab, &cache);
    assert!(
        cache_entries(&cache).is_empty(),
        "--max-size 0 leaves no entry: {:?}",
        cache_entries(&cache)
    );

    // Two idle work directories of three such files each.
    let tmp = lab.root.join("tmp");
    for name in ["go-build1", "go-build2"] {
        let work = work_dir(&tmp, name);
        for f in ["a", "b", "c"] {
            huge_sparse_file(&work.join(f));
        }
        age(&work);
    }
    let out = lab
        .guard()
        .arg("doctor")
        .env("GOTMPDIR", &tmp)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_clean(&out);
    let out = lab
        .guard()
        .args([
            "prune",
            "--stale-work",
            "1h",
            "--dry-run",
            "--format",
            "json",
        ])
        .env("GOTMPDIR", &tmp)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_clean(&out);
    clean_stale_work(&lab, &tmp);
    assert!(!tmp.join("go-build1").exists() && !tmp.join("go-build2").exists());
}

/// A file someone else owns with its set-user-ID and set-group-ID bits, planted in a Go
/// directory that `--migrate` moves.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn a_migrated_copy_never_gains_set_id_bits_under_a_new_owner() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let lab = Lab::new();
    let cache = lab.cache(2);
    let gopath = lab.root.join("gopath");
    fs::create_dir_all(gopath.join("bin")).unwrap();
    let planted = gopath.join("bin").join("tool");
    fs::write(&planted, "#!/bin/sh\nid\n").unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o6755)).unwrap();
    let roomy = lab.root.join("roomy");
    fs::create_dir_all(&roomy).unwrap();
    let out = lab
        .guard()
        .args(["env", "--emit", "sh", "--migrate", "--relocate"])
        .arg(&roomy)
        .env("GOCACHE", &cache)
        .env("GOPATH", &gopath)
        .output()
        .unwrap();
    assert_clean(&out);
    let copy = roomy.join("go-disk-guard/path/bin/tool");
    let meta = fs::metadata(&copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(fs::read(&copy).unwrap(), b"#!/bin/sh\nid\n");
    assert!(
        meta.uid() == 65534 || meta.mode() & 0o6000 == 0,
        "the copy is owned by {} with mode {:o}: a set-ID program of someone else's content",
        meta.uid(),
        meta.mode()
    );
}

/// As on kernels before 5.8: a bind mount made inside a `-d` entry a moment after the mount
/// table was last read is a mount point all the same.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn the_mountinfo_fallback_refuses_a_bind_mount_made_a_moment_ago() {
    go_disk_guard::safefs::force_mountinfo_fallback();
    let lab = Lab::new();
    let cache = lab.cache(4);
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let entry = cache.join("00").join(hex_name(6, 'd'));
    fs::create_dir_all(entry.join("sub")).unwrap();
    fs::write(entry.join("exe"), "binary").unwrap();
    set_mtime(&entry, SystemTime::now() - OLD);
    let opened = go_disk_guard::buildcache::BuildCache::open(&cache).unwrap();
    // A scan checks every directory it meets for a mount, reading the mount table...
    assert!(!opened.scan().entries.is_empty());
    // ...and the mount is made right after.
    let _m = BindMount::new(&victim, &entry.join("sub"));
    let request = go_disk_guard::prune::PruneRequest {
        max_size: Some(0),
        lock_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    go_disk_guard::prune::prune(&opened, &request).unwrap();
    assert_eq!(checksums(&victim), before, "the walk crossed the new mount");
    assert!(entry.join("sub").exists(), "the mount point stays");
}

/// As on kernels before 5.8: a directory opened by a walk holds a bind mount, and another
/// mount then covers that directory, so the first mount point can no longer be reached by its
/// path (which is all `/proc/self/mountinfo` gives). The walk, inside the covered directory,
/// must still not cross it.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn the_mountinfo_fallback_refuses_a_bind_mount_whose_path_was_covered() {
    use go_disk_guard::safefs::{self, Dir};
    safefs::force_mountinfo_fallback();
    let lab = Lab::new();
    let cache = lab.cache(2);
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let name = hex_name(8, 'd');
    let entry = cache.join("00").join(&name);
    fs::create_dir_all(&entry).unwrap();
    fs::write(entry.join("exe"), "binary").unwrap();
    let _inside = BindMount::new(&victim, &entry.join("sub"));
    let shard = Dir::open(&cache.join("00")).unwrap();
    let held = shard.open_dir(OsStr::new(&name)).unwrap();
    let empty = lab.root.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let _cover = BindMount::new(&empty, &entry);
    // However long the walk has been going: the mount table is read again meanwhile.
    std::thread::sleep(Duration::from_millis(1100));
    let removed = safefs::clear(held, |_, _| true).unwrap();
    assert_eq!(
        checksums(&victim),
        before,
        "the walk crossed the covered mount"
    );
    assert_eq!(removed.left_count, 1, "{:?}", removed.left);
}

/// The relocation layout is checked to hold no link when it is made; a link swapped in for it
/// right after (a `go-disk-guard` directory on a shared volume may be someone else's) must not
/// receive the migrated files.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn a_relocation_layout_swapped_for_a_link_after_its_check_receives_nothing() {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let lab = Lab::new();
    let victim = lab.victim("v");
    let before = checksums(&victim);
    let cache = lab.root.join("cache");
    let roomy = lab.root.join("roomy");
    let layout = roomy.join("go-disk-guard");
    fs::create_dir_all(layout.join("cache")).unwrap();
    symlink(&victim, layout.join("cache.swap")).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Exchanges the real directory and the link, over and over.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = renameat_with(
                    CWD,
                    layout.join("cache"),
                    CWD,
                    layout.join("cache.swap"),
                    RenameFlags::EXCHANGE,
                );
            }
        });
        for _ in 0..300 {
            if checksums(&victim) != before {
                break;
            }
            synthetic_cache(&cache, 4, 64, OLD);
            let out = lab
                .guard()
                .args(["env", "--emit", "sh", "--migrate", "--relocate"])
                .arg(&roomy)
                .env("GOCACHE", &cache)
                .output()
                .unwrap();
            assert_clean(&out);
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        checksums(&victim),
        before,
        "the migration wrote into the victim"
    );
}

/// `status --reset-counters` restarts a cache program's counters in the cache it verified: a directory
/// exchanged for the cache after that check (one with a cache program's state but no Go
/// README) is not written.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn status_writes_only_in_the_cache_it_verified() {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let lab = Lab::new();
    let cache = lab.cache(64);
    let other = lab.root.join("other");
    fs::create_dir_all(other.join("cacheprog")).unwrap();
    let state = r#"{"budget":{"max_size":null,"min_free":null},"counts":{"hits":7,"misses":0,"puts":0,"put_bytes":0,"evicted_entries":0,"evicted_bytes":0,"errors":0},"since":1700000000}"#;
    fs::write(other.join("cacheprog/state.json"), state).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = renameat_with(CWD, &cache, CWD, &other, RenameFlags::EXCHANGE);
            }
        });
        for _ in 0..200 {
            let out = lab
                .guard()
                .args(["status", "--reset-counters", "--format", "json"])
                .env("GOCACHE", &cache)
                .output()
                .unwrap();
            assert_clean(&out);
        }
        stop.store(true, Ordering::Relaxed);
    });
    let unverified = if cache.join("README").exists() {
        &other
    } else {
        &cache
    };
    let names: Vec<_> = fs::read_dir(unverified.join("cacheprog"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["state.json"],
        "status wrote in a directory it did not verify"
    );
    assert_eq!(
        fs::read_to_string(unverified.join("cacheprog/state.json")).unwrap(),
        state
    );
}

/// Sets `path`'s mtime to `secs` seconds from the Unix epoch, negative ones included.
fn set_mtime_secs(path: &Path, secs: i64) {
    let stamp = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: stamp,
        last_modification: stamp,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A file can carry any time: before 1970, or after the year 9999 (which RFC 3339 cannot
/// write). Reports in every format survive them.
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn file_times_before_1970_or_after_9999_are_reported_without_a_panic() {
    let lab = Lab::new();
    let cache = lab.cache(4);
    let tmp = lab.root.join("tmp");
    for (i, secs) in [-315_619_200i64, 99_999_999_999_999]
        .into_iter()
        .enumerate()
    {
        let entry = cache.join("00").join(hex_name(i as u64 + 200, 'd'));
        fs::create_dir_all(cache.join("00")).unwrap();
        fs::write(&entry, "entry").unwrap();
        set_mtime_secs(&entry, secs);
        let work = work_dir(&tmp, &format!("go-build{}", 900 + i));
        set_mtime_secs(&work, secs);
    }
    // Go's own record of its last trim, in seconds, is a time too.
    fs::write(cache.join("trim.txt"), "99999999999999").unwrap();
    for format in ["text", "json", "markdown"] {
        let out = lab
            .guard()
            .args(["status", "--format", format])
            .env("GOCACHE", &cache)
            .output()
            .unwrap();
        assert_clean(&out);
        let out = lab
            .guard()
            .args([
                "prune",
                "--max-size",
                "0",
                "--keep-recent",
                "0s",
                "--dry-run",
            ])
            .args(["--stale-work", "1h", "--format", format])
            .env("GOCACHE", &cache)
            .env("GOTMPDIR", &tmp)
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert_clean(&out);
    }
    prune_all(&lab, &cache);
    clean_stale_work(&lab, &tmp);
}

/// `--migrate` deletes the originals of what it copied: only from a GOCACHE verified to be a
/// Go build cache, and never a home directory, whatever GOCACHE or GOPATH say (an old
/// `export GOPATH=$HOME`, or a `go env -w` a pull request left in the runner's GOENV file).
#[test]
#[ignore = "needs root: it mounts tmpfs volumes and bind mounts"]
fn migrate_never_empties_a_home_directory_or_a_directory_that_is_no_build_cache() {
    let lab = Lab::new();
    let home = lab.home();
    fs::write(home.join(".bashrc"), "mine").unwrap();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh").join("id_ed25519"), "key").unwrap();
    let victim = lab.victim("v");
    let before = sums(&[&home, &victim]);
    for (var, value) in [("GOCACHE", &victim), ("GOCACHE", &home), ("GOPATH", &home)] {
        let roomy = lab.root.join(format!("roomy-{var}"));
        fs::create_dir_all(&roomy).unwrap();
        let out = lab
            .guard()
            .args(["env", "--emit", "sh", "--migrate", "--relocate"])
            .arg(&roomy)
            .env(var, value)
            .output()
            .unwrap();
        assert_clean(&out);
        assert!(
            home.exists() && victim.exists(),
            "{var}={} was moved away",
            value.display()
        );
        assert_eq!(
            sums(&[&home, &victim]),
            before,
            "{var}={}: files moved away",
            value.display()
        );
    }
}
