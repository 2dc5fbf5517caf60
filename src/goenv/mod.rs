//! Go's directories, resolved the way the `go` command resolves them.
//!
//! When a `go` binary can be found, `go env -json` is the authority for the values (run with
//! `GOTOOLCHAIN=local`, so that asking never downloads a toolchain). Without one, the same
//! rules are applied here: the process environment first, then the file written by
//! `go env -w` (GOENV), then `$GOROOT/go.env`, then the built-in default. Either way each
//! value is reported with where it came from.
//!
//! Values are kept as the operating system holds them ([`OsString`]): a directory whose name
//! is not UTF-8 is measured and handed on byte for byte. `go env -json` cannot carry such a
//! value (Go's JSON encoder writes U+FFFD for each byte that is not UTF-8), so a value of
//! `go env -json` holding U+FFFD is replaced by the exact value: asked of `go env NAME`, which
//! prints the bytes (Unix), or else read where Go read it (the environment, the GOENV file,
//! `$GOROOT/go.env`, the default); either only when it prints as exactly what `go env -json`
//! said.

mod rules;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::ser::SerializeMap;

pub use rules::{GOBIN_RELATIVE, GOCACHE_RELATIVE, Lookup, Os, Sources, compute, parse_env_file};

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
///
/// In JSON: `name`, `value` (text; a value that is not UTF-8 has U+FFFD for each byte that is
/// not, as `go env -json` prints it, and then also `value_bytes`, its exact bytes as numbers:
/// on Windows the WTF-8 bytes Go itself holds), `origin`, and `error` when the go command
/// refuses the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoVar {
    pub name: &'static str,
    /// The value as the go command uses it; empty means unset (GOTMPDIR: the OS temp dir).
    pub value: OsString,
    pub origin: Origin,
    /// Why the go command cannot use this variable, in its own words (GOCACHE relative or
    /// without a default, GOBIN relative).
    pub error: Option<String>,
}

impl Serialize for GoVar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name)?;
        match self.value.to_str() {
            Some(text) => m.serialize_entry("value", text)?,
            None => {
                let bytes = self.value.as_encoded_bytes();
                m.serialize_entry("value", &go_lossy(bytes))?;
                m.serialize_entry("value_bytes", bytes)?;
            }
        }
        m.serialize_entry("origin", &self.origin)?;
        if let Some(error) = &self.error {
            m.serialize_entry("error", error)?;
        }
        m.end()
    }
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
    /// What resolving could not settle, for the report's findings.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl GoEnv {
    /// The value of `name`, if it is set and not empty.
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.var(name)
            .map(|v| v.value.as_os_str())
            .filter(|v| !v.is_empty())
    }

    /// The resolved variable `name`.
    pub fn var(&self, name: &str) -> Option<&GoVar> {
        self.vars.iter().find(|v| v.name == name)
    }

    /// The value `name` is set to (`cfg.Getenv`: this process's environment, the GOENV file,
    /// `$GOROOT/go.env`), before the go command checks it; `None` when unset or empty.
    pub fn setting(&self, name: &str) -> Option<OsString> {
        self.sources.getenv(name, &|n| std::env::var_os(n))
    }

    /// Where the go command makes its work directories: GOTMPDIR, or when it is empty the
    /// system's temp dir (`$TMPDIR` or `/tmp`; `%TMP%`, `%TEMP%` on Windows), as `os.TempDir`.
    pub fn effective_tmpdir(&self) -> PathBuf {
        match self.get("GOTMPDIR") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::temp_dir(),
        }
    }

    /// The directories to measure: each absolute directory variable (GOPATH split into its
    /// entries), labelled with its name. GOENV is a file: its directory is not watched.
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

    /// The directories to put in front of PATH, GOBIN then `$GOROOT/bin`, and those left off
    /// because they are not absolute: a relative directory on PATH would be looked up in
    /// whatever directory a later step runs in (a checked-out repository's, say).
    pub fn path_prepend(&self) -> (Vec<PathBuf>, Vec<(&'static str, PathBuf)>) {
        let mut dirs = Vec::new();
        let mut refused = Vec::new();
        let candidates = [
            ("GOBIN", self.get("GOBIN").map(PathBuf::from)),
            (
                "GOROOT",
                self.get("GOROOT").map(|r| Path::new(r).join("bin")),
            ),
        ];
        for (name, dir) in candidates {
            match dir {
                Some(dir) if dir.is_absolute() => dirs.push(dir),
                Some(dir) => refused.push((name, dir)),
                None => {}
            }
        }
        (dirs, refused)
    }
}

