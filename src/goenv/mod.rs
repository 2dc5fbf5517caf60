//! Go's directories, resolved the way the `go` command resolves them.
//!
//! When a `go` binary can be found, `go env -json` is the authority for the values (run with
//! `GOTOOLCHAIN=local`, so that asking never downloads a toolchain). Without one, the same
//! rules are applied here: the process environment first, then the file written by
//! `go env -w` (GOENV), then `$GOROOT/go.env`, then the built-in default. Either way each
//! value is reported with where it came from.

mod rules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use rules::{Os, Sources, compute};

/// The variables this module resolves, in the order they are reported.
pub const GO_DIR_VARS: &[&str] = &[
    "GOROOT",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "GOBIN",
    "GOTMPDIR",
    "GOENV",
];

/// How long `go env` may take before it is abandoned in favour of the computed values.
const GO_ENV_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The process environment.
    Environment,
    /// The file written by `go env -w` (the GOENV file).
    GoenvFile,
    /// `$GOROOT/go.env`, the defaults shipped with the toolchain.
    GorootGoEnv,
    /// Go's built-in default.
    Default,
    /// Moved by `--relocate`: the value handed to the job, not yet in effect for this process.
    Relocated,
}

impl Origin {
    /// A short phrase for text output.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Environment => "environment",
            Origin::GoenvFile => "go env -w file",
            Origin::GorootGoEnv => "$GOROOT/go.env",
            Origin::Default => "default",
            Origin::Relocated => "relocated",
        }
    }
}

/// One resolved Go variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoVar {
    pub name: &'static str,
    /// The value as the go command uses it; empty means unset (GOTMPDIR: the OS temp dir).
    pub value: String,
    pub origin: Origin,
}

/// How the values were obtained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Resolver {
    /// From `go env -json`, run with this binary.
    GoEnv { go: PathBuf, version: String },
    /// Computed here by Go's rules; `reason` says why `go env` was not used.
    Computed { reason: String },
}

/// Go's directories as the go command sees them.
#[derive(Clone, Debug, Serialize)]
pub struct GoEnv {
    pub resolver: Resolver,
    pub vars: Vec<GoVar>,
    /// The settings files read on the way (the GOENV file, `$GOROOT/go.env`).
    #[serde(skip)]
    pub sources: Sources,
}

impl GoEnv {
    /// The value of `name`, if it is set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The directories to measure: each absolute directory variable (GOPATH split into its
    /// entries), labelled with its name. GOENV is a file: its directory is not watched.
    /// Where the go command makes its work directories: GOTMPDIR, or when it is empty the
    /// system's temp dir (`$TMPDIR` or `/tmp`; `%TMP%`, `%TEMP%` on Windows), as `os.TempDir`.
    pub fn effective_tmpdir(&self) -> PathBuf {
        match self.get("GOTMPDIR") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::temp_dir(),
        }
    }

    pub fn watched_dirs(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for var in self.vars.iter().filter(|v| v.name != "GOENV") {
            let parts: Vec<PathBuf> = if var.name == "GOPATH" {
                std::env::split_paths(&var.value).collect()
            } else if var.name == "GOTMPDIR" {
                vec![self.effective_tmpdir()]
            } else {
                vec![PathBuf::from(&var.value)]
            };
            for path in parts.into_iter().filter(|p| p.is_absolute()) {
                out.push((var.name.to_string(), path));
            }
        }
        out
    }
}

/// Resolves Go's directories for this process: with `go env` when the `go` named by
/// `go_setting` can be found and answers, else by [`compute`].
pub fn resolve(go_setting: &Path) -> GoEnv {
    let os = Os::current();
    let lookup = |name: &str| std::env::var(name).ok();
    let go = find_go(go_setting);
    let sources = Sources::load(os, &lookup, go.as_deref());
    let reason = match go {
        None => format!(
            "no `{}` found on PATH or in $GOROOT/bin",
            go_setting.display()
        ),
        Some(go) => match run_go_env(&go) {
            Ok((values, version)) => {
                let vars = GO_DIR_VARS
                    .iter()
                    .map(|&name| GoVar {
                        name,
                        value: values.get(name).cloned().unwrap_or_default(),
                        origin: sources.origin(name, &lookup),
                    })
                    .collect();
                return GoEnv {
                    resolver: Resolver::GoEnv { go, version },
                    vars,
                    sources,
                };
            }
            Err(reason) => reason,
        },
    };
    GoEnv {
        resolver: Resolver::Computed { reason },
        vars: compute(os, &lookup, &sources),
        sources,
    }
}

/// Finds the go binary: the setting itself when it names a path, else a search of PATH,
/// else `$GOROOT/bin/go`.
pub fn find_go(setting: &Path) -> Option<PathBuf> {
    let exe = |dir: &Path, name: &Path| {
        let candidate = dir.join(name);
        if cfg!(windows) && candidate.extension().is_none() {
            candidate.with_extension("exe")
        } else {
            candidate
        }
    };
    if setting.components().count() > 1 || setting.is_absolute() {
        return setting.is_file().then(|| setting.to_path_buf());
    }
    let from_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| exe(&dir, setting))
            .find(|c| c.is_file())
    });
    from_path.or_else(|| {
        let goroot = std::env::var_os("GOROOT").filter(|v| !v.is_empty())?;
        Some(exe(&Path::new(&goroot).join("bin"), setting)).filter(|c| c.is_file())
    })
}

/// Runs `go env -json` for [`GO_DIR_VARS`] and GOVERSION.
fn run_go_env(go: &Path) -> Result<(BTreeMap<String, String>, String), String> {
    let mut child = Command::new(go)
        .arg("env")
        .arg("-json")
        .args(GO_DIR_VARS)
        .arg("GOVERSION")
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run {}: {e}", go.display()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > GO_ENV_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} env` did not answer within {}s",
                    go.display(),
                    GO_ENV_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for `{} env`: {e}", go.display())),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("reading `{} env`: {e}", go.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`{} env` failed: {}",
            go.display(),
            stderr.lines().next().unwrap_or("no message").trim()
        ));
    }
    let mut values: BTreeMap<String, String> = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`{} env -json` printed something else: {e}", go.display()))?;
    let version = values.remove("GOVERSION").unwrap_or_default();
    Ok((values, version))
}
