//! How untrusted text is shown: paths, values, file names, error messages and server replies
//! that a pull request, a machine or a server chose.
//!
//! A GitHub Actions runner reads every line a step prints (a carriage return ends a line as
//! a line feed does): a line that starts with `::` (after blanks) is a workflow command, and
//! so is a line holding the legacy form `##[` anywhere. A line break inside a printed value
//! would let that value start a line of its own, and so add annotations and masks or stop
//! command processing. So:
//!
//! * [`line`] and [`os`] show a value inside one line of a log: control characters (line
//!   breaks, escape sequences, Unicode line separators and bidirectional overrides) become
//!   visible escapes, bytes that are not UTF-8 become `\xNN`, `##[` becomes `#\x23[`, and a
//!   leading `:` becomes `\x3a` (so that the value cannot start a command even at the start
//!   of a line, whatever follows it);
//! * [`guard`] is the last step for any block of free text printed on a runner: no line of it
//!   can start a command (`::` at its start becomes `\x3a:`) or hold `##[`;
//! * [`guard_json`] is the same last step for a JSON document, keeping it JSON that reads
//!   back to the same values;
//! * [`command_data`] and [`command_property`] escape the text *inside* a workflow command as
//!   the runner undoes it (`%25`, `%0D`, `%0A`; in a property also `%3A`, `%2C`);
//! * [`markdown`] shows a value in the job summary's Markdown, inside a table cell or a list,
//!   as literal text: no code span, link, autolink, image, HTML, list or cell break can come
//!   out of it; [`markdown_code`] shows it as inline code.
//!
//! This module is a leaf: it imports nothing of the crate.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// `s` for one line of a log: nothing in it can end the line, start a command or move the
/// terminal's cursor. Returns `s` itself when nothing needed escaping.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) && !s.contains("##[") && leading(s, ":").is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_line(&mut out, s);
    Cow::Owned(defuse_start(out, ":"))
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
            // `##[` split by an invalid byte cannot form again: the byte became `\xNN`.
            Cow::Owned(defuse_start(out, ":"))
        }
    }
}

/// A path for one line of a log, as [`os`].
pub fn path(p: &Path) -> Cow<'_, str> {
    os(p.as_os_str())
}

fn needs_escape(c: char) -> bool {
    // C0 and C1 controls (CR, LF, ESC, NEL, …), the Unicode line and paragraph separators,
    // and the bidirectional controls that make a line read other than it is written. A tab is
    // harmless in a line and common in messages: it stays.
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_line(out: &mut String, s: &str) {
    let mut rest = s;
    loop {
        if let Some(after) = rest.strip_prefix("##[") {
            out.push_str("#\\x23[");
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
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
        rest = chars.as_str();
    }
}

/// `l` with the first `:` of a leading `start` (`:` or `::`, after blanks) written `\x3a`, so
/// that it cannot start a command.
fn defuse_start(l: String, start: &str) -> String {
    match leading(&l, start).and_then(|blanks| l.split_at_checked(blanks)) {
        Some((blanks, rest)) => {
            let after = rest.strip_prefix(':').unwrap_or(rest);
            format!("{blanks}\\x3a{after}")
        }
        None => l,
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
        out.push_str(&defuse_start(l, "::"));
    }
    Cow::Owned(out)
}

/// Where the `::` of a line that a runner would read as a command starts: after leading
/// blanks (the runner trims whitespace; other invisible characters are skipped too, to be
/// safe).
fn starts_command(l: &str) -> Option<usize> {
    leading(l, "::")
}

/// Where `start` begins when `l` starts with it after blanks.
fn leading(l: &str, start: &str) -> Option<usize> {
    let trimmed = l.trim_start_matches(is_blank);
    trimmed.starts_with(start).then(|| l.len() - trimmed.len())
}

fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{180e}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}'
        )
}

/// A JSON document (as `serde_json` writes it: control characters inside strings escaped,
/// so every line starts with blanks and JSON syntax, never with `::`) made safe to print on a
/// runner: `##[`, which can only occur inside a string there, becomes `##\u005b`, which
/// reads back as the same `##[`. Returns `json` itself when nothing needed it.
pub fn guard_json(json: &str) -> Cow<'_, str> {
    if json.contains("##[") {
        Cow::Owned(json.replace("##[", "##\\u005b"))
    } else {
        Cow::Borrowed(json)
    }
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

