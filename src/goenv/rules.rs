//! The go command's rules for its directories, for when no `go` binary answers.
//!
//! Mirrors `cmd/go/internal/cfg` (GOENV file, `$GOROOT/go.env`, GOPATH, GOMODCACHE, GOBIN),
//! `cmd/go/internal/cache/default.go` (GOCACHE) and `os.UserCacheDir`/`os.UserConfigDir`.
//! The operating system is a parameter, so the rules of all three are testable anywhere.
//!
//! Values are operating-system strings, as the go command holds them: bytes on Unix (which
//! need not be UTF-8), and on Windows what the environment holds (Go keeps unpaired
//! surrogates too, as WTF-8). Nothing here assumes UTF-8, slices inside a value or panics on
//! what the environment or a file holds.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use super::{GO_DIR_VARS, GoVar, Origin, os_from_bytes};

/// Reads one environment variable, as `os.Getenv` does (unset and empty are alike to callers
/// that filter empties).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The go command's words when GOBIN is relative (`cmd/go/internal/work/build.go`).
pub const GOBIN_RELATIVE: &str = "cannot install, GOBIN must be an absolute path";

/// The go command's words when GOCACHE is relative (`cmd/go/internal/cache/default.go`).
pub const GOCACHE_RELATIVE: &str = "GOCACHE is not an absolute path";

/// The operating systems whose rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The system this binary was built for (other Unixes follow the Linux rules, as Go's do).
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    fn separator(self) -> u8 {
        if self == Os::Windows { b'\\' } else { b'/' }
    }

    fn list_separator(self) -> u8 {
        if self == Os::Windows { b';' } else { b':' }
    }

    /// `base` joined with `rel` (written with `/`), with this system's separator.
    pub(crate) fn join(self, base: &OsStr, rel: &str) -> OsString {
        let sep = self.separator();
        let ends_with_sep = matches!(
            base.as_encoded_bytes().last(),
            Some(&b) if b == sep || (self == Os::Windows && b == b'/')
        );
        let mut out = base.to_os_string();
        if !ends_with_sep {
            out.push(if sep == b'\\' { "\\" } else { "/" });
        }
        if self == Os::Windows {
            out.push(rel.replace('/', "\\"));
        } else {
            out.push(rel);
        }
        out
    }

    /// `filepath.IsAbs` of this system.
    pub fn is_abs(self, path: &OsStr) -> bool {
        let b = path.as_encoded_bytes();
        match self {
            Os::Windows => {
                matches!(b, [d, b':', s, ..] if d.is_ascii_alphabetic() && (*s == b'\\' || *s == b'/'))
                    || b.starts_with(b"\\\\")
                    || b.starts_with(b"//")
            }
            _ => b.starts_with(b"/"),
        }
    }

    /// The entries of a path list (GOPATH), empty ones included, as `filepath.SplitList`
    /// splits them (Windows quoting aside).
    fn split_list(self, list: &OsStr) -> Vec<OsString> {
        let sep = self.list_separator();
        list.as_encoded_bytes()
            .split(|&b| b == sep)
            .map(|part| os_from_bytes(part.to_vec()))
            .collect()
    }

    /// `os.UserCacheDir`, or its error in Go's words.
    fn user_cache_dir(self, var: Lookup) -> Result<OsString, &'static str> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            Os::Windows => get("LocalAppData").ok_or("%LocalAppData% is not defined"),
            Os::MacOs => get("HOME")
                .map(|h| concat(h, "/Library/Caches"))
                .ok_or("$HOME is not defined"),
            Os::Linux => match get("XDG_CACHE_HOME") {
                Some(dir) if self.is_abs(&dir) => Ok(dir),
                Some(_) => Err("path in $XDG_CACHE_HOME is relative"),
                None => get("HOME")
                    .map(|h| concat(h, "/.cache"))
                    .ok_or("neither $XDG_CACHE_HOME nor $HOME are defined"),
            },
        }
    }

    /// `os.UserConfigDir`.
    fn user_config_dir(self, var: Lookup) -> Option<OsString> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            Os::Windows => get("AppData"),
            Os::MacOs => get("HOME").map(|h| concat(h, "/Library/Application Support")),
            Os::Linux => match get("XDG_CONFIG_HOME") {
                Some(dir) => self.is_abs(&dir).then_some(dir),
                None => get("HOME").map(|h| concat(h, "/.config")),
            },
        }
    }

    fn home(self, var: Lookup) -> Option<OsString> {
        let name = if self == Os::Windows {
            "USERPROFILE"
        } else {
            "HOME"
        };
        var(name).filter(|v| !v.is_empty())
    }
}

