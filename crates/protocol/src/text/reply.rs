//! Client side: a text reply read knowing the request it answers (`END`, a bare
//! number or `NOT_FOUND` mean nothing alone). Retrieval replies are scanned to their
//! `END` before anything is consumed, then keys and values are sliced out of the
//! read buffer without copying. Every line, value and count is bounded by [`Limits`].

use std::borrow::Cow;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use memchr::memchr;

use super::encode::{NON_NUMERIC, OUT_OF_MEMORY, TOO_LARGE};
use super::scan::find2;
use crate::{InvalidResponse, ItemMeta, Limits, Response, TextForm, TextVerb, Value};

/// See [`super::decode_response`].
pub(crate) fn decode_response(
    form: &TextForm,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    match form.verb {
        TextVerb::Get | TextVerb::Gets | TextVerb::Gat | TextVerb::Gats => {
            decode_values(buf, limits)
        }
        TextVerb::Stats => decode_stats(buf, limits),
        verb => decode_status(verb, buf, limits),
    }
}

/// The next line at `from`: its text without CRLF, and where the following one starts.
fn next_line(
    buf: &[u8],
    from: usize,
    limits: &Limits,
) -> Result<Option<(Range<usize>, usize)>, InvalidResponse> {
    let rest = buf.get(from..).unwrap_or_default();
    let window = &rest[..rest.len().min(limits.max_line_len)];
    match memchr(b'\n', window) {
        Some(lf) => {
            let end = if lf > 0 && rest[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            Ok(Some((from..from + end, from + lf + 1)))
        }
        None if rest.len() >= limits.max_line_len => {
            Err(InvalidResponse::new("reply line too long"))
        }
        None => Ok(None),
    }
}

/// One `VALUE` block found by [`walk_values`].
struct ValueSpan {
    key: Range<usize>,
    data: Range<usize>,
    flags: u32,
    cas: u64,
}

/// The reply to get/gets/gat/gats: `VALUE` blocks, then `END`; or an error line.
fn decode_values(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Response>, InvalidResponse> {
    // One walk, keeping where each value lies. The buffer often holds several
    // replies and the start of the next (a backend answers a batch of requests in
    // one read), so whether it ends in `END` says nothing about this reply; spans
    // kept by a walk that finds the reply incomplete are a few words each, wasted.
    // Sized for a typical multi-get, so a reply's spans are rarely reallocated.
    let mut spans = Vec::with_capacity(16);
    let Some(end) = walk_values(buf, limits, |span| spans.push(span))? else {
        return Ok(None);
    };
    let end = match end {
        Walk::End(end) => end,
        Walk::Error(end) => {
            let frame = buf.split_to(end).freeze();
            return error_reply(&frame[..text_end(&frame)]).map(Some);
        }
    };
    let frame = buf.split_to(end).freeze();
    let values = spans.into_iter().map(|span| value(&frame, span)).collect();
    Ok(Some(Response::Values(values)))
}

fn value(frame: &Bytes, span: ValueSpan) -> Value {
    let data = frame.slice(span.data);
    Value {
        key: frame.slice(span.key),
        meta: ItemMeta {
            flags: span.flags,
            cas: span.cas,
            size: u32::try_from(data.len()).unwrap_or(u32::MAX),
            ..ItemMeta::default()
        },
        data,
    }
}

/// Where a retrieval reply ends.
enum Walk {
    /// After `END`.
    End(usize),
    /// The reply is a single error line ending here.
    Error(usize),
}

fn walk_values(
    buf: &[u8],
    limits: &Limits,
    each: impl FnMut(ValueSpan),
) -> Result<Option<Walk>, InvalidResponse> {
    walk(buf, limits, true, each)
}

/// [`walk_values`], with or without [`value_header`]'s shortcut (the tests check
/// that it changes nothing).
fn walk(
    buf: &[u8],
    limits: &Limits,
    shortcut: bool,
    mut each: impl FnMut(ValueSpan),
) -> Result<Option<Walk>, InvalidResponse> {
    let mut pos = 0;
    let mut count = 0;
    loop {
        if shortcut && count < limits.max_keys {
            if let Some(header) = value_header(buf, pos, limits) {
                let data_end = header.data_start + header.len;
                if buf.len() >= data_end + 2 && &buf[data_end..data_end + 2] == b"\r\n" {
                    each(ValueSpan {
                        key: header.key,
                        data: header.data_start..data_end,
                        flags: header.flags,
                        cas: header.cas,
                    });
                    count += 1;
                    pos = data_end + 2;
                    continue;
                }
            }
        }
        let Some((text, next)) = next_line(buf, pos, limits)? else {
            return Ok(None);
        };
        let line = &buf[text.clone()];
        if line == b"END" {
            return Ok(Some(Walk::End(next)));
        }
        let Some(header) = line.strip_prefix(b"VALUE ") else {
            if pos == 0 && is_error(line) {
                return Ok(Some(Walk::Error(next)));
            }
            return Err(InvalidResponse::new("unexpected line in retrieval reply"));
        };
        if count == limits.max_keys {
            return Err(InvalidResponse::new("more values than keys"));
        }
        let mut words = header.split(|&b| b == b' ');
        let key = words.next().unwrap_or_default();
        let flags = words
            .next()
            .and_then(decimal)
            .and_then(|f| u32::try_from(f).ok());
        let len = words.next().and_then(decimal);
        let cas = match words.next() {
            None => Some(0),
            Some(cas) => decimal(cas),
        };
        let (Some(flags), Some(len), Some(cas), None) = (flags, len, cas, words.next()) else {
            return Err(InvalidResponse::new("malformed VALUE line"));
        };
        if key.is_empty() || key.len() > limits.max_key_len {
            return Err(InvalidResponse::new("bad key in VALUE line"));
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= limits.max_value_len)
            .ok_or(InvalidResponse::new("value larger than the limit"))?;
        let data_end = next + len;
        if buf.len() < data_end + 2 {
            return Ok(None);
        }
        if &buf[data_end..data_end + 2] != b"\r\n" {
            return Err(InvalidResponse::new("value not followed by CRLF"));
        }
        let key_start = text.start + 6;
        each(ValueSpan {
            key: key_start..key_start + key.len(),
            data: next..data_end,
            flags,
            cas,
        });
        count += 1;
        pos = data_end + 2;
    }
}

/// A `VALUE` line read by [`value_header`].
struct ValueHeader {
    key: Range<usize>,
    flags: u32,
    len: usize,
    cas: u64,
    /// Where the data block starts: after the line's CRLF.
    data_start: usize,
}

/// The `VALUE` line at `from` when it is exactly as memcached writes it
/// (`VALUE <key> <flags> <bytes>[ <cas>]\r\n`, single spaces, within the limits),
/// read in one pass with no search for the line's end first: most of a multi-get's
/// reply is these lines. `None` for anything else, complete or not, which the
/// general reader in [`walk_values`] then reads (or refuses) as before, so this
/// never accepts what that one would not.
fn value_header(buf: &[u8], from: usize, limits: &Limits) -> Option<ValueHeader> {
    let line = buf.get(from..)?.strip_prefix(b"VALUE ")?;
    let key_len = find2(&line[..line.len().min(limits.max_key_len + 1)], b' ', b'\n')?;
    if key_len == 0 || key_len > limits.max_key_len || line[key_len] != b' ' {
        return None;
    }
    let mut at = key_len + 1;
    let flags = u32::try_from(digits(line, &mut at)?).ok()?;
    if line.get(at) != Some(&b' ') {
        return None;
    }
    at += 1;
    let len = usize::try_from(digits(line, &mut at)?)
        .ok()
        .filter(|&l| l <= limits.max_value_len)?;
    let cas = match line.get(at) {
        Some(b' ') => {
            at += 1;
            digits(line, &mut at)?
        }
        _ => 0,
    };
    if line.get(at..at + 2) != Some(b"\r\n") {
        return None;
    }
    // The general reader refuses a line whose LF lies past the line limit.
    let lf = 6 + at + 1;
    if lf >= limits.max_line_len {
        return None;
    }
    let key_start = from + 6;
    Some(ValueHeader {
        key: key_start..key_start + key_len,
        flags,
        len,
        cas,
        data_start: from + 6 + at + 2,
    })
}

/// The decimal number at `*at`, as [`decimal`] reads one (1 to 20 digits, no
/// overflow); `*at` moves past it. A 21st digit is left for the caller, which wants
/// a space or the line's end there.
#[inline]
fn digits(line: &[u8], at: &mut usize) -> Option<u64> {
    let start = *at;
    let mut n: u64 = 0;
    // Nineteen digits cannot overflow a u64; only the twentieth is checked.
    while let Some(&d) = line.get(*at) {
        if !d.is_ascii_digit() || *at - start == 19 {
            break;
        }
        n = n * 10 + u64::from(d - b'0');
        *at += 1;
    }
    if let Some(&d) = line.get(*at).filter(|d| d.is_ascii_digit()) {
        if *at - start == 19 {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            *at += 1;
        }
    }
    (*at > start).then_some(n)
}

/// The reply to `stats`: `STAT <name> <value>` lines, then `END`.
fn decode_stats(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Response>, InvalidResponse> {
    let mut pos = 0;
    let mut count = 0;
    loop {
        let Some((text, next)) = next_line(buf, pos, limits)? else {
            return Ok(None);
        };
        let line = &buf[text];
        if line == b"END" {
            let frame = buf.split_to(next).freeze();
            return Ok(Some(Response::Stats(stats(&frame[..pos], count))));
        }
        if !line.starts_with(b"STAT ") {
            if pos > 0 {
                return Err(InvalidResponse::new("unexpected line in stats reply"));
            }
            let frame = buf.split_to(next).freeze();
            let line = &frame[..text_end(&frame)];
            // `stats reset` answers RESET, `stats detail on|off` OK.
            if line == b"RESET" {
                return Ok(Some(Response::Reset));
            }
            if line == b"OK" {
                return Ok(Some(Response::Ok));
            }
            return error_reply(line).map(Some);
        }
        count += 1;
        if count > limits.max_keys {
            return Err(InvalidResponse::new("too many stats lines"));
        }
        pos = next;
    }
}

/// The name/value pairs of complete `STAT` lines. A value may hold spaces
/// (`STAT version 1.6.18 ...` in some builds), the name never does.
fn stats(lines: &[u8], count: usize) -> Vec<(String, String)> {
    let mut stats = Vec::with_capacity(count);
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let stat = line.get(5..).unwrap_or_default();
        let (name, value) = match memchr(b' ', stat) {
            Some(sp) => (&stat[..sp], &stat[sp + 1..]),
            None => (stat, &b""[..]),
        };
        stats.push((lossy(name), lossy(value)));
    }
    stats
}

/// A one-line reply to any other verb.
fn decode_status(
    verb: TextVerb,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, InvalidResponse> {
    let Some((text, next)) = next_line(buf, 0, limits)? else {
        return Ok(None);
    };
    let line = &buf[text.clone()];
    let response = match (verb, line) {
        (
            TextVerb::Set
            | TextVerb::Add
            | TextVerb::Replace
            | TextVerb::Append
            | TextVerb::Prepend
            | TextVerb::Cas,
            _,
        ) => match line {
            b"STORED" => Some(Response::Stored(ItemMeta::default())),
            b"NOT_STORED" => Some(Response::NotStored),
            b"EXISTS" => Some(Response::Exists),
            b"NOT_FOUND" => Some(Response::NotFound),
            _ => None,
        },
        (TextVerb::Delete, b"DELETED") => Some(Response::Deleted),
        (TextVerb::Touch, b"TOUCHED") => Some(Response::Touched(ItemMeta::default())),
        (TextVerb::Delete | TextVerb::Touch | TextVerb::Incr | TextVerb::Decr, b"NOT_FOUND") => {
            Some(Response::NotFound)
        }
        (TextVerb::Incr | TextVerb::Decr, _) => {
            decimal(line).map(|n| Response::Number(n, ItemMeta::default()))
        }
        (
            TextVerb::FlushAll
            | TextVerb::Verbosity
            | TextVerb::CacheMemlimit
            | TextVerb::Slabs
            | TextVerb::LruCrawler
            | TextVerb::Watch
            | TextVerb::Lru
            | TextVerb::RefreshCerts,
            b"OK",
        ) => Some(Response::Ok),
        _ => None,
    };
    let frame = buf.split_to(next).freeze();
    if let Some(response) = response {
        return Ok(Some(response));
    }
    if verb == TextVerb::Version && frame.starts_with(b"VERSION ") {
        return Ok(Some(Response::Version(frame.slice(8..text.end))));
    }
    let admin = matches!(
        verb,
        TextVerb::CacheMemlimit
            | TextVerb::Slabs
            | TextVerb::LruCrawler
            | TextVerb::Watch
            | TextVerb::Lru
            | TextVerb::RefreshCerts
    );
    match error_reply(&frame[text.clone()]) {
        // The administrative commands refuse in words of their own
        // (`NOSPARE source class has no spare pages`, `MEMLIMIT_TOO_SMALL ...`).
        Err(_) if admin => Ok(Some(Response::ErrorLine(Cow::Owned(lossy(&frame[text]))))),
        reply => reply.map(Some),
    }
}

/// The end of the text of a frame holding one line.
fn text_end(frame: &[u8]) -> usize {
    let end = frame.len().saturating_sub(1);
    if end > 0 && frame[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

fn is_error(line: &[u8]) -> bool {
    line.starts_with(b"ERROR")
        || line.starts_with(b"CLIENT_ERROR ")
        || line.starts_with(b"SERVER_ERROR ")
}

/// memcached's error lines, which may answer any request.
fn error_reply(line: &[u8]) -> Result<Response, InvalidResponse> {
    if let Some(message) = line.strip_prefix(b"CLIENT_ERROR ") {
        if message == NON_NUMERIC.as_bytes() {
            return Ok(Response::NonNumeric);
        }
        return Ok(Response::ClientError(Cow::Owned(lossy(message))));
    }
    if let Some(message) = line.strip_prefix(b"SERVER_ERROR ") {
        return Ok(match message {
            m if m == TOO_LARGE.as_bytes() => Response::TooLarge,
            m if m == OUT_OF_MEMORY.as_bytes() => Response::OutOfMemory,
            m => Response::ServerError(Cow::Owned(lossy(m))),
        });
    }
    // Besides ERROR itself, memcached answers `ERROR: shutdown not enabled` and the
    // like for commands it has switched off.
    if line == b"ERROR" {
        return Ok(Response::Error);
    }
    if line.starts_with(b"ERROR ") || line.starts_with(b"ERROR:") {
        return Ok(Response::ErrorLine(Cow::Owned(lossy(line))));
    }
    Err(InvalidResponse::new("unexpected reply line"))
}

/// A plain decimal number, as memcached writes counters and sizes.
fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn lossy(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What a walk found: each value's spans and numbers, and where the reply ended.
    fn walked(buf: &[u8], limits: &Limits, shortcut: bool) -> String {
        let mut found = Vec::new();
        let end = walk(buf, limits, shortcut, |v| {
            found.push((v.key, v.data, v.flags, v.cas));
        });
        let end = match end {
            Ok(Some(Walk::End(at))) => format!("end {at}"),
            Ok(Some(Walk::Error(at))) => format!("error line {at}"),
            Ok(None) => "need more".to_owned(),
            Err(e) => format!("{e}"),
        };
        format!("{found:?} {end}")
    }

    /// Pieces reply lines are made of, well-formed or nearly.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"VALUE ".to_vec()),
            Just(b"END\r\n".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            "[0-9]{1,22}".prop_map(String::into_bytes),
            "[a-z\t]{1,12}".prop_map(String::into_bytes),
            Just(b"VALUE k 0 1\r\nx\r\n".to_vec()),
            Just(b"VALUE key 4294967295 2 18446744073709551615\r\nab\r\n".to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn the_value_line_shortcut_changes_nothing(
            pieces in proptest::collection::vec(piece(), 0..24),
            max_key_len in 1usize..12,
            max_line_len in 8usize..64,
            max_keys in 1usize..4,
        ) {
            let buf = pieces.concat();
            let limits = Limits { max_key_len, max_line_len, max_keys, max_value_len: 8 };
            for limits in [limits, Limits::default()] {
                prop_assert_eq!(walked(&buf, &limits, true), walked(&buf, &limits, false));
            }
        }
    }
}
