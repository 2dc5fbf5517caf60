//! GOTMPDIR: a real `go build` whose work directory does not fit in a small RAM-backed temp
//! dir fails there, and succeeds with the environment `check --relocate auto --emit sh`
//! hands on, which points GOTMPDIR at a larger disk-backed volume.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    Tmpfs, assert_success, guard, json, require_go, require_root, test_path, write_module,
};

/// An ext4 filesystem in a file, loop-mounted at `dir`; unmounted on drop.
struct Ext4 {
    dir: PathBuf,
}

impl Ext4 {
    fn mount(image: &Path, dir: &Path, size: &str) -> Ext4 {
        let run = |cmd: &mut Command| {
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("truncate").args(["-s", size]).arg(image));
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image));
        fs::create_dir_all(dir).unwrap();
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(dir));
        Ext4 {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// `go build` of `app` with the given environment, in a clean one otherwise.
fn go_build(
    go: &Path,
    home: &Path,
    app: &Path,
    env: &[(&str, &Path)],
    env_file: Option<&Path>,
) -> std::process::Output {
    let script = match env_file {
        Some(f) => format!(". '{}' && exec \"$GO\" build -o out .", f.display()),
        None => "exec \"$GO\" build -o out .".to_string(),
    };
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-c", &script])
        .env_clear()
        .env("GO", go)
        .env("HOME", home)
        .env("PATH", test_path())
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .current_dir(app);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
#[ignore = "needs Go and root: builds on a small tmpfs and an ext4 image"]
fn a_build_that_does_not_fit_the_ram_backed_temp_dir_succeeds_with_gotmpdir_relocated() {
    let go = require_go();
    require_root("to mount a tmpfs and an ext4 image");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let small = Tmpfs::mount(&h.join("small-tmp"), "6m");
    let big = Ext4::mount(&h.join("big.img"), &h.join("big"), "512M");
    let app = h.join("app");
    write_module(&app, "app", &["net/http", "encoding/json", "text/template"]);

    // Without go-disk-guard: a cold build cache, the work directory in the 6 MiB tmpfs.
    let cold = h.join("gocache-cold");
    let out = go_build(
        &go,
        h,
        &app,
        &[("TMPDIR", &small.dir), ("GOCACHE", &cold)],
        None,
    );
    assert!(
        !out.status.success(),
        "the build fit in the small temp dir: the test proves nothing"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no space left on device"), "{stderr}");

    // check --relocate auto, with the large ext4 volume the only candidate.
    let env_file = h.join("go-env.sh");
    let out = guard(h)
        .args([
            "check", "--format", "json", "--soft", "1MiB", "--hard", "1KiB",
        ])
        .args(["--relocate", "auto", "--emit", "sh", "--emit-file"])
        .arg(&env_file)
        .arg("--system-volume")
        .arg(h)
        .arg("--relocate-candidate")
        .arg(&big.dir)
        .env("TMPDIR", &small.dir)
        .env("GOCACHE", h.join("gocache"))
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    let moves = report["relocation"]["moves"].as_array().unwrap();
    let tmp_move = moves
        .iter()
        .find(|m| m["var"] == "GOTMPDIR")
        .unwrap_or_else(|| panic!("GOTMPDIR did not move: {moves:?}"));
    assert_eq!(tmp_move["from"], small.dir.to_str().unwrap());
    let to = PathBuf::from(tmp_move["to"].as_str().unwrap());
    assert_eq!(to, big.dir.join("go-disk-guard/tmp"));
    assert!(to.is_dir());
    assert!(
        tmp_move["why"]
            .as_str()
            .unwrap()
            .contains("is RAM-backed (tmpfs)"),
        "{tmp_move}"
    );
    // The relocated GOTMPDIR is what was watched and measured.
    let watched = common::watched_path(&report, "GOTMPDIR");
    assert_eq!(watched["path"], to.to_str().unwrap());
    let emitted = fs::read_to_string(&env_file).unwrap();
    assert!(emitted.contains("export GOTMPDIR="), "{emitted}");

    // With the emitted environment, the same build (still with TMPDIR on the tmpfs) works.
    let out = go_build(&go, h, &app, &[("TMPDIR", &small.dir)], Some(&env_file));
    assert_success(&out);
    assert!(app.join("out").exists());
    drop(big);
}
