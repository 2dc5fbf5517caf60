//! The GOCACHEPROG wire format, as `cmd/go/internal/cacheprog` defines it and
//! `cmd/go/internal/cache/prog.go` speaks it.
//!
//! Each request is a JSON object on a line of its own (the go command follows it with an empty
//! line). A `put` with a non-zero `BodySize` is followed by the body as a JSON string holding
//! standard base64, on one line. `[]byte` fields (`ActionID`, `OutputID`) are base64 strings,
//! as Go's encoding/json writes them. Responses are JSON objects, one per line, in any order.

use std::io::{self, BufRead, Write};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The length of an action or output ID (a SHA-256).
pub const ID_LEN: usize = 32;

/// A request line longer than this is not one the go command writes.
const MAX_REQUEST_LINE: usize = 64 * 1024;

/// Base64 text decoded per step while streaming a body: a multiple of 4.
const BODY_CHUNK: usize = 64 * 1024;

/// A command the go command may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Get,
    Put,
    Close,
}

/// One request, its IDs decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub command: Command,
    pub action_id: Option<[u8; ID_LEN]>,
    pub output_id: Option<[u8; ID_LEN]>,
    pub body_size: u64,
}

/// The request as it is on the wire.
#[derive(Deserialize)]
struct WireRequest {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Command")]
    command: String,
    #[serde(rename = "ActionID", default)]
    action_id: Option<String>,
    #[serde(rename = "OutputID", default)]
    output_id: Option<String>,
    #[serde(rename = "BodySize", default)]
    body_size: i64,
}

/// Input that does not follow the protocol. The go command never sends it, so the program
/// stops: answering guesses could corrupt the cache.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("malformed request: {reason}: {line}")]
    Malformed { reason: String, line: String },
    #[error("request {id}: unknown command {command:?} (known: get, put, close)")]
    UnknownCommand { id: i64, command: String },
    #[error("request {id}: {field} {reason}")]
    BadField {
        id: i64,
        field: &'static str,
        reason: String,
    },
    #[error("request {id}: body is not a base64 JSON string: {reason}")]
    BadBody { id: i64, reason: String },
    #[error("request {id}: body ended after {got} bytes, BodySize said {want}")]
    ShortBody { id: i64, got: u64, want: u64 },
    #[error("request {id}: body is longer than BodySize {want}")]
    LongBody { id: i64, want: u64 },
    #[error("reading requests: {0}")]
    Io(#[from] io::Error),
}

impl ProtocolError {
    /// The request this error is about, when it got that far.
    pub fn request_id(&self) -> Option<i64> {
        match self {
            ProtocolError::UnknownCommand { id, .. }
            | ProtocolError::BadField { id, .. }
            | ProtocolError::BadBody { id, .. }
            | ProtocolError::ShortBody { id, .. }
            | ProtocolError::LongBody { id, .. } => Some(*id),
            ProtocolError::Malformed { .. } | ProtocolError::Io(_) => None,
        }
    }
}

/// Reads the next request; `Ok(None)` at the end of the input. Empty lines are skipped.
pub fn read_request(input: &mut impl BufRead) -> Result<Option<Request>, ProtocolError> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = io::Read::take(&mut *input, MAX_REQUEST_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if line.len() > MAX_REQUEST_LINE {
            return Err(ProtocolError::Malformed {
                reason: format!("line longer than {MAX_REQUEST_LINE} bytes"),
                line: snippet(&line),
            });
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let wire: WireRequest =
        serde_json::from_slice(&line).map_err(|e| ProtocolError::Malformed {
            reason: e.to_string(),
            line: snippet(&line),
        })?;
    let id = wire.id;
    let command = match wire.command.as_str() {
        "get" => Command::Get,
        "put" => Command::Put,
        "close" => Command::Close,
        _ => {
            return Err(ProtocolError::UnknownCommand {
                id,
                command: wire.command,
            });
        }
    };
    let body_size = u64::try_from(wire.body_size).map_err(|_| ProtocolError::BadField {
        id,
        field: "BodySize",
        reason: format!("is negative ({})", wire.body_size),
    })?;
    let request = Request {
        id,
        command,
        action_id: decode_id(id, "ActionID", wire.action_id.as_deref())?,
        output_id: decode_id(id, "OutputID", wire.output_id.as_deref())?,
        body_size,
    };
    let missing = |field| ProtocolError::BadField {
        id,
        field,
        reason: "is missing".to_string(),
    };
    match command {
        Command::Get if request.action_id.is_none() => Err(missing("ActionID")),
        Command::Put if request.action_id.is_none() => Err(missing("ActionID")),
        Command::Put if request.output_id.is_none() => Err(missing("OutputID")),
        _ => Ok(Some(request)),
    }
}

fn decode_id(
    id: i64,
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<[u8; ID_LEN]>, ProtocolError> {
    let Some(text) = value else { return Ok(None) };
    let bad = |reason: String| ProtocolError::BadField { id, field, reason };
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| bad(format!("is not base64: {e}")))?;
    let array: [u8; ID_LEN] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("has {} bytes, not {ID_LEN}", b.len())))?;
    Ok(Some(array))
}

