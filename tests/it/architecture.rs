//! The module graph of `src/` (non-test code) against README's layers: no import cycle between
//! the top-level modules, and no import that runs upward. `cli.rs` reads nothing.
//!
//! The graph is read from the source: the modules `lib.rs` declares (following `mod` to their
//! files, leaving out `#[cfg(test)]` ones), and in each the paths into the crate it names:
//! `crate::x`, `use crate::{x, y::z}`, `super::…` chains that climb to the root, and
//! `"crate::x::…"` in attributes (`serialize_with`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// README's layers, top first: the mechanisms act as policy decides (they import it, never the
/// other way round), on what was measured.
/// A module may import from its own layer (as long as no cycle
/// forms) and from any layer below; `scan` and `ghcache` stand apart and import leaves only.
const LAYERS: &[(&str, &[&str])] = &[
    ("commands", &["commands"]),
    ("tell", &["report", "emit", "doctor"]),
    ("act", &["prune", "relocate", "cacheprog", "supervise"]),
    ("decide", &["policy"]),
    ("measure", &["goenv", "disk", "buildcache"]),
    (
        "leaves",
        &[
            "units",
            "settings",
            "error",
            "exit_codes",
            "escape",
            "safefs",
            "progress",
        ],
    ),
];

/// Modules beside the layers: they may import leaves, and nothing imports them but commands.
const APART: &[&str] = &["scan", "ghcache"];

/// Leaves that import nothing of the crate at all.
const BARE_LEAVES: &[&str] = &["units", "error", "escape", "safefs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `text` with comments, string and character literals blanked (newlines kept, every byte
/// where it was), so that braces and paths inside them are not read as code.
fn blank(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let end = if b[i..].starts_with(b"//") {
            b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p)
        } else if b[i..].starts_with(b"/*") {
            block_comment_end(b, i)
        } else if let Some(end) = raw_string_end(b, i) {
            end
        } else if b[i] == b'"' {
            string_end(b, i)
        } else if let Some(len) = char_literal_len(b, i) {
            i + len
        } else {
            out.push(b[i]);
            i += 1;
            continue;
        };
        out.extend(
            b[i..end]
                .iter()
                .map(|&c| if c == b'\n' { b'\n' } else { b' ' }),
        );
        i = end;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The end of the (nested) block comment starting at `start`.
fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of the raw string (`r"…"`, `r#"…"#`, `br"…"`) starting at `start`, if one does.
fn raw_string_end(b: &[u8], start: usize) -> Option<usize> {
    let rest = &b[start..];
    let open = if rest.starts_with(b"br") {
        start + 2
    } else if rest.starts_with(b"r") {
        start + 1
    } else {
        return None;
    };
    if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
        return None;
    }
    let hashes = b[open..].iter().take_while(|&&c| c == b'#').count();
    if b.get(open + hashes) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let body = open + hashes + 1;
    Some(
        b[body..]
            .windows(close.len())
            .position(|w| w == close.as_slice())
            .map_or(b.len(), |p| body + p + close.len()),
    )
}

/// The end of the string literal whose opening quote is at `start`.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(b.len())
}

/// The length of the character literal at `start` (`'x'`, `'\n'`, `'\u{1F600}'`, `'é'`), or
/// `None` for a lifetime (`'a`) or anything else.
fn char_literal_len(b: &[u8], start: usize) -> Option<usize> {
    if b[start] != b'\'' {
        return None;
    }
    if b.get(start + 1) == Some(&b'\\') {
        return b[start + 2..]
            .iter()
            .position(|&c| c == b'\'')
            .map(|p| p + 3);
    }
    let tail = &b[start + 1..b.len().min(start + 5)];
    let c = (1..=tail.len())
        .rev()
        .find_map(|n| std::str::from_utf8(&tail[..n]).ok()?.chars().next())?;
    let n = c.len_utf8();
    (b.get(start + 1 + n) == Some(&b'\'')).then_some(n + 2)
}

