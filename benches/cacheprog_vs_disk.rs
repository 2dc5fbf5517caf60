//! What `go-disk-guard cacheprog` costs a build: `go build ./...` of a generated module of a
//! few hundred packages, with GOCACHEPROG set to the cache program against Go's plain disk
//! cache, cold (an empty cache: the standard library and every package compiled and stored)
//! and warm (everything a hit). The two run alternately, several rounds, and the medians are
//! compared.
//!
//! Run: `cargo bench --bench cacheprog_vs_disk` (options after `--`: `--packages N`,
//! `--rounds N`, `--go GO`). The go command is `--go`, else `$GO_DISK_GUARD_TEST_GO`, else
//! `go` on PATH. Builds are offline (GOPROXY=off, standard library only).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() {
    let mut packages = 300usize;
    let mut rounds = 5usize;
    let mut go: Option<PathBuf> = std::env::var_os("GO_DISK_GUARD_TEST_GO").map(PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--packages" => packages = value().parse().expect("--packages N"),
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            "--go" => go = Some(PathBuf::from(value())),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let go = go.unwrap_or_else(|| PathBuf::from("go"));
    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("module");
    generate(&module, packages);
    println!("go build ./... of {packages} generated packages, {rounds} rounds, median seconds");

    let mut times = Times::default();
    for round in 0..rounds {
        for prog in [false, true] {
            let cache = work.path().join(format!("cache-{round}-{prog}"));
            let cold = build(&go, &module, &cache, prog, work.path());
            let warm = build(&go, &module, &cache, prog, work.path());
            let (c, w) = if prog {
                (&mut times.prog_cold, &mut times.prog_warm)
            } else {
                (&mut times.disk_cold, &mut times.disk_warm)
            };
            c.push(cold);
            w.push(warm);
            fs::remove_dir_all(&cache).unwrap();
        }
    }
    let (dc, pc) = (median(&mut times.disk_cold), median(&mut times.prog_cold));
    let (dw, pw) = (median(&mut times.disk_warm), median(&mut times.prog_warm));
    println!(
        "cold: disk cache {dc:.3} s, cacheprog {pc:.3} s, ratio {:.2}x",
        pc / dc
    );
    println!(
        "warm: disk cache {dw:.3} s, cacheprog {pw:.3} s, ratio {:.2}x",
        pw / dw
    );
}

#[derive(Default)]
struct Times {
    disk_cold: Vec<f64>,
    disk_warm: Vec<f64>,
    prog_cold: Vec<f64>,
    prog_warm: Vec<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds for one `go build ./...` in `module` with the cache at `cache`.
fn build(go: &Path, module: &Path, cache: &Path, prog: bool, home: &Path) -> f64 {
    let mut cmd = Command::new(go);
    cmd.args(["build", "./..."])
        .current_dir(module)
        .env("GOCACHE", cache)
        .env("GOPATH", home.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0")
        .env_remove("GOCACHEPROG");
    if prog {
        cmd.env(
            "GOCACHEPROG",
            format!(
                "{} cacheprog --dir {} --max-size 100GiB",
                env!("CARGO_BIN_EXE_go-disk-guard"),
                cache.display()
            ),
        );
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
