//! `scan --fix`: rewrites the hard-coded assignments it understands in CI and build files so
//! that the value is taken at run time, and shows everything else as a unified diff it does
//! not apply (Go code included: a suggestion, never an edit).
//!
//! An edit is one line: removed (an assignment of a Go directory variable that nothing else in
//! the file reads, so Go computes its default at run time), or with its paths replaced by what
//! asks Go at run time (`$(go env GOPATH)`, `$(shell go env GOROOT)`). Every file's edits are
//! checked before they are written: the file is scanned again and must hold exactly the
//! findings it held less the fixed ones, a workflow must still be YAML, an edited line must
//! keep its quotes balanced and no line continued onto or from a removed one. A file that
//! fails is left alone and its edits shown as a diff.
//!
//! Files are written through a new file in the same directory renamed over the old one, with
//! the old one's permissions; a file that is a symbolic link or not a regular file, or that
//! changed since it was read, is not written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Build, Construct, Kind, ScanFinding, ScanReport};

/// What one edit does to its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The line goes (with the `env:` line above it when it was the mapping's only entry).
    Remove { with_parent: Option<u32> },
    /// Byte ranges of the line replaced, in order, not overlapping.
    Replace(Vec<(usize, usize, String)>),
}

/// One edit of one line of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub line: u32,
    pub change: Change,
    /// The findings it fixes: (line, column, rule id).
    pub fixes: Vec<(u32, u32, &'static str)>,
    /// What it does, in words.
    pub description: String,
}

/// A file's edits: those `--fix` makes, and suggestions it only shows.
#[derive(Clone, Debug, Default)]
pub struct FilePlan {
    pub file: PathBuf,
    pub applied: Vec<Edit>,
    pub suggested: Vec<Edit>,
    /// Why the applied edits were demoted to suggestions, if they were.
    pub refused: Option<String>,
    /// The file's text as read.
    pub original: String,
}

impl FilePlan {
    /// The file's text with `edits` made.
    pub fn edited(&self, edits: &[Edit]) -> String {
        apply(&self.original, edits)
    }
}

/// The variables whose assignment may go: Go computes each at run time when it is unset.
const REMOVABLE: &[&str] = &["GOPATH", "GOCACHE", "GOMODCACHE", "GOROOT", "GOENV"];

/// Plans the edits for the findings of `report` (the files are read again, regular files
/// only, never through a link).
pub fn plan(report: &ScanReport, system_drive: u8) -> Vec<FilePlan> {
    let mut by_file: Vec<(&Path, Vec<&ScanFinding>)> = Vec::new();
    // Notes (test data, documentation text) are left as they are.
    for f in report
        .findings
        .iter()
        .filter(|f| f.level() != super::Level::Note)
    {
        match by_file.last_mut() {
            Some((file, list)) if *file == f.file.as_path() => list.push(f),
            _ => by_file.push((f.file.as_path(), vec![f])),
        }
    }
    let mut plans = Vec::new();
    for (file, findings) in by_file {
        let Some(kind) = super::kind_of(file) else {
            continue;
        };
        let Ok(bytes) = super::read_regular(file, false) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let plan = plan_file(file, text, kind, &findings, system_drive);
        if !plan.applied.is_empty() || !plan.suggested.is_empty() {
            plans.push(plan);
        }
    }
    plans
}

