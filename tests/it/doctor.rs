//! `doctor` against real files: a GOENV file written by a real `go env -w`, a cache linked
//! onto another (tmpfs) volume, a directory on a read-only mount, and the settings Go itself
//! rejects.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Runs doctor with `env` and returns (exit code, findings as (level, code, message, fix)).
fn doctor(home: &Path, env: &[(&str, &Path)]) -> (i32, Vec<serde_json::Value>) {
    let mut cmd = guard(home);
    cmd.args(["doctor", "--format", "json"]).env_remove("GOENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report = json(&out);
    let findings = report["findings"].as_array().unwrap().clone();
    (out.status.code().unwrap(), findings)
}

fn with_code<'a>(findings: &'a [serde_json::Value], code: &str) -> Vec<&'a serde_json::Value> {
    findings.iter().filter(|f| f["code"] == code).collect()
}

#[test]
#[ignore = "needs Go: runs go env -w"]
fn a_go_env_w_setting_overridden_by_the_environment_is_reported() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let goenv = h.join("goenv");
    let status = go_cmd(&go, h, &h.join("unused"), h)
        .env("GOENV", &goenv)
        .env_remove("GOCACHE")
        .args(["env", "-w"])
        .arg(format!("GOCACHE={}", h.join("from-file").display()))
        .status()
        .unwrap();
    assert!(status.success());
    let from_env = h.join("from-env");
    let (code, findings) = doctor(h, &[("GOENV", &goenv), ("GOCACHE", &from_env)]);
    assert_eq!(code, 0, "{findings:?}");
    let f = with_code(&findings, "goenv-file-overridden");
    assert_eq!(f.len(), 1, "{findings:?}");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("from-file") && msg.contains("from-env") && msg.contains("environment wins"),
        "{msg}"
    );
    assert!(f[0]["fix"].as_str().unwrap().contains("go env -u GOCACHE"));
    // Without the conflict, nothing is said.
    let (_, findings) = doctor(h, &[("GOENV", &goenv)]);
    assert!(with_code(&findings, "goenv-file-overridden").is_empty());
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_cache_linked_onto_another_volume_names_the_real_one() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _mnt = Tmpfs::mount(&h.join("fast"), "8m");
    fs::create_dir(h.join("fast/cache")).unwrap();
    std::os::unix::fs::symlink(h.join("fast/cache"), h.join("cache")).unwrap();
    let (code, findings) = doctor(h, &[("GOCACHE", &h.join("cache"))]);
    assert_eq!(code, 0, "{findings:?}");
    let f = with_code(&findings, "other-volume");
    assert_eq!(f.len(), 1, "{findings:?}");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(
        msg.contains(h.join("fast").to_str().unwrap()) && msg.contains("(tmpfs)"),
        "{msg}"
    );
}

#[test]
#[ignore = "needs root: a read-only bind mount"]
fn an_unwritable_directory_is_an_error() {
    require_root("for a read-only bind mount");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    fs::create_dir(h.join("src")).unwrap();
    let _ro = BindMount::read_only(&h.join("src"), &h.join("ro"));
    let (code, findings) = doctor(h, &[("GOMODCACHE", &h.join("ro/mod"))]);
    assert_eq!(code, 4, "{findings:?}");
    let f = with_code(&findings, "not-writable");
    assert_eq!(f.len(), 1, "{findings:?}");
    assert_eq!(f[0]["level"], "error");
    assert!(f[0]["message"].as_str().unwrap().contains("GOMODCACHE"));
    // With GOTMPDIR empty, the temp dir is where builds compile: it must be writable too.
    let (code, findings) = doctor(h, &[("TMPDIR", &h.join("ro"))]);
    assert_eq!(code, 4, "{findings:?}");
    let f = with_code(&findings, "not-writable");
    assert_eq!(f.len(), 1, "{findings:?}");
    assert!(f[0]["message"].as_str().unwrap().starts_with("GOTMPDIR "));
}

