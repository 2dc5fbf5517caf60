//! The go command's rules for its directories, for when no `go` binary answers.
//!
//! Mirrors `cmd/go/internal/cfg` (GOENV file, `$GOROOT/go.env`, GOPATH, GOMODCACHE, GOBIN),
//! `cmd/go/internal/cache/default.go` (GOCACHE) and `os.UserCacheDir`/`os.UserConfigDir`.
//! The operating system is a parameter, so the rules of all three are testable anywhere.

use std::collections::BTreeMap;
use std::path::Path;

use super::{GO_DIR_VARS, GoVar, Origin};

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

    fn separator(self) -> char {
        if self == Os::Windows { '\\' } else { '/' }
    }

    fn list_separator(self) -> char {
        if self == Os::Windows { ';' } else { ':' }
    }

    fn join(self, base: &str, rel: &str) -> String {
        let sep = self.separator();
        let rel = rel.replace('/', &sep.to_string());
        if base.ends_with(sep) || (self == Os::Windows && base.ends_with('/')) {
            format!("{base}{rel}")
        } else {
            format!("{base}{sep}{rel}")
        }
    }

    fn is_abs(self, path: &str) -> bool {
        match self {
            Os::Windows => {
                let b = path.as_bytes();
                (b.len() >= 3
                    && b[0].is_ascii_alphabetic()
                    && b[1] == b':'
                    && (b[2] == b'\\' || b[2] == b'/'))
                    || path.starts_with("\\\\")
                    || path.starts_with("//")
            }
            _ => path.starts_with('/'),
        }
    }

    /// `os.UserCacheDir`.
    fn user_cache_dir(self, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            Os::Windows => get("LocalAppData"),
            Os::MacOs => get("HOME").map(|h| format!("{h}/Library/Caches")),
            Os::Linux => match get("XDG_CACHE_HOME") {
                Some(dir) => self.is_abs(&dir).then_some(dir),
                None => get("HOME").map(|h| format!("{h}/.cache")),
            },
        }
    }

    /// `os.UserConfigDir`.
    fn user_config_dir(self, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            Os::Windows => get("AppData"),
            Os::MacOs => get("HOME").map(|h| format!("{h}/Library/Application Support")),
            Os::Linux => match get("XDG_CONFIG_HOME") {
                Some(dir) => self.is_abs(&dir).then_some(dir),
                None => get("HOME").map(|h| format!("{h}/.config")),
            },
        }
    }

    fn home(self, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let name = if self == Os::Windows {
            "USERPROFILE"
        } else {
            "HOME"
        };
        var(name).filter(|v| !v.is_empty())
    }
}

/// The files the go command reads its settings from, loaded once.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The GOENV file's path, or `None` when GOENV=off or no config dir is known.
    pub goenv_file: Option<String>,
    /// Its settings (`go env -w`).
    pub goenv: BTreeMap<String, String>,
    /// The GOROOT found without consulting `go.env` (which must not set it).
    pub goroot: Option<String>,
    /// `$GOROOT/go.env`'s settings.
    pub goroot_env: BTreeMap<String, String>,
}

