//! `go-disk-guard cacheprog --remote` against a real S3 server (SeaweedFS) with a real go
//! command: two runners sharing a bucket, a bucket full of junk, a server that dies, and
//! read-only mode; and `prune --remote` on a bucket laid out by hand.
//!
//! They need SeaweedFS's `weed` (`$GO_DISK_GUARD_TEST_WEED`) and Go, and are ignored by
//! default; `.ci/run` runs them. Run with `--include-ignored` without `weed`, they fail.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::cacheprog::{compiles_in, count, counts, du_entries, run_ok};
use crate::common::seaweed::{self, Weed};
use crate::common::{self, go_cmd};

const PREFIX: &str = "ci/linux";

#[track_caller]
fn go() -> std::path::PathBuf {
    common::require_go()
}

/// A go command on `cache` through the cache program with `flags` (a budget, the remote).
fn go_remote(home: &Path, cache: &Path, module: &Path, weed: &Weed, flags: &str) -> Command {
    let mut cmd = go_cmd(&go(), home, cache, module);
    cmd.env(
        "GOCACHEPROG",
        format!(
            "{} cacheprog --dir {} {flags}",
            common::bin().display(),
            cache.display()
        ),
    );
    for (k, v) in weed.aws_env() {
        cmd.env(k, v);
    }
    cmd
}

/// A main package over a chain of `packages` packages importing a few standard ones; it
/// prints `salt` plus the sum of 0..packages.
fn write_module(dir: &Path, packages: usize, salt: u32) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("go.mod"), "module example.com/r\n\ngo 1.22\n").unwrap();
    for i in 0..packages {
        let pkg = dir.join(format!("p{i}"));
        fs::create_dir_all(&pkg).unwrap();
        let (import, prev) = if i > 0 {
            (
                format!("\t\"example.com/r/p{}\"\n", i - 1),
                format!("p{}.F()", i - 1),
            )
        } else {
            (String::new(), salt.to_string())
        };
        fs::write(
            pkg.join("p.go"),
            format!(
                "package p{i}\n\nimport (\n\t_ \"strings\"\n\t_ \"strconv\"\n{import})\n\n\
                 func F() int {{ return {prev} + {i} }}\n"
            ),
        )
        .unwrap();
    }
    fs::write(
        dir.join("main.go"),
        format!(
            "package main\n\nimport \"example.com/r/p{last}\"\n\nfunc main() {{ println(p{last}.F()) }}\n",
            last = packages - 1
        ),
    )
    .unwrap();
}

fn expected_output(packages: usize, salt: u32) -> String {
    (salt as usize + (0..packages).sum::<usize>()).to_string()
}

