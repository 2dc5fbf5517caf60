//! Units: sizes (`500MB`, `10GiB`, `1073741824`, `15%`), durations (`90m`, `36h`, `7d`), byte
//! counts for people (`1.5 GiB`), RFC 3339 times, `3h ago`, and percent-encoding.
//!
//! A leaf: it imports nothing of the crate.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// An amount of space: absolute, or a share of the volume it applies to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Size {
    /// A number of bytes.
    Bytes(u64),
    /// A percentage (0–100) of a volume's total size.
    Percent(f64),
}

impl Size {
    /// The number of bytes this size stands for on a volume of `total` bytes.
    pub fn resolve(self, total: u64) -> u64 {
        match self {
            Size::Bytes(b) => b,
            Size::Percent(p) => (total as f64 * p / 100.0).round() as u64,
        }
    }

    /// The size as a flag value that parses back exactly: bytes, or `N%`.
    pub fn to_arg(self) -> String {
        match self {
            Size::Bytes(b) => b.to_string(),
            Size::Percent(p) => format!("{p}%"),
        }
    }

    /// This size multiplied by `factor` (used to derive a default target from `soft`).
    pub fn scale(self, factor: f64) -> Size {
        match self {
            Size::Bytes(b) => Size::Bytes((b as f64 * factor).round() as u64),
            Size::Percent(p) => Size::Percent((p * factor).min(100.0)),
        }
    }
}

/// Units accepted after a number, lower-cased. Decimal units are powers of 1000, `i` units
/// powers of 1024, as in `ls --si` and `ls -h`.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("pb", 1_000_000_000_000_000),
    ("pib", 1 << 50),
];

impl FromStr for Size {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty; expected e.g. 500MB, 10GiB, 1073741824 or 15%".into());
        }
        if let Some(pct) = s.strip_suffix('%') {
            let p = parse_number(pct.trim_end())
                .ok_or_else(|| "expected a percentage such as 15%".to_string())?;
            if !(0.0..=100.0).contains(&p) {
                return Err("a percentage must lie between 0% and 100%".into());
            }
            return Ok(Size::Percent(p));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if parse_number(num).is_none() {
            return Err(
                "expected a number with an optional unit (B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB) or a percentage"
                    .to_string(),
            );
        }
        let unit_lc = unit.trim_start().to_ascii_lowercase();
        let multiplier = UNITS
            .iter()
            .find(|(name, _)| *name == unit_lc)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!(
                    "unknown unit {:?}; use B, KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)",
                    unit.trim_start()
                )
            })?;
        exact_bytes(num, multiplier)
            .map(Size::Bytes)
            .ok_or_else(|| "too large".into())
    }
}

/// Fraction digits taken into account: enough that what is left changes the result by less
/// than a millionth of a byte (and `digits × multiplier` fits in a `u128`).
const FRACTION_DIGITS: usize = 24;

/// `num` (digits with at most one `.`, as [`parse_number`] accepts) times `multiplier`,
/// rounded to the nearest byte, computed in integers so that every byte count up to
/// `u64::MAX` reads back exactly; `None` when it does not fit in a `u64`.
fn exact_bytes(num: &str, multiplier: u64) -> Option<u64> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digit = |c: char| c.to_digit(10).map(u128::from);
    let mut whole: u128 = 0;
    for c in int.chars() {
        whole = whole.checked_mul(10)?.checked_add(digit(c)?)?;
    }
    let mut fraction: u128 = 0;
    let mut scale: u128 = 1;
    for c in frac.chars().take(FRACTION_DIGITS) {
        fraction = fraction.checked_mul(10)?.checked_add(digit(c)?)?;
        scale = scale.checked_mul(10)?;
    }
    let rounded = fraction
        .checked_mul(u128::from(multiplier))?
        .checked_add(scale / 2)?
        / scale;
    let total = whole
        .checked_mul(u128::from(multiplier))?
        .checked_add(rounded)?;
    u64::try_from(total).ok()
}

