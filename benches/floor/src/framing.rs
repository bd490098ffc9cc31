//! Where a request or a reply ends, and nothing more: the floor's whole knowledge of
//! the memcached text protocol. Requests are one line, plus a data block for the
//! storage verbs; replies are one line, or `VALUE`/`STAT` items up to `END`.

/// The longest line accepted: room for a multi-get of a few hundred keys.
pub const MAX_LINE: usize = 64 * 1024;
/// The largest data block accepted (memcached's default item size limit).
pub const MAX_VALUE: usize = 1024 * 1024;

/// The stream cannot be framed: the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A complete request at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Bytes of the whole request, line and data block.
    pub len: usize,
    /// Bytes of the command line without its line end.
    pub line_len: usize,
    /// A storage verb's data block size (without its CRLF).
    pub data_len: Option<usize>,
    /// The client asked for no reply.
    pub noreply: bool,
}

/// The request at the front of `buf`: `Ok(None)` until all of it has arrived.
pub fn request_end(buf: &[u8]) -> Result<Option<Request>, Malformed> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        return if buf.len() > MAX_LINE {
            Err(Malformed)
        } else {
            Ok(None)
        };
    };
    let line = trim_cr(&buf[..lf]);
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let verb = words.next().unwrap_or_default();
    let noreply = line.ends_with(b" noreply");
    if !matches!(
        verb,
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas"
    ) {
        let request = Request {
            len: lf + 1,
            line_len: line.len(),
            data_len: None,
            noreply,
        };
        return Ok(Some(request));
    }
    // <verb> <key> <flags> <exptime> <bytes> ...
    let data_len = words.nth(3).and_then(parse_size).ok_or(Malformed)?;
    let len = lf + 1 + data_len + 2;
    if buf.len() < len {
        return Ok(None);
    }
    if buf[len - 2..len] != *b"\r\n" {
        return Err(Malformed);
    }
    Ok(Some(Request {
        len,
        line_len: line.len(),
        data_len: Some(data_len),
        noreply,
    }))
}

/// Finds where replies end, remembering how far into a multi-item reply it has
/// looked, so a large reply arriving in pieces is not rescanned from its start.
#[derive(Debug, Default)]
pub struct ReplyScanner {
    /// Bytes at the front of the buffer known to be whole items of an unfinished reply.
    scanned: usize,
}

impl ReplyScanner {
    /// The length of the reply at the front of `buf`, `Ok(None)` until all of it has
    /// arrived. Call again with the same buffer front (more bytes appended) until a
    /// reply is returned, then consume it.
    pub fn reply_end(&mut self, buf: &[u8]) -> Result<Option<usize>, Malformed> {
        loop {
            let rest = &buf[self.scanned..];
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                return if rest.len() > MAX_LINE {
                    Err(Malformed)
                } else {
                    Ok(None)
                };
            };
            let line = trim_cr(&rest[..lf]);
            if line.starts_with(b"VALUE ") {
                // VALUE <key> <flags> <bytes> [<cas>]
                let size = line
                    .split(|&b| b == b' ')
                    .nth(3)
                    .and_then(parse_size)
                    .ok_or(Malformed)?;
                let item = lf + 1 + size + 2;
                if rest.len() < item {
                    return Ok(None);
                }
                self.scanned += item;
                continue;
            }
            if line.starts_with(b"STAT ") {
                self.scanned += lf + 1;
                continue;
            }
            if self.scanned > 0 && line != b"END" {
                return Err(Malformed);
            }
            let end = self.scanned + lf + 1;
            self.scanned = 0;
            return Ok(Some(end));
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A decimal size up to [`MAX_VALUE`].
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n = digits.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })?;
    (n <= MAX_VALUE).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_command_ends_at_its_line_end() {
        let r = request_end(b"get a b\r\nget c\r\n").unwrap().unwrap();
        assert_eq!(
            (r.len, r.line_len, r.data_len, r.noreply),
            (9, 7, None, false)
        );
        assert_eq!(request_end(b"get a b\r").unwrap(), None);
    }

    #[test]
    fn a_storage_command_ends_after_its_data_block() {
        let buf = b"set k 0 0 5 noreply\r\nhello\r\nget k\r\n";
        let r = request_end(buf).unwrap().unwrap();
        assert_eq!((r.len, r.data_len, r.noreply), (28, Some(5), true));
        for cut in 0..28 {
            assert_eq!(request_end(&buf[..cut]).unwrap(), None, "prefix of {cut}");
        }
        assert_eq!(request_end(b"set k 0 0 5\r\nhelloXY"), Err(Malformed));
        assert_eq!(request_end(b"set k 0 0\r\n"), Err(Malformed));
        assert_eq!(request_end(b"set k 0 0 99999999\r\n"), Err(Malformed));
        assert_eq!(request_end(&[b'x'; MAX_LINE + 1]), Err(Malformed));
    }

    #[test]
    fn a_reply_ends_at_its_line_or_at_end_after_its_items() {
        let mut s = ReplyScanner::default();
        assert_eq!(s.reply_end(b"STORED\r\nEND\r\n"), Ok(Some(8)));
        assert_eq!(s.reply_end(b"END\r\n"), Ok(Some(5)));
        let hits = b"VALUE a 0 3\r\nabc\r\nVALUE b 1 2 7\r\nxy\r\nEND\r\nSTORED\r\n";
        for cut in 0..42 {
            let mut s = ReplyScanner::default();
            assert_eq!(s.reply_end(&hits[..cut]), Ok(None), "prefix of {cut}");
            assert_eq!(s.reply_end(hits), Ok(Some(42)), "after a prefix of {cut}");
        }
        assert_eq!(
            s.reply_end(b"STAT pid 1\r\nSTAT x y\r\nEND\r\n"),
            Ok(Some(27))
        );
        assert_eq!(
            s.reply_end(b"VALUE a 0 1\r\nx\r\nSTORED\r\n"),
            Err(Malformed)
        );
    }
}