/// The end (exclusive) of the item starting at `from`: its `;`, or its closing brace.
fn item_end(code: &str, from: usize) -> usize {
    let b = code.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(from) {
        match c {
            b';' if depth == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

/// Whether a `cfg` predicate holds only under test: `test`, `all(test, unix)`; not
/// `not(test)`, nor `any(test, …)`.
fn only_under_test(predicate: &str) -> bool {
    let words: Vec<&str> = predicate
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.contains(&"test") && !words.contains(&"not") && !words.contains(&"any")
}

/// `text` with the items compiled only under test (`#[cfg(test)]`, `#[cfg(all(test, …))]`)
/// blanked, newlines kept. Where the items lie is read from `code` (`text` blanked by
/// [`blank`]), so that braces in strings do not count.
fn without_tests_in(text: &str, code: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(") {
        let start = from + at;
        let predicate_start = start + "#[cfg(".len();
        let Some(close) = code[predicate_start..].find(")]") else {
            break;
        };
        let predicate = &code[predicate_start..predicate_start + close];
        let after = predicate_start + close + ")]".len();
        if !only_under_test(predicate) {
            from = after;
            continue;
        }
        let end = item_end(code, after);
        for byte in &mut out[start..end] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
        from = end;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Blanked `code` without its `#[cfg(test)]` items.
fn without_tests(code: &str) -> String {
    without_tests_in(code, code)
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// The modules a file declares with `mod name;` (not inline ones: their code is in the file),
/// each with the file a `#[path = "…"]` attribute names, if any. `code` is `raw` blanked, line
/// for line.
fn declared_modules(code: &str, raw: &str) -> Vec<(String, Option<String>)> {
    let raw_lines: Vec<&str> = raw.lines().collect();
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.trim_start();
        let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let Some(rest) = line.strip_prefix("mod ") else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(name) = ident_at(rest) else {
            continue;
        };
        if !rest[name.len()..].trim_start().starts_with(';') {
            continue;
        }
        let path = raw_lines[..n]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#["))
            .find_map(|l| {
                let value = l.strip_prefix("#[path")?.trim_start().strip_prefix('=')?;
                Some(
                    value
                        .trim()
                        .trim_end_matches(']')
                        .trim_matches('"')
                        .to_string(),
                )
            });
        found.push((name.to_string(), path));
    }
    found
}

/// The top-level modules that the code of module `path` (e.g. `["report", "text"]`) names.
fn references(code: &str, raw: &str, path: &[String]) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    // `crate::x` and `crate::{x, y::z}`.
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = item_end(rest, 0).saturating_sub(1).max(1);
            let inner = &group[..end - 1];
            let mut depth = 0;
            let mut start = true;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 0 => {
                        if let Some(name) = ident_at(&inner[i..]) {
                            refs.insert(name.to_string());
                        }
                        start = false;
                    }
                    _ => {}
                }
            }
        } else if let Some(name) = ident_at(rest) {
            refs.insert(name.to_string());
        }
    }
    // `"crate::x::f"` in attributes.
    for (at, _) in raw.match_indices("\"crate::") {
        if let Some(name) = ident_at(&raw[at + "\"crate::".len()..]) {
            refs.insert(name.to_string());
        }
    }
    // `super::super::x` climbing to the root.
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups == path.len()
            && let Some(name) = ident_at(rest)
        {
            refs.insert(name.to_string());
        }
    }
    refs.retain(|r| r != "self" && r != "super");
    refs.into_iter()
        .map(
            |r| match ROOT_REEXPORTS.iter().find(|(item, _)| *item == r) {
                Some((_, module)) => module.to_string(),
                None => r,
            },
        )
        .collect()
}

/// What `lib.rs` re-exports at the root (`crate::Error` is `crate::error::Error`).
const ROOT_REEXPORTS: &[(&str, &str)] = &[("Error", "error"), ("ExitCode", "exit_codes")];

/// Every top-level module and the top-level modules it imports (itself left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // (module path, file, directory its children live in)
    // (module path, its file, the directory its children live in)
    let mut queue: Vec<(Vec<String>, PathBuf, PathBuf)> = Vec::new();
    let declare = |path: &[String], code: &str, raw: &str, dir: &Path, queue: &mut Vec<_>| {
        for (child, file) in declared_modules(code, raw) {
            let mut p = path.to_vec();
            p.push(child.clone());
            let (file, children) = match file {
                Some(file) => (dir.join(file), dir.join(&child)),
                None if dir.join(format!("{child}.rs")).is_file() => {
                    (dir.join(format!("{child}.rs")), dir.join(&child))
                }
                None => (dir.join(&child).join("mod.rs"), dir.join(&child)),
            };
            queue.push((p, file, children));
        }
    };
    declare(&[], &without_tests(&blank(&lib)), &lib, &root, &mut queue);
    while let Some((path, file, children)) = queue.pop() {
        let raw = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let code = without_tests(&blank(&raw));
        let raw_code = without_tests_in(&raw, &blank(&raw));
        let top = &path[0];
        let refs = references(&code, &raw_code, &path);
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| r != top));
        declare(&path, &code, &raw, &children, &mut queue);
    }
    graph
}

/// The layer index of `module` (0 is the top), or `None` for one standing apart.
fn layer_of(module: &str) -> Option<Option<usize>> {
    if APART.contains(&module) {
        return Some(None);
    }
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&module))
        .map(Some)
}

#[test]
fn every_module_has_a_place_in_the_layers() {
    let graph = graph();
    assert!(graph.len() >= 15, "too few modules found: {graph:?}");
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    for line in lib.lines().filter(|l| l.starts_with("pub use ")) {
        assert!(
            ROOT_REEXPORTS
                .iter()
                .any(|(item, module)| line == format!("pub use {module}::{item};")),
            "a root re-export the graph does not know: {line}"
        );
    }
    let unplaced: Vec<&String> = graph.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to README's layers and to LAYERS): {unplaced:?}"
    );
}