/// `bytes` as text the way Go's JSON encoder writes a string: each byte that is not part of
/// valid UTF-8 becomes U+FFFD.
pub fn go_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    out
}

/// Serialises a path as JSON text: as is when it is UTF-8, else with U+FFFD for each byte that
/// is not (the exact bytes are in `go.vars[].value_bytes` of the variable the path belongs to).
pub fn serialize_path_text<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    match path.to_str() {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&go_lossy(path.as_os_str().as_encoded_bytes())),
    }
}

/// The operating-system string of `bytes` read from a file. On Unix, exactly those bytes. On
/// Windows a path is UTF-16: bytes that are not UTF-8 become U+FFFD, as they do when the go
/// command converts the string for the system.
pub fn os_from_bytes(bytes: Vec<u8>) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(bytes)
    }
    #[cfg(not(unix))]
    {
        match String::from_utf8(bytes) {
            Ok(text) => OsString::from(text),
            Err(e) => OsString::from(go_lossy(e.as_bytes())),
        }
    }
}

/// Resolves Go's directories for this process: with `go env` when the `go` named by
/// `go_setting` can be found and answers, else by [`compute`].
pub fn resolve(go_setting: &Path) -> GoEnv {
    let os = Os::current();
    let lookup = |name: &str| std::env::var_os(name);
    let go = find_go(go_setting);
    let sources = Sources::load(os, &lookup, go.as_deref());
    let computed = compute(os, &lookup, &sources);
    let reason = match go {
        None => format!(
            "no `{}` found on PATH or in $GOROOT/bin",
            go_setting.display()
        ),
        Some(go) => match run_go_env(&go) {
            Ok((values, version)) => {
                let mut notes = Vec::new();
                let vars = GO_DIR_VARS
                    .iter()
                    .map(|&name| {
                        let text = values.get(name).map(String::as_str).unwrap_or_default();
                        let ours = computed.iter().find(|v| v.name == name);
                        let value = exact_value(&go, name, text, ours, &mut notes);
                        let error = go_error(os, name, &value, ours);
                        GoVar {
                            name,
                            value,
                            origin: sources.origin(name, &lookup),
                            error,
                        }
                    })
                    .collect();
                return GoEnv {
                    resolver: Resolver::GoEnv { go, version },
                    vars,
                    sources,
                    notes,
                };
            }
            Err(reason) => reason,
        },
    };
    GoEnv {
        resolver: Resolver::Computed { reason },
        vars: computed,
        sources,
        notes: Vec::new(),
    }
}

/// The exact value of `name`, of which `go env -json` printed `text`. Text without U+FFFD is
/// exact. Text with U+FFFD may stand for bytes that are not UTF-8: then `go env NAME`'s bytes
/// (Unix: it prints the value as it holds it), or else the value computed here from the same
/// sources (`ours`), when it prints as exactly `text`; failing both, `text` itself, with a
/// note.
fn exact_value(
    go: &Path,
    name: &str,
    text: &str,
    ours: Option<&GoVar>,
    notes: &mut Vec<String>,
) -> OsString {
    if !text.contains(char::REPLACEMENT_CHARACTER) {
        return OsString::from(text);
    }
    #[cfg(unix)]
    if let Ok(out) = run_go(go, &["env", name]) {
        // `go env NAME` prints the value and a line break, byte for byte.
        let value = out.strip_suffix(b"\n").unwrap_or(&out);
        if go_lossy(value) == text {
            return os_from_bytes(value.to_vec());
        }
    }
    #[cfg(not(unix))]
    let _ = go;
    if let Some(ours) = ours.filter(|v| go_lossy(v.value.as_encoded_bytes()) == text) {
        return ours.value.clone();
    }
    notes.push(format!(
        "{name} holds U+FFFD in `go env -json` and its exact value could not be read back: \
         it is used as Go printed it"
    ));
    OsString::from(text)
}

