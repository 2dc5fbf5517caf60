//! Findings a repository has said to leave alone: inline comments
//! (`//go-disk-guard:ignore GDG004 reason`, `# go-disk-guard:ignore GDG001`,
//! `# go-disk-guard:ignore-file GDG004`), and the `scan:` section of `.go-disk-guard.yml`
//! (`exclude:` path globs, `disable:` rules).

use serde::Serialize;

use super::paths::Rule;

/// The marker an inline comment starts with.
const MARKER: &str = "go-disk-guard:ignore";

/// Why a finding is not reported.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Suppression {
    /// An inline comment in the file, with the reason it gives (possibly empty).
    Comment { line: u32, reason: String },
    /// An `exclude:` glob of the configuration file.
    Excluded { glob: String },
    /// A rule the configuration file's `disable:` turns off.
    Disabled,
}

impl Suppression {
    /// SARIF's suppression kind: in the source, or outside it.
    pub fn sarif_kind(&self) -> &'static str {
        match self {
            Suppression::Comment { .. } => "inSource",
            Suppression::Excluded { .. } | Suppression::Disabled => "external",
        }
    }

    pub fn justification(&self) -> String {
        match self {
            Suppression::Comment { line, reason } if reason.is_empty() => {
                format!("go-disk-guard:ignore on line {line}")
            }
            Suppression::Comment { line, reason } => {
                format!("go-disk-guard:ignore on line {line}: {reason}")
            }
            Suppression::Excluded { glob } => format!("excluded by scan.exclude {glob}"),
            Suppression::Disabled => "rule disabled by scan.disable".to_string(),
        }
    }
}

/// An inline comment: the rules it names (none: every rule), and where it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment's line (1-based).
    pub line: u32,
    /// `ignore-file`: every line of the file.
    pub whole_file: bool,
    /// A comment alone on its line also covers the next line.
    pub covers_next: bool,
    pub rules: Vec<Rule>,
    pub reason: String,
}

impl Comment {
    /// Whether this comment suppresses `rule` on `line`.
    pub fn covers(&self, line: u32, rule: Rule) -> bool {
        let here = self.whole_file
            || line == self.line
            || (self.covers_next && Some(line) == self.line.checked_add(1));
        here && (self.rules.is_empty() || self.rules.contains(&rule))
    }
}

/// The comment markers a suppression may follow: Go and Jenkinsfile `//` and `/*`; shell,
/// YAML, Makefile, PowerShell and Dockerfile `#`; batch `REM` and `::`.
fn after_comment_start(before: &str) -> Option<&str> {
    let t = before.trim_end();
    for start in ["//", "/*", "#", "::"] {
        if let Some(rest) = t.strip_suffix(start) {
            return Some(rest);
        }
    }
    let bytes = t.as_bytes();
    let rem = bytes.len().checked_sub(3).and_then(|at| bytes.get(at..))?;
    if rem.eq_ignore_ascii_case(b"rem") {
        let at = bytes.len().checked_sub(3)?;
        return t.get(..at);
    }
    None
}

/// The inline suppression comments in `src`.
pub fn comments(src: &str) -> Vec<Comment> {
    if memchr::memmem::find(src.as_bytes(), MARKER.as_bytes()).is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let (Some(before), Some(after)) = (line.get(..at), line.get(at + MARKER.len()..)) else {
            continue;
        };
        let Some(code) = after_comment_start(before) else {
            continue;
        };
        let (whole_file, after) = match after.strip_prefix("-file") {
            Some(rest) => (true, rest),
            None => (false, after),
        };
        // The marker must end where the word does: `go-disk-guard:ignored` is not one.
        if !after.is_empty() && !after.starts_with([' ', '\t', ',']) {
            continue;
        }
        let mut rules = Vec::new();
        let mut rest = after.trim_start_matches([' ', '\t', ',']);
        while let Some(word) = rest
            .split([' ', '\t', ','])
            .next()
            .filter(|w| !w.is_empty())
        {
            let Some(rule) = Rule::parse(word) else {
                break;
            };
            rules.push(rule);
            rest = rest
                .get(word.len()..)
                .unwrap_or_default()
                .trim_start_matches([' ', '\t', ',']);
        }
        let reason = rest
            .trim()
            .trim_end_matches("*/")
            .trim_end_matches("#>")
            .trim()
            .to_string();
        out.push(Comment {
            line: super::golex::saturating_u32(n).saturating_add(1),
            whole_file,
            covers_next: code.trim().is_empty(),
            rules,
            reason,
        });
    }
    out
}

