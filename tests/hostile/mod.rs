//! Hostile text for the integration tests, and a model of how a GitHub Actions runner reads a
//! step's output: which lines it would take as workflow commands.

#![allow(dead_code)]

use proptest::prelude::*;

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

/// The lines a runner reads from `output`: it splits at LF, CR and CRLF.
pub fn runner_lines(output: &str) -> Vec<&str> {
    output.split(['\n', '\r']).collect()
}

/// Whether the runner would read `line` as a workflow command: `::` after blanks (the runner
/// trims whitespace; other invisible characters are skipped here too, to be stricter), or
/// the legacy `##[` anywhere.
pub fn is_command(line: &str) -> bool {
    let trimmed = line.trim_start_matches(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '\u{200b}' | '\u{feff}')
    });
    trimmed.starts_with("::") || line.contains("##[")
}

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

/// The runner's unescaping of a workflow command's message.
pub fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
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
        '`', '[', ']', '(', ')', '<', '>', '!', '|', '*', '_', '\\', '\n', '\r',
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

const FRAGMENTS: &[&str] = &[
    "::",
    "::error::",
    "::add-mask::",
    "::stop-commands::",
    "##[",
    "#",
    "\n",
    "\r",
    "\r\n",
    " ",
    "\t",
    "%",
    "%0A",
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
    "*",
    "_",
    "\\",
    "'",
    "\"",
    "$",
    "$(",
    "`x`",
    "=",
    "-",
    "ghadelimiter_",
    "<<",
    "%PATH%",
    "名前",
    "é",
];

/// Bytes of hostile fragments, arbitrary characters and bytes that are not UTF-8.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(|f| f.as_bytes().to_vec()),
            1 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
            1 => prop::collection::vec(0x80u8..=0xff, 1..3),
            2 => "[a-z/]{1,6}".prop_map(String::into_bytes),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}
