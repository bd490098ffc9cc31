//! Item memory of one shard: fixed-size segments that items are appended to, in a FIFO.
//! An item is one contiguous run of bytes inside a segment (no allocation per item);
//! an item larger than a segment gets a dedicated segment of its own size. Replaced
//! items leave dead bytes behind until the eviction hand compacts their segment.

use std::collections::VecDeque;

use super::item::Header;

/// Bits of a handle that hold the offset inside the segment.
const OFFSET_BITS: u32 = 20;
/// The largest normal segment (offsets must fit in 20 bits).
pub(crate) const MAX_SEGMENT: usize = 1 << OFFSET_BITS;
/// Segment ids must leave the top handle value free (the table's empty marker).
const MAX_SEGMENTS: usize = (1 << 20) - 1;

/// Where an item lives: segment id and byte offset.
pub(crate) fn handle(seg: u32, offset: usize) -> u64 {
    (u64::from(seg) << OFFSET_BITS) | offset as u64
}

/// The segment id of `handle`.
pub(crate) fn segment_of(handle: u64) -> u32 {
    (handle >> OFFSET_BITS) as u32
}

fn offset_of(handle: u64) -> usize {
    (handle & ((1 << OFFSET_BITS) - 1)) as usize
}

/// The segments of one shard.
#[derive(Debug)]
pub(crate) struct Arena {
    /// Segment buffers by id; a freed id holds an empty, unallocated `Vec`.
    segments: Vec<Vec<u8>>,
    free_ids: Vec<u32>,
    /// Segment ids, oldest first: the eviction hand takes from the front.
    pub(crate) fifo: VecDeque<u32>,
    /// The segment new items are appended to.
    pub(crate) head: Option<u32>,
    /// Capacity of a normal segment.
    pub(crate) segment_size: usize,
    /// Bytes held by all segments (their capacities).
    pub(crate) allocated: usize,
}

impl Arena {
    pub(crate) fn new(segment_size: usize) -> Self {
        Arena {
            segments: Vec::new(),
            free_ids: Vec::new(),
            fifo: VecDeque::new(),
            head: None,
            segment_size: segment_size.min(MAX_SEGMENT),
            allocated: 0,
        }
    }

    /// The bytes of the item at `handle`.
    #[inline]
    pub(crate) fn item(&self, handle: u64) -> &[u8] {
        &self.segments[segment_of(handle) as usize][offset_of(handle)..]
    }

    /// The bytes of the item at `handle`, writable.
    #[inline]
    pub(crate) fn item_mut(&mut self, handle: u64) -> &mut [u8] {
        &mut self.segments[segment_of(handle) as usize][offset_of(handle)..]
    }

    /// Free space at the end of segment `seg`.
    pub(crate) fn room(&self, seg: u32) -> usize {
        let s = &self.segments[seg as usize];
        s.capacity() - s.len()
    }

    /// Bytes used in segment `seg`.
    pub(crate) fn len(&self, seg: u32) -> usize {
        self.segments[seg as usize].len()
    }

    /// Whether `seg` is a normal (not dedicated) segment.
    pub(crate) fn is_normal(&self, seg: u32) -> bool {
        self.segments[seg as usize].capacity() == self.segment_size
    }

    /// Allocates a segment of `capacity` bytes at the back of the FIFO, or `None` when
    /// all ids are used.
    pub(crate) fn allocate(&mut self, capacity: usize) -> Option<u32> {
        let id = match self.free_ids.pop() {
            Some(id) => id,
            None if self.segments.len() < MAX_SEGMENTS => {
                self.segments.push(Vec::new());
                (self.segments.len() - 1) as u32
            }
            None => return None,
        };
        self.segments[id as usize] = Vec::with_capacity(capacity);
        self.allocated += capacity;
        self.fifo.push_back(id);
        Some(id)
    }

    /// Returns segment `seg`'s memory (it must be out of the FIFO and hold no item).
    pub(crate) fn free(&mut self, seg: u32) {
        let buf = std::mem::take(&mut self.segments[seg as usize]);
        self.allocated -= buf.capacity();
        self.free_ids.push(seg);
        if self.head == Some(seg) {
            self.head = None;
        }
    }

    /// Takes segment `seg`'s buffer out for compaction.
    pub(crate) fn take(&mut self, seg: u32) -> Vec<u8> {
        std::mem::take(&mut self.segments[seg as usize])
    }

    /// Puts a compacted buffer back.
    pub(crate) fn put(&mut self, seg: u32, buf: Vec<u8>) {
        self.segments[seg as usize] = buf;
    }

    /// Appends an item (header, key, then the value in parts) to segment `seg`, which
    /// must have room, and returns its handle.
    pub(crate) fn append(&mut self, seg: u32, header: &Header, key: &[u8], value: &[&[u8]]) -> u64 {
        let buf = &mut self.segments[seg as usize];
        let offset = buf.len();
        buf.extend_from_slice(&header.encode());
        buf.extend_from_slice(key);
        for part in value {
            buf.extend_from_slice(part);
        }
        debug_assert!(buf.len() <= buf.capacity());
        handle(seg, offset)
    }
}
