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
        self.shard_items.push(s.curr_items);
    }
}