/// `dir` with `suffix` appended as is (Go's `dir += "/.cache"`).
fn concat(mut dir: OsString, suffix: &str) -> OsString {
    dir.push(suffix);
    dir
}

/// `path` without trailing separators (but a lone root), for comparing directories.
fn trim_separators(os: Os, path: &OsStr) -> &[u8] {
    let mut b = path.as_encoded_bytes();
    while let [rest @ .., last] = b
        && !rest.is_empty()
        && (*last == os.separator() || (os == Os::Windows && *last == b'/'))
    {
        b = rest;
    }
    b
}

/// The files the go command reads its settings from, loaded once.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The GOENV file's path, or `None` when GOENV=off or no config dir is known.
    pub goenv_file: Option<OsString>,
    /// Its settings (`go env -w`), as the bytes written.
    pub goenv: BTreeMap<String, OsString>,
    /// The GOROOT found without consulting `go.env` (which must not set it).
    pub goroot: Option<OsString>,
    /// `$GOROOT/go.env`'s settings.
    pub goroot_env: BTreeMap<String, OsString>,
}

impl Sources {
    /// Reads the GOENV file and `$GOROOT/go.env`. `go_binary`, when known, locates GOROOT the
    /// way the go command locates its own.
    pub fn load(os: Os, var: Lookup, go_binary: Option<&Path>) -> Sources {
        let goenv_file = match var("GOENV").filter(|v| !v.is_empty()) {
            Some(v) if v == "off" => None,
            Some(v) => Some(v),
            None => os.user_config_dir(var).map(|d| os.join(&d, "go/env")),
        };
        let goenv = goenv_file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .map(|data| parse_env_file(&data))
            .unwrap_or_default();
        let goroot = var("GOROOT")
            .filter(|v| !v.is_empty())
            .or_else(|| goenv.get("GOROOT").filter(|v| !v.is_empty()).cloned())
            .or_else(|| go_binary.and_then(goroot_of_binary));
        let goroot_env = goroot
            .as_deref()
            .and_then(|g| std::fs::read(os.join(g, "go.env")).ok())
            .map(|data| parse_env_file(&data))
            .unwrap_or_default();
        Sources {
            goenv_file,
            goenv,
            goroot,
            goroot_env,
        }
    }

    /// `cfg.Getenv`: the environment, then the GOENV file, then `$GOROOT/go.env` (which a key
    /// in the GOENV file shadows, even with an empty value). `None` when empty.
    pub fn getenv(&self, name: &str, var: Lookup) -> Option<OsString> {
        var(name)
            .filter(|v| !v.is_empty())
            .or_else(|| match self.goenv.get(name) {
                Some(v) => Some(v.clone()),
                None => self.goroot_env.get(name).cloned(),
            })
            .filter(|v| !v.is_empty())
    }

    /// Where the value of `name` comes from.
    pub fn origin(&self, name: &str, var: Lookup) -> Origin {
        let set = |v: Option<&OsString>| v.is_some_and(|v| !v.is_empty());
        if name == "GOENV" {
            return if set(var("GOENV").as_ref()) {
                Origin::Environment
            } else {
                Origin::Default
            };
        }
        if set(var(name).as_ref()) {
            Origin::Environment
        } else if set(self.goenv.get(name)) {
            Origin::GoenvFile
        } else if name != "GOROOT"
            && !self.goenv.contains_key(name)
            && set(self.goroot_env.get(name))
        {
            Origin::GorootGoEnv
        } else {
            Origin::Default
        }
    }
}

/// The GOROOT of a go binary: the directory above the `bin` holding it, following links,
/// when it looks like a Go tree (`pkg/tool` exists), as `findGOROOT` does.
fn goroot_of_binary(go: &Path) -> Option<OsString> {
    let real = std::fs::canonicalize(go).ok()?;
    let root = real.parent()?.parent()?;
    root.join("pkg")
        .join("tool")
        .is_dir()
        .then(|| root.as_os_str().to_os_string())
}

/// `readEnvFile`: `KEY=value` lines whose key starts with an upper-case ASCII letter; all
/// else (comments, blank lines) is ignored. Values are taken as written, byte for byte,
/// without trimming; a later line wins over an earlier one.
pub fn parse_env_file(data: &[u8]) -> BTreeMap<String, OsString> {
    let mut out = BTreeMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        if !line.first().is_some_and(u8::is_ascii_uppercase) {
            continue;
        }
        let (key, value) = line.split_at(eq);
        let value = value.get(1..).unwrap_or_default();
        out.insert(
            String::from_utf8_lossy(key).into_owned(),
            os_from_bytes(value.to_vec()),
        );
    }
    out
}