/// The edits for one file's findings, checked.
pub(super) fn plan_file(
    file: &Path,
    text: String,
    kind: Kind,
    findings: &[&ScanFinding],
    system_drive: u8,
) -> FilePlan {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut applied = Vec::new();
    let mut suggested = Vec::new();
    let mut done_lines: std::collections::HashSet<u32> = std::collections::HashSet::new();
    // The findings of each line, in order.
    let mut by_line: std::collections::HashMap<u32, Vec<&ScanFinding>> =
        std::collections::HashMap::new();
    for g in findings {
        by_line.entry(g.line).or_default().push(g);
    }
    let literal = match kind {
        Kind::Build(build) => literal_lines(build, &lines),
        _ => Vec::new(),
    };
    for f in findings {
        if done_lines.contains(&f.line) {
            continue;
        }
        let on_line: Vec<&ScanFinding> = by_line.get(&f.line).cloned().unwrap_or_default();
        let Some(index) = usize::try_from(f.line).ok().and_then(|n| n.checked_sub(1)) else {
            continue;
        };
        let Some(line) = lines.get(index) else {
            continue;
        };
        done_lines.insert(f.line);
        let fixes = on_line
            .iter()
            .map(|g| (g.line, g.column, g.rule.id()))
            .collect();
        match kind {
            // Nothing is edited in a literal here-document, where nothing asks Go anything.
            Kind::Build(_) if literal.get(index).copied().unwrap_or(false) => {}
            Kind::Build(build) => {
                if let Some(edit) = build_edit(build, &text, &lines, index, line, &on_line, fixes) {
                    let safe = build != Build::Dockerfile
                        && build != Build::Jenkinsfile
                        && build != Build::Batch;
                    if safe {
                        applied.push(edit);
                    } else {
                        suggested.push(edit);
                    }
                }
            }
            // Go code at error level only: a path compared with needs no other value.
            Kind::Go if f.level() == super::Level::Error => {
                if let Some(edit) = go_suggestion(line, &on_line, fixes) {
                    suggested.push(edit);
                }
            }
            Kind::Go | Kind::GoMod | Kind::GoWork => {}
        }
    }
    let mut plan = FilePlan {
        file: file.to_path_buf(),
        applied,
        suggested,
        refused: None,
        original: text,
    };
    if !plan.applied.is_empty()
        && let Err(why) = verify(&plan, kind, system_drive)
    {
        plan.refused = Some(why);
        let mut demoted = std::mem::take(&mut plan.applied);
        demoted.append(&mut plan.suggested);
        demoted.sort_by_key(|e| e.line);
        plan.suggested = demoted;
    }
    plan
}

/// The Go variable a path is the default of, and what follows it: `/usr/local/go/bin` →
/// (GOROOT, `/bin`), `/home/u/go/pkg/mod/x` → (GOMODCACHE, `/x`), `~/go/bin` → (GOPATH,
/// `/bin`), `/home/u/.cache/go-build` → (GOCACHE, ``).
pub fn runtime_form(path: &str) -> Option<(&'static str, &str)> {
    let unified = path.replace('\\', "/");
    let lower = unified.to_ascii_lowercase();
    // Byte offsets are the same in `path`, `unified` and `lower` (ASCII changes only).
    let rest_at = |at: usize| path.get(at..);
    for root in [
        "/usr/local/go",
        "c:/go",
        "c:/program files/go",
        "/usr/lib/go",
    ] {
        if lower == root || lower.starts_with(&format!("{root}/")) {
            return Some(("GOROOT", rest_at(root.len())?));
        }
    }
    if lower.ends_with("/go-build") {
        return Some(("GOCACHE", ""));
    }
    // The home directory: ~, $HOME, ${HOME}, $(HOME), %USERPROFILE%, $env:USERPROFILE,
    // /home/<u>, /Users/<u>, /root, C:/Users/<u>.
    let home_end = home_prefix(&lower)?;
    let after = lower.get(home_end..)?;
    if after == "/go" || after.starts_with("/go/") {
        let go_end = home_end + 3;
        let rest = lower.get(go_end..)?;
        if rest == "/pkg/mod" || rest.starts_with("/pkg/mod/") {
            return Some(("GOMODCACHE", rest_at(go_end + 8)?));
        }
        return Some(("GOPATH", rest_at(go_end)?));
    }
    None
}

/// Where the home directory at the start of a (lowercased, `/`-separated) path ends.
fn home_prefix(lower: &str) -> Option<usize> {
    for fixed in [
        "~",
        "$home",
        "${home}",
        "$(home)",
        "%userprofile%",
        "$env:userprofile",
        "/root",
    ] {
        if lower.starts_with(fixed) && lower.get(fixed.len()..)?.starts_with('/') {
            return Some(fixed.len());
        }
    }
    for top in ["/home/", "/users/", "c:/users/"] {
        if let Some(rest) = lower.strip_prefix(top) {
            let name_len = rest.find('/')?;
            return Some(top.len() + name_len);
        }
    }
    None
}

/// Whether `$(go env VAR)` plus `rest` means the path it replaces: VAR itself or its `bin`,
/// and never GOROOT, whose `bin` is what puts `go` on PATH in the first place (asking `go`
/// for it before then fails), and whose other subdirectories name other installations
/// (`/usr/local/go/go-tip`).
fn asks_go_safely(var: &str, rest: &str) -> bool {
    var != "GOROOT"
        && (rest.is_empty()
            || rest.eq_ignore_ascii_case("/bin")
            || rest.eq_ignore_ascii_case("\\bin"))
}

