//! Helpers shared by the integration tests: running the real binary in a clean environment,
//! finding a real Go toolchain, building synthetic caches in Go's layout, and failing, with
//! what is missing, a test (`#[ignore]`d by default) whose prerequisite is absent.

#![allow(dead_code)]

#[cfg(unix)]
pub mod cacheprog;
#[cfg(all(unix, feature = "remote"))]
pub mod seaweed;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

pub const README_MARKER: &str =
    "This directory holds cached build artifacts from the Go build system.\n";

/// Fails the test, saying what it needs: a prerequisite of an `#[ignore]`d test is missing.
/// Such a test runs only when asked for (`--include-ignored`), so it never passes without it.
#[track_caller]
pub fn missing(what: &str) -> ! {
    panic!(
        "missing prerequisite: this test needs {what}. It is ignored by default; .ci/run \
         provides what every ignored test needs."
    )
}

/// The Go toolchain to test against: `$GO_DISK_GUARD_TEST_GO`, else `go` (`go.exe` on
/// Windows) on PATH.
pub fn go_binary() -> Option<PathBuf> {
    if let Some(go) = std::env::var_os("GO_DISK_GUARD_TEST_GO") {
        return Some(PathBuf::from(go));
    }
    let path = std::env::var_os("PATH")?;
    let name = format!("go{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// The Go toolchain to test against ([`go_binary`]); the test fails without one.
#[track_caller]
pub fn require_go() -> PathBuf {
    match go_binary() {
        Some(go) => go,
        None => missing("a Go toolchain: set GO_DISK_GUARD_TEST_GO or put `go` on PATH"),
    }
}

/// Whether this process is root (for mounts).
pub fn is_root() -> bool {
    #[cfg(unix)]
    return rustix::process::geteuid().is_root();
    #[cfg(not(unix))]
    return false;
}

/// Fails the test unless this process is root; `why` says what needs it.
#[track_caller]
pub fn require_root(why: &str) {
    if !is_root() {
        missing(&format!("root ({why})"));
    }
}

/// The binary under test: this build's, or `$GO_DISK_GUARD_TEST_BIN` when set (to check that
/// a test catches a regression, point it at an older build).
pub fn bin() -> PathBuf {
    std::env::var_os("GO_DISK_GUARD_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_go-disk-guard")),
        PathBuf::from,
    )
}

/// The `go-disk-guard` binary with an environment holding only what is set here: PATH (with
/// the test Go's directory first), HOME, and an offline Go configuration.
pub fn guard(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", test_path())
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .current_dir(home);
    cmd
}

/// A PATH with the test Go's directory first, then the system's usual directories.
pub fn test_path() -> String {
    let mut dirs = Vec::new();
    if let Some(go) = go_binary()
        && let Some(dir) = go.parent()
    {
        dirs.push(dir.to_path_buf());
    }
    dirs.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

/// A `go` command for building test programs offline, in a private GOPATH and cache.
pub fn go_cmd(go: &Path, home: &Path, gocache: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(go);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", test_path())
        .env("GOCACHE", gocache)
        .env("GOPATH", home.join("go"))
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .current_dir(dir);
    cmd
}

/// Writes a Go module at `dir` with a main package importing `imports` (standard library
/// packages only), so that building it fills the cache with their entries.
pub fn write_module(dir: &Path, name: &str, imports: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.22\n"),
    )
    .unwrap();
    let mut src = String::from("package main\n\nimport (\n");
    for imp in imports {
        src.push_str(&format!("\t_ {imp:?}\n"));
    }
    src.push_str(&format!(
        ")\n\nfunc main() {{ println({:?}) }}\n",
        format!("hello from {name}")
    ));
    fs::write(dir.join("main.go"), src).unwrap();
}

