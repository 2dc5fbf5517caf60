//! Untrusted text and the job's log, through the real binary: a Go directory's value, a path,
//! an argument holding line breaks, workflow commands (`::error::`, `::add-mask::`,
//! `::stop-commands::`), the legacy `##[` form or Markdown. No line of stdout or stderr is one
//! a GitHub Actions runner reads as a workflow command, but those go-disk-guard writes on
//! purpose (whose text is escaped); errors stay one line; the Markdown report holds no link,
//! image, HTML or broken code span from a value; JSON reads back as the value.

use crate::hostile;

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::*;

/// A value that is not hostile, for the same runs: what the output's shape should be.
const BENIGN: &str = "/tmp/benign-value";

fn run(home: &Path, args: &[&str], gocache: &str) -> Output {
    guard(home)
        .args(args)
        .args(["--go", "/nonexistent/go"])
        .env("GOCACHE", gocache)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn status_check_and_doctor_print_no_command_whatever_a_go_directory_holds() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for command in [&["status"][..], &["check", "--dry-run"], &["doctor"]] {
        for format in ["text", "markdown", "json"] {
            let mut args = command.to_vec();
            args.extend(["--format", format]);
            let plain = run(h, &args, BENIGN);
            for value in hostile::VALUES {
                let out = run(h, &args, value);
                let what = format!("{args:?} with GOCACHE={value:?}");
                let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
                assert!(
                    matches!(out.status.code(), Some(0 | 3 | 4)),
                    "{what}: {:?}\n{stderr}",
                    out.status
                );
                assert!(!stderr.contains("panicked"), "{what}: {stderr}");
                hostile::assert_no_commands(&out.stdout, &what);
                hostile::assert_no_commands(&out.stderr, &what);
                match format {
                    "text" => assert_eq!(
                        hostile::runner_lines(&stdout).len(),
                        hostile::runner_lines(&text(&plain.stdout)).len(),
                        "{what}: a value added lines:\n{stdout}"
                    ),
                    "markdown" => {
                        hostile::assert_no_markup_from_values(&stdout);
                        assert_eq!(
                            hostile::markdown_structure(&stdout),
                            hostile::markdown_structure(&text(&plain.stdout)),
                            "{what}: a value added Markdown:\n{stdout}"
                        );
                    }
                    _ => {
                        let report = json(&out);
                        let gocache = report["go"]["vars"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|v| v["name"] == "GOCACHE")
                            .unwrap();
                        assert_eq!(gocache["value"], *value, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn errors_are_one_line_that_starts_no_command() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for value in hostile::VALUES {
        // A directory that is not a Go build cache, whose name holds the value.
        let dir = h.join("caches").join(value.trim_start_matches("/tmp/"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("file"), "not a cache").unwrap();
        let dir = dir.to_str().unwrap().to_string();
        let config = format!("/nonexistent{value}");
        let runs: Vec<(Vec<&str>, &str, &str)> = vec![
            (
                vec!["prune", "--max-size", "1GB"],
                dir.as_str(),
                "go-disk-guard: error: refusing to prune ",
            ),
            (
                vec!["status", "--config", config.as_str()],
                BENIGN,
                "go-disk-guard: error: configuration file ",
            ),
        ];
        for (args, gocache, starts) in runs {
            let out = run(h, &args, gocache);
            let what = format!("{args:?} with {value:?}");
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
            assert!(stderr.starts_with(starts), "{what}: {stderr}");
            assert_eq!(
                hostile::runner_lines(stderr.trim_end_matches('\n')).len(),
                1,
                "{what}: the error is not one line:\n{stderr}"
            );
            hostile::assert_no_commands(&out.stderr, &what);
            hostile::assert_no_commands(&out.stdout, &what);
        }
        // An argument the parser rejects, quoted in its usage error.
        let out = guard(h).args(["check", "--soft", value]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{value:?}");
        assert!(
            text(&out.stderr).contains("--soft"),
            "{}",
            text(&out.stderr)
        );
        hostile::assert_no_commands(&out.stderr, &format!("--soft {value:?}"));
    }
}

/// Whether `line` is one of the workflow commands go-disk-guard writes itself.
fn ours(line: &str) -> bool {
    [
        "::notice title=go-disk-guard::",
        "::warning title=go-disk-guard::",
        "::error title=go-disk-guard::",
        "::error title=go-disk-guard%3A hard limit::",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

#[test]
fn emit_github_writes_only_its_own_commands_and_a_literal_summary() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for value in hostile::VALUES {
        for limits in [["1KiB", "0"], ["100%", "100%"]] {
            let files: Vec<_> = ["env", "path", "output", "summary"]
                .iter()
                .map(|f| {
                    let p = h.join(f);
                    fs::write(&p, "").unwrap();
                    p
                })
                .collect();
            let out = guard(h)
                .args(["check", "--emit", "github", "--go", "/nonexistent/go"])
                .args(["--soft", limits[0], "--hard", limits[1]])
                .env("GOCACHE", value)
                .env("GITHUB_ENV", &files[0])
                .env("GITHUB_PATH", &files[1])
                .env("GITHUB_OUTPUT", &files[2])
                .env("GITHUB_STEP_SUMMARY", &files[3])
                .output()
                .unwrap();
            let what = format!("check --emit github {limits:?} with GOCACHE={value:?}");
            assert!(
                matches!(out.status.code(), Some(0 | 3)),
                "{what}: {}",
                text(&out.stderr)
            );
            hostile::assert_no_commands_but(&out.stdout, &what, ours);
            hostile::assert_no_commands(&out.stderr, &what);
            // Our commands: one line each, whose message reads back as one line.
            let commands = hostile::commands(&out.stdout);
            assert!(!commands.is_empty(), "{what}");
            for c in &commands {
                let message = c.splitn(3, "::").nth(2).unwrap();
                assert!(
                    !hostile::unescape_data(message).contains(['\n', '\r']),
                    "{c}"
                );
            }
            if limits[1] == "100%" {
                assert!(commands.iter().any(|c| c.starts_with("::error")), "{what}");
            }
            // The job gets the value as it is.
            let env = parse_github_file(&fs::read(&files[0]).unwrap());
            let gocache = env.iter().find(|(n, _)| n == "GOCACHE").unwrap();
            assert_eq!(gocache.1, value.as_bytes(), "{what}");
            let summary = fs::read_to_string(&files[3]).unwrap();
            hostile::assert_no_markup_from_values(&summary);
        }
    }
}

#[test]
fn payloads_on_stdout_start_no_command_or_are_refused_in_one_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for value in hostile::VALUES {
        for format in ["sh", "fish", "pwsh", "cmd", "dotenv", "jenkins"] {
            let out = run(h, &["env", "--emit", format], value);
            let what = format!("env --emit {format} with GOCACHE={value:?}");
            hostile::assert_no_commands(&out.stdout, &what);
            hostile::assert_no_commands(&out.stderr, &what);
            match out.status.code() {
                Some(0) => {}
                Some(1) => {
                    // A value the format cannot carry: one line saying so.
                    let stderr = text(&out.stderr);
                    assert!(
                        matches!(format, "cmd" | "dotenv") && stderr.contains("cannot"),
                        "{what}: {stderr}"
                    );
                    assert_eq!(
                        hostile::runner_lines(stderr.trim_end_matches('\n')).len(),
                        1,
                        "{what}: {stderr}"
                    );
                }
                other => panic!("{what}: {other:?}: {}", text(&out.stderr)),
            }
            if format == "jenkins" {
                let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(doc["env"]["GOCACHE"], *value, "{what}");
            }
        }
    }
}
