//! Server side: a meta command line (and an `ms` data block) into a [`Request`].
//!
//! The line is parsed in place first; only a complete frame is split off the buffer,
//! so "need more" consumes nothing and keys and values are slices of the read buffer.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::base64_key;
use super::flags::{self, Flags, Tokens};
use crate::{
    Arith, Command, DecodeError, Delete, Form, Get, Limits, MetaForm, MetaVerb, ProtocolError,
    Request, Store, StoreMode, TooLarge, Vivify,
};

/// A rejected line: what to reply, whether to close, how many bytes to discard.
struct Rejected {
    error: ProtocolError,
    close: bool,
    swallow: usize,
}

impl From<ProtocolError> for Rejected {
    fn from(error: ProtocolError) -> Self {
        Rejected {
            error,
            close: false,
            swallow: 0,
        }
    }
}

/// A parsed line whose frame is `len` bytes (line and data block), built into a
/// request once those bytes are split off.
struct Parsed {
    verb: MetaVerb,
    key: Range<usize>,
    flags: Flags,
    /// `ms`: the data length and where the data starts in the frame.
    data: Option<(usize, usize)>,
    len: usize,
    /// `ms`: the data block is larger than the limit; the frame is the line only and
    /// the block is discarded after it.
    too_large: bool,
}

/// See [`super::decode_request`].
pub(super) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        if buf.len() > limits.max_line_len {
            // memcached gives up on a line with no end in sight and closes.
            let _ = buf.split_to(buf.len());
            return Err(error(MetaVerb::Get, ProtocolError::LineTooLong, true));
        }
        return Ok(None);
    };
    // memcached strips a CR before the LF only on lines longer than one byte, and
    // reads the line as a C string, so it ends at a NUL.
    let mut line_len = if lf > 1 && buf[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    line_len = memchr::memchr(0, &buf[..line_len]).unwrap_or(line_len);
    let verb = verb_of(&buf[..line_len]);
    match parse(&buf[..line_len], lf + 1, verb, limits) {
        Ok(parsed) => {
            if buf.len() < parsed.len {
                return Ok(None);
            }
            if parsed.too_large {
                *swallow = parsed.data.map_or(0, |(vlen, _)| vlen + 2);
            }
            let frame = buf.split_to(parsed.len).freeze();
            build(frame, parsed).map(Some)
        }
        Err(rejected) => {
            let _ = buf.split_to(lf + 1);
            *swallow = rejected.swallow;
            Err(error(
                verb.unwrap_or_default(),
                rejected.error,
                rejected.close,
            ))
        }
    }
}

fn error(verb: MetaVerb, error: ProtocolError, close: bool) -> DecodeError {
    DecodeError {
        error,
        form: Form::Meta(MetaForm {
            verb,
            ..MetaForm::default()
        }),
        close,
    }
}

/// The verb of a line whose first token is exactly a meta verb.
fn verb_of(line: &[u8]) -> Option<MetaVerb> {
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    match &line[..end] {
        b"mg" => Some(MetaVerb::Get),
        b"ms" => Some(MetaVerb::Set),
        b"md" => Some(MetaVerb::Delete),
        b"ma" => Some(MetaVerb::Arith),
        b"mn" => Some(MetaVerb::Noop),
        b"me" => Some(MetaVerb::Debug),
        _ => None,
    }
}

/// Checks the line in memcached's order; `next` is where the line's frame ends.
fn parse(
    line: &[u8],
    next: usize,
    verb: Option<MetaVerb>,
    limits: &Limits,
) -> Result<Parsed, Rejected> {
    let Some(verb) = verb else {
        // Not `mX` alone (e.g. "mg\r\r\n"): memcached's generic dispatch says ERROR.
        return Err(ProtocolError::UnknownCommand.into());
    };
    let tokens = Tokens::split(line);
    let parsed = |key, flags, data| Parsed {
        verb,
        key,
        flags,
        data,
        len: next,
        too_large: false,
    };
    match verb {
        MetaVerb::Noop => Ok(parsed(0..0, Flags::default(), None)),
        MetaVerb::Debug => {
            if tokens.len() < 2 || tokens.span(1).len() > limits.max_key_len {
                return Err(ProtocolError::BadCommandLine.into());
            }
            let key = tokens.span(1);
            let mut flags = Flags::default();
            // `me` looks only at its third token, and only for a lone `b`.
            if tokens.len() > 2 && &line[tokens.span(2)] == b"b" {
                let decoded =
                    base64_key::decode(&line[key.clone()]).ok_or(ProtocolError::BadCommandLine)?;
                flags.decoded_key = Some(decoded);
                flags.returns.push(b'b');
            }
            Ok(parsed(key, flags, None))
        }
        MetaVerb::Set => parse_set(line, &tokens, limits).map(|(flags, vlen)| {
            let too_large = vlen > limits.max_value_len;
            Parsed {
                verb,
                key: tokens.span(1),
                flags,
                data: Some((vlen, next)),
                len: if too_large { next } else { next + vlen + 2 },
                too_large,
            }
        }),
        MetaVerb::Get | MetaVerb::Delete | MetaVerb::Arith => {
            if tokens.len() < 2 {
                return Err(ProtocolError::UnknownCommand.into());
            }
            if tokens.span(1).len() > limits.max_key_len {
                return Err(ProtocolError::KeyTooLong.into());
            }
            if tokens.too_many() {
                return Err(match verb {
                    MetaVerb::Get => ProtocolError::TooManyFlags,
                    _ => ProtocolError::FlagsTooLong,
                }
                .into());
            }
            let flags = flags::parse(line, tokens.span(1), tokens.from(2)).map_err(|e| {
                // md and ma report every flag error with one text.
                match verb {
                    MetaVerb::Get => e,
                    _ => ProtocolError::InvalidOrDuplicateFlag,
                }
            })?;
            if verb == MetaVerb::Arith
                && !matches!(flags.mode, None | Some(b'I' | b'+' | b'D' | b'-'))
            {
                return Err(ProtocolError::InvalidArithMode.into());
            }
            if flags.opaque_too_long {
                return Err(ProtocolError::OpaqueTooLong.into());
            }
            Ok(parsed(tokens.span(1), flags, None))
        }
    }
}

