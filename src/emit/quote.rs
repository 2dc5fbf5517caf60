//! Quoting values for each shell so that the shell reads back exactly the value, and nothing
//! in a value can end the quoting and run or set something else. A value a format cannot
//! express safely is an error, never an approximation.
//!
//! The quoted text is also safe to show in a CI log, where a payload sent to stdout may end
//! up: no line of it can start with a value's text (a line break in a value is written as an
//! escape, or inside double quotes so that the next line starts with a quote), and `##[` is
//! never written whole, so that a GitHub Actions runner reads no workflow command in it.

use super::EmitError;

/// POSIX sh (bash, dash, zsh): single quotes take every byte literally; a `'` is written as
/// `'\''`, a line break (LF or CR) as `'"⏎"'` (double-quoted, so that the line after it starts
/// with `"`), and `##[` as `##''[`. Any byte but NUL is allowed.
pub fn sh(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    reject_nul(value)?;
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    let mut hashes = 0;
    for &b in value {
        match b {
            b'\'' => out.extend_from_slice(b"'\\''"),
            b'\n' | b'\r' => {
                out.extend_from_slice(b"'\"");
                out.push(b);
                out.extend_from_slice(b"\"'");
            }
            b'[' if hashes >= 2 => out.extend_from_slice(b"''["),
            b => out.push(b),
        }
        hashes = if b == b'#' { hashes + 1 } else { 0 };
    }
    out.push(b'\'');
    Ok(out)
}

/// fish: inside single quotes only `\\` and `\'` are escapes. A line break is written outside
/// the quotes as fish's `\n` or `\r` escape, and `##[` as `##''[`. fish keeps bytes that are
/// not valid UTF-8 as they are when it exports them.
pub fn fish(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    reject_nul(value)?;
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    let mut hashes = 0;
    for &b in value {
        match b {
            b'\\' | b'\'' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"'\\n'"),
            b'\r' => out.extend_from_slice(b"'\\r'"),
            b'[' if hashes >= 2 => out.extend_from_slice(b"''["),
            b => out.push(b),
        }
        hashes = if b == b'#' { hashes + 1 } else { 0 };
    }
    out.push(b'\'');
    Ok(out)
}

/// PowerShell: a single-quoted string is literal; `'` (and its typographic variants, which
/// PowerShell also treats as quotes) is doubled. A line break is joined on as `[char]10` or
/// `[char]13` (`'a' + [char]10 + 'b'`: the left operand is always a string), and `##[` as
/// `'##' + '['`. Values must be text.
pub fn pwsh(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    let text = utf8(value, "PowerShell")?;
    reject_nul(value)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    let mut hashes = 0;
    for c in text.chars() {
        match c {
            '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => {
                out.push(c);
                out.push(c);
            }
            '\n' => out.push_str("' + [char]10 + '"),
            '\r' => out.push_str("' + [char]13 + '"),
            '[' if hashes >= 2 => out.push_str("' + '["),
            c => out.push(c),
        }
        hashes = if c == '#' { hashes + 1 } else { 0 };
    }
    out.push('\'');
    Ok(out.into_bytes())
}

/// cmd.exe, for a `.cmd`/`.bat` file: `set "NAME=value"`. Inside the quotes `&|<>^` are
/// literal and `%` is written `%%`; a `"` would end the quoting and a line break the command,
/// and `!` expands under delayed expansion, so values holding them are refused (Windows paths
/// cannot contain `"` anyway), and so are values holding `##[`, which cmd's quoting cannot
/// split and a CI runner would read as a command if the file were shown in its log.
pub fn cmd(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    let text = utf8(value, "cmd")?;
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '"' | '\n' | '\r' | '\0' | '!'))
    {
        return Err(EmitError::Unrepresentable {
            format: "cmd",
            why: format!("the value contains {c:?}, which cmd cannot take safely"),
        });
    }
    reject_command_marker(text, "cmd")?;
    Ok(text.replace('%', "%%").into_bytes())
}