fn run_binary(module: &Path) -> String {
    let out = run_ok(&mut Command::new(module.join("out")));
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

const PACKAGES: usize = 6;
const SALT: u32 = 1000;
const MAX: u64 = 8 << 20;

fn flags(extra: &str) -> String {
    format!(
        "--max-size {MAX} --remote s3://{}/{PREFIX} {extra}",
        seaweed::BUCKET
    )
}

#[test]
#[ignore = "needs SeaweedFS (weed) and Go"]
fn two_runners_share_a_bucket_and_the_second_compiles_nothing() {
    let weed = Weed::start();
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("m");
    write_module(&module, PACKAGES, SALT);
    let (one, two) = (home.path().join("one"), home.path().join("two"));

    let started = Instant::now();
    let first = run_ok(
        go_remote(home.path(), &one, &module, &weed, &flags(""))
            .args(["build", "-x", "-o", "out", "."]),
    );
    let cold = started.elapsed();
    assert!(compiles_in(&first.stderr) > PACKAGES);
    let c1 = counts(&one);
    assert!(count(&c1, "remote_uploads") > 0, "{c1}");
    assert_eq!(count(&c1, "remote_errors"), 0, "{c1}");
    assert_eq!(count(&c1, "remote_dropped"), 0, "{c1}");
    assert_eq!(count(&c1, "remote_hits"), 0, "{c1}");
    let objects = seaweed::list(&weed.store(""));
    assert!(
        objects.iter().all(|(k, _)| k.starts_with(PREFIX)),
        "{objects:?}"
    );
    // The go command's manifest, for the next one that starts the same way.
    let manifests = objects
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{PREFIX}/manifests/")))
        .count();
    assert_eq!(manifests, 1, "{objects:?}");

    // Another runner, another empty local directory and a checkout without the first's
    // binary: everything comes from the bucket.
    std::fs::remove_file(module.join("out")).unwrap();
    let started = Instant::now();
    let second = run_ok(
        go_remote(home.path(), &two, &module, &weed, &flags(""))
            .args(["build", "-x", "-o", "out", "."]),
    );
    let warm = started.elapsed();
    let x = String::from_utf8_lossy(&second.stderr);
    assert_eq!(compiles_in(&second.stderr), 0, "{x}");
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    let c2 = counts(&two);
    assert!(
        count(&c2, "remote_hits") + count(&c2, "remote_prefetched")
            >= compiles_in(&first.stderr) as u64,
        "{c2}"
    );
    assert_eq!(count(&c2, "remote_verify_failures"), 0, "{c2}");
    assert_eq!(count(&c2, "remote_errors"), 0, "{c2}");

    // A third runner starts the way the second did: the second's manifest names what it
    // will ask for, and it is fetched ahead.
    std::fs::remove_file(module.join("out")).unwrap();
    let three = home.path().join("three");
    let third = run_ok(
        go_remote(home.path(), &three, &module, &weed, &flags(""))
            .args(["build", "-x", "-o", "out", "."]),
    );
    assert_eq!(compiles_in(&third.stderr), 0);
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    let c3 = counts(&three);
    assert!(count(&c3, "remote_prefetched") > 0, "{c3}");
    assert_eq!(count(&c3, "remote_verify_failures"), 0, "{c3}");

    // Both local directories are within their budgets once no build runs.
    let (du1, du2) = (du_entries(&one), du_entries(&two));
    assert!(du1 <= MAX && du2 <= MAX, "{du1} {du2} > {MAX}");
    eprintln!(
        "cold {cold:?} ({} compiles), warm from the remote {warm:?}; du {du1} and {du2} \
         within {MAX}; {} objects",
        compiles_in(&first.stderr),
        objects.len()
    );
}

#[test]
#[ignore = "needs SeaweedFS (weed) and Go"]
fn a_bucket_of_junk_costs_compiles_not_correctness() {
    let weed = Weed::start();
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("m");
    write_module(&module, PACKAGES, SALT);
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("one"),
            &module,
            &weed,
            &flags(""),
        )
        .args(["build", "-o", "out", "."]),
    );
    let store = weed.store("");
    let objects = seaweed::list(&store);
    let outputs: Vec<_> = objects
        .iter()
        .filter(|(k, _)| k.contains("/outputs/"))
        .collect();
    assert!(!outputs.is_empty());

    // An empty body stays itself, junk or not: the actions naming it still hit.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let empty = objects
        .iter()
        .filter(|(k, _)| k.contains("/actions/"))
        .filter(|(k, _)| String::from_utf8_lossy(&seaweed::get(&store, k)).contains(EMPTY))
        .count() as u64;
    // Every body replaced by junk of the same length: each remote hit fails verification.
    for (key, size) in &outputs {
        let junk: Vec<u8> = (0..*size)
            .map(|i| (i as u8).wrapping_mul(31) ^ 0x5a)
            .collect();
        seaweed::put(&store, key, junk);
    }
    let two = home.path().join("two");
    let out = run_ok(
        go_remote(home.path(), &two, &module, &weed, &flags(""))
            .args(["build", "-x", "-o", "out", "."]),
    );
    assert!(
        compiles_in(&out.stderr) > PACKAGES,
        "everything compiled again"
    );
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    let c2 = counts(&two);
    assert!(count(&c2, "remote_verify_failures") > 0, "{c2}");
    assert!(count(&c2, "remote_hits") <= empty, "{c2}");
    assert_eq!(count(&c2, "errors"), 0, "{c2}");

    // Every object junk, actions too (some empty, some huge, some binary), those the last
    // build added included.
    for (i, (key, _)) in seaweed::list(&store).iter().enumerate() {
        let junk = match i % 4 {
            0 => Vec::new(),
            1 => vec![0xff; 100_000],
            2 => b"go-disk-guard-action v1 zz\n".to_vec(),
            _ => (0..97u8).collect(),
        };
        seaweed::put(&store, key, junk);
    }
    let three = home.path().join("three");
    let out = run_ok(
        go_remote(home.path(), &three, &module, &weed, &flags(""))
            .args(["build", "-x", "-o", "out", "."]),
    );
    assert!(compiles_in(&out.stderr) > PACKAGES);
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    let c3 = counts(&three);
    assert!(count(&c3, "remote_verify_failures") > 0, "{c3}");
    assert_eq!(count(&c3, "remote_hits"), 0, "{c3}");
    assert_eq!(count(&c3, "errors"), 0, "{c3}");
}

