//! The commands: how get, store, delete, arith and touch change one shard, decided
//! exactly as memcached 1.6 decides them (`process_mget_command`, `do_store_item`,
//! `do_add_delta`, `process_mdelete_command`).

use bytes::Bytes;
use memkeep_protocol::{
    Arith, Delete, Get, ItemMeta, Response, Store as StoreRequest, StoreMode, Value, WatchEvents,
};

use super::item::{self, Header, FETCHED, REFERENCED, STALE, TOKEN_SENT};
use super::logging::command_name;
use super::shard::{Moment, Shard};
use super::{meta, Store};
use crate::watchers::{client_fd, lines};

impl Store {
    /// Looks `key` up, applying `get`'s touch (gat, mg `T`), vivify (mg `N`), recache
    /// (mg `R`), stale/win rules and `no_bump` (mg `u`). `None` is a miss.
    pub fn get(&self, key: &Bytes, get: &Get) -> Option<Value> {
        self.get_hashed(key, self.hash(key), get)
    }

    /// [`Store::get`] with the key's hash already computed.
    pub(super) fn get_hashed(&self, key: &Bytes, hash: u64, get: &Get) -> Option<Value> {
        let mut data = Bytes::new();
        let meta = self.get_locked(key, hash, get, &self.moment(), |value| {
            data = Bytes::copy_from_slice(value)
        })?;
        Some(Value {
            key: key.clone(),
            data,
            meta,
        })
    }

    /// The lookup of [`Store::get`] at moment `m`: the hit's metadata, its value handed
    /// to `copy_value` while the shard is held (the caller decides where the bytes go,
    /// so a multi-get can put all its values in one buffer).
    pub(super) fn get_locked(
        &self,
        key: &[u8],
        hash: u64,
        get: &Get,
        m: &Moment,
        copy_value: impl FnOnce(&[u8]),
    ) -> Option<ItemMeta> {
        let m = *m;
        let mut shard = self.shard(hash).lock();
        let (handle, created) = match self.fetch(&mut shard, key, hash, &m) {
            Some((_, handle)) => (handle, false),
            None => {
                let ttl = get.vivify?;
                let header = Header {
                    cas: self.next_cas(),
                    flags: 0,
                    exptime: self.expiry(ttl, &m),
                    time: m.now,
                    vlen: 0,
                    klen: key.len() as u8,
                    bits: 0,
                };
                (shard.link(key, hash, &header, &[], &m).ok()?, true)
            }
        };
        let mut h = shard.header(handle);
        let mut value_meta = meta(&h, &m);
        value_meta.fetched = h.bits & FETCHED != 0;
        value_meta.last_access = m.now.saturating_sub(h.time);
        let mut win = created;
        if let Some(recache) = get.recache {
            if !created
                && h.bits & TOKEN_SENT == 0
                && h.exptime != 0
                && h.exptime < self.expiry(recache, &m)
            {
                win = true;
            }
        }
        if let Some(ttl) = get.touch {
            h.exptime = self.expiry(ttl, &m);
            value_meta.ttl = meta(&h, &m).ttl;
        }
        value_meta.won = h.bits & TOKEN_SENT != 0;
        value_meta.stale = h.bits & STALE != 0;
        if value_meta.stale && !value_meta.won {
            win = true;
        }
        if win {
            h.bits |= TOKEN_SENT;
        }
        value_meta.win = win;
        if !get.no_bump {
            h.bits |= FETCHED | REFERENCED;
            h.time = m.now;
        }
        shard.set_header(handle, &h);
        copy_value(item::value(shard.arena.item(handle)));
        Some(value_meta)
    }

    /// Stores an item by `s.mode`, with CAS (`Exists` / `NotFound`), ms `I` (a CAS
    /// older than the item's stores the value as stale), ms `E` and append/prepend
    /// vivify. Append and prepend keep the item's flags and expiry. A plain set (no
    /// CAS) that fails for want of room removes the key's old value, as memcached's
    /// text `set` does; see [`Store::store_unlinking_on_failure`] for the other verbs.
    pub fn store(&self, s: &StoreRequest) -> Response {
        let unlink = s.mode == StoreMode::Set && s.cas.is_none();
        self.store_unlinking_on_failure(s, unlink)
    }

    /// [`Store::store`], told whether a store that fails for want of room (a value
    /// too large for the item size limit, or no memory left) removes the key's old
    /// value. memcached decides that by the verb
    /// ([`memkeep_protocol::Form::failed_store_unlinks`]): a failed text `set` or
    /// any `ms` leaves no stale value readable, a failed `add` or `cas` leaves it.
    pub fn store_unlinking_on_failure(&self, s: &StoreRequest, unlink: bool) -> Response {
        let m = self.moment();
        let hash = self.hash(&s.key);
        let mut shard = self.shard(hash).lock();
        let response = self.store_locked(&mut shard, s, hash, &m, unlink);
        drop(shard);
        if self.watchers.wants(WatchEvents::MUTATIONS) {
            self.log_store(s, &response, &m);
        }
        response
    }

