//! The binary protocol (24-byte headers, opcodes, quiet variants, SASL).

use bytes::BytesMut;

use crate::{BinaryForm, Command, DecodeError, InvalidResponse, Limits, Request, Response};

/// Decodes one binary request from the front of `buf` (see [`crate::Decoder::decode`]).
/// `swallow` is set to a number of bytes to discard after a rejected oversized value.
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let _ = (buf, limits, swallow);
    unimplemented!("binary decode")
}

/// Appends memcached's binary reply.
pub(crate) fn encode_response(form: &BinaryForm, response: &Response, out: &mut BytesMut) {
    let _ = (form, response, out);
    unimplemented!("binary encode")
}

/// Appends the request as a binary command line (and data block).
pub(crate) fn encode_request(form: &BinaryForm, command: &Command, out: &mut BytesMut) {
    let _ = (form, command, out);
    unimplemented!("binary encode request")
}

/// Decodes a binary reply to a request of this form.
pub(crate) fn decode_response(
    form: &BinaryForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let _ = (form, buf, limits);
    unimplemented!("binary decode response")
}

/// The first byte of every binary request.
pub const REQUEST_MAGIC: u8 = 0x80;
/// The first byte of every binary response.
pub const RESPONSE_MAGIC: u8 = 0x81;