#[test]
#[ignore = "needs SeaweedFS (weed) and Go"]
fn a_dead_server_costs_about_nothing() {
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("m");
    write_module(&module, PACKAGES, SALT);

    // The cold build without a remote, for comparison.
    let started = Instant::now();
    let mut plain = go_cmd(&go(), home.path(), &home.path().join("plain"), &module);
    plain.env(
        "GOCACHEPROG",
        format!(
            "{} cacheprog --dir {} --max-size {MAX}",
            common::bin().display(),
            home.path().join("plain").display()
        ),
    );
    run_ok(plain.args(["build", "-o", "out", "."]));
    let cold = started.elapsed();

    // Killed before the build: connections are refused.
    let mut weed = Weed::start();
    weed.kill();
    let before = home.path().join("before");
    let started = Instant::now();
    let out = run_ok(
        go_remote(home.path(), &before, &module, &weed, &flags(""))
            .args(["build", "-o", "out", "."]),
    );
    let dead = started.elapsed();
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    let c = counts(&before);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        (1..=u64::from(go_disk_guard::policy::remote::BREAKER_AFTER) + 2)
            .contains(&count(&c, "remote_errors")),
        "the breaker stops the attempts: {c}"
    );
    assert_eq!(
        stderr.matches("consecutive failures").count(),
        1,
        "{stderr}"
    );

    // Killed mid-way: a second runner builds warm from a live server that dies under it.
    let mut weed = Weed::start();
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("fill"),
            &module,
            &weed,
            &flags(""),
        )
        .args(["build", "-o", "out", "."]),
    );
    // The standard library comes from the bucket, the module's packages (a new salt) are
    // compiled and uploaded: the server dies among gets and puts.
    write_module(&module, PACKAGES, SALT + 1);
    let mid = home.path().join("mid");
    let mut child = go_remote(home.path(), &mid, &module, &weed, &flags(""))
        .args(["build", "-o", "out", "."])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    weed.kill();
    let limit = cold * 3 + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < limit, "the build hangs");
        std::thread::sleep(Duration::from_millis(100));
    };
    let killed_mid = started.elapsed();
    assert!(status.success());
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT + 1));
    write_module(&module, PACKAGES, SALT);

    // A black hole: the server stopped, its sockets accepting but never answering.
    let weed = Weed::start();
    let pid = rustix::process::Pid::from_raw(weed.pid as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let hole = home.path().join("hole");
    let started = Instant::now();
    run_ok(
        go_remote(
            home.path(),
            &hole,
            &module,
            &weed,
            &flags("--remote-flush-timeout 5s"),
        )
        .args(["build", "-o", "out", "."]),
    );
    let black_hole = started.elapsed();
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    assert_eq!(run_binary(&module), expected_output(PACKAGES, SALT));
    assert!(count(&counts(&hole), "remote_errors") >= 1);

    eprintln!(
        "cold without a remote {cold:?}; server dead before {dead:?}; killed mid-way, the \
         rest took {killed_mid:?}; black hole {black_hole:?}"
    );
    let slack = Duration::from_secs(20);
    assert!(dead < cold * 3 / 2 + slack, "{dead:?} vs {cold:?}");
    assert!(
        black_hole < cold * 3 / 2 + slack,
        "{black_hole:?} vs {cold:?}"
    );
}

