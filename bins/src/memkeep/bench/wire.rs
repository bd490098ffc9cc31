//! The bytes a benchmark connection writes and how it reads the replies back.
//!
//! Requests are appended straight into the connection's reusable write buffer from
//! the key arena and one shared value: no `Request` is built per operation (the tests
//! check the bytes equal `memkeep_protocol::encode_request`'s). Replies are read by a
//! lean framing scanner that only finds where each reply ends and what kind it is; the
//! protocol crate's `decode_response` is kept as `--decoder full` to compare against
//! (it builds a `Response` with `Bytes` slices, a `Vec` per hit).

use bytes::{Buf, BytesMut};
use memkeep_protocol::{
    decode_response, BinaryForm, Form, Limits, MetaForm, MetaVerb, Response, ReturnFlags, TextForm,
    TextVerb,
};

/// The wire dialect a benchmark speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Classic text: `get k1 k2 ...`, `set k 0 0 n`.
    Text,
    /// Meta: `mg k v` per key, `ms k n`.
    Meta,
    /// Binary: one GET packet per key, SET.
    Binary,
}

/// How replies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyDecoder {
    /// A framing scanner: finds each reply's end and kind, builds nothing.
    Lean,
    /// `memkeep_protocol::decode_response`: the full response model.
    Full,
}

const BINARY_GET: u8 = 0x00;
const BINARY_SET: u8 = 0x01;
const BINARY_HEADER: usize = 24;

/// Appends a retrieval of `keys`: one text `get` line, or one meta/binary request per
/// key. Returns how many replies to expect.
pub fn push_get<'k>(
    protocol: Protocol,
    keys: impl Iterator<Item = &'k [u8]>,
    out: &mut Vec<u8>,
) -> u32 {
    let mut replies = 0;
    match protocol {
        Protocol::Text => {
            out.extend_from_slice(b"get");
            for key in keys {
                out.push(b' ');
                out.extend_from_slice(key);
            }
            out.extend_from_slice(b"\r\n");
            replies = 1;
        }
        Protocol::Meta => {
            for key in keys {
                out.extend_from_slice(b"mg ");
                out.extend_from_slice(key);
                out.extend_from_slice(b" v\r\n");
                replies += 1;
            }
        }
        Protocol::Binary => {
            for key in keys {
                binary_header(BINARY_GET, key.len(), 0, 0, out);
                out.extend_from_slice(key);
                replies += 1;
            }
        }
    }
    replies
}

