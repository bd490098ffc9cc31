//! Server side: storage commands (set, add, replace, append, prepend, cas), whose
//! command line is followed by a data block of the length it declares.

use std::ops::Range;

use bytes::BytesMut;

use super::decode::{error, request, Line};
use super::number::{strtol_i32, strtoul_u32, strtoull};
use super::tokens::Tokens;
use crate::{
    Command, DecodeError, Limits, ProtocolError, Request, Store, StoreMode, TextVerb, TooLarge,
};

pub(super) fn store_verb(cmd: &[u8]) -> Option<TextVerb> {
    Some(match cmd {
        b"set" => TextVerb::Set,
        b"add" => TextVerb::Add,
        b"replace" => TextVerb::Replace,
        b"append" => TextVerb::Append,
        b"prepend" => TextVerb::Prepend,
        b"cas" => TextVerb::Cas,
        _ => return None,
    })
}

/// A storage command's header, checked in memcached's order.
pub(super) struct StoreHeader {
    key: Range<usize>,
    flags: u32,
    exptime: i64,
    len: usize,
    cas: Option<u64>,
    /// The value is larger than the limit: its data block is to be discarded.
    too_large: bool,
}

/// Reads a storage command once its data block is complete. A block that does not end
/// in CRLF closes the connection: memcached would read the bytes after the declared
/// length as new commands, which lets a client smuggle requests past a proxy that
/// frames the stream differently. A block larger than the limit is not waited for:
/// it becomes a [`Command::TooLarge`] at once and its bytes are discarded as they
/// come, as memcached swallows them.
pub(super) fn decode_store(
    buf: &mut BytesMut,
    line: &Line,
    verb: TextVerb,
    noreply: bool,
    header: Result<StoreHeader, ProtocolError>,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let header = match header {
        Ok(header) => header,
        Err(e) => {
            let _ = buf.split_to(line.len);
            // A wrong word count is answered before memcached looks for `noreply`.
            let noreply = noreply && e != ProtocolError::UnknownCommand;
            return Err(error(e, verb, noreply, false));
        }
    };
    let mode = match verb {
        TextVerb::Add => StoreMode::Add,
        TextVerb::Replace => StoreMode::Replace,
        TextVerb::Append => StoreMode::Append,
        TextVerb::Prepend => StoreMode::Prepend,
        _ => StoreMode::Set,
    };
    if header.too_large {
        let frame = buf.split_to(line.len).freeze();
        *swallow = header.len + 2;
        let key = frame.slice(header.key);
        return Ok(Some(request(
            Command::TooLarge(TooLarge {
                mode,
                key,
                cas: header.cas,
            }),
            verb,
            noreply,
        )));
    }
    let total = line.len + header.len + 2;
    if buf.len() < total {
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    if &frame[total - 2..] != b"\r\n" {
        return Err(error(ProtocolError::BadDataChunk, verb, noreply, true));
    }
    let store = Store {
        mode,
        key: frame.slice(header.key),
        flags: header.flags,
        exptime: header.exptime,
        data: frame.slice(line.len..line.len + header.len),
        cas: header.cas,
        ..Store::default()
    };
    Ok(Some(request(Command::Store(store), verb, noreply)))
}

/// The header's fields, or the error (memcached reads the data block of a refused
/// header as commands: nothing is discarded).
pub(super) fn store_header(
    tokens: &Tokens<'_>,
    verb: TextVerb,
    limits: &Limits,
) -> Result<StoreHeader, ProtocolError> {
    let cas = verb == TextVerb::Cas;
    let n = tokens.ntokens();
    let fits = if cas {
        n == 7 || n == 8
    } else {
        n == 6 || n == 7
    };
    if !fits {
        return Err(ProtocolError::UnknownCommand);
    }
    if tokens.get(1).len() > limits.max_key_len {
        return Err(ProtocolError::KeyTooLong);
    }
    let bad = ProtocolError::BadCommandLine;
    let flags = strtoul_u32(tokens.get(2)).ok_or(bad)?;
    let exptime = strtol_i32(tokens.get(3)).ok_or(bad)?;
    let len = strtol_i32(tokens.get(4)).ok_or(bad)?;
    let cas = if cas {
        Some(strtoull(tokens.get(5)).ok_or(bad)?)
    } else {
        None
    };
    let len = match usize::try_from(len) {
        Ok(len) if len <= i32::MAX as usize - 2 => len,
        _ => return Err(bad),
    };
    Ok(StoreHeader {
        key: tokens.span(1),
        flags,
        exptime: i64::from(exptime),
        len,
        cas,
        too_large: len > limits.max_value_len,
    })
}
