//! The meta protocol (mg, ms, md, ma, mn, me), as memcached 1.6.18 speaks it.
//!
//! Server side, [`decode_request`] reads a command into the shared request model
//! (semantic flags into the [`Command`], reply-shaping flags, the opaque token and
//! the key as sent into the [`MetaForm`]) and [`encode_response`] writes the reply
//! back flag for flag. Client side, [`encode_request`] and [`decode_response`] do the
//! reverse for a proxy talking meta to its backends.

use bytes::BytesMut;

use crate::{Command, DecodeError, InvalidResponse, Limits, MetaForm, Request, Response};

mod base64_key;
mod client;
mod decode;
mod encode;
mod flags;
mod numbers;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Decodes one meta request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
///
/// Errors close the connection only where a data block of unknown length may follow,
/// which memcached would read as commands (letting a client smuggle requests past a
/// proxy that frames the stream differently): an `ms` data block that does not end in
/// CRLF, and an `ms` whose data length is not a number. Any other rejected `ms` with
/// a data length has its block discarded; one without a data length declares no
/// block and is just answered. A line with no LF within `max_line_len` bytes closes
/// too (memcached closes silently there).
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    decode::decode_request(buf, limits, swallow)
}

/// Appends memcached's meta reply.
pub(crate) fn encode_response(form: &MetaForm, response: &Response, out: &mut BytesMut) {
    encode::encode_response(form, response, out)
}

/// Appends the request as a meta command line (and data block).
pub(crate) fn encode_request(form: &MetaForm, command: &Command, out: &mut BytesMut) {
    client::encode_request(form, command, out)
}

/// Decodes a meta reply to a request of this form.
pub(crate) fn decode_response(
    form: &MetaForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    client::decode_response(form, buf, limits)
}

/// Whether the line at the front of `buf` is a meta command (`mg`, `ms`, `md`, `ma`,
/// `mn`, `me` followed by a space or line end); `None` if too few bytes to tell.
pub(crate) fn is_meta(buf: &[u8]) -> Option<bool> {
    match buf {
        [b'm', v, rest @ ..] if b"gsdane".contains(v) => match rest.first() {
            None => None,
            Some(b' ' | b'\r' | b'\n') => Some(true),
            Some(_) => Some(false),
        },
        [b'm'] => None,
        _ => Some(false),
    }
}
