//! The entry points: decode requests and encode replies (server side), encode
//! requests and decode replies (client side), in whichever dialect the form says.

use bytes::BytesMut;

use crate::error::{DecodeError, InvalidResponse};
use crate::form::Form;
use crate::limits::Limits;
use crate::request::Request;
use crate::response::Response;
use crate::{binary, meta, text};

/// Server-side request decoder for one connection. Stateful only to discard the data
/// block of a rejected oversized value, as memcached does.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    limits: Limits,
    swallow: usize,
}

impl Decoder {
    /// A decoder enforcing these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder { limits, swallow: 0 }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes the next request from the front of `buf`.
    ///
    /// `Ok(Some(_))` consumed one request; `Ok(None)` needs more bytes (nothing was
    /// consumed that matters); `Err(_)` consumed the bad frame and says what to reply
    /// and whether to close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, DecodeError> {
        if self.swallow > 0 {
            let n = self.swallow.min(buf.len());
            let _ = buf.split_to(n);
            self.swallow -= n;
            if self.swallow > 0 {
                return Ok(None);
            }
        }
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if first == binary::REQUEST_MAGIC {
            return binary::decode_request(buf, &self.limits, &mut self.swallow);
        }
        match meta::is_meta(buf) {
            None => Ok(None),
            Some(true) => meta::decode_request(buf, &self.limits, &mut self.swallow),
            Some(false) => text::decode_request(buf, &self.limits, &mut self.swallow),
        }
    }
}

/// Appends the reply to a request of this form, exactly as memcached writes it.
/// Writes nothing where memcached writes nothing (`noreply`, quiet misses...).
pub fn encode_response(form: &Form, response: &Response, out: &mut BytesMut) {
    match form {
        Form::Text(f) => text::encode_response(f, response, out),
        Form::Meta(f) => meta::encode_response(f, response, out),
        Form::Binary(f) => binary::encode_response(f, response, out),
    }
}

/// Client side: appends the request in the dialect of its form.
pub fn encode_request(request: &Request, out: &mut BytesMut) {
    match &request.form {
        Form::Text(f) => text::encode_request(f, &request.command, out),
        Form::Meta(f) => meta::encode_request(f, &request.command, out),
        Form::Binary(f) => binary::encode_request(f, &request.command, out),
    }
}

/// Client side: decodes the reply to a request of this form from the front of `buf`.
/// `Ok(None)` needs more bytes. Not for requests that get no reply (`noreply`,
/// quiet variants that succeed): follow those with a no-op to know where they end.
pub fn decode_response(
    form: &Form,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    match form {
        Form::Text(f) => text::decode_response(f, buf, limits),
        Form::Meta(f) => meta::decode_response(f, buf, limits),
        Form::Binary(f) => binary::decode_response(f, buf, limits),
    }
}
