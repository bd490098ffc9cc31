//! Base64 keys (the `b` flag). Decoding follows memcached's lenient decoder, which
//! skips bytes outside the alphabet and stops at the first padded block, so the same
//! keys are accepted and map to the same items; encoding is standard base64, which is
//! what memcached writes back for `k`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};

/// The value of a base64 symbol; '=' counts as 0 and marks padding.
fn symbol(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'=' => Some(0),
        _ => None,
    }
}

/// Decodes a key as memcached does; `None` where memcached says "error decoding key"
/// (no symbols, a symbol count that is not a multiple of four, bad padding, nothing
/// decoded).
pub(super) fn decode(text: &[u8]) -> Option<Bytes> {
    let count = text.iter().filter(|&&b| symbol(b).is_some()).count();
    if count == 0 || count % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(count / 4 * 3);
    let mut block = [0u8; 4];
    let mut filled = 0;
    let mut pad = 0;
    for &b in text {
        let Some(value) = symbol(b) else { continue };
        if b == b'=' {
            pad += 1;
        }
        block[filled] = value;
        filled += 1;
        if filled == 4 {
            out.push((block[0] << 2) | (block[1] >> 4));
            out.push((block[1] << 4) | (block[2] >> 2));
            out.push((block[2] << 6) | block[3]);
            filled = 0;
            if pad > 0 {
                if pad > 2 {
                    return None;
                }
                out.truncate(out.len() - pad);
                break;
            }
        }
    }
    (!out.is_empty()).then(|| Bytes::from(out))
}

/// Appends the standard base64 encoding of `key`.
pub(super) fn encode_into(key: &[u8], out: &mut BytesMut) {
    let start = out.len();
    let len = base64::encoded_len(key.len(), true).unwrap_or(0);
    out.put_bytes(0, len);
    let written = STANDARD.encode_slice(key, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// The standard base64 encoding of `key`.
pub(super) fn encode(key: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    encode_into(key, &mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_memcached() {
        assert_eq!(decode(b"Zm9v").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode(b"Zm9v!!").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode(b"Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(decode(b"Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode(b"Zg==Zm9v").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode(b"foo"), None);
        assert_eq!(decode(b"Zm9v="), None);
        assert_eq!(decode(b"===="), None);
        assert_eq!(decode(b"Z==="), None);
        assert_eq!(decode(b"!!"), None);
    }

    #[test]
    fn encodes_standard() {
        assert_eq!(&encode(b"foo")[..], b"Zm9v");
        assert_eq!(&encode(b"f")[..], b"Zg==");
        assert_eq!(&encode(b"")[..], b"");
    }
}
