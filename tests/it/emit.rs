//! Handing the environment on: every format reads back exactly the values given, and no
//! value — newlines, delimiter text, `=`, quotes, `$(...)`, backticks, `%`, bytes that are not
//! UTF-8 — can add or change any other variable. Shell output is run through the real bash,
//! dash and fish; GitHub's files are read back by a parser written from GitHub's documented
//! format, and a real `go env` is run in the environment they describe.
//!
//! PowerShell and cmd cannot run here: their quoting is covered by unit tests only.

use crate::hostile;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use go_disk_guard::emit::{self, EmitFormat, Injection};
use proptest::strategy::Strategy;

use crate::common::*;

/// Values meant to break out of their quoting or entry.
fn hostile() -> Vec<Vec<u8>> {
    vec![
        b"/plain/path".to_vec(),
        b"/with space/and\ttab".to_vec(),
        b"/a\nEVIL=1\nexport EVIL2=1".to_vec(),
        b"/x<<ghadelimiter_\nghadelimiter_\nEVIL=1".to_vec(),
        b"/it's \"quoted\" \\ back\\'slash".to_vec(),
        b"/$(touch pwned)/`touch pwned2`/${HOME}/$HOME".to_vec(),
        b"/100% %PATH% 50%".to_vec(),
        b"/eq=sign=/x; touch pwned3 #".to_vec(),
        b"/not-utf8/\xff\xfe\x80".to_vec(),
        b"/x\n::error::owned\r::add-mask::y".to_vec(),
        b"/x ##[error]owned ###[z".to_vec(),
        b"/x\r\n  ::stop-commands::t\n".to_vec(),
        b"::error::at-the-start".to_vec(),
        b"/x`](http://e.x)![i](http://e.x)<img src=x>|".to_vec(),
        "/x\u{2028}::error::y\u{85}z".as_bytes().to_vec(),
    ]
}

fn injection(values: &[Vec<u8>]) -> Injection {
    let names = ["GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOBIN"];
    Injection {
        env: names
            .iter()
            .zip(values)
            .map(|(&n, v)| (n, OsString::from_vec(v.clone())))
            .collect(),
        path_prepend: values
            .iter()
            .take(2)
            .map(|v| PathBuf::from(OsString::from_vec(v.clone())))
            .collect(),
    }
}

/// Runs `script` with `shell` in an empty environment, in `dir/work` with HOME `dir/home`,
/// and returns the environment it exports at the end (`env -0`).
fn run_shell(shell: &str, script: &[u8], dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut full = script.to_vec();
    full.extend_from_slice(b"\nenv -0\n");
    let file = dir.join("script");
    fs::write(&file, &full).unwrap();
    let (home, work) = (dir.join("home"), dir.join("work"));
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(&work).unwrap();
    let out = Command::new(shell)
        .arg(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} failed on:\n{}\n{}",
        String::from_utf8_lossy(&full),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|&b| b == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let eq = kv.iter().position(|&b| b == b'=').unwrap();
            (kv[..eq].to_vec(), kv[eq + 1..].to_vec())
        })
        .collect()
}

/// The shells a Unix system has: bash, the one every test runs through.
const BASH: &[(&str, EmitFormat)] = &[("bash", EmitFormat::Sh)];
/// The other shells, which need installing (Debian dash, fish): `#[ignore]`d twins of the
/// tests run through them.
const DASH_AND_FISH: &[(&str, EmitFormat)] =
    &[("dash", EmitFormat::Sh), ("fish", EmitFormat::Fish)];

