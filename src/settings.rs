//! Settings and where they come from.
//!
//! Precedence, lowest first: built-in defaults, the YAML configuration file, environment
//! variables `GO_DISK_GUARD_<SETTING>`, command-line flags. Each source yields a [`Layer`];
//! [`Layer::overlay`] stacks them and [`Settings::from_layers`] fills in the defaults.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::Error;
use crate::units::{Size, format_duration};

mod table;

use table::ConfigFile;
pub use table::{
    BoolKind, DurationKind, EmitKind, FlagGroup, Flags, FormatKind, Group, InFile, Kind, Layer,
    NOT_CARRIED_KEYS, PathKind, PathsKind, RelocateKind, SETTING_KEYS, SETTINGS, Setting, SizeKind,
    TextKind, Yaml, groups, setting,
};

/// The name of the configuration file looked for in the working directory and the git root.
pub const CONFIG_FILE_NAME: &str = ".go-disk-guard.yml";

/// The prefix of every environment variable the tool reads for its settings.
pub const ENV_PREFIX: &str = "GO_DISK_GUARD_";

/// Default soft limit: below this much available space a volume's build cache is pruned.
pub const DEFAULT_SOFT: Size = Size::Bytes(4 << 30);
/// Default `tmp-min`: with --relocate, GOTMPDIR moves to the chosen volume when the temp dir
/// has less than this available (or is RAM-backed).
pub const DEFAULT_TMP_MIN: Size = Size::Bytes(4 << 30);
/// Default hard limit: below this much available space, after pruning, the run fails.
pub const DEFAULT_HARD: Size = Size::Bytes(1 << 30);
/// The default target is this multiple of the soft limit, so that one prune buys headroom and
/// the next check does not prune again at once.
pub const DEFAULT_TARGET_FACTOR: f64 = 1.5;
/// Default for keep-recent. Go refreshes an entry's mtime at most once an hour, so an mtime can
/// lag the last use by up to an hour: a two-hour window spares everything used in the last hour.
pub const DEFAULT_KEEP_RECENT: Duration = Duration::from_secs(2 * 3600);
/// How long to wait for another go-disk-guard that is pruning the same cache.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Output format of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document (schema documented in the README).
    Json,
    /// A Markdown report, as for a CI job summary.
    Markdown,
}

/// Where the emitted environment goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmitFormat {
    /// GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and workflow commands.
    Github,
    /// A JSON document for the Jenkins step.
    Jenkins,
    /// `export NAME='value'` lines for sh, bash, dash, zsh.
    Sh,
    /// `set -gx NAME 'value'` lines for fish.
    Fish,
    /// `$env:NAME = 'value'` lines for PowerShell.
    Pwsh,
    /// `set "NAME=value"` lines for a cmd.exe batch file.
    Cmd,
    /// `NAME='value'` lines for a dotenv file.
    Dotenv,
}

/// What `--relocate` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relocate {
    /// Choose the roomiest volume.
    Auto,
    /// Use this root.
    Dir(PathBuf),
}

impl std::str::FromStr for Relocate {
    type Err = String;
    fn from_str(s: &str) -> Result<Relocate, String> {
        match s.trim() {
            "" => Err("expected auto or a directory".into()),
            "auto" => Ok(Relocate::Auto),
            dir => Ok(Relocate::Dir(PathBuf::from(dir))),
        }
    }
}

impl Layer {
    /// Reads the `GO_DISK_GUARD_<SETTING>` environment variables through `get`.
    /// An empty variable counts as unset, as GitHub Actions passes empty inputs. A value that
    /// is not UTF-8 is a usage error naming the variable.
    pub fn from_env(get: impl Fn(&str) -> Option<OsString>) -> Result<Layer, Error> {
        let mut layer = Layer::default();
        for key in SETTING_KEYS {
            let name = env_var_name(key);
            let Some(raw) = get(&name) else {
                continue;
            };
            let Some(value) = raw.to_str() else {
                return Err(Error::Usage(format!(
                    "environment variable {name}: its value {} is not UTF-8",
                    crate::escape::os(&raw)
                )));
            };
            if !value.trim().is_empty() {
                layer.set(key, value, &format!("environment variable {name}"))?;
            }
        }
        Ok(layer)
    }

