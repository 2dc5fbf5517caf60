//! Property tests of everything in `scan` that reads a repository or shows what it read: the
//! Go lexer, the go.mod/go.work and CI-file readers, the path matcher, a whole file's scan, and
//! the text, JSON and SARIF renderers.
//!
//! Each property gets arbitrary input (bytes, biased towards the ones that matter: quotes,
//! slashes, backslashes, line breaks, multi-byte characters) and must not panic; where a
//! straightforward reference can be stated (the tokens a generated Go source was built from,
//! the directives a generated go.mod holds, a path planted in noise) the result must equal it.
//!
//! The budget is fixed so that the suite runs in a few seconds on every `cargo test`:
//! `PROPTEST_CASES=100000 cargo test --lib scan::props` runs it longer. No failure files are
//! written; an input that fails is printed, shrunk, and kept as a named regression test at the
//! end of this file.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::directives::{self, Dialect};
use super::golex::{self, Quote};
use super::paths::{self, Rule};
use super::{Build, Construct, Kind, Problem, ScanFinding, ScanReport, render, scan_bytes};

/// Cases per property: 256, or `PROPTEST_CASES`.
fn config(share: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(256);
    crate::testing::budget((cases / share).max(1))
}

/// Pieces of text that matter to some reader, and a few that matter to none.
const TRICKY: &[&str] = &[
    "\"",
    "'",
    "`",
    "/",
    "*",
    "\\",
    "\n",
    "\r",
    "\t",
    " ",
    "//",
    "/*",
    "*/",
    "\\x",
    "\\u",
    "\\U",
    "\\0",
    "\\'",
    "\\\"",
    "é",
    "€",
    "名前",
    "😀",
    "\u{feff}",
    "\u{2028}",
    "\u{85}",
    "\u{1b}[",
    ":",
    "::",
    "::error::",
    "##[",
    "=",
    ":=",
    "?=",
    "=>",
    "(",
    ")",
    "#",
    "rem ",
    "REM ",
    "$",
    "%",
    "~",
    "C:",
    "c:/",
    "D:\\",
    "\\\\?\\",
    "file:///",
    "/home/",
    "/Users/",
    "/usr/local/go",
    "pkg/mod",
    "go-build",
    "go",
    "~/go",
    "$HOME/go",
    "%USERPROFILE%\\go",
    "$env:APPDATA\\",
    "GOPATH",
    "GOCACHE",
    "PATH",
    "GITHUB_PATH",
    "export ",
    "ENV ",
    "setx ",
    "env.",
    "$env:",
    "replace",
    "use",
    "module",
    "v1.0.0",
    "a",
    "7",
    "ff",
];

/// Text made of tricky pieces and arbitrary characters.
fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => select(TRICKY).prop_map(str::to_string),
            1 => any::<char>().prop_map(String::from),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// Bytes: arbitrary ones and the bytes of tricky pieces, so that some are not UTF-8 and some
/// cut a multi-byte character.
fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => select(TRICKY).prop_map(|s| s.as_bytes().to_vec()),
            1 => prop::collection::vec(any::<u8>(), 1..4),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// Where `part` (a slice of `whole`) starts in it.
fn offset_in(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Line and code-point column of byte `offset`, counted the obvious way; a byte order mark
/// at the start is not counted.
fn reference_position(src: &str, offset: usize) -> (u32, u32) {
    let start = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let before = &src[start..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line as u32, column as u32)
}

// ------------------------------------------------------------------------------------------
// The Go lexer.

/// One element of an interpreted string: a character as written, or an escape and its bytes.
#[derive(Clone, Debug)]
enum Elem {
    Char(char),
    Escape(String, Vec<u8>),
}

/// A piece of generated Go source.
#[derive(Clone, Debug)]
enum Piece {
    /// Anything but quotes, slashes and line breaks.
    Code(String),
    /// ` / `: division, not a comment.
    Slash,
    Newline,
    LineComment(String),
    GeneralComment(String),
    Rune(String),
    Interpreted(Vec<Elem>),
    Raw(String),
}

fn code_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => select(&['a', 'Z', '0', ' ', '\t', '.', '(', ')', '{', '=', ':', ';', '*', '\\', '\r',
            '#', '%', '$'][..]),
        1 => select(&['é', '日', '😀', '\u{feff}', '\u{2028}', '\u{85}'][..]),
        1 => any::<char>().prop_filter("not a token", |c| !"\"'`/\n".contains(*c)),
    ]
}

fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        2 => code_char(),
        1 => select(&['"', '\'', '`', '/', '*', '\n'][..]),
    ]
}

fn simple_escape(quote: char) -> impl Strategy<Value = (String, Vec<u8>)> {
    let table: Vec<(&str, u8)> = vec![
        ("\\a", 7),
        ("\\b", 8),
        ("\\f", 0x0c),
        ("\\n", b'\n'),
        ("\\r", b'\r'),
        ("\\t", b'\t'),
        ("\\v", 0x0b),
        ("\\\\", b'\\'),
        (if quote == '"' { "\\\"" } else { "\\'" }, quote as u8),
    ];
    select(table).prop_map(|(s, b)| (s.to_string(), vec![b]))
}

