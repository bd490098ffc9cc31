//! The classic text protocol (get, set, delete, incr, stats, ...).

use bytes::BytesMut;

use crate::{Command, DecodeError, InvalidResponse, Limits, Request, Response, TextForm};

/// Decodes one text request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let _ = (buf, limits, swallow);
    unimplemented!("text decode")
}

/// Appends memcached's text reply.
pub(crate) fn encode_response(form: &TextForm, response: &Response, out: &mut BytesMut) {
    let _ = (form, response, out);
    unimplemented!("text encode")
}

/// Appends the request as a text command line (and data block).
pub(crate) fn encode_request(form: &TextForm, command: &Command, out: &mut BytesMut) {
    let _ = (form, command, out);
    unimplemented!("text encode request")
}

/// Decodes a text reply to a request of this form.
pub(crate) fn decode_response(
    form: &TextForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let _ = (form, buf, limits);
    unimplemented!("text decode response")
}