    /// Parses the YAML text of a configuration file read from `path`.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Layer, Error> {
        match parse_config(text, path)? {
            Some(file) => file.into_layer(path),
            None => Ok(Layer::default()),
        }
    }
}

/// `keep-recent` → `GO_DISK_GUARD_KEEP_RECENT`.
pub fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('-', "_").to_ascii_uppercase())
}

/// One path per line, or the platform's path-list separator between them.
fn split_paths(value: &str) -> Vec<PathBuf> {
    value
        .lines()
        .flat_map(|line| std::env::split_paths(line).collect::<Vec<_>>())
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The `scan:` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ScanSection {
    exclude: Option<Vec<String>>,
    disable: Option<Vec<Spanned<String>>>,
    include_tests: Option<Spanned<String>>,
}

/// What the `scan:` section of a configuration file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanSettings {
    /// Path globs whose findings are suppressed.
    pub exclude: Vec<String>,
    /// Rules turned off, as written, each with where it was written (for an error message).
    pub disable: Vec<(String, String)>,
    /// Test data at the rules' own levels.
    pub include_tests: Option<bool>,
}

/// Parses the whole configuration file (so that a mistake anywhere is reported as for every
/// other command) and returns its `scan:` section.
pub fn scan_section(text: &str, path: &Path) -> Result<ScanSettings, Error> {
    let file = parse_config(text, path)?;
    let Some(section) = file.and_then(|f| f._scan) else {
        return Ok(ScanSettings::default());
    };
    let at = |key: &str, span: &serde_saphyr::Location| {
        format!(
            "configuration file {}: line {} column {}: scan.{key}",
            crate::escape::path(path),
            span.line(),
            span.column()
        )
    };
    let include_tests = match section.include_tests {
        Some(v) => Some(parse_bool(&v.value).ok_or_else(|| Error::InvalidValue {
            origin: at("include-tests", &v.referenced),
            what: "boolean",
            value: v.value.clone(),
            reason: "expected true or false".into(),
        })?),
        None => None,
    };
    Ok(ScanSettings {
        exclude: section.exclude.unwrap_or_default(),
        disable: section
            .disable
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                let origin = at("disable", &v.referenced);
                (v.value, origin)
            })
            .collect(),
        include_tests,
    })
}

/// Reads the configuration file at `path` and returns its `scan:` section.
pub fn load_scan_section(path: &Path) -> Result<ScanSettings, Error> {
    scan_section(&read_config_text(path)?, path)
}

/// The largest configuration file read: far beyond any real one, and small enough that a
/// file (or a link a repository plants) cannot make go-disk-guard read without end.
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;

/// The text of the configuration file at `path`: a regular file (a link to one is followed)
/// of at most [`CONFIG_MAX_BYTES`]. A device, a FIFO or a directory is refused before it is
/// opened, so that `/dev/zero` or a pipe cannot hang the run.
fn read_config_text(path: &Path) -> Result<String, Error> {
    use std::io::Read as _;
    let refuse = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| refuse(e.to_string()))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| refuse(e.to_string()))?;
    let mut text = String::new();
    file.take(CONFIG_MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| refuse(e.to_string()))?;
    if text.len() as u64 > CONFIG_MAX_BYTES {
        return Err(refuse(format!(
            "larger than {} bytes; a configuration file is a few lines",
            CONFIG_MAX_BYTES
        )));
    }
    Ok(text)
}

/// The configuration file's structure, or a one-line error naming the file.
fn parse_config(text: &str, path: &Path) -> Result<Option<ConfigFile>, Error> {
    serde_saphyr::from_str(text).map_err(|e| {
        // The library renders a multi-line snippet; the first line carries the position
        // and the reason.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("syntax error");
        Error::Config {
            path: path.to_path_buf(),
            message: first.trim_start_matches("error: ").to_string(),
        }
    })
}

/// Where the configuration file is: `explicit` (from `--config` or `GO_DISK_GUARD_CONFIG`),
/// else [`CONFIG_FILE_NAME`] in `cwd`, else in the root of the git work tree holding `cwd`.
pub fn find_config_file(explicit: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let here = cwd.join(CONFIG_FILE_NAME);
    if here.is_file() {
        return Some(here);
    }
    let root = cwd.ancestors().find(|dir| dir.join(".git").exists())?;
    Some(root.join(CONFIG_FILE_NAME)).filter(|p| p.is_file())
}

