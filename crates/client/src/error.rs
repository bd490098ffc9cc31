//! What can go wrong with a request, as one typed enum. A miss is not an error: reads
//! answer `None`, conditional writes `false`.

use std::fmt;

use memkeep_protocol::Response;
use memkeep_proxy::BoxError;

/// Why a request or the client's configuration failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot be served; the message says why.
    Config(String),
    /// The key is empty, longer than 250 bytes, or holds a space or control
    /// character (memcached's rules); the request was not sent.
    InvalidKey,
    /// The value is larger than the server's item size limit.
    TooLarge,
    /// The server has no room for the item and may not evict.
    OutOfMemory,
    /// `incr`/`decr` on a value that is not a decimal number.
    NonNumeric,
    /// The server refused the request (`CLIENT_ERROR ...`, `ERROR`).
    Refused(String),
    /// The server failed (`SERVER_ERROR ...`).
    Server(String),
    /// No server could answer: the servers the key routes to are down, ejected,
    /// timed out, or refused the request as overloaded. The source says which
    /// layer gave up (test it with `is::<...>()` on the proxy's error types).
    Unavailable(BoxError),
    /// A reply that does not answer the command sent.
    Unexpected(Response),
}

impl Error {
    /// The error a reply stands for, when it is one.
    pub(crate) fn from_reply(response: Response) -> Error {
        match response {
            Response::TooLarge => Error::TooLarge,
            Response::OutOfMemory => Error::OutOfMemory,
            Response::NonNumeric => Error::NonNumeric,
            Response::Error => Error::Refused("ERROR".into()),
            Response::ErrorLine(line) => Error::Refused(line.into_owned()),
            Response::ClientError(message) => Error::Refused(message.into_owned()),
            Response::ServerError(message) => Error::Server(message.into_owned()),
            other => Error::Unexpected(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(message) => write!(f, "bad configuration: {message}"),
            Error::InvalidKey => f.write_str("invalid key"),
            Error::TooLarge => f.write_str("object too large for cache"),
            Error::OutOfMemory => f.write_str("out of memory storing object"),
            Error::NonNumeric => f.write_str("cannot increment or decrement non-numeric value"),
            Error::Refused(message) => write!(f, "request refused: {message}"),
            Error::Server(message) => write!(f, "server error: {message}"),
            Error::Unavailable(source) => write!(f, "no server answered: {source}"),
            Error::Unexpected(reply) => write!(f, "unexpected reply {reply:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unavailable(source) => Some(source.as_ref()),
            _ => None,
        }
    }
}
