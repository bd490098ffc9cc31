//! incr/decr's reading of a value: C's `strtoull` as memcached's `safe_strtoull` uses
//! it, quirks included (leading spaces, a sign, anything after a space ignored).

/// Parses `value` as memcached does before incr/decr; `None` is "non-numeric".
pub(crate) fn parse_counter(value: &[u8]) -> Option<u64> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut i = value.iter().take_while(|&&b| is_space(b)).count();
    let negative = match value.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = value[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &value[i..i + digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    // The stored value is followed by "\r\n" in memcached, so its end reads as a space.
    if let Some(&next) = value.get(i + digits) {
        if !is_space(next) {
            return None;
        }
    }
    let n = if negative { n.wrapping_neg() } else { n };
    if negative && (n as i64) < 0 {
        return None;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::parse_counter;

    #[test]
    fn reads_values_as_memcached_does() {
        // Each case checked against memcached 1.6.18.
        assert_eq!(parse_counter(b"100"), Some(100));
        assert_eq!(parse_counter(b"+5"), Some(5));
        assert_eq!(parse_counter(b" 5"), Some(5));
        assert_eq!(parse_counter(b"-0"), Some(0));
        assert_eq!(parse_counter(b"5 x"), Some(5));
        assert_eq!(parse_counter(b"5\t"), Some(5));
        assert_eq!(parse_counter(b"99 "), Some(99));
        assert_eq!(parse_counter(b""), None);
        assert_eq!(parse_counter(b"5x"), None);
        assert_eq!(parse_counter(b"-5"), None);
        assert_eq!(parse_counter(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_counter(b"18446744073709551616"), None);
        assert_eq!(parse_counter(b"0018446744073709551615"), Some(u64::MAX));
        assert_eq!(
            parse_counter(b"-9223372036854775809"),
            Some(9223372036854775807)
        );
    }
}
