//! The composite GitHub Action: its metadata follows the action rules, no input reaches a
//! script except through `env:`, its outputs mirror the `github` emit format, its install
//! step verifies a release before running it (served from a loopback HTTP server), and its
//! check step applies fail-on-hard.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde::Deserialize;

use crate::common::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    description: String,
    author: Option<String>,
    branding: Branding,
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, ActionOutput>,
    runs: Runs,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Branding {
    icon: String,
    color: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    description: String,
    required: Option<bool>,
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionOutput {
    description: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Step {
    name: Option<String>,
    id: Option<String>,
    shell: Option<String>,
    run: Option<String>,
    uses: Option<String>,
    env: Option<BTreeMap<String, String>>,
    #[allow(dead_code)]
    working_directory: Option<String>,
    /// Only `inputs.NAME == 'VALUE'`, which the harness evaluates.
    #[serde(rename = "if")]
    condition: Option<String>,
}

fn action() -> Action {
    let text = fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn the_metadata_follows_the_action_rules() {
    let a = action();
    assert!(!a.name.is_empty() && !a.description.is_empty() && a.author.is_some());
    assert!(!a.branding.icon.is_empty() && !a.branding.color.is_empty());
    assert_eq!(a.runs.using, "composite");
    assert_inputs_are_optional_kebab_case_with_defaults(&a);
    assert_outputs_mirror_the_github_emit_format(&a);
    for step in &a.runs.steps {
        assert_step_runs_a_script_with_inputs_through_env(step);
    }
    assert_every_setting_reaches_the_binary(&a);
}

fn assert_inputs_are_optional_kebab_case_with_defaults(a: &Action) {
    let expected_inputs = [
        "soft",
        "hard",
        "target",
        "cache-max-size",
        "cacheprog-max-size",
        "cacheprog-remote",
        "cacheprog-remote-read-only",
        "keep-recent",
        "paths",
        "relocate",
        "migrate",
        "dry-run",
        "config",
        "emit",
        "version",
        "install",
        "working-directory",
        "fail-on-hard",
        "scan",
        "scan-sarif",
        "scan-fail-on",
        "gh-cache-prune",
        "gh-cache-key-prefix",
        "gh-cache-closed-prs",
        "gh-cache-keep-per-ref",
        "gh-cache-older-than",
        "gh-cache-max-total",
        "token",
    ];
    let names: Vec<&str> = a.inputs.keys().map(String::as_str).collect();
    let mut sorted = expected_inputs.to_vec();
    sorted.sort();
    assert_eq!(names, sorted);
    for (name, input) in &a.inputs {
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "input {name} is not kebab-case"
        );
        assert!(
            !input.description.is_empty(),
            "input {name} has no description"
        );
        assert!(input.default.is_some(), "input {name} has no default");
        assert_ne!(input.required, Some(true), "input {name} is required");
    }
    assert_eq!(a.inputs["emit"].default.as_deref(), Some("github"));
    assert_eq!(a.inputs["fail-on-hard"].default.as_deref(), Some("true"));
    assert_eq!(
        a.inputs["cacheprog-remote-read-only"].default.as_deref(),
        Some("auto")
    );
    assert_eq!(
        a.inputs["token"].default.as_deref(),
        Some("${{ github.token }}")
    );
}

/// Outputs mirror the github emit format's step outputs, from the check step.
fn assert_outputs_mirror_the_github_emit_format(a: &Action) {
    let outputs: Vec<&str> = a.outputs.keys().map(String::as_str).collect();
    let mut emitted = go_disk_guard::emit::github::OUTPUTS.to_vec();
    emitted.sort();
    assert_eq!(outputs, emitted);
    for (name, out) in &a.outputs {
        assert!(!out.description.is_empty());
        assert_eq!(out.value, format!("${{{{ steps.guard.outputs.{name} }}}}"));
    }
}

fn assert_step_runs_a_script_with_inputs_through_env(step: &Step) {
    assert!(step.name.is_some() && step.id.is_some());
    assert!(step.uses.is_none(), "a step uses another action");
    let run = step.run.as_deref().expect("a step without run");
    assert_eq!(
        step.shell.as_deref(),
        Some("bash"),
        "composite run steps need a shell"
    );
    // No expression is spliced into a script: inputs reach it through env only.
    assert!(!run.contains("${{"), "an expression in a run script: {run}");
    let script = run
        .trim()
        .strip_prefix("bash \"$GITHUB_ACTION_PATH/")
        .unwrap();
    let script = script.strip_suffix('"').unwrap();
    assert!(repo_root().join(script).is_file(), "{script} is missing");
    // The event is only ever compared (GitHub's == and != give true or false): no text of
    // it reaches a step.
    for value in step.env.iter().flat_map(|e| e.values()) {
        for (at, _) in value.match_indices("github.event") {
            let rest = &value[at..];
            let name_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            assert!(
                rest[name_end..].starts_with(" == ") || rest[name_end..].starts_with(" != "),
                "event payload reaches a step: {value}"
            );
        }
    }
}

/// Every setting input reaches the binary as its GO_DISK_GUARD_ variable.
fn assert_every_setting_reaches_the_binary(a: &Action) {
    let guard = a
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("guard"))
        .unwrap();
    let env = guard.env.as_ref().unwrap();
    for input in [
        "soft",
        "hard",
        "target",
        "cache-max-size",
        "cacheprog-max-size",
        "cacheprog-remote",
        "keep-recent",
        "paths",
        "relocate",
        "migrate",
        "dry-run",
        "config",
        "emit",
    ] {
        let var = format!(
            "GO_DISK_GUARD_{}",
            input.replace('-', "_").to_ascii_uppercase()
        );
        assert_eq!(env[&var], format!("${{{{ inputs.{input} }}}}"), "{var}");
    }
}

/// A release directory holding this build as the Linux x86_64 archive, and SHA256SUMS.
fn release(dir: &Path, version: &str) -> PathBuf {
    let release = dir.join("release");
    let stage = dir.join("stage");
    fs::create_dir_all(&release).unwrap();
    fs::create_dir_all(&stage).unwrap();
    fs::copy(
        env!("CARGO_BIN_EXE_go-disk-guard"),
        stage.join("go-disk-guard"),
    )
    .unwrap();
    let archive = format!("go-disk-guard-v{version}-x86_64-unknown-linux-musl.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(release.join(&archive))
        .arg("-C")
        .arg(&stage)
        .arg("go-disk-guard")
        .status()
        .unwrap();
    assert!(ok.success());
    let sums = Command::new("sh")
        .arg("-c")
        .arg("cd \"$0\" && sha256sum -- *.tar.gz > SHA256SUMS")
        .arg(&release)
        .status()
        .unwrap();
    assert!(sums.success());
    release
}

/// `python3 -m http.server` on loopback, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn serve(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a step script as the runner would: bash, the step's env, fresh GITHUB_* files.
fn step(script: &str, home: &Path, env: &[(&str, &str)]) -> (Output, BTreeMap<String, String>) {
    let output = home.join("github_output");
    fs::write(&output, "").unwrap();
    for f in ["github_env", "github_path", "github_summary"] {
        fs::write(home.join(f), "").unwrap();
    }
    let mut cmd = Command::new("bash");
    cmd.arg("--noprofile")
        .arg("--norc")
        .arg("-eo")
        .arg("pipefail")
        .arg(repo_root().join(".github/action").join(script))
        .env_clear()
        .env("PATH", test_path())
        .env("HOME", home)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_ENV", home.join("github_env"))
        .env("GITHUB_PATH", home.join("github_path"))
        .env("GITHUB_STEP_SUMMARY", home.join("github_summary"))
        .env("RUNNER_TEMP", home)
        .current_dir(home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let outputs = parse_outputs(&fs::read_to_string(&output).unwrap());
    (out, outputs)
}

/// A GITHUB_OUTPUT or GITHUB_ENV file as name → value (a later entry wins).
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    parse_github_file(text.as_bytes())
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8(value).unwrap()))
        .collect()
}

