//! The string literals of Go source, found as the Go specification lexes them.
//!
//! Only what can hide a quote matters for finding string literals, so this lexer follows the
//! specification's rules for exactly those tokens and passes over everything else byte by
//! byte: line comments (`//` to the end of the line) and general comments (`/* … */`, not
//! nested), rune literals (`'x'`, `'\''`, `'"'`), interpreted string literals (`"…"`, one line,
//! with escapes) and raw string literals (`` `…` ``, any lines, carriage returns dropped from
//! the value). A comment marker inside a literal, or a quote inside a comment, is text.
//! A byte order mark is ignored at the start of the file only.
//!
//! Interpreted strings are decoded (`"C:\\Go"` has the value `C:\Go`); octal and hex escapes
//! are bytes, `\u`/`\U` escapes code points; a value that is not UTF-8 is decoded lossily.
//! Positions are 1-based lines and columns counted in Unicode code points.

use std::borrow::Cow;

/// How a string literal was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    /// `"…"`.
    Interpreted,
    /// `` `…` ``.
    Raw,
}

/// A string literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal<'a> {
    pub quote: Quote,
    /// The literal as written, quotes included.
    pub source: &'a str,
    /// Its value.
    pub value: Cow<'a, str>,
    /// Where it starts (its opening quote).
    pub line: u32,
    pub column: u32,
}

/// Source that is not valid Go where a literal or comment is concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {what}")]
pub struct LexError {
    pub line: u32,
    pub column: u32,
    pub what: &'static str,
}

/// The string literals of `src`, in order, or the first lexical error. The literals before an
/// error are returned with it.
pub fn string_literals(src: &str) -> (Vec<Literal<'_>>, Option<LexError>) {
    let origin = Position {
        offset: if src.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        },
        line: 1,
        column: 1,
    };
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        at: origin.offset,
        origin,
        counted: origin,
        out: Vec::new(),
    };
    let error = lexer.run().err();
    (lexer.out, error)
}

#[derive(Clone, Copy)]
struct Position {
    offset: usize,
    line: u32,
    column: u32,
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Where counting starts: after a byte order mark, line 1, column 1.
    origin: Position,
    /// The position of `offset`, counted so far (positions are counted lazily, forward only).
    counted: Position,
    out: Vec<Literal<'a>>,
}

/// Bytes that may begin a token this lexer cares about. A table: one load a byte is faster on
/// this hot path than comparing with each of the four.
#[allow(
    clippy::indexing_slicing,
    reason = "constant indices, evaluated at compile time"
)]
const INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'`' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'/' as usize] = true;
    t
};

/// Whether a byte may begin a token this lexer cares about (`get` on a table of 256 for a
/// `u8` compiles to the bare load).
fn interesting(b: u8) -> bool {
    INTERESTING.get(usize::from(b)).copied().unwrap_or(false)
}

impl<'a> Lexer<'a> {
    fn run(&mut self) -> Result<(), LexError> {
        loop {
            // Everything but the four interesting bytes is passed over, in a local loop.
            let mut start = self.at;
            let b = loop {
                let Some(&b) = self.bytes.get(start) else {
                    return Ok(());
                };
                if interesting(b) {
                    break b;
                }
                start += 1;
            };
            // Offsets from here on are within `bytes`, whose length fits in an isize, plus a
            // few bytes: no sum below can overflow, and every slice is taken with `get`.
            let after = start + 1;
            self.at = match b {
                b'/' => match self.bytes.get(after) {
                    Some(b'/') => self.end_of_line(start),
                    Some(b'*') => {
                        let body = self.bytes.get(after + 1..).unwrap_or_default();
                        memchr::memmem::find(body, b"*/")
                            .map(|i| after + 1 + i + 2)
                            .ok_or_else(|| self.error(start, "comment not terminated"))?
                    }
                    _ => after,
                },
                b'`' => {
                    let end = memchr::memchr(b'`', self.bytes.get(after..).unwrap_or_default())
                        .map(|i| after + i)
                        .ok_or_else(|| self.error(start, "raw string literal not terminated"))?;
                    let body = self.text(after, end)?;
                    let value = if body.contains('\r') {
                        Cow::Owned(body.replace('\r', ""))
                    } else {
                        Cow::Borrowed(body)
                    };
                    self.push(Quote::Raw, start, end + 1, value)?;
                    end + 1
                }
                b'"' => {
                    let (end, value) = self.interpreted(start)?;
                    self.push(Quote::Interpreted, start, end, value)?;
                    end
                }
                // b'\''
                _ => self.rune(start)?,
            };
        }
    }

