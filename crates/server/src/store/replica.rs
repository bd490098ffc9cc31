//! What replication needs from the store: items applied with the version (CAS), flags
//! and expiry they had on the node that wrote them, kept only when newer than what is
//! here (last writer wins), and CAS uniques that order writes across nodes.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use memkeep_protocol::Value;

use super::item::{self, Header};
use super::{meta, Store};

/// What [`Store::apply_unless`] did with an item from another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored: it is newer than what was here (or nothing was).
    Newer,
    /// The same version and value were here already; the incoming flags and expiry
    /// were taken. Nothing new for this node's other peers.
    Same,
    /// Not stored: the item here is newer, the key was deleted since, or it does not
    /// fit.
    Refused,
}

impl Store {
    /// Makes CAS uniques a hybrid logical clock: each new CAS is the larger of the last
    /// one plus 1 and the wall clock in microseconds, and CAS values seen in replicated
    /// items push it forward ([`Store::apply`]). So a CAS orders writes across nodes
    /// (later writes carry larger ones, with clocks in sync) and a restarted node never
    /// reuses the CAS values of its previous run. Off by default: plain memcached
    /// counts from 1.
    pub fn use_clock_cas(&self) {
        self.clock_cas.store(true, Ordering::Relaxed);
        self.cas.fetch_max(unix_micros(), Ordering::Relaxed);
    }

