//! Server side: one text command line (and, for storage commands, its data block)
//! from the front of the read buffer, read with memcached 1.6's tokenizer and
//! checks so every malformed line gets the reply memcached would give it.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use memchr::memchr;

use super::admin::decode_admin;
use super::number::{strtol_i32, strtoul_u32, strtoull};
use super::store::{decode_store, store_header, store_verb};
use super::tokens::{spans, Tokens};
use crate::{
    Arith, Command, DecodeError, Delete, FlushAll, Form, Get, Limits, ProtocolError, Request,
    TextForm, TextVerb, Touch,
};

/// The verb recorded for lines that name no known command. A form needs a verb,
/// and the replies to such lines (`ERROR`, line too long) do not depend on it.
const UNKNOWN_VERB: TextVerb = TextVerb::Version;

/// Where the command line at the front of the buffer ends.
pub(super) struct Line {
    /// Bytes up to and including the LF.
    pub(super) len: usize,
    /// End of the command text: before the LF and the one CR memcached strips.
    pub(super) content_end: usize,
}

/// See [`crate::Decoder::decode`].
pub(crate) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let Some(line) = frame_line(buf, limits)? else {
        return Ok(None);
    };
    let store = {
        // Only a storage command's line is tokenized here (a multi-get's would be
        // walked twice).
        let text = command_text(&buf[..line.content_end]);
        let first = spans(text).next().map_or(&b""[..], |word| &text[word]);
        store_verb(first).map(|verb| {
            let tokens = Tokens::new(text);
            (verb, tokens.noreply(), store_header(&tokens, verb, limits))
        })
    };
    match store {
        Some((verb, noreply, header)) => decode_store(buf, &line, verb, noreply, header, swallow),
        None => {
            let frame = buf.split_to(line.len).freeze();
            let content_end = command_text(&frame[..line.content_end]).len();
            decode_line(&frame, content_end, limits).map(Some)
        }
    }
}

/// Finds the end of the command line, refusing to wait for more bytes once the line
/// is longer than the limits allow. Only `get`-family lines may be long: their length
/// grows with the number of keys.
fn frame_line(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Line>, DecodeError> {
    let limit = if is_multiget(buf) {
        limits.max_multiget_line()
    } else {
        limits.max_line_len
    };
    let window = &buf[..buf.len().min(limit)];
    match memchr(b'\n', window) {
        // memcached strips the CR only from lines longer than "\r\n" itself.
        Some(lf) if lf > 1 && buf[lf - 1] == b'\r' => Ok(Some(Line {
            len: lf + 1,
            content_end: lf - 1,
        })),
        Some(lf) => Ok(Some(Line {
            len: lf + 1,
            content_end: lf,
        })),
        None if buf.len() >= limit => {
            // No end in sight: the rest of the stream cannot be framed.
            buf.clear();
            Err(error(ProtocolError::LineTooLong, UNKNOWN_VERB, false, true))
        }
        None => Ok(None),
    }
}

/// Whether the line is a retrieval, which memcached lets grow past its line limit.
fn is_multiget(buf: &[u8]) -> bool {
    let start = buf.iter().take_while(|&&b| b == b' ').count();
    let rest = &buf[start..];
    [&b"get "[..], b"gets ", b"gat ", b"gats ", b"bget "]
        .iter()
        .any(|p| rest.starts_with(p))
}

/// The command as memcached's `strlen`-based tokenizer sees it: up to the first NUL.
fn command_text(line: &[u8]) -> &[u8] {
    match memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    }
}

pub(super) fn error(
    error: ProtocolError,
    verb: TextVerb,
    noreply: bool,
    close: bool,
) -> DecodeError {
    DecodeError {
        error,
        form: Form::Text(TextForm { verb, noreply }),
        close,
    }
}

pub(super) fn request(command: Command, verb: TextVerb, noreply: bool) -> Request {
    Request {
        command,
        form: Form::Text(TextForm { verb, noreply }),
    }
}

/// How memcached's dispatcher sees the first token of a line that is not a storage
/// command.
enum Head {
    Known(TextVerb),
    Unknown,
}