    /// The offset of the line break ending the line that holds `from`, or the end.
    fn end_of_line(&self, from: usize) -> usize {
        memchr::memchr(b'\n', self.bytes.get(from..).unwrap_or_default())
            .map_or(self.bytes.len(), |i| from + i)
    }

    /// The source between two offsets, which lexing puts on ASCII quotes and so on character
    /// boundaries; an error rather than a panic if that were ever not so.
    fn text(&mut self, from: usize, to: usize) -> Result<&'a str, LexError> {
        let src = self.src;
        src.get(from..to)
            .ok_or_else(|| self.error(from, "literal boundary inside a character"))
    }

    fn push(
        &mut self,
        quote: Quote,
        start: usize,
        end: usize,
        value: Cow<'a, str>,
    ) -> Result<(), LexError> {
        let source = self.text(start, end)?;
        let pos = self.position(start);
        self.out.push(Literal {
            quote,
            source,
            value,
            line: pos.line,
            column: pos.column,
        });
        Ok(())
    }

    /// Line and column of byte `offset`. Counting goes forward from the last offset asked for,
    /// which is where the next one almost always is; an earlier offset counts from the start.
    fn position(&mut self, offset: usize) -> Position {
        if offset < self.counted.offset {
            self.counted = self.origin;
        }
        let from = self.counted.offset;
        let offset = offset.max(from).min(self.bytes.len().max(from));
        let span = self.bytes.get(from..offset).unwrap_or_default();
        let mut pos = self.counted;
        match memchr::memrchr(b'\n', span) {
            Some(last) => {
                let breaks = saturating_u32(memchr::memchr_iter(b'\n', span).count());
                pos.line = pos.line.saturating_add(breaks);
                let tail = span.get(last + 1..).unwrap_or_default();
                pos.column = code_points(tail).saturating_add(1);
            }
            None => pos.column = pos.column.saturating_add(code_points(span)),
        }
        pos.offset = offset;
        self.counted = pos;
        pos
    }

    fn error(&mut self, offset: usize, what: &'static str) -> LexError {
        let pos = self.position(offset);
        LexError {
            line: pos.line,
            column: pos.column,
            what,
        }
    }

    /// An interpreted string starting at `start`: its end (past the closing quote) and value.
    fn interpreted(&mut self, start: usize) -> Result<(usize, Cow<'a, str>), LexError> {
        let first = start + 1;
        let mut i = first;
        let mut decoded: Option<Vec<u8>> = None;
        loop {
            match self.bytes.get(i) {
                None | Some(b'\n') => {
                    return Err(self.error(start, "string literal not terminated"));
                }
                Some(b'"') => {
                    let value = match decoded {
                        None => Cow::Borrowed(self.text(first, i)?),
                        Some(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
                    };
                    return Ok((i + 1, value));
                }
                Some(b'\\') => {
                    let bytes = self.bytes;
                    let buf = decoded
                        .get_or_insert_with(|| bytes.get(first..i).unwrap_or_default().to_vec());
                    i = escape(bytes, i, b'"', buf).map_err(|what| self.error(i, what))?;
                }
                Some(&b) => {
                    if let Some(buf) = decoded.as_mut() {
                        buf.push(b);
                    }
                    i += 1;
                }
            }
        }
    }

    /// A rune literal starting at `start`: returns its end (past the closing quote).
    fn rune(&mut self, start: usize) -> Result<usize, LexError> {
        let i = start + 1;
        let next = match self.bytes.get(i) {
            None | Some(b'\n') => return Err(self.error(start, "rune literal not terminated")),
            Some(b'\'') => return Err(self.error(start, "empty rune literal")),
            Some(b'\\') => {
                let mut sink = Vec::new();
                escape(self.bytes, i, b'\'', &mut sink).map_err(|what| self.error(i, what))?
            }
            Some(_) => {
                let ch = self.src.get(i..).and_then(|rest| rest.chars().next());
                i + ch.map_or(1, char::len_utf8)
            }
        };
        if self.bytes.get(next) == Some(&b'\'') {
            Ok(next + 1)
        } else {
            Err(self.error(
                start,
                "rune literal not terminated or more than one character",
            ))
        }
    }
}

