//! Sizes (`500MB`, `10GiB`, `1073741824`, `15%`) and durations (`90m`, `36h`, `7d`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
        let value = parse_number(num).ok_or_else(|| {
            "expected a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage"
                .to_string()
        })?;
        let unit_lc = unit.trim_start().to_ascii_lowercase();
        let multiplier = UNITS
            .iter()
            .find(|(name, _)| *name == unit_lc)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!(
                    "unknown unit {:?}; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)",
                    unit.trim_start()
                )
            })?;
        let bytes = value * multiplier as f64;
        if bytes >= u64::MAX as f64 {
            return Err("too large".into());
        }
        Ok(Size::Bytes(bytes.round() as u64))
    }
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

/// Formats a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    humantime::format_duration(Duration::from_secs(d.as_secs()))
        .to_string()
        .replace(' ', "")
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
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn bytes_format_for_people() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(64 << 20), "64.0 MiB");
        assert_eq!(format_bytes_pair(1536, 1537).0, "1.5 KiB (1536 bytes)");
        assert_eq!(format_bytes_pair(1536, 4096).0, "1.5 KiB");
    }
}