/// What asks Go for `var` at run time in a file of kind `build`, if anything does.
fn expression(build: Build, var: &str) -> Option<String> {
    match build {
        Build::Shell | Build::PowerShell => Some(format!("$(go env {var})")),
        Build::Makefile => Some(format!("$(shell go env {var})")),
        _ => None,
    }
}

/// The edit for a CI or build file's line holding `on_line`'s findings, if one is known.
fn build_edit(
    build: Build,
    text: &str,
    lines: &[&str],
    index: usize,
    line: &str,
    on_line: &[&ScanFinding],
    fixes: Vec<(u32, u32, &'static str)>,
) -> Option<Edit> {
    let first = on_line.first()?;
    if first.context != Construct::Assignment {
        return None;
    }
    let key = first.source.as_str();
    let same_key = on_line.iter().all(|f| f.source == key);
    let n = first.line;
    // Removal: a line that only assigns a removable variable, read nowhere else.
    if same_key
        && REMOVABLE.contains(&key)
        && sole_assignment(build, line, key)
        && !referenced_elsewhere(text, key, index)
        && !continued(lines, index)
    {
        let with_parent = if matches!(build, Build::Workflow | Build::Action) {
            only_entry_of_env(lines, index)
        } else {
            None
        };
        return Some(Edit {
            line: n,
            change: Change::Remove { with_parent },
            fixes,
            description: format!(
                "remove the assignment of {key}: Go computes it at run time when it is unset"
            ),
        });
    }
    // Replacement: each path by what asks Go for it at run time, or by the home directory
    // taken from the environment.
    let mut spans = Vec::new();
    let mut from_home = false;
    for f in on_line {
        for p in &f.paths {
            let start = nth_free(line, p, &spans)?;
            // Inside single quotes a shell and PowerShell expand nothing: no edit is known.
            if matches!(build, Build::Shell | Build::PowerShell)
                && line.get(..start)?.matches('\'').count() % 2 == 1
            {
                return None;
            }
            let new = match runtime_form(p)
                .filter(|(var, rest)| asks_go_safely(var, rest))
                .and_then(|(var, rest)| Some((expression(build, var)?, rest)))
            {
                Some((expr, rest)) => format!("{expr}{rest}"),
                None => {
                    from_home = true;
                    home_expression(build, line, start, p)?
                }
            };
            spans.push((start, start + p.len(), new));
        }
    }
    spans.sort();
    if spans.is_empty() {
        return None;
    }
    Some(Edit {
        line: n,
        change: Change::Replace(spans),
        fixes,
        description: if from_home {
            "take the home directory from the environment at run time".into()
        } else {
            "ask Go for the directory at run time instead of naming it".into()
        },
    })
}

/// For each line, whether it is in the body of a quoted here-document (`<<'EOF'`, `<<"EOF"`,
/// `<<\EOF`, with or without `-`) or of a PowerShell literal here-string (`@'` … `'@`):
/// text taken as it is written, where nothing asks Go anything.
fn literal_lines(build: Build, lines: &[&str]) -> Vec<bool> {
    let powershell = build == Build::PowerShell;
    let yaml = matches!(build, Build::Workflow | Build::Action);
    let mut out = vec![false; lines.len()];
    if !powershell && !yaml && build != Build::Shell {
        return out;
    }
    // The open block's closing line, whether leading tabs may precede it, and whether its
    // body is literal.
    let mut open: Option<(String, bool, bool)> = None;
    for (i, raw) in lines.iter().enumerate() {
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some((end, tabs, literal)) = &open {
            let closing = if powershell {
                l.starts_with(end.as_str())
            } else if yaml {
                l.trim() == end
            } else if *tabs {
                l.trim_start_matches('\t') == end
            } else {
                l == end
            };
            if closing {
                open = None;
            } else if let Some(slot) = out.get_mut(i) {
                *slot = *literal;
            }
            continue;
        }
        if powershell {
            let t = l.trim_end();
            if t.ends_with("@'") {
                open = Some(("'@".into(), false, true));
            } else if t.ends_with("@\"") {
                open = Some(("\"@".into(), false, false));
            }
            continue;
        }
        let mut rest = l;
        while let Some(at) = rest.find("<<") {
            let after = rest.get(at + 2..).unwrap_or_default();
            if let Some(more) = after.strip_prefix('<') {
                // A here-string (`<<<`): no body.
                rest = more.trim_start_matches('<');
                continue;
            }
            let (tabs, after) = match after.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, after),
            };
            let word: String = after
                .trim_start_matches([' ', '\t'])
                .chars()
                .take_while(|c| !c.is_whitespace() && !";|&<>()".contains(*c))
                .collect();
            let delimiter: String = word.chars().filter(|c| !"'\"\\".contains(*c)).collect();
            if !delimiter.is_empty() {
                let literal = word.len() != delimiter.len();
                open = Some((delimiter, tabs, literal));
            }
            break;
        }
    }
    out
}