/// Reads and parses the configuration file at `path`.
pub fn load_config_file(path: &Path) -> Result<Layer, Error> {
    Layer::from_yaml(&read_config_text(path)?, path)
}

/// The environment variable naming the configuration file (the `--config` flag wins).
pub const CONFIG_ENV: &str = "GO_DISK_GUARD_CONFIG";

/// The settings in force: defaults, then the configuration file (`config`, else
/// `$GO_DISK_GUARD_CONFIG`, else the one found from `cwd`), then the environment, then `flags`.
pub fn load(flags: Layer, config: Option<&Path>, cwd: &Path) -> Result<Settings, Error> {
    Settings::from_layers(load_layer(flags, config, cwd)?)
}

/// What [`load`] fills the defaults in under: every source stacked, before any default.
pub fn load_layer(flags: Layer, config: Option<&Path>, cwd: &Path) -> Result<Layer, Error> {
    let from_env = std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let explicit = config.map(Path::to_path_buf).or(from_env);
    let file = match find_config_file(explicit.as_deref(), cwd) {
        Some(path) => load_config_file(&path)?,
        None => Layer::default(),
    };
    let env = Layer::from_env(|name| std::env::var_os(name))?;
    let mut layer = file.overlay(env).overlay(flags);
    // Inside GitHub Actions, hand the environment to the job unless told otherwise.
    if layer.emit.is_none() && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        layer.emit = Some(vec![EmitFormat::Github]);
    }
    Ok(layer)
}

impl Layer {
    /// This layer's carried settings (all but [`NOT_CARRIED_KEYS`]) as a configuration file that
    /// [`Layer::from_yaml`] reads back to the same values. Defaults are not written: a setting
    /// no source gave stays a default. Every value is a double-quoted YAML scalar, escaped, so
    /// that no value (a path holding a quote, a line break, a `#`) can end early or add a key.
    /// A path that is not UTF-8 cannot be written to YAML and is an error naming it.
    pub fn to_yaml(&self) -> Result<String, Error> {
        let mut out = String::from(
            "# The settings go-disk-guard check was run with (--save-settings), for the\n\
             # go-disk-guard commands that follow in the job (GO_DISK_GUARD_CONFIG names this file).\n",
        );
        self.write_carried(&mut out)?;
        Ok(out)
    }
}

/// A duration as [`parse_duration`] reads it back exactly, nanoseconds included.
fn exact_duration(d: Duration) -> String {
    match d.subsec_nanos() {
        0 => format_duration(d),
        nanos => format!(
            "{} {nanos}ns",
            format_duration(Duration::from_secs(d.as_secs()))
        ),
    }
}

/// `value` as a double-quoted YAML scalar: `\\` and `"` escaped, and every control character,
/// the line and paragraph separators, NEL, the byte-order mark and the two characters YAML does
/// not allow raw (U+FFFE, U+FFFF) written as `\\u` escapes.
fn yaml_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The settings in force, every default filled in.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Settings {
    #[serde(serialize_with = "serialize_size")]
    pub soft: Size,
    #[serde(serialize_with = "serialize_size")]
    pub hard: Size,
    #[serde(serialize_with = "serialize_size")]
    pub target: Size,
    #[serde(serialize_with = "serialize_opt_size")]
    pub cache_max_size: Option<Size>,
    /// Hand on GOCACHEPROG running `go-disk-guard cacheprog` with this budget.
    #[serde(serialize_with = "serialize_opt_size")]
    pub cacheprog_max_size: Option<Size>,
    /// With it, the GOCACHEPROG handed on names this remote tier (`--remote`).
    pub cacheprog_remote: Option<String>,
    /// ...read-only (`--remote-read-only`).
    pub cacheprog_remote_read_only: bool,
    #[serde(serialize_with = "serialize_duration")]
    pub keep_recent: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub lock_timeout: Duration,
    pub paths: Vec<PathBuf>,
    pub go: PathBuf,
    pub dry_run: bool,
    #[serde(skip)]
    pub format: Format,
    /// Where to hand the environment; empty: nowhere (the default outside GitHub Actions).
    pub emit: Vec<EmitFormat>,
    pub emit_file: Option<PathBuf>,
    #[serde(skip)]
    pub relocate: Option<Relocate>,
    pub migrate: bool,
    pub system_volume: Option<PathBuf>,
    pub relocate_candidates: Vec<PathBuf>,
    #[serde(serialize_with = "serialize_size")]
    pub tmp_min: Size,
}

