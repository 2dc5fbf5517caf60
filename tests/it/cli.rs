//! The command line as users meet it: help, settings precedence, and bad input. Every bad
//! input must end with the documented exit code and one line naming the culprit, never a
//! panic.

use crate::common;

use std::fs;

use crate::common::{assert_success, guard, json, synthetic_cache};

#[test]
fn help_documents_commands_examples_and_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let out = guard(home.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "status",
        "env",
        "check",
        "prune",
        "Exit codes",
        "GO_DISK_GUARD_",
    ] {
        assert!(text.contains(word), "{word} missing from --help:\n{text}");
    }
    let out = guard(home.path())
        .args(["check", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "Examples:",
        "--soft",
        "--hard",
        "--target",
        "--keep-recent",
        "--dry-run",
    ] {
        assert!(
            text.contains(word),
            "{word} missing from check --help:\n{text}"
        );
    }
    let out = guard(home.path()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("go-disk-guard "));
}

/// One bad input: the arguments, files to write first, environment, the expected exit code,
/// and words the one-line error must contain.
struct Bad {
    args: &'static [&'static str],
    config: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    code: i32,
    says: &'static [&'static str],
}

/// The bad inputs, each with its exit code and the words that name the culprit.
const BAD_INPUTS: &[Bad] = &[
    Bad {
        args: &["check", "--soft", "10XB"],
        config: None,
        env: &[],
        code: 2,
        says: &["10XB", "--soft"],
    },
    Bad {
        args: &["check", "--hard=-5GB"],
        config: None,
        env: &[],
        code: 2,
        says: &["--hard"],
    },
    Bad {
        args: &["check", "--soft", "150%"],
        config: None,
        env: &[],
        code: 2,
        says: &["150%", "100%"],
    },
    Bad {
        args: &["check", "--soft", "1GB", "--hard", "2GB"],
        config: None,
        env: &[],
        code: 2,
        says: &["hard", "soft"],
    },
    Bad {
        args: &["check", "--keep-recent", "soon"],
        config: None,
        env: &[],
        code: 2,
        says: &["soon", "--keep-recent"],
    },
    Bad {
        args: &["prune", "--older-than", "7"],
        config: None,
        env: &[],
        code: 2,
        says: &["--older-than"],
    },
    Bad {
        args: &["prune", "--max-size", "lots"],
        config: None,
        env: &[],
        code: 2,
        says: &["lots", "--max-size"],
    },
    Bad {
        args: &["prune"],
        config: None,
        env: &[],
        code: 2,
        says: &["--max-size", "--older-than"],
    },
    Bad {
        args: &["check", "--format", "xml"],
        config: None,
        env: &[],
        code: 2,
        says: &["xml"],
    },
    Bad {
        args: &["frobnicate"],
        config: None,
        env: &[],
        code: 2,
        says: &["frobnicate"],
    },
    Bad {
        args: &["check"],
        config: Some("soft: [1,\n"),
        env: &[],
        code: 2,
        says: &[".go-disk-guard.yml", "line 1"],
    },
    Bad {
        args: &["check"],
        config: Some("soft: 1GB\nsfot: 2GB\n"),
        env: &[],
        code: 2,
        says: &["sfot", "line 2 column 1"],
    },
    Bad {
        args: &["check"],
        config: Some("hard: 1GB\nsoft: ten\n"),
        env: &[],
        code: 2,
        says: &["soft", "\"ten\"", "line 2"],
    },
    Bad {
        args: &["check"],
        config: Some("dry-run: maybe\n"),
        env: &[],
        code: 2,
        says: &["dry-run"],
    },
    Bad {
        args: &["check"],
        config: Some("- just\n- a list\n"),
        env: &[],
        code: 2,
        says: &[".go-disk-guard.yml"],
    },
    Bad {
        args: &["check", "--config", "missing.yml"],
        config: None,
        env: &[],
        code: 2,
        says: &["missing.yml"],
    },
    Bad {
        args: &["check"],
        config: None,
        env: &[("GO_DISK_GUARD_SOFT", "1 MB or so")],
        code: 2,
        says: &["GO_DISK_GUARD_SOFT", "1 MB or so"],
    },
    Bad {
        args: &["check"],
        config: None,
        env: &[("GO_DISK_GUARD_KEEP_RECENT", "-1h")],
        code: 2,
        says: &["GO_DISK_GUARD_KEEP_RECENT"],
    },
    Bad {
        args: &["check"],
        config: None,
        env: &[("GO_DISK_GUARD_CONFIG", "/nonexistent/cfg.yml")],
        code: 2,
        says: &["/nonexistent/cfg.yml"],
    },
    Bad {
        args: &["prune", "--max-size", "1GB"],
        config: None,
        env: &[("GOCACHE", "relative/cache")],
        code: 2,
        says: &["relative/cache", "absolute"],
    },
    Bad {
        args: &["prune", "--max-size", "1GB"],
        config: None,
        env: &[("GOCACHE", "off")],
        code: 2,
        says: &["GOCACHE=off"],
    },
];

