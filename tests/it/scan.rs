//! `scan`, run as a user runs it: on a fixture repository with a path of every kind planted
//! in it, on the real `$(go env GOROOT)/src`, and with its SARIF checked against the SARIF
//! 2.1.0 JSON schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, json, missing, require_go};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `go-disk-guard scan ARGS` in `dir`.
fn scan(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .arg("scan")
        .args(args)
        .current_dir(dir)
        .env_remove("SystemDrive")
        .output()
        .unwrap()
}

/// `file:line:column rule path`, one per finding, from a JSON report.
fn lines(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {} {}",
                f["file"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect()
}

/// The lines of an `.expected` file, without its comment lines.
fn expected(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixtures().join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_planted_path_is_found_and_nothing_else() {
    let repo = fixtures().join("scan-repo");
    let out = scan(&repo, &["--format", "json"]);
    let report = json(&out);
    assert_eq!(lines(&report), expected("scan-repo.expected"));
    assert_eq!(report["problems"], serde_json::json!([]));
    // Errors among the findings: exit 4 by default.
    assert_eq!(out.status.code(), Some(4));
    // The finding carries the literal as written, the decoded path and the fix.
    let first_go = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "main.go")
        .unwrap();
    assert_eq!(first_go["source"], r#""C:\\Go\\bin""#);
    assert_eq!(first_go["path"], r"C:\Go\bin");
    assert_eq!(first_go["level"], "error");
    assert_eq!(first_go["name"], "system-drive-path");
    assert!(
        first_go["fix"]
            .as_str()
            .unwrap()
            .contains("os.UserCacheDir")
    );
}

#[test]
fn vendor_is_skipped_unless_asked_and_ignored_files_stay_ignored() {
    let repo = fixtures().join("scan-repo");
    let with_vendor = lines(&json(&scan(
        &repo,
        &["--format", "json", "--include-vendor"],
    )));
    let mut want = expected("scan-repo.expected");
    want.push(r"vendor/example.com/lib/lib.go:4:16 GDG001 C:\vendored\lib".into());
    want.sort();
    let mut got = with_vendor;
    got.sort();
    assert_eq!(got, want);
    for line in &got {
        assert!(
            !line.contains("ignored"),
            ".gitignore'd file scanned: {line}"
        );
    }
}

#[test]
fn fail_on_and_system_drive_set_levels_and_exit_codes() {
    let repo = fixtures().join("scan-repo");
    assert_eq!(scan(&repo, &["--fail-on", "never"]).status.code(), Some(0));
    assert_eq!(
        scan(&repo, &["--fail-on", "warning"]).status.code(),
        Some(4)
    );
    // Only warnings in these two files: `error` lets them pass, `warning` does not.
    let warnings_only = ["Dockerfile", "scripts/env.cmd"];
    assert_eq!(scan(&repo, &warnings_only).status.code(), Some(0));
    let mut args = warnings_only.to_vec();
    args.extend(["--fail-on", "warning"]);
    assert_eq!(scan(&repo, &args).status.code(), Some(4));
    // With D: as the system drive, D: paths become errors and C: paths warnings.
    let report = json(&scan(&repo, &["--format", "json", "--system-drive", "d:"]));
    let rule_of = |path: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap()["rule"]
            .clone()
    };
    assert_eq!(rule_of(r"D:\a\_work\go"), "GDG001");
    assert_eq!(rule_of(r"C:\Go\bin"), "GDG002");
    // Text names file, line, column, level, rule, and shows the fix.
    let text = String::from_utf8(scan(&repo, &["main.go"]).stdout).unwrap();
    assert!(
        text.contains(
            "main.go:13:15: error GDG001 system-drive-path: A hard-coded path on the system \
             drive in a Go string literal: C:\\Go\\bin\n    \"C:\\\\Go\\\\bin\"\n    fix: "
        ),
        "{text}"
    );
    assert!(text.ends_with("in 1 file scanned\n"), "{text}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = scan(dir.path(), &["no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("go-disk-guard: error: no/such/dir: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for (args, what) in [
        (&["--fail-on", "sometimes"][..], "--fail-on"),
        (&["--system-drive", "CD"][..], "drive letter"),
        (&["--format", "xml"][..], "--format"),
    ] {
        let out = scan(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(what),
            "{args:?}"
        );
    }
    let out = scan(
        dir.path(),
        &["--output", "no/such/dir/x.sarif", "--format", "sarif"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("writing the findings to no/such/dir/x.sarif")
    );
}

#[test]
#[ignore = "needs the Go that .ci/run installs: the findings in its GOROOT/src are listed"]
fn goroot_src_scans_without_an_error_and_its_findings_are_the_listed_ones() {
    let go = require_go();
    let version = Command::new(&go)
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout)
        .unwrap()
        .trim()
        .to_string();
    let listed = format!("goroot-src-{version}.expected");
    if !fixtures().join(&listed).exists() {
        missing(&format!(
            "the Go that .ci/run installs, for which the findings in GOROOT/src are listed; \
             not {version}"
        ));
    }
    let goroot = Command::new(&go)
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    let src = PathBuf::from(String::from_utf8(goroot.stdout).unwrap().trim()).join("src");
    let out = scan(&src, &["--format", "json", "."]);
    let report = json(&out);
    // Every Go file lexes: no file is reported as unreadable or invalid.
    assert_eq!(report["problems"], serde_json::json!([]));
    assert!(report["files_scanned"].as_u64().unwrap() > 5000);
    // Each listed finding was checked to be a real hard-coded path in a string literal
    // (Windows path handling tests, documentation examples, test fixtures); a change is a
    // regression or an improvement to look at.
    let got = lines(&report);
    let want = expected(&listed);
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );
}

/// A Python with jsonschema and the SARIF 2.1.0 schema (`$GO_DISK_GUARD_TEST_PYTHON`,
/// `$GO_DISK_GUARD_TEST_SARIF_SCHEMA`); the test fails without them.
fn sarif_validator() -> (std::ffi::OsString, std::ffi::OsString) {
    let (Some(python), Some(schema)) = (
        std::env::var_os("GO_DISK_GUARD_TEST_PYTHON"),
        std::env::var_os("GO_DISK_GUARD_TEST_SARIF_SCHEMA"),
    ) else {
        missing(
            "GO_DISK_GUARD_TEST_PYTHON (a Python with jsonschema) and \
             GO_DISK_GUARD_TEST_SARIF_SCHEMA (sarif-2.1.0.json)",
        );
    };
    (python, schema)
}

/// Checks the SARIF log at `sarif` against the schema, formats (URIs) included.
fn validates(python: &std::ffi::OsStr, schema: &std::ffi::OsStr, sarif: &Path) {
    let validate = Command::new(python)
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             cls = jsonschema.validators.validator_for(schema)\n\
             cls.check_schema(schema)\n\
             errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(json.load(open(sys.argv[2]))))\n\
             for e in errors: print(list(e.absolute_path), e.message)\n\
             sys.exit(1 if errors else 0)\n",
        )
        .arg(schema)
        .arg(sarif)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "SARIF does not validate:\n{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
}