/// `ms <key> <datalen> <flags>*`, checked in memcached's order. Once the data length
/// is known an error discards the data block: memcached does so for a bad flag, but
/// reads the block of a long key or a line with too many flags as commands, which
/// would let a client smuggle requests past a proxy that frames the stream
/// differently, so here the block is discarded for those too. A line whose data
/// length is not a number closes the connection: a block of unknown length may
/// follow. A line with no data length (`ms`, `ms key`) declares no block and is just
/// answered, as memcached does.
fn parse_set(line: &[u8], tokens: &Tokens, limits: &Limits) -> Result<(Flags, usize), Rejected> {
    if tokens.len() < 2 {
        return Err(ProtocolError::UnknownCommand.into());
    }
    let vlen = (tokens.len() > 2).then(|| {
        super::numbers::strtol(&line[tokens.span(2)])
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| v <= i32::MAX as usize - 2)
    });
    let reject = |error| match vlen {
        None => Rejected::from(error),
        Some(None) => Rejected {
            error,
            close: true,
            swallow: 0,
        },
        Some(Some(vlen)) => Rejected {
            error,
            close: false,
            swallow: vlen + 2,
        },
    };
    if tokens.span(1).len() > limits.max_key_len {
        return Err(reject(ProtocolError::KeyTooLong));
    }
    let Some(vlen) = vlen else {
        return Err(ProtocolError::BadCommandLine.into());
    };
    if tokens.too_many() {
        return Err(reject(ProtocolError::FlagsTooLong));
    }
    let Some(vlen) = vlen else {
        return Err(reject(ProtocolError::BadCommandLine));
    };
    let flags = flags::parse(line, tokens.span(1), tokens.from(3)).map_err(reject)?;
    if !matches!(flags.mode, None | Some(b'E' | b'A' | b'P' | b'R' | b'S')) {
        return Err(reject(ProtocolError::InvalidMode));
    }
    if flags.opaque_too_long {
        return Err(reject(ProtocolError::OpaqueTooLong));
    }
    Ok((flags, vlen))
}

/// Builds the request from its complete frame.
fn build(frame: Bytes, parsed: Parsed) -> Result<Request, DecodeError> {
    let Parsed {
        verb,
        key,
        flags,
        data,
        too_large,
        ..
    } = parsed;
    let sent_key = frame.slice(key);
    // memcached echoes a base64 key re-encoded from what it decoded.
    let (key, form_key) = match flags.decoded_key.clone() {
        Some(decoded) => {
            let canonical = base64_key::encode(&decoded);
            (
                decoded,
                if canonical == sent_key {
                    sent_key
                } else {
                    canonical
                },
            )
        }
        None => (sent_key.clone(), sent_key),
    };
    let form = MetaForm {
        verb,
        key: form_key,
        returns: flags.returns,
        opaque: flags.opaque.clone().map(|r| frame.slice(r)),
    };
    let command = match verb {
        MetaVerb::Noop => Command::Noop,
        MetaVerb::Debug => Command::Debug(key),
        MetaVerb::Get => Command::Get(Get {
            keys: vec![key],
            touch: flags.ttl,
            vivify: flags.vivify,
            recache: flags.recache,
            no_bump: flags.no_bump,
            want_ttl: false,
        }),
        MetaVerb::Delete => Command::Delete(Delete {
            key,
            cas: flags.cas,
            invalidate: flags.invalidate,
            ttl: flags.ttl,
            new_cas: None,
        }),
        MetaVerb::Arith => Command::Arith(Arith {
            key,
            incr: !matches!(flags.mode, Some(b'D' | b'-')),
            delta: flags.delta.unwrap_or(1),
            cas: flags.cas,
            create: flags.vivify.map(|exptime| Vivify {
                initial: flags.initial.unwrap_or(0),
                exptime,
            }),
            touch: flags.ttl,
            new_cas: None,
        }),
        MetaVerb::Set if too_large => Command::TooLarge(TooLarge {
            mode: store_mode(flags.mode),
            key,
            cas: flags.cas,
        }),
        MetaVerb::Set => {
            let (vlen, start) = data.unwrap_or((0, frame.len()));
            if &frame[start + vlen..] != b"\r\n" {
                // memcached would read whatever follows the block as commands.
                return Err(error(verb, ProtocolError::BadDataChunk, true));
            }
            Command::Store(Store {
                mode: store_mode(flags.mode),
                key,
                flags: flags.client_flags.unwrap_or(0),
                exptime: flags.ttl.unwrap_or(0),
                data: frame.slice(start..start + vlen),
                cas: flags.cas,
                new_cas: None,
                invalidate: flags.invalidate,
                vivify: flags.vivify,
            })
        }
    };
    Ok(Request {
        command,
        form: Form::Meta(form),
    })
}

/// The store mode of an `ms` `M` flag.
fn store_mode(mode: Option<u8>) -> StoreMode {
    match mode {
        Some(b'E') => StoreMode::Add,
        Some(b'A') => StoreMode::Append,
        Some(b'P') => StoreMode::Prepend,
        Some(b'R') => StoreMode::Replace,
        _ => StoreMode::Set,
    }
}
