//! The small non-cryptographic key hashes of twemproxy and libmemcached (FNV,
//! one-at-a-time, Hsieh, Jenkins lookup3, MurmurHash2) and magent's DJB hash.
//!
//! Each reproduces the C code as compiled on x86_64, quirks included: where the C
//! reads a key byte through a signed `char`, bytes >= 0x80 are sign-extended before
//! they are mixed in (`signed`). That changes the hash of every non-ASCII key, and is
//! what the running proxies do.

/// A key byte read through C's signed `char` and converted to `uint32_t`.
#[inline(always)]
fn signed(b: u8) -> u32 {
    b as i8 as i32 as u32
}

const FNV_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_32_INIT: u32 = 2_166_136_261;
const FNV_32_PRIME: u32 = 16_777_619;

/// twemproxy's `fnv1_64`: 64-bit FNV-1 truncated to its low 32 bits.
pub fn fnv1_64(key: &[u8]) -> u32 {
    let mut hash = FNV_64_INIT;
    for &b in key {
        hash = hash.wrapping_mul(FNV_64_PRIME);
        hash ^= signed(b) as i32 as i64 as u64;
    }
    hash as u32
}

/// twemproxy's `fnv1a_64`, its default. Not textbook FNV-1a 64: the state is 32 bits
/// wide, seeded and multiplied with the low halves of the 64-bit constants.
pub fn fnv1a_64(key: &[u8]) -> u32 {
    let mut hash = FNV_64_INIT as u32;
    for &b in key {
        hash ^= signed(b);
        hash = hash.wrapping_mul(FNV_64_PRIME as u32);
    }
    hash
}

/// twemproxy's `fnv1_32`.
pub fn fnv1_32(key: &[u8]) -> u32 {
    let mut hash = FNV_32_INIT;
    for &b in key {
        hash = hash.wrapping_mul(FNV_32_PRIME);
        hash ^= signed(b);
    }
    hash
}

/// twemproxy's `fnv1a_32`.
pub fn fnv1a_32(key: &[u8]) -> u32 {
    let mut hash = FNV_32_INIT;
    for &b in key {
        hash ^= signed(b);
        hash = hash.wrapping_mul(FNV_32_PRIME);
    }
    hash
}

/// Bob Jenkins' one-at-a-time hash, libmemcached's default.
pub fn one_at_a_time(key: &[u8]) -> u32 {
    let mut value: u32 = 0;
    for &b in key {
        value = value.wrapping_add(signed(b));
        value = value.wrapping_add(value << 10);
        value ^= value >> 6;
    }
    value = value.wrapping_add(value << 3);
    value ^= value >> 11;
    value.wrapping_add(value << 15)
}

#[inline(always)]
fn le16(b: &[u8]) -> u32 {
    u32::from(b[0]) | (u32::from(b[1]) << 8)
}

/// Paul Hsieh's SuperFastHash. The 3-byte tail reads its last byte as signed.
pub fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let mut hash: u32 = 0;
    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        hash = hash.wrapping_add(le16(block));
        let tmp = (le16(&block[2..]) << 11) ^ hash;
        hash = (hash << 16) ^ tmp;
        hash = hash.wrapping_add(hash >> 11);
    }
    let tail = blocks.remainder();
    match tail.len() {
        3 => {
            hash = hash.wrapping_add(le16(tail));
            hash ^= hash << 16;
            hash ^= signed(tail[2]) << 18;
            hash = hash.wrapping_add(hash >> 11);
        }
        2 => {
            hash = hash.wrapping_add(le16(tail));
            hash ^= hash << 11;
            hash = hash.wrapping_add(hash >> 17);
        }
        1 => {
            hash = hash.wrapping_add(u32::from(tail[0]));
            hash ^= hash << 10;
            hash = hash.wrapping_add(hash >> 1);
        }
        _ => {}
    }
    hash ^= hash << 3;
    hash = hash.wrapping_add(hash >> 5);
    hash ^= hash << 4;
    hash = hash.wrapping_add(hash >> 17);
    hash ^= hash << 25;
    hash.wrapping_add(hash >> 6)
}

/// Bob Jenkins' lookup3 `hashlittle` with twemproxy's initial value (13). The C
/// code reads aligned words where it can; on a little-endian machine every path
/// gives the same result as reading bytes, which is what this does.
pub fn jenkins(key: &[u8]) -> u32 {
    let init = 0xdead_beefu32
        .wrapping_add(key.len() as u32)
        .wrapping_add(13);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(le32_partial(&rest[0..4]));
        b = b.wrapping_add(le32_partial(&rest[4..8]));
        c = c.wrapping_add(le32_partial(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    // The last 1..=12 bytes, zero-padded.
    let mut last = [0u8; 12];
    last[..rest.len()].copy_from_slice(rest);
    a = a.wrapping_add(le32_partial(&last[0..4]));
    b = b.wrapping_add(le32_partial(&last[4..8]));
    c = c.wrapping_add(le32_partial(&last[8..12]));
    final_mix(&mut a, &mut b, &mut c);
    c
}

#[inline(always)]
fn le32_partial(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline(always)]
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// MurmurHash2 as twemproxy seeds it (`0xdeadbeef * len`).
pub fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let len = key.len() as u32;
    let mut h = 0xdead_beefu32.wrapping_mul(len) ^ len;
    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        let mut k = le32_partial(block);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        if tail.len() == 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// magent's `hashme`: Bernstein's `hash * 33 + c` over the key as a C string (it stops
/// at a NUL byte), bytes signed, top bit cleared.
pub fn djb(key: &[u8]) -> u32 {
    let mut hash: u32 = 5381;
    for &b in key.iter().take_while(|&&b| b != 0) {
        hash = hash.wrapping_mul(33).wrapping_add(signed(b));
    }
    hash & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_32_matches_the_published_vectors_for_ascii() {
        // FNV-1 and FNV-1a 32-bit of "a" and "foobar" from the FNV test suite.
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
        // FNV-1 64 of "foobar" is 0x340d8765a4dda9c2: twemproxy keeps the low half.
        assert_eq!(fnv1_64(b"foobar"), 0xa4dd_a9c2);
    }

    #[test]
    fn non_ascii_bytes_are_sign_extended() {
        // One byte 0x80: FNV-1a 32 xors 0xffffff80, not 0x80, into the state.
        let want = (FNV_32_INIT ^ 0xffff_ff80).wrapping_mul(FNV_32_PRIME);
        assert_eq!(fnv1a_32(&[0x80]), want);
        let textbook = (FNV_32_INIT ^ 0x80).wrapping_mul(FNV_32_PRIME);
        assert_ne!(fnv1a_32(&[0x80]), textbook);
        assert_eq!(
            djb(&[0xff]),
            5381u32.wrapping_mul(33).wrapping_sub(1) & 0x7fff_ffff
        );
    }

    #[test]
    fn jenkins_lookup3_vectors() {
        // lookup3's self-test: hashlittle("", 0) is 0xdeadbeef; here the initial
        // value is 13, so the empty key hashes to 0xdeadbeef + 13.
        assert_eq!(jenkins(b""), 0xdead_beef + 13);
    }

    #[test]
    fn murmur2_and_djb() {
        assert_eq!(murmur(b""), {
            let mut h = 0u32;
            h ^= h >> 13;
            h = h.wrapping_mul(0x5bd1_e995);
            h ^ (h >> 15)
        });
        assert_eq!(djb(b"a\0b"), djb(b"a"));
        assert_eq!(djb(b""), 5381);
    }
}
