//! `lru_crawler metadump`: every live item's key and metadata, in memcached's line
//! format. Each shard's headers are copied a piece at a time under its lock (keys and
//! headers only, no values) and the lines are written after the lock is released.

use bytes::{Bytes, BytesMut};
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
