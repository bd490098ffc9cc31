//! The file `memkeep dump` writes and `memkeep load` reads: text headers, raw
//! values, so any value survives and the file can be read with `less`.
//!
//! ```text
//! # memkeep dump v1 source=127.0.0.1:11211 time=1795455524
//! key=user%3A1 flags=0 exp=0 bytes=5
//! hello
//! key=session%2Fab flags=3 exp=1795459124 bytes=2
//! hi
//! # end items=2
//! ```
//!
//! One item is a header line, then exactly `bytes` bytes of value, then `\n`.
//! `key` is URI-encoded as `lru_crawler metadump` prints it (bytes other than
//! letters, digits and `-._~` as `%XX`); `flags` are the client flags; `exp` is the
//! absolute expiry in unix seconds, 0 for never, so a load later keeps the
//! original expiry and skips what has expired meanwhile. The last line counts the
//! items: a file without it was cut short.

use std::io::{BufRead, Write};

use bytes::{Bytes, BytesMut};
use memkeep_protocol::MetadumpEntry;

/// The first line's start.
pub const MAGIC: &str = "# memkeep dump v1";

/// One item of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The key.
    pub key: Bytes,
    /// Client flags.
    pub flags: u32,
    /// Absolute expiry, unix seconds; 0 for never.
    pub exp: u64,
    /// The value.
    pub value: Bytes,
}

/// Writes the first line.
pub fn write_header(out: &mut impl Write, source: &str, now: u64) -> std::io::Result<()> {
    writeln!(out, "{MAGIC} source={source} time={now}")
}

/// Writes one item.
pub fn write_item(out: &mut impl Write, item: &Item) -> std::io::Result<()> {
    let mut key = BytesMut::with_capacity(item.key.len() * 3);
    MetadumpEntry::encode_key(&item.key, &mut key);
    out.write_all(b"key=")?;
    out.write_all(&key)?;
    writeln!(
        out,
        " flags={} exp={} bytes={}",
        item.flags,
        item.exp,
        item.value.len()
    )?;
    out.write_all(&item.value)?;
    out.write_all(b"\n")
}

/// Writes the last line.
pub fn write_end(out: &mut impl Write, items: u64) -> std::io::Result<()> {
    writeln!(out, "# end items={items}")
}

/// Reads a dump item by item.
pub struct Reader<R> {
    input: R,
    line: Vec<u8>,
    /// The count on the end line, once read.
    pub end: Option<u64>,
    /// Largest value accepted (a corrupt length must not allocate gigabytes).
    max_value: usize,
}

impl<R: BufRead> Reader<R> {
    /// Checks the first line.
    pub fn new(mut input: R, max_value: usize) -> Result<Self, String> {
        let mut first = String::new();
        input
            .read_line(&mut first)
            .map_err(|e| format!("cannot read the dump: {e}"))?;
        if !first.starts_with(MAGIC) {
            return Err("not a memkeep dump (no \"# memkeep dump v1\" line)".into());
        }
        Ok(Reader {
            input,
            line: Vec::new(),
            end: None,
            max_value,
        })
    }

    /// The next item; `None` after the end line. A file that stops before its end
    /// line is an error.
    pub fn next_item(&mut self) -> Result<Option<Item>, String> {
        self.line.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the dump ends without its \"# end\" line: it was cut short".into());
        }
        let line = std::str::from_utf8(&self.line)
            .map_err(|_| "a header line is not text".to_owned())?
            .trim_end_matches('\n');
        if let Some(count) = line.strip_prefix("# end items=") {
            self.end = Some(count.parse().map_err(|_| format!("bad end line: {line}"))?);
            return Ok(None);
        }
        let bad = || format!("bad item line: {line:?}");
        let mut key = None;
        let (mut flags, mut exp, mut bytes) = (None, None, None);
        for field in line.split(' ') {
            let (name, value) = field.split_once('=').ok_or_else(bad)?;
            match name {
                "key" => key = Some(MetadumpEntry::decode_key(value).ok_or_else(bad)?),
                "flags" => flags = value.parse::<u32>().ok(),
                "exp" => exp = value.parse::<u64>().ok(),
                "bytes" => bytes = value.parse::<usize>().ok(),
                _ => return Err(bad()),
            }
        }
        let (Some(key), Some(flags), Some(exp), Some(bytes)) = (key, flags, exp, bytes) else {
            return Err(bad());
        };
        if bytes > self.max_value {
            return Err(format!(
                "{line}: value larger than {} bytes",
                self.max_value
            ));
        }
        let mut value = vec![0u8; bytes + 1];
        self.input
            .read_exact(&mut value)
            .map_err(|_| "the dump ends inside a value: it was cut short".to_owned())?;
        if value.pop() != Some(b'\n') {
            return Err(format!("{line}: the value is not followed by a newline"));
        }
        Ok(Some(Item {
            key,
            flags,
            exp,
            value: value.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_whatever_their_bytes() {
        let items = [
            Item {
                key: Bytes::from_static(b"user:1"),
                flags: 0,
                exp: 0,
                value: Bytes::from_static(b"hello"),
            },
            Item {
                key: Bytes::from_static(b"we ird\x01/\xff"),
                flags: 7,
                exp: 1_795_459_124,
                value: Bytes::from_static(b"line\nbreak\r\n\x00"),
            },
        ];
        let mut file = Vec::new();
        write_header(&mut file, "127.0.0.1:11211", 1).unwrap();
        for item in &items {
            write_item(&mut file, item).unwrap();
        }
        write_end(&mut file, 2).unwrap();
        let text = String::from_utf8_lossy(&file);
        assert!(
            text.contains("key=user%3A1 flags=0 exp=0 bytes=5\nhello\n"),
            "{text}"
        );
        assert!(text.contains("key=we%20ird%01%2F%FF flags=7"), "{text}");

        let mut reader = Reader::new(&file[..], 1 << 20).unwrap();
        assert_eq!(reader.next_item().unwrap().as_ref(), Some(&items[0]));
        assert_eq!(reader.next_item().unwrap().as_ref(), Some(&items[1]));
        assert_eq!(reader.next_item().unwrap(), None);
        assert_eq!(reader.end, Some(2));
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        assert!(Reader::new(&b"hello\n"[..], 100).is_err());
        let cut = b"# memkeep dump v1 source=x time=1\nkey=a flags=0 exp=0 bytes=5\nhel";
        let mut reader = Reader::new(&cut[..], 100).unwrap();
        assert!(reader.next_item().unwrap_err().contains("cut short"));
        let no_end = b"# memkeep dump v1 source=x time=1\n";
        assert!(Reader::new(&no_end[..], 100).unwrap().next_item().is_err());
        let huge = b"# memkeep dump v1 source=x time=1\nkey=a flags=0 exp=0 bytes=999999\n";
        assert!(Reader::new(&huge[..], 100).unwrap().next_item().is_err());
    }
}