/// `s` as literal text in GitHub-flavoured Markdown, safe inside a table cell, a list item,
/// `<code>…</code>` or at the start of a paragraph: HTML's special characters, the table's
/// `|`, every character that could open Markdown syntax (code spans, links, images,
/// emphasis, autolinks, footnotes), the `w` that starts a `www.` autolink, and a leading
/// blank, digit or `-` (which could start a code block or a list) become character
/// references, which GitHub shows as the character itself. Line breaks and other controls
/// become visible escapes, as in [`line`].
pub fn markdown(s: &str) -> String {
    let shown = line(s);
    let mut out = String::with_capacity(shown.len() + 16);
    let mut rest: &str = &shown;
    let mut first = true;
    while let Some(c) = rest.chars().next() {
        let www = rest
            .get(..4)
            .is_some_and(|head| head.eq_ignore_ascii_case("www."));
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' | '`' | '[' | ']' | '(' | ')' | '!' | '*' | '_' | '~' | '\\' | '#' | '\'' | '$'
            | ':' | '@' | '^' | '{' | '}' | '+' | '=' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if www || (first && (c.is_whitespace() || c.is_ascii_digit() || c == '-')) => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
        first = false;
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
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

/// An operating-system string as inline code in Markdown, as [`markdown_code`] with
/// [`os`]'s escapes.
pub fn markdown_code_os(s: &OsStr) -> String {
    format!("<code>{}</code>", markdown_os(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

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
        assert_eq!(line("###[x"), "##\\x23[x");
        assert_eq!(line("tab\there"), "tab\there");
        assert_eq!(line("名前 €"), "名前 €");
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn a_value_cannot_start_a_command_even_at_the_start_of_a_line() {
        assert_eq!(line("::error::x"), "\\x3a:error::x");
        assert_eq!(line("  ::add-mask::y"), "  \\x3a:add-mask::y");
        assert_eq!(line(":x"), "\\x3ax");
        assert_eq!(line("a::b"), "a::b");
        assert!(matches!(line("a::b"), Cow::Borrowed(_)));
    }

    /// Found by `ghcache`'s property test: a value `:` printed where a line starts, with `: `
    /// after it (`{repo}: …`), made a line starting with `::`.
    #[test]
    fn regression_a_lone_colon_followed_by_a_colon_starts_no_command() {
        let shown = format!("{}: 1 caches", line(":"));
        assert_eq!(shown, "\\x3a: 1 caches");
        assert_eq!(guard(&shown), shown);
    }

    #[test]
    fn non_utf8_bytes_are_shown_not_replaced() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let s = OsStr::from_bytes(b"/tmp/caf\xe9\n/x");
            assert_eq!(os(s), "/tmp/caf\\xe9\\n/x");
            assert_eq!(markdown_os(s), "/tmp/caf&#92;xe9&#92;n/x");
            assert_eq!(os(OsStr::from_bytes(b"::\xff")), "\\x3a:\\xff");
            assert_eq!(os(OsStr::from_bytes(b"##\xff##[")), "##\\xff#\\x23[");
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
        // A vertical tab or a byte-order mark before `::` does not hide a command.
        assert_eq!(guard("\u{b}::error::x"), "\u{b}\\x3a:error::x");
        assert_eq!(guard("\u{feff}::error::x"), "\u{feff}\\x3a:error::x");
    }

    #[test]
    fn json_is_guarded_and_reads_back() {
        let value = serde_json::json!({"GOCACHE": "/x\n::error::y ##[error]z ###[w"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = guard_json(&text);
        assert!(!safe.contains("##["), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
        assert!(matches!(guard_json("{\"a\": 1}"), Cow::Borrowed(_)));
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

    #[test]
    fn markdown_makes_no_autolink_list_or_code_block() {
        assert_eq!(markdown("see www.e.x"), "see &#119;ww.e.x");
        assert_eq!(markdown("WWW.e.x"), "&#87;WW.e.x");
        assert_eq!(markdown("wwww.e.x"), "w&#119;ww.e.x");
        assert_eq!(markdown("1. item"), "&#49;. item");
        assert_eq!(markdown("- item"), "&#45; item");
        assert_eq!(markdown("    code"), "&#32;   code");
        assert_eq!(markdown("x-1"), "x-1");
    }

    /// A fixed budget: the properties run in well under a second.
    fn config() -> ProptestConfig {
        crate::testing::budget(512)
    }

    /// `&#N;`, `&amp;`, `&lt;`, `&gt;`, `&quot;` decoded, as a Markdown renderer shows them.
    fn decode_references(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            let end = rest.find(';').expect("a reference ends with ;");
            let name = &rest[1..end];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                n => char::from_u32(n.strip_prefix('#').unwrap().parse().unwrap()).unwrap(),
            };
            out.push(c);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `s` without its character references.
    fn strip_references(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let end = rest[at..].find(';').expect("a reference ends with ;");
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        out
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn line_output_is_one_harmless_line(s in hostile::text()) {
            let shown = line(&s);
            prop_assert!(!shown.contains(['\n', '\r']), "{shown:?}");
            prop_assert!(!hostile::is_command(&shown), "{shown:?}");
            prop_assert!(!shown.chars().any(needs_escape), "{shown:?}");
            // Whatever it follows or precedes, it cannot start a command either.
            let after = format!("prefix: {shown}");
            prop_assert!(!hostile::is_command(&after), "{after:?}");
            let before = format!("{shown}: suffix");
            prop_assert!(!hostile::is_command(&before), "{before:?}");
            // Nothing needing escapes: the value itself.
            if !s.chars().any(needs_escape) && !s.contains("##[") && leading(&s, ":").is_none() {
                prop_assert_eq!(&*shown, s.as_str());
            }
        }

        #[test]
        #[cfg(unix)]
        fn os_output_is_one_harmless_line(b in hostile::bytes()) {
            {
                use std::os::unix::ffi::OsStrExt;
                let shown = os(OsStr::from_bytes(&b));
                prop_assert!(!shown.contains(['\n', '\r']), "{shown:?}");
                prop_assert!(!hostile::is_command(&shown), "{shown:?}");
                let md = markdown_os(OsStr::from_bytes(&b));
                prop_assert_eq!(decode_references(&md), line(&shown).into_owned());
            }
        }

        #[test]
        fn guarded_text_has_no_command_line(s in hostile::text()) {
            let safe = guard(&s);
            for l in hostile::runner_lines(&safe) {
                prop_assert!(!hostile::is_command(l), "{l:?} in {safe:?}");
            }
            prop_assert!(!safe.contains('\r'));
            // The block's own line breaks stay: as many lines as it had.
            prop_assert_eq!(safe.split('\n').count(), s.split('\n').count());
        }

        #[test]
        fn a_guarded_block_of_escaped_values_is_safe(
            values in prop::collection::vec(hostile::text(), 1..4)
        ) {
            let block: String = values
                .iter()
                .map(|v| format!("{}\n  value: {}\n", line(v), line(v)))
                .collect();
            for l in hostile::runner_lines(&guard(&block)) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
            // Escaped values leave a block line for line: each value stayed in its line.
            prop_assert_eq!(hostile::runner_lines(&block).len(), 2 * values.len() + 1);
        }

        #[test]
        fn guarded_json_reads_back(s in hostile::text(), pretty in any::<bool>()) {
            let value = serde_json::json!({"value": s, "list": [s.clone(), "x"]});
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let safe = guard_json(&text);
            for l in hostile::runner_lines(&safe) {
                prop_assert!(!hostile::is_command(l), "{l:?}");
            }
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
            prop_assert_eq!(back, value);
        }

        #[test]
        fn command_text_unescapes_to_itself(s in hostile::text()) {
            let data = command_data(&s);
            prop_assert!(!data.contains(['\n', '\r']));
            prop_assert_eq!(hostile::unescape_data(&data), s.clone());
            let property = command_property(&s);
            prop_assert!(!property.contains(['\n', '\r', ':', ',']));
            prop_assert_eq!(hostile::unescape_property(&property), s);
        }

        #[test]
        fn markdown_is_literal_text(s in hostile::text()) {
            let md = markdown(&s);
            let bare = strip_references(&md);
            for c in [
                '|', '`', '[', ']', '(', ')', '<', '>', '!', '*', '_', '~', '\\', '#', '\'', '$',
                ':', '@', '^', '{', '}', '+', '=', '"', '\n', '\r',
            ] {
                prop_assert!(!bare.contains(c), "{c:?} in {md:?}");
            }
            prop_assert!(!md.to_ascii_lowercase().contains("www."), "{md:?}");
            prop_assert!(
                !md.starts_with(|c: char| c.is_whitespace() || c.is_ascii_digit() || c == '-'),
                "{md:?}"
            );
            // `&` only starts the references this function wrote.
            prop_assert_eq!(decode_references(&md), line(&s).into_owned());
            let code = markdown_code(&s);
            prop_assert_eq!(code.matches("<code>").count(), 1);
            prop_assert_eq!(code.matches("</code>").count(), 1);
        }
    }
}