#[test]
#[ignore = "needs SeaweedFS (weed) and Go"]
fn read_only_writes_nothing_and_a_hit_refreshes_last_use_once_a_day() {
    let weed = Weed::start();
    let home = tempfile::tempdir().unwrap();
    let module = home.path().join("m");
    write_module(&module, PACKAGES, SALT);
    let store = weed.store("");

    // An empty bucket stays empty, by flag and by variable.
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("ro1"),
            &module,
            &weed,
            &flags("--remote-read-only"),
        )
        .args(["build", "-o", "out", "."]),
    );
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("ro2"),
            &module,
            &weed,
            &flags(""),
        )
        .env("GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY", "true")
        .args(["build", "-o", "out", "."]),
    );
    assert_eq!(seaweed::list(&store), vec![]);
    let c = counts(&home.path().join("ro1"));
    assert_eq!(count(&c, "remote_uploads"), 0);
    assert!(count(&c, "remote_misses") > 0, "{c}");

    // Filled by a trusted build; then every action's last use set back three days.
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("rw"),
            &module,
            &weed,
            &flags(""),
        )
        .args(["build", "-o", "out", "."]),
    );
    let three_days_ago = SystemTime::now() - Duration::from_secs(3 * 86400);
    let old_secs = three_days_ago.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let actions: Vec<String> = seaweed::list(&store)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains("/actions/"))
        .collect();
    assert!(!actions.is_empty());
    let backdate = |line: &str| {
        let (head, _) = line.rsplit_once(' ').unwrap();
        format!("{head} {old_secs}\n")
    };
    for key in &actions {
        let text = String::from_utf8(seaweed::get(&store, key)).unwrap();
        seaweed::put(&store, key, backdate(text.trim_end()).into_bytes());
    }
    // The manifest's copies of the actions too (the program writes both).
    for (key, _) in seaweed::list(&store) {
        if key.contains("/manifests/") {
            let text = String::from_utf8(seaweed::get(&store, &key)).unwrap();
            let mut lines = text.lines();
            let mut out = format!("{}\n", lines.next().unwrap());
            out.extend(lines.map(backdate));
            seaweed::put(&store, &key, out.into_bytes());
        }
    }
    let before = seaweed::list(&store);
    let snapshot: Vec<Vec<u8>> = before
        .iter()
        .map(|(k, _)| seaweed::get(&store, k))
        .collect();

    // Read-only hits change nothing.
    let ro3 = home.path().join("ro3");
    let out = run_ok(
        go_remote(
            home.path(),
            &ro3,
            &module,
            &weed,
            &flags("--remote-read-only"),
        )
        .args(["build", "-x", "-o", "out", "."]),
    );
    assert_eq!(compiles_in(&out.stderr), 0);
    let c = counts(&ro3);
    assert!(
        count(&c, "remote_hits") + count(&c, "remote_prefetched") > 0,
        "{c}"
    );
    assert_eq!(seaweed::list(&store), before);
    let after: Vec<Vec<u8>> = before
        .iter()
        .map(|(k, _)| seaweed::get(&store, k))
        .collect();
    assert!(after == snapshot, "a read-only build changed the bucket");

    // A writing runner's hits move last use to now, once.
    run_ok(
        go_remote(
            home.path(),
            &home.path().join("rw2"),
            &module,
            &weed,
            &flags(""),
        )
        .args(["build", "-o", "out", "."]),
    );
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut refreshed = 0;
    for key in &actions {
        let text = String::from_utf8(seaweed::get(&store, key)).unwrap();
        let used: u64 = text.trim_end().rsplit_once(' ').unwrap().1.parse().unwrap();
        if used + 600 > now_secs {
            refreshed += 1;
        }
    }
    assert!(refreshed > 0, "no action refreshed");
}

