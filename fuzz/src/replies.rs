//! Plausible replies: a request form and a response it may get, in the shapes the
//! client decoder reads back exactly. These follow the `reply()` / `response()`
//! generators of the protocol crate's property tests, which define where the
//! `encode_response` -> `decode_response` round trip holds.

use std::borrow::Cow;

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use memkeep_protocol::binary::opcode as op;
use memkeep_protocol::{
    BinaryForm, Dialect, Form, ItemMeta, MetaForm, MetaVerb, Response, ReturnFlags, TextForm,
    TextVerb, Value,
};

/// Up to `max` bytes drawn from `alphabet` (any byte when it is empty).
fn bytes(u: &mut Unstructured<'_>, min: usize, max: usize, alphabet: &[u8]) -> Result<Bytes> {
    let len = u.int_in_range(min..=max)?;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let b: u8 = u.arbitrary()?;
        out.push(if alphabet.is_empty() {
            b
        } else {
            alphabet[usize::from(b) % alphabet.len()]
        });
    }
    Ok(Bytes::from(out))
}

fn string(u: &mut Unstructured<'_>, min: usize, max: usize, alphabet: &[u8]) -> Result<String> {
    Ok(String::from_utf8_lossy(&bytes(u, min, max, alphabet)?).into_owned())
}

const PRINTABLE: &[u8] =
    b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
const GRAPHIC: &[u8] = PRINTABLE.split_at(1).1;

/// A reply the client decoder must read back to itself, with the form it answers.
pub fn plausible(dialect: Dialect, u: &mut Unstructured<'_>) -> Result<(Form, Response)> {
    Ok(match dialect {
        Dialect::Text => {
            let (form, response) = text(u)?;
            (Form::Text(form), response)
        }
        Dialect::Meta => {
            let (form, response) = meta(u)?;
            (Form::Meta(form), response)
        }
        Dialect::Binary => {
            let (form, response) = binary(u)?;
            (Form::Binary(form), response)
        }
    })
}

/// An error message that is none of memcached's own texts (those decode to their own
/// variants): lowercase words, no space at either end.
fn message(u: &mut Unstructured<'_>) -> Result<Cow<'static, str>> {
    let inner = string(u, 0, 30, b"abcdefghijklmnopqrstuvwxyz ")?;
    let m = format!("x{inner}x");
    Ok(Cow::Owned(m))
}

fn text_error(u: &mut Unstructured<'_>) -> Result<Response> {
    Ok(match u.int_in_range(0..=2)? {
        0 => Response::Error,
        1 => Response::ClientError(message(u)?),
        _ => Response::ServerError(message(u)?),
    })
}

fn text(u: &mut Unstructured<'_>) -> Result<(TextForm, Response)> {
    let store_verbs = [
        TextVerb::Set,
        TextVerb::Add,
        TextVerb::Replace,
        TextVerb::Append,
        TextVerb::Prepend,
        TextVerb::Cas,
    ];
    let meta = ItemMeta::default();
    let (verb, response) = match u.int_in_range(0..=9)? {
        0 | 1 => {
            let with_cas = u.arbitrary()?;
            let mut values = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                let key = bytes(u, 1, 250, GRAPHIC)?;
                let data = bytes(u, 0, 64, &[])?;
                let cas: u64 = u.arbitrary()?;
                values.push(Value {
                    meta: ItemMeta {
                        flags: u.arbitrary()?,
                        cas: if with_cas { cas } else { 0 },
                        size: data.len() as u32,
                        ..ItemMeta::default()
                    },
                    key,
                    data,
                });
            }
            let verb = if with_cas {
                TextVerb::Gats
            } else {
                TextVerb::Get
            };
            (verb, Response::Values(values))
        }
        2 => {
            let verb = *u.choose(&store_verbs)?;
            let response = match u.int_in_range(0..=6)? {
                0 => Response::Stored(meta),
                1 => Response::NotStored,
                2 => Response::Exists,
                3 => Response::NotFound,
                4 => Response::TooLarge,
                5 => Response::OutOfMemory,
                _ => text_error(u)?,
            };
            (verb, response)
        }
        3 => {
            let response = match u.int_in_range(0..=2)? {
                0 => Response::Deleted,
                1 => Response::NotFound,
                _ => text_error(u)?,
            };
            (TextVerb::Delete, response)
        }
        4 => {
            let response = if u.arbitrary()? {
                Response::Touched(meta)
            } else {
                Response::NotFound
            };
            (TextVerb::Touch, response)
        }
        5 => {
            let response = match u.int_in_range(0..=2)? {
                0 => Response::Number(u.arbitrary()?, meta),
                1 => Response::NotFound,
                _ => Response::NonNumeric,
            };
            (TextVerb::Decr, response)
        }
        6 => (
            *u.choose(&[TextVerb::FlushAll, TextVerb::Verbosity])?,
            Response::Ok,
        ),
        7 => (
            TextVerb::Version,
            Response::Version(bytes(u, 0, 20, b"0123456789abcdefghijklmnopqrstuvwxyz. -")?),
        ),
        8 => {
            let mut stats = Vec::new();
            for _ in 0..u.int_in_range(0..=7)? {
                stats.push((
                    string(u, 1, 20, b"abcdefghijklmnopqrstuvwxyz_:0123456789")?,
                    string(u, 0, 30, PRINTABLE)?,
                ));
            }
            (TextVerb::Stats, Response::Stats(stats))
        }
        _ => (TextVerb::Shutdown, text_error(u)?),
    };
    Ok((
        TextForm {
            verb,
            noreply: false,
        },
        response,
    ))
}

