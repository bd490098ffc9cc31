//! Listings of item metadata: `lru_crawler metadump` (every live item's key and
//! metadata), `stats cachedump` (the items of one class) and `stats sizes` (item
//! counts by size), in memcached's formats. Each shard's headers are copied a piece at
//! a time under its lock (keys and headers only, no values) and the lines are written
//! after the lock is released.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use memkeep_protocol::MetadumpEntry;

use super::item::{self, Header, FETCHED};
use super::shard::{Moment, Shard};
use super::Store;

impl Store {
    /// The metadump lines of every live item, or of the items in `classes` only
    /// (memcached's slab class of each item's size).
    pub fn metadump(&self, classes: Option<&[u32]>) -> Bytes {
        let mut out = BytesMut::new();
        for (shard, tags) in self
            .shards
            .iter()
            .flat_map(|s| super::tag_pieces().map(move |t| (s, t)))
        {
            let m = self.moment();
            let unix_now = self.unix_now();
            let headers = live_headers(&shard.lock(), &m, tags);
            // memcached's times are relative to its start; metadump prints unix times.
            let unix =
                |relative: u32| (unix_now + u64::from(relative)).saturating_sub(u64::from(m.now));
            for (key, h) in headers {
                let size = item::memcached_size(key.len(), h.vlen as usize, h.flags);
                let class = item::memcached_class(size);
                if classes.is_some_and(|c| !c.contains(&class)) {
                    continue;
                }
                MetadumpEntry {
                    key: key.into(),
                    exp: if h.exptime == 0 {
                        -1
                    } else {
                        unix(h.exptime) as i64
                    },
                    last_access: unix(h.time),
                    cas: h.cas,
                    fetched: h.bits & FETCHED != 0,
                    class,
                    size: size as u32,
                }
                .encode(&mut out);
            }
        }
        out.freeze()
    }
}

/// memcached's cap on a `stats cachedump` reply.
const CACHEDUMP_BYTES: usize = 2 * 1024 * 1024;

impl Store {
    /// `stats cachedump <class> <limit>`: `ITEM <key> [<value bytes> b; <expiry unix
    /// time, 0 for none> s]` for up to `limit` items of memcached class `class` (0
    /// for no limit), at most 2 MiB of lines as memcached, then `END`.
    pub fn cachedump(&self, class: u32, limit: u32) -> Bytes {
        let mut out = BytesMut::new();
        let mut listed = 0;
        'walk: for (shard, tags) in self
            .shards
            .iter()
            .flat_map(|s| super::tag_pieces().map(move |t| (s, t)))
        {
            let m = self.moment();
            let unix_now = self.unix_now();
            for (key, h) in live_headers(&shard.lock(), &m, tags) {
                let size = item::memcached_size(key.len(), h.vlen as usize, h.flags);
                if item::memcached_class(size) != class {
                    continue;
                }
                if limit != 0 && listed == limit {
                    break 'walk;
                }
                let exp = if h.exptime == 0 {
                    0
                } else {
                    (unix_now + u64::from(h.exptime)).saturating_sub(u64::from(m.now))
                };
                let rest = format!(" [{} b; {} s]\r\n", h.vlen, exp);
                if out.len() + 5 + key.len() + rest.len() + 5 > CACHEDUMP_BYTES {
                    break 'walk;
                }
                out.put_slice(b"ITEM ");
                out.put_slice(&key);
                out.put_slice(rest.as_bytes());
                listed += 1;
            }
        }
        out.put_slice(b"END\r\n");
        out.freeze()
    }

    /// `stats sizes`: how many live items there are of each size, memcached's item
    /// size rounded up to 32 bytes.
    pub fn size_histogram(&self) -> BTreeMap<usize, u64> {
        let mut sizes = BTreeMap::new();
        for (shard, tags) in self
            .shards
            .iter()
            .flat_map(|s| super::tag_pieces().map(move |t| (s, t)))
        {
            let m = self.moment();
            for (key, h) in live_headers(&shard.lock(), &m, tags) {
                let size = item::memcached_size(key.len(), h.vlen as usize, h.flags);
                *sizes.entry(size.div_ceil(32) * 32).or_insert(0) += 1;
            }
        }
        sizes
    }
}

fn live_headers(shard: &Shard, m: &Moment, tags: std::ops::Range<u32>) -> Vec<(Vec<u8>, Header)> {
    shard
        .table
        .handles_with_tags(tags)
        .into_iter()
        .filter_map(|handle| {
            let it = shard.arena.item(handle);
            let header = Header::read(it);
            (!m.is_gone(&header)).then(|| (item::key(it).to_vec(), header))
        })
        .collect()
}
