//! Windows reparse points, decoded from the bytes `FSCTL_GET_REPARSE_POINT` returns.
//!
//! The parser is pure so that it is tested on every platform, on byte fixtures laid out as
//! the documented `REPARSE_DATA_BUFFER`:
//!
//! ```text
//! u32 ReparseTag, u16 ReparseDataLength, u16 Reserved,            // header, 8 bytes
//! symbolic link:  u16 SubstituteNameOffset, u16 SubstituteNameLength,
//!                 u16 PrintNameOffset, u16 PrintNameLength, u32 Flags, WCHAR PathBuffer[]
//! mount point:    u16 SubstituteNameOffset, u16 SubstituteNameLength,
//!                 u16 PrintNameOffset, u16 PrintNameLength, WCHAR PathBuffer[]
//! ```
//!
//! Offsets and lengths are in bytes, relative to `PathBuffer`. Junctions and volume mount
//! points share one tag and are told apart by the substitute name: a volume mount point
//! targets exactly `\??\Volume{GUID}\`, a junction targets a path (`\??\C:\dir`).

use serde::Serialize;

/// `IO_REPARSE_TAG_SYMLINK`.
pub const TAG_SYMLINK: u32 = 0xA000_000C;
/// `IO_REPARSE_TAG_MOUNT_POINT`: junctions and volume mount points.
pub const TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// `SYMLINK_FLAG_RELATIVE`: the substitute name is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 1;
/// The largest reparse buffer Windows hands out (`MAXIMUM_REPARSE_DATA_BUFFER_SIZE`).
pub const MAX_BUFFER: usize = 16 * 1024;

const HEADER: usize = 8;

/// What a reparse point is and where it leads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reparse {
    /// A symbolic link (`mklink`, `mklink /D`).
    Symlink {
        /// Where it points, as a Win32 path (`C:\dir`, `\\server\share\dir`, or relative).
        target: String,
        relative: bool,
    },
    /// A directory junction (`mklink /J`): always an absolute local path.
    Junction { target: String },
    /// A volume mounted on a directory: the volume's GUID path, `\\?\Volume{…}\`.
    VolumeMountPoint { volume: String },
    /// Any other tag (cloud files, deduplication, WSL, …): not a link.
    Other { tag: u32 },
}

impl Reparse {
    /// Where the link leads, when it is one.
    pub fn target(&self) -> Option<&str> {
        match self {
            Reparse::Symlink { target, .. } | Reparse::Junction { target } => Some(target),
            Reparse::VolumeMountPoint { volume } => Some(volume),
            Reparse::Other { .. } => None,
        }
    }

    /// Whether the link leads to a network share (`\\server\share`).
    pub fn is_network(&self) -> bool {
        self.target().is_some_and(is_unc)
    }
}

/// Why a buffer could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("reparse buffer of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("reparse data length {declared} exceeds the {available} bytes returned")]
    Length { declared: usize, available: usize },
    #[error("reparse name at bytes {offset}..{end} lies outside the path buffer")]
    NameOutOfBounds { offset: usize, end: usize },
    #[error("reparse name has an odd byte length {0}")]
    OddLength(usize),
}

/// Decodes a `REPARSE_DATA_BUFFER`.
pub fn parse(buf: &[u8]) -> Result<Reparse, ParseError> {
    if buf.len() < HEADER {
        return Err(ParseError::Short(buf.len()));
    }
    let tag = u32_at(buf, 0);
    let declared = u16_at(buf, 4) as usize;
    if HEADER + declared > buf.len() {
        return Err(ParseError::Length {
            declared,
            available: buf.len() - HEADER,
        });
    }
    let data = &buf[HEADER..HEADER + declared];
    match tag {
        TAG_SYMLINK => {
            // Four u16 name fields and the u32 flags precede the path buffer.
            let fields = data.get(..12).ok_or(ParseError::Short(buf.len()))?;
            let flags = u32_at(fields, 8);
            let substitute = name(&data[12..], u16_at(fields, 0), u16_at(fields, 2))?;
            let relative = flags & SYMLINK_FLAG_RELATIVE != 0;
            Ok(Reparse::Symlink {
                target: if relative {
                    substitute
                } else {
                    win32_path(&substitute)
                },
                relative,
            })
        }
        TAG_MOUNT_POINT => {
            let fields = data.get(..8).ok_or(ParseError::Short(buf.len()))?;
            let substitute = name(&data[8..], u16_at(fields, 0), u16_at(fields, 2))?;
            Ok(if is_volume_guid_path(&substitute) {
                Reparse::VolumeMountPoint {
                    volume: format!(r"\\?\{}", &substitute[4..]),
                }
            } else {
                Reparse::Junction {
                    target: win32_path(&substitute),
                }
            })
        }
        tag => Ok(Reparse::Other { tag }),
    }
}

