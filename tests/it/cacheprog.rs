//! `go-disk-guard cacheprog` with a real go command: builds and tests served through
//! GOCACHEPROG, concurrent builds under a budget smaller than one build, a program killed
//! mid-put, and input that breaks the protocol.

use crate::common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::common::cacheprog::{
    BIN, Prog, b64, compiles_in, count, counts, du_entries, get_line, put_head, run_ok,
};
use crate::common::{go_cmd, is_root, require_go};

/// The GOCACHEPROG value serving `dir`.
fn cacheprog(dir: &Path, budget: &str) -> String {
    format!("{BIN} cacheprog --dir {} {budget}", dir.display())
}

/// A go command using the cache program on `cache` (and GOCACHE pointed at the same place).
fn go_with(go: &Path, home: &Path, cache: &Path, budget: &str, dir: &Path) -> Command {
    let mut cmd = go_cmd(go, home, cache, dir);
    cmd.env("GOCACHEPROG", cacheprog(cache, budget));
    cmd
}

/// A module of `packages` packages in a chain, each importing a few standard packages, with
/// `salt` in every package so that a new salt means new compiles.
fn write_chain_module(dir: &Path, name: &str, packages: usize, std: &[&str], salt: u32) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.22\n"),
    )
    .unwrap();
    for i in 0..packages {
        let pkg = dir.join(format!("p{i}"));
        fs::create_dir_all(&pkg).unwrap();
        let mut src = format!("package p{i}\n\nimport (\n");
        for s in std {
            src.push_str(&format!("\t_ {s:?}\n"));
        }
        if i > 0 {
            src.push_str(&format!("\t\"example.com/{name}/p{}\"\n", i - 1));
        }
        src.push_str(")\n\n");
        let prev = if i > 0 {
            format!("p{}.F()", i - 1)
        } else {
            "0".into()
        };
        src.push_str(&format!(
            "func F() int {{ return {prev} + {salt} + {i} }}\n"
        ));
        fs::write(pkg.join("p.go"), src).unwrap();
    }
    fs::write(
        dir.join("main.go"),
        format!(
            "package main\n\nimport \"example.com/{name}/p{}\"\n\nfunc main() {{ println(p{}.F()) }}\n",
            packages - 1,
            packages - 1
        ),
    )
    .unwrap();
    fs::write(
        dir.join("main_test.go"),
        format!(
            "package main\n\nimport (\n\t\"testing\"\n\t\"example.com/{name}/p0\"\n)\n\n\
             func TestF(t *testing.T) {{ if p0.F() != {salt} {{ t.Fatal(p0.F()) }} }}\n"
        ),
    )
    .unwrap();
}

#[test]
#[ignore = "needs Go: builds and tests through the cache program"]
fn builds_and_tests_are_served_and_a_plain_gocache_reads_the_same_directory() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let module = home.path().join("m");
    write_chain_module(&module, "m", 4, &["strings", "strconv"], 7);
    let budget = "--max-size 2GiB";

    let first = run_ok(
        go_with(&go, home.path(), &cache, budget, &module).args(["build", "-x", "-o", "out", "."]),
    );
    assert!(compiles_in(&first.stderr) > 4, "the first build compiles");
    let cold = counts(&cache);
    assert!(count(&cold, "puts") > 0 && count(&cold, "misses") > 0);

    // Served from the cache: the second build compiles and links nothing, and the program
    // answered at least one hit per package the first build compiled. (The same -o: the go
    // command does not cache linked binaries, so a new target would be linked again.) The
    // go command still records a couple of entries about the finished build on this first
    // warm run; from the next one on, every lookup is a hit and nothing is stored.
    let warm = |want_steady: bool| {
        let before = counts(&cache);
        let out = run_ok(
            go_with(&go, home.path(), &cache, budget, &module)
                .args(["build", "-x", "-o", "out", "."]),
        );
        let after = counts(&cache);
        let x = String::from_utf8_lossy(&out.stderr);
        assert_eq!(compiles_in(&out.stderr), 0, "{x}");
        assert!(!x.contains("/link "), "{x}");
        assert!(
            count(&after, "hits") - count(&before, "hits") >= compiles_in(&first.stderr) as u64
        );
        assert_eq!(count(&after, "errors"), 0);
        if want_steady {
            assert_eq!(count(&after, "misses"), count(&before, "misses"), "no miss");
            assert_eq!(
                count(&after, "puts"),
                count(&before, "puts"),
                "nothing stored"
            );
        }
    };
    warm(false);
    warm(true);
    let ran = run_ok(&mut Command::new(module.join("out")));
    assert_eq!(String::from_utf8_lossy(&ran.stderr).trim(), "34");

    // go test: run, then cached.
    let tested = run_ok(go_with(&go, home.path(), &cache, budget, &module).args(["test", "./..."]));
    assert!(!String::from_utf8_lossy(&tested.stdout).contains("(cached)"));
    let tested = run_ok(go_with(&go, home.path(), &cache, budget, &module).args(["test", "./..."]));
    assert!(String::from_utf8_lossy(&tested.stdout).contains("(cached)"));

    // No lease, no temporary file is left behind.
    assert_eq!(
        fs::read_dir(cache.join("cacheprog/leases"))
            .unwrap()
            .count(),
        0
    );

    // Without the program, GOCACHE=DIR is an ordinary build cache with the same entries.
    let plain =
        run_ok(go_cmd(&go, home.path(), &cache, &module).args(["build", "-x", "-o", "out", "."]));
    assert_eq!(
        compiles_in(&plain.stderr),
        0,
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    run_ok(go_cmd(&go, home.path(), &cache, &module).args(["vet", "./..."]));
}

