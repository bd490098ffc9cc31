//! What the store logs for `watch`: each lookup a client's command makes
//! (`fetchers`), each store's outcome (`mutations`) and each eviction, in memcached's
//! words (see [`crate::watchers::lines`]).

use memkeep_protocol::{Response, Store as StoreRequest, StoreMode, WatchEvents};

use super::item::{self, Header, FETCHED};
use super::shard::{Moment, Shard};
use super::Store;
use crate::watchers::{client_fd, lines, Watchers};

impl Store {
    /// Looks `key` up for a client's command: counts expired and flushed finds and
    /// logs the lookup for `watch fetchers`, as memcached does on every fetch.
    pub(super) fn fetch(
        &self,
        shard: &mut Shard,
        key: &[u8],
        hash: u64,
        m: &Moment,
    ) -> Option<(usize, u64)> {
        let found = shard.fetch(key, hash, m);
        if self.watchers.wants(WatchEvents::FETCHERS) {
            let item = found.map(|(_, handle)| {
                let h = shard.header(handle);
                (
                    class_of(key.len(), h.vlen as usize, h.flags),
                    h.vlen as usize,
                )
            });
            self.watchers.log(
                WatchEvents::FETCHERS,
                &lines::item_get(key, item, client_fd()),
            );
        }
        found
    }

    /// Logs a store's outcome for `watch mutations`: the stored item's size and TTL, or
    /// for a refused store the request's.
    pub(super) fn log_store(&self, s: &StoreRequest, response: &Response, m: &Moment) {
        let Some(status) = lines::store_status(response) else {
            return;
        };
        let (flags, size, ttl) = match response {
            // -1 is "no expiry", which memcached's line shows as 0.
            Response::Stored(meta) if meta.ttl == -1 => (meta.flags, meta.size as usize, 0),
            Response::Stored(meta) => (meta.flags, meta.size as usize, meta.ttl),
            Response::TooLarge => (0, 0, 0),
            _ => {
                let exptime = self.expiry(s.exptime, m);
                let ttl = if exptime == 0 {
                    0
                } else {
                    i64::from(exptime) - i64::from(m.now)
                };
                (s.flags, s.data.len(), ttl)
            }
        };
        let class = match response {
            Response::TooLarge => 0,
            _ => class_of(s.key.len(), size, flags),
        };
        let stored = lines::Stored {
            key: &s.key,
            status,
            cmd: command_name(s.mode, s.cas.is_some()),
            ttl,
            class,
            size,
        };
        self.watchers.log(
            WatchEvents::MUTATIONS,
            &lines::item_store(stored, client_fd()),
        );
    }
}

/// memcached's slab class for an item of this key and value length and flags.
fn class_of(klen: usize, vlen: usize, flags: u32) -> u32 {
    item::memcached_class(item::memcached_size(klen, vlen, flags))
}

/// The command as memcached's log names it: a set or replace with a CAS is a `cas`.
pub(super) fn command_name(mode: StoreMode, cas: bool) -> &'static str {
    match mode {
        StoreMode::Set | StoreMode::Replace if cas => "cas",
        StoreMode::Set => "set",
        StoreMode::Add => "add",
        StoreMode::Replace => "replace",
        StoreMode::Append => "append",
        StoreMode::Prepend => "prepend",
    }
}

/// Logs an eviction for `watch evictions`: the key, whether it was fetched, its
/// remaining TTL (-1 for none), seconds since its last access, its class and size.
pub(super) fn log_eviction(watchers: &Watchers, item_bytes: &[u8], header: &Header, m: &Moment) {
    let ttl = if header.exptime == 0 {
        -1
    } else {
        i64::from(header.exptime) - i64::from(m.now)
    };
    let size = item::memcached_size(header.klen as usize, header.vlen as usize, header.flags);
    let body = lines::eviction(
        item::key(item_bytes),
        header.bits & FETCHED != 0,
        ttl,
        m.now.saturating_sub(header.time),
        item::memcached_class(size),
        header.vlen as usize,
    );
    watchers.log(WatchEvents::EVICTIONS, &body);
}
