//! Every setting, declared once: its key, flag, value name, kind, default, help, and whether a
//! saved settings file carries it and a configuration file may set it. From the table come the
//! [`Layer`] and how layers stack, reading a setting from text (the file, the environment),
//! the configuration file's structure, writing the carried settings back, and the flags.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

use super::{
    EmitFormat, Format, Relocate, ScanSection, env_var_name, exact_duration, parse_bool,
    split_paths, yaml_quoted,
};
use crate::error::Error;
use crate::units::{Size, parse_duration};

/// The flags a setting belongs with, as the commands take them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Thresholds and watched paths.
    Limits,
    /// How pruning behaves.
    Prune,
    /// Handing the environment on.
    Emit,
    /// Moving Go's directories to a volume with room.
    Relocate,
    /// What every command takes.
    Common,
}

/// Whether a configuration file may set a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFile {
    Allowed,
    /// Refused, and why: completes "a configuration file …".
    Refused(&'static str),
}

/// What the table says of one setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// As spelled in the configuration file.
    pub key: &'static str,
    /// The long flag, without `--`.
    pub flag: &'static str,
    /// What the flag's value is called in the help.
    pub value_name: &'static str,
    /// The default, as the help and the README say it.
    pub default: Option<&'static str>,
    /// The help, `{default}` standing for the default.
    help: &'static str,
    pub group: Group,
    /// Whether a saved settings file (`--save-settings`) carries it.
    pub carried: bool,
    pub in_file: InFile,
}

impl Setting {
    /// `GO_DISK_GUARD_` and the key upper-cased, `-` as `_`.
    pub fn env_var(&self) -> String {
        env_var_name(self.key)
    }

    /// The help as `--help` shows it: one line, the default filled in, no final period.
    pub fn help(&self) -> String {
        let text = self.help.trim();
        let text = text.strip_suffix('.').unwrap_or(text);
        match self.default {
            Some(default) => text.replace("{default}", default),
            None => text.to_string(),
        }
    }

    fn arg(&self) -> Arg {
        Arg::new(self.key)
            .long(self.flag)
            .value_name(self.value_name)
            .help(self.help())
    }
}

/// The setting spelled `key` in the configuration file.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// A kind of value: how it is read from text, from the configuration file and from the
/// command line, and written back to a configuration file.
pub trait Kind {
    type Value: Clone + Send + Sync + 'static;
    /// As the configuration file holds it.
    type File: DeserializeOwned;
    /// Reads `text`; `origin` names the source in an error.
    fn parse(text: &str, origin: &str) -> Result<Self::Value, Error>;
    /// Where in the file it was written, when known.
    fn position(file: &Self::File) -> Option<&Location>;
    /// Reads what the file at `path` gives for `key`.
    fn from_file(file: Self::File, key: &str, path: &Path) -> Result<Self::Value, Error>;
    /// As a configuration file writes it.
    fn yaml(value: &Self::Value) -> Result<Yaml, Error>;
    /// The flag's parser and action.
    fn arg(arg: Arg) -> Arg;
    /// What the command line gave, if anything.
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Self::Value>;
}

/// A value as a configuration file writes it.
pub enum Yaml {
    Scalar(String),
    List(Vec<String>),
}

/// A scalar in the file: read as from any other text, its position in the error.
fn scalar_from_file<K: Kind>(
    file: Spanned<String>,
    key: &str,
    path: &Path,
) -> Result<K::Value, Error> {
    let origin = format!(
        "configuration file {}: line {} column {}: {key}",
        path.display(),
        file.referenced.line(),
        file.referenced.column()
    );
    K::parse(&file.value, &origin)
}

fn invalid(origin: &str, what: &'static str, value: &str, reason: String) -> Error {
    Error::InvalidValue {
        origin: origin.to_string(),
        what,
        value: value.to_string(),
        reason,
    }
}

/// A path as YAML text: a path that is not UTF-8 cannot be written and is an error naming it.
fn path_text(p: &Path) -> Result<String, Error> {
    p.to_str().map(str::to_string).ok_or_else(|| {
        Error::Usage(format!(
            "--save-settings: the path {} is not UTF-8, so it cannot be written to a \
             configuration file",
            crate::escape::os(p.as_os_str())
        ))
    })
}

