//! Numbers read the way memcached reads its flags: C's `atoi`, `atof` and
//! `strtol(s, NULL, 8)` take the longest numeric prefix and ignore the rest (`-m 64m`
//! is 64, `-b abc` is 0), while `safe_strtoul` wants the whole text to be a number.
//! Reading them alike means memkeepd starts on every command line memcached starts on,
//! with the same values, and refuses the ones memcached refuses.

/// C's `atoi`: optional leading blanks, an optional sign, then digits up to the first
/// non-digit; 0 when there are none. Saturates instead of overflowing.
pub fn atoi(text: &str) -> i64 {
    let (negative, digits) = sign_and_rest(text);
    let mut value: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// C's `atoi` stored into an `int`, as memcached stores most settings: values past
/// 32 bits wrap the way they do on the platforms memcached runs on.
pub fn atoi_int(text: &str) -> i32 {
    atoi(text) as i32
}

/// C's `strtol(text, NULL, 8)`: the longest octal prefix.
pub fn octal_prefix(text: &str) -> u32 {
    let (negative, digits) = sign_and_rest(text);
    let mut value: u32 = 0;
    for d in digits.bytes().take_while(|b| (b'0'..=b'7').contains(b)) {
        value = value.saturating_mul(8).saturating_add(u32::from(d - b'0'));
    }
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// C's `atof`: the longest prefix that reads as a decimal number; 0 when none does.
pub fn atof(text: &str) -> f64 {
    let trimmed = text.trim_start();
    let bytes = trimmed.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(end);
    end += whole;
    let mut fraction = 0;
    if bytes.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        if whole + fraction > 0 {
            end += 1 + fraction;
        }
    }
    if whole + fraction == 0 {
        return 0.0;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent = digits(end + 1 + sign);
        if exponent > 0 {
            end += 1 + sign + exponent;
        }
    }
    trimmed[..end].parse().unwrap_or(0.0)
}

/// memcached's `safe_strtoul`: the whole text (blanks around it aside) is an unsigned
/// 32-bit number, or `None`.
pub fn strict_u32(text: &str) -> Option<u32> {
    let t = text.trim();
    if t.starts_with('-') {
        return None;
    }
    t.strip_prefix('+').unwrap_or(t).parse().ok()
}

/// memcached's `safe_strtol`: the whole text is a signed 32-bit number, or `None`.
pub fn strict_i32(text: &str) -> Option<i32> {
    text.trim().parse().ok()
}

/// memcached's `safe_strtod`: the whole text is a decimal number, or `None`.
pub fn strict_f64(text: &str) -> Option<f64> {
    text.trim().parse().ok().filter(|v: &f64| v.is_finite())
}

fn sign_and_rest(text: &str) -> (bool, &str) {
    let t = text.trim_start();
    match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_the_numeric_prefix_like_c() {
        assert_eq!(atoi("64"), 64);
        assert_eq!(atoi("64m"), 64);
        assert_eq!(atoi("  -5x"), -5);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi_int("4294967297"), 1);
    }

    #[test]
    fn octal_and_float_prefixes() {
        assert_eq!(octal_prefix("700"), 0o700);
        assert_eq!(octal_prefix("18"), 1);
        assert_eq!(octal_prefix("999"), 0);
        assert_eq!(atof("1.25"), 1.25);
        assert_eq!(atof("2x"), 2.0);
        assert_eq!(atof(".5"), 0.5);
        assert_eq!(atof("1e2k"), 100.0);
        assert_eq!(atof("1e"), 1.0);
        assert_eq!(atof("abc"), 0.0);
        assert_eq!(atof("-"), 0.0);
    }

    #[test]
    fn strict_numbers_want_the_whole_text() {
        assert_eq!(strict_u32("64"), Some(64));
        assert_eq!(strict_u32("64k"), None);
        assert_eq!(strict_u32("-1"), None);
        assert_eq!(strict_i32("-1"), Some(-1));
        assert_eq!(strict_f64("0.8"), Some(0.8));
        assert_eq!(strict_f64("x"), None);
    }
}