/// A non-negative decimal number: digits, optionally one `.` and more digits.
fn parse_number(s: &str) -> Option<f64> {
    let valid = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.chars().filter(|&c| c == '.').count() <= 1
        && s.chars().any(|c| c.is_ascii_digit());
    if valid { s.parse().ok() } else { None }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Bytes(b) => f.write_str(&format_bytes(*b)),
            Size::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Formats a byte count for people: `0 B`, `512 B`, `1.5 KiB`, `12.3 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const NAMES: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < NAMES.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", NAMES[unit])
    }
}

/// Formats two byte counts for comparison: as [`format_bytes`], with the exact byte counts
/// added when the rounded forms would read the same (`12.0 MiB (12582400 bytes)`).
pub fn format_bytes_pair(a: u64, b: u64) -> (String, String) {
    let (fa, fb) = (format_bytes(a), format_bytes(b));
    if fa == fb && a != b {
        (format!("{fa} ({a} bytes)"), format!("{fb} ({b} bytes)"))
    } else {
        (fa, fb)
    }
}

/// Parses a duration such as `90m`, `36h`, `7d`, `2h30m` or `0s`. A bare `0` is accepted too.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s).map_err(|e| {
        format!("{e}; expected a number with a unit, e.g. 90m, 36h, 7d")
            .replace("  ", " ")
            .to_lowercase()
    })
}

/// Formats a duration for people, in a form [`parse_duration`] reads back exactly: the largest
/// unit that divides it or of which there are at least two (`1h`, `36h` rather than `1d 12h`,
/// `90m` rather than `1h 30m`), then what remains in smaller units, spaced (`4d 4h`, `2h 1s`).
/// Fractions of a second are dropped.
pub fn format_duration(d: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut rest = d.as_secs();
    if rest == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (size, name) in UNITS {
        // The first unit shown is the largest that divides the rest or of which there are at
        // least two; after that, every unit with something left in it.
        let leading = parts.is_empty();
        if leading && rest < size.saturating_mul(2) && !rest.is_multiple_of(size) {
            continue;
        }
        let count = rest / size;
        rest %= size;
        if count > 0 {
            parts.push(format!("{count}{name}"));
        }
    }
    parts.join(" ")
}

/// Serialises an optional time as RFC 3339 (UTC, seconds), or `null`: also for a time RFC 3339
/// cannot write (see [`rfc3339_seconds`]).
pub fn serialize_time<S: serde::Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t.and_then(rfc3339_seconds) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

/// `t` as RFC 3339 (UTC, seconds), when it can be written so: from 1970 (where the formatter
/// starts) to the end of the year 9999. A file can carry any time, before or after.
pub fn rfc3339_seconds(t: SystemTime) -> Option<String> {
    /// 10000-01-01T00:00:00Z.
    const YEAR_10000: u64 = 253_402_300_800;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    (secs < YEAR_10000).then(|| humantime::format_rfc3339_seconds(t).to_string())
}

/// "3h ago", "2d ago", "just now", "in the future" for a past time.
pub fn ago(t: SystemTime) -> String {
    match SystemTime::now().duration_since(t) {
        Ok(d) if d.as_secs() < 60 => "just now".into(),
        Ok(d) => {
            let secs = d.as_secs();
            let (n, unit) = if secs < 3600 {
                (secs / 60, "min")
            } else if secs < 2 * 86400 {
                (secs / 3600, "h")
            } else {
                (secs / 86400, "d")
            };
            format!("{n}{unit} ago")
        }
        Err(_) => "in the future".into(),
    }
}

/// `text` with every byte but unreserved ones and `/` percent-encoded, for a URI path.
pub fn percent_encode(text: &str) -> String {
    percent_encode_bytes(text.as_bytes())
}

/// Bytes, UTF-8 or not, with every one but unreserved ones and `/` percent-encoded.
pub fn percent_encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_decimal_and_binary_units() {
        assert_eq!("500MB".parse(), Ok(Size::Bytes(500_000_000)));
        assert_eq!("10GB".parse(), Ok(Size::Bytes(10_000_000_000)));
        assert_eq!("10GiB".parse(), Ok(Size::Bytes(10 << 30)));
        assert_eq!("10 gib".parse(), Ok(Size::Bytes(10 << 30)));
        assert_eq!("1.5KiB".parse(), Ok(Size::Bytes(1536)));
        assert_eq!("1073741824".parse(), Ok(Size::Bytes(1 << 30)));
        assert_eq!("0".parse(), Ok(Size::Bytes(0)));
        assert_eq!("15%".parse(), Ok(Size::Percent(15.0)));
        assert_eq!("2.5 %".parse(), Ok(Size::Percent(2.5)));
    }

    #[test]
    fn malformed_sizes_are_rejected_with_a_reason() {
        for bad in [
            "", "GB", "-1GB", "10XB", "1.2.3GB", "150%", "%", "ten", "10G", "1e9",
        ] {
            let err = bad.parse::<Size>().unwrap_err();
            assert!(!err.is_empty(), "{bad:?}");
        }
        assert!(
            "10G"
                .parse::<Size>()
                .unwrap_err()
                .contains("unknown unit \"G\"")
        );
    }

    #[test]
    fn percentages_resolve_against_the_volume() {
        assert_eq!(Size::Percent(15.0).resolve(1000), 150);
        assert_eq!(Size::Bytes(7).resolve(1000), 7);
        assert_eq!(Size::Percent(10.0).scale(1.5), Size::Percent(15.0));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("36h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
        assert_eq!(format_duration(Duration::from_secs(36 * 3600)), "36h");
        assert_eq!(format_duration(Duration::from_secs(100 * 3600)), "4d 4h");
        assert_eq!(
            format_duration(Duration::from_secs(48 * 3600 + 61)),
            "2d 1m 1s"
        );
        assert_eq!(format_duration(Duration::from_secs(7201)), "2h 1s");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
        assert_eq!(format_duration(Duration::from_secs(3600 + 1)), "60m 1s");
        assert_eq!(format_duration(Duration::from_secs(119)), "119s");
        assert_eq!(format_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_duration(Duration::from_millis(500)), "0s");
    }

    #[test]
    fn bytes_format_for_people() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(64 << 20), "64.0 MiB");
        assert_eq!(format_bytes_pair(1536, 1537).0, "1.5 KiB (1536 bytes)");
        assert_eq!(format_bytes_pair(1536, 4096).0, "1.5 KiB");
    }

    #[test]
    fn byte_counts_parse_exactly_up_to_the_largest() {
        assert_eq!(
            "9007199254740993".parse(),
            Ok(Size::Bytes(9_007_199_254_740_993))
        );
        assert_eq!("18446744073709551615".parse(), Ok(Size::Bytes(u64::MAX)));
        assert_eq!("0.5B".parse(), Ok(Size::Bytes(1)));
        assert_eq!("0.4999B".parse(), Ok(Size::Bytes(0)));
        assert_eq!(".5KiB".parse(), Ok(Size::Bytes(512)));
        // 16777216 TiB is 2^64 bytes, one too many; a little less fits.
        assert!("16777215.99999999TiB".parse::<Size>().is_ok());
    }

    #[test]
    fn a_size_shown_in_pib_parses_back() {
        // Found by `sizes_shown_to_people_parse_back_to_nearly_the_same`: format_bytes shows
        // PiB, which the parser did not take.
        assert_eq!("1.0PiB".parse(), Ok(Size::Bytes(1 << 50)));
        assert_eq!(format_bytes(1 << 50), "1.0 PiB");
        assert_eq!("1.0 PiB".parse(), Ok(Size::Bytes(1 << 50)));
        assert_eq!("2PB".parse(), Ok(Size::Bytes(2_000_000_000_000_000)));
    }

    #[test]
    fn huge_sizes_are_errors_not_wraps() {
        for huge in [
            "18446744073709551615TB",
            "18446744073709551616",
            "18446744073709551616B",
            "16777216TiB",
            "99999999999999999999999999999999999999999999999999GB",
            "340282366920938463463374607431768211456",
        ] {
            assert_eq!(huge.parse::<Size>(), Err("too large".into()), "{huge}");
        }
    }

    #[test]
    fn huge_durations_are_errors() {
        for huge in [
            "99999999999999999999d",
            "18446744073709551615d",
            "584942417356years",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        use crate::testing::budget as config;

        const UNITS_AS_WRITTEN: &[&str] = &[
            "", "B", "kb", "MB", "Gb", "TB", "pb", "KiB", "mib", "GIB", "TiB", "PiB", " GB",
        ];

        proptest! {
            #![proptest_config(config(1000))]

            #[test]
            fn any_text_parses_or_is_refused(s in any::<String>()) {
                let _ = s.parse::<Size>();
                let _ = parse_duration(&s);
            }

            #[test]
            fn size_like_text_parses_or_is_refused(s in "[ 0-9.%kKmMgGtTiIbB]{0,40}") {
                if let Ok(Size::Percent(p)) = s.parse::<Size>() {
                    prop_assert!((0.0..=100.0).contains(&p));
                }
            }

            #[test]
            fn duration_like_text_parses_or_is_refused(s in "[ 0-9a-z]{0,40}") {
                let _ = parse_duration(&s);
            }

            #[test]
            fn byte_counts_round_trip(b in any::<u64>()) {
                prop_assert_eq!(Size::Bytes(b).to_arg().parse::<Size>(), Ok(Size::Bytes(b)));
            }

            #[test]
            fn percentages_round_trip(p in 0.0f64..=100.0) {
                prop_assert_eq!(Size::Percent(p).to_arg().parse::<Size>(), Ok(Size::Percent(p)));
            }

            #[test]
            fn a_number_with_a_unit_is_exact_or_too_large(
                n in prop_oneof![any::<u64>(), 0u64..1_000_000],
                unit in 0..UNITS_AS_WRITTEN.len(),
            ) {
                let written = UNITS_AS_WRITTEN[unit];
                let multiplier = UNITS
                    .iter()
                    .find(|(name, _)| *name == written.trim().to_ascii_lowercase())
                    .map(|(_, m)| *m)
                    .unwrap();
                let expected = n.checked_mul(multiplier).map(Size::Bytes).ok_or_else(|| "too large".to_string());
                prop_assert_eq!(format!("{n}{written}").parse::<Size>(), expected);
            }

            #[test]
            fn sizes_shown_to_people_parse_back_to_nearly_the_same(b in any::<u64>()) {
                let shown = format_bytes(b).replace(' ', "");
                let Ok(Size::Bytes(back)) = shown.parse::<Size>() else {
                    return Err(TestCaseError::fail(format!("{shown} does not parse")));
                };
                // One decimal of the unit shown: off by at most 0.05 of it (and an f64's
                // rounding of the figure).
                let unit = 1024f64.powi(((b.max(1) as f64).log(1024.0).floor() as i32).clamp(0, 5));
                prop_assert!((back as f64 - b as f64).abs() <= 0.0501 * unit + 1.0, "{shown}: {back} vs {b}");
            }

            #[test]
            fn durations_round_trip(secs in prop_oneof![0u64..1_000_000, 0u64..(1 << 40)]) {
                let d = Duration::from_secs(secs);
                prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            }
        }
    }
}
