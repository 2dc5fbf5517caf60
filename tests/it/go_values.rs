//! Go's directory values as the go command holds them, through the real binary: a GOCACHE
//! whose name is not UTF-8 is measured at its real path and handed on byte for byte (sourced
//! in a real bash, and read back from GITHUB_ENV), with and without a go binary; a relative
//! GOCACHE and a missing HOME are reported in the go command's words, not as GOCACHE=off; a
//! relative GOBIN never reaches PATH and is reported; what a real `go env -w` writes is read
//! as the go command reads it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// The two ways of resolving: computing without a go binary (`--go` naming none), and
/// asking the test Go. A test of both runs the first by default and the second, which needs
/// Go, in an `#[ignore]`d twin (`…_asking_go`).
const COMPUTED: Option<&str> = Some("/nonexistent/go");
const ASKING_GO: Option<&str> = None;

/// `go-disk-guard ARGS` with `--go` when `go` is given, `env` added.
fn run(home: &Path, go: Option<&str>, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = guard(home);
    cmd.args(args);
    if let Some(go) = go {
        cmd.args(["--go", go]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The exact bytes of `name` in a JSON report's `go.vars`: `value_bytes` when given, else the
/// text of `value`.
fn reported_bytes(report: &serde_json::Value, name: &str) -> Vec<u8> {
    let var = report["go"]["vars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", report["go"]));
    match var.get("value_bytes") {
        Some(bytes) => serde_json::from_value(bytes.clone()).unwrap(),
        None => var["value"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// Sources `script` in a real bash and returns the environment it ends with (`env -0`).
fn sourced_in_bash(script: &[u8], dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let file = dir.join("emitted.sh");
    let mut full = script.to_vec();
    full.extend_from_slice(b"\nenv -0\n");
    fs::write(&file, &full).unwrap();
    let out = Command::new("bash")
        .arg(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .output()
        .expect("running bash");
    assert!(out.status.success(), "bash: {}", stderr(&out));
    out.stdout
        .split(|&b| b == 0)
        .filter_map(|kv| {
            let eq = kv.iter().position(|&b| b == b'=')?;
            Some((kv[..eq].to_vec(), kv[eq + 1..].to_vec()))
        })
        .collect()
}

/// Empty GitHub files for `--emit github`, and the variables naming them.
fn github_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    [
        "GITHUB_ENV",
        "GITHUB_PATH",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
    ]
    .into_iter()
    .map(|name| {
        let path = dir.join(name.to_ascii_lowercase());
        fs::write(&path, "").unwrap();
        (name, path)
    })
    .collect()
}

#[test]
fn a_gocache_that_is_not_utf8_is_measured_at_its_real_path_and_handed_on_byte_exact() {
    a_gocache_that_is_not_utf8_is_measured_at_its_real_path_and_handed_on_byte_exact_with(&[
        COMPUTED,
    ]);
}

#[test]
#[ignore = "needs Go: asks go env"]
fn a_gocache_that_is_not_utf8_is_measured_at_its_real_path_and_handed_on_byte_exact_asking_go() {
    require_go();
    a_gocache_that_is_not_utf8_is_measured_at_its_real_path_and_handed_on_byte_exact_with(&[
        ASKING_GO,
    ]);
}

fn a_gocache_that_is_not_utf8_is_measured_at_its_real_path_and_handed_on_byte_exact_with(
    resolvers: &[Option<&str>],
) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut gocache = h.as_os_str().as_bytes().to_vec();
    gocache.extend_from_slice(b"/caf\xe9 cache");
    let gocache = OsString::from_vec(gocache);
    fs::create_dir_all(&gocache).unwrap();
    for &go in resolvers {
        let env: &[(&str, &OsStr)] = &[("GOCACHE", &gocache)];

        // Measured where it is: the directory exists (an altered name would not).
        let out = run(h, go, &["status", "--format", "json"], env);
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(
            reported_bytes(&report, "GOCACHE"),
            gocache.as_bytes(),
            "{go:?}"
        );
        let watched = watched_path(&report, "GOCACHE");
        assert_eq!(watched["exists"], true, "{go:?}: {watched}");

        // The text report shows the byte, escaped, on one line.
        let out = run(h, go, &["status"], env);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("caf\\xe9 cache"), "{go:?}: {text}");

        // sh: sourced by a real bash, GOCACHE is the same bytes.
        let out = run(h, go, &["env", "--emit", "sh"], env);
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let exported = sourced_in_bash(&out.stdout, h);
        assert_eq!(
            exported.get(&b"GOCACHE"[..]).map(Vec::as_slice),
            Some(gocache.as_bytes()),
            "{go:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );

        // github: GITHUB_ENV reads back as the same bytes.
        let files_dir = tempfile::tempdir().unwrap();
        let files = github_files(files_dir.path());
        let mut with_files: Vec<(&str, &OsStr)> = env.to_vec();
        with_files.extend(files.iter().map(|(n, p)| (*n, p.as_os_str())));
        let out = run(h, go, &["check", "--emit", "github"], &with_files);
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let written = parse_github_file(&fs::read(&files[0].1).unwrap());
        let handed: BTreeMap<String, Vec<u8>> = written.into_iter().collect();
        assert_eq!(handed["GOCACHE"], gocache.as_bytes(), "{go:?}");

        // Formats that cannot carry the byte refuse it, never alter it.
        for format in ["pwsh", "cmd", "dotenv", "jenkins"] {
            let out = run(h, go, &["env", "--emit", format], env);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{go:?} {format}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains("not valid UTF-8"), "{go:?} {format}");
            assert!(out.stdout.is_empty(), "{go:?} {format}");
        }
    }
}

#[test]
fn a_default_from_a_home_or_xdg_cache_home_that_is_not_utf8_keeps_the_bytes() {
    a_default_from_a_home_or_xdg_cache_home_that_is_not_utf8_keeps_the_bytes_with(&[COMPUTED]);
}

#[test]
#[ignore = "needs Go: asks go env"]
fn a_default_from_a_home_or_xdg_cache_home_that_is_not_utf8_keeps_the_bytes_asking_go() {
    require_go();
    a_default_from_a_home_or_xdg_cache_home_that_is_not_utf8_keeps_the_bytes_with(&[ASKING_GO]);
}

fn a_default_from_a_home_or_xdg_cache_home_that_is_not_utf8_keeps_the_bytes_with(
    resolvers: &[Option<&str>],
) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut xdg = h.as_os_str().as_bytes().to_vec();
    xdg.extend_from_slice(b"/x\xff");
    let xdg = OsString::from_vec(xdg);
    let mut expected = xdg.as_bytes().to_vec();
    expected.extend_from_slice(b"/go-build");
    fs::create_dir_all(Path::new(&xdg).join("go-build")).unwrap();
    let mut odd_home = h.as_os_str().as_bytes().to_vec();
    odd_home.extend_from_slice(b"/h\xe9");
    let odd_home = OsString::from_vec(odd_home);
    fs::create_dir_all(&odd_home).unwrap();
    for &go in resolvers {
        let out = run(
            h,
            go,
            &["status", "--format", "json"],
            &[("XDG_CACHE_HOME", &xdg)],
        );
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(reported_bytes(&report, "GOCACHE"), expected, "{go:?}");
        assert_eq!(watched_path(&report, "GOCACHE")["exists"], true, "{go:?}");

        let out = run(
            h,
            go,
            &["status", "--format", "json"],
            &[("HOME", &odd_home)],
        );
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let report = json(&out);
        let mut gopath = odd_home.as_bytes().to_vec();
        gopath.extend_from_slice(b"/go");
        let mut gocache = odd_home.as_bytes().to_vec();
        gocache.extend_from_slice(b"/.cache/go-build");
        assert_eq!(reported_bytes(&report, "GOPATH"), gopath, "{go:?}");
        assert_eq!(reported_bytes(&report, "GOCACHE"), gocache, "{go:?}");
    }
}

#[test]
fn a_relative_gocache_and_a_missing_home_are_reported_in_gos_words() {
    a_relative_gocache_and_a_missing_home_are_reported_in_gos_words_with(&[COMPUTED]);
}

#[test]
#[ignore = "needs Go: asks go env"]
fn a_relative_gocache_and_a_missing_home_are_reported_in_gos_words_asking_go() {
    require_go();
    a_relative_gocache_and_a_missing_home_are_reported_in_gos_words_with(&[ASKING_GO]);
}

fn a_relative_gocache_and_a_missing_home_are_reported_in_gos_words_with(
    resolvers: &[Option<&str>],
) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let relative = "GOCACHE is not an absolute path";
    let undefined = "GOCACHE is not defined and neither $XDG_CACHE_HOME nor $HOME are defined";
    for &go in resolvers {
        for command in ["status", "check", "doctor"] {
            let out = run(h, go, &[command], &[("GOCACHE", OsStr::new("rel/cache"))]);
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
            assert!(all.contains(relative), "{go:?} {command}: {all}");
            assert!(all.contains("GOCACHE=rel/cache"), "{go:?} {command}: {all}");
            assert!(!all.contains("GOCACHE=off"), "{go:?} {command}: {all}");

            let mut cmd = guard(h);
            cmd.env_remove("HOME").arg(command);
            if let Some(go) = go {
                cmd.args(["--go", go]);
            }
            let out = cmd.output().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
            assert!(all.contains(undefined), "{go:?} {command}: {all}");
            assert!(!all.contains("GOCACHE=off"), "{go:?} {command}: {all}");
        }
        // doctor: the go command stops every build, so it is an error (exit 4), under the
        // code for what it is.
        let out = run(
            h,
            go,
            &["doctor", "--format", "json"],
            &[("GOCACHE", OsStr::new("rel/cache"))],
        );
        assert_eq!(out.status.code(), Some(4), "{go:?}: {}", stderr(&out));
        let report = json(&out);
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "gocache-relative")
            .unwrap_or_else(|| panic!("{go:?}: {}", report["findings"]));
        assert!(finding["message"].as_str().unwrap().contains(relative));
        let gocache = report["go"]["vars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "GOCACHE")
            .unwrap()
            .clone();
        assert_eq!(gocache["error"], relative, "{go:?}");
        // prune refuses it in the same words, naming the setting (exit 2).
        let out = run(
            h,
            go,
            &["prune", "--max-size", "1GB"],
            &[("GOCACHE", OsStr::new("rel/cache"))],
        );
        assert_eq!(out.status.code(), Some(2), "{go:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("rel/cache") && stderr(&out).contains(relative),
            "{go:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_relative_gobin_from_the_goenv_file_is_not_put_on_path_and_is_reported() {
    a_relative_gobin_from_the_goenv_file_is_not_put_on_path_and_is_reported_with(&[COMPUTED]);
}

#[test]
#[ignore = "needs Go: asks go env"]
fn a_relative_gobin_from_the_goenv_file_is_not_put_on_path_and_is_reported_asking_go() {
    require_go();
    a_relative_gobin_from_the_goenv_file_is_not_put_on_path_and_is_reported_with(&[ASKING_GO]);
}

fn a_relative_gobin_from_the_goenv_file_is_not_put_on_path_and_is_reported_with(
    resolvers: &[Option<&str>],
) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let goenv = h.join("goenv");
    fs::write(&goenv, "GOBIN=bin\n").unwrap();
    let words = "cannot install, GOBIN must be an absolute path";
    for &go in resolvers {
        let env: &[(&str, &OsStr)] = &[("GOENV", goenv.as_os_str())];
        let out = run(h, go, &["env", "--emit", "sh"], env);
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let exported = sourced_in_bash(&out.stdout, h);
        let path = String::from_utf8(exported[&b"PATH"[..]].clone()).unwrap();
        for dir in std::env::split_paths(&path) {
            assert!(
                dir.is_absolute(),
                "{go:?}: {} on PATH {path}",
                dir.display()
            );
        }
        assert!(path.ends_with("/usr/bin:/bin"), "{go:?}: {path}");
        if go.is_none() {
            // With a go binary GOROOT is known: its bin stays in front of PATH.
            assert!(path.contains("/bin:/usr/bin"), "{go:?}: {path}");
        }

        let files_dir = tempfile::tempdir().unwrap();
        let files = github_files(files_dir.path());
        let mut with_files: Vec<(&str, &OsStr)> = env.to_vec();
        with_files.extend(files.iter().map(|(n, p)| (*n, p.as_os_str())));
        let out = run(h, go, &["check", "--emit", "github"], &with_files);
        assert!(out.status.success(), "{go:?}: {}", stderr(&out));
        let github_path = fs::read_to_string(&files[1].1).unwrap();
        for line in github_path.lines() {
            assert!(Path::new(line).is_absolute(), "{go:?}: {line}");
        }
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            all.contains("GOBIN=bin") && all.contains(words) && all.contains("never put on PATH"),
            "{go:?}: {all}"
        );

        let out = run(h, go, &["doctor", "--format", "json"], env);
        let report = json(&out);
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "gobin-relative"
                    && f["message"].as_str().unwrap().contains(words)),
            "{go:?}: {}",
            report["findings"]
        );
    }
}