/// A meta key as memcached would echo it, and whether it travels in base64.
fn meta_key(u: &mut Unstructured<'_>) -> Result<(Bytes, bool)> {
    Ok(if u.arbitrary()? {
        (bytes(u, 1, 180, &[])?, true)
    } else {
        (bytes(u, 1, 250, GRAPHIC)?, false)
    })
}

/// Some of `letters`, in an order the input picks, and an opaque token if `O` is
/// among them.
fn some_of(u: &mut Unstructured<'_>, letters: &[u8]) -> Result<(Vec<u8>, Option<Bytes>)> {
    let mut picked = Vec::new();
    for &l in letters {
        if u.arbitrary()? {
            picked.push(l);
        }
    }
    if picked.len() > 1 {
        let i = u.choose_index(picked.len())?;
        picked.rotate_left(i);
    }
    let opaque = if picked.contains(&b'O') {
        Some(bytes(
            u,
            0,
            31,
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        )?)
    } else {
        None
    };
    Ok((picked, opaque))
}

fn meta_form(
    verb: MetaVerb,
    key: &(Bytes, bool),
    mut letters: Vec<u8>,
    opaque: Option<Bytes>,
) -> MetaForm {
    if key.1 {
        letters.insert(0, b'b');
    }
    let wire = if key.1 {
        Bytes::from(base64(&key.0))
    } else {
        key.0.clone()
    };
    MetaForm {
        verb,
        key: wire,
        returns: ReturnFlags::from_letters(&letters).expect("at most 12 letters"),
        opaque,
    }
}

