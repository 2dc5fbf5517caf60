//! What `go-disk-guard cacheprog` costs a build, and what its remote tier saves: a target
//! (`go build ./...` of a generated module of a few hundred packages, or `go build std`)
//! built cold (an empty cache) and warm (everything a hit) with
//!
//! * Go's plain disk cache;
//! * a minimal GOCACHEPROG program in Go (`benches/baseline_cacheprog`: disk only,
//!   DiskPath handed out directly, requests answered concurrently), the protocol's floor;
//! * `go-disk-guard cacheprog`;
//! * `go-disk-guard cacheprog --remote` against SeaweedFS on loopback (when
//!   `$GO_DISK_GUARD_TEST_WEED` names `weed`): a cold build that fills the bucket, then a
//!   *warm remote* build (another, empty local directory: everything comes from the bucket),
//!   then a warm build with the remote configured but idle (every lookup a local hit).
//!
//! Each round runs them in turn; the medians are compared.
//!
//! Run: `cargo bench --bench cacheprog_vs_disk` (options after `--`: `--packages N`,
//! `--rounds N`, `--go GO`, `--target module|std|both`). The go command is `--go`, else
//! `$GO_DISK_GUARD_TEST_GO`, else `go` on PATH. Builds are offline (GOPROXY=off, standard
//! library only).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[cfg(all(unix, feature = "remote"))]
#[allow(dead_code)]
#[path = "../tests/it/common/seaweed.rs"]
mod seaweed;

/// What the tests' helper calls when a prerequisite is missing; the remote rounds run only
/// when `weed` is named, so here it is never reached.
#[cfg(all(unix, feature = "remote"))]
fn missing(what: &str) -> ! {
    panic!("missing prerequisite: {what}")
}

/// The bench's options (after `--`).
struct Options {
    packages: usize,
    rounds: usize,
    target: String,
    go: PathBuf,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            packages: 300,
            rounds: 5,
            target: "module".to_string(),
            go: std::env::var_os("GO_DISK_GUARD_TEST_GO")
                .map_or_else(|| "go".into(), PathBuf::from),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
            match arg.as_str() {
                "--packages" => options.packages = value().parse().expect("--packages N"),
                "--rounds" => options.rounds = value().parse().expect("--rounds N"),
                "--go" => options.go = PathBuf::from(value()),
                "--target" => options.target = value(),
                "--bench" => {}
                other => panic!("unknown argument {other}"),
            }
        }
        options
    }

    /// The targets to build: a name and the go command's arguments.
    fn targets(&self) -> &'static [(&'static str, &'static [&'static str])] {
        match self.target.as_str() {
            "module" => &[("module", &["build", "./..."])],
            "std" => &[("std", &["build", "std"])],
            "both" => &[("module", &["build", "./..."]), ("std", &["build", "std"])],
            other => panic!("--target module|std|both, not {other}"),
        }
    }
}

/// Where the builds run: the generated module, the baseline program, the remote if any.
struct Bench {
    options: Options,
    work: tempfile::TempDir,
    module: PathBuf,
    baseline: PathBuf,
    remote: Option<Remote>,
}

fn main() {
    let options = Options::parse();
    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("module");
    generate(&module, options.packages);
    let baseline = build_baseline(&options.go, work.path());
    let bench = Bench {
        options,
        module,
        baseline,
        remote: Remote::start(),
        work,
    };
    for (name, build_args) in bench.options.targets() {
        let what = if *name == "module" {
            format!(
                "go build ./... of {} generated packages",
                bench.options.packages
            )
        } else {
            "go build std".to_string()
        };
        println!("{what}, {} rounds, median seconds", bench.options.rounds);
        let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for round in 0..bench.options.rounds {
            bench.round(name, build_args, round, &mut times);
        }
        print_medians(&mut times);
    }
}