impl Sources {
    /// Reads the GOENV file and `$GOROOT/go.env`. `go_binary`, when known, locates GOROOT the
    /// way the go command locates its own.
    pub fn load(os: Os, var: &dyn Fn(&str) -> Option<String>, go_binary: Option<&Path>) -> Sources {
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
            .or_else(|| goenv.get("GOROOT").cloned())
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

    /// `cfg.Getenv`: the environment, then the GOENV file, then `$GOROOT/go.env`.
    fn getenv(&self, name: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        var(name)
            .filter(|v| !v.is_empty())
            .or_else(|| self.goenv.get(name).cloned())
            .or_else(|| self.goroot_env.get(name).cloned())
            .filter(|v| !v.is_empty())
    }

    /// Where the value of `name` comes from.
    pub fn origin(&self, name: &str, var: &dyn Fn(&str) -> Option<String>) -> Origin {
        if name == "GOENV" {
            return if var("GOENV").is_some_and(|v| !v.is_empty()) {
                Origin::Environment
            } else {
                Origin::Default
            };
        }
        if var(name).is_some_and(|v| !v.is_empty()) {
            Origin::Environment
        } else if self.goenv.get(name).is_some_and(|v| !v.is_empty()) {
            Origin::GoenvFile
        } else if name != "GOROOT" && self.goroot_env.get(name).is_some_and(|v| !v.is_empty()) {
            Origin::GorootGoEnv
        } else {
            Origin::Default
        }
    }
}

/// The GOROOT of a go binary: the directory above the `bin` holding it, following links,
/// when it looks like a Go tree (`pkg/tool` exists), as `findGOROOT` does.
fn goroot_of_binary(go: &Path) -> Option<String> {
    let real = std::fs::canonicalize(go).ok()?;
    let root = real.parent()?.parent()?;
    root.join("pkg")
        .join("tool")
        .is_dir()
        .then(|| root.to_string_lossy().into_owned())
}

/// `readEnvFile`: `KEY=value` lines whose key starts with an upper-case ASCII letter; all
/// else (comments, blank lines) is ignored. Values are taken as written, without trimming.
pub fn parse_env_file(data: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        if line.is_empty() || !line[0].is_ascii_uppercase() {
            continue;
        }
        let key = String::from_utf8_lossy(&line[..eq]).into_owned();
        let value = String::from_utf8_lossy(&line[eq + 1..]).into_owned();
        out.insert(key, value);
    }
    out
}

/// Computes [`GO_DIR_VARS`] by the go command's rules.
pub fn compute(os: Os, var: &dyn Fn(&str) -> Option<String>, sources: &Sources) -> Vec<GoVar> {
    let goroot = sources.goroot.clone().unwrap_or_default();
    let gopath = sources.getenv("GOPATH", var).unwrap_or_else(|| {
        // go/build.defaultGOPATH: $HOME/go, unless that is GOROOT.
        os.home(var)
            .map(|h| os.join(&h, "go"))
            .filter(|d| {
                d.trim_end_matches(os.separator()) != goroot.trim_end_matches(os.separator())
            })
            .unwrap_or_default()
    });
    let first_gopath = gopath
        .split(os.list_separator())
        .next()
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let gocache = sources.getenv("GOCACHE", var).unwrap_or_else(|| {
        os.user_cache_dir(var)
            .map(|d| os.join(&d, "go-build"))
            .unwrap_or_else(|| "off".into())
    });
    let gomodcache = sources
        .getenv("GOMODCACHE", var)
        .or_else(|| first_gopath.as_deref().map(|p| os.join(p, "pkg/mod")))
        .unwrap_or_default();
    // In module mode `go env GOBIN` reports where `go install` puts binaries.
    let gobin = sources
        .getenv("GOBIN", var)
        .or_else(|| first_gopath.as_deref().map(|p| os.join(p, "bin")))
        .unwrap_or_default();
    let gotmpdir = sources.getenv("GOTMPDIR", var).unwrap_or_default();
    let goenv = sources.goenv_file.clone().unwrap_or_else(|| "off".into());
    let values: BTreeMap<&str, String> = [
        ("GOROOT", goroot),
        ("GOPATH", gopath),
        ("GOCACHE", gocache),
        ("GOMODCACHE", gomodcache),
        ("GOBIN", gobin),
        ("GOTMPDIR", gotmpdir),
        ("GOENV", goenv),
    ]
    .into_iter()
    .collect();
    GO_DIR_VARS
        .iter()
        .map(|&name| GoVar {
            name,
            value: values[name].clone(),
            origin: sources.origin(name, var),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(os: Os, env: &[(&str, &str)], goenv: &str) -> BTreeMap<&'static str, (String, Origin)> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let var = move |name: &str| env.get(name).cloned();
        let sources = Sources {
            goenv_file: Some("envfile".into()),
            goenv: parse_env_file(goenv.as_bytes()),
            goroot: var("GOROOT"),
            goroot_env: parse_env_file(b"GOPROXY=https://proxy.example\n"),
        };
        compute(os, &var, &sources)
            .into_iter()
            .map(|v| (v.name, (v.value, v.origin)))
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
}