/// Runs install.sh for a release of this version from `url`, into the tool cache `tools`.
fn install_release(h: &Path, tools: &Path, url: &str) -> (Output, BTreeMap<String, String>) {
    step(
        "install.sh",
        h,
        &[
            ("GDG_INSTALL", "release"),
            ("GDG_VERSION", ""),
            ("GDG_REPOSITORY", "example/go-disk-guard"),
            ("GDG_RUNNER_OS", "Linux"),
            ("GDG_RUNNER_ARCH", "X64"),
            ("GDG_TOOL_CACHE", tools.to_str().unwrap()),
            ("GO_DISK_GUARD_DOWNLOAD_URL", url),
        ],
    )
}

/// A copy of the release whose archive has bytes appended, so its checksum no longer matches.
fn tampered_copy(h: &Path, release: &Path, version: &str) -> PathBuf {
    let tampered = h.join("tampered");
    fs::create_dir_all(&tampered).unwrap();
    for entry in fs::read_dir(release).unwrap().flatten() {
        fs::copy(entry.path(), tampered.join(entry.file_name())).unwrap();
    }
    let archive = format!("go-disk-guard-v{version}-x86_64-unknown-linux-musl.tar.gz");
    let mut bytes = fs::read(tampered.join(&archive)).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs::write(tampered.join(&archive), bytes).unwrap();
    tampered
}

/// A tampered archive is refused before anything runs or lands in the tool cache.
fn assert_a_tampered_release_is_refused(h: &Path, tools: &Path, tampered: &Path, version: &str) {
    let server = Server::serve(tampered);
    let (out, outputs) = install_release(h, tools, &server.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("::error") && stdout.contains("checksum mismatch"),
        "{stdout}"
    );
    assert!(!outputs.contains_key("path"));
    assert!(
        !tools
            .join("go-disk-guard")
            .join(version)
            .join("x64")
            .join("go-disk-guard")
            .exists()
    );
}

/// The genuine release installs, and the binary runs.
fn assert_the_genuine_release_installs_and_runs(
    h: &Path,
    tools: &Path,
    release: &Path,
    version: &str,
) {
    let server = Server::serve(release);
    let (out, outputs) = install_release(h, tools, &server.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let path = PathBuf::from(&outputs["path"]);
    assert_eq!(
        path,
        tools.join(format!("go-disk-guard/{version}/x64/go-disk-guard"))
    );
    let on_path = fs::read_to_string(h.join("github_path")).unwrap();
    assert_eq!(on_path, format!("{}\n", path.parent().unwrap().display()));
    let v = Command::new(&path).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("go-disk-guard {version}")
    );
}