fn one<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Option<T> {
    matches.try_get_one::<T>(id).ok().flatten().cloned()
}

fn many<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Option<Vec<T>> {
    let values: Vec<T> = matches
        .try_get_many::<T>(id)
        .ok()
        .flatten()?
        .cloned()
        .collect();
    (!values.is_empty()).then_some(values)
}

/// The name a value enum's value is written with.
fn enum_name<E: clap::ValueEnum>(value: &E) -> Result<String, Error> {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .ok_or_else(|| Error::Usage("a value that has no name".into()))
}

/// Implements the file side of a kind read from one scalar.
macro_rules! scalar_file {
    () => {
        type File = Spanned<String>;
        fn position(file: &Spanned<String>) -> Option<&Location> {
            Some(&file.referenced)
        }
        fn from_file(file: Spanned<String>, key: &str, path: &Path) -> Result<Self::Value, Error> {
            scalar_from_file::<Self>(file, key, path)
        }
    };
}

/// A size: `10GB`, `10GiB`, bytes, or `15%`.
pub struct SizeKind;
impl Kind for SizeKind {
    type Value = Size;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<Size, Error> {
        text.parse()
            .map_err(|reason| invalid(origin, "size", text, reason))
    }
    fn yaml(value: &Size) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(value.to_arg()))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(|s: &str| s.parse::<Size>())
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Size> {
        one(matches, id)
    }
}

/// A duration: `90m`, `2h30m`, `7d`.
pub struct DurationKind;
impl Kind for DurationKind {
    type Value = Duration;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<Duration, Error> {
        parse_duration(text).map_err(|reason| invalid(origin, "duration", text, reason))
    }
    fn yaml(value: &Duration) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(exact_duration(*value)))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set).value_parser(parse_duration)
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Duration> {
        one(matches, id)
    }
}

/// One path.
pub struct PathKind;
impl Kind for PathKind {
    type Value = PathBuf;
    scalar_file!();
    fn parse(text: &str, _: &str) -> Result<PathBuf, Error> {
        Ok(PathBuf::from(text))
    }
    fn yaml(value: &PathBuf) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(path_text(value)?))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(clap::value_parser!(PathBuf))
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<PathBuf> {
        one(matches, id)
    }
}

/// Paths: a list in the file; one per line, or the platform's path-list separator between
/// them, in the environment; a repeatable flag.
pub struct PathsKind;
impl Kind for PathsKind {
    type Value = Vec<PathBuf>;
    type File = Vec<String>;
    fn parse(text: &str, _: &str) -> Result<Vec<PathBuf>, Error> {
        Ok(split_paths(text))
    }
    fn position(_: &Vec<String>) -> Option<&Location> {
        None
    }
    fn from_file(file: Vec<String>, _: &str, _: &Path) -> Result<Vec<PathBuf>, Error> {
        Ok(file.into_iter().map(PathBuf::from).collect())
    }
    fn yaml(value: &Vec<PathBuf>) -> Result<Yaml, Error> {
        Ok(Yaml::List(
            value
                .iter()
                .map(|p| path_text(p))
                .collect::<Result<_, _>>()?,
        ))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Append)
            .value_parser(clap::value_parser!(PathBuf))
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Vec<PathBuf>> {
        many(matches, id)
    }
}

