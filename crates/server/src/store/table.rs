//! The index of one shard: an open-addressing table of 8-byte slots, each holding a
//! 24-bit hash tag and a 40-bit item handle. Linear probing with backward-shift
//! deletion (no tombstones); the tag filters almost every foreign slot without
//! touching the item. Capacity grows by 1.5x (not 2x) to keep memory per item low,
//! and the home slot is computed from the tag by multiply-shift, so any capacity works.

/// An empty slot. No real slot can equal it: handles never use their top value.
const EMPTY: u64 = u64::MAX;
/// Bits of a slot that hold the handle.
const HANDLE_BITS: u32 = 40;
const HANDLE_MASK: u64 = (1 << HANDLE_BITS) - 1;
/// Grow when more than 4 slots in 5 would be used.
const MAX_LOAD_NUM: usize = 4;
const MAX_LOAD_DEN: usize = 5;
const MIN_CAPACITY: usize = 64;

/// The tag stored for a key with hash `hash` (its top 24 bits).
#[inline]
pub(crate) fn tag_of(hash: u64) -> u32 {
    (hash >> HANDLE_BITS) as u32
}

/// An open-addressing map from key tags to item handles; key comparison is the
/// caller's (the key lives in the item).
#[derive(Debug)]
pub(crate) struct Table {
    slots: Vec<u64>,
    len: usize,
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            slots: vec![EMPTY; MIN_CAPACITY],
            len: 0,
        }
    }

    /// Bytes the table occupies.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }

    /// Slots in the table, used or not.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        ((tag as u64 * self.slots.len() as u64) >> 24) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// The slot index of the entry with `tag` for which `is_key(handle)` holds.
    #[inline]
    pub(crate) fn find(&self, tag: u32, mut is_key: impl FnMut(u64) -> bool) -> Option<usize> {
        let mut i = self.home(tag);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return None;
            }
            if (slot >> HANDLE_BITS) as u32 == tag && is_key(slot & HANDLE_MASK) {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    /// The handle in `tag`'s home slot, whatever its key: read only to bring the
    /// slot's cache line in (see `Store::get_many`).
    #[inline]
    pub(crate) fn home_handle(&self, tag: u32) -> Option<u64> {
        let slot = self.slots[self.home(tag)];
        (slot != EMPTY).then_some(slot & HANDLE_MASK)
    }

    /// The slot index holding exactly `handle` (which has `tag`).
    pub(crate) fn find_handle(&self, tag: u32, handle: u64) -> Option<usize> {
        let want = (u64::from(tag) << HANDLE_BITS) | handle;
        let mut i = self.home(tag);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return None;
            }
            if slot == want {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    /// The handle stored in slot `i`.
    #[inline]
    pub(crate) fn handle_at(&self, i: usize) -> u64 {
        self.slots[i] & HANDLE_MASK
    }

    /// Points slot `i` at another handle of the same key.
    #[inline]
    pub(crate) fn set_handle(&mut self, i: usize, handle: u64) {
        self.slots[i] = (self.slots[i] & !HANDLE_MASK) | handle;
    }

    /// Adds an entry for a key known to be absent.
    pub(crate) fn insert(&mut self, tag: u32, handle: u64) {
        debug_assert!(handle < HANDLE_MASK);
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        self.place((u64::from(tag) << HANDLE_BITS) | handle);
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mut i = self.home((slot >> HANDLE_BITS) as u32);
        while self.slots[i] != EMPTY {
            i = self.next(i);
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let new_cap = (self.slots.len() * 3 / 2).max(MIN_CAPACITY);
        let old = std::mem::replace(&mut self.slots, Vec::with_capacity(new_cap));
        self.slots.resize(new_cap, EMPTY);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(slot);
        }
    }

    /// Removes the entry in slot `i`, shifting later entries of the probe run back so
    /// that lookups never need tombstones.
    pub(crate) fn remove_at(&mut self, mut i: usize) {
        self.slots[i] = EMPTY;
        self.len -= 1;
        let mut j = self.next(i);
        while self.slots[j] != EMPTY {
            let home = self.home((self.slots[j] >> HANDLE_BITS) as u32);
            // Move slot j back to i unless its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.slots[i] = self.slots[j];
                self.slots[j] = EMPTY;
                i = j;
            }
            j = self.next(j);
        }
    }

    /// Every handle whose tag lies in `tags`, visiting only the slots where such
    /// entries can be. Homes grow with the tag, and an entry sits at the end of an
    /// unbroken run of full slots starting at its home; so every entry of the range
    /// lies between the range's first home and the first empty slot at or after its
    /// last home (wrapping past the end of the table for the highest tags). A tag
    /// range therefore names the same entries whatever the capacity, which lets a
    /// caller walk the table in pieces while it grows between them.
    pub(crate) fn handles_with_tags(&self, tags: std::ops::Range<u32>) -> Vec<u64> {
        let mut out = Vec::new();
        if tags.is_empty() {
            return out;
        }
        let first = self.home(tags.start);
        let last = self.home(tags.end - 1);
        let cap = self.slots.len();
        // Slots from `first` to `last` must all be seen, then on until an empty one.
        let must_see = (last + cap - first) % cap + 1;
        let mut i = first;
        for seen in 0..cap {
            let slot = self.slots[i];
            if slot == EMPTY {
                if seen >= must_see {
                    break;
                }
            } else if tags.contains(&((slot >> HANDLE_BITS) as u32)) {
                out.push(slot & HANDLE_MASK);
            }
            i = self.next(i);
        }
        out
    }
}

/// One past the largest tag.
pub(crate) const TAG_END: u32 = 1 << (64 - HANDLE_BITS);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn insert_find_remove_agree_with_a_hashmap() {
        let mut table = Table::new();
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut x: u64 = 12345;
        for _ in 0..50_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let handle = (x >> 33) % 3000;
            // Few distinct tags: long collision runs and wrap-around.
            let tag = (handle % 97) as u32 * 172_000;
            match table.find(tag, |h| h == handle) {
                Some(i) => {
                    assert_eq!(model.remove(&handle), Some(tag));
                    table.remove_at(i);
                }
                None => {
                    assert!(!model.contains_key(&handle));
                    table.insert(tag, handle);
                    model.insert(handle, tag);
                }
            }
        }
        assert_eq!(model.len(), table.len());
        // Walking the tag space in pieces finds every entry exactly once.
        let mut walked: Vec<u64> = (0..TAG_END)
            .step_by(1 << 16)
            .flat_map(|lo| table.handles_with_tags(lo..lo + (1 << 16)))
            .collect();
        walked.sort_unstable();
        let mut expected: Vec<u64> = model.keys().copied().collect();
        expected.sort_unstable();
        assert_eq!(walked, expected);
        for (&h, &t) in &model {
            let i = table.find(t, |x| x == h).expect("present");
            assert_eq!(table.handle_at(i), h);
            assert_eq!(table.find_handle(t, h), Some(i));
        }
    }
}