/// Runs `go build -o out` in `dir`; panics with Go's output on failure.
pub fn go_build(go: &Path, home: &Path, gocache: &Path, dir: &Path) {
    let out = go_cmd(go, home, gocache, dir)
        .args(["build", "-o", "out"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a synthetic build cache in Go's layout at `root`: README, trim.txt, a fuzz dir, and
/// `entries` entries of `size` bytes spread over the shards, entry `i` last used
/// `age + i` seconds ago (so a higher `i` is older). Returns the entries' paths, newest first.
pub fn synthetic_cache(root: &Path, entries: usize, size: usize, age: Duration) -> Vec<PathBuf> {
    fs::create_dir_all(root.join("fuzz/example")).unwrap();
    fs::write(root.join("README"), README_MARKER).unwrap();
    fs::write(root.join("trim.txt"), "1700000000").unwrap();
    fs::write(root.join("fuzz/example/corpus"), "seed").unwrap();
    let now = SystemTime::now();
    let body = vec![b'x'; size];
    let mut paths = Vec::with_capacity(entries);
    for i in 0..entries {
        let spread = (i as u128 + 1).wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc835);
        let id = format!("{spread:032x}{i:032x}");
        let shard = root.join(&id[..2]);
        fs::create_dir_all(&shard).unwrap();
        let suffix = if i.is_multiple_of(2) { "-d" } else { "-a" };
        let path = shard.join(format!("{id}{suffix}"));
        fs::write(&path, &body).unwrap();
        set_mtime(&path, now - age - Duration::from_secs(i as u64));
        paths.push(path);
    }
    paths
}

/// Sets a file's or directory's modification time.
pub fn set_mtime(path: &Path, t: SystemTime) {
    let f = fs::File::options()
        .read(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    f.set_modified(t).unwrap();
}

/// Sets the mtime of every cache entry under `root` to `age` ago (as if last used then).
pub fn age_cache(root: &Path, age: Duration) {
    let t = SystemTime::now() - age;
    for e in cache_entries(root) {
        set_mtime(&e, t);
    }
}

/// Every entry (`-a`/`-d` name in a two-hex-digit shard) under `root`.
pub fn cache_entries(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in fs::read_dir(root).unwrap().flatten() {
        let name = shard.file_name().to_string_lossy().into_owned();
        if name.len() != 2 || !shard.file_type().unwrap().is_dir() {
            continue;
        }
        for e in fs::read_dir(shard.path()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with("-a") || n.ends_with("-d") {
                out.push(e.path());
            }
        }
    }
    out
}

/// A content checksum of every file under `root` (following nothing), path → hash.
pub fn checksums(root: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let mut data = Vec::new();
                fs::File::open(e.path())
                    .unwrap()
                    .read_to_end(&mut data)
                    .unwrap();
                out.insert(e.path(), fnv1a(&data));
            } else {
                out.insert(e.path(), 0);
            }
        }
    }
    out
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// The repository's root: fixtures, workflows and examples are read from there.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A run's standard error, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails unless `what` (a command's description) succeeded, showing its exit status and
/// output.
#[track_caller]
pub fn succeeded(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails unless the run succeeded, showing its exit status and output.
#[track_caller]
pub fn assert_success(out: &std::process::Output) {
    succeeded(out, "the command");
}

/// The bytes available to this user on the filesystem holding `path`.
#[cfg(unix)]
pub fn available(path: &Path) -> u64 {
    let st = rustix::fs::statvfs(path).unwrap();
    st.f_bavail * st.f_frsize
}

/// Parses the JSON report printed by a successful or failed run.
pub fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Removes inherited `GO*`, `GITHUB_*` and `GH_*` variables (Go's, go-disk-guard's and
/// GitHub's settings) from `cmd`'s environment, keeping the rest (Windows and Wine need it).
pub fn without_go_or_github_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("GO") || upper.starts_with("GITHUB_") || upper.starts_with("GH_") {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// The watched path labelled `label` (`GOCACHE`, …) in a report's volumes.
pub fn watched_path(report: &serde_json::Value, label: &str) -> serde_json::Value {
    report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["paths"].as_array().unwrap())
        .find(|p| p["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {}", report["volumes"]))
        .clone()
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs; the test fails when not root.
    #[track_caller]
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        Tmpfs::mount_with_options(dir, &format!("size={size}"))
    }

    /// Mounts a tmpfs with mount `options` (`size=…,usrquota,…`); the test fails when not
    /// root.
    #[track_caller]
    pub fn mount_with_options(dir: &Path, options: &str) -> Tmpfs {
        require_root("to mount a tmpfs");
        fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mount -t tmpfs -o {options} failed at {}",
            dir.display()
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// A bind mount of `source` at `target`, unmounted on drop. Needs root.
pub struct BindMount {
    target: PathBuf,
}

impl BindMount {
    /// A writable bind mount.
    #[track_caller]
    pub fn new(source: &Path, target: &Path) -> BindMount {
        require_root("for a bind mount");
        if source.is_dir() {
            fs::create_dir_all(target).unwrap();
        } else if !target.exists() {
            fs::write(target, "").unwrap();
        }
        let status = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mount --bind {} {} failed",
            source.display(),
            target.display()
        );
        BindMount {
            target: target.to_path_buf(),
        }
    }

    #[track_caller]
    pub fn read_only(source: &Path, target: &Path) -> BindMount {
        require_root("for a read-only bind mount");
        fs::create_dir_all(target).unwrap();
        let run = |args: &[&std::ffi::OsStr]| {
            let status = Command::new("mount")
                .args(args)
                .status()
                .expect("running mount");
            assert!(status.success(), "mount {args:?} failed");
        };
        run(&["--bind".as_ref(), source.as_os_str(), target.as_os_str()]);
        run(&[
            "-o".as_ref(),
            "remount,ro,bind".as_ref(),
            target.as_os_str(),
        ]);
        BindMount {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.target).status();
    }
}

/// Writes a file of `bytes` bytes (really allocated) at `path`.
pub fn fill(path: &Path, bytes: u64) {
    let chunk = vec![0xa5u8; 1 << 20];
    let mut f = fs::File::create(path).unwrap();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        std::io::Write::write_all(&mut f, &chunk[..n]).unwrap();
        left -= n as u64;
    }
    f.sync_all().unwrap();
}

/// GitHub's environment-file format, as documented: each entry is `NAME=value` on one line, or
/// `NAME<<DELIMITER`, then value lines, then a line holding only `DELIMITER`.
pub fn parse_github_file(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line).into_owned();
        if let Some((name, delimiter)) = text.split_once("<<") {
            let mut value: Vec<&[u8]> = Vec::new();
            loop {
                let next = lines.next().expect("unterminated heredoc entry");
                if next == delimiter.as_bytes() {
                    break;
                }
                value.push(next);
            }
            out.push((name.to_string(), value.join(&b'\n')));
        } else {
            let (name, value) = text.split_once('=').expect("NAME=value");
            out.push((name.to_string(), value.as_bytes().to_vec()));
        }
    }
    out
}
