//! How untrusted text is shown: paths, values, file names, error messages and server replies
//! that a pull request, a machine or a server chose.
//!
//! A GitHub Actions runner reads every line a step prints: a line that starts with `::`
//! (after blanks) is a workflow command, and so is a line holding the legacy form `##[`
//! anywhere. A line break inside a printed value would let that value start a line of its
//! own, and so add annotations and masks or stop command processing. So:
//!
//! * [`line`] and [`os`] show a value inside one line of a log: control characters (line
//!   breaks, escape sequences, Unicode line separators) become visible escapes, bytes that are
//!   not UTF-8 become `\xNN`, and `##[` becomes `#\x23[`;
//! * [`guard`] is the last step for any block of free text printed on a runner: no line of it
//!   can start a command (`::` at its start becomes `\x3a:`) or hold `##[`;
//! * [`command_data`] and [`command_property`] escape the text *inside* a workflow command as
//!   the runner undoes it (`%25`, `%0D`, `%0A`; in a property also `%3A`, `%2C`);
//! * [`markdown`] shows a value in the job summary's Markdown, inside a table cell or a list,
//!   as literal text: no code span, link, image, HTML or cell break can come out of it.
//!
//! This module is a leaf: it imports nothing of the crate.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// `s` for one line of a log: nothing in it can end the line, start a command or move the
/// terminal's cursor. Returns `s` itself when nothing needed escaping.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) && !s.contains("##[") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_line(&mut out, s);
    Cow::Owned(out)
}

/// An operating-system string (a path, an environment value) for one line of a log, as
/// [`line`]; bytes that are not UTF-8 are shown as `\xNN` rather than replaced.
pub fn os(s: &OsStr) -> Cow<'_, str> {
    match s.to_str() {
        Some(text) => line(text),
        None => {
            let mut out = String::with_capacity(s.len() + 8);
            for chunk in s.as_encoded_bytes().utf8_chunks() {
                push_line(&mut out, chunk.valid());
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            Cow::Owned(out)
        }
    }
}

/// A path for one line of a log, as [`os`].
pub fn path(p: &Path) -> Cow<'_, str> {
    os(p.as_os_str())
}

fn needs_escape(c: char) -> bool {
    // C0 and C1 controls (CR, LF, ESC, NEL, …) and the Unicode line and paragraph separators.
    // A tab is harmless in a line and common in messages: it stays.
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_line(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("##[") {
            out.push_str("#\\x23[");
            rest = &rest[3..];
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
}

/// A block of free text (a rendered report, an error message) made safe to print on a
/// runner: each line that would start a workflow command is defused, and `##[` anywhere is
/// broken up. Line breaks stay (they are the block's own); carriage returns, which a runner
/// treats as line breaks too, become `\r`. Returns `text` itself when nothing needed it.
pub fn guard(text: &str) -> Cow<'_, str> {
    let risky = text.contains("##[")
        || text.contains('\r')
        || text.split('\n').any(|l| starts_command(l).is_some());
    if !risky {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let l = l.replace('\r', "\\r").replace("##[", "#\\x23[");
        match starts_command(&l) {
            Some(blanks) => {
                out.push_str(&l[..blanks]);
                out.push_str("\\x3a");
                out.push_str(&l[blanks + 1..]);
            }
            None => out.push_str(&l),
        }
    }
    Cow::Owned(out)
}

/// Where the `::` of a line that a runner would read as a command starts: after leading
/// whitespace (the runner trims it).
fn starts_command(l: &str) -> Option<usize> {
    let trimmed = l.trim_start();
    trimmed.starts_with("::").then(|| l.len() - trimmed.len())
}

/// A workflow command's message, escaped as the runner unescapes it: `%` → `%25`, CR →
/// `%0D`, LF → `%0A`. The message cannot end the command's line.
pub fn command_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (`title=…`): as [`command_data`], and `:` → `%3A`,
/// `,` → `%2C`, so that it cannot end the property list or start another property.
pub fn command_property(s: &str) -> String {
    command_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `s` as literal text in GitHub-flavoured Markdown, safe inside a table cell, a list item or
/// `<code>…</code>`: HTML's special characters, the table's `|`, and every character that
/// could open Markdown syntax (code spans, links, images, emphasis, autolinks, footnotes)
/// become character references, which GitHub shows as the character itself. Line breaks and
/// other controls become visible escapes, as in [`line`].
pub fn markdown(s: &str) -> String {
    let shown = line(s);
    let mut out = String::with_capacity(shown.len() + 16);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' | '`' | '[' | ']' | '(' | ')' | '!' | '*' | '_' | '~' | '\\' | '#' | '\'' | '$'
            | ':' | '@' | '^' | '{' | '}' | '+' | '=' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An operating-system string in Markdown, as [`markdown`] with [`os`]'s escapes.
pub fn markdown_os(s: &OsStr) -> String {
    match s.to_str() {
        Some(text) => markdown(text),
        None => markdown(&os(s)),
    }
}

/// `s` as inline code in Markdown: `<code>` holding [`markdown`]'s literal text (a Markdown
/// code span cannot hold every value: backticks and `|` would end it or the cell).
pub fn markdown_code(s: &str) -> String {
    format!("<code>{}</code>", markdown(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cannot_be_broken() {
        assert_eq!(line("/home/runner/go"), "/home/runner/go");
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
        assert_eq!(
            line("/tmp/x\n::error::owned\r\n"),
            "/tmp/x\\n::error::owned\\r\\n"
        );
        assert_eq!(line("a\u{1b}[31mred"), "a\\x1b[31mred");
        assert_eq!(line("a\u{85}b\u{2028}c"), "a\\x85b\\u{2028}c");
        assert_eq!(line("x ##[error]y"), "x #\\x23[error]y");
        assert_eq!(line("tab\there"), "tab\there");
        assert_eq!(line("名前 €"), "名前 €");
    }

    #[test]
    fn non_utf8_bytes_are_shown_not_replaced() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let s = OsStr::from_bytes(b"/tmp/caf\xe9\n/x");
            assert_eq!(os(s), "/tmp/caf\\xe9\\n/x");
            assert_eq!(markdown_os(s), "/tmp/caf&#92;xe9&#92;n/x");
        }
        assert_eq!(os(OsStr::new("ok")), "ok");
    }

    #[test]
    fn guarded_text_starts_no_command() {
        let text = "report\n::error::x\n  ::add-mask::y\nok ##[warning]z\r::stop-commands::t";
        let safe = guard(text);
        for l in safe.split('\n') {
            assert!(!l.trim_start().starts_with("::"), "{l}");
            assert!(!l.contains("##["), "{l}");
            assert!(!l.contains('\r'), "{l}");
        }
        assert_eq!(
            safe,
            "report\n\\x3a:error::x\n  \\x3a:add-mask::y\nok #\\x23[warning]z\\r::stop-commands::t"
        );
        assert!(matches!(guard("a\nb: c::d\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn command_text_is_escaped_as_the_runner_unescapes_it() {
        assert_eq!(command_data("50% full\r\nnext"), "50%25 full%0D%0Anext");
        assert_eq!(command_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn markdown_is_literal() {
        let evil = "a|b`c`[x](http://e)![i](http://e)<img src=x>\n**b**";
        let shown = markdown(evil);
        for c in ['|', '`', '[', ']', '(', ')', '<', '>', '\n', '*', '!'] {
            assert!(!shown.contains(c), "{c:?} in {shown}");
        }
        assert_eq!(markdown("/home/runner/go-build"), "/home/runner/go-build");
        assert_eq!(markdown_code("a`b"), "<code>a&#96;b</code>");
    }
}