/// The go command's words for a value of `go env` it will refuse, as [`compute`] finds them.
fn go_error(os: Os, name: &str, value: &OsStr, ours: Option<&GoVar>) -> Option<String> {
    match name {
        // `go env GOCACHE` prints `off` for a relative GOCACHE and for no default: the reason is
        // in how the same sources compute.
        "GOCACHE" if value == "off" => ours.filter(|v| v.value == "off")?.error.clone(),
        "GOBIN" if !value.is_empty() && !os.is_abs(value) => Some(GOBIN_RELATIVE.to_string()),
        _ => None,
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

/// Runs `go ARGS` (with `GOTOOLCHAIN=local`) within [`GO_ENV_TIMEOUT`] and returns its stdout.
fn run_go(go: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(go)
        .args(args)
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
    Ok(output.stdout)
}

/// Runs `go env -json` for [`GO_DIR_VARS`] and GOVERSION.
fn run_go_env(go: &Path) -> Result<(BTreeMap<String, String>, String), String> {
    let mut args = vec!["env", "-json"];
    args.extend(GO_DIR_VARS);
    args.push("GOVERSION");
    let stdout = run_go(go, &args)?;
    let (values, version) = parse_go_env_json(&stdout)
        .map_err(|e| format!("`{} env -json` printed something else: {e}", go.display()))?;
    Ok((values, version))
}

/// Parses `go env -json`'s output: one JSON object of strings. GOVERSION is taken out.
pub fn parse_go_env_json(stdout: &[u8]) -> Result<(BTreeMap<String, String>, String), String> {
    let mut values: BTreeMap<String, String> =
        serde_json::from_slice(stdout).map_err(|e| e.to_string())?;
    let version = values.remove("GOVERSION").unwrap_or_default();
    Ok((values, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lossy_replaces_each_byte_as_gos_json_encoder_does() {
        assert_eq!(go_lossy(b"/plain"), "/plain");
        assert_eq!(go_lossy(b"/caf\xe9"), "/caf\u{fffd}");
        // A truncated sequence is one replacement per byte in Go (Rust's lossy gives one).
        assert_eq!(go_lossy(b"a\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(go_lossy(b"\xed\xa0\x80"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(go_lossy("ok €".as_bytes()), "ok €");
    }

    #[test]
    fn go_env_json_parses_strings_only() {
        let (values, version) = parse_go_env_json(
            b"{\n\t\"GOCACHE\": \"/c\\ufffd\",\n\t\"GOVERSION\": \"go1.27.3\"\n}\n",
        )
        .unwrap();
        assert_eq!(values["GOCACHE"], "/c\u{fffd}");
        assert_eq!(version, "go1.27.3");
        for bad in [
            &b""[..],
            b"[]",
            b"{\"A\": 1}",
            b"{\"A\": null}",
            b"\xff",
            b"{",
        ] {
            assert!(parse_go_env_json(bad).is_err(), "{bad:?}");
        }
    }

    fn var(name: &'static str, value: &str) -> GoVar {
        GoVar {
            name,
            value: value.into(),
            origin: Origin::Default,
            error: None,
        }
    }

    #[test]
    fn relative_directories_never_go_on_path() {
        // An absolute GOROOT as each system writes one.
        let goroot = if cfg!(windows) {
            r"C:\Program Files\Go"
        } else {
            "/usr/local/go"
        };
        let go = GoEnv {
            resolver: Resolver::Computed {
                reason: "test".into(),
            },
            vars: vec![var("GOROOT", goroot), var("GOBIN", "bin")],
            sources: Sources::default(),
            notes: Vec::new(),
        };
        let (dirs, refused) = go.path_prepend();
        assert_eq!(dirs, [Path::new(goroot).join("bin")]);
        assert_eq!(refused, [("GOBIN", PathBuf::from("bin"))]);
    }

    #[cfg(unix)]
    #[test]
    fn json_shows_a_value_that_is_not_utf8_as_text_and_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let v = GoVar {
            value: OsString::from_vec(b"/tmp/caf\xe9".to_vec()),
            ..var("GOCACHE", "")
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["value"], "/tmp/caf\u{fffd}");
        assert_eq!(
            json["value_bytes"],
            serde_json::json!([47, 116, 109, 112, 47, 99, 97, 102, 233])
        );
        let plain = serde_json::to_value(var("GOCACHE", "/c")).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"name": "GOCACHE", "value": "/c", "origin": "default"})
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        use crate::testing::budget as config;

        /// Go's JSON encoding of a string holding `bytes`, as `go env -json` prints it.
        fn go_json_string(bytes: &[u8]) -> String {
            serde_json::to_string(&go_lossy(bytes)).unwrap()
        }

        proptest! {
            #![proptest_config(config(800))]

            #[test]
            fn any_bytes_from_go_env_json_parse_or_are_refused(data in proptest::collection::vec(any::<u8>(), 0..120)) {
                let _ = parse_go_env_json(&data);
            }

            #[test]
            fn json_like_text_parses_or_is_refused(data in "[{}\\[\\]\":, \\\\u0-9a-fA-Z\t\n]{0,60}") {
                let _ = parse_go_env_json(data.as_bytes());
            }

            #[test]
            fn go_env_json_objects_read_back(
                values in proptest::collection::btree_map("[A-Z]{1,8}", proptest::collection::vec(any::<u8>(), 0..24), 0..8),
            ) {
                let body: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!("\t{}: {}", go_json_string(k.as_bytes()), go_json_string(v)))
                    .collect();
                let text = format!("{{\n{}\n}}\n", body.join(",\n"));
                let (parsed, _) = parse_go_env_json(text.as_bytes()).unwrap();
                for (k, v) in &values {
                    prop_assert_eq!(&parsed[k], &go_lossy(v));
                }
            }

            #[test]
            fn go_lossy_keeps_text_and_replaces_each_bad_byte(data in proptest::collection::vec(any::<u8>(), 0..64)) {
                let shown = go_lossy(&data);
                match std::str::from_utf8(&data) {
                    Ok(text) => prop_assert_eq!(&shown, text),
                    Err(_) => prop_assert!(shown.contains(char::REPLACEMENT_CHARACTER)),
                }
                let bad: usize = data.utf8_chunks().map(|c| c.invalid().len()).sum();
                let replaced = shown.matches(char::REPLACEMENT_CHARACTER).count();
                let kept = data.utf8_chunks().map(|c| c.valid().matches(char::REPLACEMENT_CHARACTER).count()).sum::<usize>();
                prop_assert_eq!(replaced, bad + kept);
            }

            #[test]
            fn every_value_serialises_and_keeps_its_bytes(data in proptest::collection::vec(any::<u8>(), 0..40)) {
                let value = os_from_bytes(data.clone());
                let json = serde_json::to_value(GoVar { value: value.clone(), ..var("GOCACHE", "") }).unwrap();
                match value.to_str() {
                    Some(text) => {
                        prop_assert_eq!(&json["value"], text);
                        prop_assert!(json.get("value_bytes").is_none());
                    }
                    None => {
                        let bytes: Vec<u8> = serde_json::from_value(json["value_bytes"].clone()).unwrap();
                        prop_assert_eq!(bytes.as_slice(), value.as_encoded_bytes());
                    }
                }
            }

            #[test]
            fn nothing_relative_goes_on_path(
                gobin in "[a-z/.]{0,8}",
                goroot in "[a-z/.]{0,8}",
            ) {
                let go = GoEnv {
                    resolver: Resolver::Computed { reason: "test".into() },
                    vars: vec![var("GOROOT", &goroot), var("GOBIN", &gobin)],
                    sources: Sources::default(),
                    notes: Vec::new(),
                };
                let (dirs, refused) = go.path_prepend();
                prop_assert!(dirs.iter().all(|d| d.is_absolute()));
                prop_assert_eq!(
                    dirs.len() + refused.len(),
                    usize::from(!gobin.is_empty()) + usize::from(!goroot.is_empty())
                );
            }
        }
    }
}
