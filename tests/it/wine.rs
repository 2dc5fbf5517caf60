//! The Windows build under Wine, driven from Linux: each test builds a small Windows machine
//! whose drive letters are tmpfs volumes, runs `go-disk-guard.exe` on it, and checks what it
//! says against what Linux knows (statvfs of the volume behind each drive).
//!
//! A machine is a Wine prefix whose C: is a tmpfs of its own, sharing the Windows directory
//! of a prepared prefix through a symbolic link, and with no Z: (Wine's window onto the whole
//! Linux filesystem), so that its drives are exactly the ones the test made.
//!
//! `scripts/test-windows.sh` prepares the prefix, builds the executable and runs these with
//! `--include-ignored`; they need root for the mounts.

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Tmpfs, assert_success, fill, json, missing};

const MIB: u64 = 1024 * 1024;

/// A small Windows machine under Wine.
struct Machine {
    // Dropped in this order: Wine is stopped (in `drop`), then the drives are unmounted, then
    // the prefix directory goes.
    drives: Vec<Tmpfs>,
    c: Tmpfs,
    prefix: tempfile::TempDir,
}

impl Machine {
    /// A machine whose C: (the system drive) is a tmpfs of `c_size`.
    fn new(c_size: &str) -> Machine {
        let (Some(base), Some(exe)) = (
            std::env::var_os("GO_DISK_GUARD_TEST_WINE_PREFIX").map(PathBuf::from),
            std::env::var_os("GO_DISK_GUARD_TEST_WINE_EXE").map(PathBuf::from),
        ) else {
            missing(
                "a Wine prefix and the Windows build: GO_DISK_GUARD_TEST_WINE_PREFIX and \
                 GO_DISK_GUARD_TEST_WINE_EXE, which scripts/test-windows.sh sets",
            );
        };
        let prefix = tempfile::tempdir().unwrap();
        let p = prefix.path();
        for name in ["system.reg", "user.reg", "userdef.reg", ".update-timestamp"] {
            fs::copy(base.join(name), p.join(name)).unwrap();
        }
        let c = Tmpfs::mount(&p.join("c"), c_size);
        let drive_c = base.join("drive_c");
        for shared in ["windows", "Program Files", "Program Files (x86)"] {
            symlink(drive_c.join(shared), c.dir.join(shared)).unwrap();
        }
        let status = Command::new("cp")
            .arg("-a")
            .arg(drive_c.join("users"))
            .arg(drive_c.join("ProgramData"))
            .arg(&c.dir)
            .status()
            .unwrap();
        assert!(status.success());
        // Each user's Temp starts empty: C:'s free space is the test's to set.
        for user in fs::read_dir(c.dir.join("users")).unwrap() {
            let temp = user.unwrap().path().join("Temp");
            if temp.is_dir() {
                fs::remove_dir_all(&temp).unwrap();
                fs::create_dir(&temp).unwrap();
            }
        }
        symlink(&exe, c.dir.join("go-disk-guard.exe")).unwrap();
        fs::create_dir(p.join("dosdevices")).unwrap();
        symlink(&c.dir, p.join("dosdevices/c:")).unwrap();
        Machine {
            drives: Vec::new(),
            c,
            prefix,
        }
    }

    /// Adds drive `letter`: a tmpfs of `size`. Returns where it is mounted on Linux.
    fn drive(&mut self, letter: char, size: &str) -> PathBuf {
        let dir = self.prefix.path().join(format!("drive-{letter}"));
        let tmpfs = Tmpfs::mount(&dir, size);
        symlink(
            &dir,
            self.prefix.path().join(format!("dosdevices/{letter}:")),
        )
        .unwrap();
        self.drives.push(tmpfs);
        dir
    }

    /// `go-disk-guard.exe` on this machine, in C:\, with no Go or GitHub settings inherited.
    fn guard(&self) -> Command {
        let mut cmd = Command::new("wine");
        cmd.arg(r"C:\go-disk-guard.exe");
        self.env(&mut cmd);
        cmd
    }

    fn env(&self, cmd: &mut Command) {
        common::without_go_or_github_env(cmd)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env("GOENV", "off")
            .current_dir(&self.c.dir);
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let mut kill = Command::new("wineserver");
        kill.arg("--kill");
        self.env(&mut kill);
        let _ = kill.status();
    }
}

/// (total, available) bytes as statvfs reports them for `dir`.
fn statvfs(dir: &Path) -> (u64, u64) {
    let st = rustix::fs::statvfs(dir).unwrap();
    let unit = st.f_frsize;
    (st.f_blocks * unit, st.f_bavail * unit)
}

/// The volume whose root is `root` in a report.
fn volume<'a>(report: &'a serde_json::Value, root: &str) -> &'a serde_json::Value {
    report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["mount_point"] == root)
        .unwrap_or_else(|| panic!("no volume {root} in {}", report["volumes"]))
}