#[test]
fn bad_inputs_fail_with_the_documented_code_and_name_the_culprit() {
    for bad in BAD_INPUTS {
        assert_fails_naming_the_culprit(bad);
    }
}

/// The cache program's remote tier: flags that need --remote, what `prune --remote` needs, and
/// a read-only variable that says neither true nor false. Refused before any request.
#[test]
#[cfg(feature = "remote")]
fn remote_tier_inputs_are_usage_errors_naming_the_culprit() {
    const REMOTE: &[Bad] = &[
        Bad {
            args: &[
                "cacheprog",
                "--dir",
                "c",
                "--max-size",
                "1GB",
                "--remote-read-only",
            ],
            config: None,
            env: &[],
            code: 2,
            says: &["--remote"],
        },
        Bad {
            args: &[
                "cacheprog",
                "--dir",
                "c",
                "--max-size",
                "1GB",
                "--remote",
                "s3://go-cache",
            ],
            config: None,
            env: &[("GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY", "maybe")],
            code: 2,
            says: &["GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY", "maybe"],
        },
        Bad {
            args: &["prune", "--remote", "s3://go-cache/ci"],
            config: None,
            env: &[],
            code: 2,
            says: &["--older-than"],
        },
        Bad {
            args: &[
                "prune",
                "--remote",
                "s3://go-cache/ci",
                "--older-than",
                "1d",
                "--max-size",
                "5%",
            ],
            config: None,
            env: &[],
            code: 2,
            says: &["--max-size", "percentage"],
        },
        Bad {
            args: &[
                "prune",
                "--remote",
                "s3://go-cache/ci",
                "--older-than",
                "1d",
                "--stale-work",
            ],
            config: None,
            env: &[],
            code: 2,
            says: &["--stale-work"],
        },
    ];
    for bad in REMOTE {
        assert_fails_naming_the_culprit(bad);
    }
}

/// Runs the bad input in a fresh home: the documented exit code, no panic, the culprit
/// named, and our own errors on one line.
fn assert_fails_naming_the_culprit(bad: &Bad) {
    let home = tempfile::tempdir().unwrap();
    if let Some(text) = bad.config {
        fs::write(home.path().join(".go-disk-guard.yml"), text).unwrap();
    }
    let mut cmd = guard(home.path());
    cmd.args(bad.args)
        .env("GO_DISK_GUARD_GO", "/nonexistent/go");
    for (k, v) in bad.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(bad.code),
        "{:?} {:?}: stderr: {stderr}",
        bad.args,
        bad.config
    );
    assert!(!stderr.contains("panicked"), "{:?}: {stderr}", bad.args);
    for word in bad.says {
        assert!(
            stderr.contains(word),
            "{:?} {:?}: {word:?} not in {stderr}",
            bad.args,
            bad.config
        );
    }
    // Our own errors are one line; clap's usage errors add a usage hint.
    if stderr.starts_with("go-disk-guard: error:") {
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{:?}: {stderr}",
            bad.args
        );
    }
}

#[test]
#[ignore = "needs root: a read-only bind mount"]
fn an_unwritable_cache_is_a_runtime_error_naming_it() {
    common::require_root("for a read-only bind mount");
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    synthetic_cache(&cache, 8, 100, std::time::Duration::from_secs(10 * 3600));
    // The cache, bound read-only elsewhere: even root cannot write there.
    let ro = home.path().join("ro");
    let _mount = common::BindMount::read_only(&cache, &ro);
    let out = guard(home.path())
        .args(["prune", "--max-size", "0", "--keep-recent", "0s"])
        .env("GOCACHE", &ro)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(ro.to_str().unwrap()), "{stderr}");
    assert!(stderr.to_lowercase().contains("read-only"), "{stderr}");
    assert_eq!(common::cache_entries(&cache).len(), 8);
}