#[test]
#[ignore = "needs Go: runs concurrent builds through the cache program"]
fn concurrent_builds_stay_within_the_budget_whenever_none_runs() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let max: u64 = 6 << 20;
    let budget = format!("--max-size {max}");
    let modules = [
        ("one", &["strings", "sort"][..]),
        ("two", &["strconv", "unicode/utf8"][..]),
        ("three", &["bytes", "errors"][..]),
    ];
    let mut wrote = 0u64;
    for round in 0..3u32 {
        let children: Vec<(String, Child)> = modules
            .iter()
            .map(|(name, std)| {
                let dir = home.path().join(name);
                write_chain_module(&dir, name, 6, std, round * 10 + 1);
                let child = go_with(&go, home.path(), &cache, &budget, &dir)
                    .args(["build", "-o", "out", "."])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (name.to_string(), child)
            })
            .collect();
        for (name, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: build of {name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ran = run_ok(&mut Command::new(home.path().join(&name).join("out")));
            // p0 returns the salt, and each next package adds the salt and its index.
            let salt = round * 10 + 1;
            assert_eq!(
                String::from_utf8_lossy(&ran.stderr).trim(),
                (6 * salt + 15).to_string(),
                "{name} computes its chain"
            );
        }
        // No build runs now: the entries, measured by du, are within the budget.
        let entries = du_entries(&cache);
        assert!(
            entries <= max,
            "round {round}: entries take {entries} bytes on disk, over the {max}-byte budget"
        );
        wrote = count(&counts(&cache), "put_bytes");
    }
    assert!(
        wrote > 3 * max,
        "the builds wrote {wrote} bytes: the budget must be well below that to mean anything"
    );
    let c = counts(&cache);
    assert!(count(&c, "evicted_entries") > 0);
    assert_eq!(count(&c, "errors"), 0);
}

