//! The classic text protocol (get, set, delete, incr, stats, ...), both ways: the
//! server reads requests and writes replies; a client (the proxy, the `memkeep`
//! tool) writes requests and reads replies. memcached 1.6 is the reference for
//! every byte, quirks included (see [`number`] for how it reads numbers).

use bytes::BytesMut;

use crate::{Command, DecodeError, InvalidResponse, Limits, Request, Response, TextForm};

mod admin;
mod client;
mod decode;
mod encode;
pub(crate) mod metadump;
pub(crate) mod number;
mod reply;
mod scan;
mod store;
mod tokens;

#[cfg(test)]
mod tests;

/// Decodes one text request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    decode::decode_request(buf, limits, swallow)
}

/// Appends memcached's text reply.
pub(crate) fn encode_response(form: &TextForm, response: &Response, out: &mut BytesMut) {
    encode::encode_response(form, response, out)
}

/// Appends the request as a text command line (and data block).
pub(crate) fn encode_request(form: &TextForm, command: &Command, out: &mut BytesMut) {
    client::encode_request(form, command, out)
}

/// Appends an administrative command as its text line.
pub(crate) fn encode_admin(admin: &crate::Admin, out: &mut BytesMut) {
    admin::encode_request(admin, out);
    out.extend_from_slice(b"\r\n");
}

/// Decodes a text reply to a request of this form.
pub(crate) fn decode_response(
    form: &TextForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    reply::decode_response(form, buf, limits)
}
