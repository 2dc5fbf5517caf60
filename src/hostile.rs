//! Hostile text for tests: fragments that end lines, start workflow commands, break
//! Markdown, quoting or delimiters, mixed with any characters; and the checks that read
//! output the way a GitHub Actions runner and a Markdown renderer do. Used by the unit tests
//! (`crate::hostile`) and by the integration tests (included by path), so both attack with
//! the same fragments and judge by the same rules.

#![allow(dead_code)]

use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "::",
    "::error::",
    "::add-mask::",
    "::stop-commands::",
    "##[",
    "##[error]",
    "#",
    "\n",
    "\r",
    "\r\n",
    " ",
    "\t",
    "\u{b}",
    "\u{c}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{202e}",
    "\u{feff}",
    "\u{200b}",
    "\u{1b}[31m",
    "\0",
    "%",
    "%0A",
    "%25",
    ":",
    ",",
    "|",
    "`",
    "[",
    "](",
    ")",
    "!",
    "<",
    ">",
    "&",
    "&#58;",
    "*",
    "_",
    "~",
    "\\",
    "'",
    "\"",
    "$",
    "$(",
    "`x`",
    "@",
    "=",
    "-",
    "1. ",
    "www.",
    "WwW.",
    "http://e.x",
    "ghadelimiter_",
    "<<",
    "EOF",
    "%PATH%",
    "!x!",
    "^",
    "名前",
    "€",
    "é",
];

/// Text made of hostile fragments and arbitrary characters.
pub fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => any::<char>().prop_map(String::from),
            1 => "[a-z/]{1,6}",
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

/// Bytes: hostile text, with bytes that are not UTF-8 mixed in.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => text().prop_map(String::into_bytes),
            1 => prop::collection::vec(0x80u8..=0xff, 1..3),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

/// The lines a GitHub Actions runner reads from `output`: it splits at LF, CR and CRLF.
pub fn runner_lines(output: &str) -> Vec<&str> {
    output.split(['\n', '\r']).collect()
}

/// Whether the runner would read `l` as a workflow command. The runner trims whitespace
/// before looking for `::`; this also skips other invisible characters, to be stricter.
pub fn is_command(l: &str) -> bool {
    let trimmed = l.trim_start_matches(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '\u{200b}' | '\u{feff}')
    });
    trimmed.starts_with("::") || l.contains("##[")
}

/// The runner's unescaping of a workflow command's message (`%0D`, `%0A`, then `%25`).
pub fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// The runner's unescaping of a property value.
pub fn unescape_property(s: &str) -> String {
    unescape_data(&s.replace("%3A", ":").replace("%2C", ","))
}

/// Values meant to start workflow commands in a log, break Markdown, or end a quoting.
pub const VALUES: &[&str] = &[
    "/tmp/x\n::error::owned",
    "/tmp/x\r::add-mask::secret",
    "/tmp/x\r\n  ::stop-commands::token",
    "/tmp/x ##[error]owned",
    "/tmp/x\n::warning file=a,line=1::owned\n\t::notice::again",
    "/tmp/x`](http://evil.example)![i](http://evil.example/i.png)<img src=x>|www.evil.example",
    "/tmp/x\u{2028}::error::u2028\u{85}::error::nel\u{1b}[31m",
];

/// The lines of `output` a runner would read as workflow commands.
pub fn commands(output: &[u8]) -> Vec<String> {
    runner_lines(&String::from_utf8_lossy(output))
        .into_iter()
        .filter(|l| is_command(l))
        .map(str::to_string)
        .collect()
}

/// Asserts that nothing in `output` is a workflow command but the lines `ours` accepts.
pub fn assert_no_commands_but(output: &[u8], what: &str, ours: impl Fn(&str) -> bool) {
    let text = String::from_utf8_lossy(output);
    for l in runner_lines(&text) {
        assert!(
            !is_command(l) || ours(l),
            "{what}: a runner reads {l:?} as a command in:\n{text}"
        );
    }
}

/// Asserts that nothing in `output` is a workflow command.
pub fn assert_no_commands(output: &[u8], what: &str) {
    assert_no_commands_but(output, what, |_| false);
}

/// `md` without its character references (`&#96;`, `&lt;`, …), which show as text.
pub fn outside_references(md: &str) -> String {
    let mut bare = String::new();
    let mut rest = md;
    while let Some(at) = rest.find('&') {
        bare.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e + 1);
        rest = &rest[end..];
    }
    bare.push_str(rest);
    bare
}

/// Markdown's structure: how many of each character that makes code spans, links, images,
/// HTML, tables and lines `md` holds outside character references.
pub fn markdown_structure(md: &str) -> Vec<(char, usize)> {
    let bare = outside_references(md);
    [
        '`', '[', ']', '(', ')', '<', '>', '!', '|', '*', '_', '~', '#', '\\', '\n', '\r',
    ]
    .iter()
    .map(|&c| (c, bare.matches(c).count()))
    .collect()
}

/// Asserts that `md` holds no link, image, autolink or raw HTML but `<code>`, `<details>` and
/// `<summary>`.
pub fn assert_no_markup_from_values(md: &str) {
    let bare = outside_references(md);
    for bad in ["](", "![", "<img", "http:", "www.", "<a "] {
        assert!(!bare.contains(bad), "{bad:?} in the Markdown:\n{md}");
    }
    for l in bare.lines() {
        assert_eq!(l.matches('`').count() % 2, 0, "an unclosed code span: {l}");
        assert_eq!(
            l.matches("<code>").count(),
            l.matches("</code>").count(),
            "{l}"
        );
    }
}