/// dotenv (as read by Docker Compose and python-dotenv): single quotes, literal, with no
/// escapes and no interpolation; values holding `'`, a line break or `##[` (which such
/// quoting cannot split) are refused.
pub fn dotenv(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    let text = utf8(value, "dotenv")?;
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '\'' | '\n' | '\r' | '\0'))
    {
        return Err(EmitError::Unrepresentable {
            format: "dotenv",
            why: format!("the value contains {c:?}, which a dotenv file cannot quote"),
        });
    }
    reject_command_marker(text, "dotenv")?;
    Ok(format!("'{text}'").into_bytes())
}

fn utf8<'a>(value: &'a [u8], format: &'static str) -> Result<&'a str, EmitError> {
    std::str::from_utf8(value).map_err(|_| EmitError::Unrepresentable {
        format,
        why: "the value is not valid UTF-8".into(),
    })
}

fn reject_nul(value: &[u8]) -> Result<(), EmitError> {
    if value.contains(&0) {
        return Err(EmitError::Unrepresentable {
            format: "shell",
            why: "the value contains a NUL byte".into(),
        });
    }
    Ok(())
}

fn reject_command_marker(text: &str, format: &'static str) -> Result<(), EmitError> {
    if text.contains("##[") {
        return Err(EmitError::Unrepresentable {
            format,
            why: "the value contains \"##[\", which a CI runner would read as a command".into(),
        });
    }
    Ok(())
}

/// How each shell reads back the forms written here: models of the shells' quoting, for tests
/// where the shell cannot run (and to check the property tests' expectations).
#[cfg(test)]
pub(super) mod read {
    /// One sh word at the start of `q` in the forms [`super::sh`] writes (`'…'` literal,
    /// `"…"` holding only line breaks, `\x`), and what follows it.
    pub fn sh_word(q: &[u8]) -> Option<(Vec<u8>, &[u8])> {
        let mut out = Vec::new();
        let mut rest = q;
        loop {
            match rest.split_first() {
                Some((b'\'', after)) => {
                    let end = after.iter().position(|&b| b == b'\'')?;
                    out.extend_from_slice(after.get(..end)?);
                    rest = after.get(end + 1..)?;
                }
                Some((b'"', after)) => {
                    let end = after.iter().position(|&b| b == b'"')?;
                    let inner = after.get(..end)?;
                    if !inner.iter().all(|&b| b == b'\n' || b == b'\r') {
                        return None;
                    }
                    out.extend_from_slice(inner);
                    rest = after.get(end + 1..)?;
                }
                Some((b'\\', after)) => {
                    let (&b, after) = after.split_first()?;
                    out.push(b);
                    rest = after;
                }
                _ => return Some((out, rest)),
            }
        }
    }

    /// A whole quoted value in sh's forms.
    pub fn sh(q: &[u8]) -> Option<Vec<u8>> {
        sh_word(q).and_then(|(v, rest)| rest.is_empty().then_some(v))
    }

    /// One fish word at the start of `q` in the forms [`super::fish`] writes (`'…'` with `\\`
    /// and `\'`; `\n`, `\r` outside quotes), and what follows it.
    pub fn fish_word(q: &[u8]) -> Option<(Vec<u8>, &[u8])> {
        let mut out = Vec::new();
        let mut rest = q;
        loop {
            match rest.split_first() {
                Some((b'\'', after)) => {
                    let mut it = after.iter();
                    loop {
                        match it.next()? {
                            b'\'' => break,
                            b'\\' => match it.next()? {
                                c @ (b'\\' | b'\'') => out.push(*c),
                                c => out.extend_from_slice(&[b'\\', *c]),
                            },
                            c => out.push(*c),
                        }
                    }
                    rest = it.as_slice();
                }
                Some((b'\\', after)) => match after.split_first()? {
                    (b'n', a) => {
                        out.push(b'\n');
                        rest = a;
                    }
                    (b'r', a) => {
                        out.push(b'\r');
                        rest = a;
                    }
                    _ => return None,
                },
                _ => return Some((out, rest)),
            }
        }
    }