/// Standard base64 with padding (what memcached writes back for `k`).
fn base64(raw: &[u8]) -> Vec<u8> {
    const SYMBOLS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(raw.len().div_ceil(3) * 4);
    for chunk in raw.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(SYMBOLS[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn meta(u: &mut Unstructured<'_>) -> Result<(MetaForm, Response)> {
    let key = meta_key(u)?;
    Ok(match u.int_in_range(0..=6)? {
        0 => {
            let (mut letters, opaque) = some_of(u, b"O")?;
            letters.extend_from_slice(b"cfhlstk");
            let with_value: bool = u.arbitrary()?;
            if with_value {
                letters.push(b'v');
            }
            let data = if with_value {
                bytes(u, 0, 64, &[])?
            } else {
                Bytes::new()
            };
            let meta = ItemMeta {
                flags: u.arbitrary()?,
                cas: u.arbitrary()?,
                ttl: u.int_in_range(-1..=i64::from(i32::MAX))?,
                size: u.arbitrary()?,
                last_access: u.arbitrary()?,
                fetched: u.arbitrary()?,
                win: u.arbitrary()?,
                stale: u.arbitrary()?,
                won: u.arbitrary()?,
            };
            let response = Response::Values(vec![Value {
                key: key.0.clone(),
                data,
                meta,
            }]);
            (meta_form(MetaVerb::Get, &key, letters, opaque), response)
        }
        1 => {
            let (letters, opaque) = some_of(u, b"kOv")?;
            let form = meta_form(MetaVerb::Get, &key, letters, opaque);
            (form, Response::Values(vec![]))
        }
        2 => {
            let (mut letters, opaque) = some_of(u, b"kO")?;
            letters.push(b'c');
            let response = match u.int_in_range(0..=3)? {
                0 => Response::Stored(ItemMeta {
                    cas: u.arbitrary()?,
                    ..ItemMeta::default()
                }),
                1 => Response::NotStored,
                2 => Response::Exists,
                _ => Response::NotFound,
            };
            (meta_form(MetaVerb::Set, &key, letters, opaque), response)
        }
        3 => {
            let (letters, opaque) = some_of(u, b"kO")?;
            let response = u
                .choose(&[Response::Deleted, Response::NotFound, Response::Exists])?
                .clone();
            (meta_form(MetaVerb::Delete, &key, letters, opaque), response)
        }
        4 => {
            let (mut letters, opaque) = some_of(u, b"ctkO")?;
            letters.push(b'v');
            for letter in *b"ct" {
                if !letters.contains(&letter) {
                    letters.push(letter);
                }
            }
            let n: u64 = u.arbitrary()?;
            let meta = ItemMeta {
                cas: u.arbitrary()?,
                ttl: u.int_in_range(-1..=999)?,
                size: n.to_string().len() as u32,
                ..ItemMeta::default()
            };
            let form = meta_form(MetaVerb::Arith, &key, letters, opaque);
            (form, Response::Number(n, meta))
        }
        5 => {
            let facts = if u.arbitrary()? {
                let first = *u.choose(GRAPHIC)? as char;
                Some(format!("{first}{}", string(u, 0, 40, PRINTABLE)?))
            } else {
                None
            };
            let form = meta_form(MetaVerb::Debug, &key, vec![], None);
            (form, Response::Debug(facts))
        }
        _ => {
            let text = string(u, 0, 40, PRINTABLE)?;
            let response = match u.int_in_range(0..=5)? {
                0 => Response::Noop,
                1 => Response::TooLarge,
                2 => Response::OutOfMemory,
                3 => Response::NonNumeric,
                4 => Response::ClientError(format!("bad {text}").into()),
                _ => Response::ServerError(format!("failed {text}").into()),
            };
            (meta_form(MetaVerb::Get, &key, vec![], None), response)
        }
    })
}

fn binary(u: &mut Unstructured<'_>) -> Result<(BinaryForm, Response)> {
    let meta = |cas| ItemMeta {
        cas,
        ..ItemMeta::default()
    };
    let (opcode, key, response) = match u.int_in_range(0..=5)? {
        0 => {
            let opcode = *u.choose(&[
                op::GET,
                op::GETK,
                op::GAT,
                op::GATK,
                op::GETQ,
                op::GETKQ,
                op::GATQ,
                op::GATKQ,
            ])?;
            let key = bytes(u, 1, 250, &[])?;
            let data = bytes(u, 0, 64, &[])?;
            let meta = ItemMeta {
                flags: u.arbitrary()?,
                cas: u.arbitrary()?,
                size: data.len() as u32,
                ..ItemMeta::default()
            };
            let value = Value {
                key: key.clone(),
                data,
                meta,
            };
            (opcode, key, Response::Values(vec![value]))
        }
        1 => {
            let opcode = *u.choose(&[op::GET, op::GETK, op::GAT, op::GATK])?;
            (opcode, bytes(u, 1, 250, &[])?, Response::Values(vec![]))
        }
        2 => {
            let opcode = *u.choose(&[op::SET, op::ADD, op::REPLACE, op::APPEND, op::PREPEND])?;
            let response = match u.int_in_range(0..=3)? {
                0 => Response::Stored(meta(u.arbitrary()?)),
                1 => Response::NotStored,
                2 if opcode != op::ADD => Response::Exists,
                _ if opcode != op::REPLACE => Response::NotFound,
                _ => Response::Exists,
            };
            (opcode, Bytes::new(), response)
        }
        3 => {
            let opcode = *u.choose(&[op::INCREMENT, op::DECREMENT])?;
            let response = match u.int_in_range(0..=3)? {
                0 => Response::Number(u.arbitrary()?, meta(u.arbitrary()?)),
                1 => Response::NotFound,
                2 => Response::Exists,
                _ => Response::NotStored,
            };
            (opcode, Bytes::new(), response)
        }
        4 => {
            let mut stats = Vec::new();
            for _ in 0..u.int_in_range(0..=7)? {
                stats.push((
                    string(u, 1, 30, b"abcdefghijklmnopqrstuvwxyz_")?,
                    string(u, 0, 30, PRINTABLE)?,
                ));
            }
            (op::STAT, Bytes::new(), Response::Stats(stats))
        }
        _ => {
            let (opcode, response) = match u.int_in_range(0..=16)? {
                0 => (op::DELETE, Response::Deleted),
                1 => (op::DELETE, Response::NotFound),
                2 => (op::DELETE, Response::Exists),
                3 => (
                    op::TOUCH,
                    Response::Touched(ItemMeta {
                        flags: u.arbitrary()?,
                        cas: 3,
                        ..ItemMeta::default()
                    }),
                ),
                4 => (op::TOUCH, Response::NotFound),
                5 => (
                    *u.choose(&[op::FLUSH, op::QUIT, op::VERBOSITY])?,
                    Response::Ok,
                ),
                6 => (op::NOOP, Response::Noop),
                7 => (op::NOOP, Response::Error),
                8 => (op::STAT, Response::NotFound),
                9 => (op::VERSION, Response::Version(bytes(u, 0, 20, &[])?)),
                10 => (
                    op::SASL_LIST_MECHS,
                    Response::SaslMechs(bytes(u, 0, 20, &[])?),
                ),
                11 => (op::SASL_AUTH, Response::SaslOk),
                12 => (op::SASL_STEP, Response::AuthError),
                _ => {
                    let opcode =
                        *u.choose(&[op::GET, op::SET, op::DELETE, op::INCREMENT, op::FLUSH])?;
                    let response = u
                        .choose(&[
                            Response::TooLarge,
                            Response::OutOfMemory,
                            Response::ClientError("Invalid arguments".into()),
                            Response::AuthError,
                            Response::NonNumeric,
                        ])?
                        .clone();
                    (opcode, response)
                }
            };
            (opcode, Bytes::new(), response)
        }
    };
    Ok((
        BinaryForm {
            opcode,
            opaque: u.arbitrary()?,
            key,
        },
        response,
    ))
}
