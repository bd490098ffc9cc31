//! Numbers as memcached 1.6.18 reads them (`safe_strtol`, `safe_strtoul`,
//! `safe_strtoull` over C's `strto*`): leading blanks and a sign are allowed, the
//! digits may be followed by a blank, and 32-bit results are truncated from the
//! 64-bit parse the way C's conversion does. Matching these quirks keeps replies
//! byte-identical (`F4294967297` stores flags 1 in memcached).

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Scans `[blanks][sign]digits[blank ...]`: `(negative, magnitude)`, or `None` where
/// C would report no digits, an out-of-range value, or trailing garbage.
fn scan(s: &[u8]) -> Option<(bool, u64)> {
    let mut i = s.iter().take_while(|&&b| is_c_space(b)).count();
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = s.get(i) {
        negative = sign == b'-';
        i += 1;
    }
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in &s[i..i + digits] {
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    match s.get(i + digits) {
        None => Some((negative, magnitude)),
        Some(&b) if is_c_space(b) => Some((negative, magnitude)),
        Some(_) => None,
    }
}

/// `safe_strtol`: a 64-bit `long`, then truncated to the `int32_t` memcached keeps.
pub(super) fn strtol(s: &[u8]) -> Option<i32> {
    let (negative, magnitude) = scan(s)?;
    let value = if negative {
        if magnitude > 1 << 63 {
            return None;
        }
        (magnitude as i64).wrapping_neg()
    } else {
        i64::try_from(magnitude).ok()?
    };
    Some(value as i32)
}

/// `safe_strtoull`: C negates a signed magnitude modulo 2^64 and memcached rejects
/// the result only when it looks negative and a '-' was written.
pub(super) fn strtoull(s: &[u8]) -> Option<u64> {
    let (negative, magnitude) = scan(s)?;
    let value = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    if (value as i64) < 0 && s.contains(&b'-') {
        return None;
    }
    Some(value)
}

/// `safe_strtoul`: the 64-bit parse of [`strtoull`], truncated to `uint32_t`.
pub(super) fn strtoul(s: &[u8]) -> Option<u32> {
    strtoull(s).map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_like_c() {
        assert_eq!(strtol(b"5"), Some(5));
        assert_eq!(strtol(b"+5"), Some(5));
        assert_eq!(strtol(b"-1"), Some(-1));
        assert_eq!(strtol(b"\t7"), Some(7));
        assert_eq!(strtol(b"7\tjunk"), Some(7));
        assert_eq!(strtol(b"4294967297"), Some(1));
        assert_eq!(strtol(b"-9223372036854775808"), Some(0));
        assert_eq!(strtol(b"9223372036854775808"), None);
        assert_eq!(strtol(b""), None);
        assert_eq!(strtol(b"+"), None);
        assert_eq!(strtol(b"5x"), None);
    }

    #[test]
    fn unsigned_like_c() {
        assert_eq!(strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoull(b"18446744073709551616"), None);
        assert_eq!(strtoull(b"-1"), None);
        assert_eq!(strtoull(b"-0"), Some(0));
        assert_eq!(strtoull(b"-18446744073709551615"), Some(1));
        assert_eq!(strtoul(b"4294967297"), Some(1));
        assert_eq!(strtoul(b"-1"), None);
        assert_eq!(strtoul(b"x"), None);
    }
}
