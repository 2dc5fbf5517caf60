//! Hard-coded paths outside Go source: `replace` and `use` directives of go.mod and go.work,
//! and Go's variables assigned in CI and build files.

use std::sync::LazyLock;

use regex::Regex;

use super::paths::{self, PathHit, Rule};

/// A path found on a line of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineHit {
    pub rule: Rule,
    pub line: u32,
    /// 1-based, in code points.
    pub column: u32,
    pub path: String,
    /// What was being set or declared: `replace`, `use`, `GOPATH`, `PATH`, …
    pub context: String,
}

/// `replace` (go.mod, go.work) and `use` (go.work) directives naming absolute local paths.
pub fn go_mod(src: &str, work_file: bool) -> Vec<LineHit> {
    let mut hits = Vec::new();
    let mut block: Option<String> = None;
    for (n, raw_line) in src.lines().enumerate() {
        let line = strip_comment(raw_line);
        let tokens = tokenize(line);
        let Some((first, rest)) = tokens.split_first() else {
            continue;
        };
        let (verb, args) = match &block {
            Some(_) if first.text == ")" => {
                block = None;
                continue;
            }
            Some(verb) => (verb.clone(), &tokens[..]),
            None => {
                if let [open] = rest
                    && open.text == "("
                {
                    block = Some(first.text.clone());
                    continue;
                }
                (first.text.clone(), rest)
            }
        };
        let target = match verb.as_str() {
            // replace old [v] => new [v]
            "replace" => args.iter().skip_while(|t| t.text != "=>").nth(1),
            "use" if work_file => args.first(),
            _ => None,
        };
        let Some(target) = target else {
            continue;
        };
        if is_absolute(&target.text) {
            hits.push(LineHit {
                rule: if verb == "replace" {
                    Rule::AbsoluteReplace
                } else {
                    Rule::AbsoluteUse
                },
                line: line_number(n),
                column: column(raw_line, target.offset),
                path: target.text.clone(),
                context: verb,
            });
        }
    }
    hits
}

/// The 1-based number of the line at index `n`.
fn line_number(n: usize) -> u32 {
    super::golex::saturating_u32(n).saturating_add(1)
}

/// Whether a go.mod path is absolute on any system: `/x`, `\x`, `C:\x`, `C:/x`.
fn is_absolute(path: &str) -> bool {
    match path.as_bytes() {
        [b'/' | b'\\', ..] => true,
        [drive, b':', b'\\' | b'/', ..] => drive.is_ascii_alphabetic(),
        _ => false,
    }
}

/// The line without a `//` comment (outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<u8> = None;
    let mut prev = b' ';
    // Bytes will do: every character looked for is ASCII, and no byte of a multi-byte
    // character is ASCII.
    for (i, &c) in line.as_bytes().iter().enumerate() {
        match quote {
            Some(q) if c == q && !(q == b'"' && prev == b'\\') => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'`' => quote = Some(c),
            None if c == b'/' && prev == b'/' => {
                // `i` is the second slash, so `i - 1`, the first, is a character boundary.
                return i
                    .checked_sub(1)
                    .and_then(|at| line.get(..at))
                    .unwrap_or(line);
            }
            None => {}
        }
        prev = c;
    }
    line
}

struct Token {
    text: String,
    offset: usize,
}

/// go.mod's tokens: words, `=>`, `(`, `)`, and quoted strings (unquoted here). Offsets are
/// bytes of `line`; tokens start and end at ASCII bytes or the line's end, so every slice
/// below is on character boundaries (and taken with `get` all the same).
fn tokenize(line: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = line.as_bytes().get(i) {
        match b {
            b' ' | b'\t' | b'\r' => i += 1,
            b'(' | b')' => {
                out.push(Token {
                    text: char::from(b).to_string(),
                    offset: i,
                });
                i += 1;
            }
            q @ (b'"' | b'`') => {
                let body_at = i + 1;
                let rest = line.get(body_at..).unwrap_or_default();
                let body_len = rest.find(char::from(q)).unwrap_or(rest.len());
                let body = rest.get(..body_len).unwrap_or_default();
                let text = if q == b'"' {
                    body.replace(r"\\", "\\").replace("\\\"", "\"")
                } else {
                    body.to_string()
                };
                out.push(Token { text, offset: i });
                // Past the closing quote (or the line's end, when there is none).
                i = body_at + body_len + 1;
            }
            _ => {
                let rest = line.get(i..).unwrap_or_default();
                let len = rest.find([' ', '\t', '\r', '(', ')']).unwrap_or(rest.len());
                out.push(Token {
                    text: rest.get(..len).unwrap_or_default().to_string(),
                    offset: i,
                });
                // A word is at least one byte: `b` is none of the bytes that end it.
                i += len.max(1);
            }
        }
    }
    out
}

