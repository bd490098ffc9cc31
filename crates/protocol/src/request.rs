//! The request model shared by the text, meta and binary protocols.
//!
//! A [`Request`] is what the client asked for ([`Command`], in one vocabulary for all
//! three dialects) plus how it asked ([`Form`]), so the reply can be written back in the
//! same dialect, byte for byte as memcached would.

use bytes::Bytes;

use crate::admin::Admin;
use crate::form::Form;

/// One decoded request: what to do and how the client wants the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What the client asked for.
    pub command: Command,
    /// How the client asked: the dialect, verb and reply options.
    pub form: Form,
}

/// What a client asks the cache to do, whatever dialect it spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Retrieve one or more items (get, gets, gat, gats, mg, binary GET*/GAT*).
    Get(Get),
    /// List every item's key and metadata (`lru_crawler metadump all|hash|CLASSES`).
    Metadump(MetadumpScope),
    /// Store an item (set, add, replace, append, prepend, cas, ms, binary SET*...).
    Store(Store),
    /// A store refused before its value was read: the data block is larger than
    /// [`Limits::max_value_len`](crate::Limits) and is discarded unread. memcached
    /// answers `SERVER_ERROR object too large for cache` (binary: "Too large.") and,
    /// where [`Form::failed_store_unlinks`](crate::Form::failed_store_unlinks) says
    /// so, removes the key's old value: a failed set never leaves stale data readable.
    /// No dialect can send it on (the value is gone): a proxy answers it itself.
    TooLarge(TooLarge),
    /// Remove an item (delete, md, binary DELETE).
    Delete(Delete),
    /// Add to or subtract from a counter (incr, decr, ma, binary INCR/DECR).
    Arith(Arith),
    /// Change an item's expiry without fetching it (touch, binary TOUCH).
    Touch(Touch),
    /// Invalidate every item, now or after a delay.
    FlushAll(FlushAll),
    /// Ask for statistics; `None` for the general group.
    Stats(Option<Bytes>),
    /// Ask for the server version.
    Version,
    /// Set the logging verbosity.
    Verbosity(u32),
    /// Do nothing but answer (mn, binary NOOP); ends a run of quiet requests.
    Noop,
    /// Close the connection (quit, binary QUIT).
    Quit,
    /// Stop the server (`shutdown`, `shutdown graceful`).
    Shutdown {
        /// `shutdown graceful`: finish in-flight work first.
        graceful: bool,
    },
    /// Describe an item's metadata (me).
    Debug(Bytes),
    /// SASL: list the supported mechanisms (binary only).
    SaslListMechs,
    /// SASL: first authentication step (binary only).
    SaslAuth(Sasl),
    /// SASL: a further authentication step (binary only).
    SaslStep(Sasl),
    /// memcached's commands that inspect or tune the server rather than items
    /// (`cache_memlimit`, `slabs`, `lru_crawler`, `watch`); text only.
    Admin(Admin),
}

/// Retrieve items, optionally touching them or applying meta's anti-dogpile rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Get {
    /// The keys, in request order. Exactly one for meta and binary requests.
    pub keys: Vec<Bytes>,
    /// New expiry time for each hit (gat, gats, mg `T`, binary GAT).
    pub touch: Option<i64>,
    /// mg `N(ttl)`: on a miss, create an empty placeholder with this TTL and win.
    pub vivify: Option<i64>,
    /// mg `R(ttl)`: win the right to recache if the remaining TTL is below this.
    pub recache: Option<i64>,
    /// mg `u`: do not bump the item in the LRU.
    pub no_bump: bool,
    /// The caller needs each hit's remaining TTL ([`ItemMeta::ttl`](crate::ItemMeta)),
    /// though a text `get` shows none: set by a proxy layer that copies hits to
    /// other servers (read-repair), so its backends fetch TTLs; left `false` by the
    /// decoders, since a meta client asks with its own `t` flag. A server may ignore it.
    pub want_ttl: bool,
}

/// How a store request treats an existing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreMode {
    /// Store unconditionally.
    #[default]
    Set,
    /// Store only if the key is absent.
    Add,
    /// Store only if the key is present.
    Replace,
    /// Add the data after the existing value.
    Append,
    /// Add the data before the existing value.
    Prepend,
}

