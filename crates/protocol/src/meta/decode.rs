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
    Request, Store, StoreMode, Vivify,
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
        MetaVerb::Set => parse_set(line, &tokens, limits).map(|(flags, vlen)| Parsed {
            verb,
            key: tokens.span(1),
            flags,
            data: Some((vlen, next)),
            len: next + vlen + 2,
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

/// `ms <key> <datalen> <flags>*`. Until the data length is known memcached cannot
/// skip the data block and reads it as commands; we close the connection instead,
/// since a proxy and its backend would frame the rest of the stream differently.
/// Past that point an error swallows the block, as memcached does.
fn parse_set(line: &[u8], tokens: &Tokens, limits: &Limits) -> Result<(Flags, usize), Rejected> {
    let unframed = |error| Rejected {
        error,
        close: true,
        swallow: 0,
    };
    if tokens.len() < 2 {
        return Err(unframed(ProtocolError::UnknownCommand));
    }
    if tokens.span(1).len() > limits.max_key_len {
        return Err(unframed(ProtocolError::KeyTooLong));
    }
    if tokens.len() == 2 {
        return Err(unframed(ProtocolError::BadCommandLine));
    }
    if tokens.too_many() {
        return Err(unframed(ProtocolError::FlagsTooLong));
    }
    let vlen = super::numbers::strtol(&line[tokens.span(2)])
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v <= i32::MAX as usize - 2)
        .ok_or(unframed(ProtocolError::BadCommandLine))?;
    let swallowed = |error| Rejected {
        error,
        close: false,
        swallow: vlen + 2,
    };
    let flags = flags::parse(line, tokens.span(1), tokens.from(3)).map_err(swallowed)?;
    if !matches!(flags.mode, None | Some(b'E' | b'A' | b'P' | b'R' | b'S')) {
        return Err(swallowed(ProtocolError::InvalidMode));
    }
    if flags.opaque_too_long {
        return Err(swallowed(ProtocolError::OpaqueTooLong));
    }
    if vlen > limits.max_value_len {
        return Err(swallowed(ProtocolError::TooLarge));
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
        MetaVerb::Set => {
            let (vlen, start) = data.unwrap_or((0, frame.len()));
            if &frame[start + vlen..] != b"\r\n" {
                // memcached would read whatever follows the block as commands.
                return Err(error(verb, ProtocolError::BadDataChunk, true));
            }
            Command::Store(Store {
                mode: match flags.mode {
                    Some(b'E') => StoreMode::Add,
                    Some(b'A') => StoreMode::Append,
                    Some(b'P') => StoreMode::Prepend,
                    Some(b'R') => StoreMode::Replace,
                    _ => StoreMode::Set,
                },
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
