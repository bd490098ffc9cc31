//! `lru_crawler metadump`'s lines: `key=<uri-encoded key> exp=<unix time or -1>
//! la=<unix time> cas=<n> fetch=<yes|no> cls=<class> size=<bytes>\n`, as memcached
//! 1.6 prints them (each line ends in a bare `\n`; the list ends with `END\r\n`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::MetadumpScope;

/// One item as `lru_crawler metadump` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadumpEntry {
    /// The key (decoded).
    pub key: Bytes,
    /// Absolute expiry in unix seconds, -1 for never.
    pub exp: i64,
    /// Last access in unix seconds.
    pub last_access: u64,
    /// CAS unique.
    pub cas: u64,
    /// Whether it was read since it was stored.
    pub fetched: bool,
    /// memcached's slab class for its size.
    pub class: u32,
    /// memcached's size of the item (header, key, value).
    pub size: u32,
}

impl MetadumpEntry {
    /// Appends the entry's line.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(b"key=");
        uri_encode(&self.key, out);
        let rest = format!(
            " exp={} la={} cas={} fetch={} cls={} size={}\n",
            self.exp,
            self.last_access,
            self.cas,
            if self.fetched { "yes" } else { "no" },
            self.class,
            self.size
        );
        out.put_slice(rest.as_bytes());
    }

    /// Appends `key` URI-encoded, as metadump prints keys.
    pub fn encode_key(key: &[u8], out: &mut BytesMut) {
        uri_encode(key, out);
    }

    /// Decodes a URI-encoded key; `None` if a `%` is not followed by two hex digits.
    pub fn decode_key(text: &str) -> Option<Bytes> {
        uri_decode(text)
    }

    /// Reads one line (without its `\n`); `None` if it is not a metadump line.
    pub fn parse(line: &[u8]) -> Option<MetadumpEntry> {
        let line = std::str::from_utf8(line).ok()?;
        let mut entry = MetadumpEntry {
            key: Bytes::new(),
            exp: 0,
            last_access: 0,
            cas: 0,
            fetched: false,
            class: 0,
            size: 0,
        };
        let mut has_key = false;
        for field in line.split(' ') {
            let (name, value) = field.split_once('=')?;
            match name {
                "key" => {
                    entry.key = uri_decode(value)?;
                    has_key = true;
                }
                "exp" => entry.exp = value.parse().ok()?,
                "la" => entry.last_access = value.parse().ok()?,
                "cas" => entry.cas = value.parse().ok()?,
                "fetch" => entry.fetched = value == "yes",
                "cls" => entry.class = value.parse().ok()?,
                "size" => entry.size = value.parse().ok()?,
                // Newer memcached versions add fields: skip what we do not know.
                _ => {}
            }
        }
        has_key.then_some(entry)
    }
}

/// memcached's URI encoding of keys: letters, digits and `-._~` as they are,
/// every other byte as `%XX` (upper case).
fn uri_encode(key: &[u8], out: &mut BytesMut) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.put_u8(b);
        } else {
            out.put_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

fn uri_decode(text: &str) -> Option<Bytes> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out.into())
}

/// `lru_crawler metadump <scope>\r\n`. A refused class list is written as class 0,
/// which memcached refuses the same way.
pub(crate) fn encode_request(scope: &MetadumpScope, out: &mut BytesMut) {
    out.put_slice(b"lru_crawler metadump ");
    match scope {
        MetadumpScope::All => out.put_slice(b"all"),
        MetadumpScope::Classes(classes) => {
            let list: Vec<String> = classes.iter().map(u32::to_string).collect();
            out.put_slice(list.join(",").as_bytes());
        }
        MetadumpScope::BadClass => out.put_u8(b'0'),
    }
    out.put_slice(b"\r\n");
}

/// Parses a metadump class list (`1,2,3`): memcached's valid classes are 1 to 63.
pub(crate) fn parse_classes(list: &[u8]) -> Option<Vec<u32>> {
    let text = std::str::from_utf8(list).ok()?;
    let classes: Option<Vec<u32>> = text
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<u32>().ok().filter(|n| (1..64).contains(n)))
        .collect();
    classes.filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_memcached_s_and_parse_back() {
        let entry = MetadumpEntry {
            key: Bytes::from_static(b"b%20x\xc3\xa9/"),
            exp: 1795455624,
            last_access: 1795455524,
            cas: 2,
            fetched: false,
            class: 1,
            size: 70,
        };
        let mut out = BytesMut::new();
        entry.encode(&mut out);
        assert_eq!(
            &out[..],
            b"key=b%2520x%C3%A9%2F exp=1795455624 la=1795455524 cas=2 fetch=no cls=1 size=70\n"
        );
        assert_eq!(MetadumpEntry::parse(&out[..out.len() - 1]), Some(entry));
        assert_eq!(MetadumpEntry::parse(b"END"), None);
        assert_eq!(MetadumpEntry::parse(b"key=%G1 exp=1"), None);
    }

    #[test]
    fn requests_decode_back_to_themselves() {
        use crate::{Decoder, Limits};
        for scope in [
            MetadumpScope::All,
            MetadumpScope::Classes(vec![1, 63]),
            MetadumpScope::BadClass,
        ] {
            let mut wire = BytesMut::new();
            encode_request(&scope, &mut wire);
            let request = Decoder::new(Limits::default()).decode(&mut wire).unwrap();
            assert_eq!(request.unwrap().command, crate::Command::Metadump(scope));
        }
    }

    #[test]
    fn class_lists() {
        assert_eq!(parse_classes(b"1,2"), Some(vec![1, 2]));
        assert_eq!(parse_classes(b"63"), Some(vec![63]));
        for bad in [&b"0"[..], b"64", b"x", b"1,x", b""] {
            assert_eq!(parse_classes(bad), None, "{:?}", bad);
        }
    }
}