impl Bench {
    /// One round on target `name`: each cache cold then warm, and the remote's builds.
    fn round(
        &self,
        name: &str,
        build_args: &[&str],
        round: usize,
        times: &mut BTreeMap<&'static str, Vec<f64>>,
    ) {
        let dir = |k: &str| self.work.path().join(format!("cache-{name}-{round}-{k}"));
        let b = |cache: &Path, prog: &Prog| {
            build(
                &self.options.go,
                &self.module,
                cache,
                prog,
                build_args,
                self.work.path(),
            )
        };
        let mut record = |k: &'static str, secs: f64| times.entry(k).or_default().push(secs);
        let disk = dir("disk");
        record("disk cold", b(&disk, &Prog::None));
        record("disk warm", b(&disk, &Prog::None));
        let base = dir("baseline");
        let bp = Prog::Baseline(self.baseline.clone());
        record("baseline cold", b(&base, &bp));
        record("baseline warm", b(&base, &bp));
        let ours = dir("cacheprog");
        record("cacheprog cold", b(&ours, &Prog::Ours));
        record("cacheprog warm", b(&ours, &Prog::Ours));
        if let Some(remote) = &self.remote {
            let url = format!("{}/{name}-{round}", remote.url());
            let filled = dir("remote-fill");
            let warm_remote = dir("remote-warm");
            let p = Prog::Remote(url, remote.env());
            record("remote fill (cold)", b(&filled, &p));
            record("warm remote, cold local", b(&warm_remote, &p));
            record("cacheprog warm, remote idle", b(&warm_remote, &p));
        }
        for k in [
            "disk",
            "baseline",
            "cacheprog",
            "remote-fill",
            "remote-warm",
        ] {
            let _ = fs::remove_dir_all(dir(k));
        }
    }
}

