//! What the remote tier stores, and how it is named.
//!
//! Under the URL's prefix, an action `A` is the object `actions/<A hex>` and an output `O` the
//! object `outputs/<O hex>`. Outputs are named by their content's SHA-256 (Go's OutputID), so
//! a body shared by many actions is stored once and a fetched body is verified before use.
//! An action object is one line of text:
//!
//! ```text
//! go-disk-guard-action v1 <A hex> <O hex> <size> <put, Unix ns> <last use, Unix s>\n
//! ```
//!
//! Every field is checked when read ([`parse_action`]): anything else is a miss. The last-use
//! field is what `prune --remote` ages by (object stores do not let a client set an object's
//! modification time); a hit rewrites it at most once a day
//! ([`crate::policy::remote::refresh_due`]).
//!
//! A *manifest* `manifests/<F hex>/<N hex>` lists the actions one go command used, in the
//! order it first asked for them, so that the next go command that starts the same way can
//! fetch their outputs ahead of its requests. `F` is the first action the command asked for;
//! `N` names one of the commands that start with it (`go build`, `go vet` and `go test` of a
//! module may): the name of the manifest the command chose and mostly followed, or else
//! [`manifest_key`] of its first few requests. It is a header line and then one action line
//! per action:
//!
//! ```text
//! go-disk-guard-manifest v1\n
//! go-disk-guard-action v1 <A hex> <O hex> <size> <put, Unix ns> <last use, Unix s>\n
//! …
//! ```
//!
//! A manifest is believed exactly as far as an action object is (its mappings cannot be
//! verified; the bodies it names are, when fetched), and only whole: one line that is not an
//! action line and the manifest is ignored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cacheprog::protocol::ID_LEN;
use crate::cacheprog::store::hex;
use crate::policy::remote::believable_time;

/// The first word of an action object.
const MAGIC: &str = "go-disk-guard-action";

/// An action object is never longer than this; a longer one is not ours.
pub const ACTION_MAX_LEN: usize = 256;

/// The header line of a manifest.
const MANIFEST_HEADER: &str = "go-disk-guard-manifest v1\n";

/// A manifest lists at most this many actions (a build of tens of thousands of packages);
/// one that is longer is not ours.
pub const MANIFEST_MAX_ACTIONS: usize = 65_536;

/// A manifest is never longer than this.
pub const MANIFEST_MAX_LEN: usize = MANIFEST_HEADER.len() + MANIFEST_MAX_ACTIONS * ACTION_MAX_LEN;

/// An action as the remote holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    pub action: [u8; ID_LEN],
    pub output: [u8; ID_LEN],
    pub size: u64,
    /// When the output was first put (handed to the go command as the entry's time).
    pub put_at: SystemTime,
    /// When the action was last used, to the second.
    pub used_at: SystemTime,
}

/// The object key of action `id` under `prefix` (no leading or trailing `/`; may be empty).
pub fn action_key(prefix: &str, id: &[u8; ID_LEN]) -> String {
    key(prefix, "actions", id)
}

/// The object key of output `id` under `prefix`.
pub fn output_key(prefix: &str, id: &[u8; ID_LEN]) -> String {
    key(prefix, "outputs", id)
}

/// Where the manifests of go commands whose first request was `first` are filed.
pub fn manifests_under(prefix: &str, first: &[u8; ID_LEN]) -> String {
    format!("{}/", key(prefix, "manifests", first))
}

/// The object key of the manifest `name` filed under the first request `first`.
pub fn manifest_path(prefix: &str, first: &[u8; ID_LEN], name: &[u8; ID_LEN]) -> String {
    format!("{}{}", manifests_under(prefix, first), hex(name))
}

/// The name of the manifest for a go command whose first distinct requests were `first`, in
/// any order: the SHA-256 of the sorted IDs. (The go command asks for its first actions from
/// several goroutines; their order varies from run to run, the set does not.)
pub fn manifest_key(first: &[[u8; ID_LEN]]) -> [u8; ID_LEN] {
    let mut sorted = first.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for id in &sorted {
        hash.update(id);
    }
    let mut out = [0u8; ID_LEN];
    out.copy_from_slice(hash.finish().as_ref());
    out
}

