//! Relocation on real volumes: two tmpfs mounts of different sizes, one named the system
//! volume with `--system-volume`, and `--migrate` of a build cache and a module cache made by
//! a real `go build` (modules from a local file:// proxy), after which `go build` works
//! offline from the new locations and every file arrived intact.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A module proxy directory serving `example.com/lib v1.0.0`, in GOPROXY's file layout.
fn module_proxy(dir: &Path) -> PathBuf {
    let v = dir.join("example.com/lib/@v");
    fs::create_dir_all(&v).unwrap();
    fs::write(v.join("list"), "v1.0.0\n").unwrap();
    fs::write(
        v.join("v1.0.0.info"),
        r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let gomod = "module example.com/lib\n\ngo 1.22\n";
    fs::write(v.join("v1.0.0.mod"), gomod).unwrap();
    let src = "package lib\n\nimport \"strings\"\n\nfunc Shout(s string) string { return strings.ToUpper(s) }\n";
    let script = format!(
        "import zipfile\nz = zipfile.ZipFile({:?}, 'w')\nz.writestr('example.com/lib@v1.0.0/go.mod', {gomod:?})\nz.writestr('example.com/lib@v1.0.0/lib.go', {src:?})\nz.close()\n",
        v.join("v1.0.0.zip").to_str().unwrap()
    );
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()
        .unwrap();
    assert!(status.success(), "python3 could not write the module zip");
    dir.to_path_buf()
}

/// A program using `example.com/lib`.
fn write_app(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("go.mod"),
        "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v1.0.0\n",
    )
    .unwrap();
    fs::write(
        dir.join("main.go"),
        "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Shout(\"ok\")) }\n",
    )
    .unwrap();
}

/// Relative path → checksum, for comparing two trees.
fn relative_sums(root: &Path) -> BTreeMap<PathBuf, u64> {
    checksums(root)
        .into_iter()
        .map(|(p, h)| (p.strip_prefix(root).unwrap().to_path_buf(), h))
        .collect()
}

/// The variables a sourced `--emit sh` file sets, read back through bash.
fn source_sh(file: &Path) -> BTreeMap<String, String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(". {:?} && env -0", file.to_str().unwrap()))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .split(|&b| b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Builds the app with GOCACHE and GOPATH on the system volume, its module fetched from the
/// local proxy, so that both caches hold what a real build put there.
fn build_the_app_into_the_system_caches(
    go: &Path,
    h: &Path,
    app: &Path,
    (gocache, gopath): (&Path, &Path),
) {
    let proxy = module_proxy(&h.join("proxy"));
    write_app(app);
    let built = go_cmd(go, h, gocache, app)
        .env("GOPATH", gopath)
        .env("GOPROXY", format!("file://{}", proxy.display()))
        .env("GOSUMDB", "off")
        .args(["build", "-o", "out"])
        .output()
        .unwrap();
    assert_success(&built);
}

/// `check --relocate auto --migrate` with the system and big volumes as candidates, the
/// environment emitted as sh to `env_file`: chooses the big one for its room.
fn relocate_and_migrate(
    h: &Path,
    (system, big): (&Path, &Path),
    (gocache, gopath): (&Path, &Path),
    env_file: &Path,
) {
    let out = guard(h)
        .args([
            "check", "--format", "json", "--soft", "1MiB", "--hard", "1KiB",
        ])
        .args(["--relocate", "auto", "--migrate", "--emit", "sh"])
        .arg("--emit-file")
        .arg(env_file)
        .arg("--system-volume")
        .arg(system)
        .arg("--relocate-candidate")
        .arg(system)
        .arg("--relocate-candidate")
        .arg(big)
        .env("GOCACHE", gocache)
        .env("GOPATH", gopath)
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    let relocation = &report["relocation"];
    assert_eq!(relocation["root"], big.to_str().unwrap(), "{relocation}");
    assert!(
        relocation["reason"]
            .as_str()
            .unwrap()
            .contains("has the most room")
    );
}

/// The module cache stays read-only: its files and directories.
fn assert_the_module_cache_stays_read_only(new: &Path) {
    let new_lib = new.join("modcache/example.com/lib@v1.0.0");
    let file_mode = fs::metadata(new_lib.join("lib.go"))
        .unwrap()
        .permissions()
        .mode();
    let dir_mode = fs::metadata(&new_lib).unwrap().permissions().mode();
    assert_eq!(
        file_mode & 0o222,
        0,
        "lib.go became writable: {file_mode:o}"
    );
    assert_eq!(
        dir_mode & 0o222,
        0,
        "the module directory became writable: {dir_mode:o}"
    );
}

/// The emitted environment points at the new places, and go builds offline from them.
fn assert_go_builds_offline_from_the_emitted_places(
    go: &Path,
    h: &Path,
    app: &Path,
    env_file: &Path,
    new: &Path,
) {
    let vars = source_sh(env_file);
    assert_eq!(vars["GOCACHE"], new.join("cache").to_str().unwrap());
    assert_eq!(vars["GOMODCACHE"], new.join("modcache").to_str().unwrap());
    assert_eq!(vars["GOPATH"], new.join("path").to_str().unwrap());
    assert_eq!(vars["GOBIN"], new.join("path/bin").to_str().unwrap());
    let mut rebuild = go_cmd(go, h, Path::new(&vars["GOCACHE"]), app);
    for name in ["GOPATH", "GOMODCACHE", "GOBIN"] {
        rebuild.env(name, &vars[name]);
    }
    let rebuilt = rebuild
        .env("GOSUMDB", "off")
        .args(["build", "-o", "out2"])
        .output()
        .unwrap();
    assert_success(&rebuilt);
    let run = Command::new(app.join("out2")).output().unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("OK"));
}