/// `shells`, each of which must be installed (the test fails otherwise).
fn shells(shells: &[(&'static str, EmitFormat)]) -> Vec<(&'static str, EmitFormat)> {
    for (shell, _) in shells {
        if !Path::new("/usr/bin").join(shell).exists() && !Path::new("/bin").join(shell).exists() {
            missing(&format!("{shell} (Debian {shell})"));
        }
    }
    shells.to_vec()
}

#[test]
fn shell_output_round_trips_through_real_shells_and_sets_nothing_else() {
    shell_output_round_trips_and_sets_nothing_else(BASH);
}

#[test]
#[ignore = "needs dash and fish"]
fn shell_output_round_trips_through_dash_and_fish_and_sets_nothing_else() {
    shell_output_round_trips_and_sets_nothing_else(DASH_AND_FISH);
}

fn shell_output_round_trips_and_sets_nothing_else(through: &[(&'static str, EmitFormat)]) {
    let shells = shells(through);
    let values = hostile();
    for chunk in values.chunks(5) {
        let inj = injection(chunk);
        for &(shell, format) in &shells {
            round_trip(shell, format, &inj);
        }
    }
}

/// Evaluates `inj` in `format` with the real `shell`: every injected variable reads back as
/// exactly its value, PATH gets exactly the directories in front, nothing else appears or
/// changes, no command runs; and no line of the payload, shown in a log, is a workflow
/// command.
fn round_trip(shell: &str, format: EmitFormat, inj: &Injection) {
    let dir = tempfile::tempdir().unwrap();
    let baseline = run_shell(shell, b"", dir.path());
    let script = emit::shell(format, inj).unwrap();
    hostile::assert_no_commands(&script, &format!("{format:?} payload"));
    let got = run_shell(shell, &script, dir.path());
    for (name, value) in &inj.env {
        assert_eq!(
            got.get(name.as_bytes()).map(|v| v.as_slice()),
            Some(value.as_bytes()),
            "{shell}: {name} did not read back from:\n{}",
            String::from_utf8_lossy(&script)
        );
    }
    // Exactly the injected names were added; nothing else appeared or changed,
    // but PATH (and bash's `_`, the last command).
    for (name, value) in &got {
        let injected = inj.env.iter().any(|(n, _)| n.as_bytes() == name.as_slice());
        if injected || name == b"PATH" || name == b"_" {
            continue;
        }
        assert_eq!(
            baseline.get(name),
            Some(value),
            "{shell}: {} appeared or changed",
            String::from_utf8_lossy(name)
        );
    }
    let path = &got[&b"PATH".to_vec()];
    let mut expected = Vec::new();
    for d in &inj.path_prepend {
        expected.extend_from_slice(d.as_os_str().as_bytes());
        expected.push(b':');
    }
    expected.extend_from_slice(b"/usr/bin:/bin");
    if shell == "fish" {
        // fish keeps PATH as a list split at `:` and exports an empty element as `.` (which is
        // what an empty element means): a directory holding `::` or nothing comes back so.
        expected = expected
            .split(|&b| b == b':')
            .map(|e| if e.is_empty() { &b"."[..] } else { e })
            .collect::<Vec<_>>()
            .join(&b':');
    }
    assert_eq!(path, &expected, "{shell}: PATH");
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("work"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "{shell} ran a command from a value: {leftovers:?}"
    );
}

#[test]
fn generated_hostile_values_round_trip_through_real_shells() {
    generated_hostile_values_round_trip(BASH);
}

#[test]
#[ignore = "needs dash and fish"]
fn generated_hostile_values_round_trip_through_dash_and_fish() {
    generated_hostile_values_round_trip(DASH_AND_FISH);
}

fn generated_hostile_values_round_trip(through: &[(&'static str, EmitFormat)]) {
    use proptest::test_runner::{Config, TestRunner};
    let shells = shells(through);
    // A fixed budget: each case runs every shell twice.
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let values = proptest::collection::vec(hostile::bytes(), 5)
        .prop_filter("the shells refuse NUL", |vs| {
            !vs.iter().any(|v| v.contains(&0))
        });
    runner
        .run(&values, |values| {
            let inj = injection(&values);
            for (shell, format) in &shells {
                round_trip(shell, *format, &inj);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn values_the_shell_forms_cannot_carry_are_refused() {
    let inj = injection(&[b"/a\0b".to_vec()]);
    for format in [
        EmitFormat::Sh,
        EmitFormat::Fish,
        EmitFormat::Pwsh,
        EmitFormat::Cmd,
        EmitFormat::Dotenv,
    ] {
        assert!(emit::shell(format, &inj).is_err(), "{format:?}");
    }
    // cmd and dotenv cannot split ##[ in their quoting.
    let inj = injection(&[b"/a##[error]b".to_vec()]);
    for format in [EmitFormat::Cmd, EmitFormat::Dotenv] {
        let err = emit::shell(format, &inj).unwrap_err().to_string();
        assert!(err.contains("##["), "{format:?}: {err}");
    }
}

fn github_files(dir: &Path) -> emit::github::Files {
    let make = |name: &str| {
        let p = dir.join(name);
        fs::write(&p, "").unwrap();
        Some(p)
    };
    emit::github::Files {
        env: make("env"),
        path: make("path"),
        output: make("output"),
        step_summary: make("summary"),
    }
}

#[test]
fn github_files_carry_hostile_values_without_injection() {
    let home = tempfile::tempdir().unwrap();
    let values: Vec<Vec<u8>> = hostile()
        .into_iter()
        .filter(|v| !v.contains(&b'\n'))
        .chain(hostile().into_iter().filter(|v| v.contains(&b'\n')))
        .collect();
    for chunk in values.chunks(5) {
        let dir = tempfile::tempdir().unwrap();
        let files = github_files(dir.path());
        let mut inj = injection(chunk);
        // GITHUB_PATH takes one path a line: a line break there must be refused, not written.
        if inj
            .path_prepend
            .iter()
            .any(|p| p.as_os_str().as_bytes().contains(&b'\n'))
        {
            let report = report_of(home.path());
            let err = emit::github::write(&files, &inj, &report).unwrap_err();
            assert!(err.to_string().contains("line break"), "{err}");
            inj.path_prepend.clear();
        }
        let report = report_of(home.path());
        emit::github::write(&files, &inj, &report).unwrap();
        let env = parse_github_file(&fs::read(files.env.as_ref().unwrap()).unwrap());
        let expected: Vec<(String, Vec<u8>)> = inj
            .env
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(env, expected);
        let outputs = parse_github_file(&fs::read(files.output.as_ref().unwrap()).unwrap());
        let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "status",
                "available-bytes",
                "pruned-bytes",
                "pruned-files",
                "would-prune-bytes",
                "would-prune-files",
                "dry-run",
                "goroot",
                "gopath",
                "gocache",
                "gomodcache",
                "gobin"
            ]
        );
        let gocache = outputs.iter().find(|(n, _)| n == "gocache").unwrap();
        assert_eq!(gocache.1, inj.get("GOCACHE").unwrap().as_bytes());
    }
}

/// A small real report for the writers that need one.
fn report_of(home: &Path) -> go_disk_guard::report::Report {
    let settings = go_disk_guard::settings::Settings::from_layers(go_disk_guard::settings::Layer {
        go: Some("/nonexistent/go".into()),
        paths: Some(vec![home.to_path_buf()]),
        ..Default::default()
    })
    .unwrap();
    go_disk_guard::commands::env::report(&settings).unwrap()
}

#[test]
#[ignore = "needs Go: runs go env"]
fn check_emit_github_hands_go_env_the_injected_directories() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let files = github_files(h);
    let gocache = h.join("build cache");
    let gopath = h.join("go path");
    let out = guard(h)
        .args(["check", "--emit", "github"])
        .env("GOCACHE", &gocache)
        .env("GOPATH", &gopath)
        .env("GITHUB_ENV", files.env.as_ref().unwrap())
        .env("GITHUB_PATH", files.path.as_ref().unwrap())
        .env("GITHUB_OUTPUT", files.output.as_ref().unwrap())
        .env("GITHUB_STEP_SUMMARY", files.step_summary.as_ref().unwrap())
        .output()
        .unwrap();
    assert_success(&out);

    // What the next step of the job would see.
    let env = parse_github_file(&fs::read(files.env.as_ref().unwrap()).unwrap());
    let path_lines = fs::read_to_string(files.path.as_ref().unwrap()).unwrap();
    let mut path: Vec<PathBuf> = path_lines.lines().rev().map(PathBuf::from).collect();
    path.extend(["/usr/bin", "/bin"].map(PathBuf::from));
    let mut go_env = Command::new(&go);
    go_env
        .env_clear()
        .env("HOME", h)
        .env("GOTOOLCHAIN", "local")
        .env("PATH", std::env::join_paths(&path).unwrap())
        .args([
            "env",
            "-json",
            "GOROOT",
            "GOPATH",
            "GOCACHE",
            "GOMODCACHE",
            "GOBIN",
        ]);
    for (name, value) in &env {
        go_env.env(name, OsString::from_vec(value.clone()));
    }
    let reported: BTreeMap<String, String> =
        serde_json::from_slice(&go_env.output().unwrap().stdout).unwrap();
    let injected: BTreeMap<String, String> = env
        .iter()
        .map(|(n, v)| (n.clone(), String::from_utf8(v.clone()).unwrap()))
        .collect();
    assert_eq!(reported, injected);
    assert_eq!(injected["GOCACHE"], gocache.to_str().unwrap());
    assert_eq!(
        injected["GOMODCACHE"],
        gopath.join("pkg/mod").to_str().unwrap()
    );
    // GOBIN and $GOROOT/bin are on the PATH the job gets, GOBIN first.
    assert_eq!(path[0], gopath.join("bin"));
    assert_eq!(path[1], Path::new(&injected["GOROOT"]).join("bin"));
    // The job summary holds the Markdown report.
    let summary = fs::read_to_string(files.step_summary.as_ref().unwrap()).unwrap();
    assert!(
        summary.contains("### ") && summary.contains("| Volume |"),
        "{summary}"
    );
}

#[test]
fn an_unwritable_github_file_is_an_error_with_exit_code_1() {
    let home = tempfile::tempdir().unwrap();
    let files = github_files(home.path());
    let out = guard(home.path())
        .args(["env", "--emit", "github", "--go", "/nonexistent/go"])
        .env("GITHUB_ENV", home.path().join("missing/env"))
        .env("GITHUB_PATH", files.path.as_ref().unwrap())
        .env("GITHUB_OUTPUT", files.output.as_ref().unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("GITHUB_ENV") && stderr.contains("missing/env"),
        "{stderr}"
    );
}

#[test]
fn jenkins_document_carries_values_as_json_to_stdout_or_a_file() {
    let home = tempfile::tempdir().unwrap();
    let hostile = "/a\"b\\c\nd=e $(x) %f%";
    let file = home.path().join("go-env.json");
    for to_file in [false, true] {
        let mut cmd = guard(home.path());
        cmd.args(["env", "--emit", "jenkins", "--go", "/nonexistent/go"])
            .env("GOCACHE", hostile);
        if to_file {
            cmd.arg("--emit-file").arg(&file);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        let doc: serde_json::Value = if to_file {
            assert!(out.stdout.is_empty());
            serde_json::from_slice(&fs::read(&file).unwrap()).unwrap()
        } else {
            serde_json::from_slice(&out.stdout).unwrap()
        };
        assert_eq!(doc["env"]["GOCACHE"], hostile);
        assert_eq!(
            doc["pathPrepend"][0],
            home.path().join("go/bin").to_str().unwrap()
        );
        assert_eq!(doc["status"], "ok");
        assert_eq!(doc["exitCode"], 0);
        assert!(doc["availableBytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn check_with_a_stdout_payload_sends_the_report_to_stderr() {
    let home = tempfile::tempdir().unwrap();
    let out = guard(home.path())
        .args(["check", "--emit", "sh", "--go", "/nonexistent/go"])
        .env("GOCACHE", home.path().join("c"))
        .output()
        .unwrap();
    assert_success(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().all(|l| l.starts_with("export ")), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Volumes:"));
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_full_disk_under_github_env_is_an_error_with_exit_code_1() {
    let home = tempfile::tempdir().unwrap();
    let _full = Tmpfs::mount(&home.path().join("full"), "1m");
    let files = github_files(home.path());
    let env_file = home.path().join("full/env");
    fs::write(&env_file, "").unwrap();
    // Fill the volume to the last byte.
    let mut filler = fs::File::create(home.path().join("full/filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    let out = guard(home.path())
        .args(["env", "--emit", "github", "--go", "/nonexistent/go"])
        .env("GITHUB_ENV", &env_file)
        .env("GITHUB_PATH", files.path.as_ref().unwrap())
        .env("GITHUB_OUTPUT", files.output.as_ref().unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("GITHUB_ENV") && stderr.contains("No space left"),
        "{stderr}"
    );
}
