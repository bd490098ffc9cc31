//! Store counters, kept per shard under the shard's lock and summed on demand, named
//! after the memcached `stats` fields they feed.

/// Counters of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ShardStats {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub evictions: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub reclaimed: u64,
    pub get_expired: u64,
    pub get_flushed: u64,
    pub crawler_reclaimed: u64,
    pub crawler_items_checked: u64,
    pub direct_reclaims: u64,
    pub evicted_nonzero: u64,
    /// The time of the last eviction and the evicted item's idle seconds.
    pub last_eviction: Option<(u32, u32)>,
}

impl ShardStats {
    /// Zeroes the counters `stats reset` zeroes; gauges (items, bytes) stay.
    pub(crate) fn reset(&mut self) {
        *self = ShardStats {
            curr_items: self.curr_items,
            bytes: self.bytes,
            ..ShardStats::default()
        };
    }
}

/// A snapshot of the store's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Items currently indexed (expired ones not yet reclaimed included, as memcached).
    pub curr_items: u64,
    /// Items stored since start (or the last reset).
    pub total_items: u64,
    /// Bytes of the current items: header, key and value.
    pub bytes: u64,
    /// The memory limit (`-m`), in bytes.
    pub limit_maxbytes: u64,
    /// Memory held by item segments and indexes, in bytes (counted against the limit).
    pub memory: u64,
    /// Live items removed to make room.
    pub evictions: u64,
    /// Expired items reclaimed that were never fetched.
    pub expired_unfetched: u64,
    /// Evicted items that were never fetched.
    pub evicted_unfetched: u64,
    /// Expired or flushed items whose memory was reclaimed.
    pub reclaimed: u64,
    /// Client lookups that found an expired item.
    pub get_expired: u64,
    /// Client lookups that found a flushed item.
    pub get_flushed: u64,
    /// Expired or flushed items `lru_crawler crawl` reclaimed.
    pub crawler_reclaimed: u64,
    /// Items `lru_crawler crawl` looked at.
    pub crawler_items_checked: u64,
    /// Segments a client's store compacted to make room (memcached's
    /// `direct_reclaims`: memory reclaimed by a worker rather than in the background).
    pub direct_reclaims: u64,
    /// Evicted items that had an expiry.
    pub evicted_nonzero: u64,
    /// Seconds since the last access of the item evicted last (`evicted_time`).
    pub evicted_time: u32,
    /// Seconds since the last access of the item the eviction hand reaches first
    /// (memcached's `age`); 0 with no items.
    pub oldest_item_age: u32,
    /// Bytes held by the shards' indexes (memcached's `hash_bytes`).
    pub hash_bytes: u64,
    /// Slots in the shards' indexes.
    pub hash_slots: u64,
    /// `curr_items` of each shard, in shard order (shows the key spread).
    pub shard_items: Vec<u64>,
}

impl StoreStats {
    pub(crate) fn add(&mut self, s: &ShardStats) {
        self.curr_items += s.curr_items;
        self.total_items += s.total_items;
        self.bytes += s.bytes;
        self.evictions += s.evictions;
        self.expired_unfetched += s.expired_unfetched;
        self.evicted_unfetched += s.evicted_unfetched;
        self.reclaimed += s.reclaimed;
        self.get_expired += s.get_expired;
        self.get_flushed += s.get_flushed;
        self.crawler_reclaimed += s.crawler_reclaimed;
        self.crawler_items_checked += s.crawler_items_checked;
        self.direct_reclaims += s.direct_reclaims;
        self.evicted_nonzero += s.evicted_nonzero;
        self.shard_items.push(s.curr_items);
    }
}