#[test]
#[ignore = "needs Go: builds through the cache program"]
fn a_program_killed_mid_put_leaves_no_entry_and_no_lease_that_blocks_eviction() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let module = home.path().join("m");
    write_chain_module(&module, "m", 3, &["strings"], 3);

    // A program that dies in the middle of a 4 MiB body, its lease older than every entry.
    let mut victim = Prog::start(&cache, &["--max-size", "1GiB"]);
    let body = vec![0x5au8; 4 << 20];
    victim.send(&put_head(1, 0xee, 0xef, body.len()));
    let text = format!("\"{}", b64(&body));
    victim.send(&text[..text.len() / 2]);
    std::thread::sleep(Duration::from_millis(300));
    victim.child.kill().unwrap();
    let _ = victim.finish();
    let leases = cache.join("cacheprog/leases");
    assert_eq!(
        fs::read_dir(&leases).unwrap().count(),
        2,
        "the dead lease and its directory remain"
    );
    let killed_temp: u64 = fs::read_dir(&leases)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .flat_map(|d| fs::read_dir(d.path()).unwrap())
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        killed_temp > 0,
        "the half body was being written in the lease"
    );

    // The next builds succeed and fill the cache.
    let budget = "--max-size 1GiB";
    run_ok(go_with(&go, home.path(), &cache, budget, &module).args(["build", "-o", "out", "."]));
    run_ok(go_with(&go, home.path(), &cache, budget, &module).args(["build", "-o", "out", "."]));

    // The killed put is no entry: a get misses; nothing in a shard is short.
    let mut prog = Prog::start(&cache, &["--max-size", "1GiB"]);
    prog.send(&get_line(1, 0xee));
    assert_eq!(prog.response()["Miss"], true);
    prog.send("{\"ID\":2,\"Command\":\"close\"}\n\n");
    assert_eq!(prog.response()["ID"], 2);
    assert!(prog.finish().0.success());
    let output_entry = cache.join("ef").join(format!("{}-d", "ef".repeat(32)));
    assert!(!output_entry.exists());

    // The dead lease does not hold eviction back: a tiny budget empties the cache at close,
    // although every entry is newer than the dead program's start.
    let entries_before = du_entries(&cache);
    assert!(entries_before > 1 << 20);
    let mut prog = Prog::start(&cache, &["--max-size", "64KiB"]);
    prog.send("{\"ID\":1,\"Command\":\"close\"}\n\n");
    assert_eq!(prog.response()["ID"], 1);
    assert!(prog.finish().0.success());
    let entries_after = du_entries(&cache);
    assert!(entries_after <= 64 << 10, "{entries_after} bytes left");
    assert_eq!(
        fs::read_dir(&leases).unwrap().count(),
        0,
        "the dead lease is gone"
    );
    // And the builds still work from what is left.
    run_ok(go_with(&go, home.path(), &cache, budget, &module).args(["build", "-o", "out", "."]));
}

#[test]
fn a_put_and_a_get_over_the_pipes() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let mut prog = Prog::start(&cache, &["--max-size", "10MiB"]);
    prog.send(&put_head(1, 0x11, 0x22, 5));
    prog.send(&format!("\"{}\"\n", b64(b"hello")));
    let put = prog.response();
    assert_eq!(put["ID"], 1);
    let path = PathBuf::from(put["DiskPath"].as_str().unwrap());
    assert!(path.is_absolute());
    assert_eq!(fs::read(&path).unwrap(), b"hello");
    prog.send(&put_head(2, 0x12, 0x23, 0));
    assert!(
        prog.response()["DiskPath"].is_string(),
        "an empty body is stored too"
    );
    prog.send(&get_line(3, 0x11));
    let hit = prog.response();
    assert_eq!(hit["OutputID"], b64(&[0x22; 32]));
    assert_eq!(hit["Size"], 5);
    assert!(hit["Time"].is_string());
    prog.send(&get_line(4, 0x99));
    assert_eq!(prog.response()["Miss"], true);
    prog.send("{\"ID\":5,\"Command\":\"close\"}\n\n");
    assert_eq!(prog.response()["ID"], 5);
    let (status, stderr) = prog.finish();
    assert!(status.success(), "{stderr}");
    assert!(!path.exists(), "a handed-out link goes at close");
}

/// Runs the program on `input` and returns its exit code, stdout and stderr.
fn feed(dir: &Path, input: &[u8]) -> (i32, String, String) {
    let mut prog = Prog::start(dir, &["--max-size", "10MiB"]);
    prog.stdin.write_all(input).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut prog.stdout, &mut rest).unwrap();
    let (status, stderr) = prog.finish();
    (status.code().unwrap(), rest, stderr)
}

#[test]
fn bad_protocol_input_is_a_clear_error_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"{\"ID\":1,\"Command\":\"frob\"}\n".to_vec(),
            "go-disk-guard: error: cacheprog: request 1: unknown command \"frob\" (known: get, put, close)\n",
        ),
        (
            b"{\"ID\":1 \"Command\":\"get\"}\n".to_vec(),
            "go-disk-guard: error: cacheprog: malformed request: expected `,` or `}` at line 1 column 9: {\"ID\":1 \"Command\":\"get\"}\n",
        ),
        (
            format!("{}\"{}\"\n", put_head(4, 1, 2, 20), b64(b"0123456789")).into_bytes(),
            "go-disk-guard: error: cacheprog: request 4: body ended after 10 bytes, BodySize said 20\n",
        ),
    ];
    for (input, want) in cases {
        let (code, stdout, stderr) = feed(&cache, &input);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr, want);
        assert!(!stderr.contains("panicked"));
        // The request is answered with the error where it had an ID.
        if want.contains("request ") {
            assert!(stdout.contains("\"Err\":"), "{stdout}");
        }
    }
    // A get before the bad line is still answered.
    let mut input = get_line(1, 5).into_bytes();
    input.extend(b"][\n");
    let (code, stdout, _) = feed(&cache, &input);
    assert_eq!(code, 2);
    assert!(stdout.contains("{\"ID\":1,\"Miss\":true}"), "{stdout}");
}

