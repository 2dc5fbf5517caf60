//! `prune --stale-work`: work directories that killed builds left in the temp dir go; one a
//! live process still uses, a recent one, a look-alike and a link stay.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

use crate::common::{assert_success, checksums, guard, json, set_mtime};

const HOUR: Duration = Duration::from_secs(3600);

/// A work directory as the go command leaves it: `b001/` with an archive, an `exe/`.
fn work_dir(dir: &Path, age: Duration) {
    fs::create_dir_all(dir.join("b001/exe")).unwrap();
    fs::write(dir.join("b001/_pkg_.a"), vec![7u8; 64 * 1024]).unwrap();
    fs::write(dir.join("b001/exe/a.out"), vec![1u8; 4096]).unwrap();
    set_mtime(dir, SystemTime::now() - age);
}

/// Kills the child on drop.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temp dir holding work directories: an idle old one, an old one a build still uses, a
/// recent one, an old look-alike, and a link to an old one elsewhere.
struct TempDirScene {
    tmp: PathBuf,
    idle: PathBuf,
    held: PathBuf,
    recent: PathBuf,
    lookalike: PathBuf,
    elsewhere: PathBuf,
    link: PathBuf,
}

impl TempDirScene {
    fn new(home: &Path) -> TempDirScene {
        let tmp = home.join("tmp");
        fs::create_dir(&tmp).unwrap();
        let tmp = fs::canonicalize(&tmp).unwrap();
        let scene = TempDirScene {
            idle: tmp.join("go-build1111"),
            held: tmp.join("go-build2222"),
            recent: tmp.join("go-build3333"),
            // Look-alikes that are not work directories.
            lookalike: tmp.join("go-buildcache"),
            elsewhere: home.join("elsewhere"),
            link: tmp.join("go-build4444"),
            tmp,
        };
        work_dir(&scene.idle, 30 * HOUR);
        work_dir(&scene.held, 30 * HOUR);
        work_dir(&scene.recent, Duration::ZERO);
        work_dir(&scene.lookalike, 30 * HOUR);
        work_dir(&scene.elsewhere, 30 * HOUR);
        std::os::unix::fs::symlink(&scene.elsewhere, &scene.link).unwrap();
        let touched = Command::new("touch")
            .args(["-h", "-d", "2 days ago"])
            .arg(&scene.link)
            .status()
            .unwrap();
        assert!(touched.success());
        scene
    }
}

/// Each work directory of a report, by name, with its fate.
fn fates(report: &serde_json::Value) -> Vec<(String, String)> {
    report["stale_work"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                Path::new(d["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                d["fate"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The fates expected: the idle one's `verb`, the held one in use, the recent one recent.
fn want(verb: &str) -> Vec<(String, String)> {
    vec![
        ("go-build1111".to_string(), verb.to_string()),
        ("go-build2222".to_string(), "in-use".to_string()),
        ("go-build3333".to_string(), "recent".to_string()),
    ]
}

/// After a prune: only the idle one went; the link stays a link, and what it points to is
/// untouched.
fn assert_only_the_idle_one_went(
    scene: &TempDirScene,
    report: &serde_json::Value,
    elsewhere_sums: &std::collections::BTreeMap<PathBuf, u64>,
) {
    assert_eq!(fates(report), want("removed"));
    let stale = &report["stale_work"];
    assert_eq!(stale["removed_dirs"], 1);
    assert!(stale["removed_bytes"].as_u64().unwrap() >= 68 * 1024);
    let in_use = &stale["dirs"][1];
    assert!(in_use["used_by"].as_u64().unwrap() > 0);
    assert!(!scene.idle.exists(), "the idle work directory survived");
    assert!(scene.held.join("b001/_pkg_.a").exists());
    assert!(scene.recent.join("b001/_pkg_.a").exists());
    assert!(scene.lookalike.join("b001/_pkg_.a").exists());
    assert!(
        fs::symlink_metadata(&scene.link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(&checksums(&scene.elsewhere), elsewhere_sums);
}

#[test]
fn only_old_idle_work_directories_go() {
    let home = tempfile::tempdir().unwrap();
    let scene = TempDirScene::new(home.path());
    let elsewhere_sums = checksums(&scene.elsewhere);
    // A build still running there (its working directory is inside).
    let _sleeper = Sleeper(
        Command::new("sleep")
            .arg("120")
            .current_dir(scene.held.join("b001"))
            .spawn()
            .unwrap(),
    );

    let prune = |extra: &[&str]| {
        guard(home.path())
            .args(["prune", "--stale-work", "6h", "--format", "json"])
            .args(extra)
            .env("TMPDIR", &scene.tmp)
            .output()
            .unwrap()
    };
    // A dry run names what would go and removes nothing.
    let out = prune(&["--dry-run"]);
    assert_success(&out);
    let report = json(&out);
    assert_eq!(fates(&report), want("would-remove"));
    assert!(scene.idle.exists());
    assert_eq!(report["stale_work"]["in_use_check"], "proc");

    let out = prune(&[]);
    assert_success(&out);
    assert_only_the_idle_one_went(&scene, &json(&out), &elsewhere_sums);

    // The text report says the same.
    let text = guard(home.path())
        .args(["prune", "--stale-work", "6h"])
        .env("TMPDIR", &scene.tmp)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Removed 0 stale work directories") && text.contains("used by process"),
        "{text}"
    );
}

#[test]
fn prune_without_a_goal_names_stale_work_too() {
    let home = tempfile::tempdir().unwrap();
    let out = guard(home.path()).arg("prune").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stale-work [AGE]"));
    let out = guard(home.path())
        .args(["prune", "--stale-work", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_below_soft_removes_stale_work_dirs_on_that_volume() {
    let home = tempfile::tempdir().unwrap();
    let tmp = home.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let idle = tmp.join("go-build4242");
    let recent = tmp.join("go-build4343");
    work_dir(&idle, 30 * HOUR);
    work_dir(&recent, Duration::ZERO);

    let check = |soft: &str| {
        let out = guard(home.path())
            .env("GOTMPDIR", &tmp)
            .env("TMPDIR", &tmp)
            .args(["check", "--soft", soft, "--hard", "0", "--format", "json"])
            .output()
            .unwrap();
        assert_success(&out);
        json(&out)
    };
    // Above soft: left alone.
    assert!(check("1KiB").get("stale_work").is_none());
    assert!(idle.exists());

    // Below soft: the idle one goes, the recent one stays.
    let report = check("100%");
    assert_eq!(
        report["stale_work"]["removed_dirs"], 1,
        "{}",
        report["stale_work"]
    );
    assert!(!idle.exists());
    assert!(recent.exists());
}