#[test]
#[ignore = "needs Go: runs go env -w"]
fn what_a_real_go_env_w_writes_is_read_as_go_reads_it() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let goenv = h.join("written-by-go");
    let values = [
        (
            "GOCACHE",
            h.join("cache with spaces=and#hash").display().to_string(),
        ),
        (
            "GOMODCACHE",
            h.join("mod 'quoted' \"twice\" é €").display().to_string(),
        ),
        ("GOTMPDIR", h.join("tmp\\back\tslash").display().to_string()),
        ("GOBIN", String::new()),
    ];
    let mut w = Command::new(&go);
    w.env_clear()
        .env("HOME", h)
        .env("GOENV", &goenv)
        .env("GOTOOLCHAIN", "local")
        .args(["env", "-w"]);
    for (k, v) in &values {
        w.arg(format!("{k}={v}"));
    }
    let out = w.output().unwrap();
    assert!(out.status.success(), "go env -w: {}", stderr(&out));
    let mut ask = Command::new(&go);
    ask.env_clear()
        .env("HOME", h)
        .env("GOENV", &goenv)
        .env("GOTOOLCHAIN", "local")
        .args(["env", "-json", "GOCACHE", "GOMODCACHE", "GOTMPDIR", "GOBIN"]);
    let expected: BTreeMap<String, String> =
        serde_json::from_slice(&ask.output().unwrap().stdout).unwrap();
    let out = guard(h)
        .env("GOENV", &goenv)
        .args(["status", "--format", "json", "--go", "/nonexistent/go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    for (name, value) in &expected {
        assert_eq!(
            reported_bytes(&report, name),
            value.as_bytes(),
            "{name} in {}",
            fs::read_to_string(&goenv).unwrap()
        );
    }
}

