//! Finding a byte in the short stretches a text line is made of (a key, a number):
//! eight bytes per step in a plain `u64`, where `memchr`'s set-up for a vector loop
//! costs more than the whole search. Long stretches go to `memchr` after a few steps.

use memchr::{memchr, memchr2};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = ONES * 0x80;

/// Steps of eight bytes taken before handing the rest to `memchr`.
const SHORT_STEPS: usize = 4;

/// The high bit of each byte of `x` that is zero. A borrow only starts at a zero
/// byte, so the lowest bit set is exactly the first zero byte (bits above it may be
/// false).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The position of the first `a` or `b` in `hay`.
pub(crate) fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let (pa, pb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut chunks = hay.chunks_exact(8);
    for (step, chunk) in (&mut chunks).take(SHORT_STEPS).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let found = zero_bytes(x ^ pa) | zero_bytes(x ^ pb);
        if found != 0 {
            return Some(step * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let checked = hay.len().min(SHORT_STEPS * 8) / 8 * 8;
    let rest = &hay[checked..];
    let at = if a == b {
        memchr(a, rest)
    } else {
        memchr2(a, b, rest)
    };
    at.map(|i| checked + i)
}

/// The position of the first `byte` in `hay`.
pub(crate) fn find(hay: &[u8], byte: u8) -> Option<usize> {
    find2(hay, byte, byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_memchr_finds() {
        for len in 0..80 {
            for at in 0..=len {
                for other in [b' ', b'\n', b'x', 0x80, 0xff, 0x00, 0x21, 0x1f] {
                    let mut hay = vec![b'k'; len];
                    // A byte just below and above the ones looked for, before them.
                    if at > 0 {
                        hay[at - 1] = other;
                    }
                    if at < len {
                        hay[at] = b' ';
                    }
                    assert_eq!(find(&hay, b' '), memchr(b' ', &hay), "{hay:?}");
                    assert_eq!(
                        find2(&hay, b' ', b'\n'),
                        memchr2(b' ', b'\n', &hay),
                        "{hay:?}"
                    );
                }
            }
        }
    }
}