/// Computes [`GO_DIR_VARS`] by the go command's rules.
pub fn compute(os: Os, var: Lookup, sources: &Sources) -> Vec<GoVar> {
    let goroot = sources.goroot.clone().unwrap_or_default();
    // go/build.defaultGOPATH: $HOME/go, unless that is GOROOT.
    let inferred_gopath = os
        .home(var)
        .map(|h| os.join(&h, "go"))
        .filter(|d| trim_separators(os, d) != trim_separators(os, &goroot))
        .unwrap_or_default();
    let explicit_gopath = sources.getenv("GOPATH", var);
    // GOMODCACHE's default is taken from GOPATH before the go command drops an inferred
    // GOPATH that is relative (a relative $HOME): cmd/go's main "uninfers" it, and GOBIN's
    // default goes with it.
    let gopath_for_modcache = explicit_gopath.clone().unwrap_or(inferred_gopath.clone());
    let gopath = explicit_gopath.unwrap_or_else(|| {
        let relative = os
            .split_list(&inferred_gopath)
            .iter()
            .any(|p| !p.is_empty() && !os.is_abs(p));
        if relative {
            OsString::new()
        } else {
            inferred_gopath
        }
    });
    let first = |list: &OsStr| {
        os.split_list(list)
            .into_iter()
            .next()
            .filter(|p| !p.is_empty())
    };
    let (gocache, gocache_error) = gocache(os, var, sources);
    let gomodcache = sources
        .getenv("GOMODCACHE", var)
        .or_else(|| first(&gopath_for_modcache).map(|p| os.join(&p, "pkg/mod")))
        .unwrap_or_default();
    // In module mode `go env GOBIN` reports where `go install` puts binaries.
    let gobin = sources
        .getenv("GOBIN", var)
        .or_else(|| first(&gopath).map(|p| os.join(&p, "bin")))
        .unwrap_or_default();
    let gobin_error = (!gobin.is_empty() && !os.is_abs(&gobin)).then(|| GOBIN_RELATIVE.to_string());
    let gotmpdir = sources.getenv("GOTMPDIR", var).unwrap_or_default();
    let goenv = sources
        .goenv_file
        .clone()
        .unwrap_or_else(|| OsString::from("off"));
    let mut values: BTreeMap<&str, (OsString, Option<String>)> = [
        ("GOROOT", (goroot, None)),
        ("GOPATH", (gopath, None)),
        ("GOCACHE", (gocache, gocache_error)),
        ("GOMODCACHE", (gomodcache, None)),
        ("GOBIN", (gobin, gobin_error)),
        ("GOTMPDIR", (gotmpdir, None)),
        ("GOENV", (goenv, None)),
    ]
    .into_iter()
    .collect();
    GO_DIR_VARS
        .iter()
        .map(|&name| {
            let (value, error) = values.remove(name).unwrap_or_default();
            GoVar {
                name,
                value,
                origin: sources.origin(name, var),
                error,
            }
        })
        .collect()
}