#[test]
#[ignore = "needs Go and root: fills caches with go and mounts tmpfs volumes"]
fn auto_relocation_migrates_real_caches_to_the_roomier_volume() {
    let go = require_go();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _small = Tmpfs::mount(&h.join("system"), "96m");
    let _big = Tmpfs::mount(&h.join("big"), "160m");
    let (system, big) = (h.join("system"), h.join("big"));
    let (gocache, gopath) = (system.join("gocache"), system.join("gopath"));
    let gomodcache = gopath.join("pkg/mod");
    let app = h.join("app");
    build_the_app_into_the_system_caches(&go, h, &app, (&gocache, &gopath));
    let lib_dir = gomodcache.join("example.com/lib@v1.0.0");
    assert!(lib_dir.join("lib.go").exists());
    let cache_sums = relative_sums(&gocache);
    let mod_sums = relative_sums(&gomodcache);

    let env_file = h.join("go-env.sh");
    relocate_and_migrate(h, (&system, &big), (&gocache, &gopath), &env_file);

    // Every file arrived, byte for byte, and the old copies are gone.
    let new = big.join("go-disk-guard");
    assert_eq!(relative_sums(&new.join("cache")), cache_sums);
    assert_eq!(relative_sums(&new.join("modcache")), mod_sums);
    assert!(
        !gocache.exists() || checksums(&gocache).is_empty(),
        "old cache left behind"
    );
    assert!(!gomodcache.exists() || checksums(&gomodcache).is_empty());
    assert_the_module_cache_stays_read_only(&new);
    assert_go_builds_offline_from_the_emitted_places(&go, h, &app, &env_file, &new);
}

#[test]
#[ignore = "needs root: mounts tmpfs volumes"]
fn the_system_volume_is_chosen_only_when_strictly_roomier() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _a = Tmpfs::mount(&h.join("small"), "16m");
    let _b = Tmpfs::mount(&h.join("large"), "32m");
    let run = |system: &Path| {
        let out = guard(h)
            .args(["check", "--format", "json", "--soft", "1KiB", "--hard", "0"])
            .args([
                "--go",
                "/nonexistent/go",
                "--relocate",
                "auto",
                "--emit",
                "dotenv",
            ])
            .arg("--emit-file")
            .arg(h.join("env"))
            .arg("--system-volume")
            .arg(system)
            .arg("--relocate-candidate")
            .arg(h.join("small"))
            .arg("--relocate-candidate")
            .arg(h.join("large"))
            .env("GOCACHE", h.join("small/cache"))
            .output()
            .unwrap();
        assert_success(&out);
        json(&out)["relocation"].clone()
    };
    // The larger volume is the system volume: it is still chosen, being strictly roomier.
    let r = run(&h.join("large"));
    assert_eq!(r["root"], h.join("large").to_str().unwrap(), "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("the system volume"),
        "{r}"
    );
    // Run again: GOCACHE is on the roomiest volume already, so nothing moves.
    let out = guard(h)
        .args(["check", "--format", "json", "--soft", "1KiB", "--hard", "0"])
        .args(["--go", "/nonexistent/go", "--relocate", "auto"])
        .arg("--relocate-candidate")
        .arg(h.join("small"))
        .arg("--relocate-candidate")
        .arg(h.join("large"))
        .env("GOCACHE", h.join("large/go-disk-guard/cache"))
        .output()
        .unwrap();
    let r = json(&out)["relocation"].clone();
    assert!(r["root"].is_null(), "{r}");
    assert!(r["reason"].as_str().unwrap().contains("already"), "{r}");
    // Forcing a directory that cannot be written is a clear error.
    let _ro = BindMount::read_only(&h.join("small"), &h.join("ro"));
    let out = guard(h)
        .args(["env", "--go", "/nonexistent/go", "--relocate"])
        .arg(h.join("ro"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("relocating") && stderr.contains(h.join("ro").to_str().unwrap()),
        "{stderr}"
    );
}