/// Store an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Store {
    /// How to treat an existing item.
    pub mode: StoreMode,
    /// The item's key.
    pub key: Bytes,
    /// Opaque 32-bit client flags stored with the item.
    pub flags: u32,
    /// Expiry as the client sent it: 0 never, up to 30 days relative, else unix time,
    /// negative already expired.
    pub exptime: i64,
    /// The value.
    pub data: Bytes,
    /// Store only if the item's CAS unique equals this (text `cas`, ms `C`, binary CAS).
    pub cas: Option<u64>,
    /// ms `E(token)`: use this as the new CAS unique instead of a generated one.
    pub new_cas: Option<u64>,
    /// ms `I`: with `cas`, a CAS older than the item's marks the item stale instead.
    pub invalidate: bool,
    /// ms `N(ttl)` in append/prepend mode: create the item on a miss with this TTL.
    pub vivify: Option<i64>,
}

/// A store whose value was too large to read; see [`Command::TooLarge`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TooLarge {
    /// How the store would have treated an existing item.
    pub mode: StoreMode,
    /// The item's key.
    pub key: Bytes,
    /// The CAS unique the store was conditional on, if any.
    pub cas: Option<u64>,
}

/// Remove an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delete {
    /// The item's key.
    pub key: Bytes,
    /// Delete only if the item's CAS unique equals this (md `C`, binary CAS).
    pub cas: Option<u64>,
    /// md `I`: mark the item stale instead of removing it.
    pub invalidate: bool,
    /// md `T(ttl)`: with `I`, the stale item's new TTL.
    pub ttl: Option<i64>,
    /// md `E(token)`: the new CAS unique when marking stale.
    pub new_cas: Option<u64>,
}

/// Increment or decrement a decimal counter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arith {
    /// The item's key.
    pub key: Bytes,
    /// `true` to increment (wraps at 2^64), `false` to decrement (floors at 0).
    pub incr: bool,
    /// The amount.
    pub delta: u64,
    /// Apply only if the item's CAS unique equals this (ma `C`, binary CAS).
    pub cas: Option<u64>,
    /// Create the counter on a miss (binary INCR with expiry != 0xffffffff, ma `N`).
    pub create: Option<Vivify>,
    /// ma `T(ttl)`: new expiry on success.
    pub touch: Option<i64>,
    /// ma `E(token)`: the new CAS unique.
    pub new_cas: Option<u64>,
}

/// How a counter is created on a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vivify {
    /// The counter's initial value.
    pub initial: u64,
    /// The new item's expiry.
    pub exptime: i64,
}

/// Change an item's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Touch {
    /// The item's key.
    pub key: Bytes,
    /// The new expiry, by memcached's rules.
    pub exptime: i64,
}

/// Invalidate every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushAll {
    /// Seconds from now (or a unix time, by the TTL rules); 0 means now.
    pub delay: i64,
}

/// One SASL step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sasl {
    /// The mechanism name (the binary request's key).
    pub mechanism: Bytes,
    /// The mechanism's payload (the binary request's value).
    pub data: Bytes,
}

impl Command {
    /// The key this command is about, if it names exactly one (the first one for a
    /// multi-key get). Routers shard on it.
    pub fn key(&self) -> Option<&Bytes> {
        match self {
            Command::Get(g) => g.keys.first(),
            Command::Store(s) => Some(&s.key),
            Command::TooLarge(t) => Some(&t.key),
            Command::Delete(d) => Some(&d.key),
            Command::Arith(a) => Some(&a.key),
            Command::Touch(t) => Some(&t.key),
            Command::Debug(k) => Some(k),
            _ => None,
        }
    }

    /// Whether sending this command twice has the same effect as once, so a router
    /// may retry it or send it to another replica after it reached a backend.
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self,
            Command::Get(_)
                | Command::Touch(_)
                | Command::Version
                | Command::Noop
                | Command::Stats(_)
                | Command::Debug(_)
        )
    }

    /// Whether the command changes an item (or all of them): a store, delete,
    /// incr/decr, touch or flush_all. A proxy sends these to every replica of a key,
    /// and a route by operation sends them to its writes.
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            Command::Store(_)
                | Command::Delete(_)
                | Command::Arith(_)
                | Command::Touch(_)
                | Command::FlushAll(_)
        )
    }
}

/// Which items `lru_crawler metadump` lists (and `lru_crawler crawl` visits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadumpScope {
    /// `all` or `hash`: every item.
    All,
    /// Items of these slab classes (memcached's class of each item's size).
    Classes(Vec<u32>),
    /// A class list memcached refuses (`BADCLASS invalid class id`): memcached
    /// checks it when it runs the command, after parsing.
    BadClass,
}
