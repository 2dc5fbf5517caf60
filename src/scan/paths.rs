//! Hard-coded paths that pin Go or its caches to a drive or a user, found in a piece of text
//! (a string literal's value, an assigned value), and the rules that name them.

use serde::Serialize;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Test data: a path in a test, a fixture or an example, which pins no build.
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// What was found. The ids (`GDG001`, …) and names are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    SystemDrivePath,
    DrivePath,
    UserProfilePath,
    UserHomePath,
    HomeGoPath,
    GorootPath,
    GoCachePath,
    AbsoluteReplace,
    AbsoluteUse,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::SystemDrivePath,
        Rule::DrivePath,
        Rule::UserProfilePath,
        Rule::UserHomePath,
        Rule::HomeGoPath,
        Rule::GorootPath,
        Rule::GoCachePath,
        Rule::AbsoluteReplace,
        Rule::AbsoluteUse,
    ];

    /// The rule an id (`GDG004`) or a name (`user-home-path`) stands for, in any case.
    pub fn parse(word: &str) -> Option<Rule> {
        Rule::ALL
            .into_iter()
            .find(|r| word.eq_ignore_ascii_case(r.id()) || word.eq_ignore_ascii_case(r.name()))
    }

    /// The rule's place in [`Rule::ALL`] (SARIF's `ruleIndex`).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn id(self) -> &'static str {
        match self {
            Rule::SystemDrivePath => "GDG001",
            Rule::DrivePath => "GDG002",
            Rule::UserProfilePath => "GDG003",
            Rule::UserHomePath => "GDG004",
            Rule::HomeGoPath => "GDG005",
            Rule::GorootPath => "GDG006",
            Rule::GoCachePath => "GDG007",
            Rule::AbsoluteReplace => "GDG008",
            Rule::AbsoluteUse => "GDG009",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rule::SystemDrivePath => "system-drive-path",
            Rule::DrivePath => "drive-path",
            Rule::UserProfilePath => "user-profile-go-path",
            Rule::UserHomePath => "user-home-path",
            Rule::HomeGoPath => "home-go-path",
            Rule::GorootPath => "fixed-goroot",
            Rule::GoCachePath => "go-cache-path",
            Rule::AbsoluteReplace => "absolute-replace",
            Rule::AbsoluteUse => "absolute-use",
        }
    }

    pub fn level(self) -> Level {
        match self {
            Rule::SystemDrivePath
            | Rule::UserHomePath
            | Rule::GoCachePath
            | Rule::AbsoluteReplace
            | Rule::AbsoluteUse => Level::Error,
            Rule::DrivePath | Rule::UserProfilePath | Rule::HomeGoPath | Rule::GorootPath => {
                Level::Warning
            }
        }
    }

    /// One line: what the rule finds.
    pub fn description(self) -> &'static str {
        match self {
            Rule::SystemDrivePath => "A hard-coded path on the system drive",
            Rule::DrivePath => "A hard-coded path on a fixed drive letter",
            Rule::UserProfilePath => {
                "A Go directory under %USERPROFILE%, %LOCALAPPDATA% or %APPDATA%, written out"
            }
            Rule::UserHomePath => "A hard-coded path in one user's home directory",
            Rule::HomeGoPath => "A Go directory assumed at ~/go",
            Rule::GorootPath => "A Go installation assumed at /usr/local/go",
            Rule::GoCachePath => {
                "A hard-coded path into a module cache (pkg/mod) or build cache (go-build)"
            }
            Rule::AbsoluteReplace => "A replace directive pointing at an absolute local path",
            Rule::AbsoluteUse => "A go.work use directive naming an absolute path",
        }
    }

    /// Why it breaks, and what to do instead.
    pub fn help(self) -> &'static str {
        match self {
            Rule::SystemDrivePath | Rule::DrivePath => {
                "The path only exists on machines laid out like the one it was written on: moving \
                 Go off the system drive, a new runner image or another developer's machine breaks \
                 it. Derive it at run time instead: os.UserCacheDir, os.UserHomeDir or os.TempDir \
                 in Go; filepath.Join with an environment variable (GOPATH, GOCACHE, RUNNER_TEMP); \
                 or ask `go env GOCACHE` / `go env GOMODCACHE` in scripts."
            }
            Rule::UserProfilePath => {
                "Go's defaults under the user profile move when GOCACHE, GOMODCACHE or GOPATH is \
                 set (for example by go-disk-guard --relocate). Ask `go env GOCACHE` (or \
                 GOMODCACHE, GOPATH) instead of spelling the default out; in Go, use \
                 os.UserCacheDir or os.UserHomeDir."
            }
            Rule::UserHomePath => {
                "The path names one user's home directory, which exists on one machine only. Use \
                 os.UserHomeDir in Go, $HOME in scripts, or `go env GOPATH` / `go env GOCACHE` \
                 for Go's directories."
            }
            Rule::HomeGoPath => {
                "~/go is only GOPATH's default: a set GOPATH, GOMODCACHE or GOBIN moves it. Ask \
                 `go env GOPATH` (or GOMODCACHE, GOBIN) instead."
            }
            Rule::GorootPath => {
                "Go is installed elsewhere on most CI runners and by actions/setup-go. Ask \
                 `go env GOROOT`, or find go on PATH."
            }
            Rule::GoCachePath => {
                "The module and build caches live where GOMODCACHE and GOCACHE say, which differs \
                 between machines and moves with go-disk-guard --relocate. Ask `go env \
                 GOMODCACHE` / `go env GOCACHE` instead."
            }
            Rule::AbsoluteReplace => {
                "An absolute replacement path exists on one machine only, and go.mod is shared. \
                 Use a path relative to the module (../lib), or a go.work file that is not \
                 committed."
            }
            Rule::AbsoluteUse => {
                "An absolute path in go.work exists on one machine only. Use a path relative to \
                 the go.work file, or keep machine-specific workspaces out of version control."
            }
        }
    }

    /// The short fix shown with each finding.
    pub fn fix(self) -> &'static str {
        match self {
            Rule::SystemDrivePath | Rule::DrivePath => {
                "derive it at run time: os.UserCacheDir/os.UserHomeDir/os.TempDir, filepath.Join \
                 with an environment variable, or `go env`"
            }
            Rule::UserProfilePath => {
                "ask `go env GOCACHE` / `go env GOPATH`, or use os.UserCacheDir"
            }
            Rule::UserHomePath => "use os.UserHomeDir or $HOME, or `go env GOPATH`",
            Rule::HomeGoPath => "ask `go env GOPATH` (or GOMODCACHE, GOBIN)",
            Rule::GorootPath => "ask `go env GOROOT`",
            Rule::GoCachePath => "ask `go env GOMODCACHE` / `go env GOCACHE`",
            Rule::AbsoluteReplace => "use a relative path (../lib) or an uncommitted go.work",
            Rule::AbsoluteUse => "use a path relative to go.work",
        }
    }
}

