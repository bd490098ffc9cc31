//! The meta protocol (mg, ms, md, ma, mn, me).

use bytes::BytesMut;

use crate::{Command, DecodeError, InvalidResponse, Limits, MetaForm, Request, Response};

/// Decodes one meta request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let _ = (buf, limits, swallow);
    unimplemented!("meta decode")
}

/// Appends memcached's meta reply.
pub(crate) fn encode_response(form: &MetaForm, response: &Response, out: &mut BytesMut) {
    let _ = (form, response, out);
    unimplemented!("meta encode")
}

/// Appends the request as a meta command line (and data block).
pub(crate) fn encode_request(form: &MetaForm, command: &Command, out: &mut BytesMut) {
    let _ = (form, command, out);
    unimplemented!("meta encode request")
}

/// Decodes a meta reply to a request of this form.
pub(crate) fn decode_response(
    form: &MetaForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let _ = (form, buf, limits);
    unimplemented!("meta decode response")
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