fn head(cmd: &[u8]) -> Head {
    Head::Known(match cmd {
        b"get" | b"bget" => TextVerb::Get,
        b"gets" => TextVerb::Gets,
        b"gat" => TextVerb::Gat,
        b"gats" => TextVerb::Gats,
        b"delete" => TextVerb::Delete,
        b"incr" => TextVerb::Incr,
        b"decr" => TextVerb::Decr,
        b"touch" => TextVerb::Touch,
        b"flush_all" => TextVerb::FlushAll,
        b"stats" => TextVerb::Stats,
        b"version" => TextVerb::Version,
        b"verbosity" => TextVerb::Verbosity,
        b"quit" => TextVerb::Quit,
        b"shutdown" => TextVerb::Shutdown,
        b"lru_crawler" => TextVerb::LruCrawler,
        b"cache_memlimit" => TextVerb::CacheMemlimit,
        b"slabs" => TextVerb::Slabs,
        b"watch" => TextVerb::Watch,
        b"lru" => TextVerb::Lru,
        b"refresh_certs" => TextVerb::RefreshCerts,
        _ => return Head::Unknown,
    })
}

/// Reads any command but the storage ones from its own line.
fn decode_line(frame: &Bytes, content_end: usize, limits: &Limits) -> Result<Request, DecodeError> {
    let content = &frame[..content_end];
    // Retrievals, most of the traffic, may carry many keys: their words are read
    // once, as keys, rather than also tokenized for dispatch first.
    let mut words = spans(content);
    if let Some(first) = words.next() {
        if let Head::Known(
            verb @ (TextVerb::Get | TextVerb::Gets | TextVerb::Gat | TextVerb::Gats),
        ) = head(&content[first])
        {
            return decode_get(frame, content, words, verb, limits)
                .map(|get| request(get, verb, false));
        }
    }
    let tokens = Tokens::new(content);
    let cmd = tokens.get(0);
    if tokens.count() == 0 || cmd.len() < 2 {
        return Err(error(
            ProtocolError::UnknownCommand,
            UNKNOWN_VERB,
            false,
            false,
        ));
    }
    let verb = match head(cmd) {
        Head::Known(verb) => verb,
        Head::Unknown => {
            // memcached hangs up on what looks like an HTTP request, without a word;
            // but lines whose first letter it dispatches on just get ERROR.
            let dispatched = b"gsacidt".contains(&cmd[0]) || (cmd[0] == b'm' && cmd.len() == 2);
            let http = !dispatched && tokens.last().starts_with(b"HTTP/");
            return Err(error(
                ProtocolError::UnknownCommand,
                UNKNOWN_VERB,
                http,
                http,
            ));
        }
    };
    let n = tokens.ntokens();
    let wrong_count = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(error(ProtocolError::UnknownCommand, verb, false, false))
        }
    };
    let noreply = tokens.noreply();
    let fail = |e: ProtocolError| Err(error(e, verb, noreply, false));
    let key_ok = |key: &[u8]| key.len() <= limits.max_key_len;
    let command = match verb {
        TextVerb::Delete => {
            wrong_count((3..=5).contains(&n))?;
            let mut noreply = false;
            if n > 3 {
                let hold_is_zero = tokens.get(2) == b"0";
                noreply = tokens.noreply();
                let valid =
                    (n == 4 && (hold_is_zero || noreply)) || (n == 5 && hold_is_zero && noreply);
                if !valid {
                    return Err(error(ProtocolError::BadDeleteFormat, verb, noreply, false));
                }
            }
            if !key_ok(tokens.get(1)) {
                return Err(error(ProtocolError::KeyTooLong, verb, noreply, false));
            }
            let key = frame.slice(tokens.span(1));
            return Ok(request(
                Command::Delete(Delete {
                    key,
                    ..Delete::default()
                }),
                verb,
                noreply,
            ));
        }
        TextVerb::Incr | TextVerb::Decr => {
            wrong_count(n == 4 || n == 5)?;
            if !key_ok(tokens.get(1)) {
                return fail(ProtocolError::KeyTooLong);
            }
            let Some(delta) = strtoull(tokens.get(2)) else {
                return fail(ProtocolError::InvalidDelta);
            };
            Command::Arith(Arith {
                key: frame.slice(tokens.span(1)),
                incr: verb == TextVerb::Incr,
                delta,
                ..Arith::default()
            })
        }
        TextVerb::Touch => {
            wrong_count(n == 4 || n == 5)?;
            if !key_ok(tokens.get(1)) {
                return fail(ProtocolError::KeyTooLong);
            }
            let Some(exptime) = strtol_i32(tokens.get(2)) else {
                return fail(ProtocolError::InvalidExptime);
            };
            Command::Touch(Touch {
                key: frame.slice(tokens.span(1)),
                exptime: i64::from(exptime),
            })
        }
        TextVerb::FlushAll => {
            wrong_count((2..=4).contains(&n))?;
            let mut delay = 0;
            if n != if noreply { 3 } else { 2 } {
                match strtol_i32(tokens.get(1)) {
                    // memcached flushes at once for any delay that is not positive.
                    Some(d) => delay = i64::from(d.max(0)),
                    None => return fail(ProtocolError::InvalidExptime),
                }
            }
            Command::FlushAll(FlushAll { delay })
        }
        TextVerb::Verbosity => {
            wrong_count(n == 3 || n == 4)?;
            match strtoul_u32(tokens.get(1)) {
                Some(level) => Command::Verbosity(level),
                None => return fail(ProtocolError::BadCommandLine),
            }
        }
        TextVerb::Stats => {
            if n == 2 {
                Command::Stats(None)
            } else {
                let start = tokens.span(1).start;
                let end = content
                    .iter()
                    .rposition(|&b| b != b' ')
                    .map_or(start, |i| i + 1);
                Command::Stats(Some(frame.slice(start..end)))
            }
        }
        TextVerb::Shutdown => match (n, tokens.get(1)) {
            (2, _) => Command::Shutdown { graceful: false },
            (3, b"graceful") => Command::Shutdown { graceful: true },
            _ => {
                return Err(error(
                    ProtocolError::InvalidShutdownMode,
                    verb,
                    false,
                    false,
                ))
            }
        },
        TextVerb::Version => Command::Version,
        TextVerb::LruCrawler
        | TextVerb::CacheMemlimit
        | TextVerb::Slabs
        | TextVerb::Watch
        | TextVerb::Lru
        | TextVerb::RefreshCerts => return decode_admin(verb, &tokens),
        _ => Command::Quit,
    };
    // Only the commands memcached checks `noreply` on honour it.
    let noreply = noreply
        && matches!(
            verb,
            TextVerb::Incr
                | TextVerb::Decr
                | TextVerb::Touch
                | TextVerb::FlushAll
                | TextVerb::Verbosity
        );
    Ok(request(command, verb, noreply))
}

