//! Reading the reply to a `stats` request of any group without knowing its lines: a
//! memcached (or memkeepd) answers every group with lines up to `END` (`STAT` lines
//! for most, `ITEM` lines for `cachedump`, `PREFIX` lines for `detail dump`, and
//! whatever a newer server adds), or with one line: an error, `RESET`, `OK`, or the
//! lone `STAT` line of `sizes_enable`/`sizes_disable`. Framed that way, a group the
//! proxy has never heard of passes through instead of costing the connection.

use bytes::{Bytes, BytesMut};
use memchr::memchr;
use memkeep_protocol::{decode_response, Form, Limits, Response, TextForm, TextVerb};

use super::ReplyError;

/// The longest `stats` reply read (memcached caps a `cachedump` at 2 MiB); a longer
/// one cannot be framed and resets the connection.
pub const MAX_STATS_REPLY: usize = 4 << 20;

/// The reply to one `stats` request, read a line at a time as it arrives.
#[derive(Debug)]
pub(crate) struct StatsReply {
    /// The group answers with one line and no `END`.
    one_line: bool,
    /// Bytes at the front of the buffer already seen to be whole lines of the reply.
    scanned: usize,
}

impl StatsReply {
    /// The reader for `stats GROUP` (`None`: plain `stats`).
    pub(crate) fn new(group: Option<&[u8]>) -> Self {
        let name = group.map(|g| g.split(|&b| b == b' ').next().unwrap_or_default());
        StatsReply {
            one_line: matches!(name, Some(b"sizes_enable" | b"sizes_disable")),
            scanned: 0,
        }
    }

    /// The reply from the front of `buf` once it is whole. A reply of `STAT` lines
    /// only is read into [`Response::Stats`]; any other is passed on as it came, in
    /// [`Response::Lines`].
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
            if start == 0 && !line.starts_with(b"STAT ") && line != b"END" {
                let status = is_status(line) || !is_line_of_many(line);
                if status {
                    return one_status_line(buf.split_to(end), limits).map(Some);
                }
            }
            self.scanned = end;
            if (start == 0 && self.one_line) || line == b"END" {
                let whole = buf.split_to(end).freeze();
                self.scanned = 0;
                return Ok(Some(reply(whole)));
            }
            if self.scanned > MAX_STATS_REPLY {
                return Err(ReplyError::TooLong);
            }
        }
    }
}

/// A line without its CR LF.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Replies that are one line whatever the group: errors, `RESET`, `OK`.
fn is_status(line: &[u8]) -> bool {
    line == b"RESET"
        || line == b"OK"
        || line.starts_with(b"ERROR")
        || line.starts_with(b"CLIENT_ERROR ")
        || line.starts_with(b"SERVER_ERROR ")
}

/// A first line that starts a listing: an upper-case word and more (`ITEM ...`,
/// `PREFIX ...`). Anything else is taken as a one-line reply, which the status
/// decoder accepts or refuses.
fn is_line_of_many(line: &[u8]) -> bool {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    !word.is_empty() && word.len() < line.len() && word.iter().all(u8::is_ascii_uppercase)
}

/// One status line, read by the protocol's own decoder for `stats` replies.
fn one_status_line(line: BytesMut, limits: &Limits) -> Result<Response, ReplyError> {
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
            return Response::Lines(whole);
        };
        let stat = String::from_utf8_lossy(stat);
        stats.push(match stat.split_once(' ') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (stat.into_owned(), String::new()),
        });
    }
    // No END: a one-line group's lone STAT line, passed on as it came.
    Response::Lines(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(group: Option<&[u8]>, bytes: &[u8]) -> (Result<Option<Response>, ReplyError>, usize) {
        let mut buf = BytesMut::from(bytes);
        let result = StatsReply::new(group).read(&mut buf, &Limits::default());
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
        assert_eq!(
            r.unwrap().unwrap(),
            Response::Lines(Bytes::from_static(dump))
        );
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
            Response::Lines(Bytes::from_static(b"STAT sizes_status enabled\r\n"))
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
        let mut reader = StatsReply::new(Some(b"cachedump 1 0"));
        let mut buf = BytesMut::new();
        for (i, byte) in whole.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let got = reader.read(&mut buf, &Limits::default()).unwrap();
            assert_eq!(got.is_some(), i == whole.len() - 1, "at byte {i}");
        }
    }

    #[test]
    fn what_cannot_be_framed_is_refused() {
        let long = vec![b'x'; Limits::default().max_line_len + 1];
        assert!(read(Some(b"items"), &long).0.is_err());
        assert!(read(None, b"hello there\r\n").0.is_err());
    }
}