/// Decodes the escape at `bytes[at]` (a backslash) into `out`; returns the offset after it.
/// `quote` is the one quote character that may be escaped (`"` in strings, `'` in runes).
fn escape(bytes: &[u8], at: usize, quote: u8, out: &mut Vec<u8>) -> Result<usize, &'static str> {
    let Some(&c) = bytes.get(at + 1) else {
        return Err("escape sequence not terminated");
    };
    let simple = match c {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        c if c == quote => Some(c),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return Ok(at + 2);
    }
    let (digits, radix) = match c {
        b'0'..=b'7' => (3, 8),
        b'x' => (2, 16),
        b'u' => (4, 16),
        b'U' => (8, 16),
        _ => return Err("unknown escape sequence"),
    };
    let first = if radix == 8 { at + 1 } else { at + 2 };
    let text = bytes
        .get(first..first + digits)
        .ok_or("escape sequence not terminated")?;
    let mut value = 0u32;
    for &d in text {
        let v = char::from(d)
            .to_digit(radix)
            .ok_or("invalid digit in escape sequence")?;
        // At most eight hex digits: u32::MAX, no more. Checked all the same.
        value = value
            .checked_mul(radix)
            .and_then(|x| x.checked_add(v))
            .ok_or("escape sequence is an invalid Unicode code point")?;
    }
    match c {
        b'0'..=b'7' | b'x' => {
            let byte = u8::try_from(value).map_err(|_| "octal escape value > 255")?;
            out.push(byte);
        }
        _ => {
            let ch =
                char::from_u32(value).ok_or("escape sequence is an invalid Unicode code point")?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    Ok(first + digits)
}

/// Code points in a UTF-8 byte slice (bytes that are not continuation bytes).
pub(crate) fn code_points(bytes: &[u8]) -> u32 {
    saturating_u32(bytes.iter().filter(|&&b| (b as i8) >= -0x40).count())
}

/// A count as a line or column number; beyond u32::MAX (a 4 GiB line), u32::MAX.
pub(crate) fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str) -> Vec<String> {
        let (lits, err) = string_literals(src);
        assert_eq!(err, None, "{src}");
        lits.into_iter().map(|l| l.value.into_owned()).collect()
    }

    #[test]
    fn interpreted_strings_are_decoded() {
        assert_eq!(values(r#"x := "C:\\Go\\bin""#), [r"C:\Go\bin"]);
        assert_eq!(values(r#""a\tb\n""#), ["a\tb\n"]);
        assert_eq!(
            values(r#""\a\b\f\n\r\t\v\\\"""#),
            ["\x07\x08\x0c\n\r\t\x0b\\\""]
        );
        // Octal and hex escapes are bytes; \u and \U are code points.
        assert_eq!(values(r#""\103:\x5cGo""#), [r"C:\Go"]);
        assert_eq!(values(r#""\u65e5本\U00008a9e""#), ["日本語"]);
        assert_eq!(values(r#""\xe6\x97\xa5""#), ["日"]);
        // Bytes that are no UTF-8 are decoded lossily, not an error.
        assert_eq!(values(r#""\xff""#), ["\u{fffd}"]);
        assert_eq!(values(r#""""#), [""]);
    }

    #[test]
    fn raw_strings_are_taken_as_written_across_lines_without_carriage_returns() {
        assert_eq!(values(r"s := `C:\Go\bin`"), [r"C:\Go\bin"]);
        assert_eq!(values("`a\r\nb\\n`"), ["a\nb\\n"]);
        assert_eq!(
            values("`\"quoted\" // not a comment`"),
            ["\"quoted\" // not a comment"]
        );
        assert_eq!(values("``"), [""]);
    }

    #[test]
    fn comments_hide_strings_and_strings_hide_comments() {
        let src = "// \"C:\\Go\" in a line comment\n/* \"D:\\x\" `raw`\n in a general comment */\nx := \"// not a comment\" + \"/* nor this */\"\n";
        assert_eq!(values(src), ["// not a comment", "/* nor this */"]);
        // A general comment ends at the first */ (no nesting).
        assert_eq!(values("/* /* */ \"s\""), ["s"]);
        // Division is not a comment.
        assert_eq!(values("a := b / c / \"d\""), ["d"]);
    }

    #[test]
    fn rune_literals_hide_quotes() {
        assert_eq!(values(r#"q := '"'; s := "x""#), ["x"]);
        assert_eq!(values(r#"q := '`'; s := "x""#), ["x"]);
        assert_eq!(values(r"a, b, c := '\'', '\\', '/'"), Vec::<String>::new());
        assert_eq!(
            values(r"r := []rune{'a', 'ä', '本', '\t', '\000', '\x07', '\u12e4', '\U00101234'}"),
            Vec::<String>::new()
        );
        // After a rune holding a slash, a comment is still a comment.
        assert_eq!(values("x := '/' // \"no\"\n"), Vec::<String>::new());
    }

    #[test]
    fn a_byte_order_mark_is_ignored_at_the_start() {
        let (lits, err) = string_literals("\u{feff}package p\nvar s = \"x\"\n");
        assert_eq!(err, None);
        assert_eq!((lits[0].line, lits[0].column), (2, 9));
    }

    #[test]
    fn positions_are_lines_and_code_point_columns() {
        let src = "package p\n\n// é\nvar ä, b = \"one\", `two\nlines` + \"three\"\n";
        let (lits, err) = string_literals(src);
        assert_eq!(err, None);
        let at: Vec<(u32, u32, &str)> = lits.iter().map(|l| (l.line, l.column, l.source)).collect();
        assert_eq!(
            at,
            [
                (4, 12, "\"one\""),
                (4, 19, "`two\nlines`"),
                (5, 10, "\"three\"")
            ]
        );
    }

    /// The examples of the specification's "Rune literals" and "String literals" sections.
    #[test]
    fn the_specifications_examples() {
        for valid in [
            "'a'",
            "'ä'",
            "'本'",
            r"'\t'",
            r"'\000'",
            r"'\007'",
            r"'\377'",
            r"'\x07'",
            r"'\xff'",
            r"'\u12e4'",
            r"'\U00101234'",
            r"'\''",
        ] {
            assert_eq!(string_literals(valid), (vec![], None), "{valid}");
        }
        for invalid in [
            "'aa'",
            r"'\k'",
            r"'\xa'",
            r"'\0'",
            r"'\400'",
            r"'\uDFFF'",
            r"'\U00110000'",
        ] {
            assert!(
                string_literals(invalid).1.is_some(),
                "{invalid} was accepted"
            );
        }
        assert_eq!(values("`abc`"), ["abc"]);
        assert_eq!(values("`\\n\n\\n`"), ["\\n\n\\n"]);
        assert_eq!(values(r#""\n""#), ["\n"]);
        assert_eq!(values(r#""\"""#), ["\""]);
        assert_eq!(values(r#""Hello, world!\n""#), ["Hello, world!\n"]);
        assert_eq!(values(r#""日本語""#), ["日本語"]);
        assert_eq!(values(r#""\u65e5本\U00008a9e""#), ["日本語"]);
        assert_eq!(values(r#""\xff\u00FF""#), ["\u{fffd}ÿ"]);
        // The same string, five ways.
        for same in [
            r#""日本語""#,
            "`日本語`",
            r#""\u65e5\u672c\u8a9e""#,
            r#""\U000065e5\U0000672c\U00008a9e""#,
            r#""\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e""#,
        ] {
            assert_eq!(values(same), ["日本語"], "{same}");
        }
        for invalid in [r#""\uD800""#, r#""\U00110000""#] {
            assert!(
                string_literals(invalid).1.is_some(),
                "{invalid} was accepted"
            );
        }
    }

    #[test]
    fn malformed_literals_are_errors_with_positions() {
        let cases = [
            ("x := \"open\n\"", 1, 6, "string literal not terminated"),
            ("x := `open", 1, 6, "raw string literal not terminated"),
            ("/* open", 1, 1, "comment not terminated"),
            (
                "x := 'ab'",
                1,
                6,
                "rune literal not terminated or more than one character",
            ),
            ("x := ''", 1, 6, "empty rune literal"),
            ("x := \"\\q\"", 1, 7, "unknown escape sequence"),
            ("x := \"\\'\"", 1, 7, "unknown escape sequence"),
            ("x := '\\\"'", 1, 7, "unknown escape sequence"),
            ("x := \"\\400\"", 1, 7, "octal escape value > 255"),
            ("x := \"\\xZZ\"", 1, 7, "invalid digit in escape sequence"),
            (
                "x := \"\\uD800\"",
                1,
                7,
                "escape sequence is an invalid Unicode code point",
            ),
            (
                "x := \"\\U00110000\"",
                1,
                7,
                "escape sequence is an invalid Unicode code point",
            ),
            ("x := \"\\x4\"", 1, 7, "invalid digit in escape sequence"),
        ];
        for (src, line, column, what) in cases {
            let (_, err) = string_literals(src);
            assert_eq!(err, Some(LexError { line, column, what }), "{src}");
        }
        // Literals before the error are kept.
        let (lits, err) = string_literals("a := \"ok\"; b := \"bad\\q\"");
        assert_eq!(lits.len(), 1);
        assert!(err.is_some());
    }
}