    fn store_locked(
        &self,
        shard: &mut Shard,
        s: &StoreRequest,
        hash: u64,
        m: &Moment,
        unlink: bool,
    ) -> Response {
        let m = *m;
        let size = item::memcached_size(s.key.len(), s.data.len(), s.flags);
        if size > self.config.max_item_size || s.key.len() > usize::from(u8::MAX) {
            if unlink {
                if let Some((slot, handle)) = self.fetch(shard, &s.key, hash, &m) {
                    shard.remove(slot, handle, &m);
                }
            }
            return Response::TooLarge;
        }
        let old = self
            .fetch(shard, &s.key, hash, &m)
            .map(|(_, handle)| (handle, shard.header(handle)));
        let mut header = Header {
            cas: 0,
            flags: s.flags,
            exptime: self.expiry(s.exptime, &m),
            time: m.now,
            vlen: s.data.len() as u32,
            klen: s.key.len() as u8,
            bits: 0,
        };
        let mut combined = None;
        match (s.mode, old) {
            (StoreMode::Add, Some((handle, mut h))) => {
                h.bits |= REFERENCED;
                h.time = m.now;
                shard.set_header(handle, &h);
                return Response::NotStored;
            }
            (StoreMode::Set | StoreMode::Replace, None) if s.cas.is_some() => {
                return Response::NotFound
            }
            (StoreMode::Set | StoreMode::Replace, Some((_, h))) if s.cas.is_some() => {
                let cas = s.cas.unwrap_or_default();
                if cas == h.cas {
                } else if s.invalidate && cas < h.cas {
                    header.exptime = h.exptime;
                    header.bits = STALE | (h.bits & TOKEN_SENT);
                } else {
                    return Response::Exists;
                }
            }
            (StoreMode::Replace, None) => return Response::NotStored,
            (StoreMode::Append | StoreMode::Prepend, None) => match s.vivify {
                Some(ttl) => header.exptime = self.expiry(ttl, &m),
                None => return Response::NotStored,
            },
            (StoreMode::Append | StoreMode::Prepend, Some((handle, h))) => {
                if matches!(s.cas, Some(cas) if cas != 0 && cas != h.cas) {
                    return Response::Exists;
                }
                let old_value = item::value(shard.arena.item(handle));
                let total = old_value.len() + s.data.len();
                if item::memcached_size(s.key.len(), total, h.flags) > self.config.max_item_size {
                    return Response::NotStored;
                }
                let (first, second) = if s.mode == StoreMode::Append {
                    (old_value, &s.data[..])
                } else {
                    (&s.data[..], old_value)
                };
                let mut both = Vec::with_capacity(total);
                both.extend_from_slice(first);
                both.extend_from_slice(second);
                combined = Some(both);
                header.flags = h.flags;
                header.exptime = h.exptime;
                header.vlen = total as u32;
            }
            _ => {}
        }
        header.cas = s.new_cas.unwrap_or_else(|| self.next_cas());
        let value = combined.as_deref().unwrap_or(&s.data);
        match shard.link(&s.key, hash, &header, &[value], &m) {
            Ok(_) => Response::Stored(meta(&header, &m)),
            Err(_) => {
                // memcached allocates the new item (for append and prepend: the data
                // to add) before anything else, and answers out of memory when it
                // cannot, whatever the verb.
                if unlink {
                    if let Some((slot, handle)) = shard.lookup(&s.key, hash, &m) {
                        shard.remove(slot, handle, &m);
                    }
                }
                Response::OutOfMemory
            }
        }
    }

    /// Answers a store refused before its value was read, too large for the item
    /// size limit ([`memkeep_protocol::Command::TooLarge`]): removes `key`'s old value
    /// when `unlink` says so (as for [`Store::store_unlinking_on_failure`]) and logs the
    /// refusal for `watch mutations`.
    pub fn refuse_too_large(&self, t: &memkeep_protocol::TooLarge, unlink: bool) -> Response {
        // memcached logs the refusal, then looks the old value up to unlink it.
        if self.watchers.wants(WatchEvents::MUTATIONS) {
            let refused = lines::Stored {
                key: &t.key,
                status: "too_large",
                cmd: command_name(t.mode, t.cas.is_some()),
                ttl: 0,
                class: 0,
                size: 0,
            };
            self.watchers.log(
                WatchEvents::MUTATIONS,
                &lines::item_store(refused, client_fd()),
            );
        }
        if unlink {
            let m = self.moment();
            let hash = self.hash(&t.key);
            let mut shard = self.shard(hash).lock();
            if let Some((slot, handle)) = self.fetch(&mut shard, &t.key, hash, &m) {
                shard.remove(slot, handle, &m);
            }
        }
        Response::TooLarge
    }