/// Whether the glob `pattern` matches `path` (`/`-separated, relative to where the scan
/// started). `*` and `?` match within one name, `**` any number of names; a pattern without a
/// `/` matches any one name along the path (so `testdata` excludes every `testdata`
/// directory, `*.ps1` every PowerShell script); one ending in `/` a directory and everything
/// under it; a leading `/` or `./` anchors at the top.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    let path = path.strip_prefix("./").unwrap_or(path);
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    let trimmed = pattern
        .strip_prefix("./")
        .or_else(|| pattern.strip_prefix('/'))
        .unwrap_or(pattern);
    let dir = trimmed.ends_with('/');
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() {
        return false;
    }
    if !trimmed.contains('/') && !pattern.starts_with(['/', '.']) {
        return names.iter().any(|n| name_matches(trimmed, n));
    }
    let mut parts: Vec<&str> = trimmed.split('/').filter(|p| !p.is_empty()).collect();
    if dir {
        parts.push("**");
    }
    // A pattern naming a directory covers what is under it.
    let under: Vec<&str> = parts.iter().copied().chain(["**"]).collect();
    segments_match(&parts, &names) || (!dir && segments_match(&under, &names))
}

/// `**`-aware matching of pattern segments against names, by dynamic programming over the
/// two lists (no backtracking, so no pattern is slow).
fn segments_match(parts: &[&str], names: &[&str]) -> bool {
    // can[j]: the parts so far match the first j names.
    let mut can = vec![false; names.len() + 1];
    if let Some(first) = can.first_mut() {
        *first = true;
    }
    for part in parts {
        let mut next = vec![false; names.len() + 1];
        if *part == "**" {
            let mut any = false;
            for (j, slot) in next.iter_mut().enumerate() {
                any |= can.get(j).copied().unwrap_or(false);
                *slot = any;
            }
        } else {
            for (j, name) in names.iter().enumerate() {
                if can.get(j).copied().unwrap_or(false)
                    && name_matches(part, name)
                    && let Some(slot) = next.get_mut(j + 1)
                {
                    *slot = true;
                }
            }
        }
        can = next;
    }
    can.last().copied().unwrap_or(false)
}

/// `*` (any run of characters) and `?` (one character) within one name; the classic
/// linear-backtrack wildcard match, over characters.
fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(j) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p.get(i..).unwrap_or_default().iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_in_every_syntax() {
        let src = "x := \"C:\\\\x\" //go-disk-guard:ignore GDG001 a fixture\n# go-disk-guard:ignore GDG004,GDG007 the CI user\nexport GOPATH=/home/ci/go\nREM go-disk-guard:ignore-file\n  :: go-disk-guard:ignored GDG001\necho go-disk-guard:ignore GDG001\n";
        let c = comments(src);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(
            (
                c[0].line,
                c[0].covers_next,
                &c[0].rules,
                c[0].reason.as_str()
            ),
            (1, false, &vec![Rule::SystemDrivePath], "a fixture")
        );
        assert!(c[0].covers(1, Rule::SystemDrivePath));
        assert!(!c[0].covers(2, Rule::SystemDrivePath));
        assert!(!c[0].covers(1, Rule::UserHomePath));
        assert_eq!(c[1].rules, [Rule::UserHomePath, Rule::GoCachePath]);
        assert!(c[1].covers(3, Rule::UserHomePath));
        assert!(c[2].whole_file && c[2].rules.is_empty());
        assert!(c[2].covers(99, Rule::AbsoluteUse));
        // A rule named by its name counts too.
        assert_eq!(
            comments("# go-disk-guard:ignore user-home-path\n")[0].rules,
            [Rule::UserHomePath]
        );
    }

    #[test]
    fn globs() {
        for (pattern, path) in [
            ("testdata", "a/testdata/x.go"),
            ("*.ps1", "scripts/env.ps1"),
            ("scripts/", "scripts/a/b.sh"),
            ("scripts", "scripts/a/b.sh"),
            ("/scripts/*.sh", "scripts/b.sh"),
            ("**/gen/*.go", "a/b/gen/x.go"),
            ("docs/**", "docs/a/b/c.md"),
            ("a/*/c.go", "a/b/c.go"),
            ("internal/legacy", "internal/legacy/x.go"),
        ] {
            assert!(glob_matches(pattern, path), "{pattern} {path}");
        }
        for (pattern, path) in [
            ("testdata", "a/testdatum/x.go"),
            ("/scripts/*.sh", "x/scripts/b.sh"),
            ("a/*/c.go", "a/b/d/c.go"),
            ("", "a"),
            ("/", "a"),
        ] {
            assert!(!glob_matches(pattern, path), "{pattern} {path}");
        }
    }
}
