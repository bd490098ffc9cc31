//! Decoding errors. Each one knows memcached's exact reply text and whether the
//! connection can go on after it.

use std::fmt;

use crate::form::Form;
use crate::response::Response;

/// What was wrong with the bytes a client sent. `Display` is memcached's reply line
/// without the trailing CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// Not a command memcached knows: `ERROR`.
    UnknownCommand,
    /// Wrong number or form of tokens.
    BadCommandLine,
    /// The data block did not end with CRLF where the header said it would.
    BadDataChunk,
    /// The value is larger than the item size limit.
    TooLarge,
    /// A command line longer than the limit, without an end in sight.
    LineTooLong,
    /// A key longer than the limit.
    KeyTooLong,
    /// An expiry that is not a number.
    InvalidExptime,
    /// An incr/decr delta that is not a 64-bit unsigned number.
    InvalidDelta,
    /// A meta flag memcached does not know.
    InvalidFlag,
    /// A meta flag given twice.
    DuplicateFlag,
    /// A meta flag's token is malformed.
    BadToken,
    /// A meta key marked base64 that does not decode.
    BadBase64Key,
    /// A meta `M` mode letter that is not valid for the verb.
    InvalidMode,
    /// More meta flags than fit the reply options.
    TooManyFlags,
    /// A binary header whose lengths disagree or exceed the limits.
    BadBinaryHeader,
    /// A binary opcode memcached does not implement.
    UnknownOpcode,
    /// A multi-key get with more keys than the limit.
    TooManyKeys,
    /// A meta `O` token longer than memcached's 32 bytes.
    OpaqueTooLong,
    /// A meta `M` token that is not exactly one mode letter.
    BadModeToken,
    /// A meta `J` (initial value) token that is not a 64-bit unsigned number.
    InvalidInitial,
    /// A meta `D` (delta) token that is not a 64-bit unsigned number.
    InvalidDeltaToken,
    /// Any flag error in `md` and `ma`, which memcached reports with one text.
    InvalidOrDuplicateFlag,
    /// Too many tokens on an `ms`, `md` or `ma` line (`mg` says [`Self::TooManyFlags`]).
    FlagsTooLong,
    /// An `ma` `M` mode letter other than I, +, D or -.
    InvalidArithMode,
    /// A text `delete` with arguments other than memcached's legacy `0` and `noreply`.
    BadDeleteFormat,
    /// A text `shutdown` with an argument other than `graceful`.
    InvalidShutdownMode,
    /// `lru_crawler sleep` longer than a second.
    CrawlerSleepTooLong,
    /// `lru tune` with hot and warm percentages adding up to more than 80.
    LruPctsTooLarge,
    /// `lru tune` with an age factor of 0 or less.
    LruFactorsNotPositive,
}

impl ProtocolError {
    /// memcached's reply line for this error, without CRLF.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolError::UnknownCommand => "ERROR",
            ProtocolError::BadCommandLine => "CLIENT_ERROR bad command line format",
            ProtocolError::BadDataChunk => "CLIENT_ERROR bad data chunk",
            ProtocolError::TooLarge => "SERVER_ERROR object too large for cache",
            ProtocolError::LineTooLong => "CLIENT_ERROR line too long",
            ProtocolError::KeyTooLong => "CLIENT_ERROR bad command line format",
            ProtocolError::InvalidExptime => "CLIENT_ERROR invalid exptime argument",
            ProtocolError::InvalidDelta => "CLIENT_ERROR invalid numeric delta argument",
            ProtocolError::InvalidFlag => "CLIENT_ERROR invalid flag",
            ProtocolError::DuplicateFlag => "CLIENT_ERROR duplicate flag",
            ProtocolError::BadToken => "CLIENT_ERROR bad token in command line format",
            ProtocolError::BadBase64Key => "CLIENT_ERROR error decoding key",
            ProtocolError::InvalidMode => "CLIENT_ERROR invalid mode for ms M token",
            ProtocolError::TooManyFlags => "CLIENT_ERROR options flags are too long",
            ProtocolError::BadBinaryHeader => "CLIENT_ERROR bad command line format",
            ProtocolError::UnknownOpcode => "ERROR",
            ProtocolError::TooManyKeys => "CLIENT_ERROR bad command line format",
            ProtocolError::OpaqueTooLong => "CLIENT_ERROR opaque token too long",
            ProtocolError::BadModeToken => "CLIENT_ERROR incorrect length for M token",
            ProtocolError::InvalidInitial => "CLIENT_ERROR invalid numeric initial value",
            ProtocolError::InvalidDeltaToken => "CLIENT_ERROR invalid numeric delta value",
            ProtocolError::InvalidOrDuplicateFlag => "CLIENT_ERROR invalid or duplicate flag",
            ProtocolError::FlagsTooLong => "CLIENT_ERROR options flags too long",
            ProtocolError::InvalidArithMode => "CLIENT_ERROR invalid mode for ma M token",
            ProtocolError::BadDeleteFormat => {
                "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
            }
            ProtocolError::InvalidShutdownMode => "CLIENT_ERROR invalid shutdown mode",
            ProtocolError::CrawlerSleepTooLong => "CLIENT_ERROR sleep must be one second or less",
            ProtocolError::LruPctsTooLarge => "ERROR hot and warm pcts must not exceed 80",
            ProtocolError::LruFactorsNotPositive => {
                "ERROR hot/warm age factors must be greater than 0"
            }
        }
    }

    /// The reply the server writes for this error, to be encoded with the request's
    /// form (binary clients get a status code instead of the text).
    pub fn to_response(self) -> Response {
        match self {
            ProtocolError::UnknownCommand | ProtocolError::UnknownOpcode => Response::Error,
            ProtocolError::TooLarge => Response::TooLarge,
            ProtocolError::LruPctsTooLarge | ProtocolError::LruFactorsNotPositive => {
                Response::ErrorLine(self.as_str().into())
            }
            other => {
                let text = other.as_str();
                Response::ClientError(text.strip_prefix("CLIENT_ERROR ").unwrap_or(text).into())
            }
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ProtocolError {}

/// A request that could not be decoded: the reply to write in its place (in request
/// order) and whether the connection must be closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong.
    pub error: ProtocolError,
    /// How to write the error reply (binary clients get their opcode and opaque back).
    pub form: Form,
    /// Close the connection after writing the reply: the rest of the stream cannot be
    /// framed safely (reading it as commands would let a client smuggle requests).
    pub close: bool,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for DecodeError {}

/// A backend's reply that is not valid for the request it answers (client side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidResponse {
    reason: &'static str,
}

impl InvalidResponse {
    pub(crate) fn new(reason: &'static str) -> Self {
        InvalidResponse { reason }
    }

    /// Why the reply was rejected.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid response from server: {}", self.reason)
    }
}

impl std::error::Error for InvalidResponse {}