#[test]
fn flags_beat_environment_beats_file_beats_defaults() {
    let home = tempfile::tempdir().unwrap();
    fs::write(
        home.path().join(".go-disk-guard.yml"),
        "soft: 10GB\nhard: 2GB\ntarget: 30GB\nkeep-recent: 3h\n",
    )
    .unwrap();
    let out = guard(home.path())
        .args(["status", "--format", "json", "--hard", "3GB"])
        .env("GO_DISK_GUARD_SOFT", "20GB")
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    let s = &report["settings"];
    assert_eq!(s["soft"], 20_000_000_000u64); // environment over file
    assert_eq!(s["hard"], 3_000_000_000u64); // flag over file
    assert_eq!(s["target"], 30_000_000_000u64); // file over default
    assert_eq!(s["keep_recent"], "3h"); // file over default
    assert_eq!(s["lock_timeout"], "1m"); // default
}

#[test]
fn the_config_file_is_found_in_the_git_root() {
    let home = tempfile::tempdir().unwrap();
    let sub = home.path().join("repo/a/b");
    fs::create_dir_all(&sub).unwrap();
    fs::create_dir_all(home.path().join("repo/.git")).unwrap();
    fs::write(
        home.path().join("repo/.go-disk-guard.yml"),
        "keep-recent: 5h\n",
    )
    .unwrap();
    let out = guard(home.path())
        .current_dir(&sub)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json(&out)["settings"]["keep_recent"], "5h");
}

/// Regression: `--config /dev/zero` (or a configuration file a repository links to a device)
/// read without end and hung the run.
#[cfg(unix)]
#[test]
fn a_config_file_that_is_a_device_or_huge_is_refused_not_read_without_end() {
    let home = tempfile::tempdir().unwrap();
    let huge = home.path().join("huge.yml");
    fs::write(&huge, "# padding\n".repeat(200_000)).unwrap();
    let link = home.path().join("link.yml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    for (config, why) in [
        ("/dev/zero", "not a regular file"),
        (link.to_str().unwrap(), "not a regular file"),
        (home.path().to_str().unwrap(), "not a regular file"),
        (huge.to_str().unwrap(), "larger than 1048576 bytes"),
    ] {
        let started = std::time::Instant::now();
        let out = guard(home.path())
            .args(["status", "--config", config])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{config}");
        let err = common::stderr(&out);
        assert!(err.contains(why), "{config}: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{config}"
        );
        // The environment's name for the file is read the same way.
        let out = guard(home.path())
            .args(["status"])
            .env("GO_DISK_GUARD_CONFIG", config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "GO_DISK_GUARD_CONFIG={config}");
    }
    // Just under the limit is read.
    fs::write(&huge, "# padding\n".repeat(100_000)).unwrap();
    let out = guard(home.path())
        .args(["status", "--config", huge.to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&out);
}

#[test]
fn empty_environment_variables_count_as_unset() {
    // GitHub Actions passes unset inputs as empty strings.
    let home = tempfile::tempdir().unwrap();
    let out = guard(home.path())
        .args(["status", "--format", "json"])
        .env("GO_DISK_GUARD_SOFT", "")
        .env("GO_DISK_GUARD_CONFIG", "")
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(json(&out)["settings"]["soft"], 4u64 << 30);
}

#[cfg(unix)]
#[test]
fn a_setting_in_the_environment_that_is_not_utf8_is_a_usage_error_naming_it() {
    use std::os::unix::ffi::OsStringExt;
    let home = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("GO_DISK_GUARD_SOFT", b"10\xffGB".to_vec()),
        ("GO_DISK_GUARD_KEEP_RECENT", b"\xe92h".to_vec()),
        ("GO_DISK_GUARD_PATHS", b"/tmp/caf\xe9".to_vec()),
    ] {
        let out = guard(home.path())
            .args(["status", "--go", "/nonexistent/go"])
            .env(name, std::ffi::OsString::from_vec(value))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "go-disk-guard: error: environment variable {name}: its value"
            )) && stderr.contains("is not UTF-8"),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_path_that_is_not_utf8_under_format_json_is_an_error_not_a_panic() {
    // The JSON report used to panic (exit 101) on a --path that is not UTF-8.
    use std::os::unix::ffi::OsStringExt;
    let home = tempfile::tempdir().unwrap();
    let mut path = home.path().as_os_str().to_os_string().into_vec();
    path.extend_from_slice(b"/caf\xe9");
    let path = std::ffi::OsString::from_vec(path);
    let out = guard(home.path())
        .args([
            "status",
            "--format",
            "json",
            "--go",
            "/nonexistent/go",
            "--path",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("go-disk-guard: error: --format json cannot carry this report"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // The text report carries it.
    let out = guard(home.path())
        .args(["status", "--go", "/nonexistent/go", "--path"])
        .arg(&path)
        .output()
        .unwrap();
    assert_success(&out);
}

#[test]
fn a_missing_cache_is_nothing_to_prune() {
    let home = tempfile::tempdir().unwrap();
    let out = guard(home.path())
        .args(["prune", "--max-size", "1GB", "--format", "json"])
        .env("GOCACHE", home.path().join("not-yet"))
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["prunes"].as_array().unwrap().len(), 0);
    assert!(
        report["findings"]
            .to_string()
            .contains("does not exist yet")
    );
}

#[cfg(unix)]
#[test]
fn links_on_the_way_to_a_go_directory_are_reported() {
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("real-cache");
    synthetic_cache(&real, 3, 10, std::time::Duration::from_secs(7200));
    let link = home.path().join("linked");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let out = guard(home.path())
        .args(["status", "--format", "json"])
        .env("GOCACHE", link.join("."))
        .output()
        .unwrap();
    let report = json(&out);
    let gocache = common::watched_path(&report, "GOCACHE");
    assert_eq!(
        gocache["links"],
        serde_json::json!([{
            "path": link.to_str().unwrap(),
            "kind": "symlink",
            "target": real.to_str().unwrap(),
            "relative": false,
        }]),
        "{gocache}"
    );
    assert_eq!(report["cache"]["entries"], 3);
    // Paths without links say nothing of them.
    let gopath = common::watched_path(&report, "GOPATH");
    assert!(gopath.get("links").is_none(), "{gopath}");

    let text = guard(home.path())
        .arg("status")
        .env("GOCACHE", &link)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "{} is a symbolic link to {}",
            link.display(),
            real.display()
        )),
        "{text}"
    );
}