/// A path in a user's home (`C:\Users\<name>\…`, `/home/<name>/…`, `/Users/<name>/…`)
/// with the home taken from the environment at run time, where the line is a command that
/// expands it: a workflow's `run:` line or a shell or PowerShell script, the path unquoted or
/// in double quotes. `$env:USERPROFILE` and `$env:HOME` in PowerShell (a line that says
/// `$env:`), `$USERPROFILE` and `$HOME` elsewhere.
fn home_expression(build: Build, line: &str, start: usize, path: &str) -> Option<String> {
    let before = line.get(..start)?;
    if before.matches('\'').count() % 2 == 1 {
        return None;
    }
    let powershell = match build {
        Build::PowerShell => true,
        Build::Shell => false,
        Build::Workflow | Build::Action => {
            // Not a YAML value (`KEY: value`), which nothing expands.
            let key_value = before.trim_end().ends_with(':') && !before.contains("run:");
            if key_value {
                return None;
            }
            line.contains("$env:")
        }
        _ => return None,
    };
    let unified = path.replace('\\', "/");
    let lower = unified.to_ascii_lowercase();
    let (windows, top) = if lower.starts_with("c:/users/") {
        (true, "c:/users/")
    } else if lower.starts_with("/home/") {
        (false, "/home/")
    } else if lower.starts_with("/users/") {
        (false, "/users/")
    } else {
        return None;
    };
    let name_len = lower.get(top.len()..)?.find('/')?;
    let rest = path.get(top.len() + name_len..)?;
    let var = match (powershell, windows) {
        (true, true) => "$env:USERPROFILE",
        (true, false) => "$env:HOME",
        (false, true) => "$USERPROFILE",
        (false, false) => "$HOME",
    };
    Some(format!("{var}{rest}"))
}

/// Where `needle` first occurs in `line` outside the spans already taken.
fn nth_free(line: &str, needle: &str, taken: &[(usize, usize, String)]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = line.get(from..).and_then(|rest| rest.find(needle)) {
        let start = from + at;
        let end = start + needle.len();
        if taken.iter().all(|(s, e, _)| end <= *s || start >= *e) {
            return Some(start);
        }
        from = start + 1;
        while !line.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

/// Whether `line` does nothing but assign `key` one value.
fn sole_assignment(build: Build, line: &str, key: &str) -> bool {
    let t = line.trim();
    let t = t.strip_suffix('\r').unwrap_or(t).trim_end();
    let value_ok = |v: &str| {
        let v = v.trim();
        let unquoted = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        !unquoted.is_empty()
            && !unquoted.contains([
                ' ', '"', '\'', ';', '&', '|', '`', '$', '#', '\t', '(', ')', '{', '}',
            ])
            || (unquoted.starts_with("$HOME/") && !unquoted.contains([' ', ';', '&', '|']))
    };
    match build {
        Build::Workflow | Build::Action => {
            let Some(v) = t.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
                return false;
            };
            value_ok(v)
                && !v
                    .trim_start()
                    .starts_with(['|', '>', '&', '*', '!', '[', '{'])
        }
        Build::Shell => {
            let t = t.strip_prefix("export ").map_or(t, str::trim_start);
            t.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(value_ok)
        }
        Build::Makefile => {
            let t = t.strip_prefix("export ").map_or(t, str::trim_start);
            t.strip_prefix(key).is_some_and(|r| {
                let r = r.trim_start();
                ["::=", ":=", "?=", "="]
                    .iter()
                    .find_map(|op| r.strip_prefix(op))
                    .is_some_and(value_ok)
            })
        }
        Build::PowerShell => t
            .strip_prefix("$env:")
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.trim_start().strip_prefix('='))
            .is_some_and(value_ok),
        Build::Batch => {
            let lower = t.to_ascii_lowercase();
            lower
                .strip_prefix("set ")
                .map(|r| r.trim_start().trim_matches('"'))
                .and_then(|r| r.strip_prefix(&key.to_ascii_lowercase()))
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(value_ok)
        }
        Build::Dockerfile => {
            let mut words = t.split_whitespace();
            let env = words.next().is_some_and(|w| w.eq_ignore_ascii_case("ENV"));
            let rest: Vec<&str> = words.collect();
            env && match rest.as_slice() {
                [pair] => pair
                    .strip_prefix(key)
                    .and_then(|r| r.strip_prefix('='))
                    .is_some_and(value_ok),
                [name, value] => *name == key && value_ok(value),
                _ => false,
            }
        }
        Build::Jenkinsfile => false,
    }
}

