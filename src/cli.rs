//! Command-line arguments, and turning them into a settings layer.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use go_disk_guard::commands::cacheprog::{CacheprogRequest, RemoteRequest};
use go_disk_guard::commands::gh_cache::{GhCachePrune, GhCacheRequest};
use go_disk_guard::commands::prune::PruneGoals;
use go_disk_guard::commands::scan::{FailOn, ScanFormat, ScanRequest, parse_drive};
use go_disk_guard::commands::{self, Invocation, Outcome};
use go_disk_guard::exit_codes;
use go_disk_guard::settings::{Flags, Format, Layer, groups};
use go_disk_guard::units::Size;

/// The exit codes (from [`exit_codes::MEANINGS`], their one definition) and where settings
/// come from, after every command's help.
fn exit_codes_help() -> String {
    let mut help = String::from("Exit codes:\n");
    for (code, meaning) in exit_codes::MEANINGS {
        help.push_str(&format!("  {}  {meaning}\n", code.code()));
    }
    help.push_str(
        "\nSettings come from, lowest precedence first: defaults, .go-disk-guard.yml (working directory\n\
         or git root, or --config), GO_DISK_GUARD_<SETTING> environment variables, flags.",
    );
    help
}

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
#[command(name = "go-disk-guard", version, about, after_help = exit_codes_help(), args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show Go's directories, the volumes that hold them and the build cache's size. Reads
    /// only (but with --reset-counters).
    Status {
        /// Restart the counters of a cache that `cacheprog` manages, after showing them.
        #[arg(long)]
        reset_counters: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Resolve Go's directories and hand them to the job (--emit); no pruning.
    #[command(after_help = format!(
        "Examples:\n  eval \"$(go-disk-guard env --emit sh)\"\n  go-disk-guard env --emit fish | source\n  \
         go-disk-guard env --emit jenkins --emit-file go-env.json\n\n{}", exit_codes_help()
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
    #[command(after_help = format!("{CHECK_EXAMPLES}\n\n{}", exit_codes_help()))]
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
         go-disk-guard prune --stale-work\n  go-disk-guard prune --stale-work 2h --dry-run\n  \
         go-disk-guard prune --remote s3://ci-go-cache/linux --older-than 14d --max-size 200GB\n\n{}",
         exit_codes_help()
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
        /// Prune the cache program's remote tier at s3://BUCKET[/PREFIX] instead: actions
        /// unused for --older-than, then least recently used ones beyond --max-size, then
        /// outputs no kept action references (none younger than --keep-recent [default: 1h]).
        #[arg(long, value_name = "URL", conflicts_with_all = ["free_at_least", "stale_work"])]
        remote: Option<String>,
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
    /// A shared remote tier behind the local cache: s3://BUCKET[/PREFIX], with credentials,
    /// region and endpoint from the standard AWS_* variables.
    #[arg(long, value_name = "URL")]
    remote: Option<String>,
    /// Never write to the remote (for untrusted builds); also
    /// GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY=true.
    #[arg(long, requires = "remote")]
    remote_read_only: bool,
    /// How long closing the cache waits for uploads still pending [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "remote")]
    remote_flush_timeout: Option<Duration>,
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
    /// The invocation these flags give.
    fn into_invocation(self) -> Invocation {
        let (layer, common, save) = self.into_layer();
        common.invocation(layer, save)
    }

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

/// What to run, with the settings and requests the arguments give. Reads nothing: the
/// commands load the configuration file and the environment.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Scan(args) => commands::scan::run(args.into_request()),
        Command::GhCache(command) => commands::gh_cache::run(command.into_request()),
        Command::Cacheprog(args) => commands::cacheprog::run(args.into_request()),
        Command::Status {
            reset_counters,
            limits,
            common,
        } => commands::status::run(common.invocation(limit_layer(limits), None), reset_counters),
        Command::Env {
            mut emit,
            relocate,
            common,
        } => {
            let save = emit.save_settings.take();
            let layer = emit_layer(emit).overlay(relocate_layer(relocate));
            commands::env::run(common.invocation(layer, save))
        }
        Command::Doctor { common } => {
            commands::doctor::run(common.invocation(Layer::default(), None))
        }
        Command::Check { args, fail_on_hard } => {
            commands::check::run(args.into_invocation(), fail_on_hard)
        }
        Command::Run {
            args,
            interval,
            grace,
            command,
        } => {
            let options = go_disk_guard::supervise::WatchOptions { interval, grace };
            commands::run::run(args.into_invocation(), &command, &options)
        }
        Command::Prune {
            max_size,
            older_than,
            free_at_least,
            stale_work,
            remote,
            prune,
            common,
        } => {
            let goals = PruneGoals {
                max_size,
                older_than,
                free_at_least,
                stale_work,
                remote,
            };
            commands::prune::run(common.invocation(prune_layer(prune), None), &goals)
        }
    }
}

impl CommonArgs {
    /// The invocation of a command that takes settings: `layer` with the report format and
    /// the go command these options give.
    fn invocation(self, mut layer: Layer, save_settings: Option<PathBuf>) -> Invocation {
        layer.format = self.format;
        layer.go = self.go;
        Invocation {
            flags: layer,
            config: self.config,
            save_settings,
        }
    }
}

impl CacheprogArgs {
    fn into_request(self) -> CacheprogRequest {
        CacheprogRequest {
            dir: self.dir,
            max_size: self.max_size,
            min_free: self.min_free,
            remote: self.remote.map(|url| RemoteRequest {
                url,
                read_only: self.remote_read_only,
                flush_timeout: self.remote_flush_timeout,
            }),
        }
    }
}

impl ScanArgs {
    fn into_request(self) -> ScanRequest {
        ScanRequest {
            paths: self.paths,
            format: self.format,
            output: self.output,
            fail_on: self.fail_on,
            system_drive: self.system_drive,
            include_vendor: self.include_vendor,
            include_tests: self.include_tests,
            config: self.config,
            fix: self.fix,
            diff: self.diff,
            dry_run: self.dry_run,
        }
    }
}

impl GhCacheCommand {
    fn into_request(self) -> GhCacheRequest {
        let (args, prune) = match self {
            GhCacheCommand::List(args) => (args, None),
            GhCacheCommand::Prune {
                args,
                closed_prs,
                keep_per_ref,
                older_than,
                max_total,
                dry_run,
            } => (
                args,
                Some(GhCachePrune {
                    closed_prs,
                    keep_per_ref,
                    older_than,
                    max_total,
                    dry_run,
                }),
            ),
        };
        GhCacheRequest {
            repo: args.repo,
            token: args.token,
            api_url: args.api_url,
            key_prefixes: args.key_prefix,
            format: args.format,
            prune,
        }
    }
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