    /// A whole quoted value in fish's forms.
    pub fn fish(q: &[u8]) -> Option<Vec<u8>> {
        fish_word(q).and_then(|(v, rest)| rest.is_empty().then_some(v))
    }

    fn is_quote(c: char) -> bool {
        matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
    }

    /// One PowerShell string expression at the start of `q` in the forms [`super::pwsh`]
    /// writes (`'…'` with doubled quotes, `[char]10`, `[char]13`, joined by ` + `), and what
    /// follows it.
    pub fn pwsh_expr(q: &str) -> Option<(String, &str)> {
        let mut out = String::new();
        let mut rest = q;
        loop {
            if let Some(r) = rest.strip_prefix("[char]10") {
                out.push('\n');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("[char]13") {
                out.push('\r');
                rest = r;
            } else {
                let mut chars = rest.chars();
                if !chars.next().is_some_and(is_quote) {
                    return None;
                }
                loop {
                    let c = chars.next()?;
                    if is_quote(c) {
                        // A quote followed by a quote stands for the second one.
                        let mut ahead = chars.clone();
                        if let Some(second) = ahead.next().filter(|&q| is_quote(q)) {
                            out.push(second);
                            chars = ahead;
                            continue;
                        }
                        break;
                    }
                    out.push(c);
                }
                rest = chars.as_str();
            }
            match rest.strip_prefix(" + ") {
                Some(r) if r.starts_with(is_quote) || r.starts_with("[char]1") => rest = r,
                _ => return Some((out, rest)),
            }
        }
    }

    /// A whole quoted value in PowerShell's forms.
    pub fn pwsh(q: &str) -> Option<String> {
        pwsh_expr(q).and_then(|(v, rest)| rest.is_empty().then_some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    #[test]
    fn sh_quotes_everything_literally() {
        assert_eq!(sh(b"a'b").unwrap(), b"'a'\\''b'");
        assert_eq!(sh(b"$(x)`y`").unwrap(), b"'$(x)`y`'");
        assert!(sh(b"a\0b").is_err());
    }

    #[test]
    fn sh_and_fish_keep_line_breaks_and_command_markers_out_of_line_starts() {
        assert_eq!(
            sh(b"/x\n::error::y ##[z").unwrap(),
            b"'/x'\"\n\"'::error::y ##''[z'"
        );
        assert_eq!(sh(b"a\rb").unwrap(), b"'a'\"\r\"'b'");
        assert_eq!(
            fish(b"/x\n::error::y\r##[z").unwrap(),
            b"'/x'\\n'::error::y'\\r'##''[z'"
        );
    }

    #[test]
    fn fish_escapes_backslash_and_quote() {
        assert_eq!(fish(b"a\\'b").unwrap(), b"'a\\\\\\'b'");
    }

    #[test]
    fn pwsh_doubles_quotes_including_typographic_ones() {
        assert_eq!(
            pwsh("a'b\u{2019}c".as_bytes()).unwrap(),
            "'a''b\u{2019}\u{2019}c'".as_bytes()
        );
        assert!(pwsh(b"\xff").is_err());
    }

    #[test]
    fn pwsh_joins_line_breaks_and_splits_command_markers() {
        assert_eq!(
            pwsh(b"/x\n::error::y\r##[z").unwrap(),
            b"'/x' + [char]10 + '::error::y' + [char]13 + '##' + '[z'"
        );
    }

    #[test]
    fn cmd_and_dotenv_refuse_what_they_cannot_quote() {
        assert_eq!(cmd(b"C:\\a%b%").unwrap(), b"C:\\a%%b%%");
        assert!(cmd(b"a\"&calc").is_err());
        assert!(cmd(b"a\nb").is_err());
        assert!(dotenv(b"it's").is_err());
        assert_eq!(dotenv(b"$HOME").unwrap(), b"'$HOME'");
        assert!(cmd(b"C:\\##[error]x").is_err());
        assert!(dotenv(b"/##[error]x").is_err());
        assert_eq!(cmd(b"C:\\#x[#").unwrap(), b"C:\\#x[#");
    }

    /// No line of `quoted` (as a runner splits lines) could be a workflow command, and none
    /// but the first starts with the value's own text.
    fn log_safe(quoted: &[u8]) -> Result<(), TestCaseError> {
        let text = String::from_utf8_lossy(quoted);
        for (i, l) in hostile::runner_lines(&text).into_iter().enumerate() {
            prop_assert!(!hostile::is_command(l), "{l:?} in {text:?}");
            if i > 0 {
                prop_assert!(l.starts_with('"'), "{l:?} in {text:?}");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::testing::budget(512))]

        #[test]
        fn sh_round_trips_or_refuses_nul(v in hostile::bytes()) {
            match sh(&v) {
                Ok(q) => {
                    prop_assert_eq!(read::sh(&q), Some(v));
                    log_safe(&[b"export X=".as_slice(), &q].concat())?;
                }
                Err(_) => prop_assert!(v.contains(&0)),
            }
        }

        #[test]
        fn fish_round_trips_or_refuses_nul(v in hostile::bytes()) {
            match fish(&v) {
                Ok(q) => {
                    prop_assert!(!q.contains(&b'\n') && !q.contains(&b'\r'));
                    prop_assert_eq!(read::fish(&q), Some(v));
                    log_safe(&q)?;
                }
                Err(_) => prop_assert!(v.contains(&0)),
            }
        }

        #[test]
        fn pwsh_round_trips_or_refuses(v in hostile::bytes()) {
            match pwsh(&v) {
                Ok(q) => {
                    prop_assert!(!q.contains(&b'\n') && !q.contains(&b'\r'));
                    let q = String::from_utf8(q).unwrap();
                    prop_assert_eq!(read::pwsh(&q), String::from_utf8(v).ok());
                    log_safe(q.as_bytes())?;
                }
                Err(_) => prop_assert!(std::str::from_utf8(&v).is_err() || v.contains(&0)),
            }
        }

        #[test]
        fn cmd_carries_or_refuses(v in hostile::bytes()) {
            match cmd(&v) {
                Ok(q) => {
                    let q = String::from_utf8(q).unwrap();
                    prop_assert!(!q.contains(['"', '\n', '\r', '\0', '!']));
                    // Inside `set "NAME=…"`, `%%` reads back as `%`.
                    prop_assert_eq!(q.replace("%%", "%").into_bytes(), v);
                    log_safe(format!("set \"X={q}\"").as_bytes())?;
                }
                Err(_) => {
                    let refused = std::str::from_utf8(&v).map_or(true, |t| {
                        t.contains(['"', '\n', '\r', '\0', '!']) || t.contains("##[")
                    });
                    prop_assert!(refused, "{v:?}");
                }
            }
        }

        #[test]
        fn dotenv_carries_or_refuses(v in hostile::bytes()) {
            match dotenv(&v) {
                Ok(q) => {
                    let q = String::from_utf8(q).unwrap();
                    let inner = q.strip_prefix('\'').and_then(|q| q.strip_suffix('\''));
                    prop_assert_eq!(inner.map(|i| i.as_bytes().to_vec()), Some(v));
                    prop_assert!(!inner.unwrap_or_default().contains(['\'', '\n', '\r']));
                    log_safe(format!("X={q}").as_bytes())?;
                }
                Err(_) => {
                    let refused = std::str::from_utf8(&v).map_or(true, |t| {
                        t.contains(['\'', '\n', '\r', '\0']) || t.contains("##[")
                    });
                    prop_assert!(refused, "{v:?}");
                }
            }
        }
    }
}
