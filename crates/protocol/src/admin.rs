//! memcached's administrative commands: the ones that tune or inspect the server itself
//! rather than items (`cache_memlimit`, `slabs`, `lru_crawler`, `lru`, `watch`). Text only;
//! each is answered with one line, except `watch`, which turns its connection into a
//! stream of log lines.

use crate::request::MetadumpScope;

/// One administrative command, its arguments checked as memcached 1.6.18 checks them
/// (a server decides the rest: whether a class exists, whether a limit can be set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// `cache_memlimit <megabytes>`: change the memory limit.
    CacheMemlimit(u32),
    /// `slabs automove <0|1|2>`: how eagerly memcached moves slab pages between classes.
    SlabsAutomove(u32),
    /// `slabs automove ratio <ratio>`: the free-memory ratio automove aims for.
    SlabsAutomoveRatio(Ratio),
    /// `slabs reassign <src> <dst>`: move one slab page between classes (`-1` as the
    /// source: any class with a page to spare; `0`: the global page pool).
    SlabsReassign {
        /// The class giving a page.
        src: i32,
        /// The class taking it.
        dst: i32,
    },
    /// `lru_crawler enable` (`true`) or `lru_crawler disable` (`false`).
    LruCrawler(bool),
    /// `lru_crawler sleep <microseconds>`: the crawler's pause between items (at most a
    /// second).
    LruCrawlerSleep(u32),
    /// `lru_crawler tocrawl <n>`: items to examine per class and run, 0 for all.
    LruCrawlerToCrawl(u32),
    /// `lru_crawler crawl <all|classes>`: reclaim the expired items of these classes
    /// now. `None` for `hash`, a metadump mode that a crawl refuses.
    LruCrawlerCrawl(Option<MetadumpScope>),
    /// `watch [event kinds]`: stream log lines about these events to the connection.
    Watch(WatchEvents),
    /// `lru mode flat|segmented`: `true` for memcached's segmented LRU.
    LruMode(bool),
    /// `lru tune <hot pct> <warm pct> <hot max factor> <warm max factor>`: the shares
    /// and age limits of memcached's segmented LRU.
    LruTune {
        /// Percent of a class's memory for the hot LRU.
        hot_pct: u32,
        /// Percent for the warm LRU.
        warm_pct: u32,
        /// How much older than the cold LRU's tail the hot LRU's may be.
        hot_factor: Ratio,
        /// How much older than the cold LRU's tail the warm LRU's may be.
        warm_factor: Ratio,
    },
    /// `lru temp_ttl <seconds>`: items with a TTL under this go to the temporary
    /// LRU; a negative number turns that LRU off.
    LruTempTtl(i32),
    /// `refresh_certs`: read the TLS certificate files again for new connections.
    RefreshCerts,
}

/// A decimal ratio (`slabs automove ratio`), compared bit for bit so commands stay
/// `Eq`.
#[derive(Debug, Clone, Copy)]
pub struct Ratio(pub f64);

impl PartialEq for Ratio {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Ratio {}

/// The kinds of events a `watch` connection asks for, as memcached names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchEvents(u16);

impl WatchEvents {
    /// Every raw command line (`rawcmds`).
    pub const RAWCMDS: WatchEvents = WatchEvents(1);
    /// Items evicted to make room (`evictions`).
    pub const EVICTIONS: WatchEvents = WatchEvents(1 << 1);
    /// Item lookups (`fetchers`); what a bare `watch` streams.
    pub const FETCHERS: WatchEvents = WatchEvents(1 << 2);
    /// Item stores (`mutations`).
    pub const MUTATIONS: WatchEvents = WatchEvents(1 << 3);
    /// Background work: crawler runs, slab moves (`sysevents`).
    pub const SYSEVENTS: WatchEvents = WatchEvents(1 << 4);
    /// Connections opened and closed (`connevents`).
    pub const CONNEVENTS: WatchEvents = WatchEvents(1 << 5);
    /// memcached's built-in proxy's requests (`proxyreqs`).
    pub const PROXYREQS: WatchEvents = WatchEvents(1 << 6);
    /// memcached's built-in proxy's events (`proxyevents`).
    pub const PROXYEVENTS: WatchEvents = WatchEvents(1 << 7);
    /// memcached's built-in proxy's user log lines (`proxyuser`).
    pub const PROXYUSER: WatchEvents = WatchEvents(1 << 8);

    const NAMES: [(&'static [u8], WatchEvents); 9] = [
        (b"rawcmds", Self::RAWCMDS),
        (b"evictions", Self::EVICTIONS),
        (b"fetchers", Self::FETCHERS),
        (b"mutations", Self::MUTATIONS),
        (b"sysevents", Self::SYSEVENTS),
        (b"connevents", Self::CONNEVENTS),
        (b"proxyreqs", Self::PROXYREQS),
        (b"proxyevents", Self::PROXYEVENTS),
        (b"proxyuser", Self::PROXYUSER),
    ];

    /// No kind at all.
    pub const fn none() -> Self {
        WatchEvents(0)
    }

    /// The kind `watch` names so (case matters, as in memcached).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, kind)| kind)
    }

    /// The names of the kinds in the set, in memcached's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |&(_, kind)| self.contains(kind))
            .map(|(name, _)| std::str::from_utf8(name).unwrap_or_default())
    }

    /// Both sets together.
    pub const fn with(self, other: WatchEvents) -> Self {
        WatchEvents(self.0 | other.0)
    }

    /// Whether every kind of `other` is in the set.
    pub const fn contains(self, other: WatchEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the sets share a kind.
    pub const fn intersects(self, other: WatchEvents) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set as bits (for storing in an atomic).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// A set from [`Self::bits`].
    pub const fn from_bits(bits: u16) -> Self {
        WatchEvents(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_event_names() {
        let set = WatchEvents::from_name(b"fetchers")
            .unwrap()
            .with(WatchEvents::from_name(b"evictions").unwrap());
        assert!(set.contains(WatchEvents::FETCHERS));
        assert!(!set.contains(WatchEvents::MUTATIONS));
        assert_eq!(set.names().collect::<Vec<_>>(), ["evictions", "fetchers"]);
        assert_eq!(WatchEvents::from_name(b"FETCHERS"), None);
        assert_eq!(WatchEvents::from_bits(set.bits()), set);
    }
}