/// `--save-settings`: the settings a check ran with reach the commands that follow through the
/// handed-on GO_DISK_GUARD_CONFIG; a later flag or variable still wins, `--config` replaces the
/// file, and a link planted at the file's name is replaced, never written through.
#[test]
fn saved_settings_carry_to_later_commands() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    fs::write(h.join(".go-disk-guard.yml"), "target: 30GB\n").unwrap();
    // A link planted where the settings go: its target must stay as it is.
    let victim = h.join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let saved = h.join("tmp/settings.yml");
    fs::create_dir(h.join("tmp")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&victim, &saved).unwrap();
    let out = guard(h)
        .args(["check", "--soft", "2GB", "--path", "/", "--path", "work"])
        .args(["--emit", "dotenv"])
        .args(["--save-settings", "tmp/settings.yml"])
        .env("GO_DISK_GUARD_KEEP_RECENT", "3h")
        .env("GO_DISK_GUARD_DRY_RUN", "true")
        .env("GO_DISK_GUARD_RELOCATE", h.join("elsewhere"))
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!fs::symlink_metadata(&saved).unwrap().is_symlink());
    let dotenv = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = dotenv
        .lines()
        .find(|l| l.starts_with("GO_DISK_GUARD_CONFIG="))
        .unwrap_or_else(|| panic!("GO_DISK_GUARD_CONFIG not handed on:\n{dotenv}"));
    let handed = line
        .trim_start_matches("GO_DISK_GUARD_CONFIG=")
        .trim_matches(['\'', '"']);
    assert_eq!(std::path::Path::new(handed), saved);

    // A later command somewhere else, with only the handed-on variable.
    let later = |args: &[&str], env: &[(&str, &str)]| {
        let elsewhere = tempfile::tempdir().unwrap();
        let mut cmd = guard(elsewhere.path());
        cmd.args(["status", "--format", "json"])
            .args(args)
            .env("GO_DISK_GUARD_CONFIG", &saved);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        json(&out)["settings"].clone()
    };
    let s = later(&[], &[]);
    assert_eq!(s["soft"], 2_000_000_000u64); // the check's flag
    assert_eq!(s["keep_recent"], "3h"); // the check's environment
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["target"], 30_000_000_000u64); // the check's file
    assert_eq!(s["paths"][0], "/");
    // A relative path means what it meant where the check ran.
    assert_eq!(s["paths"][1], h.join("work").to_str().unwrap());
    assert_eq!(s["lock_timeout"], "1m"); // a default stays a default
    // Relocation was the check's to do, once: it is not carried.
    let text = fs::read_to_string(&saved).unwrap();
    assert!(
        !text.contains("relocate") && !text.contains("elsewhere"),
        "{text}"
    );

    // A later flag, or a later variable, wins over the saved file.
    assert_eq!(later(&["--soft", "3GB"], &[])["soft"], 3_000_000_000u64);
    assert_eq!(
        later(&[], &[("GO_DISK_GUARD_SOFT", "4GB")])["soft"],
        4_000_000_000u64
    );
    // --config replaces the saved file.
    let other = h.join("other.yml");
    fs::write(&other, "soft: 5GB\n").unwrap();
    let s = later(&["--config", other.to_str().unwrap()], &[]);
    assert_eq!(s["soft"], 5_000_000_000u64);
    assert_eq!(s["keep_recent"], "2h");
}