/// `cache.DefaultDir`: GOCACHE as set when it is absolute (or `off`), else `off` with Go's
/// reason; unset, the user cache dir + `go-build`, or `off` with Go's reason.
fn gocache(os: Os, var: Lookup, sources: &Sources) -> (OsString, Option<String>) {
    let off = || OsString::from("off");
    match sources.getenv("GOCACHE", var) {
        Some(set) if set == "off" || os.is_abs(&set) => (set, None),
        Some(_) => (off(), Some(GOCACHE_RELATIVE.to_string())),
        None => match os.user_cache_dir(var) {
            Ok(dir) => (os.join(&dir, "go-build"), None),
            Err(why) => (off(), Some(format!("GOCACHE is not defined and {why}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type Resolved = BTreeMap<&'static str, (OsString, Origin, Option<String>)>;

    fn run_os(os: Os, env: &[(&str, OsString)], goenv: &[u8]) -> Resolved {
        let env: HashMap<String, OsString> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let var = move |name: &str| env.get(name).cloned();
        let sources = Sources {
            goenv_file: Some("envfile".into()),
            goenv: parse_env_file(goenv),
            goroot: var("GOROOT"),
            goroot_env: parse_env_file(b"GOPROXY=https://proxy.example\n"),
        };
        compute(os, &var, &sources)
            .into_iter()
            .map(|v| (v.name, (v.value, v.origin, v.error)))
            .collect()
    }

    fn run(os: Os, env: &[(&str, &str)], goenv: &str) -> BTreeMap<&'static str, (String, Origin)> {
        let env: Vec<(&str, OsString)> = env.iter().map(|(k, v)| (*k, v.into())).collect();
        run_os(os, &env, goenv.as_bytes())
            .into_iter()
            .map(|(k, (v, o, _))| (k, (v.to_string_lossy().into_owned(), o)))
            .collect()
    }

    #[test]
    fn linux_defaults() {
        let v = run(Os::Linux, &[("HOME", "/home/u")], "");
        assert_eq!(v["GOPATH"], ("/home/u/go".into(), Origin::Default));
        assert_eq!(v["GOCACHE"].0, "/home/u/.cache/go-build");
        assert_eq!(v["GOMODCACHE"].0, "/home/u/go/pkg/mod");
        assert_eq!(v["GOBIN"].0, "/home/u/go/bin");
        assert_eq!(v["GOTMPDIR"].0, "");
    }

    #[test]
    fn xdg_cache_home_must_be_absolute() {
        let v = run(Os::Linux, &[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")], "");
        assert_eq!(v["GOCACHE"].0, "/x/go-build");
        let v = run(Os::Linux, &[("HOME", "/h"), ("XDG_CACHE_HOME", "rel")], "");
        assert_eq!(v["GOCACHE"].0, "off");
        let v = run_os(
            Os::Linux,
            &[("HOME", "/h".into()), ("XDG_CACHE_HOME", "rel".into())],
            b"",
        );
        assert_eq!(
            v["GOCACHE"].2.as_deref(),
            Some("GOCACHE is not defined and path in $XDG_CACHE_HOME is relative")
        );
    }

    #[test]
    fn gocache_problems_are_named_in_gos_words() {
        // cmd/go/internal/cache/default.go and os.UserCacheDir.
        type Case<'a> = (Os, &'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                Os::Linux,
                &[("HOME", "/h"), ("GOCACHE", "rel/cache")],
                "",
                "GOCACHE is not an absolute path",
            ),
            (
                Os::Linux,
                &[("HOME", "/h")],
                "GOCACHE=rel\n",
                "GOCACHE is not an absolute path",
            ),
            (
                Os::Linux,
                &[],
                "",
                "GOCACHE is not defined and neither $XDG_CACHE_HOME nor $HOME are defined",
            ),
            (
                Os::MacOs,
                &[],
                "",
                "GOCACHE is not defined and $HOME is not defined",
            ),
            (
                Os::Windows,
                &[("USERPROFILE", r"C:\u")],
                "",
                "GOCACHE is not defined and %LocalAppData% is not defined",
            ),
            (
                Os::Windows,
                &[("LocalAppData", r"C:\l"), ("GOCACHE", r"\rel")],
                "",
                "GOCACHE is not an absolute path",
            ),
        ];
        for (os, env, file, words) in cases {
            let env: Vec<(&str, OsString)> = env.iter().map(|(k, v)| (*k, v.into())).collect();
            let v = run_os(*os, &env, file.as_bytes());
            assert_eq!(v["GOCACHE"].0, "off", "{os:?} {env:?}");
            assert_eq!(v["GOCACHE"].2.as_deref(), Some(*words), "{os:?} {env:?}");
        }
        // An explicit off is Go's own value, not an error of the setting.
        let v = run_os(Os::Linux, &[("GOCACHE", "off".into())], b"");
        assert_eq!(
            (v["GOCACHE"].0.as_os_str(), &v["GOCACHE"].2),
            (OsStr::new("off"), &None)
        );
    }

    #[test]
    fn a_relative_gobin_carries_gos_refusal() {
        let v = run_os(Os::Linux, &[("HOME", "/h".into())], b"GOBIN=bin\n");
        assert_eq!(v["GOBIN"].0, "bin");
        assert_eq!(v["GOBIN"].1, Origin::GoenvFile);
        assert_eq!(v["GOBIN"].2.as_deref(), Some(GOBIN_RELATIVE));
        let v = run_os(Os::Linux, &[("HOME", "/h".into())], b"GOBIN=/abs/bin\n");
        assert_eq!(v["GOBIN"].2, None);
    }

    #[test]
    fn a_relative_home_uninfers_gopath_as_go_does() {
        // Measured with Go 1.27.3: HOME=relhome gives GOPATH "", GOBIN "", and GOMODCACHE and
        // GOCACHE relative to the working directory.
        let v = run(Os::Linux, &[("HOME", "relhome")], "");
        assert_eq!(v["GOPATH"].0, "");
        assert_eq!(v["GOBIN"].0, "");
        assert_eq!(v["GOMODCACHE"].0, "relhome/go/pkg/mod");
        assert_eq!(v["GOCACHE"].0, "relhome/.cache/go-build");
    }

    #[test]
    fn macos_and_windows_defaults() {
        let v = run(Os::MacOs, &[("HOME", "/Users/u")], "");
        assert_eq!(v["GOCACHE"].0, "/Users/u/Library/Caches/go-build");
        let v = run(
            Os::Windows,
            &[
                ("USERPROFILE", r"C:\Users\u"),
                ("LocalAppData", r"C:\Users\u\AppData\Local"),
            ],
            "",
        );
        assert_eq!(v["GOPATH"].0, r"C:\Users\u\go");
        assert_eq!(v["GOCACHE"].0, r"C:\Users\u\AppData\Local\go-build");
        assert_eq!(v["GOMODCACHE"].0, r"C:\Users\u\go\pkg\mod");
    }

    #[test]
    fn environment_beats_goenv_file_beats_default() {
        let file = "GOCACHE=/file/cache\nGOPATH=/file/gopath:/second\n# GOBIN=/comment\n";
        let v = run(Os::Linux, &[("HOME", "/h")], file);
        assert_eq!(v["GOCACHE"], ("/file/cache".into(), Origin::GoenvFile));
        assert_eq!(
            v["GOMODCACHE"],
            ("/file/gopath/pkg/mod".into(), Origin::Default)
        );
        assert_eq!(v["GOBIN"].0, "/file/gopath/bin");
        let v = run(
            Os::Linux,
            &[("HOME", "/h"), ("GOCACHE", "/env/cache")],
            file,
        );
        assert_eq!(v["GOCACHE"], ("/env/cache".into(), Origin::Environment));
    }

    #[test]
    fn an_empty_goenv_file_entry_shadows_goroot_go_env() {
        // readEnvFile: a key of the user's file keeps GOROOT/go.env's value out, even empty.
        let sources = Sources {
            goenv: parse_env_file(b"GOTMPDIR=\n"),
            goroot_env: parse_env_file(b"GOTMPDIR=/from/go.env\nGOMODCACHE=/m\n"),
            ..Sources::default()
        };
        let none = |_: &str| None;
        assert_eq!(sources.getenv("GOTMPDIR", &none), None);
        assert_eq!(sources.origin("GOTMPDIR", &none), Origin::Default);
        assert_eq!(sources.getenv("GOMODCACHE", &none), Some("/m".into()));
        assert_eq!(sources.origin("GOMODCACHE", &none), Origin::GorootGoEnv);
    }

    #[test]
    fn gopath_equal_to_goroot_is_dropped() {
        let v = run(Os::Linux, &[("HOME", "/h"), ("GOROOT", "/h/go")], "");
        assert_eq!(v["GOPATH"].0, "");
        assert_eq!(v["GOMODCACHE"].0, "");
    }

    #[test]
    fn env_file_parsing_follows_go() {
        let parsed = parse_env_file(b"A=1\nlower=2\n=3\n# C=4\nB= spaced \nnoequals\n");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["B"], " spaced ");
    }

    #[cfg(unix)]
    #[test]
    fn bytes_that_are_not_utf8_are_kept() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let parsed = parse_env_file(b"GOCACHE=/tmp/caf\xe9\r\nGOBIN=\xff\n");
        assert_eq!(parsed["GOCACHE"].as_bytes(), b"/tmp/caf\xe9\r");
        assert_eq!(parsed["GOBIN"].as_bytes(), b"\xff");
        let home = OsString::from_vec(b"/home/\xe9t\xe9".to_vec());
        let xdg = OsString::from_vec(b"/x\xff".to_vec());
        let v = run_os(Os::Linux, &[("HOME", home)], b"");
        assert_eq!(
            v["GOCACHE"].0.as_bytes(),
            b"/home/\xe9t\xe9/.cache/go-build"
        );
        assert_eq!(v["GOPATH"].0.as_bytes(), b"/home/\xe9t\xe9/go");
        let v = run_os(Os::Linux, &[("XDG_CACHE_HOME", xdg)], b"");
        assert_eq!(v["GOCACHE"].0.as_bytes(), b"/x\xff/go-build");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        use crate::testing::budget as config;

        fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(any::<u8>(), 0..max)
        }

        /// A value as the environment or a file might hold it: plain paths, relative ones,
        /// separators of both systems, bytes that are not UTF-8.
        fn value() -> impl Strategy<Value = OsString> {
            prop_oneof![
                Just(Vec::new()),
                Just(b"off".to_vec()),
                "(/|[A-Z]:\\\\|\\\\\\\\)?[a-z./\\\\ :;]{0,12}".prop_map(String::into_bytes),
                bytes(16),
            ]
            .prop_map(os_from_bytes)
        }

        const NAMES: &[&str] = &[
            "HOME",
            "USERPROFILE",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
            "LocalAppData",
            "AppData",
            "GOROOT",
            "GOPATH",
            "GOCACHE",
            "GOMODCACHE",
            "GOBIN",
            "GOTMPDIR",
            "GOENV",
        ];

        /// A GOENV file as `go env -w` writes it: `KEY=VALUE` lines, sorted by key.
        fn written_by_go_env_w(entries: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
            let mut out = Vec::new();
            for (k, v) in entries {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(v);
                out.push(b'\n');
            }
            out
        }

        proptest! {
            #![proptest_config(config(800))]

            #[test]
            fn any_bytes_are_a_goenv_file(data in bytes(200)) {
                for (key, _) in parse_env_file(&data) {
                    prop_assert!(key.as_bytes().first().is_some_and(u8::is_ascii_uppercase));
                    prop_assert!(!key.contains('='));
                }
            }

            #[test]
            fn lines_like_goenv_files_parse(data in "([A-Za-z#= \r\t]{0,6}=?[ -~\t\r]{0,10}\n?){0,8}") {
                let _ = parse_env_file(data.as_bytes());
            }

            #[test]
            fn what_go_env_w_writes_reads_back(
                entries in proptest::collection::btree_map(
                    "[A-Z][A-Z0-9_]{0,12}",
                    bytes(20).prop_map(|v| v.into_iter().filter(|&b| b != b'\n').collect::<Vec<u8>>()),
                    0..10,
                ),
            ) {
                let parsed = parse_env_file(&written_by_go_env_w(&entries));
                let expected: BTreeMap<String, OsString> = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), os_from_bytes(v.clone())))
                    .collect();
                prop_assert_eq!(parsed, expected);
            }

            #[test]
            fn computing_never_fails_and_keeps_gos_invariants(
                env in proptest::collection::vec((proptest::sample::select(NAMES), value()), 0..8),
                goenv in bytes(120),
                goroot_env in bytes(60),
                os in proptest::sample::select(vec![Os::Linux, Os::MacOs, Os::Windows]),
            ) {
                let env: std::collections::HashMap<&str, OsString> = env.into_iter().collect();
                let var = |name: &str| env.get(name).cloned();
                let sources = Sources {
                    goenv_file: Some("envfile".into()),
                    goenv: parse_env_file(&goenv),
                    goroot: var("GOROOT").filter(|v| !v.is_empty()),
                    goroot_env: parse_env_file(&goroot_env),
                };
                let vars = compute(os, &var, &sources);
                let names: Vec<&str> = vars.iter().map(|v| v.name).collect();
                prop_assert_eq!(names, GO_DIR_VARS);
                let get = |name: &str| vars.iter().find(|v| v.name == name).unwrap();
                let gocache = get("GOCACHE");
                if gocache.error.is_some() {
                    prop_assert_eq!(&gocache.value, "off");
                }
                match sources.getenv("GOCACHE", &var) {
                    Some(set) if set == "off" || os.is_abs(&set) => {
                        prop_assert_eq!(&gocache.value, &set);
                        prop_assert_eq!(&gocache.error, &None);
                    }
                    Some(_) => prop_assert_eq!(gocache.error.as_deref(), Some(GOCACHE_RELATIVE)),
                    None => {}
                }
                let gobin = get("GOBIN");
                prop_assert_eq!(
                    gobin.error.is_some(),
                    !gobin.value.is_empty() && !os.is_abs(&gobin.value)
                );
                if let Some(set) = var("GOMODCACHE").filter(|v| !v.is_empty()) {
                    prop_assert_eq!(&get("GOMODCACHE").value, &set);
                }
            }
        }
    }
}
