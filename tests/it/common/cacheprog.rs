//! Driving `go-disk-guard cacheprog` over its pipes, and measuring what a cache holds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_go-disk-guard");

/// Bytes the cache's entries (`…-a`, `…-d`) occupy, as `du` measures them.
pub fn du_entries(cache: &Path) -> u64 {
    let out = Command::new("du")
        .args(["-a", "--block-size=1"])
        .arg(cache)
        .output()
        .unwrap();
    assert!(out.status.success(), "du failed");
    // Paths may hold any bytes: split them as bytes.
    out.stdout
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let tab = line.iter().position(|&b| b == b'\t')?;
            let size = std::str::from_utf8(line.get(..tab)?).ok()?;
            let path = Path::new(std::ffi::OsStr::from_bytes(line.get(tab + 1..)?));
            let name = path.file_name()?.as_bytes();
            let parent = path.parent()?.file_name()?.as_bytes();
            let in_shard = parent.len() == 2 && parent.iter().all(u8::is_ascii_hexdigit);
            (in_shard && (name.ends_with(b"-a") || name.ends_with(b"-d")))
                .then(|| size.parse::<u64>().unwrap())
        })
        .sum()
}

/// Runs `cmd`, which must succeed (its standard error shown if not).
#[track_caller]
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The counters the cache programs recorded in the directory.
pub fn counts(cache: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(cache.join("cacheprog/state.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["counts"].clone()
}

/// The counter `key` of `counts`.
#[track_caller]
pub fn count(counts: &serde_json::Value, key: &str) -> u64 {
    counts[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {counts}"))
}

/// How many packages a `go build -x`'s standard error shows compiled.
pub fn compiles_in(x_output: &[u8]) -> usize {
    String::from_utf8_lossy(x_output)
        .lines()
        .filter(|l| l.contains("/compile ") && l.contains(" -o "))
        .count()
}

/// A cache program driven directly over its pipes.
pub struct Prog {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: BufReader<ChildStdout>,
}

impl Prog {
    pub fn start(dir: &Path, budget: &[&str]) -> Prog {
        let mut child = Command::new(super::bin())
            .args(["cacheprog", "--dir"])
            .arg(dir)
            .args(budget)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut hello = String::new();
        stdout.read_line(&mut hello).unwrap();
        assert!(
            hello.contains("\"KnownCommands\":[\"get\",\"put\",\"close\"]"),
            "{hello}"
        );
        Prog {
            child,
            stdin,
            stdout,
        }
    }

    pub fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn response(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn get_line(id: i64, action: u8) -> String {
    format!(
        "{{\"ID\":{id},\"Command\":\"get\",\"ActionID\":\"{}\"}}\n\n",
        b64(&[action; 32])
    )
}

pub fn put_head(id: i64, action: u8, output: u8, size: usize) -> String {
    format!(
        "{{\"ID\":{id},\"Command\":\"put\",\"ActionID\":\"{}\",\"OutputID\":\"{}\",\"BodySize\":{size}}}\n\n",
        b64(&[action; 32]),
        b64(&[output; 32])
    )
}
