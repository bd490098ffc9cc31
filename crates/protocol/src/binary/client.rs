//! Client side: requests written as binary packets and the replies read back into
//! the response model, for a proxy or tool talking to a binary backend.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::decode::NO_CREATE;
use super::header::{Header, Packet, LEN};
use super::opcode::{self as op, is_retrieval, loud};
use super::status;
use crate::{BinaryForm, Command, InvalidResponse, ItemMeta, Limits, Response, Value};

/// Largest relative expiry memcached accepts (30 days); past it a time is absolute.
const REALTIME_MAXDELTA: u32 = 60 * 60 * 24 * 30;

/// The binary protocol carries expiries as unsigned 32 bits. A negative expiry ("already
/// expired") becomes an absolute time in 1970, which memcached treats as past; one past
/// 2^32 is clamped.
fn wire_exptime(exptime: i64) -> u32 {
    if exptime < 0 {
        REALTIME_MAXDELTA + 1
    } else {
        u32::try_from(exptime).unwrap_or(u32::MAX)
    }
}

/// Appends the request; see [`super::encode_request`].
pub(super) fn encode_request(form: &BinaryForm, command: &Command, out: &mut BytesMut) {
    let opcode = if op::fits(form.opcode, command) {
        form.opcode
    } else {
        op::for_command(command)
    };
    let mut packet = Packet {
        opcode,
        opaque: form.opaque,
        ..Packet::default()
    };
    let mut extras = [0u8; 20];
    let extras_len;
    match command {
        Command::Get(get) => {
            // One packet per key: a binary GET names exactly one.
            for key in &get.keys {
                let n = match get.touch {
                    Some(exptime) => {
                        extras[..4].copy_from_slice(&wire_exptime(exptime).to_be_bytes());
                        4
                    }
                    None => 0,
                };
                Packet {
                    extras: &extras[..n],
                    key,
                    ..packet
                }
                .write(super::REQUEST_MAGIC, out);
            }
            return;
        }
        Command::Store(store) => {
            extras_len = if matches!(loud(opcode), op::APPEND | op::PREPEND) {
                0
            } else {
                extras[..4].copy_from_slice(&store.flags.to_be_bytes());
                extras[4..8].copy_from_slice(&wire_exptime(store.exptime).to_be_bytes());
                8
            };
            packet.key = &store.key;
            packet.value = &store.data;
            packet.cas = store.cas.unwrap_or(0);
        }
        Command::Delete(delete) => {
            extras_len = 0;
            packet.key = &delete.key;
            packet.cas = delete.cas.unwrap_or(0);
        }
        Command::Arith(arith) => {
            let (initial, expiry) = match arith.create {
                // Clamped below NO_CREATE so a far expiry does not turn into "don't create".
                Some(v) => (v.initial, wire_exptime(v.exptime).min(NO_CREATE - 1)),
                None => (0, NO_CREATE),
            };
            extras[..8].copy_from_slice(&arith.delta.to_be_bytes());
            extras[8..16].copy_from_slice(&initial.to_be_bytes());
            extras[16..20].copy_from_slice(&expiry.to_be_bytes());
            extras_len = 20;
            packet.key = &arith.key;
            packet.cas = arith.cas.unwrap_or(0);
        }
        Command::Touch(touch) => {
            extras[..4].copy_from_slice(&wire_exptime(touch.exptime).to_be_bytes());
            extras_len = 4;
            packet.key = &touch.key;
        }
        Command::FlushAll(flush) => {
            extras_len = if flush.delay == 0 {
                0
            } else {
                extras[..4].copy_from_slice(&wire_exptime(flush.delay).to_be_bytes());
                4
            };
        }
        Command::Stats(group) => {
            extras_len = 0;
            packet.key = group.as_deref().unwrap_or_default();
        }
        Command::Verbosity(level) => {
            extras[..4].copy_from_slice(&level.to_be_bytes());
            extras_len = 4;
        }
        Command::SaslAuth(sasl) | Command::SaslStep(sasl) => {
            extras_len = 0;
            packet.key = &sasl.mechanism;
            packet.value = &sasl.data;
        }
        Command::Version
        | Command::Noop
        | Command::Quit
        | Command::SaslListMechs
        | Command::Shutdown { .. }
        | Command::Metadump(_)
        | Command::TooLarge(_)
        | Command::Admin(_)
        | Command::Debug(_) => extras_len = 0,
    }
    packet.extras = &extras[..extras_len];
    packet.write(super::REQUEST_MAGIC, out);
}

/// The most bytes one reply packet may carry: a value at the limit plus its key and
/// the largest extras.
fn max_body(limits: &Limits) -> usize {
    limits.max_value_len + limits.max_key_len + usize::from(u8::MAX)
}