/// Which build and CI files are read for assignments, by file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// GitHub workflow YAML: `KEY: value` and `KEY=value` in run scripts.
    Yaml,
    /// Shell, Makefile, Dockerfile, Jenkinsfile, PowerShell, batch: `KEY=value` and friends.
    Script,
}

/// Go's directory variables (and PATH) and the assignment that follows; one per line is
/// enough for the files this reads. Forms: `KEY=v`, `KEY := v`, `KEY ?= v`, `KEY += v`,
/// `$env:KEY = v`, `env.KEY = v`, `set KEY=v`, `setx KEY v`, `ENV KEY v`, `go env -w KEY=v`,
/// and in YAML `KEY: v`.
#[allow(
    clippy::expect_used,
    reason = "a constant pattern, compiled by every test"
)]
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?: ^ | [^A-Za-z0-9_] )
        (?P<key> GOROOT | GOPATH | GOCACHE | GOMODCACHE | GOBIN | GOENV | PATH )
        ["']?
        (?P<op> \s* (?: :?= | \?= | \+= | ::= ) \s* | :\s+ | \s+ )
        (?P<value> .* )
        "#,
    )
    .expect("valid regex")
});

/// Lines that add to GitHub's PATH file.
#[allow(
    clippy::expect_used,
    reason = "a constant pattern, compiled by every test"
)]
static GITHUB_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"GITHUB_PATH\b").expect("valid regex"));

/// Paths assigned to Go's variables (or added to PATH) in a CI or build file.
pub fn assignments(src: &str, dialect: Dialect, system_drive: u8) -> Vec<LineHit> {
    let mut hits = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let trimmed = line.trim_start();
        // Compared as bytes: the line's fourth byte may be inside a multi-byte character.
        if trimmed.starts_with('#')
            || trimmed.starts_with("//")
            || trimmed.starts_with("::")
            || trimmed
                .as_bytes()
                .get(..4)
                .is_some_and(|word| word.eq_ignore_ascii_case(b"rem "))
        {
            continue;
        }
        let mut push = |found: Vec<PathHit>, offset: usize, context: &str| {
            for h in found {
                hits.push(LineHit {
                    rule: h.rule,
                    line: line_number(n),
                    column: column(line, offset.saturating_add(h.start)),
                    path: h.path,
                    context: context.to_string(),
                });
            }
        };
        if let Some(c) = ASSIGNMENT.captures(line)
            && let (Some(key), Some(op), Some(value)) =
                (c.name("key"), c.name("op"), c.name("value"))
        {
            let op = op.as_str();
            // `KEY value` only where a word introduces it: ENV, setx.
            let spaced_ok = {
                let before = line.get(..key.start()).unwrap_or_default().trim_end();
                let word = before
                    .rsplit(|ch: char| ch.is_whitespace())
                    .next()
                    .unwrap_or("");
                word.eq_ignore_ascii_case("env") || word.eq_ignore_ascii_case("setx")
            };
            let yaml_ok = dialect == Dialect::Yaml;
            let accepted = if op.trim().is_empty() {
                spaced_ok
            } else if op.trim_start().starts_with(':') && !op.contains('=') {
                yaml_ok
            } else {
                true
            };
            if accepted {
                let found = paths::find(value.as_str(), system_drive);
                if !found.is_empty() {
                    push(found, value.start(), key.as_str());
                    continue;
                }
            }
        }
        if GITHUB_PATH.is_match(line) {
            push(paths::find(line, system_drive), 0, "GITHUB_PATH");
        }
    }
    hits
}