#[test]
fn an_unusable_directory_is_one_line_and_exit_1() {
    let home = tempfile::tempdir().unwrap();
    // Someone else's directory.
    let theirs = home.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    fs::write(theirs.join("notes.txt"), "mine").unwrap();
    // A directory that cannot be written: a read-only mount as root, else permissions.
    let locked = home.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let _mount = if is_root() {
        Some(common::BindMount::read_only(&locked, &locked))
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
        None
    };
    for (dir, want) in [
        (theirs.clone(), "is not a Go build cache"),
        (locked.join("cache"), "Read-only file system"),
    ] {
        let out = Command::new(BIN)
            .args(["cacheprog", "--max-size", "1GiB", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("go-disk-guard: error: cache directory "),
            "{stderr}"
        );
        if is_root() || want != "Read-only file system" {
            assert!(stderr.contains(want), "{stderr}");
        } else {
            assert!(stderr.contains("Permission denied"), "{stderr}");
        }
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(fs::read_dir(&theirs).unwrap().count(), 1);
    // No budget is a usage error.
    let out = Command::new(BIN)
        .args(["cacheprog", "--dir"])
        .arg(home.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_full_disk_fails_the_put_cleanly_and_evicts() {
    let home = tempfile::tempdir().unwrap();
    let volume = common::Tmpfs::mount(&home.path().join("vol"), "8m");
    let cache = volume.dir.join("cache");
    // Old entries from an earlier build: 3 MiB, last used a day ago.
    let mut prog = Prog::start(&cache, &["--min-free", "1MiB"]);
    let old = vec![1u8; 1 << 20];
    for i in 0..3u8 {
        prog.send(&put_head(i.into(), 0x30 + i, 0x40 + i, old.len()));
        prog.send(&format!("\"{}\"\n", b64(&old)));
        assert!(prog.response()["Err"].is_null());
    }
    prog.send("{\"ID\":9,\"Command\":\"close\"}\n\n");
    prog.response();
    assert!(prog.finish().0.success());
    let day_ago = std::time::SystemTime::now() - Duration::from_secs(86_400);
    for entry in walk_entries(&cache) {
        common::set_mtime(&entry, day_ago);
    }
    // Someone else's file leaves too little room for the next body.
    let free = common::available(&volume.dir);
    common::fill(&volume.dir.join("theirs"), free - (1 << 20));

    let mut prog = Prog::start(&cache, &["--min-free", "1MiB"]);
    let body = vec![2u8; 2 << 20];
    prog.send(&put_head(20, 0x50, 0x60, body.len()));
    prog.send(&format!("\"{}\"\n", b64(&body)));
    let failed = prog.response();
    assert_eq!(failed["ID"], 20);
    let err = failed["Err"].as_str().unwrap();
    assert!(err.contains("No space left on device"), "{err}");
    // The program goes on, and eviction makes room: the put succeeds when tried again.
    let mut stored = false;
    for id in 21..60 {
        std::thread::sleep(Duration::from_millis(100));
        prog.send(&put_head(id, 0x50, 0x60, body.len()));
        prog.send(&format!("\"{}\"\n", b64(&body)));
        if prog.response()["Err"].is_null() {
            stored = true;
            break;
        }
    }
    assert!(stored, "eviction never made room");
    prog.send(&get_line(70, 0x50));
    assert_eq!(prog.response()["Size"], 2 << 20);
    prog.send("{\"ID\":71,\"Command\":\"close\"}\n\n");
    prog.response();
    let (status, stderr) = prog.finish();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("request 20: storing in "), "{stderr}");
    assert_eq!(
        fs::read(volume.dir.join("theirs")).unwrap().len() as u64,
        free - (1 << 20)
    );
    // No short entry anywhere.
    for entry in walk_entries(&cache) {
        let len = fs::metadata(&entry).unwrap().len();
        if entry.to_string_lossy().ends_with("-d") {
            assert!(
                len == 1 << 20 || len == 2 << 20,
                "{} is {len} bytes",
                entry.display()
            );
        }
    }
}

fn walk_entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in fs::read_dir(cache).unwrap().filter_map(|e| e.ok()) {
        let name = shard.file_name().to_string_lossy().into_owned();
        if name.len() == 2 && shard.path().is_dir() {
            for e in fs::read_dir(shard.path()).unwrap() {
                out.push(e.unwrap().path());
            }
        }
    }
    out
}

#[test]
#[ignore = "needs Go: builds through the cache program"]
fn env_hands_on_gocacheprog_and_the_next_build_runs_through_it() {
    require_go();
    let home = tempfile::tempdir().unwrap();
    // A cache path with a space and a quote: quoted for Go, then for each format.
    let cache = home.path().join("it's a cache");
    let module = home.path().join("m");
    write_chain_module(&module, "m", 2, &["strings"], 5);
    let script = home.path().join("env.sh");
    let github_env = home.path().join("github_env");
    for f in ["github_env", "github_path", "github_output", "summary"] {
        fs::write(home.path().join(f), "").unwrap();
    }
    let out = run_ok(
        common::guard(home.path())
            .env("GOCACHE", &cache)
            .env("GITHUB_ENV", &github_env)
            .env("GITHUB_PATH", home.path().join("github_path"))
            .env("GITHUB_OUTPUT", home.path().join("github_output"))
            .env("GITHUB_STEP_SUMMARY", home.path().join("summary"))
            .args([
                "env",
                "--cacheprog-max-size",
                "64MiB",
                "--emit",
                "sh,github",
            ])
            .arg("--emit-file")
            .arg(&script),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "{BIN} cacheprog --dir \"{}\" --max-size 67108864",
        cache.display()
    );
    // GitHub: the delimiter form, the value exactly.
    let vars = common::parse_github_file(&fs::read(&github_env).unwrap());
    let prog = vars.iter().find(|(n, _)| n == "GOCACHEPROG").unwrap();
    assert_eq!(String::from_utf8_lossy(&prog.1), want, "{stdout}");
    // sh: source it, then build; the program counts the build's requests.
    let build = format!(
        ". '{}' && test \"$GOCACHEPROG\" = '{}' && cd '{}' && go build -o out .",
        script.display(),
        want.replace('\'', "'\\''"),
        module.display()
    );
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(&build)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", common::test_path())
            .env("GOENV", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0"),
    );
    let c = counts(&cache);
    assert!(count(&c, "puts") > 0, "{c}");
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(cache.join("cacheprog/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["budget"]["max_size"], 64 << 20);
    // status shows what the program did.
    let status = run_ok(
        common::guard(home.path())
            .env("GOCACHE", &cache)
            .args(["status", "--format", "json"]),
    );
    let report = common::json(&status);
    assert_eq!(report["cache"]["cacheprog"]["budget"]["max_size"], 64 << 20);
    let puts = report["cache"]["cacheprog"]["counts"]["puts"]
        .as_u64()
        .unwrap();
    assert!(puts > 0);
    // status only reads: the counters are the same the next time, and the state file is
    // untouched; --reset-counters shows them and restarts them.
    let state_before = fs::read(cache.join("cacheprog/state.json")).unwrap();
    let status_json = |extra: &[&str]| {
        common::json(&run_ok(
            common::guard(home.path())
                .env("GOCACHE", &cache)
                .args(["status", "--format", "json"])
                .args(extra),
        ))
    };
    assert_eq!(
        status_json(&[])["cache"]["cacheprog"]["counts"]["puts"],
        puts
    );
    assert_eq!(
        fs::read(cache.join("cacheprog/state.json")).unwrap(),
        state_before
    );
    assert_eq!(
        status_json(&["--reset-counters"])["cache"]["cacheprog"]["counts"]["puts"],
        puts
    );
    assert_eq!(status_json(&[])["cache"]["cacheprog"]["counts"]["puts"], 0);
}

/// `env` with the remote tier's flags and `GOCACHE` under `home`, Go's directories computed
/// (no go command is run).
fn env_with_remote(home: &Path, args: &[&str]) -> Output {
    common::guard(home)
        .env("GOCACHE", home.join("cache"))
        .env("GO_DISK_GUARD_GO", "/nonexistent/go")
        .arg("env")
        .args(args)
        .output()
        .unwrap()
}

/// The GOCACHEPROG an `--emit sh` payload exports.
#[cfg(feature = "remote")]
fn exported_gocacheprog(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export GOCACHEPROG="))
        .unwrap_or_else(|| panic!("no GOCACHEPROG in {stdout}"));
    line.strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
        .unwrap()
        .replace("'\\''", "'")
}

#[cfg(feature = "remote")]
#[test]
fn env_hands_on_the_remote_tier_in_gocacheprog() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let cache = h.join("cache");
    let base = format!(
        "{BIN} cacheprog --dir {} --max-size 1073741824",
        cache.display()
    );
    let out = env_with_remote(
        h,
        &[
            "--cacheprog-max-size",
            "1GiB",
            "--cacheprog-remote",
            "s3://bucket/p",
            "--cacheprog-remote-read-only",
            "--emit",
            "sh",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        exported_gocacheprog(&out),
        format!("{base} --remote s3://bucket/p --remote-read-only")
    );
    // From the environment, as the Action and the Jenkins step pass them; a URL with a space
    // is quoted for Go.
    let out = common::guard(h)
        .env("GOCACHE", &cache)
        .env("GO_DISK_GUARD_GO", "/nonexistent/go")
        .env("GO_DISK_GUARD_CACHEPROG_MAX_SIZE", "1GiB")
        .env("GO_DISK_GUARD_CACHEPROG_REMOTE", "s3://bucket/ci linux")
        .env("GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY", "false")
        .args(["env", "--emit", "sh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        exported_gocacheprog(&out),
        format!("{base} --remote 's3://bucket/ci linux'")
    );
}

#[test]
fn a_remote_tier_that_cannot_be_handed_on_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let refused = |args: &[&str], says: &str| {
        let out = env_with_remote(h, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    // Without a budget there is no GOCACHEPROG to name it in.
    refused(
        &["--cacheprog-remote", "s3://bucket/p", "--emit", "sh"],
        "needs --cacheprog-max-size",
    );
    // The URL is read as `cacheprog --remote` reads it.
    #[cfg(feature = "remote")]
    for (url, says) in [
        ("http://bucket/p", "only s3://BUCKET[/PREFIX]"),
        ("s3://Bucket/p", "is not a bucket name"),
        ("s3://bucket/../p", "plain path components"),
    ] {
        let args = ["--cacheprog-max-size", "1GiB", "--cacheprog-remote", url];
        refused(&args, says);
    }
    #[cfg(not(feature = "remote"))]
    refused(
        &[
            "--cacheprog-max-size",
            "1GiB",
            "--cacheprog-remote",
            "s3://bucket/p",
        ],
        "built without the `remote` feature",
    );
    // check refuses it before it does anything.
    let out = common::guard(h)
        .env("GOCACHE", h.join("cache"))
        .env("GO_DISK_GUARD_GO", "/nonexistent/go")
        .args(["check", "--cacheprog-remote", "s3://bucket/p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_configuration_file_cannot_name_the_remote_tier() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    fs::write(
        h.join(".go-disk-guard.yml"),
        "cacheprog-max-size: 1GiB\ncacheprog-remote: s3://attacker/p\n",
    )
    .unwrap();
    for command in ["env", "check"] {
        let out = common::guard(h)
            .env("GOCACHE", h.join("cache"))
            .env("GO_DISK_GUARD_GO", "/nonexistent/go")
            .args([command, "--emit", "sh"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "line 2 column 19: cacheprog-remote: a configuration file cannot name a remote tier"
            ) && stderr.contains("GO_DISK_GUARD_CACHEPROG_REMOTE"),
            "{command}: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("attacker"));
    }
    // It may make the remote tier read-only (it can only tighten).
    #[cfg(feature = "remote")]
    a_configuration_file_may_make_the_remote_tier_read_only(h);
}

#[cfg(feature = "remote")]
fn a_configuration_file_may_make_the_remote_tier_read_only(h: &Path) {
    fs::write(
        h.join(".go-disk-guard.yml"),
        "cacheprog-max-size: 1GiB\ncacheprog-remote-read-only: true\n",
    )
    .unwrap();
    let out = common::guard(h)
        .env("GOCACHE", h.join("cache"))
        .env("GO_DISK_GUARD_GO", "/nonexistent/go")
        .env("GO_DISK_GUARD_CACHEPROG_REMOTE", "s3://bucket/p")
        .args(["env", "--emit", "sh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(exported_gocacheprog(&out).ends_with(" --remote s3://bucket/p --remote-read-only"));
}
