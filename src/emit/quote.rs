//! Quoting values for each shell so that the shell reads back exactly the value, and nothing
//! in a value can end the quoting and run or set something else. A value a format cannot
//! express safely is an error, never an approximation.

use super::EmitError;

/// POSIX sh (bash, dash, zsh): single quotes take every byte literally; a `'` is written as
/// `'\''`. Any byte but NUL is allowed.
pub fn sh(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    reject_nul(value)?;
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    Ok(out)
}

/// fish: inside single quotes only `\\` and `\'` are escapes. fish keeps bytes that are not
/// valid UTF-8 as they are when it exports them.
pub fn fish(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    reject_nul(value)?;
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    for &b in value {
        if b == b'\\' || b == b'\'' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'\'');
    Ok(out)
}

/// PowerShell: a single-quoted string is literal; `'` (and its typographic variants, which
/// PowerShell also treats as quotes) is doubled. Values must be text.
pub fn pwsh(value: &[u8]) -> Result<Vec<u8>, EmitError> {
    let text = utf8(value, "PowerShell")?;
    reject_nul(value)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    Ok(out.into_bytes())
}

/// cmd.exe, for a `.cmd`/`.bat` file: `set "NAME=value"`. Inside the quotes `&|<>^` are
/// literal and `%` is written `%%`; a `"` would end the quoting and a line break the command,
/// and `!` expands under delayed expansion, so values holding them are refused (Windows paths
/// cannot contain `"` anyway).
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
    Ok(text.replace('%', "%%").into_bytes())
}

/// dotenv (as read by Docker Compose and python-dotenv): single quotes, literal, with no
/// escapes and no interpolation; values holding `'` or a line break are refused.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quotes_everything_literally() {
        assert_eq!(sh(b"a'b").unwrap(), b"'a'\\''b'");
        assert_eq!(sh(b"$(x)`y`").unwrap(), b"'$(x)`y`'");
        assert!(sh(b"a\0b").is_err());
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
    fn cmd_and_dotenv_refuse_what_they_cannot_quote() {
        assert_eq!(cmd(b"C:\\a%b%").unwrap(), b"C:\\a%%b%%");
        assert!(cmd(b"a\"&calc").is_err());
        assert!(cmd(b"a\nb").is_err());
        assert!(dotenv(b"it's").is_err());
        assert_eq!(dotenv(b"$HOME").unwrap(), b"'$HOME'");
    }
}
