//! Reading a reply of lines without knowing the lines: `stats` of any group and
//! `lru_crawler metadump`. A memcached (or memkeepd) answers with lines up to `END`
//! (`STAT` lines for most stats groups, `ITEM` lines for `cachedump`, `PREFIX` lines
//! for `detail dump`, `key=...` lines for a metadump, and whatever a newer server
//! adds), or with one line: an error, `RESET`, `OK`, `BUSY ...`, or the lone `STAT`
//! line of `stats sizes_enable`/`sizes_disable`. Framed that way, a group the proxy
//! has never heard of passes through instead of costing the connection, and a reply
//! too long to hold is read to its `END` and dropped, keeping the connection in step.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;
use memkeep_protocol::{decode_response, Form, Limits, Response, TextForm, TextVerb};

use super::ReplyError;

/// The longest listing passed on (memcached caps a `cachedump` at 2 MiB). A longer
/// one is read to its end, dropped, and answered `SERVER_ERROR`.
pub const MAX_LISTING: usize = 4 << 20;

/// What the client is told of a listing longer than [`MAX_LISTING`].
pub const LISTING_TOO_LONG: &str = "reply too long to pass through the proxy";

/// The reply to one request answered with lines, read as it arrives.
#[derive(Debug)]
pub(crate) struct Listing {
    kind: Kind,
    /// Bytes at the front of the buffer already seen to be whole lines of the reply.
    scanned: usize,
    /// Past [`MAX_LISTING`]: the lines read so far were dropped.
    dropped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `stats GROUP`: a first line that is neither `STAT` nor a listing's (an
    /// upper-case word and more) is a one-line reply.
    Stats,
    /// `stats sizes_enable` and `sizes_disable`: one line, no `END`.
    StatsOneLine,
    /// `lru_crawler metadump`: lines of any shape up to `END`, unless the first is a
    /// status line.
    Dump,
}

impl Listing {
    /// The reader for `stats GROUP` (`None`: plain `stats`).
    pub(crate) fn stats(group: Option<&[u8]>) -> Self {
        let name = group.map(|g| g.split(|&b| b == b' ').next().unwrap_or_default());
        let kind = match name {
            Some(b"sizes_enable" | b"sizes_disable") => Kind::StatsOneLine,
            _ => Kind::Stats,
        };
        Self::new(kind)
    }

    /// The reader for `lru_crawler metadump`.
    pub(crate) fn dump() -> Self {
        Self::new(Kind::Dump)
    }

    fn new(kind: Kind) -> Self {
        Listing {
            kind,
            scanned: 0,
            dropped: false,
        }
    }