/// A stand-in for `go` that answers `go env -json` with U+FFFD where GOCACHE has a byte that
/// is not UTF-8 (as Go's JSON encoder does), and `go env GOCACHE` with `plain`.
fn fake_go(dir: &Path, plain: &[u8]) -> PathBuf {
    let go = dir.join("fake-go");
    let mut script = b"#!/bin/sh\nif [ \"$2\" = -json ]; then\n  printf '%s\\n' \
        '{\"GOCACHE\": \"/from/go/caf\\ufffd\", \"GOPATH\": \"/gp\", \"GOVERSION\": \"go1.99.0\"}'\n\
        else\n  printf '"
        .to_vec();
    for b in plain {
        script.extend_from_slice(format!("\\{b:03o}").as_bytes());
    }
    script.extend_from_slice(b"\\n'\nfi\n");
    fs::write(&go, script).unwrap();
    fs::set_permissions(&go, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    go
}

#[test]
fn a_value_go_env_json_altered_is_asked_of_go_env_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Go computed GOCACHE from something the tool does not see: `go env GOCACHE` has the bytes.
    let go = fake_go(h, b"/from/go/caf\xe9");
    let out = guard(h)
        .args(["status", "--format", "json", "--go"])
        .arg(&go)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["go"]["resolver"]["version"], "go1.99.0");
    assert_eq!(reported_bytes(&report, "GOCACHE"), b"/from/go/caf\xe9");
    assert_eq!(reported_bytes(&report, "GOPATH"), b"/gp");

    // Bytes that do not print as what go env -json said are not taken: Go's text stays, and
    // the report says so.
    let go = fake_go(h, b"/elsewhere/\xe9");
    let out = guard(h)
        .args(["status", "--format", "json", "--go"])
        .arg(&go)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        reported_bytes(&report, "GOCACHE"),
        "/from/go/caf\u{fffd}".as_bytes()
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"]
                .as_str()
                .unwrap()
                .contains("GOCACHE holds U+FFFD")),
        "{}",
        report["findings"]
    );
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_relocation_root_that_is_not_utf8_is_handed_on_byte_exact_and_json_refuses_it() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // GOCACHE on a small volume of its own, so that the roomier disk holding the candidate
    // root (named with a byte that is not UTF-8) is chosen.
    let small = Tmpfs::mount(&h.join("small"), "8m");
    let mut root = h.as_os_str().as_bytes().to_vec();
    root.extend_from_slice(b"/r\xe9loc");
    let root = OsString::from_vec(root);
    fs::create_dir_all(&root).unwrap();
    let mut expected = root.as_bytes().to_vec();
    expected.extend_from_slice(b"/go-disk-guard/cache");
    let relocate = |extra: &[&str]| {
        guard(h)
            .args(["env", "--go", "/nonexistent/go", "--relocate", "auto"])
            .arg("--relocate-candidate")
            .arg(&root)
            .arg("--system-volume")
            .arg(&small.dir)
            .args(extra)
            .env("GOCACHE", small.dir.join("cache"))
            .output()
            .unwrap()
    };
    let out = relocate(&["--emit", "sh"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = sourced_in_bash(&out.stdout, h);
    assert_eq!(
        exported[&b"GOCACHE"[..]],
        expected,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The JSON report cannot carry the moves' paths: an error naming the format (exit 1),
    // not a report with altered paths.
    let out = relocate(&["--emit", "sh", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--format json cannot carry this report"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_gocache_that_is_not_utf8_is_pruned_like_any_other() {
    a_gocache_that_is_not_utf8_is_pruned_like_any_other_with(&[COMPUTED]);
}

#[test]
#[ignore = "needs Go: asks go env"]
fn a_gocache_that_is_not_utf8_is_pruned_like_any_other_asking_go() {
    require_go();
    a_gocache_that_is_not_utf8_is_pruned_like_any_other_with(&[ASKING_GO]);
}

fn a_gocache_that_is_not_utf8_is_pruned_like_any_other_with(resolvers: &[Option<&str>]) {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join(OsStr::from_bytes(b"caf\xe9-cache"));
    synthetic_cache(
        &cache,
        12,
        256,
        std::time::Duration::from_secs(30 * 24 * 3600),
    );
    for &go in resolvers {
        let out = run(
            home.path(),
            go,
            &["prune", "--max-size", "0", "--keep-recent", "0s"],
            &[("GOCACHE", cache.as_os_str())],
        );
        assert_eq!(out.status.code(), Some(0), "{go:?}: {}", stderr(&out));
        assert!(cache_entries(&cache).is_empty(), "{go:?}");
        synthetic_cache(
            &cache,
            12,
            256,
            std::time::Duration::from_secs(30 * 24 * 3600),
        );
    }
}
