//! Reading a backend's replies, sans-IO: bytes and the request they answer in, one
//! whole reply (or "need more", or an error) out. The connection task only adds
//! sockets around it, so the fuzz target and the property test drive exactly what
//! runs in production.

use bytes::BytesMut;
use memkeep_protocol::{
    decode_response, Form, InvalidResponse, Limits, MetaVerb, Request, Response, TextVerb,
};

use super::translate::{Expect, Local};
use super::{text_dialect, translate, Dialect};

/// Why a backend's bytes are not a reply to the request they should answer. Either
/// way the connection is out of step with its requests and must be reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// Not a reply at all (the decoder refused it).
    Invalid(InvalidResponse),
    /// A well-formed reply of the wrong kind: `STORED` to a get, a value to a
    /// delete, two items to a single-key `mg`.
    Unexpected,
    /// A line of a listing longer than the proxy reads.
    TooLong,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Invalid(e) => write!(f, "{e}"),
            ReplyError::Unexpected => f.write_str("reply does not answer the request"),
            ReplyError::TooLong => f.write_str("reply line too long"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Decodes the reply to `expect`'s request from the front of `buf`: `Ok(None)` when
/// more bytes are needed (parts of a multi-key reply already read are kept in
/// `expect`), the whole reply once its last part is in.
pub(crate) fn read_reply(
    expect: &mut Expect,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, ReplyError> {
    if let Expect::Lines { reply, .. } = expect {
        return reply.read(buf, limits);
    }
    loop {
        let form = expect.next_form();
        let Some(part) = decode_response(form, buf, limits).map_err(ReplyError::Invalid)? else {
            return Ok(None);
        };
        if !answers(form, &part) || !expect.asked_for(&part) {
            return Err(ReplyError::Unexpected);
        }
        if let Some(whole) = expect.accept(part) {
            return Ok(Some(whole));
        }
    }
}

/// Whether `response` can be the server's reply to a request sent in `form`. The
/// text decoder only accepts a verb's own replies; the meta decoder reads any meta
/// code, so the pairing is checked here.
fn answers(form: &Form, response: &Response) -> bool {
    use Response as R;
    if matches!(response, R::Error | R::ClientError(_) | R::ServerError(_)) {
        return true;
    }
    let store = |r: &Response| {
        matches!(
            r,
            R::Stored(_) | R::NotStored | R::Exists | R::NotFound | R::TooLarge | R::OutOfMemory
        )
    };
    match form {
        Form::Meta(meta) => match meta.verb {
            MetaVerb::Get => matches!(response, R::Values(v) if v.len() <= 1),
            MetaVerb::Set => store(response),
            MetaVerb::Delete => matches!(response, R::Deleted | R::NotFound | R::Exists),
            MetaVerb::Arith => matches!(
                response,
                R::Number(..) | R::NotFound | R::NotStored | R::Exists | R::NonNumeric
            ),
            MetaVerb::Noop => matches!(response, R::Noop),
            MetaVerb::Debug => matches!(response, R::Debug(_)),
        },
        Form::Text(text) => match text.verb {
            TextVerb::Get | TextVerb::Gets | TextVerb::Gat | TextVerb::Gats => {
                matches!(response, R::Values(_))
            }
            TextVerb::Set
            | TextVerb::Add
            | TextVerb::Replace
            | TextVerb::Append
            | TextVerb::Prepend
            | TextVerb::Cas => store(response),
            TextVerb::Delete => matches!(response, R::Deleted | R::NotFound),
            TextVerb::Incr | TextVerb::Decr => {
                matches!(response, R::Number(..) | R::NotFound | R::NonNumeric)
            }
            TextVerb::Touch => matches!(response, R::Touched(_) | R::NotFound),
            TextVerb::FlushAll | TextVerb::Verbosity => matches!(response, R::Ok),
            // Administrative commands refuse in words of their own (`NOSPARE ...`).
            TextVerb::CacheMemlimit
            | TextVerb::Slabs
            | TextVerb::LruCrawler
            | TextVerb::RefreshCerts => {
                matches!(response, R::Ok | R::ErrorLine(_))
            }
            TextVerb::Stats => matches!(response, R::Stats(_)),
            TextVerb::Version => matches!(response, R::Version(_)),
            // Verbs the proxy never sends to a backend.
            _ => false,
        },
        // The proxy speaks meta or text to its backends, never binary.
        Form::Binary(_) => false,
    }
}

/// How the reply to one client request is read from a backend: the sans-IO core of
/// the backend's connection, public for the fuzz target and property tests.
#[derive(Debug)]
pub struct ReplyReader {
    expect: Expect,
}

impl ReplyReader {
    /// The request as it is sent to a server speaking `dialect` (meta for
    /// [`Dialect::Detect`]) and the reader of its reply; `None` when the proxy
    /// answers the request itself.
    pub fn new(request: Request, dialect: Dialect) -> Option<(Request, ReplyReader)> {
        let local = match dialect {
            Dialect::Text => text_dialect::to_text(request),
            Dialect::Meta | Dialect::Detect => translate::to_meta(request),
        };
        match local {
            Local::Send(request, expect) => Some((request, ReplyReader { expect })),
            Local::Answer(_) => None,
        }
    }

    /// Reads the reply from the front of `buf`: `Ok(None)` needs more bytes (parts
    /// of a multi-key reply already consumed are kept), `Ok(Some)` is the whole
    /// reply, an error means the connection must be reset.
    pub fn read(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Response>, ReplyError> {
        read_reply(&mut self.expect, buf, limits)
    }
}

#[cfg(test)]
mod tests;