/// The start of `line`, for an error message.
fn snippet(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// Streams the body of request `id` (a JSON string of base64, after optional whitespace) into
/// `out`, decoding as it goes with a bounded buffer. It must decode to exactly `size` bytes.
pub fn read_body(
    input: &mut impl BufRead,
    id: i64,
    size: u64,
    out: &mut impl Write,
) -> Result<(), BodyError> {
    skip_to_quote(input, id, size)?;
    decode_string(input, id, size, out)?;
    rest_of_line(input, id)
}

/// The error for a body of request `id` that is not as the protocol says, and why.
fn bad_body(id: i64, reason: &str) -> BodyError {
    BodyError::Protocol(ProtocolError::BadBody {
        id,
        reason: reason.to_string(),
    })
}

/// Reads past whitespace (the go command writes an empty line after the request), then the
/// quote that opens the body of request `id`, of `size` bytes.
fn skip_to_quote(input: &mut impl BufRead, id: i64, size: u64) -> Result<(), BodyError> {
    loop {
        let buf = input.fill_buf().map_err(ProtocolError::Io)?;
        let Some(&first) = buf.first() else {
            return Err(BodyError::Protocol(ProtocolError::ShortBody {
                id,
                got: 0,
                want: size,
            }));
        };
        input.consume(1);
        match first {
            b'"' => return Ok(()),
            c if c.is_ascii_whitespace() => continue,
            _ => return Err(bad_body(id, "does not start with '\"'")),
        }
    }
}

/// Decodes the base64 of the body of request `id` into `out`, up to and including its closing
/// quote, with a bounded buffer. It must decode to exactly `size` bytes.
fn decode_string(
    input: &mut impl BufRead,
    id: i64,
    size: u64,
    out: &mut impl Write,
) -> Result<(), BodyError> {
    let mut text: Vec<u8> = Vec::with_capacity(BODY_CHUNK);
    let mut decoded = vec![0u8; BODY_CHUNK / 4 * 3];
    let mut written = 0u64;
    let mut closed = false;
    while !closed {
        let buf = input.fill_buf().map_err(ProtocolError::Io)?;
        if buf.is_empty() {
            break;
        }
        let room = BODY_CHUNK.saturating_sub(text.len());
        let window = buf.get(..buf.len().min(room)).unwrap_or_default();
        let (used, end) = match memchr::memchr2(b'"', b'\n', window) {
            Some(i) => (i + 1, Some(i)),
            None => (window.len(), None),
        };
        text.extend_from_slice(
            window
                .get(..end.unwrap_or(window.len()))
                .unwrap_or_default(),
        );
        if let Some(i) = end {
            if window.get(i) != Some(&b'"') {
                return Err(BodyError::Protocol(ProtocolError::ShortBody {
                    id,
                    got: written.saturating_add((text.len() / 4 * 3) as u64),
                    want: size,
                }));
            }
            closed = true;
        }
        input.consume(used);
        // Decode whole quads; keep the rest for the next round unless this is the end.
        let whole = if closed {
            text.len()
        } else {
            text.len() / 4 * 4
        };
        if whole > 0 {
            let quads = text.get(..whole).unwrap_or_default();
            written = decode_quads(quads, &mut decoded, written, id, size, out)?;
            text.drain(..whole);
        }
    }
    if !closed || written < size {
        return Err(BodyError::Protocol(ProtocolError::ShortBody {
            id,
            got: written,
            want: size,
        }));
    }
    Ok(())
}

/// Decodes `quads` through `decoded` into `out`, which had `written` bytes of the body of
/// request `id` before; how many it has now, which must not be more than `size`.
fn decode_quads(
    quads: &[u8],
    decoded: &mut [u8],
    written: u64,
    id: i64,
    size: u64,
    out: &mut impl Write,
) -> Result<u64, BodyError> {
    let n = STANDARD
        .decode_slice(quads, decoded)
        .map_err(|e| bad_body(id, &e.to_string()))?;
    let written = written.saturating_add(n as u64);
    if written > size {
        return Err(BodyError::Protocol(ProtocolError::LongBody {
            id,
            want: size,
        }));
    }
    out.write_all(decoded.get(..n).unwrap_or_default())
        .map_err(BodyError::Store)?;
    Ok(written)
}

/// Reads the rest of the line after the body of request `id`: only whitespace up to the
/// newline.
fn rest_of_line(input: &mut impl BufRead, id: i64) -> Result<(), BodyError> {
    loop {
        let buf = input.fill_buf().map_err(ProtocolError::Io)?;
        match buf.first() {
            None | Some(b'\n') => {
                if !buf.is_empty() {
                    input.consume(1);
                }
                return Ok(());
            }
            Some(c) if c.is_ascii_whitespace() => input.consume(1),
            Some(_) => return Err(bad_body(id, "has text after its closing quote")),
        }
    }
}

impl From<ProtocolError> for BodyError {
    fn from(e: ProtocolError) -> BodyError {
        BodyError::Protocol(e)
    }
}

/// Why a body could not be read: the input broke the protocol (fatal), or writing it where
/// it was to be stored failed (answered with an error; the next request is readable).
#[derive(Debug)]
pub enum BodyError {
    Protocol(ProtocolError),
    Store(io::Error),
}

/// Reads and discards a body: after a store failure, the input must still be consumed.
pub fn skip_body(input: &mut impl BufRead, id: i64, size: u64) -> Result<(), ProtocolError> {
    match read_body(input, id, size, &mut io::sink()) {
        Ok(()) => Ok(()),
        Err(BodyError::Protocol(e)) => Err(e),
        Err(BodyError::Store(e)) => Err(ProtocolError::Io(e)),
    }
}

/// One response line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Response {
    #[serde(rename = "ID")]
    pub id: i64,
    #[serde(rename = "Err", skip_serializing_if = "String::is_empty")]
    pub err: String,
    #[serde(rename = "KnownCommands", skip_serializing_if = "Vec::is_empty")]
    pub known_commands: Vec<&'static str>,
    #[serde(rename = "Miss", skip_serializing_if = "std::ops::Not::not")]
    pub miss: bool,
    #[serde(
        rename = "OutputID",
        skip_serializing_if = "Option::is_none",
        serialize_with = "base64_id"
    )]
    pub output_id: Option<[u8; ID_LEN]>,
    #[serde(rename = "Size", skip_serializing_if = "is_zero")]
    pub size: u64,
    #[serde(
        rename = "Time",
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339"
    )]
    pub time: Option<SystemTime>,
    #[serde(rename = "DiskPath", skip_serializing_if = "String::is_empty")]
    pub disk_path: String,
}

