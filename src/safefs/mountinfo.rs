//! `/proc/self/mountinfo`, parsed: one line per mount, bind mounts included.
//!
//! A line is `ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE
//! SUPER-OPTIONS` (proc(5)); the kernel writes space, tab, newline and backslash in paths as
//! `\ooo`. Lines that do not have that shape are skipped. Pure, so it is tested (and
//! attacked) on every platform.

use std::ffi::OsString;

/// One mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountLine {
    pub id: u64,
    pub parent: u64,
    /// `major:minor` as written.
    pub dev: String,
    /// The directory of the filesystem that is mounted (not `/` for a bind mount of a
    /// subdirectory).
    pub root: OsString,
    pub mount_point: OsString,
    pub read_only: bool,
    pub fs_type: String,
    pub source: OsString,
}

/// Every well-formed line of `text`.
pub fn parse(text: &[u8]) -> Vec<MountLine> {
    text.split(|&b| b == b'\n').filter_map(parse_line).collect()
}

fn parse_line(line: &[u8]) -> Option<MountLine> {
    // Paths have their spaces escaped, so fields split on spaces; the first six are
    // positional, then optional fields up to a lone `-`.
    let mut fields = line.split(|&b| b == b' ');
    let id = number(fields.next()?)?;
    let parent = number(fields.next()?)?;
    let dev = std::str::from_utf8(fields.next()?).ok()?;
    let (major, minor) = dev.split_once(':')?;
    major.parse::<u32>().ok()?;
    minor.parse::<u32>().ok()?;
    let root = unescape(fields.next()?);
    let mount_point = unescape(fields.next()?);
    let options = fields.next()?;
    fields.by_ref().find(|f| *f == b"-")?;
    let fs_type = String::from_utf8_lossy(&unescape_bytes(fields.next()?)).into_owned();
    if fs_type.is_empty() {
        return None;
    }
    let source = fields.next().map(unescape).unwrap_or_default();
    Some(MountLine {
        id,
        parent,
        dev: dev.to_string(),
        root,
        mount_point,
        read_only: options.split(|&b| b == b',').any(|o| o == b"ro"),
        fs_type,
        source,
    })
}

fn number(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// `\ooo` octal escapes undone; anything else kept as is.
fn unescape_bytes(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        let digits = field.get(i + 1..i + 4);
        let octal = digits.filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b, octal) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                // Three octal digits reach 511: only values that fit a byte are escapes.
                match u8::try_from(value) {
                    Ok(v) => {
                        out.push(v);
                        i += 4;
                    }
                    Err(_) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(unix)]
fn unescape(field: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(unescape_bytes(field))
}

#[cfg(not(unix))]
fn unescape(field: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(&unescape_bytes(field)).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &[u8] = b"\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
41 29 0:35 / /tmp/with\\040space rw,relatime - tmpfs tmpfs rw,size=65536k
52 29 8:1 /srv/data /tmp/cache/00 ro,relatime shared:1 - ext4 /dev/sda1 rw
garbage line
53 29 8:1 / /x rw - 
54 29 8:1 / - rw shared:2 - ext4 /dev/sda1 rw
";

    #[test]
    fn lines_are_parsed_and_unescaped() {
        let mounts = parse(SAMPLE);
        assert_eq!(mounts.len(), 5, "{mounts:#?}");
        // A mount point named `-` is a path, not the separator.
        assert_eq!(mounts[4].mount_point, OsString::from("-"));
        assert_eq!(mounts[1].mount_point, OsString::from("/"));
        assert_eq!(mounts[1].fs_type, "ext4");
        assert_eq!(mounts[2].mount_point, OsString::from("/tmp/with space"));
        // A bind mount of a subdirectory of the same device, read-only.
        assert_eq!(mounts[3].dev, "8:1");
        assert_eq!(mounts[3].root, OsString::from("/srv/data"));
        assert!(mounts[3].read_only);
        assert_eq!((mounts[3].id, mounts[3].parent), (52, 29));
    }

    #[test]
    fn escapes_that_do_not_fit_a_byte_are_kept() {
        assert_eq!(unescape_bytes(b"a\\777b"), b"a\\777b");
        assert_eq!(unescape_bytes(b"a\\134b"), b"a\\b");
        assert_eq!(unescape_bytes(b"\\12"), b"\\12");
        assert_eq!(unescape_bytes(b"\\"), b"\\");
    }

    proptest! {
        #![proptest_config(crate::testing::budget(2000))]

        #[test]
        fn any_bytes_parse_without_panic(text in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&text);
        }

        #[test]
        fn mount_points_round_trip_through_the_kernels_escapes(
            point in proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 1..40)
        ) {
            let mut escaped = Vec::new();
            for b in &point {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
                    escaped.extend(format!("\\{b:03o}").bytes());
                } else {
                    escaped.push(*b);
                }
            }
            let mut line = b"7 1 8:1 / ".to_vec();
            line.extend(&escaped);
            line.extend(b" rw shared:1 - ext4 /dev/sda1 rw");
            let mounts = parse(&line);
            prop_assert_eq!(mounts.len(), 1);
            prop_assert_eq!(unescape_bytes(&escaped), point.clone());
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                prop_assert_eq!(mounts[0].mount_point.as_bytes(), &point[..]);
            }
        }
    }
}