/// Every escape Go has, written with random case, and the bytes it stands for.
fn escape(quote: char) -> impl Strategy<Value = (String, Vec<u8>)> {
    let case = |s: String, upper: bool| if upper { s.to_uppercase() } else { s };
    prop_oneof![
        simple_escape(quote),
        (any::<u8>(), any::<bool>())
            .prop_map(move |(b, up)| (format!("\\x{}", case(format!("{b:02x}"), up)), vec![b])),
        any::<u8>().prop_map(|b| (format!("\\{b:03o}"), vec![b])),
        (
            any::<char>().prop_filter("BMP", |c| (*c as u32) <= 0xffff),
            any::<bool>()
        )
            .prop_map(move |(c, up)| (
                format!("\\u{}", case(format!("{:04x}", c as u32), up)),
                c.to_string().into_bytes()
            )),
        (any::<char>(), any::<bool>()).prop_map(move |(c, up)| (
            format!("\\U{}", case(format!("{:08x}", c as u32), up)),
            c.to_string().into_bytes()
        )),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    let text = |max| prop::collection::vec(text_char(), 0..max);
    prop_oneof![
        3 => prop::collection::vec(code_char(), 0..8).prop_map(|c| Piece::Code(c.into_iter().collect())),
        1 => Just(Piece::Slash),
        2 => Just(Piece::Newline),
        1 => text(12).prop_map(|c| Piece::LineComment(c.into_iter().filter(|&c| c != '\n').collect())),
        1 => text(12).prop_map(|c| {
            let mut t: String = c.into_iter().collect();
            while t.contains("*/") {
                t = t.replace("*/", "*");
            }
            Piece::GeneralComment(t)
        }),
        1 => prop_oneof![
            code_char().prop_filter("rune", |c| *c != '\\').prop_map(|c| format!("'{c}'")),
            select(&['"', '`', '/', '*'][..]).prop_map(|c| format!("'{c}'")),
            escape('\'').prop_map(|(e, _)| format!("'{e}'")),
        ]
        .prop_map(Piece::Rune),
        3 => prop::collection::vec(
            prop_oneof![
                2 => text_char()
                    .prop_filter("interpreted", |c| !"\"\\\n".contains(*c))
                    .prop_map(Elem::Char),
                1 => escape('"').prop_map(|(e, b)| Elem::Escape(e, b)),
            ],
            0..10,
        )
        .prop_map(Piece::Interpreted),
        2 => text(12).prop_map(|c| Piece::Raw(c.into_iter().filter(|&c| c != '`').collect())),
    ]
}

/// A literal as the reference expects it: quote, source, value, line, column, end offset.
type Expected = (Quote, String, String, u32, u32, usize);

/// Go source built from pieces, and the string literals it holds, by construction.
fn go_source() -> impl Strategy<Value = (String, Vec<Expected>)> {
    (any::<bool>(), prop::collection::vec(piece(), 0..16)).prop_map(|(bom, pieces)| {
        let mut src = String::from(if bom { "\u{feff}" } else { "" });
        let mut starts = Vec::new();
        for piece in &pieces {
            let start = src.len();
            match piece {
                Piece::Code(c) => src.push_str(c),
                Piece::Slash => src.push('/'),
                Piece::Newline => src.push('\n'),
                Piece::LineComment(t) => {
                    src.push_str("//");
                    src.push_str(t);
                    src.push('\n');
                }
                Piece::GeneralComment(t) => {
                    src.push_str("/*");
                    src.push_str(t);
                    src.push_str("*/");
                }
                Piece::Rune(r) => src.push_str(r),
                Piece::Interpreted(elems) => {
                    src.push('"');
                    let mut bytes = Vec::new();
                    for e in elems {
                        match e {
                            Elem::Char(c) => {
                                src.push(*c);
                                bytes.extend_from_slice(c.to_string().as_bytes());
                            }
                            Elem::Escape(written, b) => {
                                src.push_str(written);
                                bytes.extend_from_slice(b);
                            }
                        }
                    }
                    src.push('"');
                    let value = String::from_utf8_lossy(&bytes).into_owned();
                    starts.push((Quote::Interpreted, start, value));
                }
                Piece::Raw(t) => {
                    src.push('`');
                    src.push_str(t);
                    src.push('`');
                    starts.push((Quote::Raw, start, t.replace('\r', "")));
                }
            }
            // Pieces are kept apart, so that `/` and a following `/` or `*` do not meet.
            src.push(' ');
        }
        let expected = starts
            .into_iter()
            .map(|(quote, start, value)| {
                let end = match quote {
                    // A raw string ends at the next backquote, which its text cannot hold.
                    Quote::Raw => start + 2 + src[start + 1..].find('`').unwrap(),
                    // An interpreted string at the first quote that is not escaped.
                    Quote::Interpreted => interpreted_end(&src, start),
                };
                let (line, column) = reference_position(&src, start);
                (quote, src[start..end].to_string(), value, line, column, end)
            })
            .collect();
        (src, expected)
    })
}

/// The end (past the closing quote) of the interpreted string at `start`, skipping escapes.
fn interpreted_end(src: &str, start: usize) -> usize {
    let b = src.as_bytes();
    let mut i = start + 1;
    while b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

fn lexed(src: &str) -> (Vec<Expected>, Option<golex::LexError>) {
    let (lits, err) = golex::string_literals(src);
    let got = lits
        .iter()
        .map(|l| {
            let start = offset_in(src, l.source);
            (
                l.quote,
                l.source.to_string(),
                l.value.to_string(),
                l.line,
                l.column,
                start + l.source.len(),
            )
        })
        .collect();
    (got, err)
}

proptest! {
    #![proptest_config(config(1))]

    /// Whatever the bytes, the lexer ends; what it returns lies in the source, in order, at
    /// the positions the obvious count gives.
    #[test]
    fn golex_takes_any_bytes(bytes in tricky_bytes(80)) {
        let src = String::from_utf8_lossy(&bytes);
        let (lits, err) = golex::string_literals(&src);
        let mut after = 0;
        for l in &lits {
            let start = offset_in(&src, l.source);
            prop_assert!(start >= after);
            after = start + l.source.len();
            prop_assert_eq!((l.line, l.column), reference_position(&src, start));
            match l.quote {
                Quote::Raw => {
                    prop_assert!(l.source.len() >= 2 && l.source.starts_with('`') && l.source.ends_with('`'));
                    prop_assert_eq!(&*l.value, l.source[1..l.source.len() - 1].replace('\r', ""));
                }
                Quote::Interpreted => {
                    prop_assert!(l.source.len() >= 2 && l.source.starts_with('"') && l.source.ends_with('"'));
                    if !l.source.contains('\\') {
                        prop_assert_eq!(&*l.value, &l.source[1..l.source.len() - 1]);
                    }
                }
            }
        }
        if let Some(e) = err {
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }

    /// Go source built from comments, runes, strings with every escape, raw strings across
    /// lines, multi-byte characters and a byte order mark: exactly the literals it was built
    /// from, with their values and positions.
    #[test]
    fn golex_finds_the_literals_a_source_was_built_from((src, expected) in go_source()) {
        let (got, err) = lexed(&src);
        prop_assert_eq!(err, None, "{:?}", src);
        prop_assert_eq!(got, expected, "{:?}", src);
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// The same source cut at every byte, inside multi-byte characters too, and decoded as
    /// scan decodes a file (lossily): exactly the literals that end before the cut.
    #[test]
    fn golex_cut_anywhere_finds_the_literals_before_the_cut((src, expected) in go_source()) {
        for cut in 0..=src.len() {
            let prefix = String::from_utf8_lossy(&src.as_bytes()[..cut]);
            let (got, _) = lexed(&prefix);
            let want: Vec<Expected> =
                expected.iter().filter(|e| e.5 <= cut).cloned().collect();
            prop_assert_eq!(got, want, "cut at {} of {:?}", cut, src);
        }
    }
}

// ------------------------------------------------------------------------------------------
// go.mod and go.work.

/// A replacement or `use` target, how it is written, and whether it is absolute.
fn target() -> impl Strategy<Value = (String, String, bool)> {
    let component = "[a-z0-9é名_.-]{1,6}";
    prop_oneof![
        component.prop_map(|c| (format!("/{c}/x"), format!("/{c}/x"), true)),
        (
            select(&['C', 'd', 'Z'][..]),
            component,
            select(&['\\', '/'][..])
        )
            .prop_map(|(d, c, sep)| (
                format!("{d}:{sep}{c}"),
                format!("{d}:{sep}{c}"),
                true
            )),
        component.prop_map(|c| (format!("\\\\srv\\{c}"), format!("\\\\srv\\{c}"), true)),
        component.prop_map(|c| (format!("\"/{c} dir\""), format!("/{c} dir"), true)),
        component.prop_map(|c| (format!("`D:/{c}`"), format!("D:/{c}"), true)),
        component.prop_map(|c| (format!("../{c}"), format!("../{c}"), false)),
        component.prop_map(|c| (format!("./{c}"), format!("./{c}"), false)),
        component.prop_map(|c| (format!("example.com/{c} v1.2.3"), String::new(), false)),
    ]
}

/// A hit as go_mod reports it: rule, line, column, path.
type ModHit = (Rule, u32, u32, String);

/// A go.mod or go.work line or block, and the hits it holds: (rule, line offset, column,
/// path), the line offset counted from the entry's first line.
#[derive(Clone, Debug)]
struct Entry {
    lines: Vec<String>,
    hits: Vec<(Rule, usize, u32, String)>,
}

fn comment() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[ a-z\"`/é]{0,6}".prop_map(|c| format!(" // {c}")))
}

/// `old [v] => new`, written; the column of `new` in it; the target; a trailing comment.
fn replacement() -> impl Strategy<Value = (String, u32, (String, String, bool), String)> {
    let module = "[a-z]{1,4}\\.(com|org)/[a-zé名0-9_-]{1,5}";
    let version = prop::option::of(Just(" v1.0.0"));
    (module, version, target(), comment()).prop_map(|(m, v, t, c)| {
        let written = format!("{m}{} => {}", v.unwrap_or(""), t.0);
        let column = written.chars().count() as u32 - t.0.chars().count() as u32 + 1;
        (written, column, t, c.unwrap_or_default())
    })
}

fn entry(work: bool) -> impl Strategy<Value = Entry> {
    let other = select(vec![
        "module example.com/app".to_string(),
        "go 1.22".to_string(),
        "require example.com/lib v1.0.0".to_string(),
        "// replace a => /commented/out".to_string(),
        "".to_string(),
        "toolchain go1.27.3 // ünïcode".to_string(),
    ])
    .prop_map(|l| Entry {
        lines: vec![l],
        hits: vec![],
    });
    let single = replacement().prop_map(|(written, column, t, c)| {
        let hits = if t.2 {
            vec![(Rule::AbsoluteReplace, 0, column + 8, t.1)]
        } else {
            vec![]
        };
        Entry {
            lines: vec![format!("replace {written}{c}")],
            hits,
        }
    });
    let block = prop::collection::vec(replacement(), 0..4).prop_map(|entries| {
        let mut lines = vec!["replace (".to_string()];
        let mut hits = vec![];
        for (i, (written, column, t, c)) in entries.into_iter().enumerate() {
            lines.push(format!("\t{written}{c}"));
            if t.2 {
                hits.push((Rule::AbsoluteReplace, i + 1, column + 1, t.1));
            }
        }
        lines.push(")".to_string());
        Entry { lines, hits }
    });
    let uses = prop::collection::vec((target(), comment()), 1..4).prop_map(move |targets| {
        let block = targets.len() > 1;
        let mut lines = if block {
            vec!["use (".to_string()]
        } else {
            vec![]
        };
        let mut hits = vec![];
        for (i, (t, c)) in targets.into_iter().enumerate() {
            let prefix = if block { "\t" } else { "use " };
            lines.push(format!("{prefix}{}{}", t.0, c.unwrap_or_default()));
            if work && t.2 {
                let line = if block { i + 1 } else { i };
                hits.push((Rule::AbsoluteUse, line, prefix.len() as u32 + 1, t.1));
            }
        }
        if block {
            lines.push(")".to_string());
        }
        Entry { lines, hits }
    });
    prop_oneof![2 => other, 2 => single, 1 => block, 1 => uses]
}

/// Whether it is go.work, the file, and its hits.
fn go_mod_file() -> impl Strategy<Value = (bool, String, Vec<ModHit>)> {
    any::<bool>().prop_flat_map(|work| {
        (Just(work), prop::collection::vec(entry(work), 0..8)).prop_map(|(work, entries)| {
            let mut text = String::new();
            let mut hits = vec![];
            let mut line = 1;
            for e in entries {
                for (rule, offset, column, path) in e.hits {
                    hits.push((rule, (line + offset) as u32, column, path));
                }
                for l in e.lines {
                    text.push_str(&l);
                    text.push('\n');
                    line += 1;
                }
            }
            (work, text, hits)
        })
    })
}

proptest! {
    #![proptest_config(config(1))]

    /// A go.mod or go.work file built from directives: exactly the absolute targets, where
    /// they stand.
    #[test]
    fn go_mod_finds_the_absolute_targets_it_was_built_from((work, text, want) in go_mod_file()) {
        let got: Vec<ModHit> = directives::go_mod(&text, work)
            .into_iter()
            .map(|h| (h.rule, h.line, h.column, h.path))
            .collect();
        prop_assert_eq!(got, want, "{}", text);
    }

    /// Any bytes as go.mod or go.work, and as a CI file in either dialect: no panic, and every
    /// hit stands on its line at its column.
    #[test]
    fn directives_take_any_bytes(bytes in tricky_bytes(80)) {
        let text = String::from_utf8_lossy(&bytes);
        for work in [false, true] {
            for h in directives::go_mod(&text, work) {
                prop_assert!(h.line >= 1 && h.column >= 1);
            }
        }
        for dialect in [Dialect::Yaml, Dialect::Script] {
            for h in directives::assignments(&text, dialect, b'C') {
                assert_stands_at(&text, h.line, h.column, &h.path)?;
            }
        }
    }
}

/// `path` is on line `line` of `text`, starting at code-point column `column`.
fn assert_stands_at(text: &str, line: u32, column: u32, path: &str) -> Result<(), TestCaseError> {
    let l = text.lines().nth(line as usize - 1);
    prop_assert!(l.is_some(), "no line {} in {:?}", line, text);
    let from: String = l
        .unwrap_or_default()
        .chars()
        .skip(column as usize - 1)
        .collect();
    prop_assert!(
        from.starts_with(path),
        "{:?} not at {}:{} of {:?}",
        path,
        line,
        column,
        text
    );
    Ok(())
}

/// Lines of CI and build files that once crashed the reader or that it must read right.
const CI_LINES: &[&str] = &[
    "- 名前: x",
    "ab€",
    ": 日本語のコメント",
    "# 日本語のコメント",
    "rem set GOPATH=C:\\x",
    "REM GOPATH=C:\\x",
    "GOPATH: C:\\Users\\runneradmin\\go",
    "  - run: echo \"D:\\go\\bin\" >> \"$GITHUB_PATH\"",
    "export GOCACHE=/home/runner/.cache/go-build",
    "ENV GOROOT /usr/local/go",
    "$env:GOENV = \"$env:APPDATA\\go\\env\"",
    "setx GOPATH %USERPROFILE%\\go",
    "GOMODCACHE ?= /root/go/pkg/mod",
];

proptest! {
    #![proptest_config(config(4))]

    /// Every line above with a multi-byte character, or the first bytes of one (which the
    /// lossy decoding turns into U+FFFD), put in at every byte offset: no panic, and every hit
    /// stands where it says.
    #[test]
    fn ci_lines_with_multi_byte_characters_at_every_offset(
        line in select(CI_LINES),
        ch in select(&['é', '€', '名', '😀', '\u{feff}', '\u{3000}'][..]),
        keep in 1usize..=4,
    ) {
        let mut buf = [0u8; 4];
        let encoded = ch.encode_utf8(&mut buf).as_bytes();
        let inserted = &encoded[..keep.min(encoded.len())];
        for at in 0..=line.len() {
            let mut bytes = line.as_bytes()[..at].to_vec();
            bytes.extend_from_slice(inserted);
            bytes.extend_from_slice(&line.as_bytes()[at..]);
            bytes.push(b'\n');
            let text = String::from_utf8_lossy(&bytes);
            for dialect in [Dialect::Yaml, Dialect::Script] {
                for h in directives::assignments(&text, dialect, b'C') {
                    assert_stands_at(&text, h.line, h.column, &h.path)?;
                }
            }
            let _ = directives::go_mod(&text, true);
        }
    }
}

// ------------------------------------------------------------------------------------------
// The path matcher.

/// A path of a rule's kind, and the rule.
fn planted_path() -> impl Strategy<Value = (String, Rule)> {
    let name = "[a-z][a-z0-9._-]{0,7}".prop_filter("not Shared", |n| n != "Shared");
    let comp = "[A-Za-z0-9_]{1,6}";
    prop_oneof![
        (select(&["home", "Users"][..]), name, comp)
            .prop_map(|(top, n, c)| (format!("/{top}/{n}/{c}"), Rule::UserHomePath)),
        prop::option::of(comp).prop_map(|c| (
            format!(
                "/usr/local/go{}",
                c.map(|c| format!("/{c}")).unwrap_or_default()
            ),
            Rule::GorootPath
        )),
        (
            "[a-z]{1,5}".prop_filter("not a home", |a| a != "home" && a != "usr"),
            comp
        )
            .prop_map(|(a, c)| (format!("/{a}/pkg/mod/{c}"), Rule::GoCachePath)),
        ("[a-z]{1,5}".prop_filter("not a home", |a| a != "home"))
            .prop_map(|a| (format!("/var/{a}/go-build"), Rule::GoCachePath)),
        (select(&['C', 'c'][..]), comp, select(&["\\", "/"][..]))
            .prop_map(|(d, c, s)| (format!("{d}:{s}{c}"), Rule::SystemDrivePath)),
        (select(&['D', 'e', 'Z'][..]), comp)
            .prop_map(|(d, c)| (format!("{d}:\\{c}"), Rule::DrivePath)),
        comp.prop_map(|c| (format!("\\\\?\\C:\\{c}"), Rule::SystemDrivePath)),
        (
            select(&["~/", "$HOME/", "${HOME}/", "$(HOME)/"][..]),
            prop::option::of(comp)
        )
            .prop_map(|(h, c)| (
                format!("{h}go{}", c.map(|c| format!("/{c}")).unwrap_or_default()),
                Rule::HomeGoPath
            )),
        (
            select(
                &[
                    "%USERPROFILE%",
                    "%LocalAppData%",
                    "$env:APPDATA",
                    "${env:APPDATA}"
                ][..]
            ),
            select(&["\\go", "\\go-build", "\\go\\env", "/go/bin"][..])
        )
            .prop_map(|(v, g)| (format!("{v}{g}"), Rule::UserProfilePath)),
    ]
}

proptest! {
    #![proptest_config(config(1))]

    /// Any text: no panic; hits are slices of the text at their offsets, in order, apart.
    #[test]
    fn paths_take_any_text(text in tricky_text(40)) {
        let hits = paths::find(&text, b'C');
        let mut after = 0;
        for h in &hits {
            prop_assert!(h.start >= after);
            prop_assert_eq!(text.get(h.start..h.start + h.path.len()), Some(h.path.as_str()));
            after = h.start + h.path.len();
        }
        // Nothing before a text that could join a path changes what is found in it.
        for prefix in [" ", "é ", "\n"] {
            let shifted: Vec<_> = paths::find(&format!("{prefix}{text}"), b'C')
                .into_iter()
                .map(|mut h| { h.start -= prefix.len(); h })
                .collect();
            prop_assert_eq!(&shifted, &hits, "{:?}", prefix);
        }
    }

    /// A path planted among words is found, whole, with its rule, and nothing else is.
    #[test]
    fn paths_find_a_planted_path(
        (path, rule) in planted_path(),
        before in "[a-z0-9 é]{0,12}",
        after in "[a-z0-9 é]{0,12}",
    ) {
        let text = format!("{before} {path};{after}");
        let hits = paths::find(&text, b'C');
        prop_assert_eq!(hits.len(), 1, "{:?}: {:?}", text, hits);
        prop_assert_eq!(&hits[0].path, &path);
        prop_assert_eq!(hits[0].rule, rule);
        prop_assert_eq!(hits[0].start, before.len() + 1);
    }
}

// ------------------------------------------------------------------------------------------
// A whole file, and the renderers.

fn kind() -> impl Strategy<Value = Kind> {
    select(vec![
        Kind::Go,
        Kind::GoMod,
        Kind::GoWork,
        Kind::Build(Build::Workflow),
        Kind::Build(Build::Action),
        Kind::Build(Build::Shell),
        Kind::Build(Build::PowerShell),
        Kind::Build(Build::Batch),
        Kind::Build(Build::Makefile),
        Kind::Build(Build::Dockerfile),
        Kind::Build(Build::Jenkinsfile),
    ])
}

proptest! {
    #![proptest_config(config(1))]

    /// Any bytes as any kind of file: no panic, and every finding is a path the file holds.
    #[test]
    fn a_file_of_any_bytes_scans(bytes in tricky_bytes(80), kind in kind()) {
        let mut report = ScanReport::default();
        scan_bytes(Path::new("f"), &bytes, kind, b'C', &mut report);
        let text = String::from_utf8_lossy(&bytes);
        for f in &report.findings {
            prop_assert!(f.line >= 1 && f.column >= 1);
            if kind != Kind::Go {
                assert_stands_at(&text, f.line, f.column, &f.path)?;
            }
        }
    }
}

/// A file name: arbitrary bytes where the system allows them, hostile text elsewhere.
fn file_name() -> impl Strategy<Value = PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        tricky_bytes(12).prop_map(|b| PathBuf::from(std::ffi::OsString::from_vec(b)))
    }
    #[cfg(not(unix))]
    {
        tricky_text(12).prop_map(PathBuf::from)
    }
}

fn finding() -> impl Strategy<Value = ScanFinding> {
    (
        file_name(),
        any::<u32>(),
        any::<u32>(),
        select(Rule::ALL.to_vec()),
        select(vec![
            Construct::GoString,
            Construct::GoMod,
            Construct::GoWork,
            Construct::Assignment,
        ]),
        tricky_text(10),
        tricky_text(10),
    )
        .prop_map(|(file, line, column, rule, context, path, source)| {
            ScanFinding::new(file, (line, column), rule, context, path, source)
        })
}

fn report() -> impl Strategy<Value = ScanReport> {
    (
        any::<u64>(),
        prop::collection::vec(finding(), 0..6),
        prop::collection::vec(
            (file_name(), tricky_text(8)).prop_map(|(file, message)| Problem { file, message }),
            0..3,
        ),
        prop::collection::vec(
            (finding(), tricky_text(8), any::<u32>(), any::<bool>()),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(files_scanned, findings, problems, suppressed, notes)| {
            let suppressed = suppressed
                .into_iter()
                .map(|(f, reason, line, inline)| {
                    let s = if inline {
                        super::Suppression::Comment { line, reason }
                    } else {
                        super::Suppression::Excluded { glob: reason }
                    };
                    (f, s)
                })
                .collect();
            let findings = findings
                .into_iter()
                .map(|mut f: ScanFinding| {
                    if notes {
                        f.place = super::Place::TestData;
                        f.level = super::Level::Note;
                        f.paths.push(f.source.clone());
                    }
                    f
                })
                .collect();
            ScanReport {
                files_scanned,
                findings,
                suppressed,
                problems,
            }
        })
}

/// No line of `out` can start a workflow command or hold the legacy `##[`; a runner splits
/// lines at CR as well as LF and trims blanks before looking.
fn steers_nothing(out: &str) -> Result<(), TestCaseError> {
    for line in out.split(['\n', '\r']) {
        prop_assert!(!line.trim_start().starts_with("::"), "{:?}", line);
        prop_assert!(!line.contains("##["), "{:?}", line);
    }
    Ok(())
}

/// `%XX` back to bytes; `None` if a `%` is not followed by two hex digits.
#[cfg(unix)]
fn percent_decode(uri: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = uri.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(config(1))]

    /// Any findings and problems render in every format. Text shows them escaped: no control
    /// character but line breaks and tabs, no line that starts a command. JSON and SARIF are
    /// valid JSON holding the values whole, and start no command either. SARIF's URIs are
    /// RFC 3986 and decode to the names' exact bytes.
    #[test]
    fn any_report_renders(report in report()) {
        let text = render::text(&report);
        steers_nothing(&text)?;
        prop_assert!(
            !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{:?}", text
        );

        let json = render::json(&report);
        steers_nothing(&json)?;
        let doc: Value = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let findings = doc["findings"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(findings.len(), report.findings.len());
        for (f, j) in report.findings.iter().zip(&findings) {
            prop_assert_eq!(j["path"].as_str(), Some(f.path.as_str()));
            prop_assert_eq!(j["source"].as_str(), Some(f.source.as_str()));
            prop_assert_eq!(j["file"].as_str(), Some(&*super::shown(&f.file)));
        }

        let sarif = render::sarif(&report, Path::new("/w/base dir"));
        steers_nothing(&sarif)?;
        let doc: Value = serde_json::from_str(&sarif).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
        // One result per place, suppressed ones included, in order; no two share a
        // fingerprint.
        let mut all: Vec<&ScanFinding> = report
            .findings
            .iter()
            .chain(report.suppressed.iter().map(|(f, _)| f))
            .collect();
        all.sort();
        all.dedup_by(|a, b| (&a.file, a.line, a.column, a.rule) == (&b.file, b.line, b.column, b.rule));
        prop_assert_eq!(results.len(), all.len());
        let prints: std::collections::BTreeSet<String> = results
            .iter()
            .map(|r| r["partialFingerprints"]["goDiskGuardFinding/v2"].to_string())
            .collect();
        prop_assert_eq!(prints.len(), results.len());
        for (f, r) in all.iter().zip(&results) {
            let location = &r["locations"][0]["physicalLocation"];
            let uri = location["artifactLocation"]["uri"].as_str().unwrap_or_default();
            let encoded = uri.strip_prefix("file://").unwrap_or(uri);
            prop_assert!(
                encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%:".contains(&b)),
                "{:?}", uri
            );
            #[cfg(unix)]
            {
                let decoded = percent_decode(encoded);
                prop_assert_eq!(
                    decoded.as_deref(),
                    Some(f.file.as_os_str().as_encoded_bytes()),
                    "{:?}", uri
                );
            }
            prop_assert_eq!(location["region"]["startLine"].as_u64(), Some(u64::from(f.line)));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Regression tests: inputs that once failed, kept as they were found.

/// Found by `directives_take_any_bytes` and `a_file_of_any_bytes_scans` against the reader
/// that sliced a line's first four bytes: two bytes that are not UTF-8 decode to two U+FFFD,
/// six bytes, and the slice ended inside the second.
#[test]
fn regression_two_stray_continuation_bytes_in_a_ci_file() {
    for kind in [Kind::Build(Build::Workflow), Kind::Build(Build::Shell)] {
        for bytes in [&b"\x80\x80"[..], b"\n\x80\x80"] {
            let mut report = ScanReport::default();
            scan_bytes(Path::new("f"), bytes, kind, b'C', &mut report);
            assert_eq!(report.findings, []);
        }
    }
}

/// Found by `ci_lines_with_multi_byte_characters_at_every_offset` against the same reader:
/// a workflow line with a name in Japanese, and one with a character put before it.
#[test]
fn regression_a_yaml_key_in_japanese() {
    for line in ["- 名前: x\n", "é- 名前: x\n", "\u{fffd}- 名前: x\n"] {
        assert_eq!(directives::assignments(line, Dialect::Yaml, b'C'), []);
    }
}

/// Found by `any_report_renders` against the renderer that printed names raw: a file named
/// with a lone carriage return, which a runner takes for a line break, in the text report's
/// list of problems.
#[test]
fn regression_a_problem_file_named_carriage_return() {
    let report = ScanReport {
        files_scanned: 0,
        findings: vec![],
        suppressed: vec![],
        problems: vec![Problem {
            file: PathBuf::from("\r"),
            message: String::new(),
        }],
    };
    let text = render::text(&report);
    assert!(text.ends_with("  \\r: \n"), "{text:?}");
    assert!(!text.contains('\r'));
}

/// Found by `any_report_renders` against the renderer that put the `PathBuf` itself into the
/// JSON document: a name that is not UTF-8 made it panic ("path contains invalid UTF-8
/// characters") once such names were scanned.
#[cfg(unix)]
#[test]
fn regression_a_file_name_that_is_not_utf8_in_json_and_sarif() {
    use std::os::unix::ffi::OsStrExt;
    let report = ScanReport {
        files_scanned: 1,
        findings: vec![ScanFinding::new(
            PathBuf::from(std::ffi::OsStr::from_bytes(b"\xff")),
            (0, 0),
            Rule::SystemDrivePath,
            Construct::GoString,
            String::new(),
            String::new(),
        )],
        suppressed: vec![],
        problems: vec![Problem {
            file: PathBuf::from(std::ffi::OsStr::from_bytes(b"\xfe")),
            message: String::new(),
        }],
    };
    let doc: Value = serde_json::from_str(&render::json(&report)).unwrap();
    assert_eq!(doc["findings"][0]["file"], "\\xff");
    assert_eq!(doc["problems"][0]["file"], "\\xfe");
    let sarif: Value = serde_json::from_str(&render::sarif(&report, Path::new("/w"))).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "%FF"
    );
}

// ------------------------------------------------------------------------------------------
// Suppression comments, exclusion globs and the fixer: readers of what a repository wrote.

/// Lines that look like assignments and suppression comments of every dialect, with tricky
/// text between them: what the fixer and the comment reader are given.
fn ci_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => select(vec![
            "export GOCACHE=/home/ci/.cache/go-build\n",
            "GOPATH=/home/ci/go\n",
            "export PATH=/usr/local/go/bin:$PATH\n",
            "GOPATH := /home/ci/go\n",
            "$env:GOPATH = \"C:\\Users\\b\\go\"\n",
            "set GOMODCACHE=C:\\Users\\b\\go\\pkg\\mod\n",
            "ENV GOCACHE=/home/b/.cache/go-build\n",
            "env:\n  GOCACHE: /home/runner/.cache/go-build\n",
            "      - run: echo \"C:\\Users\\runneradmin\\.local\\bin\" >> $env:GITHUB_PATH\n",
            "      - run: echo /home/runner/bin >> \"$GITHUB_PATH\"\n",
            "echo $GOPATH\n",
            "cat <<EOF\n",
            "x \\\n",
            "# go-disk-guard:ignore GDG004 why\n",
            "//go-disk-guard:ignore-file\n",
            "REM go-disk-guard:ignore GDG001,GDG003\n",
            "  GOROOT: /usr/local/go # go-disk-guard:ignore\n",
        ])
        .prop_map(str::to_string),
        1 => tricky_text(6),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|p| p.concat())
}

fn build_kind() -> impl Strategy<Value = Build> {
    select(vec![
        Build::Workflow,
        Build::Action,
        Build::Shell,
        Build::PowerShell,
        Build::Batch,
        Build::Makefile,
        Build::Dockerfile,
        Build::Jenkinsfile,
    ])
}

proptest! {
    #![proptest_config(config(1))]

    /// Any text: the comments found are on lines the text has, and name rules that exist.
    #[test]
    fn suppression_comments_in_any_text(text in prop_oneof![ci_text(), tricky_text(40)]) {
        let lines = text.lines().count();
        for c in super::suppress::comments(&text) {
            prop_assert!(c.line >= 1 && (c.line as usize) <= lines.max(1));
        }
    }

    /// A comment planted in noise is found with its rules and reason.
    #[test]
    fn a_planted_suppression_comment_is_read(
        before in tricky_text(6).prop_filter("one line", |t| !t.contains(['\n', '\r']) && !t.contains("go-disk-guard")),
        rules in prop::collection::vec(select(Rule::ALL.to_vec()), 1..3),
        reason in "[a-z ]{0,20}",
        marker in select(vec!["#", "//", "REM", "::"]),
    ) {
        let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
        let text = format!("{before}\n{marker} go-disk-guard:ignore {} {reason}\nnext\n", ids.join(","));
        let found = super::suppress::comments(&text);
        let c = found.iter().find(|c| c.line == 2);
        prop_assert!(c.is_some(), "{:?}", found);
        let c = c.unwrap_or_else(|| unreachable!());
        prop_assert_eq!(&c.rules, &rules);
        prop_assert_eq!(c.reason.as_str(), reason.trim());
        prop_assert!(c.covers(3, rules[0]));
    }

    /// Any pattern against any path: an answer, no panic, in time; a path matches itself
    /// and its directories match what is under them.
    #[test]
    fn globs_take_any_pattern_and_path(
        pattern in prop_oneof![tricky_text(12), "[a-z*?/.]{0,16}"],
        path in prop_oneof![tricky_text(12), "[a-z/.]{0,24}"],
    ) {
        let _ = super::suppress::glob_matches(&pattern, &path);
        let clean: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != "." && *p != ".." && !p.contains(['*', '?'])).collect();
        if !clean.is_empty() {
            let joined = clean.join("/");
            prop_assert!(super::suppress::glob_matches(&joined, &joined), "{}", joined);
            let dir = format!("{joined}/");
            let under = format!("{joined}/x");
            prop_assert!(super::suppress::glob_matches(&dir, &under), "{}", dir);
        }
    }

    /// Any text as any CI or build file: planning its fixes does not panic, every applied
    /// edit was checked (the edited text holds fewer findings), and edits touch only the
    /// lines of findings (and an `env:` line above one).
    #[test]
    fn the_fixer_takes_any_text(text in prop_oneof![ci_text(), tricky_text(30)], build in build_kind()) {
        let kind = Kind::Build(build);
        let path = Path::new("f");
        let mut problems = Vec::new();
        let mut found = super::find_in(path, &text, kind, b'C', &mut problems);
        let found = super::merge_places(&mut found);
        let refs: Vec<&ScanFinding> = found.iter().collect();
        let plan = super::fix::plan_file(path, text.clone(), kind, &refs, b'C');
        let lines: Vec<u32> = found.iter().map(|f| f.line).collect();
        for e in plan.applied.iter().chain(&plan.suggested) {
            prop_assert!(lines.contains(&e.line), "edit of line {} not reported", e.line);
        }
        if !plan.applied.is_empty() {
            let edited = plan.edited(&plan.applied);
            let mut after = super::find_in(path, &edited, kind, b'C', &mut problems);
            let after = super::merge_places(&mut after);
            prop_assert!(after.len() < found.len(), "{:?} -> {:?}", text, edited);
        }
        let _ = super::fix::diff(&plan, &plan.applied);
        let _ = super::fix::diff(&plan, &plan.suggested);
    }

    /// Any Go text: suggestions only, never an applied edit.
    #[test]
    fn go_code_is_never_edited(text in tricky_text(40)) {
        let text = format!("package p\nconst c = \"/home/u/go/bin\"\nvar v = {text}\n");
        let path = Path::new("f.go");
        let mut problems = Vec::new();
        let mut found = super::find_in(path, &text, Kind::Go, b'C', &mut problems);
        let found = super::merge_places(&mut found);
        let refs: Vec<&ScanFinding> = found.iter().collect();
        let plan = super::fix::plan_file(path, text, Kind::Go, &refs, b'C');
        prop_assert!(plan.applied.is_empty());
    }
}