/// The 1-based code-point column of byte `offset` in `line`: the code points that start
/// before it (an offset inside a character or past the end counts as far as it reaches).
fn column(line: &str, offset: usize) -> u32 {
    let before = line.as_bytes().get(..offset).unwrap_or(line.as_bytes());
    super::golex::code_points(before).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mod_hits(src: &str, work: bool) -> Vec<(Rule, u32, u32, String)> {
        go_mod(src, work)
            .into_iter()
            .map(|h| (h.rule, h.line, h.column, h.path))
            .collect()
    }

    #[test]
    fn replace_and_use_directives() {
        let gomod = "module example.com/app // C:\\not\\this\n\ngo 1.22\n\nreplace example.com/lib => C:\\Users\\me\\src\\lib\nreplace example.com/rel => ../rel\nreplace (\n\texample.com/x v1.0.0 => /home/me/x v1.2.0\n\texample.com/y => example.com/fork v1.0.0\n\t\"example.com/z\" => \"/opt/z dir\" // quoted\n)\nrequire example.com/lib v1.0.0\n";
        assert_eq!(
            mod_hits(gomod, false),
            [
                (
                    Rule::AbsoluteReplace,
                    5,
                    28,
                    r"C:\Users\me\src\lib".to_string()
                ),
                (Rule::AbsoluteReplace, 8, 26, "/home/me/x".to_string()),
                (Rule::AbsoluteReplace, 10, 21, "/opt/z dir".to_string()),
            ]
        );
        let gowork = "go 1.22\n\nuse ./app\nuse (\n\t./lib\n\tD:/work/tool\n)\nuse /srv/other\n";
        assert_eq!(
            mod_hits(gowork, true),
            [
                (Rule::AbsoluteUse, 6, 2, "D:/work/tool".to_string()),
                (Rule::AbsoluteUse, 8, 5, "/srv/other".to_string()),
            ]
        );
        // go.mod has no use directive.
        assert_eq!(mod_hits("use /x\n", false), []);
    }

    fn assigned(src: &str, dialect: Dialect) -> Vec<(Rule, u32, u32, String, String)> {
        assignments(src, dialect, b'C')
            .into_iter()
            .map(|h| (h.rule, h.line, h.column, h.context, h.path))
            .collect()
    }

    #[test]
    fn columns_count_code_points_and_never_panic() {
        assert_eq!(column("aé€x", 0), 1);
        assert_eq!(column("aé€x", 3), 3);
        assert_eq!(column("aé€x", 6), 4);
        // Inside a character: as far as it reaches; past the end: the line's end.
        assert_eq!(column("aé€x", 2), 3);
        assert_eq!(column("aé€x", 99), 5);
        assert_eq!(line_number(usize::MAX), u32::MAX);
    }

    /// Lines whose first four bytes end inside a multi-byte character: the check for a batch
    /// file's `REM` once sliced them as text and panicked.
    #[test]
    fn lines_starting_with_multi_byte_characters_do_not_panic() {
        for dialect in [Dialect::Yaml, Dialect::Script] {
            for src in [
                "- 名前: x\n",
                "ab€\n",
                ": 日本語のコメント\n",
                "é\n",
                "aé\n",
                "abcé\n",
                "re€ GOPATH=C:\\x\n",
            ] {
                let _ = assigned(src, dialect);
            }
        }
        // What follows such a line is still read; a real `REM` line still is not.
        let src = "ab€\nGOPATH=C:\\x\nREM GOPATH=C:\\y\n";
        assert_eq!(
            assigned(src, Dialect::Script),
            [(Rule::SystemDrivePath, 2, 8, "GOPATH".into(), r"C:\x".into()),]
        );
    }

    #[test]
    fn assignments_in_every_dialect() {
        use Rule::*;
        let yaml = "env:\n  GOPATH: C:\\Users\\runneradmin\\go\n  GOFLAGS: -mod=mod\n  # GOCACHE: C:\\commented\nsteps:\n  - run: echo \"D:\\go\\bin\" >> \"$GITHUB_PATH\"\n  - run: export GOCACHE=/home/runner/.cache/go-build\n";
        assert_eq!(
            assigned(yaml, Dialect::Yaml),
            [
                (
                    SystemDrivePath,
                    2,
                    11,
                    "GOPATH".into(),
                    r"C:\Users\runneradmin\go".into()
                ),
                (DrivePath, 6, 16, "GITHUB_PATH".into(), r"D:\go\bin".into()),
                (
                    UserHomePath,
                    7,
                    25,
                    "GOCACHE".into(),
                    "/home/runner/.cache/go-build".into()
                ),
            ]
        );
        let script = "export PATH=/usr/local/go/bin:$PATH\nGOMODCACHE ?= /root/go/pkg/mod\nENV GOROOT /usr/local/go\nset GOBIN=C:\\Go\\bin\n$env:GOENV = \"$env:APPDATA\\go\\env\"\nsetx GOPATH %USERPROFILE%\\go\nenv.GOCACHE = '/Users/ci/Library/Caches/go-build'\necho GOPATH is great /usr/local/go\nREM set GOPATH=C:\\x\n";
        assert_eq!(
            assigned(script, Dialect::Script),
            [
                (GorootPath, 1, 13, "PATH".into(), "/usr/local/go/bin".into()),
                (
                    GoCachePath,
                    2,
                    15,
                    "GOMODCACHE".into(),
                    "/root/go/pkg/mod".into()
                ),
                (GorootPath, 3, 12, "GOROOT".into(), "/usr/local/go".into()),
                (SystemDrivePath, 4, 11, "GOBIN".into(), r"C:\Go\bin".into()),
                (
                    UserProfilePath,
                    5,
                    15,
                    "GOENV".into(),
                    r"$env:APPDATA\go\env".into()
                ),
                (
                    UserProfilePath,
                    6,
                    13,
                    "GOPATH".into(),
                    r"%USERPROFILE%\go".into()
                ),
                (
                    UserHomePath,
                    7,
                    16,
                    "GOCACHE".into(),
                    "/Users/ci/Library/Caches/go-build".into()
                ),
            ]
        );
        // `KEY: value` is YAML only; other variables do not count.
        assert_eq!(assigned("GOPATH: C:\\x\n", Dialect::Script), []);
        assert_eq!(
            assigned("MYGOPATH=C:\\x\nGOFLAGS=C:\\x\n", Dialect::Script),
            []
        );
    }
}