#[test]
fn install_verifies_the_release_and_keeps_it_in_the_tool_cache() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let version = env!("CARGO_PKG_VERSION");
    let tools = h.join("toolcache");
    let release = release(h, version);
    let tampered = tampered_copy(h, &release, version);
    assert_a_tampered_release_is_refused(h, &tools, &tampered, version);
    assert_the_genuine_release_installs_and_runs(h, &tools, &release, version);
    // A second use in the job comes from the tool cache: no server needed.
    let (out, outputs) = install_release(h, &tools, "http://127.0.0.1:9");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("from the tool cache"));
    assert!(outputs["path"].ends_with("/x64/go-disk-guard"));
}

/// The action's tree for `install: source` (`src` a link to `real`) and, first on PATH, a
/// stand-in cargo that counts its builds in `$HOME/builds`.
struct SourceInstall {
    h: PathBuf,
    tree: PathBuf,
    tools: PathBuf,
    path: String,
}

impl SourceInstall {
    fn new(h: &Path) -> SourceInstall {
        let tree = h.join("action");
        fs::create_dir_all(tree.join("real")).unwrap();
        for f in ["Cargo.toml", "Cargo.lock"] {
            fs::copy(repo_root().join(f), tree.join(f)).unwrap();
        }
        fs::write(tree.join("real/main.rs"), "fn main() {}\n").unwrap();
        std::os::unix::fs::symlink("real", tree.join("src")).unwrap();
        let bin = h.join("bin");
        fs::create_dir(&bin).unwrap();
        fs::write(
            bin.join("cargo"),
            "#!/bin/sh\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             echo built >> \"$HOME/builds\"\n\
             mkdir -p \"$root/bin\" && cp /bin/sleep \"$root/bin/go-disk-guard\"\n",
        )
        .unwrap();
        fs::set_permissions(
            bin.join("cargo"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        SourceInstall {
            h: h.to_path_buf(),
            tree,
            tools: h.join("toolcache"),
            path: format!("{}:{}", bin.display(), test_path()),
        }
    }

    fn install(&self) -> (Output, BTreeMap<String, String>) {
        step(
            "install.sh",
            &self.h,
            &[
                ("GDG_INSTALL", "source"),
                ("GDG_RUNNER_OS", "Linux"),
                ("GDG_RUNNER_ARCH", "X64"),
                ("GDG_TOOL_CACHE", self.tools.to_str().unwrap()),
                ("GITHUB_ACTION_PATH", self.tree.to_str().unwrap()),
                ("PATH", &self.path),
            ],
        )
    }

    fn builds(&self) -> usize {
        fs::read_to_string(self.h.join("builds")).map_or(0, |b| b.lines().count())
    }
}

/// `install: source` keeps a build by a hash of the source a build reads, links followed as
/// cargo follows them: a change behind a linked `src` is a new build, never the old one from
/// the tool cache; a build kept while another job runs it is replaced, not rewritten; and a
/// tree it cannot hash fails with an error that says so. cargo is a stand-in that counts its
/// builds.
#[test]
fn install_from_source_hashes_what_the_build_reads() {
    let home = tempfile::tempdir().unwrap();
    let s = SourceInstall::new(home.path());
    let (out, first) = s.install();
    assert_success(&out);
    assert_eq!(s.builds(), 1);
    fs::write(s.tree.join("real/main.rs"), "fn main() { panic!() }\n").unwrap();
    let (out, second) = s.install();
    assert_success(&out);
    assert_eq!(
        s.builds(),
        2,
        "a changed source was served from the tool cache"
    );
    assert_ne!(first["path"], second["path"]);
    assert_a_running_build_is_replaced_not_rewritten(&s, &second["path"]);

    // A tree without a lock file cannot be hashed: an error says so.
    fs::remove_file(s.tree.join("Cargo.lock")).unwrap();
    let (out, _) = s.install();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=go-disk-guard install::could not hash"),
        "{stdout}"
    );
    assert_eq!(s.builds(), 3);
}

/// Another job building the same source meanwhile (it found no `.complete` yet) while this
/// one runs the build: the binary is replaced as a name, never rewritten under a running
/// program (which Linux refuses: "Text file busy").
fn assert_a_running_build_is_replaced_not_rewritten(s: &SourceInstall, built: &str) {
    let mut running = Command::new(built).arg("30").spawn().unwrap();
    let complete = Path::new(built)
        .parent()
        .unwrap()
        .with_extension("complete");
    fs::remove_file(&complete).unwrap();
    let (out, again) = s.install();
    running.kill().unwrap();
    running.wait().unwrap();
    assert_success(&out);
    assert_eq!(s.builds(), 3);
    assert_eq!(again["path"], built);
}

#[test]
fn install_checks_its_inputs_first_and_shows_them_as_one_escaped_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let tools = h.join("toolcache");
    for (install, version, says) in [
        (
            "release\n::error::owned",
            "",
            "install must be auto, release or source",
        ),
        (
            "x\r::add-mask::secret",
            "0.1.0",
            "install must be auto, release or source",
        ),
        (
            "##[error]x",
            "0.1.0",
            "install must be auto, release or source",
        ),
        ("auto", "1.0.0\n::error::owned", "not a release version"),
        ("auto", "::stop-commands::token", "not a release version"),
        (
            "release",
            "1.0.0 ##[error]x%0A::error::y",
            "not a release version",
        ),
        // Both wrong: install is checked first.
        (
            "bad\n::error::i",
            "bad\n::error::v",
            "install must be auto, release or source",
        ),
    ] {
        assert_refused_as_one_escaped_line(h, &tools, install, version, says);
    }
}