impl Settings {
    /// Fills in the defaults under `layer` and checks that the limits fit together.
    pub fn from_layers(layer: Layer) -> Result<Settings, Error> {
        // Only limits the user set can contradict each other; defaults give way (see
        // `limits_for`).
        if let (Some(hard), Some(soft)) = (layer.hard, layer.soft) {
            check_order("hard", hard, "soft", soft)?;
        }
        if let (Some(soft), Some(target)) = (layer.soft, layer.target) {
            check_order("soft", soft, "target", target)?;
        }
        let soft = layer.soft.unwrap_or(DEFAULT_SOFT);
        let hard = layer.hard.unwrap_or(DEFAULT_HARD);
        let target = layer
            .target
            .unwrap_or_else(|| soft.scale(DEFAULT_TARGET_FACTOR));
        Ok(Settings {
            soft,
            hard,
            target,
            cache_max_size: layer.cache_max_size,
            cacheprog_max_size: layer.cacheprog_max_size,
            cacheprog_remote: layer.cacheprog_remote,
            cacheprog_remote_read_only: layer.cacheprog_remote_read_only.unwrap_or(false),
            keep_recent: layer.keep_recent.unwrap_or(DEFAULT_KEEP_RECENT),
            lock_timeout: layer.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT),
            paths: layer.paths.unwrap_or_default(),
            go: layer.go.unwrap_or_else(|| PathBuf::from("go")),
            dry_run: layer.dry_run.unwrap_or(false),
            format: layer.format.unwrap_or_default(),
            emit: layer.emit.unwrap_or_default(),
            emit_file: layer.emit_file,
            relocate: layer.relocate,
            migrate: layer.migrate.unwrap_or(false),
            system_volume: layer.system_volume,
            relocate_candidates: layer.relocate_candidates.unwrap_or_default(),
            tmp_min: layer.tmp_min.unwrap_or(DEFAULT_TMP_MIN),
        })
    }

    /// The limits in bytes for a volume of `total` bytes. Soft is the anchor: where
    /// percentages, absolute sizes and defaults mix, hard is capped at soft and target raised
    /// to it, so that hard ≤ soft ≤ target always holds.
    pub fn limits_for(&self, total: u64) -> Limits {
        let soft = self.soft.resolve(total);
        let hard = self.hard.resolve(total).min(soft);
        let target = self.target.resolve(total).max(soft);
        Limits { hard, soft, target }
    }
}

/// Limits resolved to bytes for one volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub hard: u64,
    pub soft: u64,
    pub target: u64,
}

/// Two limits of the same kind (both absolute, or both percentages) must be in order.
fn check_order(low_name: &str, low: Size, high_name: &str, high: Size) -> Result<(), Error> {
    let out_of_order = match (low, high) {
        (Size::Bytes(a), Size::Bytes(b)) => a > b,
        (Size::Percent(a), Size::Percent(b)) => a > b,
        _ => false,
    };
    if out_of_order {
        return Err(Error::Usage(format!(
            "the {low_name} limit ({low}) is above the {high_name} limit ({high}); \
             expected hard ≤ soft ≤ target"
        )));
    }
    Ok(())
}

/// A size in JSON: a number of bytes, or a string such as `"15%"`.
fn serialize_size<S: serde::Serializer>(v: &Size, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Size::Bytes(b) => s.serialize_u64(*b),
        Size::Percent(_) => s.collect_str(v),
    }
}

fn serialize_opt_size<S: serde::Serializer>(v: &Option<Size>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => serialize_size(v, s),
        None => s.serialize_none(),
    }
}

