//! Number tokens read the way memcached reads them: its `safe_strtol`,
//! `safe_strtoul` and `safe_strtoull` wrap libc's `strtol` family on a 64-bit
//! platform, so leading whitespace and a sign are accepted, trailing whitespace
//! ends the number, and 32-bit results are the low bits of a 64-bit parse
//! (`set k 4294967296 0 1` stores flags 0). Clients depend on these quirks as
//! much as on the documented syntax, so they are reproduced exactly.

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The sign, magnitude and validity of a token as libc's `strto*` sees it:
/// `None` when there are no digits, the magnitude overflows u64 (ERANGE), or
/// something other than whitespace follows the digits.
fn split_number(token: &[u8]) -> Option<(bool, u64)> {
    let mut i = token.iter().take_while(|&&b| is_c_space(b)).count();
    let negative = match token.get(i) {
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
    let digits = token[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in &token[i..i + digits] {
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    match token.get(i + digits) {
        None => Some((negative, magnitude)),
        Some(&b) if is_c_space(b) => Some((negative, magnitude)),
        Some(_) => None,
    }
}

/// memcached's `safe_strtol` into an `int32_t`: a 64-bit `strtol`, then the low 32 bits.
pub(crate) fn strtol_i32(token: &[u8]) -> Option<i32> {
    let (negative, magnitude) = split_number(token)?;
    let value: i64 = if negative {
        // strtol reports ERANGE below i64::MIN.
        if magnitude > 1u64 << 63 {
            return None;
        }
        0i64.wrapping_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()?
    };
    Some(value as i32)
}

/// memcached's `safe_strtoull`: an unsigned 64-bit parse that rejects a minus sign
/// only when the result would be negative as a signed number (so `-0` is 0 and
/// `-18446744073709551615` is 1, as in C). The cache reads a counter's value with it
/// before incr/decr, so "99 " (a shrunk decr result) and "5 x" read as numbers.
pub fn strtoull(token: &[u8]) -> Option<u64> {
    let (negative, magnitude) = split_number(token)?;
    let value = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    if negative && (value as i64) < 0 {
        return None;
    }
    Some(value)
}

/// memcached's `safe_strtoul` into a `uint32_t`: [`strtoull`]'s rules, then the low
/// 32 bits.
pub(crate) fn strtoul_u32(token: &[u8]) -> Option<u32> {
    strtoull(token).map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_matches_memcached() {
        let cases: &[(&[u8], Option<i32>)] = &[
            (b"0", Some(0)),
            (b"-1", Some(-1)),
            (b"+5", Some(5)),
            (b"-0", Some(0)),
            (b"01", Some(1)),
            (b"\t1", Some(1)),
            (b"1\t", Some(1)),
            (b"1\tx", Some(1)),
            (b"4294967296", Some(0)),
            (b"4294967297", Some(1)),
            (b"2147483648", Some(i32::MIN)),
            (b"9223372036854775807", Some(-1)),
            (b"9223372036854775808", None),
            (b"-9223372036854775808", Some(0)),
            (b"-9223372036854775809", None),
            (b"99999999999999999999", None),
            (b"", None),
            (b"-", None),
            (b"+", None),
            (b"abc", None),
            (b"1a", None),
            (b"0x10", None),
            (b" ", None),
        ];
        for &(token, want) in cases {
            assert_eq!(
                strtol_i32(token),
                want,
                "{:?}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn strtoul_matches_memcached() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"0", Some(0)),
            (b"4294967295", Some(u32::MAX)),
            (b"4294967296", Some(0)),
            (b"-1", None),
            (b"-0", Some(0)),
            (b"+7", Some(7)),
            (b"-9223372036854775809", Some(u32::MAX)),
            (b"-9223372036854775808", None),
            (b"18446744073709551615", Some(u32::MAX)),
            (b"18446744073709551616", None),
            (b"1.5", None),
        ];
        for &(token, want) in cases {
            assert_eq!(
                strtoul_u32(token),
                want,
                "{:?}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn strtoull_matches_memcached() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"-1", None),
            (b"-0", Some(0)),
            (b"-18446744073709551615", Some(1)),
            (b"12 ", Some(12)),
            (b"x", None),
        ];
        for &(token, want) in cases {
            assert_eq!(
                strtoull(token),
                want,
                "{:?}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn reads_values_as_memcached_does() {
        // Each case checked against memcached 1.6.18.
        assert_eq!(strtoull(b"100"), Some(100));
        assert_eq!(strtoull(b"+5"), Some(5));
        assert_eq!(strtoull(b" 5"), Some(5));
        assert_eq!(strtoull(b"-0"), Some(0));
        assert_eq!(strtoull(b"5 x"), Some(5));
        assert_eq!(strtoull(b"5\t"), Some(5));
        assert_eq!(strtoull(b"99 "), Some(99));
        assert_eq!(strtoull(b""), None);
        assert_eq!(strtoull(b"5x"), None);
        assert_eq!(strtoull(b"-5"), None);
        assert_eq!(strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoull(b"18446744073709551616"), None);
        assert_eq!(strtoull(b"0018446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoull(b"-9223372036854775809"), Some(9223372036854775807));
    }
}