/// Scans `root` with `--format sarif --output sarif`.
fn scan_to_sarif(root: &Path, sarif: &Path) -> std::process::Output {
    scan(
        root,
        &["--format", "sarif", "--output", sarif.to_str().unwrap()],
    )
}

#[test]
#[ignore = "needs Python with jsonschema and the SARIF 2.1.0 schema"]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let (python, schema) = sarif_validator();
    let repo = fixtures().join("scan-repo");
    let dir = tempfile::tempdir().unwrap();
    let sarif_path = dir.path().join("scan.sarif");
    let out = scan_to_sarif(&repo, &sarif_path);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("written to"));
    validates(&python, &schema, &sarif_path);

    // The hostile repository's log too: URIs of names that are not UTF-8 or hold line breaks.
    #[cfg(target_os = "linux")]
    {
        let hostile = tempfile::tempdir().unwrap();
        hostile_repo(hostile.path());
        let hostile_sarif = dir.path().join("hostile.sarif");
        let out = scan_to_sarif(hostile.path(), &hostile_sarif);
        assert_eq!(out.status.code(), Some(4));
        validates(&python, &schema, &hostile_sarif);
    }

    assert_the_validator_rejects_a_broken_log(&python, &schema, &sarif_path, dir.path());
    assert_code_scanning_finds_rules_and_results(&sarif_path);
}