/// A duration as the text the settings take (`2h`, `7d`).
pub fn serialize_duration<S: serde::Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Layer, Error> {
        Layer::from_yaml(text, Path::new("cfg.yml"))
    }

    #[test]
    fn file_values_parse() {
        let layer = yaml("soft: 10GB\nhard: 5%\nkeep-recent: 3h\npaths: [/a, /b]\ndry-run: true\n")
            .unwrap();
        assert_eq!(layer.soft, Some(Size::Bytes(10_000_000_000)));
        assert_eq!(layer.hard, Some(Size::Percent(5.0)));
        assert_eq!(layer.keep_recent, Some(Duration::from_secs(3 * 3600)));
        assert_eq!(layer.paths.as_ref().map(Vec::len), Some(2));
        assert_eq!(layer.dry_run, Some(true));
        assert_eq!(yaml("").unwrap(), Layer::default());
        assert_eq!(yaml("# only a comment\n").unwrap(), Layer::default());
    }

    #[test]
    fn unknown_keys_name_the_key_line_and_column() {
        let err = yaml("soft: 10GB\nsfot: 1GB\n").unwrap_err().to_string();
        assert!(err.contains("line 2 column 1"), "{err}");
        assert!(err.contains("sfot"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key_and_the_value() {
        let err = yaml("hard: 1GB\nsoft: 10XB\n").unwrap_err().to_string();
        assert!(err.contains("line 2 column 7: soft"), "{err}");
        assert!(err.contains("\"10XB\""), "{err}");
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let err = yaml("soft: [1,\n").unwrap_err().to_string();
        assert!(
            err.starts_with("configuration file cfg.yml: line 1"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let file = yaml("soft: 10GB\nhard: 2GB\n").unwrap();
        let env =
            Layer::from_env(|name| (name == "GO_DISK_GUARD_SOFT").then(|| "20GB".into())).unwrap();
        let flags = Layer {
            hard: Some(Size::Bytes(3)),
            ..Layer::default()
        };
        let merged = Layer::default().overlay(file).overlay(env).overlay(flags);
        assert_eq!(merged.soft, Some(Size::Bytes(20_000_000_000)));
        assert_eq!(merged.hard, Some(Size::Bytes(3)));
    }

    /// The defaults the help and the README say are the defaults in force.
    #[test]
    fn the_defaults_said_are_the_defaults() {
        let said = |key: &str| {
            let text = setting(key).and_then(|s| s.default).unwrap();
            // `1GiB, capped at soft`: the value, then what qualifies it.
            text.split(',').next().unwrap().to_string()
        };
        let mut layer = Layer::default();
        for key in [
            "soft",
            "hard",
            "keep-recent",
            "lock-timeout",
            "dry-run",
            "migrate",
            "tmp-min",
            "format",
        ] {
            layer.set(key, &said(key), "test").unwrap();
        }
        let given = Settings::from_layers(layer).unwrap();
        let defaults = Settings::from_layers(Layer::default()).unwrap();
        assert_eq!(given.soft, defaults.soft);
        assert_eq!(given.hard, defaults.hard);
        assert_eq!(given.keep_recent, defaults.keep_recent);
        assert_eq!(given.lock_timeout, defaults.lock_timeout);
        assert_eq!(given.dry_run, defaults.dry_run);
        assert_eq!(given.migrate, defaults.migrate);
        assert_eq!(given.tmp_min, defaults.tmp_min);
        assert_eq!(given.format, defaults.format);
        assert_eq!(said("go"), defaults.go.to_string_lossy());
        assert_eq!(said("target"), format!("{DEFAULT_TARGET_FACTOR} × soft"));
        assert_eq!(defaults.target, defaults.soft.scale(DEFAULT_TARGET_FACTOR));
    }

    /// Every setting's variable is the prefix and the key, and its flag is the key but for
    /// the lists, whose flag names one item.
    #[test]
    fn variables_and_flags_follow_the_keys() {
        for s in SETTINGS {
            assert_eq!(s.env_var(), env_var_name(s.key));
            assert!(s.env_var().starts_with(ENV_PREFIX), "{}", s.key);
            match s.key {
                "paths" => assert_eq!(s.flag, "path"),
                "relocate-candidates" => assert_eq!(s.flag, "relocate-candidate"),
                key => assert_eq!(s.flag, key),
            }
            assert!(
                !s.help().ends_with('.') && !s.help().contains("{default}"),
                "{}",
                s.key
            );
        }
        assert_eq!(SETTING_KEYS.len(), SETTINGS.len());
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err =
            Layer::from_env(|name| (name == "GO_DISK_GUARD_KEEP_RECENT").then(|| "soon".into()))
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("environment variable GO_DISK_GUARD_KEEP_RECENT"),
            "{err}"
        );
    }

    #[test]
    fn default_target_is_above_soft_and_order_is_checked() {
        let s = Settings::from_layers(Layer::default()).unwrap();
        assert_eq!(s.target, Size::Bytes(6 << 30));
        assert_eq!(s.keep_recent, DEFAULT_KEEP_RECENT);
        let bad = Layer {
            soft: Some(Size::Bytes(1)),
            hard: Some(Size::Bytes(2)),
            ..Layer::default()
        };
        assert!(Settings::from_layers(bad).is_err());
        // A soft limit below the default hard limit lowers the hard limit with it.
        let low = Settings::from_layers(Layer {
            soft: Some(Size::Bytes(100)),
            ..Layer::default()
        })
        .unwrap();
        assert_eq!(low.limits_for(1000).hard, 100);
        let mixed = Settings::from_layers(Layer {
            soft: Some(Size::Percent(10.0)),
            hard: Some(Size::Bytes(500)),
            ..Layer::default()
        })
        .unwrap();
        assert_eq!(
            mixed.limits_for(1000),
            Limits {
                hard: 100,
                soft: 100,
                target: 150
            }
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_environment_value_that_is_not_utf8_is_a_usage_error_naming_the_variable() {
        use std::os::unix::ffi::OsStringExt;
        let err = Layer::from_env(|name| {
            (name == "GO_DISK_GUARD_SOFT").then(|| OsString::from_vec(b"10\xffGB".to_vec()))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "environment variable GO_DISK_GUARD_SOFT: its value 10\\xffGB is not UTF-8"
        );
    }

    fn is_documented_config_error(e: &Error) -> bool {
        matches!(e, Error::Config { .. } | Error::InvalidValue { .. })
            && !e.to_string().contains('\n')
    }

    #[test]
    fn deeply_nested_documents_are_errors_not_crashes() {
        for depth in [1_000, 100_000] {
            for (open, close) in [("[", "]"), ("{", "}"), ("- ", "")] {
                let doc = format!("soft: {}1{}\n", open.repeat(depth), close.repeat(depth));
                match yaml(&doc) {
                    Ok(_) => panic!("{open} nested {depth} deep was accepted"),
                    Err(e) => assert!(is_documented_config_error(&e), "{e:?}"),
                }
            }
        }
    }

    #[test]
    fn aliases_are_no_way_to_blow_up() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            doc.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        doc.push_str("soft: *k\n");
        let err = yaml(&doc).unwrap_err();
        assert!(is_documented_config_error(&err), "{err:?}");
    }

    #[test]
    fn saved_settings_read_back_as_given_and_defaults_stay_defaults() {
        let layer = Layer {
            soft: Some(Size::Percent(15.0)),
            hard: Some(Size::Bytes(2_000_000_000)),
            keep_recent: Some(Duration::from_millis(90 * 60_000 + 1)),
            paths: Some(vec![
                PathBuf::from("/a b/\"c\"\n::error::x"),
                PathBuf::from("# no"),
            ]),
            go: Some(PathBuf::from("C:\\Go\\bin\\go.exe")),
            dry_run: Some(true),
            relocate_candidates: Some(vec![]),
            // Not carried: what one command does once, and how it reports.
            relocate: Some(crate::relocate::Relocate::Auto),
            migrate: Some(true),
            emit: Some(vec![EmitFormat::Github]),
            format: Some(Format::Json),
            ..Layer::default()
        };
        let text = layer.to_yaml().unwrap();
        let back = yaml(&text).unwrap();
        assert_eq!(back, layer.clone().carried(), "{text}");
        assert_eq!(back.target, None, "a default was written: {text}");
        // Every line is a comment, a key, or a list item: no value spilled onto a line.
        for line in text.lines() {
            assert!(
                line.starts_with('#')
                    || line.starts_with("  - \"")
                    || line.contains(": ")
                    || line.ends_with(':'),
                "{line:?} in {text}"
            );
        }
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with([' ', '#']))
            .filter_map(|l| l.split(':').next())
            .collect();
        assert!(
            keys.iter()
                .all(|k| SETTING_KEYS.contains(k) && !NOT_CARRIED_KEYS.contains(k)),
            "{keys:?}"
        );
    }

    /// YAML does not allow every character raw: U+FFFE and U+FFFF are outside its printable
    /// set, so a saved file holding one raw would be unreadable to every later command.
    #[test]
    fn a_configuration_file_cannot_name_a_program_to_run() {
        let err = yaml("soft: 1GB\ngo: ./evil.sh\n").unwrap_err().to_string();
        assert!(
            err.contains("line 2 column 5") && err.contains("GO_DISK_GUARD_GO"),
            "{err}"
        );
        // The environment and flags still can.
        let env = Layer::from_env(|n| (n == "GO_DISK_GUARD_GO").then(|| "/opt/go/bin/go".into()));
        assert_eq!(env.unwrap().go, Some(PathBuf::from("/opt/go/bin/go")));
    }

    #[test]
    fn a_configuration_file_cannot_name_a_remote_tier_but_may_make_it_read_only() {
        let err = yaml("soft: 1GB\ncacheprog-remote: s3://bucket/p\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2 column 19") && err.contains("GO_DISK_GUARD_CACHEPROG_REMOTE"),
            "{err}"
        );
        let layer = yaml("cacheprog-remote-read-only: true\n").unwrap();
        assert_eq!(layer.cacheprog_remote_read_only, Some(true));
        // The environment and flags still can; a saved file does not carry the remote.
        let env = Layer::from_env(|n| {
            (n == "GO_DISK_GUARD_CACHEPROG_REMOTE").then(|| "s3://bucket/p".into())
        })
        .unwrap();
        assert_eq!(env.cacheprog_remote.as_deref(), Some("s3://bucket/p"));
        assert_eq!(yaml(&env.to_yaml().unwrap()).unwrap(), Layer::default());
    }

    #[test]
    fn saved_settings_read_back_whatever_the_characters() {
        for text in [
            "\u{fffe}",
            "a\u{ffff}b",
            "\u{85}",
            "\u{7f}",
            "\u{d7ff}\u{e000}",
        ] {
            let layer = Layer {
                paths: Some(vec![PathBuf::from(text)]),
                system_volume: Some(PathBuf::from(text)),
                ..Layer::default()
            };
            let saved = layer.to_yaml().unwrap();
            assert_eq!(yaml(&saved).unwrap(), layer, "{text:?}: {saved}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_an_error_naming_it() {
        use std::os::unix::ffi::OsStrExt;
        let layer = Layer {
            paths: Some(vec![PathBuf::from(std::ffi::OsStr::from_bytes(b"/x\xff"))]),
            ..Layer::default()
        };
        let err = layer.to_yaml().unwrap_err().to_string();
        assert!(err.contains("not UTF-8") && err.contains("\\xff"), "{err}");
    }

    #[test]
    fn a_layer_of_every_setting_carries_all_but_the_ones_said_not_to_be() {
        let mut full = Layer::default();
        for key in SETTING_KEYS {
            let value = match *key {
                "format" => "json",
                "emit" => "sh",
                "relocate" => "auto",
                "migrate" | "dry-run" | "cacheprog-remote-read-only" => "true",
                "cacheprog-remote" => "s3://bucket/prefix",
                "keep-recent" | "lock-timeout" => "1h",
                "soft" | "hard" | "target" | "cache-max-size" | "cacheprog-max-size"
                | "tmp-min" => "1GB",
                _ => "/p",
            };
            full.set(key, value, "test").unwrap();
        }
        let text = full.to_yaml().unwrap();
        for key in SETTING_KEYS {
            let written = text.lines().any(|l| l.starts_with(&format!("{key}:")));
            assert_eq!(written, !NOT_CARRIED_KEYS.contains(key), "{key} in {text}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        use crate::testing::budget as config;

        fn size() -> impl Strategy<Value = Option<Size>> {
            proptest::option::of(prop_oneof![
                any::<u64>().prop_map(Size::Bytes),
                (0.0f64..=100.0).prop_map(Size::Percent),
            ])
        }

        fn duration() -> impl Strategy<Value = Option<Duration>> {
            proptest::option::of(
                (0u64..(1 << 40), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            )
        }

        fn paths() -> impl Strategy<Value = Option<Vec<PathBuf>>> {
            proptest::option::of(proptest::collection::vec(
                any::<String>().prop_map(PathBuf::from),
                0..4,
            ))
        }

        /// Any layer of carried settings (paths are any text).
        fn carried_layer() -> impl Strategy<Value = Layer> {
            (
                (size(), size(), size(), size(), size(), size()),
                (duration(), duration()),
                (paths(), paths()),
                proptest::option::of(any::<String>().prop_map(PathBuf::from)),
                proptest::option::of(any::<String>().prop_map(PathBuf::from)),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(
                    |(
                        (soft, hard, target, cache_max_size, cacheprog_max_size, tmp_min),
                        (keep_recent, lock_timeout),
                        (paths, relocate_candidates),
                        go,
                        system_volume,
                        dry_run,
                    )| Layer {
                        soft,
                        hard,
                        target,
                        cache_max_size,
                        cacheprog_max_size,
                        tmp_min,
                        keep_recent,
                        lock_timeout,
                        paths,
                        relocate_candidates,
                        go,
                        system_volume,
                        dry_run,
                        ..Layer::default()
                    },
                )
        }

        /// A YAML-looking document: keys of the file (and others), values of every kind.
        fn document() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                proptest::sample::select(SETTING_KEYS.to_vec()).prop_map(str::to_string),
                "[a-z-]{1,12}",
            ];
            let value = prop_oneof![
                "[ -~]{0,20}",
                "[0-9.]{1,25}[ kKmMgGtTpPiIbB%]{0,4}",
                "[0-9]{1,30}[smhdwy]{1,2}",
                Just("[/a, /b]".to_string()),
                Just("{x: 1}".to_string()),
                Just("|\n  block\n".to_string()),
                Just("~".to_string()),
                Just("&anchor 1".to_string()),
                Just("*nowhere".to_string()),
                Just("!!binary aGk=".to_string()),
            ];
            proptest::collection::vec((key, value, "[ \t]{0,3}"), 0..8).prop_map(|entries| {
                entries
                    .into_iter()
                    .map(|(k, v, pad)| format!("{pad}{k}: {v}\n"))
                    .collect()
            })
        }

        proptest! {
            #![proptest_config(config(600))]

            #[test]
            fn saved_settings_read_back_exactly(layer in carried_layer()) {
                let text = layer.to_yaml().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(yaml(&text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?, layer.carried());
            }

            #[test]
            fn any_text_is_settings_or_a_config_error(text in any::<String>()) {
                if let Err(e) = yaml(&text) {
                    prop_assert!(is_documented_config_error(&e), "{:?}", e);
                }
            }

            #[test]
            fn yaml_punctuation_is_settings_or_a_config_error(
                text in "[a-z: \n\t\\[\\]{},#&*!|>'\"%@`?-]{0,60}"
            ) {
                if let Err(e) = yaml(&text) {
                    prop_assert!(is_documented_config_error(&e), "{:?}", e);
                }
            }

            #[test]
            fn documents_are_settings_or_a_config_error(text in document()) {
                if let Err(e) = yaml(&text) {
                    prop_assert!(is_documented_config_error(&e), "{:?}", e);
                }
            }

            /// The scan section: any text is a section or a one-line error naming the file.
            #[test]
            fn scan_sections_are_settings_or_a_config_error(
                body in prop_oneof![
                    "[a-z: \n\t\\[\\]{},#&*!|>'\"%@`?/-]{0,60}",
                    any::<String>(),
                ],
                key in proptest::sample::select(vec!["exclude", "disable", "include-tests", "other"]),
            ) {
                for text in [format!("scan:\n  {key}: {body}\n"), body.clone()] {
                    match scan_section(&text, Path::new("c.yml")) {
                        Ok(_) => {}
                        Err(e) => {
                            prop_assert!(is_documented_config_error(&e), "{:?}", e);
                            prop_assert!(!e.to_string().contains('\n'), "{}", e);
                        }
                    }
                }
            }

            #[test]
            fn environment_values_are_settings_or_an_error_naming_the_variable(
                key in proptest::sample::select(SETTING_KEYS.to_vec()),
                bytes in proptest::collection::vec(any::<u8>(), 0..24),
            ) {
                let name = env_var_name(key);
                let value = crate::goenv::os_from_bytes(bytes);
                let result = Layer::from_env(|n| (n == name).then(|| value.clone()));
                if let Err(e) = result {
                    prop_assert!(e.to_string().starts_with(&format!("environment variable {name}")), "{}", e);
                    prop_assert!(!e.to_string().contains('\n'), "{}", e);
                }
            }
        }
    }
}
