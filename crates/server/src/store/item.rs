//! The byte layout of one item inside a segment: a 26-byte header, then the key, then
//! the value. Fields are read and written with `from_le_bytes`, so items need no
//! alignment and carry no padding.

/// Header length in bytes.
pub(crate) const HEADER: usize = 26;

/// The item has been fetched at least once (meta `h`).
pub(crate) const FETCHED: u8 = 1;
/// CLOCK's reference bit: accessed since the eviction hand last passed.
pub(crate) const REFERENCED: u8 = 2;
/// Marked stale by md `I` or ms `I` (meta `X`).
pub(crate) const STALE: u8 = 4;
/// A client has been handed the recache win (meta `Z` for the others).
pub(crate) const TOKEN_SENT: u8 = 8;
/// The item was replaced or removed; its bytes wait for compaction.
pub(crate) const DEAD: u8 = 16;

/// An item's header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// CAS unique.
    pub cas: u64,
    /// Client flags.
    pub flags: u32,
    /// Relative expiry time, 0 for never.
    pub exptime: u32,
    /// Relative time of the last access or update.
    pub time: u32,
    /// Value length.
    pub vlen: u32,
    /// Key length (memcached keys are at most 250 bytes).
    pub klen: u8,
    /// The bit flags above.
    pub bits: u8,
}

impl Header {
    /// Reads the header at the start of `item`.
    #[inline]
    pub(crate) fn read(item: &[u8]) -> Header {
        Header {
            cas: u64::from_le_bytes(item[0..8].try_into().expect("8 bytes")),
            flags: u32::from_le_bytes(item[8..12].try_into().expect("4 bytes")),
            exptime: u32::from_le_bytes(item[12..16].try_into().expect("4 bytes")),
            time: u32::from_le_bytes(item[16..20].try_into().expect("4 bytes")),
            vlen: u32::from_le_bytes(item[20..24].try_into().expect("4 bytes")),
            klen: item[24],
            bits: item[25],
        }
    }

    /// Writes the header over the start of `item`.
    #[inline]
    pub(crate) fn write(&self, item: &mut [u8]) {
        item[..HEADER].copy_from_slice(&self.encode());
    }

    /// The header's bytes.
    #[inline]
    pub(crate) fn encode(&self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[0..8].copy_from_slice(&self.cas.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.exptime.to_le_bytes());
        b[16..20].copy_from_slice(&self.time.to_le_bytes());
        b[20..24].copy_from_slice(&self.vlen.to_le_bytes());
        b[24] = self.klen;
        b[25] = self.bits;
        b
    }

    /// The whole item's length: header, key and value.
    #[inline]
    pub(crate) fn total_len(&self) -> usize {
        HEADER + self.klen as usize + self.vlen as usize
    }

    /// Whether the item is past its expiry at relative time `now`.
    #[inline]
    pub(crate) fn is_expired(&self, now: u32) -> bool {
        self.exptime != 0 && self.exptime <= now
    }
}

/// Overwrites the bit flags of `item`.
#[inline]
pub(crate) fn set_bits(item: &mut [u8], bits: u8) {
    item[25] = bits;
}

/// The key of `item`.
#[inline]
pub(crate) fn key(item: &[u8]) -> &[u8] {
    &item[HEADER..HEADER + item[24] as usize]
}

/// Length of the item starting at `item[0]`, read from its header.
#[inline]
pub(crate) fn total_len(item: &[u8]) -> usize {
    let vlen = u32::from_le_bytes(item[20..24].try_into().expect("4 bytes")) as usize;
    HEADER + item[24] as usize + vlen
}

/// The value of `item`.
#[inline]
pub(crate) fn value(item: &[u8]) -> &[u8] {
    let start = HEADER + item[24] as usize;
    let vlen = u32::from_le_bytes(item[20..24].try_into().expect("4 bytes")) as usize;
    &item[start..start + vlen]
}

/// The value of `item`, writable (incr/decr rewrite digits in place).
#[inline]
pub(crate) fn value_mut(item: &mut [u8]) -> &mut [u8] {
    let start = HEADER + item[24] as usize;
    let vlen = u32::from_le_bytes(item[20..24].try_into().expect("4 bytes")) as usize;
    &mut item[start..start + vlen]
}

/// The size memcached 1.6 would give this item (`ITEM_ntotal` with CAS enabled):
/// the 48-byte item header, the 8-byte CAS, the key with its NUL, the value with its
/// CRLF, and 4 bytes of flags when they are not zero. `-I` limits this figure, and
/// `me` reports it.
pub(crate) fn memcached_size(klen: usize, vlen: usize, flags: u32) -> usize {
    48 + 8 + klen + 1 + vlen + 2 + if flags == 0 { 0 } else { 4 }
}

/// The slab class memcached would store an item of `size` bytes in, with its default
/// growth factor 1.25, 48-byte minimum chunk and 512 KiB largest chunk; reported by
/// `me` as `cls`. As memcached's `slabs_init`, classes grow by the factor (8-byte
/// aligned) until the next would pass the largest chunk over the factor, and the last
/// class is the largest chunk itself (39 classes); larger items are chunked into it.
pub(crate) fn memcached_class(size: usize) -> u32 {
    const FACTOR: f64 = 1.25;
    const CHUNK_MAX: f64 = (512 * 1024) as f64;
    let mut chunk: usize = 96;
    let mut class = 1;
    while chunk < size {
        let grown = (chunk as f64 * FACTOR) as usize;
        class += 1;
        if grown as f64 >= CHUNK_MAX / FACTOR {
            break;
        }
        chunk = grown.div_ceil(8) * 8;
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_memcached_s() {
        // memcached 1.6.18 -vv: class 1 is 96 bytes, 2 is 120, 38 is 394840, and
        // the last, 39, is 524288.
        for (size, class) in [
            (1, 1),
            (96, 1),
            (97, 2),
            (120, 2),
            (394_840, 38),
            (394_841, 39),
            (524_288, 39),
            (10 << 20, 39),
        ] {
            assert_eq!(memcached_class(size), class, "{size}");
        }
    }
}