    /// Deletes an item, or with `d.invalidate` (md `I`) marks it stale with a new CAS
    /// (and the new TTL `d.ttl`) so the next fetcher wins the recache.
    pub fn delete(&self, d: &Delete) -> Response {
        let m = self.moment();
        let hash = self.hash(&d.key);
        let mut shard = self.shard(hash).lock();
        let Some((slot, handle)) = self.fetch(&mut shard, &d.key, hash, &m) else {
            return Response::NotFound;
        };
        let mut h = shard.header(handle);
        if matches!(d.cas, Some(cas) if cas != h.cas) {
            return Response::Exists;
        }
        if d.invalidate {
            if let Some(ttl) = d.ttl {
                h.exptime = self.expiry(ttl, &m);
            }
            h.bits = (h.bits | STALE) & !TOKEN_SENT;
            h.cas = d.new_cas.unwrap_or_else(|| self.next_cas());
            shard.set_header(handle, &h);
        } else {
            shard.remove(slot, handle, &m);
        }
        Response::Deleted
    }

    /// Adds to (wrapping at 2^64) or subtracts from (stopping at 0) a decimal counter.
    /// A shorter result is written in place padded with spaces, as memcached does, so
    /// a later get returns e.g. `"9 "` after `decr` from `"10"`.
    pub fn arith(&self, a: &Arith) -> Response {
        let m = self.moment();
        let hash = self.hash(&a.key);
        let mut shard = self.shard(hash).lock();
        let Some((_, handle)) = self.fetch(&mut shard, &a.key, hash, &m) else {
            let Some(create) = a.create else {
                return Response::NotFound;
            };
            let digits = itoa::Buffer::new()
                .format(create.initial)
                .as_bytes()
                .to_vec();
            let mut header = Header {
                cas: a.new_cas.unwrap_or_else(|| self.next_cas()),
                flags: 0,
                exptime: self.expiry(create.exptime, &m),
                time: m.now,
                vlen: digits.len() as u32,
                klen: a.key.len() as u8,
                bits: 0,
            };
            if let Some(ttl) = a.touch {
                header.exptime = self.expiry(ttl, &m);
            }
            return match shard.link(&a.key, hash, &header, &[&digits], &m) {
                Ok(_) => Response::Number(create.initial, meta(&header, &m)),
                Err(_) => Response::OutOfMemory,
            };
        };
        let mut h = shard.header(handle);
        let current = item::value(shard.arena.item(handle));
        if current.is_empty() {
            return Response::NonNumeric;
        }
        if matches!(a.cas, Some(cas) if cas != 0 && cas != h.cas) {
            return Response::Exists;
        }
        let Some(value) = memkeep_protocol::strtoull(current) else {
            return Response::NonNumeric;
        };
        let new = if a.incr {
            value.wrapping_add(a.delta)
        } else {
            value.saturating_sub(a.delta)
        };
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(new).as_bytes();
        h.cas = a.new_cas.unwrap_or_else(|| self.next_cas());
        h.time = m.now;
        h.bits |= REFERENCED;
        if let Some(ttl) = a.touch {
            h.exptime = self.expiry(ttl, &m);
        }
        if digits.len() <= h.vlen as usize {
            let it = shard.arena.item_mut(handle);
            let slot = item::value_mut(it);
            slot[..digits.len()].copy_from_slice(digits);
            slot[digits.len()..].fill(b' ');
            shard.set_header(handle, &h);
        } else {
            h.vlen = digits.len() as u32;
            h.bits = 0;
            if shard.link(&a.key, hash, &h, &[digits], &m).is_err() {
                return Response::OutOfMemory;
            }
        }
        Response::Number(new, meta(&h, &m))
    }

    /// Sets a new expiry on `key` (memcached `touch`); the item counts as fetched.
    pub fn touch(&self, key: &Bytes, exptime: i64) -> Response {
        let m = self.moment();
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock();
        let Some((_, handle)) = self.fetch(&mut shard, key, hash, &m) else {
            return Response::NotFound;
        };
        let mut h = shard.header(handle);
        h.exptime = self.expiry(exptime, &m);
        h.bits |= FETCHED | REFERENCED;
        h.time = m.now;
        shard.set_header(handle, &h);
        Response::Touched(meta(&h, &m))
    }
}