    pub(super) fn next_clock_cas(&self) -> u64 {
        let now = unix_micros();
        let mut last = self.cas.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .cas
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// A CAS unique newer than every item here: the version of a delete or a flush.
    pub fn fresh_cas(&self) -> u64 {
        self.next_cas()
    }

    /// The store's time in unix seconds (its [`super::Clock`]).
    pub fn unix_now(&self) -> u64 {
        self.clock.unix_seconds()
    }

    /// The CAS below which the last immediate `flush_all` invalidated items.
    pub fn flush_cas(&self) -> u64 {
        self.oldest_cas.load(Ordering::Acquire)
    }

    /// Looks `key` up without any side effect (no LRU bump, no fetched bit, no win).
    pub fn peek(&self, key: &Bytes) -> Option<Value> {
        self.look(key, |_| {})
    }

    /// Like [`Store::peek`], and with a fresh CAS-clock value taken while the key's
    /// shard is locked: newer than every version the key had, older than any it gets
    /// later. It versions what is published from the look: a delete (when the key is
    /// absent) never removes a later write on another node, and of two touches read
    /// back on one node the one that saw the later state carries the later stamp.
    ///
    /// When the key is absent, `absent` gets the stamp with the shard still locked, so
    /// the caller can record the delete before an item from another node can be
    /// applied under the key (see [`Store::apply_unless`]).
    pub fn peek_stamped(&self, key: &Bytes, absent: impl FnOnce(u64)) -> (Option<Value>, u64) {
        let mut stamp = 0;
        let value = self.look(key, |found| {
            stamp = self.next_cas();
            if !found {
                absent(stamp);
            }
        });
        (value, stamp)
    }

    /// The item under `key`; `under_lock` runs while the key's shard is locked, told
    /// whether the key has a live item.
    fn look(&self, key: &Bytes, under_lock: impl FnOnce(bool)) -> Option<Value> {
        let m = self.moment();
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock();
        let found = shard.lookup(key, hash, &m);
        under_lock(found.is_some());
        let (_, handle) = found?;
        let h = shard.header(handle);
        Some(Value {
            key: key.clone(),
            data: Bytes::copy_from_slice(item::value(shard.arena.item(handle))),
            meta: meta(&h, &m),
        })
    }

    /// Gives the item with version `cas` a new expiry (`expires`: unix seconds, 0
    /// for never), as a touch on another node did at CAS-clock time `stamp`. Any
    /// other version of the item is left alone. Returns whether it changed.
    pub fn apply_touch(&self, key: &Bytes, cas: u64, expires: u64, stamp: u64) -> bool {
        self.cas.fetch_max(stamp, Ordering::Relaxed);
        let m = self.moment();
        let exptime = if expires == 0 {
            0
        } else {
            self.expiry(i64::try_from(expires).unwrap_or(i64::MAX), &m)
        };
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock();
        match shard.lookup(key, hash, &m) {
            Some((_, handle)) if shard.header(handle).cas == cas => {
                let mut h = shard.header(handle);
                h.exptime = exptime;
                shard.set_header(handle, &h);
                true
            }
            _ => false,
        }
    }

    /// Stores an item written on another node, with its CAS, flags and absolute expiry
    /// (`expires`: unix seconds, 0 for never), unless the item here is newer: a larger
    /// CAS wins; on equal CAS the larger value (bytewise) wins, and an equal value takes
    /// the incoming flags and expiry (a replicated touch). Returns whether it stored.
    pub fn apply(&self, key: &Bytes, data: &[u8], flags: u32, expires: u64, cas: u64) -> bool {
        self.apply_unless(key, data, flags, expires, cas, || false) != Applied::Refused
    }

    /// [`Store::apply`], unless `refused` says no with the key's shard locked: the
    /// check that the key was not deleted since (by a version at least `cas`) must
    /// not race a delete on this node, which records itself under the same lock
    /// ([`Store::peek_stamped`]). Says whether the item was news here, so that
    /// replication forwards only what changed the store.
    pub fn apply_unless(
        &self,
        key: &Bytes,
        data: &[u8],
        flags: u32,
        expires: u64,
        cas: u64,
        refused: impl FnOnce() -> bool,
    ) -> Applied {
        self.cas.fetch_max(cas, Ordering::Relaxed);
        let m = self.moment();
        let size = item::memcached_size(key.len(), data.len(), flags);
        if size > self.config.max_item_size || key.len() > usize::from(u8::MAX) {
            return Applied::Refused;
        }
        let exptime = if expires == 0 {
            0
        } else {
            // Past the 30-day bound the TTL rules read a unix time.
            self.expiry(i64::try_from(expires).unwrap_or(i64::MAX), &m)
        };
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock();
        if refused() {
            return Applied::Refused;
        }
        if let Some((_, handle)) = shard.lookup(key, hash, &m) {
            let mut h = shard.header(handle);
            let here = item::value(shard.arena.item(handle));
            if h.cas > cas || (h.cas == cas && here > data) {
                return Applied::Refused;
            }
            if h.cas == cas && here == data {
                h.flags = flags;
                h.exptime = exptime;
                shard.set_header(handle, &h);
                return Applied::Same;
            }
        }
        let header = Header {
            cas,
            flags,
            exptime,
            time: m.now,
            vlen: data.len() as u32,
            klen: key.len() as u8,
            bits: 0,
        };
        match shard.link(key, hash, &header, &[data], &m) {
            Ok(_) => Applied::Newer,
            Err(_) => Applied::Refused,
        }
    }

    /// Removes `key` if its item is not newer than `cas` (a delete made on another node
    /// with that version). Returns whether an item was removed.
    pub fn apply_delete(&self, key: &Bytes, cas: u64) -> bool {
        self.cas.fetch_max(cas, Ordering::Relaxed);
        let m = self.moment();
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock();
        match shard.lookup(key, hash, &m) {
            Some((slot, handle)) if shard.header(handle).cas <= cas => {
                shard.remove(slot, handle, &m);
                true
            }
            _ => false,
        }
    }

    /// Applies a `flush_all` made on another node: `at` is its unix time (0: now) and
    /// `cas` the CAS below which it invalidated items there.
    pub fn apply_flush(&self, at: u64, cas: u64) {
        self.cas.fetch_max(cas, Ordering::Relaxed);
        let now = self.unix_now();
        if at > now {
            self.flush_all(i64::try_from(at).unwrap_or(i64::MAX));
            return;
        }
        let m = self.moment();
        self.oldest_cas.store(cas.max(1), Ordering::Release);
        self.oldest_live
            .store(m.now.saturating_sub(1), Ordering::Release);
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[test]
    fn newer_cas_wins_and_ties_converge() {
        let s = Store::new(StoreConfig::default());
        assert!(s.apply(&key("k"), b"a", 1, 0, 10));
        assert!(!s.apply(&key("k"), b"old", 1, 0, 9));
        assert!(s.apply(&key("k"), b"b", 2, 0, 11));
        // Equal CAS: the larger value wins whichever order the two arrive in.
        assert!(!s.apply(&key("k"), b"a", 2, 0, 11));
        assert!(s.apply(&key("k"), b"c", 2, 0, 11));
        let v = s.peek(&key("k")).unwrap();
        assert_eq!((&v.data[..], v.meta.flags, v.meta.cas), (&b"c"[..], 2, 11));
        // Same value and CAS: a replicated touch takes the new expiry.
        let later = s.unix_now() + 100;
        assert!(s.apply(&key("k"), b"c", 2, later, 11));
        assert!((99..=100).contains(&s.peek(&key("k")).unwrap().meta.ttl));
        // New local CAS values come after what was applied.
        assert!(s.fresh_cas() > 11);
    }

    #[test]
    fn deletes_only_remove_older_items() {
        let s = Store::new(StoreConfig::default());
        s.apply(&key("k"), b"a", 0, 0, 10);
        assert!(!s.apply_delete(&key("k"), 9));
        assert!(s.apply_delete(&key("k"), 10));
        assert!(s.peek(&key("k")).is_none());
    }

    #[test]
    fn clock_cas_follows_the_wall_clock() {
        let s = Store::new(StoreConfig::default());
        assert!(s.fresh_cas() < 10);
        s.use_clock_cas();
        let a = s.fresh_cas();
        assert!(a > 1_600_000_000_000_000);
        assert!(s.fresh_cas() > a);
    }

    #[test]
    fn applied_flush_keeps_later_items() {
        let s = Store::new(StoreConfig::default());
        s.use_clock_cas();
        s.apply(&key("old"), b"a", 0, 0, 5);
        let cas = s.fresh_cas();
        s.apply_flush(0, cas);
        assert!(s.peek(&key("old")).is_none());
        s.apply(&key("new"), b"b", 0, 0, cas + 1);
        assert!(s.peek(&key("new")).is_some());
    }

    #[test]
    fn a_delete_recorded_under_the_lock_refuses_an_older_copy() {
        use std::sync::atomic::AtomicU64;
        let s = Store::new(StoreConfig::default());
        s.apply(&key("k"), b"a", 0, 0, 10);
        // Present: no delete to record.
        let recorded = AtomicU64::new(0);
        let (found, _) = s.peek_stamped(&key("k"), |c| recorded.store(c, Ordering::Relaxed));
        assert!(found.is_some());
        assert_eq!(recorded.load(Ordering::Relaxed), 0);
        // Absent: the delete's version is handed over with the shard locked, newer
        // than the item the key had.
        assert!(s.apply_delete(&key("k"), 10));
        let (found, stamp) = s.peek_stamped(&key("k"), |c| recorded.store(c, Ordering::Relaxed));
        assert!(found.is_none());
        assert_eq!(recorded.load(Ordering::Relaxed), stamp);
        assert!(stamp > 10);
        // An older copy that the recorded delete refuses is not stored.
        let recorded = &recorded;
        let deleted_since = |cas: u64| move || recorded.load(Ordering::Relaxed) >= cas;
        assert_eq!(
            s.apply_unless(&key("k"), b"a", 0, 0, 10, deleted_since(10)),
            Applied::Refused
        );
        assert!(s.peek(&key("k")).is_none());
        assert_eq!(
            s.apply_unless(&key("k"), b"b", 0, 0, stamp + 1, deleted_since(stamp + 1)),
            Applied::Newer
        );
        assert_eq!(
            s.apply_unless(&key("k"), b"b", 0, 0, stamp + 1, || false),
            Applied::Same
        );
        assert!(s.peek(&key("k")).is_some());
    }
}
