//! Command-line arguments, and turning them into a settings layer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use go_disk_guard::commands::{self, PruneGoals};
use go_disk_guard::emit::{self, EmitFormat};
use go_disk_guard::report::Report;
use go_disk_guard::settings::{Flags, Format, Layer, groups};
use go_disk_guard::units::Size;

const EXIT_CODES: &str = "\
Exit codes:
  0  every watched volume is above its hard limit (after pruning, if any)
  1  runtime error (I/O, an unreadable directory, …)
  2  usage or configuration error (bad flag, value, YAML file, or a directory that is not a Go build cache)
  3  a watched volume is below its hard limit after pruning
  4  doctor found an error-level problem; scan found a path at or above --fail-on

Settings come from, lowest precedence first: defaults, .go-disk-guard.yml (working directory
or git root, or --config), GO_DISK_GUARD_<SETTING> environment variables, flags.";

const CHECK_EXAMPLES: &str = "\
Examples:
  go-disk-guard check
      prune the build cache if a Go directory's volume has less than 4GiB available,
      fail (exit 3) if it stays below 1GiB
  go-disk-guard check --soft 10GB --hard 2GB --target 15GB
  go-disk-guard check --soft 15% --hard 5%
  go-disk-guard check --dry-run --format json
  go-disk-guard check --cache-max-size 5GiB --keep-recent 6h --path \"$PWD\"
  GO_DISK_GUARD_SOFT=10GB go-disk-guard check";

/// Keeps Go builds in CI from dying of a full disk.
#[derive(Debug, Parser)]
#[command(name = "go-disk-guard", version, about, after_help = EXIT_CODES, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show Go's directories, the volumes that hold them and the build cache's size. Reads
    /// only, but for restarting the counters of a cache that `cacheprog` manages.
    Status {
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Resolve Go's directories and hand them to the job (--emit); no pruning.
    #[command(after_help = format!(
        "Examples:\n  eval \"$(go-disk-guard env --emit sh)\"\n  go-disk-guard env --emit fish | source\n  \
         go-disk-guard env --emit jenkins --emit-file go-env.json\n\n{EXIT_CODES}"
    ))]
    Env {
        #[command(flatten)]
        emit: EmitArgs,
        #[command(flatten)]
        relocate: RelocateArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The CI step: prune the build cache where space is below --soft, fail below --hard.
    #[command(after_help = format!("{CHECK_EXAMPLES}\n\n{EXIT_CODES}"))]
    Check {
        #[command(flatten)]
        args: CheckArgs,
        /// `false`: a volume below --hard is reported (status hard-limit, a warning
        /// annotation) but the check exits 0, so that the job goes on.
        #[arg(
            long,
            value_name = "BOOL",
            default_value = "true",
            action = clap::ArgAction::Set,
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        fail_on_hard: bool,
    },
    /// Run a command (a build) under guard: the check first, then the command, pruning while
    /// it runs and stopping it cleanly below --hard. Exits with the command's exit code.
    #[command(after_help = format!(
        "Examples:\n  go-disk-guard run -- go test ./...\n  \
         go-disk-guard run --soft 10GB --hard 2GB --interval 1s -- make build\n\n\
         Exit codes: the command's own (128 + signal when a signal ended it); 3 when the\n\
         command was stopped, or not started, because a volume was below --hard; 1 or 2 for\n\
         the guard's own runtime or usage errors."
    ))]
    Run {
        #[command(flatten)]
        args: CheckArgs,
        /// How often to measure the watched volumes while the command runs.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
        interval: Duration,
        /// How long the command may take to stop after SIGTERM before it is killed.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
        grace: Duration,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<std::ffi::OsString>,
    },
    /// Diagnose Go settings that send builds elsewhere than measured, or make Go's
    /// directories slow, fragile or unusable. Exits 4 when an error-level problem is found.
    Doctor {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Maintenance: trim the build cache to a budget, an age, or a free-space goal.
    #[command(after_help = format!(
        "Examples:\n  go-disk-guard prune --max-size 5GiB\n  go-disk-guard prune --older-than 7d\n  \
         go-disk-guard prune --free-at-least 20% --dry-run\n  \
         go-disk-guard prune --stale-work\n  go-disk-guard prune --stale-work 2h --dry-run\n\n{EXIT_CODES}"
    ))]
    Prune {
        /// Trim the cache to at most SIZE, least recently used entries first.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<Size>,
        /// Remove entries unused for longer than DURATION (e.g. 7d), as Go's own trim does.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Option<Duration>,
        /// Prune until the cache's volume has SIZE (or PCT% of it) available.
        #[arg(long, value_name = "SIZE|PCT", value_parser = parse_size)]
        free_at_least: Option<Size>,
        /// Remove go-build<digits> work directories left under GOTMPDIR and the temp dir by
        /// killed builds: older than AGE and, on Linux, used by no live process.
        #[arg(
            long,
            value_name = "AGE",
            num_args = 0..=1,
            default_missing_value = go_disk_guard::prune::work::DEFAULT_AGE,
            value_parser = parse_duration
        )]
        stale_work: Option<Duration>,
        #[command(flatten)]
        prune: PruneArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Find hard-coded paths that pin Go or its caches to a drive or a user: in Go string
    /// literals, go.mod/go.work directives, and CI and build files.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// Manage the Go caches in the repository's GitHub Actions cache storage.
    #[command(name = "gh-cache", subcommand)]
    GhCache(GhCacheCommand),
    /// Serve the go command's build cache within a budget: a GOCACHEPROG program (Go 1.24+).
    #[command(after_help = CACHEPROG_HELP)]
    Cacheprog(CacheprogArgs),
}