/// Reads the keys (and for gat/gats the expiry) of a retrieval from the `words` after
/// its verb. memcached re-tokenizes long lines, so the number of keys is bounded only
/// by `max_keys`.
fn decode_get(
    frame: &Bytes,
    content: &[u8],
    words: impl Iterator<Item = Range<usize>>,
    verb: TextVerb,
    limits: &Limits,
) -> Result<Command, DecodeError> {
    let mut words = words.peekable();
    // memcached wants at least one word after the verb (`ntokens >= 3`).
    if words.peek().is_none() {
        return Err(error(ProtocolError::UnknownCommand, verb, false, false));
    }
    let touch = if matches!(verb, TextVerb::Gat | TextVerb::Gats) {
        let exptime = words.next().and_then(|s| strtol_i32(&content[s]));
        match exptime {
            Some(t) => Some(i64::from(t)),
            None => return Err(error(ProtocolError::InvalidExptime, verb, false, false)),
        }
    } else {
        None
    };
    // Sized for keys of 7 bytes or more, so a multi-get's list is seldom regrown.
    let mut keys = Vec::with_capacity((content.len() / 8).clamp(1, 128));
    for span in words {
        if span.len() > limits.max_key_len {
            return Err(error(ProtocolError::KeyTooLong, verb, false, false));
        }
        if keys.len() == limits.max_keys {
            return Err(error(ProtocolError::TooManyKeys, verb, false, false));
        }
        keys.push(frame.slice(span));
    }
    Ok(Command::Get(Get {
        keys,
        touch,
        ..Get::default()
    }))
}
