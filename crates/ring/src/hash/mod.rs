//! Key hash functions: every one twemproxy offers, computed exactly as it computes
//! them, magent's DJB hash, and XXH3 for new pools.

mod classic;
mod crc;
pub(crate) mod md5;

use std::fmt;
use std::str::FromStr;

/// A key hash function. The names ([`Hash::name`], [`FromStr`]) are twemproxy's
/// `hash:` values, so a `nutcracker.yml` maps onto this type directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hash {
    /// Jenkins' one-at-a-time (`one_at_a_time`).
    OneAtATime,
    /// The first four bytes of the MD5 digest, little-endian (`md5`).
    Md5,
    /// CRC-16/ARC (`crc16`).
    Crc16,
    /// libmemcached's 15-bit CRC-32 variant (`crc32`).
    Crc32,
    /// Standard CRC-32 (`crc32a`).
    Crc32a,
    /// FNV-1 64, low 32 bits (`fnv1_64`).
    Fnv1_64,
    /// twemproxy's FNV-1a "64", its default: a 32-bit state (`fnv1a_64`).
    Fnv1a64,
    /// FNV-1 32 (`fnv1_32`).
    Fnv1_32,
    /// FNV-1a 32 (`fnv1a_32`).
    Fnv1a32,
    /// Hsieh's SuperFastHash (`hsieh`).
    Hsieh,
    /// MurmurHash2, seeded by the key length (`murmur`).
    Murmur,
    /// Jenkins' lookup3 (`jenkins`).
    Jenkins,
    /// magent's DJB hash (`djb`): `hash * 33 + c`, top bit cleared.
    Djb,
    /// XXH3-64 (`xxh3`): fast and well mixed; the choice for new pools. Ketama and
    /// modula use its low 32 bits, jump and rendezvous all 64.
    Xxh3,
}

impl Hash {
    /// Every hash function, in twemproxy's order then ours.
    pub const ALL: [Hash; 14] = [
        Hash::OneAtATime,
        Hash::Md5,
        Hash::Crc16,
        Hash::Crc32,
        Hash::Crc32a,
        Hash::Fnv1_64,
        Hash::Fnv1a64,
        Hash::Fnv1_32,
        Hash::Fnv1a32,
        Hash::Hsieh,
        Hash::Murmur,
        Hash::Jenkins,
        Hash::Djb,
        Hash::Xxh3,
    ];

    /// The 32-bit hash of `key`, as twemproxy's `key_hash` returns it.
    #[inline]
    pub fn hash32(self, key: &[u8]) -> u32 {
        match self {
            Hash::OneAtATime => classic::one_at_a_time(key),
            Hash::Md5 => {
                let d = md5::digest(key);
                u32::from_le_bytes([d[0], d[1], d[2], d[3]])
            }
            Hash::Crc16 => crc::crc16(key),
            Hash::Crc32 => crc::crc32(key),
            Hash::Crc32a => crc::crc32a(key),
            Hash::Fnv1_64 => classic::fnv1_64(key),
            Hash::Fnv1a64 => classic::fnv1a_64(key),
            Hash::Fnv1_32 => classic::fnv1_32(key),
            Hash::Fnv1a32 => classic::fnv1a_32(key),
            Hash::Hsieh => classic::hsieh(key),
            Hash::Murmur => classic::murmur(key),
            Hash::Jenkins => classic::jenkins(key),
            Hash::Djb => classic::djb(key),
            Hash::Xxh3 => xxhash_rust::xxh3::xxh3_64(key) as u32,
        }
    }

    /// A 64-bit hash of `key`: XXH3's full output, or the 32-bit hash widened.
    #[inline]
    pub fn hash64(self, key: &[u8]) -> u64 {
        match self {
            Hash::Xxh3 => xxhash_rust::xxh3::xxh3_64(key),
            other => u64::from(other.hash32(key)),
        }
    }

    /// The name twemproxy's configuration uses (`fnv1a_64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Hash::OneAtATime => "one_at_a_time",
            Hash::Md5 => "md5",
            Hash::Crc16 => "crc16",
            Hash::Crc32 => "crc32",
            Hash::Crc32a => "crc32a",
            Hash::Fnv1_64 => "fnv1_64",
            Hash::Fnv1a64 => "fnv1a_64",
            Hash::Fnv1_32 => "fnv1_32",
            Hash::Fnv1a32 => "fnv1a_32",
            Hash::Hsieh => "hsieh",
            Hash::Murmur => "murmur",
            Hash::Jenkins => "jenkins",
            Hash::Djb => "djb",
            Hash::Xxh3 => "xxh3",
        }
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown hash or distribution name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub(crate) String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name {:?}", self.0)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for Hash {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for h in Hash::ALL {
            assert_eq!(h.name().parse::<Hash>(), Ok(h));
        }
        assert!("fnv".parse::<Hash>().is_err());
    }

    #[test]
    fn md5_key_hash_is_the_little_endian_head_of_the_digest() {
        // md5("") = d41d8cd9...: the first four bytes read little-endian.
        assert_eq!(Hash::Md5.hash32(b""), 0xd98c_1dd4);
    }
}