const CACHEPROG_HELP: &str = "\
Examples:
  GOCACHE=/cache GOCACHEPROG=\"go-disk-guard cacheprog --dir /cache --max-size 5GiB\" go build ./...
  eval \"$(go-disk-guard env --cacheprog-max-size 5GiB --emit sh)\"

The go command starts the program and talks to it over stdin and stdout; it is not meant to
be run by hand. Entries are kept in Go's own layout in --dir, so a plain GOCACHE pointed there
works too. Least recently used entries are evicted when the entries take more than --max-size
or the volume has less than --min-free available, never one that a running go command has
looked up or stored: whenever no build runs, the entries take at most --max-size on disk.

Exit codes:
  0  the go command closed the cache (or its input ended)
  1  the directory could not be used (missing permission, not a Go build cache, …)
  2  bad arguments, or input that breaks the GOCACHEPROG protocol";

/// `cacheprog`'s arguments.
#[derive(Debug, Args)]
struct CacheprogArgs {
    /// The cache directory (created with Go's README if missing; an existing one must be a
    /// Go build cache or empty). Point GOCACHE at it too.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Evict least recently used entries when they take more than this on disk (bytes like
    /// 5GiB, or a percentage of the volume).
    #[arg(long, value_name = "SIZE")]
    max_size: Option<Size>,
    /// Evict least recently used entries when the volume has less than this available.
    #[arg(long, value_name = "SIZE|PCT")]
    min_free: Option<Size>,
}

const GH_CACHE_HELP: &str = "\
The repository is --repo or $GITHUB_REPOSITORY; the token --token, $GITHUB_TOKEN or $GH_TOKEN
(deleting needs the `actions: write` permission); the API $GITHUB_API_URL or
https://api.github.com (GitHub Enterprise Server: https://HOST/api/v3).

Exit codes: 0 done; 1 an API error (the report says what was deleted before it); 2 a usage
error.";

