//! How a request was written: the dialect, the verb and the reply options. A reply is
//! encoded from the [`Form`] of the request it answers, so it reads exactly as
//! memcached would have written it to that client.

use bytes::Bytes;

/// The dialect and reply options of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// The classic text protocol.
    Text(TextForm),
    /// The meta text protocol (mg, ms, md, ma, mn, me).
    Meta(MetaForm),
    /// The binary protocol.
    Binary(BinaryForm),
}

/// The three wire dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// The classic text protocol.
    Text,
    /// The meta text protocol.
    Meta,
    /// The binary protocol.
    Binary,
}

impl Form {
    /// The dialect this form belongs to.
    pub fn dialect(&self) -> Dialect {
        match self {
            Form::Text(_) => Dialect::Text,
            Form::Meta(_) => Dialect::Meta,
            Form::Binary(_) => Dialect::Binary,
        }
    }

    /// Whether memcached removes the key's old value when a store in this form fails
    /// for want of room (a value too large for the item size limit, or no memory left),
    /// so that the failed write leaves no stale value readable: text `set` (not `cas`,
    /// `add`, `replace`, `append` or `prepend`), every `ms` whatever its mode, and
    /// binary SET and SETQ (checked against memcached 1.6.18).
    pub fn failed_store_unlinks(&self) -> bool {
        use crate::binary::opcode::{SET, SETQ};
        match self {
            Form::Text(f) => f.verb == TextVerb::Set,
            Form::Meta(f) => f.verb == MetaVerb::Set,
            Form::Binary(f) => matches!(f.opcode, SET | SETQ),
        }
    }
}

/// A classic text request's verb and `noreply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextForm {
    /// The verb the client used.
    pub verb: TextVerb,
    /// `noreply`: write nothing back unless it is an error.
    pub noreply: bool,
}

/// The verbs of memcached's classic text protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the verbs
pub enum TextVerb {
    Get,
    Gets,
    Gat,
    Gats,
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
    Delete,
    Incr,
    Decr,
    Touch,
    FlushAll,
    Stats,
    Version,
    Verbosity,
    Quit,
    Shutdown,
    /// `lru_crawler`.
    LruCrawler,
    /// `cache_memlimit`.
    CacheMemlimit,
    /// `slabs`.
    Slabs,
    /// `watch`.
    Watch,
    /// `lru` (`lru mode|tune|temp_ttl ...`).
    Lru,
    /// `refresh_certs`.
    RefreshCerts,
}

impl TextVerb {
    /// The verb as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TextVerb::Get => "get",
            TextVerb::Gets => "gets",
            TextVerb::Gat => "gat",
            TextVerb::Gats => "gats",
            TextVerb::Set => "set",
            TextVerb::Add => "add",
            TextVerb::Replace => "replace",
            TextVerb::Append => "append",
            TextVerb::Prepend => "prepend",
            TextVerb::Cas => "cas",
            TextVerb::Delete => "delete",
            TextVerb::Incr => "incr",
            TextVerb::Decr => "decr",
            TextVerb::Touch => "touch",
            TextVerb::LruCrawler => "lru_crawler",
            TextVerb::CacheMemlimit => "cache_memlimit",
            TextVerb::Slabs => "slabs",
            TextVerb::Watch => "watch",
            TextVerb::Lru => "lru",
            TextVerb::RefreshCerts => "refresh_certs",
            TextVerb::FlushAll => "flush_all",
            TextVerb::Stats => "stats",
            TextVerb::Version => "version",
            TextVerb::Verbosity => "verbosity",
            TextVerb::Quit => "quit",
            TextVerb::Shutdown => "shutdown",
        }
    }
}

/// A meta request's reply options: which flags to return, in the client's order, the
/// opaque token and the key as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetaForm {
    /// The verb the client used; a reply (`HD` above all) means something different
    /// for each.
    pub verb: MetaVerb,
    /// The key as sent (base64 text when `b` is among the flags); echoed by `k`.
    pub key: Bytes,
    /// Flags that only shape the reply (b c f h k l O q s t v u ...), in request order.
    pub returns: ReturnFlags,
    /// `O(token)`: echoed back verbatim in the reply.
    pub opaque: Option<Bytes>,
}

impl MetaForm {
    /// `q`: suppress the replies memcached suppresses for this verb (EN for mg, HD
    /// for ms/md/ma; errors, NS, EX and NF are always written).
    pub fn quiet(&self) -> bool {
        self.returns.contains(b'q')
    }

    /// `b`: the key is base64 encoded on the wire.
    pub fn base64(&self) -> bool {
        self.returns.contains(b'b')
    }
}

/// The meta protocol's verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetaVerb {
    /// `mg`: fetch an item.
    #[default]
    Get,
    /// `ms`: store an item.
    Set,
    /// `md`: delete (or invalidate) an item.
    Delete,
    /// `ma`: increment or decrement a counter.
    Arith,
    /// `mn`: no-op.
    Noop,
    /// `me`: describe an item.
    Debug,
}

impl MetaVerb {
    /// The verb as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MetaVerb::Get => "mg",
            MetaVerb::Set => "ms",
            MetaVerb::Delete => "md",
            MetaVerb::Arith => "ma",
            MetaVerb::Noop => "mn",
            MetaVerb::Debug => "me",
        }
    }
}

/// Up to 16 single-letter meta flags in the order the client wrote them. Fixed size
/// so a meta request needs no allocation for its reply options.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ReturnFlags {
    letters: [u8; 16],
    len: u8,
}

impl ReturnFlags {
    /// The most flags one request may carry.
    pub const CAPACITY: usize = 16;

    /// Builds from letters; `None` if there are more than [`Self::CAPACITY`].
    pub fn from_letters(letters: &[u8]) -> Option<Self> {
        let mut flags = ReturnFlags::default();
        for &l in letters {
            if !flags.push(l) {
                return None;
            }
        }
        Some(flags)
    }

    /// Appends a letter; `false` if full.
    pub fn push(&mut self, letter: u8) -> bool {
        if usize::from(self.len) == Self::CAPACITY {
            return false;
        }
        self.letters[usize::from(self.len)] = letter;
        self.len += 1;
        true
    }

    /// Whether the letter is present.
    pub fn contains(&self, letter: u8) -> bool {
        self.as_slice().contains(&letter)
    }

    /// The letters in order.
    pub fn as_slice(&self) -> &[u8] {
        &self.letters[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for ReturnFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReturnFlags({:?})",
            String::from_utf8_lossy(self.as_slice())
        )
    }
}

/// A binary request's header fields that the reply echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryForm {
    /// The request opcode (quiet and K variants included).
    pub opcode: u8,
    /// The opaque field, echoed in the reply.
    pub opaque: u32,
    /// The request key, echoed by the K variants (GETK, GATK) even on a miss.
    pub key: Bytes,
}