/// Prints the median of each build, then the ratios compared.
fn print_medians(times: &mut BTreeMap<&str, Vec<f64>>) {
    let mut m: BTreeMap<&str, f64> = BTreeMap::new();
    for (k, v) in times.iter_mut() {
        m.insert(k, median(v));
    }
    for (k, v) in &m {
        println!("  {k:<30} {v:8.3} s");
    }
    let ratios = [
        ("cacheprog cold / disk cold", "cacheprog cold", "disk cold"),
        ("baseline warm / disk warm", "baseline warm", "disk warm"),
        ("cacheprog warm / disk warm", "cacheprog warm", "disk warm"),
        (
            "cacheprog warm / baseline warm",
            "cacheprog warm",
            "baseline warm",
        ),
        (
            "cacheprog warm, remote idle / baseline warm",
            "cacheprog warm, remote idle",
            "baseline warm",
        ),
        (
            "warm remote / disk cold",
            "warm remote, cold local",
            "disk cold",
        ),
        (
            "warm remote / cacheprog cold",
            "warm remote, cold local",
            "cacheprog cold",
        ),
        (
            "warm remote / disk warm",
            "warm remote, cold local",
            "disk warm",
        ),
        (
            "warm remote / cacheprog warm",
            "warm remote, cold local",
            "cacheprog warm",
        ),
    ];
    for (label, a, b) in ratios {
        if let Some((a, b)) = m.get(a).zip(m.get(b)) {
            println!("  {label:<50} {:.2}x", a / b);
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Which cache serves the build.
enum Prog {
    /// Go's own disk cache.
    None,
    /// The minimal Go program at this path.
    Baseline(PathBuf),
    /// `go-disk-guard cacheprog`.
    Ours,
    /// `go-disk-guard cacheprog --remote URL`, with the AWS variables it needs.
    Remote(String, Vec<(String, String)>),
}

/// The SeaweedFS server the remote rounds use, if `weed` is there.
struct Remote {
    #[cfg(all(unix, feature = "remote"))]
    weed: seaweed::Weed,
}

impl Remote {
    #[cfg(all(unix, feature = "remote"))]
    fn start() -> Option<Remote> {
        if std::env::var_os(seaweed::WEED_ENV).is_none() {
            println!(
                "(no {}: the remote tier is not measured)",
                seaweed::WEED_ENV
            );
            return None;
        }
        Some(Remote {
            weed: seaweed::Weed::start(),
        })
    }

    #[cfg(not(all(unix, feature = "remote")))]
    fn start() -> Option<Remote> {
        println!("(built without the remote tier: not measured)");
        None
    }

    #[cfg(all(unix, feature = "remote"))]
    fn url(&self) -> String {
        format!("s3://{}", seaweed::BUCKET)
    }

    #[cfg(all(unix, feature = "remote"))]
    fn env(&self) -> Vec<(String, String)> {
        self.weed.aws_env()
    }

    #[cfg(not(all(unix, feature = "remote")))]
    fn url(&self) -> String {
        String::new()
    }

    #[cfg(not(all(unix, feature = "remote")))]
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Builds the minimal Go cache program into `work`.
fn build_baseline(go: &Path, work: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/baseline_cacheprog");
    let exe = work.join("baseline-cacheprog");
    let out = Command::new(go)
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(&source)
        .env("GOCACHE", work.join("baseline-build-cache"))
        .env("GOPATH", work.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0")
        .env_remove("GOCACHEPROG")
        .output()
        .expect("running go");
    assert!(
        out.status.success(),
        "building the baseline cache program:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Seconds for one go command (`args`) in `module` with the cache at `cache`.
fn build(go: &Path, module: &Path, cache: &Path, prog: &Prog, args: &[&str], home: &Path) -> f64 {
    let mut cmd = Command::new(go);
    cmd.args(args)
        .current_dir(module)
        .env("GOCACHE", cache)
        .env("GOPATH", home.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0")
        .env_remove("GOCACHEPROG");
    let ours = |remote: Option<&str>| {
        format!(
            "{} cacheprog --dir {} --max-size 100GiB{}",
            env!("CARGO_BIN_EXE_go-disk-guard"),
            cache.display(),
            remote.map_or(String::new(), |u| format!(" --remote {u}"))
        )
    };
    match prog {
        Prog::None => {}
        Prog::Baseline(exe) => {
            cmd.env(
                "GOCACHEPROG",
                format!("{} {}", exe.display(), cache.display()),
            );
        }
        Prog::Ours => {
            cmd.env("GOCACHEPROG", ours(None));
        }
        Prog::Remote(url, env) => {
            cmd.env("GOCACHEPROG", ours(Some(url)));
            for (k, v) in env {
                cmd.env(k, v);
            }
        }
    }
    let started = Instant::now();
    let out = cmd.output().expect("running go");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

/// A module of `n` packages: package i imports up to three earlier ones and a few standard
/// packages, so the graph is wide and deep like a real service's.
fn generate(dir: &Path, n: usize) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("go.mod"), "module example.com/bench\n\ngo 1.22\n").unwrap();
    const STD: &[&str] = &[
        "strings",
        "strconv",
        "sort",
        "bytes",
        "errors",
        "fmt",
        "encoding/json",
    ];
    for i in 0..n {
        let pkg = dir.join(format!("p{i:04}"));
        fs::create_dir_all(&pkg).unwrap();
        let deps: Vec<usize> = [i / 2, i / 3, i.saturating_sub(1)]
            .into_iter()
            .filter(|&d| d < i)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut src = format!("package p{i:04}\n\nimport (\n");
        src.push_str(&format!("\t{:?}\n", STD[i % STD.len()]));
        for d in &deps {
            src.push_str(&format!("\t\"example.com/bench/p{d:04}\"\n"));
        }
        src.push_str(")\n\n");
        src.push_str(&format!("var _ = {}\n\n", std_use(STD[i % STD.len()])));
        let calls: Vec<String> = deps.iter().map(|d| format!("p{d:04}.F{d}(x)")).collect();
        src.push_str(&format!(
            "// F{i} is one of many.\nfunc F{i}(x int) int {{\n\ty := x*{} + {i}\n\tfor k := 0; k < {}; k++ {{\n\t\ty ^= k << 3\n\t}}\n\treturn y{}\n}}\n",
            i % 7 + 1,
            i % 13 + 2,
            calls.iter().map(|c| format!(" + {c}")).collect::<String>()
        ));
        // Some bulk, so compiles are not trivially small.
        for j in 0..20 {
            src.push_str(&format!(
                "\ntype T{j} struct {{ A, B int; S string }}\n\nfunc (t T{j}) Sum() int {{ return t.A + t.B + len(t.S) + {j} }}\n"
            ));
        }
        fs::write(pkg.join("p.go"), src).unwrap();
    }
}

fn std_use(pkg: &str) -> &'static str {
    match pkg {
        "strings" => "strings.ToUpper",
        "strconv" => "strconv.Itoa",
        "sort" => "sort.Ints",
        "bytes" => "bytes.Equal",
        "errors" => "errors.New",
        "fmt" => "fmt.Sprint",
        "encoding/json" => "json.Marshal",
        _ => unreachable!(),
    }
}