#[derive(Debug, Subcommand)]
enum GhCacheCommand {
    /// List the caches whose key has a selected prefix.
    #[command(after_help = GH_CACHE_HELP)]
    List(GhCacheArgs),
    /// Delete caches: of gone refs and closed pull requests, beyond the newest N per ref,
    /// unused for too long, then the least recently used until under a total (in that order).
    #[command(after_help = format!(
        "Examples:\n  go-disk-guard gh-cache prune --closed-prs --keep-per-ref 1 --max-total 5GB\n  \
         go-disk-guard gh-cache prune --key-prefix setup-go- --key-prefix go-build- \
         --older-than 7d --dry-run\n\n{GH_CACHE_HELP}"
    ))]
    Prune {
        #[command(flatten)]
        args: GhCacheArgs,
        /// Delete caches whose branch or tag is gone, or whose pull request is closed.
        #[arg(long)]
        closed_prs: bool,
        /// Keep only the newest N caches per ref and key prefix.
        #[arg(long, value_name = "N")]
        keep_per_ref: Option<usize>,
        /// Delete caches last used longer ago than DURATION (e.g. 7d).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Option<Duration>,
        /// Then delete the least recently used until the selected caches take at most SIZE.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_total: Option<Size>,
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// What both `gh-cache` commands take.
#[derive(Debug, Args)]
struct GhCacheArgs {
    /// OWNER/NAME [default: $GITHUB_REPOSITORY].
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// The API token [default: $GITHUB_TOKEN, else $GH_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// The API's root URL [default: $GITHUB_API_URL, else https://api.github.com].
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Only caches whose key starts with PREFIX (repeatable) [prune: default setup-go-; list:
    /// default all].
    #[arg(long, value_name = "PREFIX")]
    key_prefix: Vec<String>,
    /// Output: text, json or markdown. Inside GitHub Actions the Markdown also goes to the job
    /// summary.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: Format,
}

const SCAN_HELP: &str = "\
Examples:
  go-disk-guard scan
  go-disk-guard scan --format sarif --output go-paths.sarif --fail-on never
  go-disk-guard scan --system-drive D: --include-vendor src/ build/
  go-disk-guard scan --fix --dry-run

Rules (stable ids; errors unless marked):
  GDG001 system-drive-path     a path on the system drive (C:\\…, C:/…, \\\\?\\C:\\…)
  GDG002 drive-path            a path on another drive letter (warning)
  GDG003 user-profile-go-path  %USERPROFILE%\\go, %LOCALAPPDATA%\\go-build, … (warning)
  GDG004 user-home-path        /home/<name>/…, /Users/<name>/…
  GDG005 home-go-path          ~/go, $HOME/go (warning)
  GDG006 fixed-goroot          /usr/local/go (warning)
  GDG007 go-cache-path         an absolute path into pkg/mod or go-build
  GDG008 absolute-replace      a go.mod/go.work replace with an absolute path
  GDG009 absolute-use          a go.work use with an absolute path

Test data (_test.go files, testdata/, examples, fixtures, test-only build tags) and prose in Go
strings are notes; --include-tests reports test data at the rules' levels. The golang image's
and the hosted runners' own paths are not findings. Suppress with a comment
`go-disk-guard:ignore GDG004 reason` (after //, # or REM; -file for the whole file) or the
configuration file's `scan:` section (exclude: globs, disable: rules).

Exit codes: 0 nothing at or above --fail-on; 4 something was; 1 a runtime error (a path that
cannot be read); 2 a usage error.";

/// What `scan` takes.
#[derive(Debug, Args)]
struct ScanArgs {
    /// Files or directories to scan.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output: text, json, or sarif (SARIF 2.1.0, for GitHub code scanning).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: ScanFormat,
    /// Write the findings to FILE instead of stdout (a summary goes to stderr).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with 4 when a finding is at least this serious.
    #[arg(long, value_name = "LEVEL", default_value = "error")]
    fail_on: FailOn,
    /// The system drive: paths on it are errors, on other drives warnings [default:
    /// %SystemDrive% on Windows, else C:].
    #[arg(long, value_name = "DRIVE", value_parser = parse_drive)]
    system_drive: Option<u8>,
    /// Look inside vendor/ directories too.
    #[arg(long)]
    include_vendor: bool,
    /// Report paths in test data (_test.go files, testdata/, examples, fixtures, test-only
    /// build tags) at their rules' levels instead of as notes.
    #[arg(long)]
    include_tests: bool,
    /// The configuration file whose `scan:` section applies [default: .go-disk-guard.yml in
    /// the working directory or the git root].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Rewrite, in place, the hard-coded assignments it understands in CI and build files
    /// (shell, PowerShell, Makefile, workflow env) so that the value is taken at run time;
    /// each edited file is scanned again before it is written.
    #[arg(long)]
    fix: bool,
    /// With --fix: also show, as a unified diff, the edits it does not make (Go code,
    /// Dockerfiles, batch files: suggestions only).
    #[arg(long, requires = "fix")]
    diff: bool,
    /// With --fix: show every edit as a unified diff and write nothing.
    #[arg(long, requires = "fix")]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Never,
}

/// `C`, `c:`, `C:\` → `C`.
fn parse_drive(s: &str) -> Result<u8, String> {
    let t = s.trim().trim_end_matches(['\\', '/']);
    let t = t.strip_suffix(':').unwrap_or(t);
    match t.as_bytes() {
        [letter] if letter.is_ascii_alphabetic() => Ok(letter.to_ascii_uppercase()),
        _ => Err("expected a drive letter such as C:".into()),
    }
}

/// Everything `check` takes (and `run`, which starts with a check).
#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    prune: PruneArgs,
    #[command(flatten)]
    emit: EmitArgs,
    #[command(flatten)]
    relocate: RelocateArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl CheckArgs {
    /// The settings layer these flags give, and the options every command takes.
    fn into_layer(mut self) -> (Layer, CommonArgs, Option<PathBuf>) {
        let save = self.emit.save_settings.take();
        let layer = limit_layer(self.limits)
            .overlay(prune_layer(self.prune))
            .overlay(emit_layer(self.emit))
            .overlay(relocate_layer(self.relocate));
        (layer, self.common, save)
    }
}

/// Thresholds and watched paths.
type LimitArgs = Flags<groups::Limits>;

/// How pruning behaves.
type PruneArgs = Flags<groups::Prune>;

/// Handing the environment on.
#[derive(Debug, Args)]
struct EmitArgs {
    #[command(flatten)]
    settings: Flags<groups::Emit>,
    /// Write the settings in force to FILE as a configuration file, and hand on
    /// GO_DISK_GUARD_CONFIG naming it, so that the go-disk-guard commands that follow in the
    /// job use them (the Action and the Jenkins step do this). Flags and GO_DISK_GUARD_*
    /// variables of a later command still win; --config replaces the file.
    #[arg(long, value_name = "FILE")]
    save_settings: Option<PathBuf>,
}

/// Moving Go's directories to a volume with room.
type RelocateArgs = Flags<groups::Relocate>;

/// Options every command takes: `--config`, and the settings of the common group.
#[derive(Debug)]
struct CommonArgs {
    config: Option<PathBuf>,
    format: Option<Format>,
    go: Option<PathBuf>,
}

/// How `--config` is spelled, apart from the settings (it says where they are).
#[derive(Debug, Args)]
struct ConfigArg {
    /// Read settings from FILE instead of .go-disk-guard.yml [env: GO_DISK_GUARD_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl clap::FromArgMatches for CommonArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let config = ConfigArg::from_arg_matches(matches)?.config;
        let layer = Flags::<groups::Common>::from_arg_matches(matches)?.layer;
        Ok(CommonArgs {
            config,
            format: layer.format,
            go: layer.go,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = CommonArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for CommonArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Flags::<groups::Common>::augment_args(ConfigArg::augment_args(cmd))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        CommonArgs::augment_args(cmd)
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    s.parse()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    go_disk_guard::units::parse_duration(s)
}

/// What a command left to print.
pub enum Outcome {
    Report(Box<Rendered>),
    Scanned(Scanned),
    /// `cacheprog` answered the go command until it closed the cache.
    Served,
}

/// A document (`scan`, `gh-cache`), where it goes, and the exit code.
pub struct Scanned {
    pub document: String,
    /// `--output`: the document was written there; `summary` goes to stderr.
    pub written_to: Option<PathBuf>,
    pub summary: String,
    /// Whether the document is JSON (SARIF included), for guarding it on its way out.
    pub json: bool,
    /// What to print on stderr after the document (what `scan --fix` did).
    pub log: String,
    /// An error to print on stderr after the document.
    pub error: Option<String>,
    pub exit: go_disk_guard::ExitCode,
}

/// A report, how to print it, and what emitting left for stdout.
pub struct Rendered {
    pub report: Report,
    pub format: Format,
    pub emitted: emit::Delivered,
    /// `env` prints only what it emits.
    pub print_report: bool,
}

/// What to run once the settings are known.
enum Which {
    Status,
    Doctor,
    Env,
    Check { fail_on_hard: bool },
    Run(Vec<std::ffi::OsString>, go_disk_guard::supervise::Options),
    Prune(PruneGoals),
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let cwd = std::env::current_dir()?;
    let mut save_settings = None;
    let (mut layer, common, which) = match cli.command {
        Command::Scan(args) => return scan(args, &cwd).map(Outcome::Scanned),
        Command::GhCache(command) => return gh_cache(command).map(Outcome::Scanned),
        Command::Cacheprog(args) => return cacheprog(args),
        Command::Status { limits, common } => (limit_layer(limits), common, Which::Status),
        Command::Env {
            mut emit,
            relocate,
            common,
        } => {
            save_settings = emit.save_settings.take();
            (
                emit_layer(emit).overlay(relocate_layer(relocate)),
                common,
                Which::Env,
            )
        }
        Command::Doctor { common } => (Layer::default(), common, Which::Doctor),
        Command::Check { args, fail_on_hard } => {
            let (layer, common, save) = args.into_layer();
            save_settings = save;
            (layer, common, Which::Check { fail_on_hard })
        }
        Command::Run {
            args,
            interval,
            grace,
            command,
        } => {
            let (layer, common, save) = args.into_layer();
            save_settings = save;
            let options = go_disk_guard::supervise::Options { interval, grace };
            (layer, common, Which::Run(command, options))
        }
        Command::Prune {
            max_size,
            older_than,
            free_at_least,
            stale_work,
            prune,
            common,
        } => (
            prune_layer(prune),
            common,
            Which::Prune(PruneGoals {
                max_size,
                older_than,
                free_at_least,
                stale_work,
            }),
        ),
    };
    layer.format = common.format;
    layer.go = common.go;
    let layer = go_disk_guard::settings::load_layer(layer, common.config.as_deref(), &cwd)?;
    let settings = go_disk_guard::settings::Settings::from_layers(layer.clone())?;
    let is_env = matches!(which, Which::Env);
    let (mut report, emits) = match which {
        Which::Status => (commands::status(&settings)?, false),
        Which::Env => (commands::env(&settings)?, true),
        Which::Doctor => (commands::doctor(&settings)?, false),
        Which::Check { fail_on_hard } => {
            let mut report = commands::check(&settings)?;
            if !fail_on_hard {
                report.verdict.tolerate_hard_limit();
            }
            (report, true)
        }
        Which::Run(command, options) => (commands::run(&settings, &command, &options)?, true),
        Which::Prune(goals) => (commands::prune(&settings, &goals)?, false),
    };
    if let Some(file) = save_settings {
        report.settings_file = Some(commands::save_settings(&layer, &file, &cwd)?);
    }
    let mut formats = settings.emit.clone();
    if is_env && formats.is_empty() {
        formats.push(EmitFormat::Sh);
    }
    let emitted = if emits {
        emit::deliver(&formats, settings.emit_file.as_deref(), &report)?
    } else {
        emit::Delivered::default()
    };
    Ok(Outcome::Report(Box::new(Rendered {
        format: settings.format,
        report,
        emitted,
        print_report: !is_env,
    })))
}

fn scan(args: ScanArgs, cwd: &std::path::Path) -> anyhow::Result<Scanned> {
    use go_disk_guard::scan::{self, Level, render};
    let system_drive = args.system_drive.unwrap_or_else(|| {
        std::env::var("SystemDrive")
            .ok()
            .filter(|_| cfg!(windows))
            .and_then(|d| parse_drive(&d).ok())
            .unwrap_or(b'C')
    });
    let config = go_disk_guard::settings::find_config_file(args.config.as_deref(), cwd)
        .map(|path| go_disk_guard::settings::load_scan_section(&path))
        .transpose()?
        .unwrap_or_default();
    let disabled = config
        .disable
        .iter()
        .map(|(word, origin)| {
            scan::Rule::parse(word).ok_or_else(|| {
                go_disk_guard::Error::Usage(format!(
                    "{origin}: {} is no rule (GDG001…GDG009 or a rule's name)",
                    go_disk_guard::escape::line(word)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = scan::Options {
        paths: args.paths,
        include_vendor: args.include_vendor,
        system_drive,
        threads: 0,
        include_tests: args.include_tests || config.include_tests.unwrap_or(false),
        exclude: config.exclude,
        disabled,
    };
    let mut report = scan::scan(&options)?;
    let mut log = String::new();
    if args.fix {
        let plans = scan::fix::plan(&report, system_drive);
        log = scan::fix::run(&plans, args.dry_run, args.diff);
        if !args.dry_run {
            report = scan::scan(&options)?;
        }
    }
    let plans = if args.format == ScanFormat::Sarif {
        scan::fix::plan(&report, system_drive)
    } else {
        Vec::new()
    };
    let mut document = match args.format {
        ScanFormat::Text => render::text(&report),
        ScanFormat::Json => render::json(&report),
        ScanFormat::Sarif => render::sarif_with_fixes(&report, cwd, &plans),
    };
    if args.format == ScanFormat::Text && args.output.is_none() {
        document.insert_str(0, &log);
        log.clear();
    }
    let failing = match args.fail_on {
        FailOn::Error => report.count(Level::Error),
        FailOn::Warning => report.count(Level::Error) + report.count(Level::Warning),
        FailOn::Never => 0,
    };
    let exit = if failing > 0 {
        go_disk_guard::ExitCode::Unhealthy
    } else {
        go_disk_guard::ExitCode::Ok
    };
    if let Some(path) = &args.output {
        std::fs::write(path, &document).with_context(|| {
            let shown = go_disk_guard::escape::path(path);
            format!("writing the findings to {shown}")
        })?;
    }
    let (inline, configured) = report.suppressed_counts();
    let summary = format!(
        "scan: {} finding(s), {} error(s), {} warning(s), {} note(s) in {} file(s); {} suppressed ({inline} inline, {configured} by the configuration file)",
        report.findings.len(),
        report.count(Level::Error),
        report.count(Level::Warning),
        report.count(Level::Note),
        report.files_scanned,
        report.suppressed.len(),
    );
    Ok(Scanned {
        document,
        written_to: args.output,
        summary,
        json: !matches!(args.format, ScanFormat::Text),
        log,
        error: None,
        exit,
    })
}

#[cfg(not(feature = "gh-cache"))]
fn gh_cache(_: GhCacheCommand) -> anyhow::Result<Scanned> {
    Err(go_disk_guard::Error::Usage(
        "gh-cache: this go-disk-guard was built without the gh-cache feature".into(),
    )
    .into())
}

#[cfg(feature = "gh-cache")]
fn gh_cache(command: GhCacheCommand) -> anyhow::Result<Scanned> {
    use go_disk_guard::Error;
    use go_disk_guard::ghcache::{self, Target, policy::Policy};
    let (args, prune) = match command {
        GhCacheCommand::List(args) => (args, None),
        GhCacheCommand::Prune {
            args,
            closed_prs,
            keep_per_ref,
            older_than,
            max_total,
            dry_run,
        } => {
            let max_total = match max_total {
                None => None,
                Some(Size::Bytes(b)) => Some(b),
                Some(Size::Percent(_)) => {
                    return Err(Error::Usage(
                        "--max-total: a size such as 5GB, not a percentage".into(),
                    )
                    .into());
                }
            };
            (
                args,
                Some((closed_prs, keep_per_ref, older_than, max_total, dry_run)),
            )
        }
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let repo = args
        .repo
        .or_else(|| env("GITHUB_REPOSITORY"))
        .ok_or_else(|| {
            Error::Usage(
                "gh-cache: no repository: give --repo OWNER/NAME or set GITHUB_REPOSITORY".into(),
            )
        })?;
    if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
        return Err(Error::Usage(format!("--repo: expected OWNER/NAME, got {repo:?}")).into());
    }
    let token = args
        .token
        .or_else(|| env("GITHUB_TOKEN"))
        .or_else(|| env("GH_TOKEN"))
        .ok_or_else(|| {
            Error::Usage("gh-cache: no token: give --token or set GITHUB_TOKEN or GH_TOKEN".into())
        })?;
    let target = Target {
        api_url: args
            .api_url
            .or_else(|| env("GITHUB_API_URL"))
            .unwrap_or_else(|| "https://api.github.com".into()),
        repo,
        token,
    };
    let mut prefixes = args.key_prefix;
    let report = match prune {
        None => ghcache::list(&target, &prefixes)?,
        Some((closed_prs, keep_per_ref, older_than, max_total, dry_run)) => {
            if prefixes.is_empty() {
                prefixes.push("setup-go-".into());
            }
            if !closed_prs && keep_per_ref.is_none() && older_than.is_none() && max_total.is_none()
            {
                return Err(Error::Usage(
                    "gh-cache prune: nothing to do: give --closed-prs, --keep-per-ref, \
                     --older-than or --max-total"
                        .into(),
                )
                .into());
            }
            let policy = Policy {
                key_prefixes: prefixes,
                closed_prs,
                keep_per_ref,
                older_than,
                max_total,
            };
            ghcache::prune(&target, &policy, dry_run)?
        }
    };
    let markdown = ghcache::markdown(&report);
    if let Some(summary) = env("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(markdown.as_bytes()))
            .with_context(|| format!("writing the job summary {summary}"))?;
    }
    let document = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s
        }
        Format::Markdown => markdown,
        Format::Text => ghcache::text(&report),
    };
    let exit = if report.error.is_some() {
        go_disk_guard::ExitCode::Runtime
    } else {
        go_disk_guard::ExitCode::Ok
    };
    Ok(Scanned {
        document,
        written_to: None,
        summary: String::new(),
        json: matches!(args.format, Format::Json),
        log: String::new(),
        error: report.error,
        exit,
    })
}

fn limit_layer(a: LimitArgs) -> Layer {
    a.layer
}

fn relocate_layer(a: RelocateArgs) -> Layer {
    a.layer
}

fn emit_layer(a: EmitArgs) -> Layer {
    a.settings.layer
}

fn prune_layer(a: PruneArgs) -> Layer {
    a.layer
}

/// `cacheprog`: serves stdin/stdout until the go command closes the cache.
fn cacheprog(args: CacheprogArgs) -> anyhow::Result<Outcome> {
    if args.max_size.is_none() && args.min_free.is_none() {
        return Err(go_disk_guard::Error::Usage(
            "cacheprog needs a budget: --max-size SIZE, --min-free SIZE|PCT, or both".into(),
        )
        .into());
    }
    let options = go_disk_guard::cacheprog::Options {
        dir: args.dir,
        max_size: args.max_size,
        min_free: args.min_free,
        workers: std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8),
    };
    go_disk_guard::cacheprog::serve(&options, std::io::stdin(), std::io::stdout())?;
    Ok(Outcome::Served)
}