    /// The reply from the front of `buf` once it is whole. `STAT` lines only are
    /// read into [`Response::Stats`]; any other listing is passed on as it came, in
    /// [`Response::Raw`].
    pub(crate) fn read(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Response>, ReplyError> {
        loop {
            let rest = &buf[self.scanned..];
            let window = &rest[..rest.len().min(limits.max_line_len)];
            let Some(lf) = memchr(b'\n', window) else {
                if rest.len() >= limits.max_line_len {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            let start = self.scanned;
            let end = start + lf + 1;
            let line = trim_line(&buf[start..end]);
            let first = start == 0 && !self.dropped;
            if first && self.is_one_line(line) {
                return one_status_line(buf.split_to(end), limits).map(Some);
            }
            self.scanned = end;
            if line == b"END" || (first && self.kind == Kind::StatsOneLine) {
                let whole = buf.split_to(end).freeze();
                self.scanned = 0;
                if self.dropped {
                    return Ok(Some(Response::ServerError(LISTING_TOO_LONG.into())));
                }
                return Ok(Some(reply(whole)));
            }
            if self.scanned > MAX_LISTING {
                buf.advance(self.scanned);
                self.scanned = 0;
                self.dropped = true;
            }
        }
    }

    /// Whether the reply's first line is the whole reply.
    fn is_one_line(&self, line: &[u8]) -> bool {
        if is_status(line) {
            return true;
        }
        match self.kind {
            Kind::Stats => !line.starts_with(b"STAT ") && line != b"END" && !is_line_of_many(line),
            Kind::StatsOneLine => false,
            Kind::Dump => line.starts_with(b"BUSY "),
        }
    }
}

/// A line without its CR LF.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Replies that are one line whatever was asked: errors, `RESET`, `OK`.
fn is_status(line: &[u8]) -> bool {
    line == b"RESET"
        || line == b"OK"
        || line.starts_with(b"ERROR")
        || line.starts_with(b"CLIENT_ERROR ")
        || line.starts_with(b"SERVER_ERROR ")
}

/// A first line that starts a listing: an upper-case word and more (`ITEM ...`,
/// `PREFIX ...`).
fn is_line_of_many(line: &[u8]) -> bool {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    !word.is_empty() && word.len() < line.len() && word.iter().all(u8::is_ascii_uppercase)
}

/// One status line, read by the protocol's own decoder for `stats` replies (which
/// knows memcached's error lines); `BUSY ...` is passed on as it came.
fn one_status_line(line: BytesMut, limits: &Limits) -> Result<Response, ReplyError> {
    if line.starts_with(b"BUSY ") {
        return Ok(Response::Raw(line.freeze()));
    }
    let form = Form::Text(TextForm {
        verb: TextVerb::Stats,
        noreply: false,
    });
    let mut line = line;
    match decode_response(&form, &mut line, limits) {
        Ok(Some(response)) => Ok(response),
        Ok(None) => Err(ReplyError::Unexpected),
        Err(e) => Err(ReplyError::Invalid(e)),
    }
}

/// The whole reply: parsed `STAT` lines, or the lines as they came.
fn reply(whole: Bytes) -> Response {
    let lines = || whole.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let mut stats = Vec::new();
    for line in lines() {
        let line = trim_line(line);
        if line == b"END" {
            return Response::Stats(stats);
        }
        let Some(stat) = line.strip_prefix(b"STAT ") else {
            return Response::Raw(whole);
        };
        let stat = String::from_utf8_lossy(stat);
        stats.push(match stat.split_once(' ') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (stat.into_owned(), String::new()),
        });
    }
    // No END: a one-line group's lone STAT line, passed on as it came.
    Response::Raw(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(group: Option<&[u8]>, bytes: &[u8]) -> (Result<Option<Response>, ReplyError>, usize) {
        let mut buf = BytesMut::from(bytes);
        let result = Listing::stats(group).read(&mut buf, &Limits::default());
        (result, buf.len())
    }

    #[test]
    fn stat_lines_are_read_listings_pass_through() {
        let (r, left) = read(None, b"STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nVERSION");
        assert_eq!(
            r.unwrap().unwrap(),
            Response::Stats(vec![
                ("pid".into(), "1".into()),
                ("uptime".into(), "2".into())
            ])
        );
        assert_eq!(left, 7);
        let dump = b"ITEM a [1 b; 0 s]\r\nITEM b [1 b; 0 s]\r\nEND\r\n";
        let (r, left) = read(Some(b"cachedump 1 0"), dump);
        assert_eq!(r.unwrap().unwrap(), Response::Raw(Bytes::from_static(dump)));
        assert_eq!(left, 0);
        let (r, _) = read(Some(b"detail dump"), b"END\r\n");
        assert_eq!(r.unwrap().unwrap(), Response::Stats(Vec::new()));
    }

    #[test]
    fn one_line_replies() {
        let (r, left) = read(
            Some(b"sizes_enable"),
            b"STAT sizes_status enabled\r\nVERSION",
        );
        assert_eq!(
            r.unwrap().unwrap(),
            Response::Raw(Bytes::from_static(b"STAT sizes_status enabled\r\n"))
        );
        assert_eq!(left, 7);
        assert_eq!(
            read(Some(b"reset"), b"RESET\r\n").0.unwrap().unwrap(),
            Response::Reset
        );
        assert_eq!(
            read(Some(b"detail on"), b"OK\r\n").0.unwrap().unwrap(),
            Response::Ok
        );
        assert_eq!(
            read(Some(b"foo"), b"ERROR\r\n").0.unwrap().unwrap(),
            Response::Error
        );
        assert_eq!(
            read(Some(b"cachedump"), b"CLIENT_ERROR bad command line\r\n")
                .0
                .unwrap()
                .unwrap(),
            Response::ClientError("bad command line".into())
        );
    }

    #[test]
    fn a_reply_arriving_in_pieces_is_read_once_whole() {
        let whole = b"ITEM a [1 b; 0 s]\r\nITEM b [1 b; 0 s]\r\nEND\r\n";
        let mut reader = Listing::stats(Some(b"cachedump 1 0"));
        let mut buf = BytesMut::new();
        for (i, byte) in whole.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let got = reader.read(&mut buf, &Limits::default()).unwrap();
            assert_eq!(got.is_some(), i == whole.len() - 1, "at byte {i}");
        }
    }

    #[test]
    fn a_metadump_is_any_lines_up_to_end() {
        let dump = b"key=a exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\nEND\r\n";
        let mut buf = BytesMut::from(&dump[..]);
        let got = Listing::dump().read(&mut buf, &Limits::default()).unwrap();
        assert_eq!(got.unwrap(), Response::Raw(Bytes::from_static(dump)));
        let mut busy = BytesMut::from(&b"BUSY currently processing crawler request\r\n"[..]);
        let got = Listing::dump().read(&mut busy, &Limits::default()).unwrap();
        assert!(matches!(got, Some(Response::Raw(_))));
        assert!(busy.is_empty());
    }

    #[test]
    fn a_listing_too_long_is_read_to_its_end_and_dropped() {
        let line = b"ITEM some-key-of-a-fair-length [100 b; 0 s]\r\n";
        let mut reply = Vec::new();
        while reply.len() <= MAX_LISTING {
            reply.extend_from_slice(line);
        }
        reply.extend_from_slice(b"END\r\nVERSION");
        let mut reader = Listing::stats(Some(b"cachedump 1 0"));
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in reply.chunks(64 * 1024) {
            buf.extend_from_slice(chunk);
            if let Some(response) = reader.read(&mut buf, &Limits::default()).unwrap() {
                got = Some(response);
            }
            assert!(buf.len() <= MAX_LISTING + 64 * 1024 + line.len());
        }
        assert_eq!(got.unwrap(), Response::ServerError(LISTING_TOO_LONG.into()));
        assert_eq!(&buf[..], b"VERSION");
    }

    #[test]
    fn what_cannot_be_framed_is_refused() {
        let long = vec![b'x'; Limits::default().max_line_len + 1];
        assert!(read(Some(b"items"), &long).0.is_err());
        assert!(read(None, b"hello there\r\n").0.is_err());
    }
}