/// Whether the tag marks a name surrogate: an entry that stands for another (a link), as
/// opposed to a file stored in a special way. Bit 29 of the tag, as `IsReparseTagNameSurrogate`.
pub fn is_name_surrogate(tag: u32) -> bool {
    tag & 0x2000_0000 != 0
}

/// Turns an NT path (`\??\C:\dir`, `\??\UNC\server\share`) into the Win32 path users know.
pub fn win32_path(nt: &str) -> String {
    if let Some(rest) = nt.strip_prefix(r"\??\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = nt.strip_prefix(r"\??\") {
        rest.to_string()
    } else {
        nt.to_string()
    }
}

/// Whether a Win32 path names a network share: `\\server\share`, `\\?\UNC\server\share`.
pub fn is_unc(path: &str) -> bool {
    let upper = path.to_ascii_uppercase();
    upper.starts_with(r"\\?\UNC\")
        || (path.starts_with(r"\\") && !path.starts_with(r"\\?\") && !path.starts_with(r"\\.\"))
}

/// `\??\Volume{GUID}\`, exactly: 36 characters of GUID between the braces.
fn is_volume_guid_path(nt: &str) -> bool {
    let Some(rest) = nt.strip_prefix(r"\??\Volume{") else {
        return false;
    };
    let Some(guid) = rest.strip_suffix(r"}\") else {
        return false;
    };
    guid.len() == 36
        && guid.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn name(path_buffer: &[u8], offset: u16, length: u16) -> Result<String, ParseError> {
    let (offset, length) = (offset as usize, length as usize);
    let end = offset + length;
    if end > path_buffer.len() {
        return Err(ParseError::NameOutOfBounds { offset, end });
    }
    if length % 2 != 0 {
        return Err(ParseError::OddLength(length));
    }
    let units: Vec<u16> = path_buffer[offset..end]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(String::from_utf16_lossy(&units))
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// A buffer as Windows lays it out: the substitute name first, then the print name, each
    /// followed by a NUL that the lengths do not count (as `mklink` writes them).
    fn buffer(tag: u32, flags: Option<u32>, substitute: &str, print: &str) -> Vec<u8> {
        let (sub, prn) = (utf16(substitute), utf16(print));
        let mut path = sub.clone();
        path.extend([0, 0]);
        let print_offset = path.len();
        path.extend(&prn);
        path.extend([0, 0]);
        let mut fields = Vec::new();
        for v in [0, sub.len(), print_offset, prn.len()] {
            fields.extend((v as u16).to_le_bytes());
        }
        if let Some(flags) = flags {
            fields.extend(flags.to_le_bytes());
        }
        let data_len = fields.len() + path.len();
        let mut buf = tag.to_le_bytes().to_vec();
        buf.extend((data_len as u16).to_le_bytes());
        buf.extend([0, 0]);
        buf.extend(fields);
        buf.extend(path);
        buf
    }

    #[test]
    fn absolute_symlink() {
        let buf = buffer(TAG_SYMLINK, Some(0), r"\??\D:\go-build", r"D:\go-build");
        assert_eq!(
            parse(&buf).unwrap(),
            Reparse::Symlink {
                target: r"D:\go-build".into(),
                relative: false
            }
        );
    }

    #[test]
    fn relative_symlink_keeps_its_name() {
        let buf = buffer(
            TAG_SYMLINK,
            Some(SYMLINK_FLAG_RELATIVE),
            r"..\cache",
            r"..\cache",
        );
        assert_eq!(
            parse(&buf).unwrap(),
            Reparse::Symlink {
                target: r"..\cache".into(),
                relative: true
            }
        );
    }

    #[test]
    fn symlink_to_a_share_is_network() {
        let buf = buffer(
            TAG_SYMLINK,
            Some(0),
            r"\??\UNC\fileserver\ci\go",
            r"\\fileserver\ci\go",
        );
        let parsed = parse(&buf).unwrap();
        assert_eq!(parsed.target(), Some(r"\\fileserver\ci\go"));
        assert!(parsed.is_network());
    }

    #[test]
    fn junction_targets_a_drive_path() {
        let buf = buffer(
            TAG_MOUNT_POINT,
            None,
            r"\??\D:\a\go-build",
            r"D:\a\go-build",
        );
        let parsed = parse(&buf).unwrap();
        assert_eq!(
            parsed,
            Reparse::Junction {
                target: r"D:\a\go-build".into()
            }
        );
        assert!(!parsed.is_network());
    }

    #[test]
    fn volume_mount_point_targets_a_volume_guid() {
        // mountvol writes an empty print name.
        let sub = r"\??\Volume{5b1c3d2e-0f4a-11ef-9a3b-806e6f6e6963}\";
        let parsed = parse(&buffer(TAG_MOUNT_POINT, None, sub, "")).unwrap();
        assert_eq!(
            parsed,
            Reparse::VolumeMountPoint {
                volume: r"\\?\Volume{5b1c3d2e-0f4a-11ef-9a3b-806e6f6e6963}\".into()
            }
        );
    }

    #[test]
    fn a_junction_into_a_volume_path_is_still_a_junction() {
        // Not exactly `\??\Volume{GUID}\`: a directory inside that volume.
        let sub = r"\??\Volume{5b1c3d2e-0f4a-11ef-9a3b-806e6f6e6963}\go";
        assert!(matches!(
            parse(&buffer(TAG_MOUNT_POINT, None, sub, "")).unwrap(),
            Reparse::Junction { .. }
        ));
        let bad_guid = r"\??\Volume{not-a-guid}\";
        assert!(matches!(
            parse(&buffer(TAG_MOUNT_POINT, None, bad_guid, "")).unwrap(),
            Reparse::Junction { .. }
        ));
    }

    #[test]
    fn print_name_before_substitute_name_is_read_by_offset() {
        // Offsets, not order, locate the names.
        let (sub, prn) = (utf16(r"\??\E:\x"), utf16(r"E:\x"));
        let mut path = prn.clone();
        let sub_offset = path.len();
        path.extend(&sub);
        let mut buf = TAG_MOUNT_POINT.to_le_bytes().to_vec();
        buf.extend(((8 + path.len()) as u16).to_le_bytes());
        buf.extend([0, 0]);
        for v in [sub_offset, sub.len(), 0, prn.len()] {
            buf.extend((v as u16).to_le_bytes());
        }
        buf.extend(path);
        assert_eq!(parse(&buf).unwrap().target(), Some(r"E:\x"));
    }

    #[test]
    fn other_tags_are_not_links() {
        // IO_REPARSE_TAG_DEDUP and a cloud-files tag: data, not name surrogates.
        for tag in [0x8000_0013u32, 0x9000_001A] {
            let mut buf = tag.to_le_bytes().to_vec();
            buf.extend([4, 0, 0, 0, 1, 2, 3, 4]);
            assert_eq!(parse(&buf).unwrap(), Reparse::Other { tag });
            assert!(!is_name_surrogate(tag));
        }
        assert!(is_name_surrogate(TAG_SYMLINK));
        assert!(is_name_surrogate(TAG_MOUNT_POINT));
        // The filter manager's tag is no symlink.
        assert_eq!(
            parse(&[0x0B, 0, 0, 0x80, 0, 0, 0, 0]).unwrap(),
            Reparse::Other { tag: 0x8000_000B }
        );
    }

    #[test]
    fn malformed_buffers_are_errors_not_panics() {
        assert_eq!(parse(&[1, 2, 3]), Err(ParseError::Short(3)));
        let good = buffer(TAG_SYMLINK, Some(0), r"\??\C:\x", r"C:\x");
        // Truncated anywhere: an error, never a panic or a wrong answer.
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        // A name that points past the buffer.
        let mut bad = good.clone();
        bad[10] = 200; // SubstituteNameLength
        assert!(matches!(
            parse(&bad),
            Err(ParseError::NameOutOfBounds { .. })
        ));
        let mut odd = good.clone();
        odd[10] = 3;
        assert_eq!(parse(&odd), Err(ParseError::OddLength(3)));
        // A declared length longer than what was returned.
        let mut long = good;
        long[4] = 0xff;
        assert!(matches!(parse(&long), Err(ParseError::Length { .. })));
    }

    #[test]
    fn unc_paths() {
        assert!(is_unc(r"\\server\share\go"));
        assert!(is_unc(r"\\?\UNC\server\share"));
        assert!(is_unc(r"\\?\unc\server\share"));
        assert!(!is_unc(r"\\?\C:\go"));
        assert!(!is_unc(r"\\.\pipe\x"));
        assert!(!is_unc(r"C:\go"));
        assert_eq!(win32_path(r"\??\UNC\s\x"), r"\\s\x");
        assert_eq!(win32_path(r"\??\C:\x"), r"C:\x");
    }

    #[test]
    fn unpaired_surrogates_in_a_name_become_replacement_characters() {
        // A Windows name is any sequence of UTF-16 units; a report shows it as text.
        let mut buf = buffer(TAG_SYMLINK, Some(SYMLINK_FLAG_RELATIVE), "ab", "ab");
        buf[20..22].copy_from_slice(&0xD800u16.to_le_bytes());
        assert_eq!(
            parse(&buf).unwrap(),
            Reparse::Symlink {
                target: "\u{FFFD}b".into(),
                relative: true
            }
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// What a generated buffer stands for.
        #[derive(Clone, Debug)]
        enum Shape {
            Symlink { relative: bool },
            Junction,
            Volume(String),
            Other(u32),
        }

        /// UTF-16 units of any kind: path characters, letters, unpaired surrogates, anything.
        fn units(max: usize) -> impl Strategy<Value = Vec<u16>> {
            let unit = (0u8..6, any::<u16>()).prop_map(|(kind, v)| match kind {
                0 => u16::from(b'\\'),
                1 => u16::from(b':'),
                2 => u16::from(b'A') + v % 58,
                3 => 0xD800 + v % 0x800,
                _ => v,
            });
            proptest::collection::vec(unit, 0..max)
        }

        fn guid() -> impl Strategy<Value = String> {
            (
                any::<u32>(),
                any::<u16>(),
                any::<u16>(),
                any::<u16>(),
                any::<u64>(),
            )
                .prop_map(|(a, b, c, d, e)| {
                    format!(
                        "{a:08x}-{b:04x}-{c:04x}-{d:04x}-{:012x}",
                        e & 0xffff_ffff_ffff
                    )
                })
        }

        fn shape() -> impl Strategy<Value = Shape> {
            prop_oneof![
                any::<bool>().prop_map(|relative| Shape::Symlink { relative }),
                Just(Shape::Junction),
                guid().prop_map(Shape::Volume),
                any::<u32>()
                    .prop_filter("another tag", |t| *t != TAG_SYMLINK
                        && *t != TAG_MOUNT_POINT)
                    .prop_map(Shape::Other),
            ]
        }

        /// An NT prefix an absolute name may carry: none, `\??\` or `\??\UNC\`.
        fn prefix() -> impl Strategy<Value = &'static str> {
            prop_oneof![Just(""), Just(r"\??\"), Just(r"\??\UNC\")]
        }

        fn le(units: &[u16]) -> Vec<u8> {
            units.iter().flat_map(|u| u.to_le_bytes()).collect()
        }

        /// A `REPARSE_DATA_BUFFER` laid out as the generator chose: the names in either order,
        /// each with or without a NUL after it, then bytes beyond the declared length.
        #[allow(clippy::too_many_arguments)]
        fn encode(
            tag: u32,
            flags: Option<u32>,
            substitute: &[u16],
            print: &[u16],
            print_first: bool,
            nul: bool,
            trailing: &[u8],
        ) -> Vec<u8> {
            let (sub, prn) = (le(substitute), le(print));
            let terminator: &[u8] = if nul { &[0, 0] } else { &[] };
            let mut path: Vec<u8> = Vec::new();
            let (sub_offset, prn_offset);
            if print_first {
                prn_offset = 0;
                path.extend(&prn);
                path.extend(terminator);
                sub_offset = path.len();
                path.extend(&sub);
                path.extend(terminator);
            } else {
                sub_offset = 0;
                path.extend(&sub);
                path.extend(terminator);
                prn_offset = path.len();
                path.extend(&prn);
                path.extend(terminator);
            }
            let mut data = Vec::new();
            for v in [sub_offset, sub.len(), prn_offset, prn.len()] {
                data.extend((v as u16).to_le_bytes());
            }
            if let Some(flags) = flags {
                data.extend(flags.to_le_bytes());
            }
            data.extend(path);
            let mut buf = tag.to_le_bytes().to_vec();
            buf.extend((data.len() as u16).to_le_bytes());
            buf.extend([0, 0]);
            buf.extend(data);
            buf.extend(trailing);
            buf
        }

        /// A generated buffer and what it must decode to.
        fn well_formed() -> impl Strategy<Value = (Vec<u8>, Reparse)> {
            (
                shape(),
                prefix(),
                units(80),
                units(40),
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..16),
                any::<u32>(),
            )
                .prop_filter(
                    "a junction's name is no volume GUID path",
                    |(shape, _, name, ..)| {
                        !matches!(shape, Shape::Junction)
                            || !String::from_utf16_lossy(name).starts_with("Volume{")
                    },
                )
                .prop_map(
                    |(shape, prefix, name, print, print_first, nul, trailing, extra_flags)| {
                        let text = String::from_utf16_lossy(&name);
                        let prefixed: Vec<u16> =
                            prefix.encode_utf16().chain(name.iter().copied()).collect();
                        // What the prefix makes of the name, as users know paths.
                        let win32 = match prefix {
                            r"\??\" => text.clone(),
                            r"\??\UNC\" => format!(r"\\{text}"),
                            _ => win32_path(&text),
                        };
                        match shape {
                            Shape::Symlink { relative } => {
                                let flags = (extra_flags & !SYMLINK_FLAG_RELATIVE)
                                    | if relative { SYMLINK_FLAG_RELATIVE } else { 0 };
                                let (substitute, target) = if relative {
                                    (name.clone(), text)
                                } else {
                                    (prefixed, win32)
                                };
                                (
                                    encode(
                                        TAG_SYMLINK,
                                        Some(flags),
                                        &substitute,
                                        &print,
                                        print_first,
                                        nul,
                                        &trailing,
                                    ),
                                    Reparse::Symlink { target, relative },
                                )
                            }
                            Shape::Junction => (
                                encode(
                                    TAG_MOUNT_POINT,
                                    None,
                                    &prefixed,
                                    &print,
                                    print_first,
                                    nul,
                                    &trailing,
                                ),
                                Reparse::Junction { target: win32 },
                            ),
                            Shape::Volume(guid) => {
                                let substitute: Vec<u16> =
                                    format!(r"\??\Volume{{{guid}}}\").encode_utf16().collect();
                                (
                                    encode(
                                        TAG_MOUNT_POINT,
                                        None,
                                        &substitute,
                                        &print,
                                        print_first,
                                        nul,
                                        &trailing,
                                    ),
                                    Reparse::VolumeMountPoint {
                                        volume: format!(r"\\?\Volume{{{guid}}}\"),
                                    },
                                )
                            }
                            Shape::Other(tag) => {
                                let mut buf = tag.to_le_bytes().to_vec();
                                let data = le(&name);
                                buf.extend((data.len() as u16).to_le_bytes());
                                buf.extend([0, 0]);
                                buf.extend(data);
                                buf.extend(&trailing);
                                (buf, Reparse::Other { tag })
                            }
                        }
                    },
                )
        }

        proptest! {
            #![proptest_config(crate::testing::budget(3000))]

            #[test]
            fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse(&buf);
            }

            #[test]
            fn arbitrary_bytes_behind_a_link_tag_never_panic(
                tag in prop_oneof![Just(TAG_SYMLINK), Just(TAG_MOUNT_POINT)],
                declared in any::<u16>(),
                rest in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let mut buf = tag.to_le_bytes().to_vec();
                buf.extend(declared.to_le_bytes());
                buf.extend([0, 0]);
                buf.extend(rest);
                let _ = parse(&buf);
            }

            #[test]
            fn well_formed_buffers_decode_to_what_was_encoded((buf, expected) in well_formed()) {
                prop_assert_eq!(parse(&buf), Ok(expected));
            }

            #[test]
            fn damaged_buffers_never_panic(
                (buf, _) in well_formed(),
                hits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
                cut in any::<usize>(),
            ) {
                let mut buf = buf;
                let n = buf.len();
                for (at, byte) in hits {
                    buf[at % n] = byte;
                }
                buf.truncate(cut % (n + 1));
                let _ = parse(&buf);
            }
        }
    }
}