impl Response {
    /// The first message: what this program answers.
    pub fn capabilities() -> Response {
        Response {
            known_commands: vec!["get", "put", "close"],
            ..Response::default()
        }
    }

    /// An error answer to request `id`.
    pub fn error(id: i64, err: impl Into<String>) -> Response {
        Response {
            id,
            err: err.into(),
            ..Response::default()
        }
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a response always serializes");
        line.push(b'\n');
        line
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn base64_id<S: serde::Serializer>(id: &Option<[u8; ID_LEN]>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
        None => s.serialize_none(),
    }
}

fn rfc3339<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&humantime::format_rfc3339_nanos(*t).to_string()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn id_b64(byte: u8) -> String {
        STANDARD.encode([byte; ID_LEN])
    }

    /// Requests as `cmd/go/internal/cache/prog.go` writes them: the JSON, a newline from the
    /// encoder, another newline, and for a put with a body the quoted base64 and a newline.
    fn wire_put(id: i64, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "{{\"ID\":{id},\"Command\":\"put\",\"ActionID\":\"{}\",\"OutputID\":\"{}\",\"BodySize\":{}}}\n\n",
            id_b64(1),
            id_b64(2),
            body.len()
        )
        .into_bytes();
        if !body.is_empty() {
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(body).as_bytes());
            out.extend_from_slice(b"\"\n");
        }
        out
    }

    #[test]
    fn reads_the_requests_go_writes() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = format!(
            "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{}\"}}\n\n",
            id_b64(9)
        )
        .into_bytes();
        wire.extend(wire_put(2, &body));
        wire.extend(wire_put(3, b""));
        wire.extend(b"{\"ID\":4,\"Command\":\"close\"}\n\n");
        let mut input = Cursor::new(wire);

        let get = read_request(&mut input).unwrap().unwrap();
        assert_eq!(get.command, Command::Get);
        assert_eq!(get.action_id, Some([9; ID_LEN]));

        let put = read_request(&mut input).unwrap().unwrap();
        assert_eq!(
            (put.id, put.command, put.body_size),
            (2, Command::Put, 200_000)
        );
        assert_eq!(put.output_id, Some([2; ID_LEN]));
        let mut got = Vec::new();
        read_body(&mut input, put.id, put.body_size, &mut got).unwrap();
        assert_eq!(got, body);

        let empty = read_request(&mut input).unwrap().unwrap();
        assert_eq!(empty.body_size, 0);
        let close = read_request(&mut input).unwrap().unwrap();
        assert_eq!(close.command, Command::Close);
        assert!(read_request(&mut input).unwrap().is_none());
    }

    #[test]
    fn bodies_decode_across_every_buffer_boundary() {
        // Sizes around the chunk size, so quads split between reads of a small BufReader.
        for len in [
            1,
            2,
            3,
            4,
            5,
            BODY_CHUNK / 4 * 3 - 1,
            BODY_CHUNK,
            BODY_CHUNK + 1,
        ] {
            let body: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let wire = wire_put(5, &body);
            let mut input = io::BufReader::with_capacity(7, Cursor::new(wire));
            let req = read_request(&mut input).unwrap().unwrap();
            let mut got = Vec::new();
            read_body(&mut input, req.id, req.body_size, &mut got).unwrap();
            assert_eq!(got.len(), len, "len {len}");
            assert_eq!(got, body, "len {len}");
        }
    }

    #[test]
    fn a_body_shorter_than_its_size_is_a_protocol_error() {
        let mut wire = wire_put(6, b"0123456789");
        // Claim 20 bytes for a 10-byte body.
        let text = String::from_utf8(wire.clone())
            .unwrap()
            .replace("\"BodySize\":10", "\"BodySize\":20");
        wire = text.into_bytes();
        let mut input = Cursor::new(wire);
        let req = read_request(&mut input).unwrap().unwrap();
        let err = read_body(&mut input, req.id, req.body_size, &mut Vec::new()).unwrap_err();
        let BodyError::Protocol(e) = err else {
            panic!("not a protocol error")
        };
        assert_eq!(
            e.to_string(),
            "request 6: body ended after 10 bytes, BodySize said 20"
        );

        // Cut off mid-body: end of input.
        let mut cut = wire_put(7, b"0123456789");
        cut.truncate(cut.len() - 6);
        let mut input = Cursor::new(cut);
        let req = read_request(&mut input).unwrap().unwrap();
        assert!(matches!(
            read_body(&mut input, req.id, req.body_size, &mut Vec::new()),
            Err(BodyError::Protocol(ProtocolError::ShortBody { id: 7, .. }))
        ));
    }

    #[test]
    fn a_body_longer_than_its_size_is_a_protocol_error() {
        let text = String::from_utf8(wire_put(8, b"0123456789"))
            .unwrap()
            .replace("\"BodySize\":10", "\"BodySize\":4");
        let mut input = Cursor::new(text.into_bytes());
        let req = read_request(&mut input).unwrap().unwrap();
        assert!(matches!(
            read_body(&mut input, req.id, req.body_size, &mut Vec::new()),
            Err(BodyError::Protocol(ProtocolError::LongBody {
                id: 8,
                want: 4
            }))
        ));
    }

    #[test]
    fn bad_input_is_named() {
        let cases: &[(&str, &str)] = &[
            (
                "{\"ID\":1,\"Command\":\"frob\"}\n",
                "request 1: unknown command \"frob\" (known: get, put, close)",
            ),
            (
                "{\"ID\":1,\"Command\":\n",
                "malformed request: EOF while parsing a value at line 2 column 0: {\"ID\":1,\"Command\":",
            ),
            (
                "not json\n",
                "malformed request: expected ident at line 1 column 2: not json",
            ),
            (
                "{\"ID\":2,\"Command\":\"get\"}\n",
                "request 2: ActionID is missing",
            ),
            (
                "{\"ID\":3,\"Command\":\"get\",\"ActionID\":\"AAAA\"}\n",
                "request 3: ActionID has 3 bytes, not 32",
            ),
            (
                "{\"ID\":4,\"Command\":\"get\",\"ActionID\":\"!!\"}\n",
                "request 4: ActionID is not base64: Invalid symbol 33, offset 0.",
            ),
            (
                "{\"ID\":5,\"Command\":\"close\",\"BodySize\":-1}\n",
                "request 5: BodySize is negative (-1)",
            ),
        ];
        for (wire, want) in cases {
            let err = read_request(&mut Cursor::new(wire.as_bytes())).unwrap_err();
            assert_eq!(&err.to_string(), want, "{wire}");
        }
        let body = b"{\"ID\":9,\"Command\":\"put\"}";
        assert!(read_request(&mut Cursor::new(&body[..])).is_err());
    }

    #[test]
    fn responses_are_what_go_decodes() {
        let line = Response::capabilities().to_line();
        assert_eq!(
            line,
            b"{\"ID\":0,\"KnownCommands\":[\"get\",\"put\",\"close\"]}\n"
        );
        let hit = Response {
            id: 3,
            output_id: Some([0xff; ID_LEN]),
            size: 12,
            // 500 ns: Windows keeps time in units of 100 ns.
            time: Some(SystemTime::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 500)),
            disk_path: "/c/ff/x-d".to_string(),
            ..Response::default()
        };
        let v: serde_json::Value = serde_json::from_slice(&hit.to_line()).unwrap();
        assert_eq!(v["OutputID"], STANDARD.encode([0xff; ID_LEN]));
        assert_eq!(v["Time"], "2023-11-14T22:13:20.000000500Z");
        assert_eq!(v["Size"], 12);
        assert!(v.get("Miss").is_none() && v.get("Err").is_none());
        let miss = Response {
            id: 4,
            miss: true,
            ..Response::default()
        };
        assert_eq!(miss.to_line(), b"{\"ID\":4,\"Miss\":true}\n");
        assert_eq!(
            Response::error(5, "disk full").to_line(),
            b"{\"ID\":5,\"Err\":\"disk full\"}\n"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// The go command's framing of a put: the request, an empty line, the quoted body.
        fn framed(id: i64, body: &[u8]) -> Vec<u8> {
            let mut wire = wire_put(id, body);
            wire.extend_from_slice(b"{\"ID\":999,\"Command\":\"close\"}\n");
            wire
        }

        proptest! {
            #![proptest_config(crate::testing::budget(300))]

            /// Whatever arrives, reading requests and bodies ends (with requests, the end, or
            /// an error) and never panics.
            #[test]
            fn any_input_is_read_without_panic(
                input in proptest::collection::vec(any::<u8>(), 0..2048),
                capacity in 1usize..64,
            ) {
                let mut reader = std::io::BufReader::with_capacity(capacity, &input[..]);
                for _ in 0..64 {
                    match read_request(&mut reader) {
                        Ok(Some(r)) if r.command == Command::Put => {
                            if read_body(&mut reader, r.id, r.body_size, &mut io::sink()).is_err() {
                                break;
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
            }

            /// Request lines with any field values: an error names the request when it can,
            /// and nothing panics.
            #[test]
            fn any_request_fields_are_judged(
                id in any::<i64>(),
                command in "[a-z]{0,6}",
                action in proptest::option::of("[A-Za-z0-9+/=]{0,60}"),
                size in any::<i64>(),
            ) {
                let mut line = format!("{{\"ID\":{id},\"Command\":{command:?},\"BodySize\":{size}");
                if let Some(a) = &action {
                    line.push_str(&format!(",\"ActionID\":{a:?}"));
                }
                line.push_str("}\n");
                match read_request(&mut line.as_bytes()) {
                    Ok(Some(r)) => prop_assert_eq!(r.id, id),
                    Ok(None) => prop_assert!(false, "a line was there"),
                    Err(e) => prop_assert!(e.request_id().is_none_or(|got| got == id)),
                }
            }

        }

        proptest! {
            // Bodies past one 64 KiB decoding chunk are slow to generate: fewer cases.
            #![proptest_config(crate::testing::budget(40))]

            /// Every body the go command can send arrives intact, whatever the buffer sizes.
            #[test]
            fn bodies_round_trip(
                body in proptest::collection::vec(any::<u8>(), 0..70_000),
                capacity in 1usize..100_000,
            ) {
                let wire = framed(7, &body);
                let mut reader = std::io::BufReader::with_capacity(capacity, &wire[..]);
                let request = read_request(&mut reader).unwrap().unwrap();
                prop_assert_eq!(request.body_size, body.len() as u64);
                let mut got = Vec::new();
                if request.body_size > 0 {
                    prop_assert!(read_body(&mut reader, 7, request.body_size, &mut got).is_ok());
                }
                prop_assert_eq!(got, body);
                let close = read_request(&mut reader).unwrap().unwrap();
                prop_assert_eq!(close.command, Command::Close);
            }
        }
    }
}