/// The validator itself rejects a broken log (a level that does not exist), so the check
/// can fail.
fn assert_the_validator_rejects_a_broken_log(
    python: &std::ffi::OsStr,
    schema: &std::ffi::OsStr,
    sarif_path: &Path,
    dir: &Path,
) {
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sarif_path).unwrap()).unwrap();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    let broken_path = dir.join("broken.sarif");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    let rejected = Command::new(python)
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))\n",
        )
        .arg(schema)
        .arg(&broken_path)
        .output()
        .unwrap();
    assert!(!rejected.status.success());
}

/// What GitHub code scanning reads: rules with help, results pointing into the repository.
fn assert_code_scanning_finds_rules_and_results(sarif_path: &Path) {
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sarif_path).unwrap()).unwrap();
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 9);
    assert!(rules.iter().all(|r| r["help"]["text"].is_string()));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), expected("scan-repo.expected").len());
    let main_go = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "main.go")
        .unwrap();
    let location = &main_go["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(location["region"]["startLine"], 13);
    assert_eq!(location["region"]["startColumn"], 15);
    assert_eq!(main_go["ruleId"], "GDG001");
    assert_eq!(
        rules[main_go["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "GDG001"
    );
    assert!(main_go["partialFingerprints"].is_object());
    assert_eq!(run["columnKind"], "unicodeCodePoints");
}

/// Writes `content` at `name` (bytes, so that it need not be UTF-8) under `root`.
#[cfg(target_os = "linux")]
fn plant(root: &Path, name: &[u8], content: &str) {
    use std::os::unix::ffi::OsStrExt;
    let path = root.join(std::ffi::OsStr::from_bytes(name));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// `%XX` sequences back to bytes.
#[cfg(target_os = "linux")]
fn percent_decode(uri: &str) -> Vec<u8> {
    let b = uri.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// What a pull request from a stranger can hold: CI and build files with lines whose first
/// four bytes end inside a multi-byte character, a file whose name is not UTF-8, and a file
/// name and a literal that try to start workflow commands. Seven findings in six files.
#[cfg(target_os = "linux")]
fn hostile_repo(root: &Path) {
    plant(
        root,
        b".github/workflows/ci.yml",
        "on: push\njobs:\n  build:\n    steps:\n      - 名前: x\n        env:\n          GOPATH: C:\\Users\\me\\go\n",
    );
    plant(root, b"Makefile", "ab€\nGOPATH := /home/ci/go\n");
    plant(
        root,
        b"scripts/build.sh",
        "#!/bin/sh\n# 日本語のコメント\n: 日本語のコメント\nexport GOCACHE=/home/ci/.cache/go-build\n",
    );
    plant(root, b"caf\xe9.sh", "export GOROOT=/usr/local/go\n");
    plant(
        root,
        b"x\n::error::owned.go",
        "package p\n\nvar s = \"C:\\\\Go\"\nvar r = `one\n::warning::from-content ##[error]y\n/home/u/z`\n",
    );
    plant(root, b"::notice::top.sh", "GOBIN=/home/a/go/bin\n");
}

/// No output line may start a workflow command (the runner trims blanks first) or hold
/// the legacy `##[` anywhere; the runner breaks lines at CR as well as LF.
#[cfg(target_os = "linux")]
fn steers_nothing(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    assert!(!text.contains("panicked"), "{what}: {text}");
    for line in text.split(['\n', '\r']) {
        assert!(
            !line.trim_start().starts_with("::"),
            "{what}: a line starts a workflow command: {line:?}"
        );
        assert!(!line.contains("##["), "{what}: a line holds ##[: {line:?}");
    }
}

/// Scans `root` with `args`; neither stdout nor stderr steers the runner.
#[cfg(target_os = "linux")]
fn scan_steering_nothing(what: &str, root: &Path, args: &[&str]) -> std::process::Output {
    let out = scan(root, args);
    steers_nothing(&format!("{what} stdout"), &out.stdout);
    steers_nothing(&format!("{what} stderr"), &out.stderr);
    out
}

/// A hostile repository ([`hostile_repo`]): lines whose first four bytes end inside a
/// multi-byte character made `scan` panic (exit 101), the file whose name is not UTF-8 was
/// skipped without a word, and names and literals were printed raw. The scan exits with a
/// documented code, counts and reports every file, and no line it prints can start a workflow
/// command or hold `##[`.
#[cfg(target_os = "linux")]
#[test]
fn a_hostile_repository_is_scanned_in_full_and_steers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    hostile_repo(root);
    assert_the_text_report_shows_every_file_escaped(root);
    assert_the_json_report_shows_every_file_escaped(root);
    assert_sarif_uris_carry_the_exact_bytes(root);

    // With --output, the summary goes to stderr.
    let sarif_path = root.join("out.sarif");
    let out = scan_steering_nothing(
        "--output",
        root,
        &[
            "--format",
            "sarif",
            "--output",
            sarif_path.to_str().unwrap(),
            "--fail-on",
            "never",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in 6 file(s)"));
}

#[cfg(target_os = "linux")]
fn assert_the_text_report_shows_every_file_escaped(root: &Path) {
    let text = scan_steering_nothing("text", root, &[]);
    // Errors among the findings: exit 4, as documented (never 101, a panic).
    assert_eq!(text.status.code(), Some(4), "{text:?}");
    let stdout = String::from_utf8(text.stdout).unwrap();
    for shown in [
        r"caf\xe9.sh:1:15: warning GDG006 fixed-goroot",
        r"x\n::error::owned.go:3:9: error GDG001 system-drive-path",
        r"x\n::error::owned.go:6:1: error GDG004 user-home-path",
        r"    \x3a:warning::from-content #\x23[error]y",
        r"\x3a:notice::top.sh:1:7: error GDG004 user-home-path",
        ".github/workflows/ci.yml:7:19: error GDG001",
        "Makefile:2:11: error GDG004",
        "scripts/build.sh:4:16: error GDG004",
    ] {
        assert!(stdout.contains(shown), "{shown} not in:\n{stdout}");
    }
    assert!(stdout.ends_with("in 6 files scanned\n"), "{stdout}");
}

#[cfg(target_os = "linux")]
fn assert_the_json_report_shows_every_file_escaped(root: &Path) {
    let out = scan_steering_nothing("json", root, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(4));
    let report = json(&out);
    assert_eq!(report["files_scanned"], 6);
    assert_eq!(report["problems"], serde_json::json!([]));
    let mut got = lines(&report);
    got.sort();
    assert_eq!(
        got,
        [
            r".github/workflows/ci.yml:7:19 GDG001 C:\Users\me\go",
            "Makefile:2:11 GDG004 /home/ci/go",
            // Names are shown alike in every output: a leading `:` as `\x3a`.
            r"\x3a:notice::top.sh:1:7 GDG004 /home/a/go/bin",
            r"caf\xe9.sh:1:15 GDG006 /usr/local/go",
            "scripts/build.sh:4:16 GDG004 /home/ci/.cache/go-build",
            r"x\n::error::owned.go:3:9 GDG001 C:\Go",
            r"x\n::error::owned.go:6:1 GDG004 /home/u/z",
        ]
    );
    // The literal as written is kept whole in JSON; `##[` is written `##\u005b` there.
    let raw = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/home/u/z")
        .unwrap();
    assert_eq!(
        raw["source"],
        "`one\n::warning::from-content ##[error]y\n/home/u/z`"
    );
}

/// SARIF: URIs carry the names' exact bytes, percent-encoded.
#[cfg(target_os = "linux")]
fn assert_sarif_uris_carry_the_exact_bytes(root: &Path) {
    let out = scan_steering_nothing("sarif", root, &["--format", "sarif"]);
    assert_eq!(out.status.code(), Some(4));
    let sarif = json(&out);
    let uris: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    for (uri, name) in [
        ("caf%E9.sh", &b"caf\xe9.sh"[..]),
        ("x%0A%3A%3Aerror%3A%3Aowned.go", b"x\n::error::owned.go"),
        ("%3A%3Anotice%3A%3Atop.sh", b"::notice::top.sh"),
    ] {
        assert!(uris.contains(&uri), "{uri} not in {uris:?}");
        assert_eq!(percent_decode(uri), name);
    }
    for uri in &uris {
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
            "{uri}"
        );
    }
}

/// A file the walk listed as a regular file and that is then exchanged for a FIFO (by
/// whatever else runs on the machine) is not read: reading one without a writer would wait
/// forever.
#[cfg(unix)]
#[test]
fn a_file_exchanged_for_a_fifo_after_the_walk_listed_it_is_not_waited_on() {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let n = 64;
    for i in 0..n {
        std::fs::write(repo.join(format!("f{i}.go")), "package x\n").unwrap();
        rustix::fs::mknodat(
            CWD,
            repo.join(format!("f{i}.fifo")),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
    }
    let stop = AtomicBool::new(false);
    let hung = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for i in 0..n {
                    let _ = renameat_with(
                        CWD,
                        repo.join(format!("f{i}.go")),
                        CWD,
                        repo.join(format!("f{i}.fifo")),
                        RenameFlags::EXCHANGE,
                    );
                }
            }
        });
        let mut hung = false;
        for _ in 0..40 {
            let mut child = Command::new(common::bin())
                .args(["scan", "--format", "json"])
                .current_dir(repo)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while child.try_wait().unwrap().is_none() {
                if started.elapsed() > Duration::from_secs(20) {
                    hung = true;
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if hung {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        hung
    });
    assert!(!hung, "scan waited on a FIFO for 20s");
}

// ------------------------------------------------------------------------------------------
// Where a string lives, the platform's own paths, suppression, deduplication, and --fix:
// `tests/fixtures/scan-places`.

fn places() -> PathBuf {
    fixtures().join("scan-places")
}

/// `file:line:column level rule paths` for findings, `suppressed file:line:column rule paths
/// by how` for the suppressed ones, as `scan-places.expected` lists them.
fn place_lines(report: &serde_json::Value) -> Vec<String> {
    let paths = |f: &serde_json::Value| {
        f["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {} {} {}",
                f["file"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["level"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                paths(f)
            )
        })
        .collect();
    out.extend(report["suppressed"].as_array().unwrap().iter().map(|f| {
        format!(
            "suppressed {}:{}:{} {} {} by {}",
            f["file"].as_str().unwrap(),
            f["line"],
            f["column"],
            f["rule"].as_str().unwrap(),
            paths(f),
            f["suppression"]["by"].as_str().unwrap()
        )
    }));
    out
}

/// Test files, testdata, examples and test-only build tags are notes; prose in a Go string
/// too; the golang image's and the runners' own paths are not findings; a real pin in each
/// kind of file is an error; two paths in one literal are one finding; inline comments and
/// the configuration file suppress, and are counted.
#[test]
fn where_a_string_lives_decides_its_level_and_suppressions_are_counted() {
    let out = scan(&places(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(4));
    let report = json(&out);
    assert_eq!(place_lines(&report), expected("scan-places.expected"));
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["notes"], 7);
    let go_const = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "cmd/tool/main.go" && f["line"] == 9)
        .unwrap();
    assert_eq!(
        go_const["paths"],
        serde_json::json!(["/home/a/go/bin", "/home/b/go/bin"])
    );
    assert_eq!(go_const["place"], "code");

    // Text says where each note lives and counts what was suppressed.
    let text = String::from_utf8(scan(&places(), &[]).stdout).unwrap();
    assert!(
        text.contains("pkg/store/store_test.go:7:18: note GDG004 user-home-path: ")
            && text.contains("(test data)")
            && text.contains("(documentation text)"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "27 findings (13 errors, 7 warnings, 7 notes) in 18 files scanned; 6 suppressed \
             (4 by go-disk-guard:ignore comments, 2 by the configuration file)\n"
        ),
        "{text}"
    );

    // --include-tests: test data at the rules' own levels (documentation text stays a note).
    let report = json(&scan(&places(), &["--format", "json", "--include-tests"]));
    let level_of = |file: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == file)
            .unwrap()["level"]
            .clone()
    };
    assert_eq!(level_of("pkg/store/store_test.go"), "error");
    assert_eq!(level_of("testdata/mod/go.mod"), "error");
    assert_eq!(level_of("internal/itest/helpers.go"), "error");
    assert_eq!(report["notes"], 2);

    // --fail-on warning does not fail on notes alone.
    let out = scan(
        &places(),
        &["--fail-on", "warning", "pkg/store", "testdata", "examples"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_bad_scan_section_is_a_one_line_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (config, what) in [
        ("scan:\n  excludes: [x]\n", "excludes"),
        ("scan:\n  disable: [GDG010]\n", "GDG010"),
        ("scan:\n  include-tests: maybe\n", "maybe"),
    ] {
        std::fs::write(dir.path().join(".go-disk-guard.yml"), config).unwrap();
        let out = scan(dir.path(), &[]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{config}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(what), "{config}: {stderr}");
    }
    // Other commands read past a valid scan section.
    std::fs::write(
        dir.path().join(".go-disk-guard.yml"),
        "soft: 1GiB\nscan:\n  exclude: [x/]\n  disable: [GDG004]\n  include-tests: true\n",
    )
    .unwrap();
    assert_eq!(scan(dir.path(), &[]).status.code(), Some(0));
}

/// A copy of `from` at `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `root`, relative, with its bytes.
fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// A copy of the places fixture, its scripts/ci.sh with set-ID bits.
fn places_copy(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    copy_tree(&places(), &repo);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            repo.join("scripts/ci.sh"),
            // Set-ID bits too: a fixed file is new, owned by whoever ran --fix, and must not
            // carry them.
            std::fs::Permissions::from_mode(0o6754),
        )
        .unwrap();
    }
    repo
}

/// The (file, line) of each finding a JSON scan of `repo` reports.
fn reported_lines(repo: &Path) -> std::collections::BTreeSet<(String, u64)> {
    let before = json(&scan(repo, &["--format", "json"]));
    before["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `--fix --dry-run`: a diff, nothing written.
fn assert_a_dry_run_shows_a_diff_and_writes_nothing(
    repo: &Path,
    before_tree: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let out = scan(repo, &["--fix", "--dry-run"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("--- a/scripts/ci.sh\n+++ b/scripts/ci.sh\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+export PATH=$PATH:$(go env GOPATH)/bin\n"),
        "{stdout}"
    );
    // Go's own bin on PATH is how go is found: it is not asked of go.
    assert!(!stdout.contains("$(go env GOROOT)"), "{stdout}");
    assert_eq!(&tree(repo), before_tree);
}

/// `--fix --diff`: fixes what it can, shows what it only suggests, counts both.
fn assert_fix_reports_its_edits_and_suggestions(repo: &Path) {
    let out = scan(repo, &["--fix", "--diff"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("fixed: scripts/ci.sh:3: "), "{stdout}");
    // Go code is shown, never edited.
    assert!(
        stdout.contains("+const cacheDir = filepath.Join(must(os.UserCacheDir()), \"go-build\")"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: 8 edit(s) made; 4 suggested, not applied\n"),
        "{stdout}"
    );
}

/// An edited file is none of Go code, go.mod, a Dockerfile or a batch file; every line
/// that changed or went was reported; workflows stay YAML.
fn assert_only_reported_lines_changed(
    before_tree: &std::collections::BTreeMap<String, Vec<u8>>,
    after_tree: &std::collections::BTreeMap<String, Vec<u8>>,
    reported: &std::collections::BTreeSet<(String, u64)>,
) {
    for (file, old) in before_tree {
        let new = after_tree.get(file).unwrap();
        if old == new {
            continue;
        }
        assert!(
            !(file.ends_with(".go")
                || file.ends_with("go.mod")
                || file.ends_with("Dockerfile")
                || file.ends_with(".bat")),
            "{file} was edited"
        );
        // Every line that changed or went was reported.
        let old = String::from_utf8(old.clone()).unwrap();
        let new = String::from_utf8(new.clone()).unwrap();
        let new_lines: Vec<&str> = new.lines().collect();
        for (i, line) in old.lines().enumerate() {
            if !new_lines.contains(&line) {
                let n = i as u64 + 1;
                // The `env:` line above a removed only entry goes with it.
                let parent = line.trim() == "env:" && reported.contains(&(file.clone(), n + 1));
                assert!(
                    reported.contains(&(file.clone(), n)) || parent,
                    "{file}:{n} changed but was not reported: {line:?}"
                );
            }
        }
        if file.ends_with(".yml") {
            serde_saphyr::from_str::<serde_json::Value>(&new)
                .unwrap_or_else(|e| panic!("{file} is no longer YAML: {e}\n{new}"));
        }
    }
}

/// The fixed files scan clean but for what could not be fixed, which is still reported.
fn assert_the_fixed_files_scan_clean(repo: &Path) {
    let after = json(&scan(repo, &["--format", "json"]));
    let still: Vec<String> = place_lines(&after)
        .into_iter()
        .filter(|l| !l.starts_with("suppressed "))
        .collect();
    // scripts/ci.sh keeps only the warning it could not fix.
    assert_eq!(
        still
            .iter()
            .filter(|l| l.starts_with("scripts/ci.sh:"))
            .collect::<Vec<_>>(),
        ["scripts/ci.sh:4:13 warning GDG006 /usr/local/go/bin"]
    );
    for fixed in [
        "scripts/keep.sh",
        "scripts/setup.ps1",
        "Makefile",
        ".github/workflows/linux.yml",
        ".github/workflows/windows.yml",
    ] {
        assert!(
            !still.iter().any(|l| l.starts_with(&format!("{fixed}:"))),
            "{fixed} still has findings: {still:#?}"
        );
    }
    // What it could not fix is still reported.
    for left in [
        "Dockerfile:7:13 error",
        "scripts/env.bat:2:16 error",
        "go.mod:5:28",
    ] {
        assert!(
            still.iter().any(|l| l.starts_with(left)),
            "{left}: {still:#?}"
        );
    }
}

/// `scan --fix` on a copy: only lines it reported change, Go code, Dockerfiles, batch files
/// and go.mod stay as they were, workflows stay YAML, permissions stay, and the fixed files
/// scan clean; `--dry-run` writes nothing, `--diff` shows the suggestions.
#[test]
fn fix_edits_only_what_it_reported_and_the_edited_files_scan_clean() {
    let dir = tempfile::tempdir().unwrap();
    let repo = places_copy(dir.path());
    let before_tree = tree(&repo);
    let reported = reported_lines(&repo);
    assert_a_dry_run_shows_a_diff_and_writes_nothing(&repo, &before_tree);
    assert_fix_reports_its_edits_and_suggestions(&repo);
    let after_tree = tree(&repo);
    assert_only_reported_lines_changed(&before_tree, &after_tree, &reported);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(repo.join("scripts/ci.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o754);
    }
    // No temporary file is left behind.
    assert!(
        !after_tree.keys().any(|f| f.contains("go-disk-guard-")),
        "{:?}",
        after_tree.keys()
    );
    assert_the_fixed_files_scan_clean(&repo);
    // A second run has nothing left to make.
    let out = scan(&repo, &["--fix"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("fix: 0 edit(s) made"), "{stdout}");
}

/// A file given through a symbolic link is read (as every path given to scan is) but never
/// edited: the link is not followed for writing.
#[cfg(unix)]
#[test]
fn fix_does_not_edit_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.sh");
    std::fs::write(&target, "export GOCACHE=/home/ci/.cache/go-build\n").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("link.sh")).unwrap();
    let out = scan(dir.path(), &["--fix", "link.sh"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "export GOCACHE=/home/ci/.cache/go-build\n"
    );
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.sh"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A path in single quotes is never replaced by `$(go env …)`: neither a shell nor PowerShell
/// expands it there, and the variable would name a directory called `$(go env GOMODCACHE)`.
#[test]
fn fix_never_puts_a_go_env_expression_inside_single_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let sh = "export PATH='/home/ci/go/bin':$PATH\nexport GOMODCACHE='/home/ci/go/pkg/mod'\necho \"$GOMODCACHE\"\n";
    let ps1 = "$env:GOMODCACHE = 'C:\\Users\\ci\\go\\pkg\\mod'\nWrite-Host $env:GOMODCACHE\n";
    std::fs::write(dir.path().join("ci.sh"), sh).unwrap();
    std::fs::write(dir.path().join("env.ps1"), ps1).unwrap();
    let out = scan(dir.path(), &["--fix", "--dry-run"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("'$(go env"), "{stdout}");
    scan(dir.path(), &["--fix"]);
    for (name, was) in [("ci.sh", sh), ("env.ps1", ps1)] {
        let now = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(!now.contains("'$(go env"), "{name}: {now}");
        assert_eq!(now, was, "{name}");
    }
}

/// Nor inside a quoted here-document or a PowerShell literal here-string, whose lines are
/// taken as they are written.
#[test]
fn fix_never_puts_a_go_env_expression_inside_a_literal_here_document() {
    let dir = tempfile::tempdir().unwrap();
    let sh = "cat > tools.env <<'EOF'\nexport PATH=/home/ci/go/bin:$PATH\nEOF\ncat <<-\"END\"\n\tPATH=/home/ci/go/bin:$PATH\n\tEND\n";
    let ps1 = "$text = @'\n$env:GOMODCACHE = \"C:\\Users\\ci\\go\\pkg\\mod\"\nWrite-Host $env:GOMODCACHE\n'@\n";
    std::fs::write(dir.path().join("ci.sh"), sh).unwrap();
    std::fs::write(dir.path().join("env.ps1"), ps1).unwrap();
    let out = scan(dir.path(), &["--fix"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("fix: 0 edit(s) made"), "{stdout}");
    for (name, was) in [("ci.sh", sh), ("env.ps1", ps1)] {
        let now = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(now, was, "{name}");
    }
}

/// Planning, checking and showing the edits of a file takes time in proportion to it: a
/// script of 60,000 fixable lines (2 MB) is done in well under two minutes, not many.
#[test]
fn fix_of_a_large_file_takes_time_in_proportion_to_it() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ci.sh"),
        "export PATH=/home/ci/go/bin:$PATH\n".repeat(60_000),
    )
    .unwrap();
    let mut child = Command::new(common::bin())
        .args(["scan", "--fix", "--dry-run"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scan --fix --dry-run took more than 120s on a 2 MB script");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The SARIF of findings with fixes and suppressions validates against the 2.1.0 schema.
#[test]
#[ignore = "needs Python with jsonschema and the SARIF 2.1.0 schema"]
fn sarif_with_fixes_and_suppressions_validates_against_the_sarif_2_1_0_schema() {
    let (python, schema) = sarif_validator();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&places(), &repo);
    let doc = json(&scan(&repo, &["--format", "sarif"]));
    let path = dir.path().join("places.sarif");
    std::fs::write(&path, doc.to_string()).unwrap();
    validates(&python, &schema, &path);
}

/// SARIF: one result per place, suppressed ones marked so, fixes where an edit is known,
/// fingerprints unique and unchanged when lines move.
#[test]
fn sarif_has_fixes_suppressions_and_stable_unique_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&places(), &repo);
    let sarif = |repo: &Path| json(&scan(repo, &["--format", "sarif"]));
    let doc = sarif(&repo);
    let results = doc["runs"][0]["results"].as_array().unwrap().clone();
    // 27 findings and 6 suppressed, each once.
    assert_eq!(results.len(), 33);
    let prints = |results: &[serde_json::Value]| {
        results
            .iter()
            .map(|r| {
                r["partialFingerprints"]["goDiskGuardFinding/v2"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(prints(&results).len(), results.len());
    assert_eq!(
        results
            .iter()
            .filter(|r| r["suppressions"].is_array())
            .count(),
        6
    );
    let with_fix = |uri: &str, line: u64| {
        results.iter().find(|r| {
            let l = &r["locations"][0]["physicalLocation"];
            l["artifactLocation"]["uri"] == uri && l["region"]["startLine"] == line
        })
    };
    let ci = with_fix("scripts/ci.sh", 6).unwrap();
    let replacement = &ci["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(
        replacement["insertedContent"]["text"],
        "$(go env GOPATH)/bin"
    );
    assert_eq!(replacement["deletedRegion"]["startColumn"], 19);
    assert_eq!(replacement["deletedRegion"]["endColumn"], 34);
    assert!(with_fix("scripts/ci.sh", 5).unwrap()["fixes"].is_null());
    assert!(with_fix("cmd/tool/main.go", 6).unwrap()["fixes"].is_array());
    // Lines inserted above every finding: the same fingerprints.
    for file in [
        "cmd/tool/main.go",
        "scripts/ci.sh",
        ".github/workflows/linux.yml",
    ] {
        let path = repo.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        std::fs::write(&path, format!("{first}\n\n\n{rest}")).unwrap();
    }
    let moved = sarif(&repo);
    let moved = moved["runs"][0]["results"].as_array().unwrap();
    assert_eq!(prints(moved), prints(&results));
}