/// A runner may give a step a terminal: in CI there is still no bar (no escape sequence), while outside CI the same prune on a terminal draws one. The terminal is
/// a real pseudo-terminal, from util-linux's `script`.
#[cfg(target_os = "linux")]
#[test]
fn no_progress_bar_in_ci_even_on_a_terminal() {
    let prune_on_a_terminal = |ci: &[(&str, &str)]| {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join("cache");
        synthetic_cache(
            &cache,
            3000,
            100,
            std::time::Duration::from_secs(5 * 86_400),
        );
        let command = format!(
            "'{}' prune --max-size 0 --keep-recent 0s",
            common::bin().display()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &command, "/dev/null"])
            .env_clear()
            .env("PATH", common::test_path())
            .env("HOME", home.path())
            .env("TERM", "xterm")
            .env("GOCACHE", &cache);
        for (k, v) in ci {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        assert!(common::cache_entries(&cache).is_empty());
        out.stdout
    };
    // A terminal ends lines with CR LF, so only the escape sequences tell a bar.
    let drawn = |bytes: &[u8]| bytes.contains(&0x1b);
    assert!(
        drawn(&prune_on_a_terminal(&[])),
        "no bar on a terminal outside CI"
    );
    for ci in ["CI", "GITHUB_ACTIONS", "JENKINS_URL"] {
        let out = prune_on_a_terminal(&[(ci, "true")]);
        assert!(!drawn(&out), "{ci}: {}", String::from_utf8_lossy(&out));
    }
}

/// `check --fail-on-hard false`: the breach is still reported, but the check exits 0; the
/// default, and `true`, exit 3; anything but a boolean is a usage error.
#[test]
fn fail_on_hard_false_reports_the_breach_and_exits_0() {
    let home = tempfile::tempdir().unwrap();
    let check = |extra: &[&str]| {
        guard(home.path())
            .args([
                "check", "--format", "json", "--soft", "100%", "--hard", "100%",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = check(&["--fail-on-hard", "false"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["verdict"]["status"], "hard-limit");
    assert_eq!(report["verdict"]["tolerated"], true);
    assert_eq!(report["verdict"]["exit_code"], 0);
    for extra in [&[][..], &["--fail-on-hard", "true"]] {
        let out = check(extra);
        assert_eq!(out.status.code(), Some(3));
        assert!(json(&out)["verdict"].get("tolerated").is_none());
    }
    assert_eq!(check(&["--fail-on-hard", "maybe"]).status.code(), Some(2));
}

/// A relocation root holding a line break cannot be handed on through GITHUB_PATH: it is refused
/// before anything is made under it.
#[test]
fn a_relocation_root_with_a_line_break_is_refused_before_anything_is_made() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for name in ["env", "path", "output"] {
        fs::write(h.join(name), "").unwrap();
    }
    let out = guard(h)
        .args(["check", "--soft", "1KiB", "--hard", "0", "--emit", "github"])
        .args(["--relocate", "relocated\nX=1"])
        .env("GITHUB_ENV", h.join("env"))
        .env("GITHUB_PATH", h.join("path"))
        .env("GITHUB_OUTPUT", h.join("output"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line break"), "{stderr}");
    assert!(!h.join("relocated\nX=1").exists());
    assert_eq!(fs::read_to_string(h.join("env")).unwrap(), "");
}