/// install.sh with these inputs fails with one line, the error command naming the value
/// (escaped, `##[` broken up), and does nothing else.
fn assert_refused_as_one_escaped_line(
    h: &Path,
    tools: &Path,
    install: &str,
    version: &str,
    says: &str,
) {
    let is_command = |l: &str| l.trim_start().starts_with("::") || l.contains("##[");
    let (out, outputs) = step(
        "install.sh",
        h,
        &[
            ("GDG_INSTALL", install),
            ("GDG_VERSION", version),
            ("GDG_REPOSITORY", "example/go-disk-guard"),
            ("GDG_RUNNER_OS", "Linux"),
            ("GDG_RUNNER_ARCH", "X64"),
            ("GDG_TOOL_CACHE", tools.to_str().unwrap()),
            ("GO_DISK_GUARD_DOWNLOAD_URL", "http://127.0.0.1:9"),
        ],
    );
    let what = format!("install={install:?} version={version:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stdout}{stderr}");
    // One line, the error command; no other line a runner reads as a command.
    let lines: Vec<&str> = stdout.trim_end_matches('\n').split(['\n', '\r']).collect();
    assert_eq!(lines.len(), 1, "{what}: {stdout}");
    let message = lines[0]
        .strip_prefix("::error title=go-disk-guard install::")
        .unwrap_or_else(|| panic!("{what}: {stdout}"));
    for l in stderr.split(['\n', '\r']) {
        assert!(!is_command(l), "{what}: {l:?}");
    }
    assert!(!message.contains("##["), "{what}: {message}");
    // The runner unescapes the message to the value, `##[` broken up.
    let shown = message
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%");
    let value = if says.starts_with("install") {
        install
    } else {
        version
    };
    assert!(shown.contains(says), "{what}: {shown}");
    assert!(
        shown.contains(&value.replace("##[", "#%23[")),
        "{what}: {shown}"
    );
    // Nothing was done with them: no output, no PATH entry, no tool cache.
    assert!(outputs.is_empty(), "{what}: {outputs:?}");
    assert_eq!(fs::read_to_string(h.join("github_path")).unwrap(), "");
    assert!(!tools.exists(), "{what}");
}

#[test]
fn the_check_step_sets_outputs_and_applies_fail_on_hard() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let bin = env!("CARGO_BIN_EXE_go-disk-guard");
    let gocache = h.join("gocache");
    let gocache = gocache.to_str().unwrap();
    let base = [
        ("GDG_BIN", bin),
        ("GO_DISK_GUARD_GO", "/nonexistent/go"),
        ("GO_DISK_GUARD_EMIT", "github"),
        ("GOCACHE", gocache),
    ];
    // Success: the outputs of the github emit format, injected environment.
    let mut env = base.to_vec();
    env.extend([
        ("GO_DISK_GUARD_SOFT", "1KiB"),
        ("GO_DISK_GUARD_HARD", "0"),
        ("GO_DISK_GUARD_DRY_RUN", "false"),
    ]);
    let (out, outputs) = step("guard.sh", h, &env);
    assert_success(&out);
    assert_eq!(outputs["status"], "ok");
    assert_eq!(outputs["gocache"], gocache);
    assert!(outputs["available-bytes"].parse::<u64>().unwrap() > 0);
    assert!(
        fs::read_to_string(h.join("github_env"))
            .unwrap()
            .contains("GOCACHE<<")
    );
    assert!(
        fs::read_to_string(h.join("github_summary"))
            .unwrap()
            .contains("| Volume |")
    );

    // Below the hard limit: the step fails, or with fail-on-hard false warns and goes on.
    let mut env = base.to_vec();
    env.extend([
        ("GO_DISK_GUARD_SOFT", "100%"),
        ("GO_DISK_GUARD_HARD", "100%"),
    ]);
    let (out, outputs) = step("guard.sh", h, &env);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(outputs["status"], "hard-limit");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("::error title=go-disk-guard%3A hard limit::")
    );
    env.push(("GDG_FAIL_ON_HARD", "false"));
    let (out, outputs) = step("guard.sh", h, &env);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(outputs["status"], "hard-limit");
    // A job that goes on shows a warning, and no error.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::warning title=go-disk-guard%3A hard limit::"),
        "{stdout}"
    );
    assert!(!stdout.contains("::error"), "{stdout}");
    // Anything but true or false is refused before the check runs.
    env.pop();
    env.push(("GDG_FAIL_ON_HARD", "no way"));
    let (out, _) = step("guard.sh", h, &env);
    assert_eq!(out.status.code(), Some(2));
}

/// A small stand-in for the Actions runner executing this composite action: `${{ }}`
/// expressions in `env:` and `working-directory` resolved from the inputs (given, else their
/// defaults), `github.*`, `runner.*` and earlier steps' outputs; each `run` script executed
/// with `bash --noprofile --norc -eo pipefail`; GITHUB_ENV and GITHUB_PATH applied to later
/// steps; the action's outputs collected from `steps.<id>.outputs`. A test harness, not a
/// runner: it knows only the expressions this action uses.
struct ActionRun {
    /// Whether every step succeeded.
    success: bool,
    outputs: BTreeMap<String, String>,
    /// The job environment after the action (GITHUB_ENV), and PATH additions (GITHUB_PATH).
    job_env: BTreeMap<String, String>,
    job_path: Vec<String>,
    log: String,
}