/// Text, taken as given (a value the command that uses it checks).
pub struct TextKind;
impl Kind for TextKind {
    type Value = String;
    scalar_file!();
    fn parse(text: &str, _: &str) -> Result<String, Error> {
        Ok(text.to_string())
    }
    fn yaml(value: &String) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(value.clone()))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(clap::value_parser!(String))
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<String> {
        one(matches, id)
    }
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`); on the command line a flag that
/// turns it on.
pub struct BoolKind;
impl Kind for BoolKind {
    type Value = bool;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<bool, Error> {
        parse_bool(text)
            .ok_or_else(|| invalid(origin, "boolean", text, "expected true or false".into()))
    }
    fn yaml(value: &bool) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(value.to_string()))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::SetTrue).value_name(None::<&str>)
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<bool> {
        one::<bool>(matches, id).filter(|on| *on)
    }
}

/// The report's format.
pub struct FormatKind;
impl Kind for FormatKind {
    type Value = Format;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<Format, Error> {
        <Format as clap::ValueEnum>::from_str(text, true).map_err(|_| {
            invalid(
                origin,
                "format",
                text,
                "expected text, json or markdown".into(),
            )
        })
    }
    fn yaml(value: &Format) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(enum_name(value)?))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(clap::builder::EnumValueParser::<Format>::new())
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Format> {
        one(matches, id)
    }
}

/// Where to hand the environment: formats separated by commas (or lines); a repeatable flag
/// that also takes a comma-separated list.
pub struct EmitKind;
impl Kind for EmitKind {
    type Value = Vec<EmitFormat>;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<Vec<EmitFormat>, Error> {
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                <EmitFormat as clap::ValueEnum>::from_str(f, true).map_err(|_| {
                    invalid(
                        origin,
                        "emit format",
                        f,
                        "expected github, jenkins, sh, fish, pwsh, cmd or dotenv".into(),
                    )
                })
            })
            .collect()
    }
    fn yaml(value: &Vec<EmitFormat>) -> Result<Yaml, Error> {
        let names = value.iter().map(enum_name).collect::<Result<Vec<_>, _>>()?;
        Ok(Yaml::Scalar(names.join(",")))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Append)
            .value_delimiter(',')
            .value_parser(clap::builder::EnumValueParser::<EmitFormat>::new())
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Vec<EmitFormat>> {
        many(matches, id)
    }
}

/// `auto` or a directory.
pub struct RelocateKind;
impl Kind for RelocateKind {
    type Value = Relocate;
    scalar_file!();
    fn parse(text: &str, origin: &str) -> Result<Relocate, Error> {
        text.parse()
            .map_err(|reason| invalid(origin, "relocation", text, reason))
    }
    fn yaml(value: &Relocate) -> Result<Yaml, Error> {
        Ok(Yaml::Scalar(match value {
            Relocate::Auto => "auto".to_string(),
            Relocate::Dir(dir) => path_text(dir)?,
        }))
    }
    fn arg(arg: Arg) -> Arg {
        arg.action(ArgAction::Set)
            .value_parser(|s: &str| s.parse::<Relocate>())
    }
    fn from_matches(matches: &ArgMatches, id: &str) -> Option<Relocate> {
        one(matches, id)
    }
}

/// The error for a setting a configuration file may not set.
fn refused(path: &Path, setting: &Setting, reason: &str, at: Option<&Location>) -> Error {
    let at = at.map_or(String::new(), |at| {
        format!("line {} column {}: ", at.line(), at.column())
    });
    Error::Config {
        path: path.to_path_buf(),
        message: format!(
            "{at}{}: a configuration file {reason}; set {} or --{}",
            setting.key,
            setting.env_var(),
            setting.flag
        ),
    }
}

/// Appends `key: value` (or the list) to a configuration file's text.
fn write_yaml(key: &str, value: Yaml, out: &mut String) {
    match value {
        Yaml::Scalar(value) => out.push_str(&format!("{key}: {}\n", yaml_quoted(&value))),
        Yaml::List(list) => {
            out.push_str(key);
            out.push(':');
            if list.is_empty() {
                out.push_str(" []");
            }
            out.push('\n');
            for item in list {
                out.push_str(&format!("  - {}\n", yaml_quoted(&item)));
            }
        }
    }
}

/// Declares the settings; see the invocation below.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $kind:ty {
            key: $key:literal,
            flag: $flag:literal,
            value_name: $value_name:literal,
            default: $default:expr,
            group: $group:ident,
            carried: $carried:literal,
            file: $file:expr $(,)?
        }
    )+) => {
        /// One source's settings; `None` means "this source does not say".
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Layer {
            $( $(#[doc = $doc])+ pub $field: Option<<$kind as Kind>::Value>, )+
        }

        /// Every setting, in the order the help shows them.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                key: $key,
                flag: $flag,
                value_name: $value_name,
                default: $default,
                help: concat!($($doc),+),
                group: Group::$group,
                carried: $carried,
                in_file: $file,
            },
        )+];

        /// Every setting, as spelled in the configuration file.
        pub const SETTING_KEYS: &[&str] = &[$($key),+];

        impl Layer {
            /// This layer with every setting that `over` gives replaced by `over`'s value.
            pub fn overlay(self, over: Layer) -> Layer {
                Layer { $( $field: over.$field.or(self.$field), )+ }
            }

            /// Sets `key` (as spelled in the configuration file) from its textual `value`.
            /// `origin` names the source in error messages.
            pub(super) fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<(), Error> {
                match key {
                    $( $key => self.$field = Some(<$kind as Kind>::parse(value, origin)?), )+
                    other => return Err(Error::Usage(format!("{origin}: no setting {other}"))),
                }
                Ok(())
            }

            /// Only the settings a saved file carries (all but [`NOT_CARRIED_KEYS`]).
            pub fn carried(self) -> Layer {
                Layer { $( $field: self.$field.filter(|_| $carried), )+ }
            }

            /// Appends the carried settings this layer gives to a configuration file's text.
            pub(super) fn write_carried(&self, out: &mut String) -> Result<(), Error> {
                $(
                    if let Some(value) = self.$field.as_ref().filter(|_| $carried) {
                        write_yaml($key, <$kind as Kind>::yaml(value)?, out);
                    }
                )+
                Ok(())
            }

            /// The settings of `group` that the command line gave.
            fn from_matches(group: Group, matches: &ArgMatches) -> Layer {
                Layer {
                    $( $field: (Group::$group == group)
                        .then(|| <$kind as Kind>::from_matches(matches, $key))
                        .flatten(), )+
                }
            }
        }

        /// `cmd` with the flags of `group`'s settings.
        fn augment(group: Group, mut cmd: Command) -> Command {
            $(
                if let Some(s) = setting($key).filter(|s| s.group == group) {
                    cmd = cmd.arg(<$kind as Kind>::arg(s.arg()));
                }
            )+
            cmd
        }

        /// The configuration file as written. Scalars stay text, with their position, so that
        /// an invalid value is reported with the key, the line and the column.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct ConfigFile {
            $( #[serde(rename = $key)] $field: Option<<$kind as Kind>::File>, )+
            /// `scan`'s own section; the other commands read past it.
            #[serde(rename = "scan")]
            pub(super) _scan: Option<ScanSection>,
        }

        impl ConfigFile {
            /// The settings the file at `path` gives.
            pub(super) fn into_layer(self, path: &Path) -> Result<Layer, Error> {
                $(
                    if let (InFile::Refused(reason), Some(value)) = ($file, &self.$field) {
                        if let Some(s) = setting($key) {
                            let at = <$kind as Kind>::position(value);
                            return Err(refused(path, s, reason, at));
                        }
                    }
                )+
                Ok(Layer {
                    $( $field: self.$field
                        .map(|v| <$kind as Kind>::from_file(v, $key, path))
                        .transpose()?, )+
                })
            }
        }
    };
}

settings! {
    /// Prune when a volume has less than SIZE available [default: {default}]. Sizes: 500MB, 10GB
    /// (powers of 1000), 10GiB (powers of 1024), plain bytes, or a share of the volume: 15%.
    soft: SizeKind {
        key: "soft", flag: "soft", value_name: "SIZE", default: Some("4GiB"),
        group: Limits, carried: true, file: InFile::Allowed,
    }
    /// Fail (exit 3) when a volume still has less than SIZE available after pruning
    /// [default: {default}].
    hard: SizeKind {
        key: "hard", flag: "hard", value_name: "SIZE", default: Some("1GiB, capped at soft"),
        group: Limits, carried: true, file: InFile::Allowed,
    }
    /// Once pruning, go on until SIZE is available [default: {default}].
    target: SizeKind {
        key: "target", flag: "target", value_name: "SIZE", default: Some("1.5 × soft"),
        group: Limits, carried: true, file: InFile::Allowed,
    }
    /// Also keep the build cache within SIZE on every check.
    cache_max_size: SizeKind {
        key: "cache-max-size", flag: "cache-max-size", value_name: "SIZE", default: None,
        group: Limits, carried: true, file: InFile::Allowed,
    }
    /// Also watch the volume of DIR (the workspace, the temp dir); repeatable.
    paths: PathsKind {
        key: "paths", flag: "path", value_name: "DIR", default: None,
        group: Limits, carried: true, file: InFile::Allowed,
    }
    /// Never remove entries used within DURATION [default: {default}]. Go records a use at most
    /// hourly, so a window W spares for certain what was used within W − 1h.
    keep_recent: DurationKind {
        key: "keep-recent", flag: "keep-recent", value_name: "DURATION", default: Some("2h"),
        group: Prune, carried: true, file: InFile::Allowed,
    }
    /// Say what would be removed; remove nothing.
    dry_run: BoolKind {
        key: "dry-run", flag: "dry-run", value_name: "BOOL", default: Some("false"),
        group: Prune, carried: true, file: InFile::Allowed,
    }
    /// How long to wait for another go-disk-guard pruning the same cache [default: {default}].
    lock_timeout: DurationKind {
        key: "lock-timeout", flag: "lock-timeout", value_name: "DURATION", default: Some("60s"),
        group: Prune, carried: true, file: InFile::Allowed,
    }
    /// Hand GOROOT, GOPATH, GOCACHE, GOMODCACHE and GOBIN to the job: github (the default
    /// inside GitHub Actions), jenkins, sh, fish, pwsh, cmd or dotenv. Repeatable; at most one
    /// besides github. A shell or jenkins payload goes to stdout (the report then goes to
    /// stderr), or to --emit-file.
    emit: EmitKind {
        key: "emit", flag: "emit", value_name: "FORMAT",
        default: Some("github inside GitHub Actions, else none"),
        group: Emit, carried: false, file: InFile::Allowed,
    }
    /// Write the shell or jenkins payload to FILE instead of {default}.
    emit_file: PathKind {
        key: "emit-file", flag: "emit-file", value_name: "FILE", default: Some("stdout"),
        group: Emit, carried: false, file: InFile::Allowed,
    }
    /// Also hand on GOCACHEPROG, so that the go commands that follow keep the build cache
    /// (GOCACHE) within SIZE through `go-disk-guard cacheprog` (Go 1.24 or later).
    cacheprog_max_size: SizeKind {
        key: "cacheprog-max-size", flag: "cacheprog-max-size", value_name: "SIZE", default: None,
        group: Emit, carried: true, file: InFile::Allowed,
    }
    /// With --cacheprog-max-size: the handed-on GOCACHEPROG also names a shared remote tier,
    /// `--remote URL` (s3://BUCKET[/PREFIX]).
    cacheprog_remote: TextKind {
        key: "cacheprog-remote", flag: "cacheprog-remote", value_name: "URL", default: None,
        group: Emit,
        // Not carried: a saved settings file is read back as a configuration file, which
        // refuses it.
        carried: false,
        // A configuration file may be a repository's, which a stranger's pull request can
        // change: whoever names the bucket chooses what builds link, and where their outputs
        // go.
        file: InFile::Refused(
            "cannot name a remote tier (a repository's file must not choose what builds link \
             or where their outputs go)"
        ),
    }
    /// With --cacheprog-remote: the handed-on GOCACHEPROG never writes to the bucket
    /// (`--remote-read-only`), for untrusted builds.
    cacheprog_remote_read_only: BoolKind {
        key: "cacheprog-remote-read-only", flag: "cacheprog-remote-read-only", value_name: "BOOL",
        default: Some("false"),
        group: Emit, carried: true,
        // A file may set it: it can only tighten. Every other source outranks the file (a
        // variable saying false included), the flag can only turn it on, and a file's false
        // is the default; true only takes writing away.
        file: InFile::Allowed,
    }
    /// Point GOCACHE, GOMODCACHE and GOPATH (GOBIN under it) at DIR/go-disk-guard/{cache,
    /// modcache,path}, or with `auto` at the roomiest local disk, preferring one other than the
    /// system volume.
    relocate: RelocateKind {
        key: "relocate", flag: "relocate", value_name: "auto|DIR", default: None,
        group: Relocate, carried: false, file: InFile::Allowed,
    }
    /// With --relocate: copy existing contents, verify them, then delete the old copies.
    migrate: BoolKind {
        key: "migrate", flag: "migrate", value_name: "BOOL", default: Some("false"),
        group: Relocate, carried: false, file: InFile::Allowed,
    }
    /// The volume that counts as the system volume for --relocate auto [default: {default}].
    system_volume: PathKind {
        key: "system-volume", flag: "system-volume", value_name: "PATH",
        default: Some("/ or %SystemDrive%"),
        group: Relocate, carried: true, file: InFile::Allowed,
    }
    /// A root --relocate auto may choose (repeatable) [default: {default}].
    relocate_candidates: PathsKind {
        key: "relocate-candidates", flag: "relocate-candidate", value_name: "DIR",
        default: Some("every local, writable disk"),
        group: Relocate, carried: true, file: InFile::Allowed,
    }
    /// With --relocate: GOTMPDIR moves too when the temp dir is RAM-backed (tmpfs) or has less
    /// than SIZE available [default: {default}].
    tmp_min: SizeKind {
        key: "tmp-min", flag: "tmp-min", value_name: "SIZE", default: Some("4GiB"),
        group: Relocate, carried: true, file: InFile::Allowed,
    }
    /// Report format [default: {default}].
    format: FormatKind {
        key: "format", flag: "format", value_name: "FORMAT", default: Some("text"),
        group: Common, carried: false, file: InFile::Allowed,
    }
    /// The go command to ask for Go's directories [default: {default}].
    go: PathKind {
        key: "go", flag: "go", value_name: "PATH", default: Some("go, on PATH or in $GOROOT/bin"),
        group: Common, carried: false,
        // A configuration file may be a repository's, which a stranger's pull request can
        // change: it must not choose a program for go-disk-guard to run.
        file: InFile::Refused(
            "cannot name the go command to run (a repository's file must not choose a program)"
        ),
    }
}

const NOT_CARRIED_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < SETTINGS.len() {
        if !SETTINGS[i].carried {
            n += 1;
        }
        i += 1;
    }
    n
};

const NOT_CARRIED: [&str; NOT_CARRIED_COUNT] = {
    let mut keys = [""; NOT_CARRIED_COUNT];
    let (mut i, mut n) = (0, 0);
    while i < SETTINGS.len() {
        if !SETTINGS[i].carried {
            keys[n] = SETTINGS[i].key;
            n += 1;
        }
        i += 1;
    }
    keys
};

/// The settings a saved configuration file does not carry to the commands that follow in a job
/// (`--save-settings`): what one command does once (`relocate`, `migrate`: the check did it and
/// handed the new directories on), how it reports (`format`, `emit`, `emit-file`), and `go`
/// and `cacheprog-remote`, which no configuration file may set. Every other setting — the limits, the watched paths,
/// how to prune — is carried.
pub const NOT_CARRIED_KEYS: &[&str] = &NOT_CARRIED;

/// Which settings' flags a [`Flags`] takes.
pub trait FlagGroup {
    const GROUP: Group;
}

/// The groups of flags, for [`Flags`].
pub mod groups {
    use super::{FlagGroup, Group};

    macro_rules! groups {
        ($($name:ident),+) => {$(
            #[doc = concat!("The ", stringify!($name), " group.")]
            pub struct $name;
            impl FlagGroup for $name {
                const GROUP: Group = Group::$name;
            }
        )+};
    }

    groups!(Limits, Prune, Emit, Relocate, Common);
}

/// The flags of one group of settings, for a command to flatten in; what they gave is a
/// [`Layer`].
pub struct Flags<G> {
    pub layer: Layer,
    group: PhantomData<G>,
}

impl<G> std::fmt::Debug for Flags<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Flags").field(&self.layer).finish()
    }
}

impl<G: FlagGroup> clap::FromArgMatches for Flags<G> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Flags {
            layer: Layer::from_matches(G::GROUP, matches),
            group: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        let layer = std::mem::take(&mut self.layer);
        self.layer = layer.overlay(Layer::from_matches(G::GROUP, matches));
        Ok(())
    }
}

impl<G: FlagGroup> clap::Args for Flags<G> {
    fn augment_args(cmd: Command) -> Command {
        augment(G::GROUP, cmd)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        augment(G::GROUP, cmd)
    }
}
