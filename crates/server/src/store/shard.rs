//! One shard: the index, the item memory and the eviction hand, behind one mutex.
//! Eviction is CLOCK at segment granularity: the hand takes the oldest segment, drops
//! its dead, expired, flushed and (when full) unreferenced items, clears the reference
//! bit of the rest, compacts the survivors to the segment's front and moves it to the
//! back of the FIFO, where its free tail takes new items.

use std::sync::Arc;

use ahash::RandomState;
use memkeep_protocol::WatchEvents;

use super::arena::{self, Arena};
use super::item::{self, Header, DEAD, FETCHED, REFERENCED};
use super::logging::log_eviction;
use super::stats::ShardStats;
use super::table::{tag_of, Table};
use crate::watchers::Watchers;

/// The time and flush state one operation is decided at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment {
    /// memcached's relative `current_time`.
    pub now: u32,
    /// Items last updated at or before this relative time are flushed, once `now`
    /// reaches it; 0 when no flush is set.
    pub oldest_live: u32,
    /// With an immediate flush, items whose CAS is below this are flushed too.
    pub oldest_cas: u64,
}

impl Moment {
    /// Whether an item with `header` can no longer be returned (memcached's
    /// `item_is_flushed` or expiry check).
    #[inline]
    pub(crate) fn is_gone(&self, header: &Header) -> bool {
        header.is_expired(self.now) || self.is_flushed(header)
    }

    #[inline]
    fn is_flushed(&self, h: &Header) -> bool {
        self.oldest_live != 0
            && self.oldest_live <= self.now
            && (h.time <= self.oldest_live
                || (self.oldest_cas != 0 && h.cas != 0 && h.cas < self.oldest_cas))
    }
}

/// The shard has no room for the item and may not (or cannot) evict enough.
#[derive(Debug)]
pub(crate) struct OutOfMemory;

/// Why an item leaves the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Deleted or replaced by a client.
    Removed,
    /// Found expired or flushed.
    Reclaimed,
    /// Pushed out to make room.
    Evicted,
    /// Found expired or flushed by `lru_crawler crawl`.
    Crawled,
}

/// One shard of the store.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) table: Table,
    pub(crate) arena: Arena,
    hasher: RandomState,
    /// Memory budget for segments plus the table.
    limit: usize,
    evict: bool,
    /// Without eviction: the moment of the last sweep that freed nothing. Until an
    /// item is removed or replaced, or time or the flush state moves, another sweep
    /// would free nothing either, so a full `-M` store answers at once instead of
    /// scanning every item on every set.
    swept_full_at: Option<(u32, u32, u64)>,
    pub(crate) stats: ShardStats,
    /// Where evictions are logged for `watch evictions`.
    watchers: Arc<Watchers>,
}

impl Shard {
    pub(crate) fn new(
        hasher: RandomState,
        limit: usize,
        evict: bool,
        watchers: Arc<Watchers>,
    ) -> Self {
        // Segments of 1/16 of the budget, 64 KiB to 1 MiB: small budgets still get
        // enough segments for the hand to choose among.
        let segment_size = (limit / 16)
            .clamp(64 * 1024, arena::MAX_SEGMENT)
            .min(limit.max(1024));
        Shard {
            table: Table::new(),
            arena: Arena::new(segment_size),
            hasher,
            limit,
            evict,
            swept_full_at: None,
            stats: ShardStats::default(),
            watchers,
        }
    }