#[test]
#[ignore = "needs SeaweedFS (weed)"]
fn prune_remote_removes_exactly_the_old_objects_and_never_a_kept_actions_body() {
    use go_disk_guard::cacheprog::remote::object::{self, Action};
    let weed = Weed::start();
    let store = weed.store("");
    let home = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let days = |d: u64| now - Duration::from_secs(d * 86400);
    let id = |n: u8| [n; 32];
    let put_action = |a: u8, o: u8, size: u64, used: SystemTime| {
        let text = object::format_action(&Action {
            action: id(a),
            output: id(o),
            size,
            put_at: days(30),
            used_at: used,
        });
        seaweed::put(
            &store,
            &object::action_key(PREFIX, &id(a)),
            text.into_bytes(),
        );
    };
    let put_output = |o: u8, size: usize| {
        seaweed::put(&store, &object::output_key(PREFIX, &id(o)), vec![o; size]);
    };
    // Backdated by the actions' own last-use field.
    put_output(0x51, 1000); // shared by an old and a recent action: kept
    put_action(0xa1, 0x51, 1000, days(20));
    put_action(0xa2, 0x51, 1000, days(1));
    put_output(0x52, 2000); // only an old action's: goes with it
    put_action(0xa3, 0x52, 2000, days(20));
    put_output(0x53, 500); // no action at all
    put_action(0xa4, 0x54, 3000, days(2)); // recent
    put_output(0x54, 3000);
    put_action(0xa5, 0x55, 10, days(1)); // its output is missing: kept all the same
    seaweed::put(
        &store,
        &object::action_key(PREFIX, &id(0xa6)),
        b"junk".to_vec(),
    ); // unreadable, but its object is new: kept
    seaweed::put(
        &store,
        &format!("{PREFIX}/actions/README"),
        b"not ours".to_vec(),
    );
    let elsewhere = object::action_key("other", &id(0xa7));
    seaweed::put(&store, &elsewhere, b"not under the prefix".to_vec());
    let key = |kind: &str, n: u8| format!("{PREFIX}/{kind}/{}", format!("{n:02x}").repeat(32));
    // A manifest, filed under its first request.
    let hex = |n: u8| format!("{n:02x}").repeat(32);
    let manifest = object::manifest_path(PREFIX, &id(0xa2), &id(0xe1));
    assert_eq!(
        manifest,
        format!("{PREFIX}/manifests/{}/{}", hex(0xa2), hex(0xe1))
    );
    seaweed::put(&store, &manifest, vec![b'm'; 100]);

    let prune = |args: &[&str]| -> serde_json::Value {
        let mut cmd = Command::new(common::bin());
        cmd.env_clear()
            .env("HOME", home.path())
            .args([
                "prune",
                "--remote",
                &format!("s3://{}/{PREFIX}", seaweed::BUCKET),
            ])
            .args(["--format", "json"])
            .args(args);
        for (k, v) in weed.aws_env() {
            cmd.env(k, v);
        }
        let out = run_ok(&mut cmd);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = seaweed::list(&store);

    // A dry run, with the default --keep-recent of an hour: two actions would go, and no
    // output (they were all written just now).
    let dry = prune(&["--older-than", "14d", "--dry-run"]);
    assert_eq!(dry["removed_actions"], 2, "{dry}");
    assert_eq!(dry["removed_outputs"], 0, "{dry}");
    assert_eq!(dry["actions"], 6, "{dry}");
    assert_eq!(dry["unreadable_actions"], 1, "{dry}");
    // The manifest was written within --older-than.
    assert_eq!(dry["manifests"], 1, "{dry}");
    assert_eq!(dry["removed_manifests"], 0, "{dry}");
    // Everything written before now is older than 0s: the manifest would go.
    let dry0 = prune(&["--older-than", "0s", "--keep-recent", "0s", "--dry-run"]);
    assert_eq!(dry0["removed_manifests"], 1, "{dry0}");
    assert_eq!(seaweed::list(&store), all, "a dry run removes nothing");

    let done = prune(&["--older-than", "14d", "--keep-recent", "0s"]);
    assert_eq!(done["removed_actions"], 2, "{done}");
    assert_eq!(done["removed_outputs"], 2, "{done}");
    // The manifest, written within --older-than, stays.
    assert_eq!(done["removed_manifests"], 0, "{done}");
    assert!(done["removed_bytes"].as_u64().unwrap() >= 2500, "{done}");
    let gone: Vec<String> = vec![
        key("actions", 0xa1),
        key("actions", 0xa3),
        key("outputs", 0x52),
        key("outputs", 0x53),
    ];
    let left: Vec<String> = seaweed::list(&store).into_iter().map(|(k, _)| k).collect();
    let expected: Vec<String> = all
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !gone.contains(k))
        .collect();
    assert_eq!(left, expected);
    assert!(
        left.contains(&key("outputs", 0x51)),
        "a kept action's body stays"
    );
    assert!(left.contains(&elsewhere));
    assert!(left.contains(&manifest));

    // By size, the manifest goes before any action: what is left (every object kept is
    // counted) less a byte is reached by removing it alone.
    let size_left = done["bytes"].as_u64().unwrap() - done["removed_bytes"].as_u64().unwrap();
    let max = (size_left - 1).to_string();
    let manifests_first = prune(&[
        "--older-than",
        "14d",
        "--keep-recent",
        "0s",
        "--max-size",
        &max,
    ]);
    assert_eq!(manifests_first["removed_manifests"], 1, "{manifests_first}");
    assert_eq!(manifests_first["removed_actions"], 0, "{manifests_first}");
    assert_eq!(manifests_first["removed_outputs"], 0, "{manifests_first}");
    let left: Vec<String> = seaweed::list(&store).into_iter().map(|(k, _)| k).collect();
    assert!(!left.contains(&manifest));
    assert!(left.contains(&key("actions", 0xa4)));

    // By size: the least recently used action (two days) goes first, with its body; the
    // shared body of the one used yesterday stays.
    let sized = prune(&[
        "--older-than",
        "14d",
        "--keep-recent",
        "0s",
        "--max-size",
        "2000",
    ]);
    assert_eq!(sized["removed_actions"], 1, "{sized}");
    assert_eq!(sized["removed_outputs"], 1, "{sized}");
    let left: Vec<String> = seaweed::list(&store).into_iter().map(|(k, _)| k).collect();
    assert!(!left.contains(&key("actions", 0xa4)) && !left.contains(&key("outputs", 0x54)));
    assert!(left.contains(&key("actions", 0xa2)) && left.contains(&key("outputs", 0x51)));
}