#[test]
fn no_import_runs_upward_or_into_a_module_apart() {
    let graph = graph();
    let leaves = LAYERS.len() - 1;
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        let Some(from_layer) = layer_of(from) else {
            continue;
        };
        for to in tos {
            let Some(to_layer) = layer_of(to) else {
                wrong.push(format!("{from} → {to} (no such module in the layers)"));
                continue;
            };
            let fine = match (from_layer, to_layer) {
                // Apart: only leaves, and only commands reach in.
                (None, to) => to == Some(leaves),
                (Some(f), None) => f == 0,
                (Some(f), Some(t)) => t >= f,
            };
            if !fine {
                wrong.push(format!("{from} → {to}"));
            }
        }
    }
    for bare in BARE_LEAVES {
        for to in graph.get(*bare).into_iter().flatten() {
            wrong.push(format!("{bare} → {to} (a bare leaf imports nothing)"));
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    // Depth-first search with colours; report the first cycle found, as a path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(next, graph, state, stack) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0
            && let Some(cycle) = visit(node, &graph, &mut state, &mut Vec::new())
        {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_reader_finds_the_imports_it_must() {
    // The parser itself, on forms the crate uses.
    let code = "use crate::{a, b::{c, d}, e::f};\nfn g() { crate::h::i(); super::super::j::k(); }\n\
                #[cfg(test)]\nmod tests { use crate::t; }\nconst S: &str = \"crate::s\";\n";
    let blanked = without_tests(&blank(code));
    assert!(only_under_test("test") && only_under_test("all(test, unix)"));
    let tricky = "let a = '{'; let s = r#\"}\"#; /* { /* } */ */ let l: &'static str = \"{\";\n";
    assert_eq!(blank(tricky).len(), tricky.len());
    assert!(!blank(tricky).contains(['{', '}']), "{}", blank(tricky));
    assert!(blank("fn f<'a>(x: &'a str) {}").contains("'a"));
    assert!(!only_under_test("not(test)") && !only_under_test("any(test, feature = \"x\")"));
    let refs = references(&blanked, code, &["m".into(), "n".into()]);
    let expected: BTreeSet<String> = ["a", "b", "e", "h", "j", "s"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(refs, expected);
    let declared = "pub mod a;\n#[cfg(unix)]\n#[path = \"unix.rs\"]\nmod b;\nmod c {\n}\n";
    assert_eq!(
        declared_modules(declared, declared),
        [
            ("a".to_string(), None),
            ("b".to_string(), Some("unix.rs".to_string()))
        ]
    );
}

#[test]
fn cli_only_parses_arguments() {
    // cli.rs holds argument definitions and their conversion to settings: it reads no file,
    // no environment variable and no network.
    let cli = without_tests(&blank(
        &std::fs::read_to_string(src().join("cli.rs")).unwrap(),
    ));
    for needle in [
        "std::fs",
        "std::env",
        "File::",
        "OpenOptions",
        "current_dir",
        "TcpStream",
        "read_to_string",
        "var_os",
    ] {
        assert!(!cli.contains(needle), "cli.rs uses {needle}");
    }
}

/// The longest a function of `src/` (test code aside) may be, in lines from `fn` to its closing
/// brace.
const MAX_FUNCTION_LINES: usize = 80;

/// Every function of `code` (blanked) with its length in lines.
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Some(name) = ident_at(&code[at + 3..]) else {
            continue;
        };
        // The body: the first `{` before any `;` (a declaration in a trait has none).
        let rest = &code[at..];
        let (Some(open), semi) = (rest.find('{'), rest.find(';')) else {
            continue;
        };
        if semi.is_some_and(|s| s < open) {
            continue;
        }
        let end = item_end(code, at + open);
        let lines = code[at..end].lines().count();
        found.push((name.to_string(), lines));
    }
    found
}

#[test]
fn no_function_is_longer_than_about_80_lines() {
    let mut long = Vec::new();
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let code = without_tests(&blank(&std::fs::read_to_string(&path).unwrap()));
            let file = path
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for (name, lines) in function_lengths(&code) {
                if lines > MAX_FUNCTION_LINES {
                    long.push(format!("{file}: {name} ({lines} lines)"));
                }
            }
        }
    }
    assert!(long.is_empty(), "functions to split: {long:#?}");
}

#[test]
fn function_lengths_are_counted_from_fn_to_the_closing_brace() {
    let code = "fn a() {\n    let s = 1;\n}\ntrait T { fn b(&self); }\npub fn c() -> u8 { 1 }\n";
    assert_eq!(
        function_lengths(&blank(code)),
        [("a".to_string(), 3), ("c".to_string(), 1)]
    );
}
