//! The invariants of reading backend replies, over arbitrary bytes: shared by the
//! cargo-fuzz target `backend_replies` (feature `fuzzing`) and this crate's property
//! test, so both check the same things.
//!
//! Input layout: byte 0 the dialect spoken to the backend (even: meta, odd: text);
//! byte 1 picks the client's request from [`REQUESTS`]; the rest are the backend's
//! reply bytes, read as replies to that request sent again and again (a pipeline).
//!
//! Checked: nothing panics; every whole reply consumed bytes; every reply is of a
//! kind that answers the request (a get gets values, never `STORED`; items only
//! for the keys asked, in order); reading the bytes whole or in small chunks gives the same replies
//! and ends the same way.

use bytes::BytesMut;
use memkeep_protocol::{Command, Decoder, Limits, Response};

use super::{Dialect, ReplyReader};

/// The client requests the replies are read for: every command the proxy forwards,
/// in text and meta, single- and multi-key.
pub const REQUESTS: &[&[u8]] = &[
    b"get k0\r\n",
    b"get k0 k1 k2\r\n",
    b"gets k0 k1\r\n",
    b"gat 10 k0 k1\r\n",
    b"mg k0 v f t\r\n",
    b"mg k0 s v k O9 q\r\n",
    b"set k0 1 0 2\r\nhi\r\n",
    b"add k0 0 0 1 noreply\r\nx\r\n",
    b"append k0 0 0 1\r\nx\r\n",
    b"cas k0 0 0 1 7\r\nx\r\n",
    b"ms k0 2 T5 F3\r\nhi\r\n",
    b"delete k0\r\n",
    b"md k0 q\r\n",
    b"incr k0 5\r\n",
    b"decr k0 1\r\n",
    b"ma k0 N0 J3\r\n",
    b"touch k0 10\r\n",
    b"flush_all\r\n",
    b"version\r\n",
    b"verbosity 1\r\n",
    b"stats\r\n",
    b"stats settings\r\n",
    b"stats cachedump 1 0\r\n",
    b"stats sizes_enable\r\n",
    b"stats reset\r\n",
    b"lru_crawler metadump all\r\n",
    b"cache_memlimit 100\r\n",
    b"slabs reassign 1 2\r\n",
    b"lru_crawler crawl all\r\n",
    b"mn\r\n",
    b"me k0\r\n",
];

/// Limits small enough that fuzz inputs reach every limit check.
const TIGHT: Limits = Limits {
    max_key_len: 16,
    max_line_len: 96,
    max_value_len: 64,
    max_keys: 4,
};

/// How a run of reads ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The bytes ran out (possibly mid-reply).
    NeedMore,
    /// A reply was refused: the connection would be reset.
    Refused,
}

/// Runs every invariant over `input` (see the module docs for its layout).
pub fn check(input: &[u8]) {
    let at = |i: usize| input.get(i).copied().unwrap_or(0);
    let dialect = if at(0) % 2 == 0 {
        Dialect::Meta
    } else {
        Dialect::Text
    };
    let line = REQUESTS[usize::from(at(1)) % REQUESTS.len()];
    let replies = input.get(2..).unwrap_or_default();
    let request = Decoder::default()
        .decode(&mut BytesMut::from(line))
        .expect("the table's requests are valid")
        .expect("the table's requests are whole");
    let command = request.command.clone();
    let Some((_, first)) = ReplyReader::new(request.clone(), dialect) else {
        return;
    };
    drop(first);
    let fresh = || {
        ReplyReader::new(request.clone(), dialect)
            .expect("translated once already")
            .1
    };
    for limits in [Limits::default(), TIGHT] {
        let whole = read_whole(replies, &fresh, &limits, &command);
        let chunked = read_chunked(replies, &fresh, &limits, &command);
        assert_eq!(
            whole,
            chunked,
            "whole and chunked reads differ for {:?} over {}",
            String::from_utf8_lossy(line),
            replies.escape_ascii()
        );
    }
}

fn read_whole(
    replies: &[u8],
    fresh: &dyn Fn() -> ReplyReader,
    limits: &Limits,
    command: &Command,
) -> (Vec<Response>, Ending) {
    let mut buf = BytesMut::from(replies);
    let mut read = Vec::new();
    loop {
        let mut reader = fresh();
        let before = buf.len();
        match reader.read(&mut buf, limits) {
            Ok(Some(response)) => {
                assert!(buf.len() < before, "a reply consumed no bytes");
                assert_answers(command, &response, limits);
                read.push(response);
            }
            Ok(None) => return (read, Ending::NeedMore),
            Err(_) => return (read, Ending::Refused),
        }
    }
}

/// Chunk sizes cycled through: single bytes and sizes that land mid-token.
const CHUNKS: [usize; 7] = [1, 2, 3, 5, 8, 13, 64];

fn read_chunked(
    replies: &[u8],
    fresh: &dyn Fn() -> ReplyReader,
    limits: &Limits,
    command: &Command,
) -> (Vec<Response>, Ending) {
    let mut buf = BytesMut::new();
    let mut read = Vec::new();
    let mut reader = fresh();
    let mut fed = 0;
    for size in CHUNKS.iter().cycle() {
        if fed >= replies.len() {
            break;
        }
        let n = (*size).min(replies.len() - fed);
        buf.extend_from_slice(&replies[fed..fed + n]);
        fed += n;
        loop {
            match reader.read(&mut buf, limits) {
                Ok(Some(response)) => {
                    assert_answers(command, &response, limits);
                    read.push(response);
                    reader = fresh();
                }
                Ok(None) => break,
                Err(_) => return (read, Ending::Refused),
            }
        }
    }
    (read, Ending::NeedMore)
}

/// The reply kinds that answer `command`, from the client's point of view (an
/// oracle written apart from the reader's own pairing rules).
fn assert_answers(command: &Command, response: &Response, limits: &Limits) {
    use Response as R;
    let fits = match (command, response) {
        (_, R::Error | R::ClientError(_) | R::ServerError(_)) => true,
        (Command::Get(get), R::Values(values)) => {
            // Items only for keys asked for, in the order asked, within the limits.
            let mut keys = get.keys.iter();
            values.iter().all(|v| keys.any(|k| *k == v.key))
                && values.iter().all(|v| v.data.len() <= limits.max_value_len)
        }
        (
            Command::Store(_),
            R::Stored(_) | R::NotStored | R::Exists | R::NotFound | R::TooLarge | R::OutOfMemory,
        ) => true,
        (Command::Delete(_), R::Deleted | R::NotFound | R::Exists) => true,
        (
            Command::Arith(_),
            R::Number(..) | R::NotFound | R::NotStored | R::Exists | R::NonNumeric,
        ) => true,
        (Command::Touch(_), R::Touched(_) | R::NotFound) => true,
        (Command::FlushAll(_) | Command::Verbosity(_), R::Ok) => true,
        (Command::Admin(_), R::Ok | R::ErrorLine(_)) => true,
        (Command::Version, R::Version(_)) => true,
        // Any line-shaped reply passes through a `stats`, error lines included
        // (whichever error the decoder names them by).
        (
            Command::Stats(_) | Command::Metadump(_),
            R::Stats(_)
            | R::Raw(_)
            | R::Reset
            | R::Ok
            | R::ErrorLine(_)
            | R::OutOfMemory
            | R::TooLarge
            | R::NonNumeric,
        ) => true,
        (Command::Noop, R::Noop) => true,
        (Command::Debug(_), R::Debug(_)) => true,
        _ => false,
    };
    assert!(fits, "{response:?} does not answer {command:?}");
}