fn key(prefix: &str, kind: &str, id: &[u8; ID_LEN]) -> String {
    if prefix.is_empty() {
        format!("{kind}/{}", hex(id))
    } else {
        format!("{prefix}/{kind}/{}", hex(id))
    }
}

/// The ID a key's last component names, if it is 64 lower-case hex digits.
pub fn id_of_name(name: &str) -> Option<[u8; ID_LEN]> {
    let bytes = name.as_bytes();
    if bytes.len() != ID_LEN * 2 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; ID_LEN];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |b: u8| (b as char).to_digit(16);
        let hi = digit(*pair.first()?)?;
        let lo = digit(*pair.get(1)?)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The action object's text.
pub fn format_action(a: &Action) -> String {
    format!(
        "{MAGIC} v1 {} {} {} {} {}\n",
        hex(&a.action),
        hex(&a.output),
        a.size,
        unix_nanos(a.put_at),
        unix_secs(a.used_at)
    )
}

/// A decimal number as written by [`format_action`]: digits only, no sign, no leading zero.
fn number(word: &str) -> Option<u64> {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b.first() == Some(&b'0') {
        return None;
    }
    word.parse().ok()
}

/// Reads an action object fetched for `action`, at `now`. `None` for anything that is not
/// exactly what [`format_action`] writes for that action, for an output of more than
/// `max_size` bytes, and for times in the future.
pub fn parse_action(
    bytes: &[u8],
    action: &[u8; ID_LEN],
    max_size: u64,
    now: SystemTime,
) -> Option<Action> {
    if bytes.len() > ACTION_MAX_LEN {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let found = parse_line(text.strip_suffix('\n')?, max_size, now)?;
    (found.action == *action).then_some(found)
}

/// One action line, without its newline.
fn parse_line(line: &str, max_size: u64, now: SystemTime) -> Option<Action> {
    if line.len() >= ACTION_MAX_LEN {
        return None;
    }
    let mut words = line.split(' ');
    if words.next()? != MAGIC || words.next()? != "v1" {
        return None;
    }
    let action = id_of_name(words.next()?)?;
    let output = id_of_name(words.next()?)?;
    let size = number(words.next()?)?;
    let put_nanos = number(words.next()?)?;
    let used_secs = number(words.next()?)?;
    if words.next().is_some() || size > max_size {
        return None;
    }
    let put_at = UNIX_EPOCH.checked_add(Duration::from_nanos(put_nanos))?;
    let used_at = UNIX_EPOCH.checked_add(Duration::from_secs(used_secs))?;
    if !believable_time(put_at, now) || !believable_time(used_at, now) {
        return None;
    }
    Some(Action {
        action,
        output,
        size,
        put_at,
        used_at,
    })
}

/// A manifest's text: the header, then `actions` (at most [`MANIFEST_MAX_ACTIONS`]).
pub fn format_manifest(actions: &[Action]) -> String {
    let mut text = String::from(MANIFEST_HEADER);
    for a in actions.iter().take(MANIFEST_MAX_ACTIONS) {
        text.push_str(&format_action(a));
    }
    text
}

/// Reads a manifest at `now`: `None` unless it is exactly what [`format_manifest`] writes,
/// every action naming an output of at most `max_size` bytes and no time in the future.
pub fn parse_manifest(bytes: &[u8], max_size: u64, now: SystemTime) -> Option<Vec<Action>> {
    if bytes.len() > MANIFEST_MAX_LEN {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let body = text.strip_prefix(MANIFEST_HEADER)?;
    if body.is_empty() {
        return Some(Vec::new());
    }
    let body = body.strip_suffix('\n')?;
    let mut actions = Vec::new();
    for line in body.split('\n') {
        if actions.len() >= MANIFEST_MAX_ACTIONS {
            return None;
        }
        actions.push(parse_line(line, max_size, now)?);
    }
    Some(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Action {
        Action {
            action: [0xab; ID_LEN],
            output: [0x01; ID_LEN],
            size: 4096,
            put_at: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            used_at: UNIX_EPOCH + Duration::from_secs(1_700_000_100),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn an_action_reads_back_and_nothing_else_does() {
        let a = sample();
        let text = format_action(&a);
        assert_eq!(
            parse_action(text.as_bytes(), &a.action, u64::MAX, now()),
            Some(a)
        );
        // Another action's object, a size beyond the limit, a missing newline, a second line,
        // a leading zero, upper-case hex, a time in the future.
        assert_eq!(
            parse_action(text.as_bytes(), &[0xac; ID_LEN], u64::MAX, now()),
            None
        );
        assert_eq!(parse_action(text.as_bytes(), &a.action, 4095, now()), None);
        let t = text.trim_end();
        assert_eq!(parse_action(t.as_bytes(), &a.action, u64::MAX, now()), None);
        let two = format!("{text}{text}");
        assert_eq!(
            parse_action(two.as_bytes(), &a.action, u64::MAX, now()),
            None
        );
        let zero = text.replace(" 4096 ", " 04096 ");
        assert_eq!(
            parse_action(zero.as_bytes(), &a.action, u64::MAX, now()),
            None
        );
        let upper = text.replace(&"01".repeat(32), &"0A".repeat(32));
        assert_eq!(
            parse_action(upper.as_bytes(), &a.action, u64::MAX, now()),
            None
        );
        let early = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        assert_eq!(
            parse_action(text.as_bytes(), &a.action, u64::MAX, early),
            None
        );
    }

    #[test]
    fn keys_and_names() {
        let id = [0x5a; ID_LEN];
        assert_eq!(action_key("", &id), format!("actions/{}", "5a".repeat(32)));
        assert_eq!(
            output_key("ci/go", &id),
            format!("ci/go/outputs/{}", "5a".repeat(32))
        );
        assert_eq!(id_of_name(&"5a".repeat(32)), Some(id));
        assert_eq!(id_of_name(&"5A".repeat(32)), None);
        assert_eq!(id_of_name("5a"), None);
    }

    #[test]
    fn a_manifest_reads_back_whole_and_nothing_else_does() {
        let a = sample();
        let b = Action {
            action: [0xcd; ID_LEN],
            size: 0,
            ..sample()
        };
        let text = format_manifest(&[a, b]);
        assert_eq!(
            parse_manifest(text.as_bytes(), u64::MAX, now()),
            Some(vec![a, b])
        );
        let empty = format_manifest(&[]);
        assert_eq!(
            parse_manifest(empty.as_bytes(), u64::MAX, now()),
            Some(vec![])
        );
        // One bad line spoils the whole: a size beyond the limit, a missing last newline, a
        // blank line, no header, an action object's text, a second header.
        assert_eq!(parse_manifest(text.as_bytes(), 4095, now()), None);
        assert_eq!(
            parse_manifest(text.trim_end().as_bytes(), u64::MAX, now()),
            None
        );
        let blank = text.replacen('\n', "\n\n", 2);
        assert_eq!(parse_manifest(blank.as_bytes(), u64::MAX, now()), None);
        let headless = format_action(&a);
        assert_eq!(parse_manifest(headless.as_bytes(), u64::MAX, now()), None);
        let twice = format!("{text}{text}");
        assert_eq!(parse_manifest(twice.as_bytes(), u64::MAX, now()), None);
    }

    #[test]
    fn a_manifest_longer_than_its_limit_is_not_read() {
        let many = vec![sample(); MANIFEST_MAX_ACTIONS + 1];
        // Writing keeps to the limit; a longer text, however written, is not read.
        let text = format_manifest(&many);
        assert_eq!(
            parse_manifest(text.as_bytes(), u64::MAX, now()).map(|m| m.len()),
            Some(MANIFEST_MAX_ACTIONS)
        );
        let longer = format!("{text}{}", format_action(&sample()));
        assert_eq!(parse_manifest(longer.as_bytes(), u64::MAX, now()), None);
    }

    #[test]
    fn a_manifest_is_named_after_the_set_of_first_requests_not_their_order() {
        let ids: Vec<[u8; ID_LEN]> = (0..8u8).map(|i| [i; ID_LEN]).collect();
        let mut shuffled = ids.clone();
        shuffled.reverse();
        shuffled.swap(2, 5);
        assert_eq!(manifest_key(&ids), manifest_key(&shuffled));
        let mut other = ids.clone();
        other[3] = [0xff; ID_LEN];
        assert_ne!(manifest_key(&ids), manifest_key(&other));
        assert_eq!(
            manifest_path("ci/linux", &[0xab; ID_LEN], &[0x01; ID_LEN]),
            format!(
                "ci/linux/manifests/{}/{}",
                "ab".repeat(ID_LEN),
                "01".repeat(ID_LEN)
            )
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(1000))]

            /// Whatever the bucket holds under a manifest's key: reading it never panics, and
            /// what is accepted keeps within the size asked for and reads back as written.
            #[test]
            fn any_manifest_bytes_are_judged(
                head in proptest::option::of(Just(MANIFEST_HEADER)),
                bytes in proptest::collection::vec(any::<u8>(), 0..600),
                max in any::<u64>(),
            ) {
                let mut all = head.unwrap_or_default().as_bytes().to_vec();
                all.extend_from_slice(&bytes);
                if let Some(m) = parse_manifest(&all, max, now()) {
                    prop_assert!(m.iter().all(|a| a.size <= max));
                    prop_assert_eq!(format_manifest(&m).into_bytes(), all);
                }
            }

            /// Whatever the bucket holds under an action's key: reading it never panics, and
            /// what is accepted names that action and keeps within the size asked for.
            #[test]
            fn any_action_bytes_are_judged(
                bytes in proptest::collection::vec(any::<u8>(), 0..300),
                action in any::<[u8; ID_LEN]>(),
                max in any::<u64>(),
            ) {
                if let Some(a) = parse_action(&bytes, &action, max, now()) {
                    prop_assert_eq!(a.action, action);
                    prop_assert!(a.size <= max);
                    prop_assert!(bytes.len() <= ACTION_MAX_LEN);
                }
            }

            /// Near-misses of a real object: a byte changed is rejected or reads as written.
            #[test]
            fn a_changed_byte_is_judged(at in 0usize..200, to in any::<u8>()) {
                let a = sample();
                let mut bytes = format_action(&a).into_bytes();
                if let Some(b) = bytes.get_mut(at) {
                    *b = to;
                }
                if let Some(got) = parse_action(&bytes, &a.action, u64::MAX, now()) {
                    prop_assert_eq!(got.action, a.action);
                }
            }

            /// A listing names any key: only 64 lower-case hex digits name an ID, and the
            /// ID reads back as the same name.
            #[test]
            fn any_object_name_is_judged(name in "[0-9a-fA-F]{0,70}|\\PC{0,70}") {
                if let Some(id) = id_of_name(&name) {
                    prop_assert_eq!(hex(&id), name);
                }
            }

            #[test]
            fn actions_round_trip(
                action in any::<[u8; ID_LEN]>(),
                output in any::<[u8; ID_LEN]>(),
                size in any::<u64>(),
                put in 0u64..1_800_000_000_000_000_000,
                used in 0u64..1_800_000_000,
            ) {
                let a = Action {
                    action,
                    output,
                    size,
                    put_at: UNIX_EPOCH + Duration::from_nanos(put),
                    used_at: UNIX_EPOCH + Duration::from_secs(used),
                };
                let text = format_action(&a);
                prop_assert!(text.len() <= ACTION_MAX_LEN);
                prop_assert_eq!(parse_action(text.as_bytes(), &action, u64::MAX, now()), Some(a));
            }
        }
    }
}
