//! The entry points: decode requests and encode replies (server side), encode
//! requests and decode replies (client side), in whichever dialect the form says.

use bytes::BytesMut;

use crate::error::{DecodeError, InvalidResponse, ProtocolError};
use crate::form::{Form, TextForm, TextVerb};
use crate::limits::Limits;
use crate::request::Request;
use crate::response::Response;
use crate::{binary, meta, text};

/// The size of a binary request header.
const BINARY_HEADER_LEN: usize = 24;

/// The protocols a server lets its connections speak (memcached's `-B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// Text, meta and binary, told apart by each request's first byte.
    #[default]
    Auto,
    /// Text and meta only: a binary request's bytes are read as a text line.
    Ascii,
    /// Binary only: a request that does not start with the binary magic byte closes
    /// the connection without a reply.
    Binary,
}

/// Server-side request decoder for one connection. Stateful only to discard the data
/// block of a rejected oversized value, as memcached does.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    limits: Limits,
    swallow: usize,
    binding: Binding,
}

impl Decoder {
    /// A decoder enforcing these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            swallow: 0,
            binding: Binding::Auto,
        }
    }

    /// Restricts the protocols this decoder accepts.
    pub fn with_binding(mut self, binding: Binding) -> Self {
        self.binding = binding;
        self
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
        match (self.binding, first == binary::REQUEST_MAGIC) {
            (Binding::Auto, true) => {
                return binary::decode_request(buf, &self.limits, &mut self.swallow)
            }
            (Binding::Binary, true) => {
                return binary::decode_request(buf, &self.limits, &mut self.swallow)
            }
            // memcached -B binary reads a whole header before it looks at the magic
            // byte, then closes without a word.
            (Binding::Binary, false) if buf.len() < BINARY_HEADER_LEN => return Ok(None),
            (Binding::Binary, false) => {
                return Err(DecodeError {
                    error: ProtocolError::BadBinaryHeader,
                    // The reply to a text `noreply` request is nothing at all.
                    form: Form::Text(TextForm {
                        verb: TextVerb::Quit,
                        noreply: true,
                    }),
                    close: true,
                });
            }
            (Binding::Auto | Binding::Ascii, _) => {}
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
