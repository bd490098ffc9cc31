//! Multi-key gets with their memory reads overlapped. Each lookup costs two cache
//! misses (the index slot, then the item), and looked up one key after another those
//! misses come one at a time. A multi-get first reads every key's slot and item
//! start with no lock taken or released in between (a lock is an atomic operation,
//! which waits for the reads before it), so the misses are in flight together; the
//! lookups that follow find their lines in the cache.

use bytes::Bytes;
use memkeep_protocol::{Get, Value};
use parking_lot::MutexGuard;

use super::shard::Shard;
use super::Store;

/// Keys read ahead at a time: about as many misses as a core keeps in flight.
const BATCH: usize = 16;

/// Values up to this size share one buffer per batch: a heap allocation and a free
/// per value cost more than the copy of a small value (glibc's per-size cache holds
/// 7 chunks, so 16 values of one size reach its slow path). Larger values get a
/// buffer of their own, so a batch of large values is never copied again to grow.
const SHARED_MAX: usize = 4 * 1024;

impl Store {
    /// The hits of `get` for `keys`, in key order, exactly as [`Store::get`] for each
    /// key in turn would find them, all at one moment (memcached's clock, too, is a
    /// variable its timer moves once a second, not read per key).
    pub fn get_many(&self, keys: &[Bytes], get: &Get) -> Vec<Value> {
        if let [key] = keys {
            // A one-key get (most gets) has nothing to overlap or share.
            return self.get(key, get).into_iter().collect();
        }
        let m = self.moment();
        let mut hits = Vec::with_capacity(keys.len().min(64));
        let mut hashes = [0u64; BATCH];
        for chunk in keys.chunks(BATCH) {
            for (hash, key) in hashes.iter_mut().zip(chunk) {
                *hash = self.hash(key);
            }
            let hashes = &hashes[..chunk.len()];
            if chunk.len() > 1 {
                self.read_ahead(hashes);
            }
            // The batch's small values, back to back, and each hit's length there.
            let mut shared = Vec::new();
            let mut shared_lens = [None::<usize>; BATCH];
            let first_hit = hits.len();
            for (n, (key, &hash)) in chunk.iter().zip(hashes).enumerate() {
                let mut own = Bytes::new();
                let mut shared_len = None;
                let copy = |value: &[u8]| {
                    if value.len() > SHARED_MAX {
                        own = Bytes::copy_from_slice(value);
                        return;
                    }
                    if shared.capacity() == 0 {
                        // Values of one multi-get tend to be alike in size.
                        shared.reserve((value.len() * (chunk.len() - n)).min(BATCH * SHARED_MAX));
                    }
                    shared.extend_from_slice(value);
                    shared_len = Some(value.len());
                };
                if let Some(meta) = self.get_locked(key, hash, get, &m, copy) {
                    shared_lens[hits.len() - first_hit] = shared_len;
                    hits.push(Value {
                        key: key.clone(),
                        data: own,
                        meta,
                    });
                }
            }
            let shared = Bytes::from(shared);
            let mut at = 0;
            for (hit, len) in hits[first_hit..].iter_mut().zip(shared_lens) {
                if let Some(len) = len {
                    hit.data = shared.slice(at..at + len);
                    at += len;
                }
            }
        }
        hits
    }

    /// Brings the index slots and items of `hashes` into the cache. Shards are only
    /// tried, never waited for: a shard another thread holds is skipped (its keys are
    /// looked up cold), and holding several shards at once cannot deadlock.
    fn read_ahead(&self, hashes: &[u64]) {
        // At most BATCH keys, so at most BATCH shards: held on the stack, as a
        // multi-get is a hot path.
        let mut shards = [0usize; BATCH];
        let mut held: [Option<(usize, MutexGuard<'_, Shard>)>; BATCH] = Default::default();
        for (shard, &hash) in shards.iter_mut().zip(hashes) {
            let i = self.shard_index(hash);
            *shard = i;
            if held.iter().flatten().any(|(j, _)| *j == i) {
                continue;
            }
            if let Some(slot) = held.iter_mut().find(|h| h.is_none()) {
                *slot = self.shards[i].try_lock().map(|guard| (i, guard));
            }
        }
        let mut sink = 0u8;
        for (&i, &hash) in shards.iter().zip(hashes) {
            let shard = held.iter().flatten().find(|(j, _)| *j == i);
            if let Some((_, shard)) = shard {
                sink ^= shard.touch_for(hash);
            }
        }
        // The reads are only wanted for their side effect on the cache.
        std::hint::black_box(sink);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use memkeep_protocol::{Get, Store as Set};

    use super::super::{ManualClock, Store, StoreConfig};
    use super::SHARED_MAX;

    fn filled() -> Store {
        let store = Store::with_clock(
            StoreConfig {
                shards: 4,
                ..StoreConfig::default()
            },
            ManualClock::new(1_700_000_000),
        );
        for i in 0..40 {
            store.store(&Set {
                key: Bytes::from(format!("key{i}")),
                data: Bytes::from(format!("value{i}")),
                flags: i,
                // Every fifth item is already expired.
                exptime: if i % 5 == 0 { -1 } else { 100 },
                ..Set::default()
            });
        }
        store
    }

    #[test]
    fn finds_what_one_get_per_key_finds() {
        let (batched, one_by_one) = (filled(), filled());
        // More keys than one batch, misses, expired items and a key asked twice.
        let keys: Vec<Bytes> = (0..50)
            .chain([3, 3])
            .map(|i| Bytes::from(format!("key{i}")))
            .collect();
        let get = Get::default();
        for _ in 0..2 {
            // The second round sees the first one's bumps (fetched).
            let expected: Vec<_> = keys
                .iter()
                .filter_map(|k| one_by_one.get(k, &get))
                .collect();
            assert_eq!(batched.get_many(&keys, &get), expected);
            assert_eq!(expected.len(), 32 + 2);
        }
    }

    #[test]
    fn small_large_and_empty_values_come_back_whole() {
        let store = filled();
        // Around the size where values stop sharing a buffer, and empty.
        let sizes = [0, 1, SHARED_MAX, SHARED_MAX + 1, 100, 3 * SHARED_MAX, 0, 7];
        let keys: Vec<Bytes> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let key = Bytes::from(format!("sized{i}"));
                let data: Vec<u8> = (0..size).map(|b| (b % 251) as u8 ^ i as u8).collect();
                store.store(&Set {
                    key: key.clone(),
                    data: Bytes::from(data),
                    ..Set::default()
                });
                key
            })
            .collect();
        let get = Get {
            no_bump: true,
            ..Get::default()
        };
        let expected: Vec<_> = keys.iter().filter_map(|k| store.get(k, &get)).collect();
        assert_eq!(expected.len(), sizes.len());
        // Every prefix of the key list, one key (not batched) included.
        for n in 1..=keys.len() {
            assert_eq!(store.get_many(&keys[..n], &get), expected[..n]);
        }
        // Misses between hits keep each hit its own bytes.
        let with_misses: Vec<Bytes> = keys
            .iter()
            .flat_map(|k| [Bytes::from_static(b"absent"), k.clone()])
            .collect();
        assert_eq!(store.get_many(&with_misses, &get), expected);
    }

    #[test]
    fn a_shard_held_elsewhere_is_not_waited_for() {
        let store = filled();
        let hashes: Vec<u64> = (0..16)
            .map(|i| store.hash(format!("key{i}").as_bytes()))
            .collect();
        // The lock is not reentrant: waiting for it here would never end.
        let _held = store.shards[store.shard_index(hashes[0])].lock();
        store.read_ahead(&hashes);
    }
}
