//! The binary protocol (24-byte headers, opcodes, quiet variants, SASL), as memcached
//! 1.6.18's proto_bin.c speaks it: requests decoded and replies encoded on the server
//! side, requests encoded and replies decoded on the client side.
//!
//! The binary protocol is deprecated in memcached 1.6 but still served; where it
//! differs from what its old specification says (VERBOSITY is not implemented, a GETK
//! miss carries the key as its whole body), memcached wins.

use bytes::BytesMut;

use crate::{BinaryForm, Command, DecodeError, InvalidResponse, Limits, Request, Response};

mod client;
mod decode;
mod encode;
mod header;
pub mod opcode;
pub mod status;

#[cfg(test)]
mod tests;

/// Decodes one binary request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    decode::decode_request(buf, limits, swallow)
}

/// Appends memcached's binary reply.
pub(crate) fn encode_response(form: &BinaryForm, response: &Response, out: &mut BytesMut) {
    encode::encode_response(form, response, out)
}

/// Appends the request as a binary command line (and data block).
pub(crate) fn encode_request(form: &BinaryForm, command: &Command, out: &mut BytesMut) {
    client::encode_request(form, command, out)
}

/// Decodes a binary reply to a request of this form.
pub(crate) fn decode_response(
    form: &BinaryForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    client::decode_response(form, buf, limits)
}

/// The opaque of the reply packet at the front of `buf`, if its header is complete:
/// a client pipelining quiet requests reads it to learn which request a reply answers
/// before calling [`crate::decode_response`] with that request's form.
pub fn peek_opaque(buf: &[u8]) -> Option<u32> {
    header::Header::parse(buf).map(|h| h.opaque)
}

/// The first byte of every binary request.
pub const REQUEST_MAGIC: u8 = 0x80;
/// The first byte of every binary response.
pub const RESPONSE_MAGIC: u8 = 0x81;