/// Reads and checks the header of the next reply packet without consuming it.
fn next_header(
    form: &BinaryForm,
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<Header>, InvalidResponse> {
    let Some(header) = Header::parse(buf) else {
        return Ok(None);
    };
    if header.magic != super::RESPONSE_MAGIC {
        return Err(InvalidResponse::new("bad magic in binary response"));
    }
    if header.opcode != form.opcode {
        return Err(InvalidResponse::new(
            "binary response opcode does not match request",
        ));
    }
    if header.opaque != form.opaque {
        return Err(InvalidResponse::new(
            "binary response opaque does not match request",
        ));
    }
    if header.key_and_extras() > header.body_len as usize {
        return Err(InvalidResponse::new("binary response lengths disagree"));
    }
    if header.body_len as usize > max_body(limits)
        || usize::from(header.key_len) > limits.max_key_len
    {
        return Err(InvalidResponse::new("binary response too large"));
    }
    Ok(Some(header))
}

/// Decodes one reply; see [`super::decode_response`].
pub(super) fn decode_response(
    form: &BinaryForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let Some(header) = next_header(form, buf, limits)? else {
        return Ok(None);
    };
    if loud(form.opcode) == op::STAT && header.status == status::SUCCESS {
        return decode_stats(form, buf, limits);
    }
    if buf.len() < header.frame_len() {
        return Ok(None);
    }
    let frame = buf.split_to(header.frame_len()).freeze();
    let extras = frame.slice(LEN..LEN + usize::from(header.extras_len));
    let key_start = LEN + usize::from(header.extras_len);
    let key = frame.slice(key_start..key_start + usize::from(header.key_len));
    let value = frame.slice(key_start + usize::from(header.key_len)..);
    if header.status != status::SUCCESS {
        return error(form.opcode, header.status, &value);
    }
    let meta = ItemMeta {
        cas: header.cas,
        ..ItemMeta::default()
    };
    let flags = || -> Result<u32, InvalidResponse> {
        let bytes: [u8; 4] = extras[..]
            .try_into()
            .map_err(|_| InvalidResponse::new("binary response lacks the flags"))?;
        Ok(u32::from_be_bytes(bytes))
    };
    let opcode = loud(form.opcode);
    Ok(Some(match opcode {
        _ if is_retrieval(opcode) => Response::Values(vec![Value {
            key: if key.is_empty() {
                form.key.clone()
            } else {
                key
            },
            meta: ItemMeta {
                flags: flags()?,
                size: u32::try_from(value.len()).unwrap_or(u32::MAX),
                ..meta
            },
            data: value,
        }]),
        op::TOUCH => Response::Touched(ItemMeta {
            flags: flags()?,
            ..meta
        }),
        op::SET | op::ADD | op::REPLACE | op::APPEND | op::PREPEND => Response::Stored(meta),
        op::DELETE => Response::Deleted,
        op::INCREMENT | op::DECREMENT => {
            let bytes: [u8; 8] = value[..]
                .try_into()
                .map_err(|_| InvalidResponse::new("binary counter reply is not 8 bytes"))?;
            Response::Number(u64::from_be_bytes(bytes), meta)
        }
        op::QUIT | op::FLUSH | op::VERBOSITY => Response::Ok,
        op::NOOP => Response::Noop,
        op::VERSION => Response::Version(value),
        op::SASL_LIST_MECHS => Response::SaslMechs(value),
        op::SASL_AUTH | op::SASL_STEP => Response::SaslOk,
        _ => return Err(InvalidResponse::new("unexpected binary response opcode")),
    }))
}

/// An error status, read the way the server side writes it for this opcode.
fn error(opcode: u8, status: u16, body: &Bytes) -> Result<Option<Response>, InvalidResponse> {
    let opcode = loud(opcode);
    let text = || -> Cow<'static, str> {
        let known = status::text(status);
        if body[..] == *known.as_bytes() {
            Cow::Borrowed(known)
        } else {
            Cow::Owned(String::from_utf8_lossy(body).into_owned())
        }
    };
    Ok(Some(match status {
        status::KEY_ENOENT if is_retrieval(opcode) => Response::Values(Vec::new()),
        status::KEY_ENOENT if opcode == op::REPLACE => Response::NotStored,
        status::KEY_ENOENT => Response::NotFound,
        status::KEY_EEXISTS if opcode == op::ADD => Response::NotStored,
        status::KEY_EEXISTS => Response::Exists,
        status::E2BIG => Response::TooLarge,
        status::EINVAL => Response::ClientError(text()),
        status::NOT_STORED => Response::NotStored,
        status::DELTA_BADVAL => Response::NonNumeric,
        status::AUTH_ERROR => Response::AuthError,
        status::AUTH_CONTINUE => {
            return Err(InvalidResponse::new("SASL continuation is not supported"))
        }
        status::UNKNOWN_COMMAND => Response::Error,
        status::ENOMEM => Response::OutOfMemory,
        _ => Response::ServerError(text()),
    }))
}

/// A STAT reply: one packet per statistic until an empty one. Nothing is consumed
/// until the terminator is in the buffer; the whole run is bounded by the value limit.
fn decode_stats(
    form: &BinaryForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let mut at = 0;
    let mut count = 0;
    loop {
        let Some(header) = next_header(form, &buf[at..], limits)? else {
            return Ok(None);
        };
        if header.status != status::SUCCESS {
            return Err(InvalidResponse::new(
                "error status inside a binary stats reply",
            ));
        }
        if buf.len() < at + header.frame_len() {
            return Ok(None);
        }
        at += header.frame_len();
        if header.key_len == 0 && header.body_len == 0 {
            break;
        }
        count += 1;
        if at > limits.max_value_len {
            return Err(InvalidResponse::new("binary stats reply too large"));
        }
    }
    let run = buf.split_to(at);
    let mut stats = Vec::with_capacity(count);
    let mut rest = &run[..];
    while let Some(header) = Header::parse(rest) {
        let body = &rest[LEN + usize::from(header.extras_len)..header.frame_len()];
        let (name, value) = body.split_at(usize::from(header.key_len));
        rest = &rest[header.frame_len()..];
        if name.is_empty() && value.is_empty() {
            break;
        }
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec())
                .map_err(|_| InvalidResponse::new("binary stats reply is not UTF-8"))
        };
        stats.push((text(name)?, text(value)?));
    }
    Ok(Some(Response::Stats(stats)))
}
