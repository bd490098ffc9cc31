//! The response model: what the cache answered, independent of the dialect it is
//! written back in. [`crate::encode_response`] turns it into memcached's exact bytes for
//! the [`crate::Form`] of the request it answers.

use std::borrow::Cow;

use bytes::Bytes;

/// What the cache answered to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Retrieval result: the hits in request key order, misses left out. For a
    /// single-key request (meta, binary) an empty list is a miss.
    Values(Vec<Value>),
    /// `lru_crawler metadump`'s lines, each encoded by [`crate::MetadumpEntry`]
    /// (the `END` is added when the reply is written).
    Metadump(Bytes),
    /// A reply memcached formats in its own way, written as it is, line ends and any
    /// `END` included (`stats cachedump`, `stats detail dump`, `stats sizes_enable`).
    /// Binary clients get "Unknown command".
    Raw(Bytes),
    /// The item was stored.
    Stored(ItemMeta),
    /// A conditional store's condition failed (add on a present key, replace or
    /// append on a missing one).
    NotStored,
    /// The CAS unique given did not match the item's.
    Exists,
    /// No such item.
    NotFound,
    /// The item was removed (or marked stale by md `I`).
    Deleted,
    /// The item's expiry was changed.
    Touched(ItemMeta),
    /// A counter's new value.
    Number(u64, ItemMeta),
    /// A plain success (flush_all, verbosity).
    Ok,
    /// The server's version string.
    Version(Bytes),
    /// Statistics as name/value pairs, in order.
    Stats(Vec<(String, String)>),
    /// The statistics were reset (`stats reset`).
    Reset,
    /// Answer to a no-op (mn, binary NOOP).
    Noop,
    /// The metadata line of an `me` request (`key=value` pairs after the key); `None`
    /// when the item does not exist.
    Debug(Option<String>),
    /// SASL mechanisms supported, space separated.
    SaslMechs(Bytes),
    /// SASL: authenticated.
    SaslOk,
    /// SASL: authentication failed or is not configured.
    AuthError,
    /// The value is too large to store.
    TooLarge,
    /// The store has no room and may not evict (`-M`).
    OutOfMemory,
    /// incr/decr on a value that is not a decimal number.
    NonNumeric,
    /// The command is not known (`ERROR`).
    Error,
    /// The client sent something wrong: `CLIENT_ERROR <message>`.
    ClientError(Cow<'static, str>),
    /// The server failed: `SERVER_ERROR <message>`.
    ServerError(Cow<'static, str>),
    /// A whole error line memcached writes in its own words for a command it refuses,
    /// e.g. `ERROR: shutdown not enabled`. Binary clients get "Unknown command".
    ErrorLine(Cow<'static, str>),
}

/// An item as returned by a retrieval.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Value {
    /// The item's key (decoded: raw bytes even if the client sent base64).
    pub key: Bytes,
    /// The value.
    pub data: Bytes,
    /// Flags, CAS unique, expiry and access facts.
    pub meta: ItemMeta,
}

/// What the cache knows about an item besides its key and value; meta return flags
/// and binary headers read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemMeta {
    /// Opaque 32-bit client flags.
    pub flags: u32,
    /// CAS unique.
    pub cas: u64,
    /// Remaining time to live in seconds; -1 when the item never expires.
    pub ttl: i64,
    /// Length of the value in bytes (meta `s`).
    pub size: u32,
    /// Seconds since the item was last accessed (meta `l`).
    pub last_access: u32,
    /// Whether the item had been fetched before this request (meta `h`).
    pub fetched: bool,
    /// This client won the right to recache the item (meta `W`).
    pub win: bool,
    /// The item is stale (meta `X`).
    pub stale: bool,
    /// Another client already won the right to recache (meta `Z`).
    pub won: bool,
}

impl Response {
    /// Whether the response is an error of any kind (for stats and retries).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            Response::Error
                | Response::ClientError(_)
                | Response::ServerError(_)
                | Response::ErrorLine(_)
                | Response::TooLarge
                | Response::OutOfMemory
                | Response::NonNumeric
                | Response::AuthError
        )
    }
}