/// Appends an unconditional store of `value` under `key`, flags 0, no expiry.
pub fn push_set(protocol: Protocol, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let mut n = itoa::Buffer::new();
    match protocol {
        Protocol::Text => {
            out.extend_from_slice(b"set ");
            out.extend_from_slice(key);
            out.extend_from_slice(b" 0 0 ");
            out.extend_from_slice(n.format(value.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Protocol::Meta => {
            out.extend_from_slice(b"ms ");
            out.extend_from_slice(key);
            out.push(b' ');
            out.extend_from_slice(n.format(value.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Protocol::Binary => {
            binary_header(BINARY_SET, key.len(), 8, value.len(), out);
            out.extend_from_slice(&[0; 8]); // flags, exptime
            out.extend_from_slice(key);
            out.extend_from_slice(value);
            return;
        }
    }
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn binary_header(opcode: u8, key_len: usize, extras_len: u8, value_len: usize, out: &mut Vec<u8>) {
    let key_len = u16::try_from(key_len).expect("keys are at most 250 bytes");
    let body = u32::try_from(usize::from(extras_len) + usize::from(key_len) + value_len)
        .expect("values under 4 GiB");
    out.extend_from_slice(&[0x80, opcode]);
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(&[extras_len, 0, 0, 0]); // extras, data type, vbucket
    out.extend_from_slice(&body.to_be_bytes());
    out.extend_from_slice(&[0; 12]); // opaque, cas
}

/// What one operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A retrieval's reply (text: the whole `VALUE ... END` frame; meta and binary:
    /// one key's reply).
    Get,
    /// A store's reply.
    Set,
}

/// One piece of a reply stream, as far as a benchmark cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A text `VALUE` item: a hit, and the frame goes on until `END`.
    Value,
    /// The reply is complete; `hits` keys were found in this piece.
    Done {
        /// Hits carried by this piece (meta/binary: 0 or 1; text `END`: 0).
        hits: u32,
        /// The server answered with an error (or a store was refused).
        error: bool,
    },
}

/// The reply stream made no sense: the connection cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbled(pub String);

/// Reads the next reply piece from the front of `buf`, consuming it; `Ok(None)` needs
/// more bytes and consumes nothing.
pub fn next_item(
    protocol: Protocol,
    decoder: ReplyDecoder,
    expect: Expect,
    buf: &mut BytesMut,
) -> Result<Option<Item>, Garbled> {
    match decoder {
        ReplyDecoder::Lean => scan(protocol, expect, buf),
        ReplyDecoder::Full => full(protocol, expect, buf),
    }
}

const DONE: Item = Item::Done {
    hits: 0,
    error: false,
};
const HIT: Item = Item::Done {
    hits: 1,
    error: false,
};
const ERROR: Item = Item::Done {
    hits: 0,
    error: true,
};

/// The lean scanner.
fn scan(protocol: Protocol, expect: Expect, buf: &mut BytesMut) -> Result<Option<Item>, Garbled> {
    if protocol == Protocol::Binary {
        return scan_binary(expect, buf);
    }
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        return if buf.len() > 4096 {
            Err(Garbled("reply line longer than 4 KiB".into()))
        } else {
            Ok(None)
        };
    };
    let line = &buf[..lf];
    let word_end = memchr::memchr(b' ', line).unwrap_or(line.len().saturating_sub(1));
    let word = &line[..word_end];
    // A value-bearing line: the data block follows, `size` bytes and CRLF.
    let with_data = |size_at: usize| -> Result<usize, Garbled> {
        let size = parse_size(&line[size_at..])
            .ok_or_else(|| Garbled(format!("bad size in {:?}", lossy(line))))?;
        Ok(lf + 1 + size + 2)
    };
    let (consume, item) = match (word, expect) {
        (b"VALUE", Expect::Get) if protocol == Protocol::Text => {
            // VALUE <key> <flags> <bytes> [<cas>]
            let mut fields = line[..lf - 1].split(|&b| b == b' ');
            let size_field = fields
                .nth(3)
                .ok_or_else(|| Garbled(format!("short VALUE line {:?}", lossy(line))))?;
            let at = size_field.as_ptr() as usize - line.as_ptr() as usize;
            (with_data(at)?, Item::Value)
        }
        (b"END", Expect::Get) => (lf + 1, DONE),
        (b"VA", Expect::Get) => (with_data(word_end + 1)?, HIT),
        (b"EN", Expect::Get) => (lf + 1, DONE),
        (b"HD", Expect::Get) => (lf + 1, HIT),
        (b"STORED" | b"HD", Expect::Set) => (lf + 1, DONE),
        (b"ERROR" | b"CLIENT_ERROR" | b"SERVER_ERROR" | b"NOT_STORED" | b"NS" | b"EXISTS", _) => {
            (lf + 1, ERROR)
        }
        _ => return Err(Garbled(format!("unexpected reply {:?}", lossy(line)))),
    };
    if buf.len() < consume {
        return Ok(None);
    }
    if buf[consume - 2..consume] != *b"\r\n" {
        return Err(Garbled("reply does not end in CRLF".into()));
    }
    buf.advance(consume);
    Ok(Some(item))
}

fn scan_binary(expect: Expect, buf: &mut BytesMut) -> Result<Option<Item>, Garbled> {
    if buf.len() < BINARY_HEADER {
        return Ok(None);
    }
    if buf[0] != 0x81 {
        return Err(Garbled(format!("bad binary magic {:#x}", buf[0])));
    }
    let status = u16::from_be_bytes([buf[6], buf[7]]);
    let body = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    if buf.len() < BINARY_HEADER + body {
        return Ok(None);
    }
    buf.advance(BINARY_HEADER + body);
    Ok(Some(match (status, expect) {
        (0, Expect::Get) => HIT,
        (0, Expect::Set) => DONE,
        (1, Expect::Get) => DONE, // key not found: a miss
        _ => ERROR,
    }))
}

/// The full decoder: the protocol crate builds a `Response`.
fn full(protocol: Protocol, expect: Expect, buf: &mut BytesMut) -> Result<Option<Item>, Garbled> {
    let form = form(protocol, expect);
    let limits = Limits::default();
    let response = match decode_response(&form, buf, &limits) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Garbled(e.to_string())),
    };
    Ok(Some(match response {
        Response::Values(values) => Item::Done {
            hits: u32::try_from(values.len()).unwrap_or(u32::MAX),
            error: false,
        },
        Response::Stored(_) if expect == Expect::Set => DONE,
        _ => ERROR,
    }))
}

/// The form of the requests [`push_get`] and [`push_set`] write, for the full decoder.
/// Cheap to build: no key (the benchmark never looks at reply keys).
pub fn form(protocol: Protocol, expect: Expect) -> Form {
    match protocol {
        Protocol::Text => Form::Text(TextForm {
            verb: match expect {
                Expect::Get => TextVerb::Get,
                Expect::Set => TextVerb::Set,
            },
            noreply: false,
        }),
        Protocol::Meta => Form::Meta(MetaForm {
            verb: match expect {
                Expect::Get => MetaVerb::Get,
                Expect::Set => MetaVerb::Set,
            },
            returns: match expect {
                Expect::Get => ReturnFlags::from_letters(b"v").expect("one flag"),
                Expect::Set => ReturnFlags::default(),
            },
            ..MetaForm::default()
        }),
        Protocol::Binary => Form::Binary(BinaryForm {
            opcode: match expect {
                Expect::Get => BINARY_GET,
                Expect::Set => BINARY_SET,
            },
            opaque: 0,
            key: bytes::Bytes::new(),
        }),
    }
}

/// A decimal size at the start of `s`, up to a space or CR.
fn parse_size(s: &[u8]) -> Option<usize> {
    let end = s
        .iter()
        .position(|&b| b == b' ' || b == b'\r')
        .unwrap_or(s.len());
    if end == 0 || end > 10 {
        return None;
    }
    s[..end].iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned()
}

#[cfg(test)]
mod tests;