    /// Changes the memory budget (`cache_memlimit`). A smaller one is reached as new
    /// items make room: the eviction hand frees segments until memory fits.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.swept_full_at = None;
    }

    /// Memory held: segments plus the table.
    pub(crate) fn memory(&self) -> usize {
        self.arena.allocated + self.table.bytes()
    }

    /// The slot and handle of `key`, whether or not the item is still valid.
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Option<(usize, u64)> {
        let arena = &self.arena;
        self.table
            .find(tag_of(hash), |h| item::key(arena.item(h)) == key)
            .map(|slot| (slot, self.table.handle_at(slot)))
    }

    /// Reads the index slot and the start of the item that a lookup of `hash` will
    /// read first, and returns a byte of them: called for many keys before any is
    /// looked up, so that their cache misses overlap instead of coming one by one.
    #[inline]
    pub(crate) fn touch_for(&self, hash: u64) -> u8 {
        match self.table.home_handle(tag_of(hash)) {
            Some(handle) => self.arena.item(handle).first().copied().unwrap_or(0),
            None => 0,
        }
    }

    /// The live item for `key`: expired and flushed items are reclaimed on the way.
    #[inline]
    pub(crate) fn lookup(&mut self, key: &[u8], hash: u64, m: &Moment) -> Option<(usize, u64)> {
        let (slot, handle) = self.find(key, hash)?;
        let header = Header::read(self.arena.item(handle));
        if m.is_gone(&header) {
            self.unlink(slot, handle, &header, Exit::Reclaimed, m);
            return None;
        }
        Some((slot, handle))
    }

    /// [`Shard::lookup`] for a client's command: an item found expired or flushed is
    /// counted in `get_expired` or `get_flushed`, as memcached counts its fetches.
    #[inline]
    pub(crate) fn fetch(&mut self, key: &[u8], hash: u64, m: &Moment) -> Option<(usize, u64)> {
        let (slot, handle) = self.find(key, hash)?;
        let header = Header::read(self.arena.item(handle));
        if m.is_gone(&header) {
            if header.is_expired(m.now) {
                self.stats.get_expired += 1;
            } else {
                self.stats.get_flushed += 1;
            }
            self.unlink(slot, handle, &header, Exit::Reclaimed, m);
            return None;
        }
        Some((slot, handle))
    }

    /// The header of the item at `handle`.
    #[inline]
    pub(crate) fn header(&self, handle: u64) -> Header {
        Header::read(self.arena.item(handle))
    }

    /// Rewrites the header of the item at `handle`.
    #[inline]
    pub(crate) fn set_header(&mut self, handle: u64, header: &Header) {
        header.write(self.arena.item_mut(handle));
    }

    /// Removes a client-deleted item from slot `slot`.
    pub(crate) fn remove(&mut self, slot: usize, handle: u64, m: &Moment) {
        let header = self.header(handle);
        self.unlink(slot, handle, &header, Exit::Removed, m);
    }

    fn unlink(&mut self, slot: usize, handle: u64, header: &Header, why: Exit, m: &Moment) {
        self.swept_full_at = None;
        self.table.remove_at(slot);
        item::set_bits(self.arena.item_mut(handle), header.bits | DEAD);
        self.count_exit(header, why, m);
    }

    fn count_exit(&mut self, header: &Header, why: Exit, m: &Moment) {
        let s = &mut self.stats;
        s.curr_items -= 1;
        s.bytes -= header.total_len() as u64;
        let unfetched = header.bits & FETCHED == 0;
        match why {
            Exit::Removed => {}
            Exit::Reclaimed => {
                s.reclaimed += 1;
                if unfetched && header.is_expired(m.now) {
                    s.expired_unfetched += 1;
                }
            }
            Exit::Evicted => {
                s.evictions += 1;
                if unfetched {
                    s.evicted_unfetched += 1;
                }
                if header.exptime != 0 {
                    s.evicted_nonzero += 1;
                }
                s.last_eviction = Some((m.now, m.now.saturating_sub(header.time)));
            }
            Exit::Crawled => {
                s.crawler_reclaimed += 1;
                if unfetched && header.is_expired(m.now) {
                    s.expired_unfetched += 1;
                }
            }
        }
    }

    /// Stores a new item for `key` (header, then the value in parts), replacing any
    /// item with that key. Makes room first, which may evict, compact and move other
    /// items, so handles taken before this call are stale afterwards.
    pub(crate) fn link(
        &mut self,
        key: &[u8],
        hash: u64,
        header: &Header,
        value: &[&[u8]],
        m: &Moment,
    ) -> Result<u64, OutOfMemory> {
        let size = header.total_len();
        let seg = self.make_room(size, m)?;
        let handle = self.arena.append(seg, header, key, value);
        match self.find(key, hash) {
            Some((slot, old)) => {
                self.swept_full_at = None;
                let old_header = self.header(old);
                item::set_bits(self.arena.item_mut(old), old_header.bits | DEAD);
                self.table.set_handle(slot, handle);
                self.stats.bytes -= old_header.total_len() as u64;
            }
            None => {
                self.table.insert(tag_of(hash), handle);
                self.stats.curr_items += 1;
            }
        }
        self.stats.bytes += size as u64;
        self.stats.total_items += 1;
        Ok(handle)
    }

    /// A segment with `size` free bytes at its end, allocating or evicting as needed.
    fn make_room(&mut self, size: usize, m: &Moment) -> Result<u32, OutOfMemory> {
        let dedicated = size > self.arena.segment_size;
        if !dedicated {
            if let Some(head) = self.arena.head {
                if self.arena.room(head) >= size {
                    return Ok(head);
                }
            }
        }
        let capacity = if dedicated {
            size
        } else {
            self.arena.segment_size
        };
        // Each pass of the hand clears reference bits, so two full turns always free
        // what can be freed; without eviction one turn finds every dead byte.
        let turns = if self.evict { 2 } else { 1 };
        let mut budget = turns * self.arena.fifo.len() + 1;
        let moment = (m.now, m.oldest_live, m.oldest_cas);
        if self.swept_full_at == Some(moment) && self.memory() + capacity > self.limit {
            return Err(OutOfMemory);
        }
        loop {
            if self.memory() + capacity <= self.limit {
                let seg = self.arena.allocate(capacity).ok_or(OutOfMemory)?;
                if !dedicated {
                    self.arena.head = Some(seg);
                }
                return Ok(seg);
            }
            if budget == 0 {
                self.swept_full_at = Some(moment);
                return Err(OutOfMemory);
            }
            budget -= 1;
            let victim = self.arena.fifo.pop_front().ok_or(OutOfMemory)?;
            // The client's own thread reclaims memory: memcached's direct reclaim.
            self.stats.direct_reclaims += 1;
            self.compact(victim, m);
            let normal = self.arena.is_normal(victim);
            if !dedicated && normal && self.arena.room(victim) >= size {
                self.arena.fifo.push_back(victim);
                self.arena.head = Some(victim);
                return Ok(victim);
            }
            if self.arena.len(victim) == 0 {
                self.arena.free(victim);
            } else {
                self.arena.fifo.push_back(victim);
            }
        }
    }

    /// One step of the hand over segment `seg`: drops what may go, keeps the rest at
    /// the segment's front with their reference bits cleared.
    fn compact(&mut self, seg: u32, m: &Moment) {
        let mut buf = self.arena.take(seg);
        let (mut read, mut write) = (0, 0);
        while read < buf.len() {
            let len = item::total_len(&buf[read..]);
            let header = Header::read(&buf[read..]);
            if header.bits & DEAD == 0 {
                let old = arena::handle(seg, read);
                let hash = self.hasher.hash_one(item::key(&buf[read..read + len]));
                let slot = self
                    .table
                    .find_handle(tag_of(hash), old)
                    .expect("a live item is indexed");
                let why = if m.is_gone(&header) {
                    Some(Exit::Reclaimed)
                } else if self.evict && header.bits & REFERENCED == 0 {
                    Some(Exit::Evicted)
                } else {
                    None
                };
                match why {
                    Some(why) => {
                        if why == Exit::Evicted && self.watchers.wants(WatchEvents::EVICTIONS) {
                            log_eviction(&self.watchers, &buf[read..read + len], &header, m);
                        }
                        self.table.remove_at(slot);
                        self.count_exit(&header, why, m);
                    }
                    None => {
                        buf.copy_within(read..read + len, write);
                        item::set_bits(&mut buf[write..], header.bits & !REFERENCED);
                        self.table.set_handle(slot, arena::handle(seg, write));
                        write += len;
                    }
                }
            }
            read += len;
        }
        buf.truncate(write);
        self.arena.put(seg, buf);
        if self.arena.head == Some(seg) && write == 0 && !self.arena.is_normal(seg) {
            self.arena.head = None;
        }
    }

    /// Reclaims the expired and flushed items among those with hash tags in `tags`
    /// whose memcached class `counts` admits (`lru_crawler crawl`); `counts` is told
    /// each item's class and says whether to look at it.
    pub(crate) fn crawl(
        &mut self,
        m: &Moment,
        tags: std::ops::Range<u32>,
        mut counts: impl FnMut(u32) -> bool,
    ) {
        for handle in self.table.handles_with_tags(tags) {
            let it = self.arena.item(handle);
            let header = Header::read(it);
            let size =
                item::memcached_size(header.klen as usize, header.vlen as usize, header.flags);
            if !counts(item::memcached_class(size)) {
                continue;
            }
            self.stats.crawler_items_checked += 1;
            if m.is_gone(&header) {
                let hash = self.hasher.hash_one(item::key(it));
                if let Some(slot) = self.table.find_handle(tag_of(hash), handle) {
                    self.unlink(slot, handle, &header, Exit::Crawled, m);
                }
            }
        }
    }

    /// When the item the eviction hand will reach first was last accessed: the first
    /// live item of the oldest segment (memcached's `age`: its LRU tail's).
    pub(crate) fn oldest_access(&self, m: &Moment) -> Option<u32> {
        let seg = *self.arena.fifo.front()?;
        let mut offset = 0;
        while offset < self.arena.len(seg) {
            let item = self.arena.item(arena::handle(seg, offset));
            let header = Header::read(item);
            if header.bits & DEAD == 0 && !m.is_gone(&header) {
                return Some(header.time);
            }
            offset += item::total_len(item);
        }
        None
    }

    /// Copies out every live item as (key, header, value).
    pub(crate) fn live_items_with_tags(
        &self,
        m: &Moment,
        tags: std::ops::Range<u32>,
    ) -> Vec<(Vec<u8>, Header, Vec<u8>)> {
        self.table
            .handles_with_tags(tags)
            .into_iter()
            .filter_map(|h| {
                let it = self.arena.item(h);
                let header = Header::read(it);
                (!m.is_gone(&header))
                    .then(|| (item::key(it).to_vec(), header, item::value(it).to_vec()))
            })
            .collect()
    }
}