#[test]
fn settings_go_rejects_are_errors_and_path_and_workspace_are_checked() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, findings) = doctor(h, &[("GOCACHE", Path::new("off"))]);
    assert_eq!(code, 4);
    assert_eq!(with_code(&findings, "gocache-off").len(), 1);

    let ws = h.join("ws");
    fs::create_dir(&ws).unwrap();
    let (_, findings) = doctor(
        h,
        &[
            ("GITHUB_WORKSPACE", &ws),
            ("GOCACHE", &ws.join(".cache/go")),
        ],
    );
    let f = with_code(&findings, "cache-in-workspace");
    assert_eq!(f.len(), 1, "{findings:?}");
    assert!(f[0]["message"].as_str().unwrap().contains("GOCACHE"));

    // GOBIN off PATH is a warning; on PATH it is not.
    let gobin = h.join("bin");
    let (code, findings) = doctor(h, &[("GOBIN", &gobin)]);
    assert_eq!(code, 0);
    assert_eq!(with_code(&findings, "gobin-not-on-path").len(), 1);
    let mut cmd = guard(h);
    let path = format!("{}:{}", gobin.display(), test_path());
    let out = cmd
        .args(["doctor", "--format", "json"])
        .env("GOBIN", &gobin)
        .env("PATH", path)
        .output()
        .unwrap();
    let report = json(&out);
    assert!(with_code(report["findings"].as_array().unwrap(), "gobin-not-on-path").is_empty());
}

#[test]
#[ignore = "needs Go: asks go env GOROOT"]
fn gopath_set_to_the_goroot_go_uses_is_an_error() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // GOPATH set to the GOROOT the go command really uses.
    let out = go_cmd(&go, h, &h.join("c"), h)
        .args(["env", "GOROOT"])
        .output()
        .unwrap();
    let goroot = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (code, findings) = doctor(h, &[("GOPATH", Path::new(&goroot))]);
    assert_eq!(code, 4, "{findings:?}");
    let f = with_code(&findings, "gopath-is-goroot");
    assert_eq!(f.len(), 1, "{findings:?}");
}

/// A FUSE mount by rclone (type `fuse.rclone`, a network filesystem in rclone's usual use) of
/// a local directory, unmounted on drop.
struct RcloneMount(std::path::PathBuf);

impl RcloneMount {
    fn mount(source: &Path, target: &Path) -> RcloneMount {
        require_root("for a FUSE mount");
        if Command::new("rclone").arg("version").output().is_err() {
            missing("rclone and fuse3 (Debian rclone, fuse3) for a FUSE mount");
        }
        fs::create_dir_all(source).unwrap();
        fs::create_dir_all(target).unwrap();
        let status = Command::new("rclone")
            .arg("mount")
            .arg(source)
            .arg(target)
            .args(["--daemon", "--config", "/dev/null"])
            .status()
            .unwrap();
        assert!(status.success(), "rclone mount failed");
        let mounted = || {
            fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .contains(&format!(" {} ", target.display()))
        };
        for _ in 0..100 {
            if mounted() {
                return RcloneMount(target.to_path_buf());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("rclone did not mount {}", target.display());
    }
}

impl Drop for RcloneMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root, rclone and fuse3: an rclone FUSE mount"]
fn a_go_directory_on_a_network_filesystem_is_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _mnt = RcloneMount::mount(&h.join("remote"), &h.join("net"));
    let (code, findings) = doctor(h, &[("GOMODCACHE", &h.join("net/mod"))]);
    assert_eq!(code, 0, "{findings:?}");
    let f = with_code(&findings, "network-filesystem");
    assert_eq!(f.len(), 1, "{findings:?}");
    assert!(
        f[0]["message"].as_str().unwrap().contains("fuse.rclone"),
        "{f:?}"
    );
}

#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn gotmpdir_on_a_small_ram_volume_in_the_workspace_with_stale_work_is_reported() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let ws = h.join("ws");
    fs::create_dir(&ws).unwrap();
    let tmpfs = Tmpfs::mount(&ws.join("scratch"), "16m");
    // A work directory a killed build left a day ago, and a fresh one a build is using.
    let old = tmpfs.dir.join("go-build1234");
    fs::create_dir_all(old.join("b001")).unwrap();
    fs::write(old.join("b001/_pkg_.a"), vec![1u8; 100_000]).unwrap();
    set_mtime(
        &old,
        std::time::SystemTime::now() - std::time::Duration::from_secs(86_400),
    );
    fs::create_dir_all(tmpfs.dir.join("go-build5678")).unwrap();
    let os_temp = h.join("ostemp");
    fs::create_dir(&os_temp).unwrap();