#[test]
#[ignore = "needs Wine, the Windows build and root (tmpfs drives); scripts/test-windows.sh runs it"]
fn free_space_is_measured_per_drive_letter_as_statvfs_sees_it() {
    let mut m = Machine::new("160m");
    let d = m.drive('d', "64m");
    fs::create_dir(d.join("go-build")).unwrap();
    let status = |m: &Machine| {
        let before = statvfs(&m.c.dir);
        let out = m
            .guard()
            .args(["status", "--format", "json"])
            .env("GOCACHE", r"D:\go-build")
            .env("GOPATH", r"C:\gopath")
            .output()
            .unwrap();
        (before, json(&out), statvfs(&m.c.dir))
    };
    let (c_before, report, c_after) = status(&m);

    let c = volume(&report, r"C:\");
    let dv = volume(&report, r"D:\");
    assert_ne!(c["id"], dv["id"], "C: and D: taken for one volume");
    // C: (Wine may write to it while starting): the reading lies between the two statvfs.
    assert_eq!(c["total_bytes"], c_before.0);
    let c_avail = c["available_bytes_before"].as_u64().unwrap();
    assert!(
        c_after.1 <= c_avail && c_avail <= c_before.1,
        "C: {c_avail} not within statvfs {} ..= {}",
        c_after.1,
        c_before.1
    );
    // D: nothing else writes there: exactly what statvfs says.
    let (total, available) = statvfs(&d);
    assert_eq!(total, 64 * MIB);
    assert_eq!(dv["total_bytes"], total);
    assert_eq!(dv["available_bytes_before"], available);
    let labels: Vec<&str> = dv["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["GOCACHE"]);

    // 16 MiB written on D: from Linux shows in Windows' view of D:, and only there.
    fill(&d.join("ballast"), 16 * MIB);
    let (_, report, _) = status(&m);
    let dv = volume(&report, r"D:\");
    assert_eq!(dv["available_bytes_before"], available - 16 * MIB);
    assert_eq!(dv["available_bytes_before"], statvfs(&d).1);
}

/// `check --relocate auto` on a machine; returns the report.
fn relocate_auto(m: &Machine) -> serde_json::Value {
    let out = m
        .guard()
        .args(["check", "--relocate", "auto", "--format", "json"])
        .args(["--soft", "1MiB", "--hard", "1KiB"])
        .output()
        .unwrap();
    assert_success(&out);
    json(&out)
}

#[test]
#[ignore = "needs Wine, the Windows build and root (tmpfs drives); scripts/test-windows.sh runs it"]
fn relocate_auto_moves_go_off_the_system_drive_to_the_roomiest_other_drive() {
    let mut m = Machine::new("160m");
    m.drive('d', "64m");
    let e = m.drive('e', "256m");
    let report = relocate_auto(&m);
    let relocation = &report["relocation"];
    assert_eq!(relocation["root"], r"E:\", "{relocation}");
    // Every fixed drive was a candidate, measured, the roomiest first.
    let candidates: Vec<(&str, bool, u64)> = relocation["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["root"].as_str().unwrap(),
                c["system"].as_bool().unwrap(),
                c["available_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let roots: Vec<(&str, bool)> = candidates.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        roots,
        [(r"E:\", false), (r"C:\", true), (r"D:\", false)],
        "{relocation}"
    );
    assert_eq!(
        candidates[0].2,
        256 * MIB,
        "measured before anything was moved there"
    );
    // Go's directories, from Go's Windows defaults (%LocalAppData%, %USERPROFILE%), now on E:.
    let var = |name: &str| {
        report["go"]["vars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(var("GOCACHE"), r"E:\go-disk-guard\cache");
    assert_eq!(var("GOMODCACHE"), r"E:\go-disk-guard\modcache");
    assert_eq!(var("GOPATH"), r"E:\go-disk-guard\path");
    assert!(e.join("go-disk-guard/cache").is_dir());
    let moved_from: Vec<&str> = relocation["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["from"].as_str().unwrap())
        .collect();
    assert!(
        moved_from.contains(&r"C:\users\root\AppData\Local\go-build"),
        "{moved_from:?}"
    );
}

#[test]
#[ignore = "needs Wine, the Windows build and root (tmpfs drives); scripts/test-windows.sh runs it"]
fn relocate_auto_keeps_the_system_drive_when_it_has_the_most_room() {
    let mut m = Machine::new("320m");
    m.drive('d', "64m");
    let relocation = &relocate_auto(&m)["relocation"];
    assert!(relocation["root"].is_null(), "{relocation}");
    assert!(relocation["moves"].as_array().unwrap().is_empty());
    let reason = relocation["reason"].as_str().unwrap();
    assert!(
        reason.contains(r"already on the roomiest volume (C:\"),
        "{reason}"
    );
}