/// Whether the file reads `key` anywhere but on line `index`: `$KEY`, `${KEY}`, `$(KEY)`,
/// `%KEY%`, `$env:KEY`, `env.KEY`, or the name alone on another line that is not a comment.
fn referenced_elsewhere(text: &str, key: &str, index: usize) -> bool {
    text.split('\n').enumerate().any(|(i, l)| {
        if i == index {
            return false;
        }
        let mut from = 0;
        while let Some(at) = l.get(from..).and_then(|rest| rest.find(key)) {
            let start = from + at;
            let end = start + key.len();
            let before = l.as_bytes().get(..start).and_then(|b| b.last()).copied();
            let after = l.as_bytes().get(end).copied();
            let word = !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if word {
                return true;
            }
            from = end;
        }
        false
    })
}

/// Whether line `index` continues the one before or is continued on the next (a trailing
/// backslash, backtick or caret), or sits inside a here-document.
fn continued(lines: &[&str], index: usize) -> bool {
    let ends_continued = |l: &str| {
        let t = l.trim_end();
        t.ends_with('\\') || t.ends_with('`') || t.ends_with('^')
    };
    let here = lines
        .iter()
        .take(index)
        .any(|l| l.contains("<<") && !l.trim_start().starts_with('#'));
    here || lines.get(index).is_some_and(|l| ends_continued(l))
        || index
            .checked_sub(1)
            .and_then(|i| lines.get(i))
            .is_some_and(|l| ends_continued(l))
}

/// When line `index` is the only entry of an `env:` mapping, the 1-based line of that
/// `env:` (which goes too, so that no empty mapping is left).
fn only_entry_of_env(lines: &[&str], index: usize) -> Option<u32> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let this = indent(lines.get(index)?);
    let blank = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    let parent = (0..index)
        .rev()
        .find(|&i| lines.get(i).is_some_and(|l| !blank(l) && indent(l) < this))?;
    let parent_line = lines.get(parent)?;
    // `env:` alone on its line; not `- env:`, which starts a list item that would go too.
    if parent_line.trim() != "env:" {
        return None;
    }
    let siblings = lines
        .iter()
        .skip(parent + 1)
        .take_while(|l| blank(l) || indent(l) >= this)
        .filter(|l| !blank(l) && indent(l) == this)
        .count();
    (siblings == 1).then(|| super::golex::saturating_u32(parent).saturating_add(1))
}