    let (_, findings) = doctor(
        h,
        &[
            ("GOTMPDIR", &tmpfs.dir),
            ("TMPDIR", &os_temp),
            ("GITHUB_WORKSPACE", &ws),
        ],
    );
    let small = with_code(&findings, "tmpdir-small");
    assert_eq!(small.len(), 1, "{findings:?}");
    let msg = small[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("RAM-backed (tmpfs)") && msg.contains("less than tmp-min 4.0 GiB"),
        "{msg}"
    );
    assert!(
        small[0]["fix"]
            .as_str()
            .unwrap()
            .contains("--relocate auto")
    );
    let inside = with_code(&findings, "tmpdir-in-workspace");
    assert_eq!(inside.len(), 1, "{findings:?}");
    let stale = with_code(&findings, "stale-work-dirs");
    assert_eq!(stale.len(), 1, "{findings:?}");
    let msg = stale[0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("1 work directory of killed builds ("),
        "{msg}"
    );
    assert!(msg.contains("idle for over 6h"), "{msg}");
    // Nothing was removed: doctor only reads.
    assert!(old.join("b001/_pkg_.a").exists());

    // A tmp-min below what it has, on a disk-backed temp dir: nothing to say.
    let (_, findings) = doctor(h, &[("GOTMPDIR", &os_temp), ("TMPDIR", &os_temp)]);
    assert!(
        with_code(&findings, "tmpdir-small").is_empty(),
        "{findings:?}"
    );
    assert!(
        with_code(&findings, "stale-work-dirs").is_empty(),
        "{findings:?}"
    );
}

#[test]
fn values_in_findings_stay_in_their_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // A GOENV file setting GOCACHE, and the environment another one, each hostile.
    let goenv = h.join("goenv");
    fs::write(
        &goenv,
        "GOCACHE=/from-file\r::add-mask::secret ##[error]f\n",
    )
    .unwrap();
    let from_env = "/from-env\n::error::owned\n  ::stop-commands::token";
    let is_command = |l: &str| l.trim_start().starts_with("::") || l.contains("##[");
    for format in ["text", "markdown", "json"] {
        let out = guard(h)
            .args(["doctor", "--go", "/nonexistent/go", "--format", format])
            .env("GOENV", &goenv)
            .env("GOCACHE", from_env)
            .env("GOBIN", "/bin\n::error::gobin")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for l in stdout.split(['\n', '\r']).chain(stderr.split(['\n', '\r'])) {
            assert!(!is_command(l), "{format}: {l:?} in\n{stdout}{stderr}");
        }
        if format == "json" {
            let report = json(&out);
            let findings = report["findings"].as_array().unwrap();
            let overridden: Vec<_> = findings
                .iter()
                .filter(|f| f["code"] == "goenv-file-overridden")
                .collect();
            assert_eq!(overridden.len(), 1, "{findings:?}");
            let message = overridden[0]["message"].as_str().unwrap();
            // The message is one line that shows both values escaped.
            assert!(!message.contains(['\n', '\r']), "{message}");
            assert!(message.contains("/from-env\\n::error::owned"), "{message}");
            assert!(
                message.contains("/from-file\\r::add-mask::secret #\\x23[error]f"),
                "{message}"
            );
        }
        if format == "text" {
            assert!(stdout.contains("goenv-file-overridden"), "{stdout}");
        }
    }
}