/// A path found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathHit {
    pub rule: Rule,
    /// Byte offset of the path in the text.
    pub start: usize,
    pub path: String,
}

/// Whether a byte may be part of a word next to a path (so that no path starts there).
fn wordish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Bytes that end a Windows path (spaces may be part of one).
fn ends_windows(b: u8) -> bool {
    matches!(
        b,
        b';' | b'"' | b'\'' | b'`' | b'\n' | b'\r' | b'\t' | b'|' | b'<' | b'>' | b'*' | b','
    )
}

/// Bytes that end a Unix path.
fn ends_unix(b: u8) -> bool {
    ends_windows(b) || matches!(b, b' ' | b':' | b')' | b']' | b'}' | b'(' | b'=')
}

/// Where the token starting at `from` ends: at the first byte that `ends` it, or the end.
fn token_end(text: &[u8], from: usize, ends: fn(u8) -> bool) -> usize {
    text.get(from..)
        .and_then(|rest| rest.iter().position(|&b| ends(b)))
        .map_or(text.len(), |i| from + i)
}

fn starts_with_ignore_case(text: &[u8], at: usize, prefix: &str) -> bool {
    text.get(at..)
        .and_then(|rest| rest.get(..prefix.len()))
        .is_some_and(|s| s.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// A drive path at `at`: `X:\` or `X:/` (not `X://`, a URL scheme).
fn drive_at(text: &[u8], at: usize) -> bool {
    match text.get(at..) {
        Some([_, b':', b'/', b'/', ..]) => false,
        Some([letter, b':', b'\\' | b'/', ..]) => letter.is_ascii_alphabetic(),
        _ => false,
    }
}

/// Whether the path component at `at` is `go` or `go-build` (any case), standing alone.
fn go_component(text: &[u8], at: usize) -> bool {
    ["go-build", "go"].iter().any(|c| {
        starts_with_ignore_case(text, at, c)
            && text
                .get(at + c.len())
                .is_none_or(|&b| matches!(b, b'\\' | b'/') || !wordish(b))
    })
}

/// Finds the hard-coded paths in `text`. `system_drive` is the system drive's letter.
///
/// Offsets are bytes of `text`. Every path starts at an ASCII byte and ends at an ASCII byte
/// or the end, so every `PathHit` lies on character boundaries; slices are taken with `get`
/// all the same, and sums of an offset within `text` and a few bytes cannot overflow.
pub fn find(text: &str, system_drive: u8) -> Vec<PathHit> {
    let t = text.as_bytes();
    if !t
        .iter()
        .any(|b| matches!(b, b':' | b'/' | b'\\' | b'%' | b'~' | b'$'))
    {
        return Vec::new();
    }
    let mut hits = Vec::new();
    let mut i = 0;
    let mut prev = None;
    while let Some(&b) = t.get(i) {
        let boundary = prev.is_none_or(|p| !wordish(p));
        let matched = if boundary {
            match_at(text, i, b, prev, system_drive)
        } else {
            Match::None
        };
        let next = match matched {
            Match::Hit(hit, end) => {
                hits.push(hit);
                end.max(i + 1)
            }
            Match::Skip(end) => end.max(i + 1),
            Match::None => {
                prev = Some(b);
                i += 1;
                continue;
            }
        };
        prev = next.checked_sub(1).and_then(|p| t.get(p)).copied();
        i = next;
    }
    hits
}

/// What starts at a position.
enum Match {
    /// A path of ours, ending at the offset.
    Hit(PathHit, usize),
    /// A path that is not ours, ending at the offset.
    Skip(usize),
    None,
}

/// The path starting at `i` (whose byte is `first`), if any, and where it ends.
fn match_at(text: &str, i: usize, first: u8, prev: Option<u8>, system_drive: u8) -> Match {
    let t = text.as_bytes();
    // Every path below starts with one of these bytes, or with a drive letter and its colon:
    // most words of a text start nothing, and are passed over here.
    if first.is_ascii_alphabetic() {
        if t.get(i + 1) != Some(&b':') {
            return Match::None;
        }
    } else if !matches!(first, b'\\' | b'%' | b'$' | b'~' | b'/') {
        return Match::None;
    }
    if let Some(m) = drive_path_at(text, i, first, prev, system_drive) {
        return m;
    }
    if !matches!(first, b'%' | b'$' | b'~' | b'/') {
        return Match::None;
    }
    if let Some(m) = profile_path_at(text, i) {
        return m;
    }
    if let Some(m) = home_go_path_at(text, i) {
        return m;
    }
    if first == b'/' {
        return unix_path_at(text, i);
    }
    Match::None
}

/// `text[start..end]` as a path of ours found by `rule`, or passed over if that is no slice.
fn hit(text: &str, rule: Rule, start: usize, end: usize) -> Match {
    match text.get(start..end) {
        Some(path) => Match::Hit(
            PathHit {
                rule,
                start,
                path: path.to_string(),
            },
            end,
        ),
        None => Match::Skip(end),
    }
}

/// A Windows drive path starting at `i` (whose byte is `first`, after `prev`): `\\?\C:\…`,
/// `C:\…` or `C:/…`.
fn drive_path_at(
    text: &str,
    i: usize,
    first: u8,
    prev: Option<u8>,
    system_drive: u8,
) -> Option<Match> {
    let t = text.as_bytes();
    let rest = t.get(i..).unwrap_or_default();
    // \\?\C:\…
    if let Some([b'\\', b'\\', b'?', b'\\', letter, ..]) = rest.get(..5)
        && drive_at(t, i + 4)
    {
        let end = trim_spaces(t, i + 7, token_end(t, i + 4, ends_windows));
        return Some(hit(text, drive_rule(*letter, system_drive), i, end));
    }
    // C:\… and C:/…; not a format verb ("%s:/"), not a component of another path
    // ("a/b:/c", "x\\y:\\z") unless in a file URL ("file:///C:/…"), and not a
    // "key:/a=b" pair (openssl's "s:/CN=…").
    if drive_at(t, i)
        && !matches!(prev, Some(b'%'))
        && (!matches!(prev, Some(b'/' | b'\\')) || after_file_scheme(t, i))
    {
        let end = trim_spaces(t, i + 3, token_end(t, i, ends_windows));
        let after_root = t.get(i + 3..end).unwrap_or_default();
        let first_component = after_root
            .split(|&b| matches!(b, b'\\' | b'/'))
            .next()
            .unwrap_or_default();
        if !first_component.contains(&b'=') {
            return Some(hit(text, drive_rule(first, system_drive), i, end));
        }
    }
    None
}

/// A path under the user profile starting at `i`, through a Go directory:
/// `%USERPROFILE%\go`, `$env:LOCALAPPDATA\go-build`, …
fn profile_path_at(text: &str, i: usize) -> Option<Match> {
    let t = text.as_bytes();
    for var in ["USERPROFILE", "LOCALAPPDATA", "APPDATA"] {
        for (open, close) in [("%", "%"), ("$env:", ""), ("${env:", "}")] {
            let name_at = i + open.len();
            if !starts_with_ignore_case(t, i, open)
                || !starts_with_ignore_case(t, name_at, var)
                || !starts_with_ignore_case(t, name_at + var.len(), close)
            {
                continue;
            }
            let sep = name_at + var.len() + close.len();
            // %APPDATA%\go\env: GOENV's default; any go or go-build component counts.
            if matches!(t.get(sep), Some(b'\\' | b'/')) && contains_go_component(t, sep + 1) {
                let end = token_end(t, sep, ends_profile);
                return Some(hit(text, Rule::UserProfilePath, i, end));
            }
        }
    }
    None
}

/// `~/go`, `$HOME/go`, `${HOME}/go` or `$(HOME)/go` starting at `i`.
fn home_go_path_at(text: &str, i: usize) -> Option<Match> {
    let t = text.as_bytes();
    let rest = t.get(i..).unwrap_or_default();
    for home in ["~/", "$HOME/", "${HOME}/", "$(HOME)/"] {
        if rest.starts_with(home.as_bytes()) && go_component_exact(t, i + home.len(), "go") {
            let end = token_end(t, i + home.len(), ends_unix);
            return Some(hit(text, Rule::HomeGoPath, i, end));
        }
    }
    None
}

/// The absolute Unix path starting with the slash at `i`: ours (GOROOT's default, a user's
/// home, a Go cache) or passed over whole; `/C:/…` (a file URL's path) is a drive path.
fn unix_path_at(text: &str, i: usize) -> Match {
    let t = text.as_bytes();
    let rest = t.get(i..).unwrap_or_default();
    let slashes = rest.iter().take_while(|&&b| b == b'/').count();
    let after = i + slashes;
    if drive_at(t, after) && after_file_scheme(t, after) {
        return Match::Skip(after);
    }
    // One leading slash is the path; more belong to a URL ("file:///home/…").
    let start = after.saturating_sub(1).max(i);
    let end = token_end(t, start, ends_unix);
    let path = text.get(start..end).unwrap_or_default();
    let trimmed = path.trim_start_matches('/');
    let rule = if trimmed == "usr/local/go" || trimmed.starts_with("usr/local/go/") {
        Some(Rule::GorootPath)
    } else if user_home(trimmed) {
        Some(Rule::UserHomePath)
    } else if cache_path(trimmed) {
        Some(Rule::GoCachePath)
    } else {
        None
    };
    match rule {
        Some(rule) => hit(text, rule, start, end),
        // Not ours: the whole token is passed over, so its inner slashes start nothing.
        None => Match::Skip(end),
    }
}

/// `end` moved back over the spaces that end a Windows path (a trailing blank in
/// `ENV GOPATH C:\gopath `), but not before `floor`.
fn trim_spaces(t: &[u8], floor: usize, mut end: usize) -> usize {
    while end > floor && end.checked_sub(1).and_then(|e| t.get(e)) == Some(&b' ') {
        end -= 1;
    }
    end
}

/// Whether the slashes before `at` follow `file:` (`file:///C:/…`, `file://C:/…`).
fn after_file_scheme(t: &[u8], at: usize) -> bool {
    let before = t.get(..at).unwrap_or_default();
    let slashes = before.iter().rev().take_while(|&&b| b == b'/').count();
    let scheme = before
        .len()
        .checked_sub(slashes)
        .and_then(|end| before.get(..end))
        .and_then(|b| b.len().checked_sub(5).and_then(|s| b.get(s..)));
    slashes > 0 && scheme.is_some_and(|s| s.eq_ignore_ascii_case(b"file:"))
}

/// Bytes that end a user-profile path: a Windows path's, and spaces.
fn ends_profile(b: u8) -> bool {
    ends_windows(b) || b == b' '
}

fn drive_rule(letter: u8, system_drive: u8) -> Rule {
    if letter.eq_ignore_ascii_case(&system_drive) {
        Rule::SystemDrivePath
    } else {
        Rule::DrivePath
    }
}

/// `go` exactly at `at`, followed by the end, a separator or a non-word byte.
fn go_component_exact(t: &[u8], at: usize, name: &str) -> bool {
    t.get(at..)
        .is_some_and(|rest| rest.starts_with(name.as_bytes()))
        && t.get(at + name.len())
            .is_none_or(|&b| matches!(b, b'/' | b'\\') || !wordish(b))
}

/// Whether the path from `at` has a `go` or `go-build` component before it ends.
fn contains_go_component(t: &[u8], at: usize) -> bool {
    let end = token_end(t, at, ends_windows);
    let mut component_start = at;
    for (i, b) in t.get(at..end).unwrap_or_default().iter().enumerate() {
        if matches!(b, b'\\' | b'/') {
            let i = at + i;
            if component_start < i && go_component(t, component_start) {
                return true;
            }
            component_start = i + 1;
        }
    }
    component_start < end && go_component(t, component_start)
}

/// `home/<name>…` or `Users/<name>…` with a plain user name.
fn user_home(trimmed: &str) -> bool {
    let mut parts = trimmed.split('/');
    let (Some(top), Some(name)) = (parts.next(), parts.next()) else {
        return false;
    };
    (top == "home" || top == "Users")
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != "Shared"
}

/// A path with a `pkg/mod` or a `go-build` component, outside the temporary directory (which
/// pins nothing: `/tmp/go-build` is the go command's own name for its work directories).
fn cache_path(trimmed: &str) -> bool {
    if trimmed.starts_with("tmp/") || trimmed.starts_with("var/tmp/") {
        return false;
    }
    let mut previous = "";
    trimmed.split('/').any(|part| {
        let found = part == "go-build" || (previous == "pkg" && part == "mod");
        previous = part;
        found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(Rule, &str)> {
        find(text, b'C')
            .into_iter()
            .map(|h| (h.rule, &text[h.start..h.start + h.path.len()]))
            .collect()
    }

    #[test]
    fn drive_paths() {
        use Rule::*;
        assert_eq!(found(r"C:\Go\bin"), [(SystemDrivePath, r"C:\Go\bin")]);
        assert_eq!(found(r"c:/go/bin"), [(SystemDrivePath, r"c:/go/bin")]);
        assert_eq!(found(r"\\?\C:\Go"), [(SystemDrivePath, r"\\?\C:\Go")]);
        assert_eq!(found(r"D:\a\_work"), [(DrivePath, r"D:\a\_work")]);
        assert_eq!(
            found(r"C:\Program Files\Go\bin;D:\tools"),
            [
                (SystemDrivePath, r"C:\Program Files\Go\bin"),
                (DrivePath, r"D:\tools")
            ]
        );
        assert_eq!(
            found("file:///C:/Users/x"),
            [(SystemDrivePath, "C:/Users/x")]
        );
        // The system drive is configurable.
        assert_eq!(find(r"D:\x", b'd')[0].rule, SystemDrivePath);
    }

    #[test]
    fn things_that_are_not_drive_paths() {
        for text in [
            "http://example.com/a",
            "%s://%s",
            "%v:/x",
            "15:04:05",
            "a:b",
            "ab:/x",
            "x:",
            r"^[a-zA-Z]:\\",
            "C:",
            "/usr/bin/env",
            "/tmp/go-build123/b001",
            "/tmp/go-build",
            "=/var/tmp/go-build/x",
            "/home",
            "/Users/Shared/x",
            "~/gopher",
            "$HOME/golang",
            "%USERPROFILE%\\Documents",
            "std/go/ast",
            "a/../b:/../../c",
            r"x\..\y:\..\z",
            " s:/C=AU/ST=Somewhere/CN=foo",
            "/C:/x",
        ] {
            assert_eq!(found(text), [], "{text}");
        }
    }

    #[test]
    fn user_and_go_paths() {
        use Rule::*;
        assert_eq!(
            found("/Users/alice/go"),
            [(UserHomePath, "/Users/alice/go")]
        );
        assert_eq!(
            found("/home/runner/work x"),
            [(UserHomePath, "/home/runner/work")]
        );
        assert_eq!(found("cd ~/go/src"), [(HomeGoPath, "~/go/src")]);
        assert_eq!(found("$HOME/go"), [(HomeGoPath, "$HOME/go")]);
        assert_eq!(found("$(HOME)/go/bin"), [(HomeGoPath, "$(HOME)/go/bin")]);
        assert_eq!(
            found("${HOME}/go/bin:$PATH"),
            [(HomeGoPath, "${HOME}/go/bin")]
        );
        assert_eq!(
            found("/usr/local/go/bin:/usr/bin"),
            [(GorootPath, "/usr/local/go/bin")]
        );
        assert_eq!(
            found("/root/go/pkg/mod/x"),
            [(GoCachePath, "/root/go/pkg/mod/x")]
        );
        assert_eq!(
            found("/var/cache/go-build"),
            [(GoCachePath, "/var/cache/go-build")]
        );
        assert_eq!(
            found(r"%USERPROFILE%\go\bin"),
            [(UserProfilePath, r"%USERPROFILE%\go\bin")]
        );
        assert_eq!(
            found(r"%LocalAppData%\go-build"),
            [(UserProfilePath, r"%LocalAppData%\go-build")]
        );
        assert_eq!(
            found(r"$env:APPDATA\go\env"),
            [(UserProfilePath, r"$env:APPDATA\go\env")]
        );
        assert_eq!(
            found(r"%USERPROFILE%\go on Windows"),
            [(UserProfilePath, r"%USERPROFILE%\go")]
        );
        assert_eq!(
            found("file:///home/adg/rabbits"),
            [(UserHomePath, "/home/adg/rabbits")]
        );
        assert_eq!(found("file://D:/x"), [(DrivePath, "D:/x")]);
        // Only one finding per path, the first rule that fits.
        assert_eq!(
            found("/home/alice/go/pkg/mod"),
            [(UserHomePath, "/home/alice/go/pkg/mod")]
        );
    }

    #[test]
    fn rules_have_unique_stable_ids_and_names() {
        let ids: std::collections::BTreeSet<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        let names: std::collections::BTreeSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(ids.len(), Rule::ALL.len());
        assert_eq!(names.len(), Rule::ALL.len());
        assert_eq!(Rule::SystemDrivePath.id(), "GDG001");
        assert_eq!(Rule::AbsoluteUse.id(), "GDG009");
        for (i, rule) in Rule::ALL.iter().enumerate() {
            assert_eq!(rule.index(), i, "{rule:?}");
        }
    }
}