/// A Go literal holding exactly one path: the expression that finds it at run time, as a
/// suggestion.
fn go_suggestion(
    line: &str,
    on_line: &[&ScanFinding],
    fixes: Vec<(u32, u32, &'static str)>,
) -> Option<Edit> {
    let [f] = on_line else {
        return None;
    };
    if f.context != Construct::GoString || f.paths.len() != 1 || f.source.contains('\n') {
        return None;
    }
    let quoted_value = f.source.get(1..f.source.len().checked_sub(1)?)?;
    if quoted_value.replace("\\\\", "\\") != f.path {
        return None;
    }
    let unified = f.path.replace('\\', "/");
    let lower = unified.to_ascii_lowercase();
    let (base, rest) = if let Some((var, rest)) = runtime_form(&f.path) {
        let base = match var {
            "GOROOT" => "runtime.GOROOT()",
            "GOCACHE" => "filepath.Join(must(os.UserCacheDir()), \"go-build\")",
            "GOMODCACHE" => "filepath.Join(build.Default.GOPATH, \"pkg\", \"mod\")",
            _ => "build.Default.GOPATH",
        }
        .to_string();
        (base, rest.replace('\\', "/"))
    } else if let Some(end) = home_prefix(&lower) {
        (
            "must(os.UserHomeDir())".to_string(),
            unified.get(end..)?.to_string(),
        )
    } else {
        return None;
    };
    let rest = rest.trim_start_matches('/');
    let expr = if rest.is_empty() {
        base
    } else {
        format!("filepath.Join({base}, {:?})", rest)
    };
    let start = line.find(f.source.as_str())?;
    Some(Edit {
        line: f.line,
        change: Change::Replace(vec![(start, start + f.source.len(), expr)]),
        fixes,
        description: "derive the path at run time (a suggestion: Go code is never edited)".into(),
    })
}

/// `text` with `edits` made (each on its own line).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut removed: std::collections::HashSet<u32> = std::collections::HashSet::new();
    // Each line's first edit.
    let mut by_line: std::collections::HashMap<u32, &Change> = std::collections::HashMap::new();
    for e in edits {
        if let Change::Remove { with_parent } = &e.change {
            removed.insert(e.line);
            removed.extend(with_parent);
        }
        by_line.entry(e.line).or_insert(&e.change);
    }
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = super::golex::saturating_u32(i).saturating_add(1);
        if removed.contains(&n) {
            continue;
        }
        match by_line.get(&n) {
            Some(Change::Replace(spans)) => {
                let mut at = 0;
                for (s, e, new) in spans {
                    out.push_str(line.get(at..*s).unwrap_or_default());
                    out.push_str(new);
                    at = *e;
                }
                out.push_str(line.get(at..).unwrap_or_default());
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Checks a file's applied edits: the edited text scans to the findings it held less the
/// fixed ones, a workflow is still YAML, edited lines keep their quotes balanced.
fn verify(plan: &FilePlan, kind: Kind, system_drive: u8) -> Result<(), String> {
    let edited = plan.edited(&plan.applied);
    let mut problems = Vec::new();
    // Everything the file holds, suppressed or not, before and after.
    let mut before = super::find_in(
        &plan.file,
        &plan.original,
        kind,
        system_drive,
        &mut problems,
    );
    let before = super::merge_places(&mut before);
    let mut after = super::find_in(&plan.file, &edited, kind, system_drive, &mut problems);
    let after = super::merge_places(&mut after);
    let fixed: Vec<(u32, u32, &str)> = plan
        .applied
        .iter()
        .flat_map(|e| e.fixes.iter().copied())
        .collect();
    let mut want: Vec<(String, Vec<String>)> = before
        .iter()
        .filter(|f| !fixed.contains(&(f.line, f.column, f.rule.id())))
        .map(|f| (f.rule.id().to_string(), f.paths.clone()))
        .collect();
    let mut got: Vec<(String, Vec<String>)> = after
        .iter()
        .map(|f| (f.rule.id().to_string(), f.paths.clone()))
        .collect();
    want.sort();
    got.sort();
    if want != got {
        return Err("scanning the edited file did not give the findings expected".into());
    }
    if matches!(kind, Kind::Build(Build::Workflow | Build::Action)) {
        let was = serde_saphyr::from_str::<serde_json::Value>(&plan.original).is_ok();
        let is = serde_saphyr::from_str::<serde_json::Value>(&edited).is_ok();
        if !was || !is {
            return Err("the edited workflow would not be valid YAML".into());
        }
    }
    let old_lines: Vec<&str> = plan.original.split('\n').collect();
    let new_lines: Vec<&str> = edited.split('\n').collect();
    for e in &plan.applied {
        if let Change::Replace(_) = e.change {
            let n = usize::try_from(e.line).unwrap_or(usize::MAX);
            let old = old_lines.get(n.saturating_sub(1)).copied().unwrap_or("");
            let new = new_lines.get(n.saturating_sub(1)).copied().unwrap_or("");
            for q in ['"', '\''] {
                if old.matches(q).count() % 2 != new.matches(q).count() % 2 {
                    return Err("an edited line would not keep its quotes balanced".into());
                }
            }
        }
    }
    Ok(())
}

/// A unified diff of `edits` to a file (three lines of context), its names `a/…` and `b/…`.
/// Lines are shown as they are but for control characters other than a tab, escaped.
pub fn diff(plan: &FilePlan, edits: &[Edit]) -> String {
    let old: Vec<&str> = plan.original.split_inclusive('\n').collect();
    let new_text = plan.edited(edits);
    let new: Vec<&str> = new_text.split_inclusive('\n').collect();
    let changed = changed_lines(edits, old.len());
    if changed.is_empty() {
        return String::new();
    }
    let name = super::shown(&plan.file).replace(['\n', '\r'], " ");
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let (old_to_new, kept) = new_indexes(edits, old.len());
    for (lo, hi) in hunk_ranges(&changed, old.len()) {
        push_hunk(&mut out, &old, &new, &old_to_new, kept, lo..hi);
    }
    out
}

/// The indexes of the old lines that change, the edited and removed ones, in order, each once:
/// those of a file of `old_len` lines.
fn changed_lines(edits: &[Edit], old_len: usize) -> Vec<usize> {
    let mut changed: Vec<usize> = Vec::new();
    for e in edits {
        let i = usize::try_from(e.line)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        changed.push(i);
        if let Change::Remove {
            with_parent: Some(p),
        } = e.change
        {
            changed.push(usize::try_from(p).unwrap_or(usize::MAX).saturating_sub(1));
        }
    }
    changed.sort_unstable();
    changed.dedup();
    changed.retain(|&i| i < old_len);
    changed
}

/// The old lines each hunk shows: the changed lines with three of context either side, those
/// whose contexts overlap in one hunk.
fn hunk_ranges(changed: &[usize], old_len: usize) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &i in changed {
        let lo = i.saturating_sub(3);
        let hi = (i + 4).min(old_len);
        match groups.last_mut() {
            Some((_, end)) if lo <= *end => *end = hi.max(*end),
            _ => groups.push((lo, hi)),
        }
    }
    groups
}

/// Each old line's index among the new lines (removed lines map to none), and how many lines
/// are kept.
fn new_indexes(edits: &[Edit], old_len: usize) -> (Vec<Option<usize>>, usize) {
    let mut old_to_new: Vec<Option<usize>> = Vec::with_capacity(old_len);
    let mut k = 0usize;
    let removed: std::collections::HashSet<usize> = edits
        .iter()
        .flat_map(|e| match e.change {
            Change::Remove { with_parent } => {
                let mut v = vec![e.line];
                v.extend(with_parent);
                v
            }
            Change::Replace(_) => Vec::new(),
        })
        .filter_map(|n| usize::try_from(n).ok().and_then(|n| n.checked_sub(1)))
        .collect();
    for i in 0..old_len {
        if removed.contains(&i) {
            old_to_new.push(None);
        } else {
            old_to_new.push(Some(k));
            k += 1;
        }
    }
    (old_to_new, k)
}

/// Adds the hunk of old lines `lines` to `out`: its header, then each line as it was and is.
fn push_hunk(
    out: &mut String,
    old: &[&str],
    new: &[&str],
    old_to_new: &[Option<usize>],
    kept: usize,
    lines: std::ops::Range<usize>,
) {
    let (lo, hi) = (lines.start, lines.end);
    let mut body = String::new();
    let (mut old_count, mut new_count) = (0usize, 0usize);
    let new_start = (lo..hi)
        .find_map(|i| old_to_new.get(i).copied().flatten())
        .unwrap_or(kept);
    for i in lo..hi {
        let Some(old_line) = old.get(i) else {
            continue;
        };
        let new_line = old_to_new
            .get(i)
            .copied()
            .flatten()
            .and_then(|j| new.get(j));
        match new_line {
            Some(nl) if nl == old_line => {
                push_diff_line(&mut body, ' ', old_line);
                old_count += 1;
                new_count += 1;
            }
            Some(nl) => {
                push_diff_line(&mut body, '-', old_line);
                push_diff_line(&mut body, '+', nl);
                old_count += 1;
                new_count += 1;
            }
            None => {
                push_diff_line(&mut body, '-', old_line);
                old_count += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "@@ -{},{old_count} +{},{new_count} @@",
        lo + 1,
        if new_count == 0 {
            new_start
        } else {
            new_start + 1
        }
    );
    out.push_str(&body);
}

fn push_diff_line(out: &mut String, sign: char, line: &str) {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let (body, cr) = match body.strip_suffix('\r') {
        Some(b) => (b, true),
        None => (body, false),
    };
    out.push(sign);
    if body.chars().any(|c| c.is_control() && c != '\t') {
        out.push_str(&crate::escape::line(body));
    } else {
        out.push_str(body);
    }
    if cr {
        out.push_str("\\r");
    }
    out.push('\n');
    if !line.ends_with('\n') {
        out.push_str("\\ No newline at end of file\n");
    }
}

/// What writing a file's edits did.
#[derive(Debug)]
pub enum Written {
    Yes,
    Refused(String),
}

/// Writes `plan`'s applied edits: through a new file in the same directory, renamed over the
/// old one, with its permissions; only if the file is still a regular file (not a link) with
/// the text that was planned on.
pub fn write(plan: &FilePlan) -> Written {
    match write_inner(plan) {
        Ok(()) => Written::Yes,
        Err(e) => Written::Refused(e.to_string()),
    }
}

fn write_inner(plan: &FilePlan) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = &plan.file;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a link or something else): not edited",
        ));
    }
    let now = super::read_regular(path, false)?;
    if now != plan.original.as_bytes() {
        return Err(std::io::Error::other(
            "changed since it was read: not edited",
        ));
    }
    let edited = plan.edited(&plan.applied);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = None;
    for attempt in 0..100u32 {
        let candidate = dir.join(format!(
            ".{name}.go-disk-guard-{}-{attempt}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => {
                tmp = Some((candidate, file));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    let Some((tmp_path, mut file)) = tmp else {
        return Err(std::io::Error::other("no temporary name free"));
    };
    let result = (|| {
        // The old file's permissions before its text, which they may keep from other users
        // (on Unix, where an open file stays writable whatever its mode says). Not its set-ID
        // and sticky bits: the new file belongs to whoever runs --fix, root perhaps.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(
                meta.permissions().mode() & 0o777,
            ))?;
        }
        file.write_all(edited.as_bytes())?;
        #[cfg(not(unix))]
        file.set_permissions(meta.permissions())?;
        file.sync_all()?;
        drop(file);
        // The same file still, not exchanged for a link since it was checked.
        let again = std::fs::symlink_metadata(path)?;
        if !again.file_type().is_file() || !same_file(&meta, &again) {
            return Err(std::io::Error::other(
                "exchanged while being edited: not edited",
            ));
        }
        std::fs::rename(&tmp_path, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Carries out `plans`: writes each file's checked edits (none with `dry_run`) and says what
/// it did; shows as a unified diff the edits written nowhere (with `show_suggestions`, or all
/// of them with `dry_run`).
pub fn run(plans: &[FilePlan], dry_run: bool, show_suggestions: bool) -> String {
    let mut out = String::new();
    let mut fixed = 0usize;
    for plan in plans {
        let name = super::shown(&plan.file);
        if !plan.applied.is_empty() {
            if dry_run {
                let _ = writeln!(out, "fix (dry run, nothing written): {name}");
                out.push_str(&diff(plan, &plan.applied));
            } else {
                match write(plan) {
                    Written::Yes => {
                        fixed += plan.applied.len();
                        for e in &plan.applied {
                            let _ = writeln!(
                                out,
                                "fixed: {name}:{}: {}",
                                e.line,
                                crate::escape::line(&e.description)
                            );
                        }
                    }
                    Written::Refused(why) => {
                        let _ = writeln!(out, "not fixed: {name}: {}", crate::escape::line(&why));
                    }
                }
            }
        }
        if let Some(why) = &plan.refused {
            let _ = writeln!(
                out,
                "not fixed: {name}: {}; its edits are shown as a diff",
                crate::escape::line(why)
            );
        }
        if !plan.suggested.is_empty() && (dry_run || show_suggestions || plan.refused.is_some()) {
            let _ = writeln!(out, "suggested, not applied: {name}");
            out.push_str(&diff(plan, &plan.suggested));
        }
    }
    if !dry_run {
        let suggested: usize = plans.iter().map(|p| p.suggested.len()).sum();
        let _ = writeln!(
            out,
            "fix: {fixed} edit(s) made; {suggested} suggested, not applied{}",
            if show_suggestions || suggested == 0 {
                ""
            } else {
                " (--diff shows them)"
            }
        );
    }
    out
}