/// What the harness resolves `${{ }}` expressions from: the inputs (given, else their
/// defaults), `github.*`, `runner.*` and earlier steps' outputs.
struct Expressions<'a> {
    action: &'a Action,
    given: BTreeMap<&'a str, &'a str>,
    tool_cache: PathBuf,
    step_outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Expressions<'_> {
    fn input(&self, name: &str) -> String {
        self.given
            .get(name)
            .map(|v| v.to_string())
            .or_else(|| self.action.inputs[name].default.clone())
            .unwrap()
    }

    fn value(&self, expr: &str) -> String {
        match expr.split('.').collect::<Vec<_>>().as_slice() {
            ["inputs", name] => self.input(name),
            ["github", "action_repository"] => "example/go-disk-guard".into(),
            ["github", "token"] => "test-token".into(),
            ["runner", "os"] => "Linux".into(),
            ["runner", "arch"] => "X64".into(),
            ["runner", "tool_cache"] => self.tool_cache.display().to_string(),
            // Whether the event builds the repository's own code: the harness runs for push.
            _ if expr.starts_with("github.event_name == 'push' ||") => "true".into(),
            ["steps", id, "outputs", name] => self
                .step_outputs
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            other => panic!("the harness does not know ${{{{ {other:?} }}}}"),
        }
    }

    fn resolve(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").unwrap() + start;
            out.push_str(&self.value(rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// A step's `if:`, which is only ever `inputs.NAME == 'VALUE'`.
    fn runs(&self, step: &Step) -> bool {
        let Some(condition) = &step.condition else {
            return true;
        };
        let (lhs, rhs) = condition
            .split_once(" == ")
            .expect("inputs.NAME == 'VALUE'");
        let name = lhs
            .trim()
            .strip_prefix("inputs.")
            .expect("a condition on an input");
        self.input(name) == rhs.trim().trim_matches('\'')
    }
}

/// The runner's files for the job: GITHUB_ENV, GITHUB_PATH and the step summary, empty.
struct RunnerFiles {
    dir: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl RunnerFiles {
    fn create(workspace: &Path) -> RunnerFiles {
        let dir = workspace.join("runner");
        fs::create_dir_all(&dir).unwrap();
        let files = RunnerFiles {
            env: dir.join("env"),
            path: dir.join("path"),
            summary: dir.join("summary"),
            dir,
        };
        for f in [&files.env, &files.path, &files.summary] {
            fs::write(f, "").unwrap();
        }
        files
    }
}

/// A step's PATH: the job's additions (the latest first), the runner image's tools (here:
/// the cargo running the tests), then the tests' own.
fn step_path(path_additions: &[String], env: &BTreeMap<String, String>) -> String {
    let mut path = path_additions.to_vec();
    path.reverse();
    if let Some(dirs) = env.get("RUNNER_TOOL_DIRS").filter(|d| !d.is_empty()) {
        path.push(dirs.clone());
    }
    path.push(test_path());
    path.join(":")
}

/// Executes step `n` as the runner does, with the job's environment and PATH additions;
/// returns its output and the outputs it wrote.
fn run_step(
    n: usize,
    step: &Step,
    workspace: &Path,
    files: &RunnerFiles,
    expressions: &Expressions,
    (env, path_additions): (&BTreeMap<String, String>, &[String]),
) -> (Output, BTreeMap<String, String>) {
    let output_file = files.dir.join(format!("output-{n}"));
    fs::write(&output_file, "").unwrap();
    let script = files.dir.join(format!("step-{n}.sh"));
    fs::write(&script, step.run.as_deref().unwrap()).unwrap();
    let dir = step
        .working_directory
        .as_deref()
        .map_or(workspace.to_path_buf(), |d| {
            workspace.join(expressions.resolve(d))
        });
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .env_clear()
        .envs(env)
        .env("PATH", step_path(path_additions, env))
        .env("HOME", workspace)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_ENV", &files.env)
        .env("GITHUB_PATH", &files.path)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &files.summary)
        .env("RUNNER_TEMP", workspace.join("runner"))
        .current_dir(dir);
    for (k, v) in step.env.iter().flatten() {
        cmd.env(k, expressions.resolve(v));
    }
    let out = cmd.output().unwrap();
    let outputs = parse_outputs(&fs::read_to_string(&output_file).unwrap());
    (out, outputs)
}

/// The action's outputs, each read from the `steps.<id>.outputs.<name>` it names.
fn action_outputs(
    a: &Action,
    step_outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    a.outputs
        .iter()
        .map(|(name, out)| {
            let id_and_name = out
                .value
                .trim_start_matches("${{ steps.")
                .trim_end_matches(" }}");
            let (id, rest) = id_and_name.split_once('.').unwrap();
            let key = rest.trim_start_matches("outputs.");
            let value = step_outputs
                .get(id)
                .and_then(|o| o.get(key))
                .cloned()
                .unwrap_or_default();
            (name.clone(), value)
        })
        .collect()
}

fn run_action(workspace: &Path, inputs: &[(&str, &str)], job_env: &[(&str, &str)]) -> ActionRun {
    let a = action();
    let mut expressions = Expressions {
        action: &a,
        given: inputs.iter().copied().collect(),
        tool_cache: workspace.join("toolcache"),
        step_outputs: BTreeMap::new(),
    };
    let mut env: BTreeMap<String, String> = job_env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut path_additions: Vec<String> = Vec::new();
    let mut log = String::new();
    let mut success = true;
    let files = RunnerFiles::create(workspace);

    for (n, step) in a.runs.steps.iter().enumerate() {
        if !expressions.runs(step) {
            continue;
        }
        let (out, outputs) = run_step(
            n,
            step,
            workspace,
            &files,
            &expressions,
            (&env, &path_additions),
        );
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        expressions
            .step_outputs
            .insert(step.id.clone().unwrap(), outputs);
        // What the step added to the job's environment applies to the steps after it.
        env.extend(parse_outputs(&fs::read_to_string(&files.env).unwrap()));
        path_additions = fs::read_to_string(&files.path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        if !out.status.success() {
            success = false;
            break;
        }
    }
    ActionRun {
        success,
        outputs: action_outputs(&a, &expressions.step_outputs),
        job_env: parse_outputs(&fs::read_to_string(&files.env).unwrap()),
        job_path: path_additions,
        log,
    }
}

/// The job's environment for the action's runs: GOCACHE under the workspace, one build of
/// the working tree reused across runs and tests, local Go, and the runner's Rust (the cargo
/// running these tests, with its homes).
fn job_with_cargo(w: &Path, go: &Path) -> Vec<(&'static str, String)> {
    let home = std::env::var("HOME").unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    vec![
        ("GOCACHE", w.join("gocache").display().to_string()),
        (
            "CARGO_TARGET_DIR",
            repo_root()
                .join("target/action-source")
                .display()
                .to_string(),
        ),
        ("GOTOOLCHAIN", "local".into()),
        ("GO_DISK_GUARD_GO", go.to_str().unwrap().into()),
        (
            "CARGO_HOME",
            std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo")),
        ),
        (
            "RUSTUP_HOME",
            std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup")),
        ),
        (
            "RUNNER_TOOL_DIRS",
            Path::new(&cargo)
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}

/// `run_action` with a job environment of owned values.
fn run_in_job(w: &Path, inputs: &[(&str, &str)], job: &[(&'static str, String)]) -> ActionRun {
    let env: Vec<(&str, &str)> = job.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_action(w, inputs, &env)
}

/// Success: outputs set, environment and PATH handed to the job, and the inputs travel with
/// the job. Returns the installed binary.
fn assert_the_action_hands_the_job_its_environment(
    w: &Path,
    job: &[(&'static str, String)],
    gocache: &str,
) -> PathBuf {
    let run = run_in_job(
        w,
        &[("install", "source"), ("soft", "1KiB"), ("hard", "0")],
        job,
    );
    assert!(run.success, "{}", run.log);
    assert_eq!(run.outputs["status"], "ok");
    assert_eq!(run.outputs["gocache"], gocache);
    assert!(!run.outputs["goroot"].is_empty());
    assert_eq!(run.job_env["GOCACHE"], gocache);
    assert!(run.job_env.contains_key("GOMODCACHE") && run.job_env.contains_key("GOPATH"));
    assert!(
        run.job_path.iter().any(|p| p.ends_with("/x64")),
        "{:?}",
        run.job_path
    );
    let installed = PathBuf::from(&run.job_path[0]).join("go-disk-guard");
    assert!(installed.exists(), "{}", installed.display());
    assert!(!run.job_env.contains_key("GOCACHEPROG"));
    // The inputs travel with the job: a later command reads the saved settings.
    let saved = PathBuf::from(&run.job_env["GO_DISK_GUARD_CONFIG"]);
    assert!(saved.starts_with(w.join("runner")), "{}", saved.display());
    let later = Command::new(&installed)
        .args(["status", "--format", "json"])
        .env_clear()
        .env("HOME", w)
        .env("PATH", test_path())
        .env("GOCACHE", gocache)
        .env("GO_DISK_GUARD_CONFIG", &saved)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(report["settings"]["soft"], 1024, "{report}");
    assert_eq!(report["settings"]["hard"], 0, "{report}");
    installed
}

/// cacheprog-max-size: GOCACHEPROG runs the installed binary on GOCACHE.
fn assert_cacheprog_runs_the_installed_binary(
    w: &Path,
    job: &[(&'static str, String)],
    gocache: &str,
    installed: &Path,
) {
    let run = run_in_job(
        w,
        &[
            ("install", "source"),
            ("soft", "1KiB"),
            ("hard", "0"),
            ("cacheprog-max-size", "64MiB"),
        ],
        job,
    );
    assert!(run.success, "{}", run.log);
    assert_eq!(
        run.job_env["GOCACHEPROG"],
        format!(
            "{} cacheprog --dir {gocache} --max-size 67108864",
            installed.display()
        )
    );
    // cacheprog-remote: the remote tier joins it; on push, auto leaves it writable.
    let run = run_in_job(
        w,
        &[
            ("install", "source"),
            ("soft", "1KiB"),
            ("hard", "0"),
            ("cacheprog-max-size", "64MiB"),
            ("cacheprog-remote", "s3://ci-go-cache/linux"),
        ],
        job,
    );
    assert!(run.success, "{}", run.log);
    assert_eq!(
        run.job_env["GOCACHEPROG"],
        format!(
            "{} cacheprog --dir {gocache} --max-size 67108864 --remote s3://ci-go-cache/linux",
            installed.display()
        )
    );
}

/// The check step learns whether the event builds the repository's own code from an
/// allowlist: these events, and a pull request only when its head repository is this one.
/// Anything not named (workflow_run, issue_comment, …) is read-only.
#[test]
fn the_writable_events_are_an_allowlist() {
    let a = action();
    let guard = a
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("guard"))
        .unwrap();
    let expr = &guard.env.as_ref().unwrap()["GDG_OWN_CODE"];
    assert!(!expr.contains("!="), "{expr}");
    assert!(
        expr.contains("github.event.pull_request.head.repo.full_name == github.repository"),
        "{expr}"
    );
    let mut events: Vec<&str> = expr
        .split("github.event_name == '")
        .skip(1)
        .map(|rest| rest.split('\'').next().unwrap())
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "merge_group",
            "pull_request",
            "pull_request_target",
            "push",
            "release",
            "schedule",
            "workflow_dispatch",
        ],
        "{expr}"
    );
}

/// cacheprog-remote-read-only: auto is writable only for an event building the repository's
/// own code (as the step's env resolves it), read-only for any other or when the step's env
/// says nothing; true and false say so whatever the event; anything else is refused before
/// the check runs.
#[test]
fn the_check_step_resolves_cacheprog_remote_read_only() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let bin = env!("CARGO_BIN_EXE_go-disk-guard");
    let gocache = h.join("gocache");
    let gocache = gocache.to_str().unwrap();
    let gocacheprog = |read_only: &str, own_code: Option<&str>| {
        let env = [
            ("GDG_BIN", bin),
            ("GO_DISK_GUARD_GO", "/nonexistent/go"),
            ("GO_DISK_GUARD_EMIT", "github"),
            ("GO_DISK_GUARD_HARD", "0"),
            ("GOCACHE", gocache),
            ("GO_DISK_GUARD_CACHEPROG_MAX_SIZE", "64MiB"),
            ("GO_DISK_GUARD_CACHEPROG_REMOTE", "s3://ci-go-cache/linux"),
            ("GDG_CACHEPROG_REMOTE_READ_ONLY", read_only),
        ];
        let own = own_code.map(|v| ("GDG_OWN_CODE", v));
        let env: Vec<(&str, &str)> = env.into_iter().chain(own).collect();
        let (out, _) = step("guard.sh", h, &env);
        let job_env = parse_outputs(&fs::read_to_string(h.join("github_env")).unwrap());
        (out, job_env.get("GOCACHEPROG").cloned())
    };
    let remote = format!(
        "{bin} cacheprog --dir {gocache} --max-size 67108864 --remote s3://ci-go-cache/linux"
    );
    for (read_only, own_code, want_read_only) in [
        ("auto", Some("false"), true),
        ("auto", Some("true"), false),
        ("auto", None, true),
        ("auto", Some(""), true),
        ("", Some("false"), true),
        ("", Some("true"), false),
        ("false", Some("false"), false),
        ("true", Some("true"), true),
    ] {
        let (out, prog) = gocacheprog(read_only, own_code);
        assert_success(&out);
        let want = if want_read_only {
            format!("{remote} --remote-read-only")
        } else {
            remote.clone()
        };
        assert_eq!(
            prog.as_deref(),
            Some(want.as_str()),
            "{read_only} {own_code:?}"
        );
    }
    let (out, prog) = gocacheprog("yes please", Some("true"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(prog, None);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("::error title=go-disk-guard::cacheprog-remote-read-only must be")
    );
}

/// Dry run: would prune, prunes nothing.
fn assert_a_dry_run_prunes_nothing(w: &Path, job: &[(&'static str, String)]) {
    let cache = w.join("gocache");
    synthetic_cache(
        &cache,
        20,
        4096,
        std::time::Duration::from_secs(30 * 24 * 3600),
    );
    let sums = checksums(&cache);
    let run = run_in_job(
        w,
        &[
            ("install", "source"),
            ("dry-run", "true"),
            ("cache-max-size", "0"),
            ("keep-recent", "0s"),
            ("soft", "1KiB"),
            ("hard", "0"),
        ],
        job,
    );
    assert!(run.success, "{}", run.log);
    // The outputs say what a dry run did: nothing pruned, what would have been apart.
    assert_eq!(run.outputs["status"], "would-prune");
    assert_eq!(run.outputs["dry-run"], "true");
    assert_eq!(run.outputs["pruned-bytes"], "0");
    assert_eq!(run.outputs["pruned-files"], "0");
    assert!(run.outputs["would-prune-files"].parse::<u64>().unwrap() >= 20);
    assert!(run.outputs["would-prune-bytes"].parse::<u64>().unwrap() >= 20 * 4096);
    assert_eq!(checksums(&cache), sums, "a dry run changed the cache");
}

/// scan: findings listed in the log and written as SARIF; scan-fail-on decides the step.
fn assert_scan_reports_and_fails_on_request(w: &Path, job: &[(&'static str, String)]) {
    fs::create_dir_all(w.join("app")).unwrap();
    fs::write(
        w.join("app/main.go"),
        "package main\n\nvar goBin = \"C:\\\\Go\\\\bin\"\n",
    )
    .unwrap();
    let scan_inputs = [
        ("install", "source"),
        ("soft", "1KiB"),
        ("hard", "0"),
        ("scan", "true"),
        ("scan-sarif", "paths.sarif"),
    ];
    let run = run_in_job(w, &scan_inputs, job);
    assert!(run.success, "{}", run.log);
    assert!(
        run.log
            .contains("app/main.go:3:13: error GDG001 system-drive-path"),
        "{}",
        run.log
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&fs::read(w.join("paths.sarif")).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "app/main.go"
    );
    let mut failing = scan_inputs.to_vec();
    failing.push(("scan-fail-on", "error"));
    assert!(!run_in_job(w, &failing, job).success);
    fs::remove_dir_all(w.join("app")).unwrap();
}

/// The Actions cache storage on loopback: four entries under two prefixes on one ref, and
/// deletions accepted.
#[cfg(feature = "gh-cache")]
fn mock_cache_storage(rt: &tokio::runtime::Runtime) -> wiremock::MockServer {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = rt.block_on(MockServer::start());
    let entry = |id: u64, key: &str, days: u64| {
        serde_json::json!({
            "id": id, "ref": "refs/heads/main", "key": key, "size_in_bytes": 1000,
            "last_accessed_at": humantime::format_rfc3339_seconds(
                std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400)
            ).to_string(),
            "created_at": "2026-01-01T00:00:00Z",
        })
    };
    let list = serde_json::json!({"total_count": 4, "actions_caches": [
        entry(1, "setup-go-a", 1), entry(2, "setup-go-b", 2),
        entry(3, "go-build-c", 3), entry(4, "go-build-d", 4),
    ]});
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/repos/o/r/actions/caches"))
            .respond_with(ResponseTemplate::new(200).set_body_json(list))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path_regex(r"^/repos/o/r/actions/caches/\d+$"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
    });
    server
}

/// gh-cache-prune: the Actions cache storage, served on loopback, pruned by the inputs.
#[cfg(feature = "gh-cache")]
fn assert_gh_cache_prune_follows_the_inputs(w: &Path, job: &[(&'static str, String)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = mock_cache_storage(&rt);
    let mut env = job.to_vec();
    env.extend([
        ("GITHUB_API_URL", server.uri()),
        ("GITHUB_REPOSITORY", "o/r".into()),
    ]);
    let run = run_in_job(
        w,
        &[
            ("install", "source"),
            ("soft", "1KiB"),
            ("hard", "0"),
            ("gh-cache-prune", "true"),
            ("gh-cache-key-prefix", "setup-go-\n  go-build-\n"),
            ("gh-cache-closed-prs", "false"),
        ],
        &env,
    );
    assert!(run.success, "{}", run.log);
    let deleted: Vec<String> = rt
        .block_on(server.received_requests())
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().rsplit('/').next().unwrap().to_string())
        .collect();
    // The newest per ref and prefix stays: 1 (setup-go-) and 3 (go-build-).
    assert_eq!(deleted, ["2", "4"], "{}", run.log);
    assert!(run.log.contains("deleted 2 of 2 planned"), "{}", run.log);
}

/// Below the hard limit on a real small volume: the action fails, the status says why;
/// fail-on-hard: false warns and goes on.
fn assert_below_hard_fails_unless_told_otherwise(w: &Path, job: &[(&'static str, String)]) {
    let _mnt = Tmpfs::mount(&w.join("small"), "16m");
    let mut env = job.to_vec();
    env[0] = ("GOCACHE", w.join("small/gocache").display().to_string());
    let run = run_in_job(
        w,
        &[("install", "source"), ("soft", "64MiB"), ("hard", "32MiB")],
        &env,
    );
    assert!(!run.success);
    assert_eq!(run.outputs["status"], "hard-limit");
    assert!(
        run.log
            .contains("::error title=go-disk-guard%3A hard limit::"),
        "{}",
        run.log
    );
    let run = run_in_job(
        w,
        &[
            ("install", "source"),
            ("soft", "64MiB"),
            ("hard", "32MiB"),
            ("fail-on-hard", "false"),
        ],
        &env,
    );
    assert!(run.success, "{}", run.log);
    assert!(
        run.log
            .contains("::warning title=go-disk-guard%3A hard limit::")
    );
    assert!(!run.log.contains("::error"), "{}", run.log);
}

#[test]
#[ignore = "needs Go and root: installs the action from source and mounts a tmpfs"]
fn the_action_runs_as_the_runner_runs_it_from_source() {
    let go = require_go();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let gocache = w.join("gocache").display().to_string();
    let job = job_with_cargo(w, &go);
    let installed = assert_the_action_hands_the_job_its_environment(w, &job, &gocache);
    assert_cacheprog_runs_the_installed_binary(w, &job, &gocache, &installed);
    assert_a_dry_run_prunes_nothing(w, &job);
    assert_scan_reports_and_fails_on_request(w, &job);
    #[cfg(feature = "gh-cache")]
    assert_gh_cache_prune_follows_the_inputs(w, &job);
    assert_below_hard_fails_unless_told_otherwise(w, &job);
}
