//! Raw request bytes in, the error memcached 1.6.18 answers out: the reply, whether
//! `noreply` silences it, and whether the connection must close.

use super::*;
use crate::TextVerb::*;

fn one(input: &[u8]) -> Result<Request, DecodeError> {
    let mut all = decode_all(input, Limits::default());
    assert_eq!(
        all.len(),
        1,
        "{:?} gave {all:?}",
        String::from_utf8_lossy(input)
    );
    all.remove(0)
}

#[test]
fn rejects_what_memcached_rejects() {
    use ProtocolError::*;
    let k251 = vec![b'k'; 251];
    let long = |pre: &[u8], post: &[u8]| [pre, &k251, post].concat();
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            b"foo\r\n".to_vec(),
            err(UnknownCommand, Version, false, false),
        ),
        (b"\r\n".to_vec(), err(UnknownCommand, Version, false, false)),
        (b"\n".to_vec(), err(UnknownCommand, Version, false, false)),
        (
            b"x\r\n".to_vec(),
            err(UnknownCommand, Version, false, false),
        ),
        (
            b"GET foo\r\n".to_vec(),
            err(UnknownCommand, Version, false, false),
        ),
        (b"get\r\n".to_vec(), err(UnknownCommand, Get, false, false)),
        (b"get \r\n".to_vec(), err(UnknownCommand, Get, false, false)),
        (
            b"get\0 a\r\n".to_vec(),
            err(UnknownCommand, Get, false, false),
        ),
        (
            b"GET / HTTP/1.1\r\n".to_vec(),
            err(UnknownCommand, Version, true, true),
        ),
        (
            b"gx / HTTP/1.1\r\n".to_vec(),
            err(UnknownCommand, Version, false, false),
        ),
        // memcached 1.6.18 has no `lru_crawler mgdump`.
        (
            b"lru_crawler mgdump all\r\n".to_vec(),
            err(UnknownCommand, LruCrawler, false, false),
        ),
        (
            b"lru mode bogus\r\n".to_vec(),
            err(UnknownCommand, Lru, false, false),
        ),
        (
            b"lru tune 60 30 1 1 noreply\r\n".to_vec(),
            err(LruPctsTooLarge, Lru, true, false),
        ),
        (
            b"watch bogus noreply\r\n".to_vec(),
            err(UnknownCommand, Watch, true, false),
        ),
        (
            b"cache_memlimit\r\n".to_vec(),
            err(UnknownCommand, CacheMemlimit, false, false),
        ),
        (
            b"set k 0 0\r\n".to_vec(),
            err(UnknownCommand, Set, false, false),
        ),
        (
            b"set k 0 0 1 noreply x\r\n".to_vec(),
            err(UnknownCommand, Set, false, false),
        ),
        (
            b"set\tk 0 0 1\r\n".to_vec(),
            err(UnknownCommand, Version, false, false),
        ),
        (
            b"set k abc 0 1\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k -1 0 1\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k 0 x 1\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k 0 0 -1\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k 0 0 2147483646\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k 0 9223372036854775808 1\r\n".to_vec(),
            err(BadCommandLine, Set, false, false),
        ),
        (
            b"set k x 0 1 noreply\r\n".to_vec(),
            err(BadCommandLine, Set, true, false),
        ),
        (
            b"cas k 0 0 1\r\n".to_vec(),
            err(UnknownCommand, Cas, false, false),
        ),
        (
            b"cas k 0 0 1 abc\r\n".to_vec(),
            err(BadCommandLine, Cas, false, false),
        ),
        (
            b"cas k 0 0 1 noreply\r\n".to_vec(),
            err(BadCommandLine, Cas, true, false),
        ),
        (
            b"cas k 0 0 1 -1\r\n".to_vec(),
            err(BadCommandLine, Cas, false, false),
        ),
        (
            long(b"set ", b" 0 0 1\r\n"),
            err(KeyTooLong, Set, false, false),
        ),
        (
            long(b"get a ", b" b\r\n"),
            err(KeyTooLong, Get, false, false),
        ),
        (long(b"gat 1 ", b"\r\n"), err(KeyTooLong, Gat, false, false)),
        (
            long(b"delete ", b"\r\n"),
            err(KeyTooLong, Delete, false, false),
        ),
        (
            long(b"delete ", b" 1\r\n"),
            err(BadDeleteFormat, Delete, false, false),
        ),
        (
            long(b"incr ", b" 1\r\n"),
            err(KeyTooLong, Incr, false, false),
        ),
        (
            long(b"touch ", b" 1 noreply\r\n"),
            err(KeyTooLong, Touch, true, false),
        ),
        (
            b"set k 0 0 1\r\nab\r\n".to_vec(),
            err(BadDataChunk, Set, false, true),
        ),
        (
            b"set k 0 0 1 noreply\r\nab\r\n".to_vec(),
            err(BadDataChunk, Set, true, true),
        ),
        (
            b"set k 0 0 1\nx\n\n".to_vec(),
            err(BadDataChunk, Set, false, true),
        ),
        (
            b"delete\r\n".to_vec(),
            err(UnknownCommand, Delete, false, false),
        ),
        (
            b"delete k 1\r\n".to_vec(),
            err(BadDeleteFormat, Delete, false, false),
        ),
        (
            b"delete k 1 noreply\r\n".to_vec(),
            err(BadDeleteFormat, Delete, true, false),
        ),
        (
            b"delete k 0 0\r\n".to_vec(),
            err(BadDeleteFormat, Delete, false, false),
        ),
        (
            b"delete k 0 noreply x\r\n".to_vec(),
            err(UnknownCommand, Delete, false, false),
        ),
        (
            b"incr k\r\n".to_vec(),
            err(UnknownCommand, Incr, false, false),
        ),
        (
            b"incr k abc\r\n".to_vec(),
            err(InvalidDelta, Incr, false, false),
        ),
        (
            b"decr k -1\r\n".to_vec(),
            err(InvalidDelta, Decr, false, false),
        ),
        (
            b"incr k 18446744073709551616\r\n".to_vec(),
            err(InvalidDelta, Incr, false, false),
        ),
        (
            b"incr k noreply\r\n".to_vec(),
            err(InvalidDelta, Incr, true, false),
        ),
        (
            b"touch k\r\n".to_vec(),
            err(UnknownCommand, Touch, false, false),
        ),
        (
            b"touch k abc\r\n".to_vec(),
            err(InvalidExptime, Touch, false, false),
        ),
        (
            b"gat abc k\r\n".to_vec(),
            err(InvalidExptime, Gat, false, false),
        ),
        (
            b"flush_all abc\r\n".to_vec(),
            err(InvalidExptime, FlushAll, false, false),
        ),
        (
            b"flush_all noreply 10\r\n".to_vec(),
            err(InvalidExptime, FlushAll, false, false),
        ),
        (
            b"flush_all 1 2 3\r\n".to_vec(),
            err(UnknownCommand, FlushAll, false, false),
        ),
        (
            b"verbosity\r\n".to_vec(),
            err(UnknownCommand, Verbosity, false, false),
        ),
        (
            b"verbosity abc\r\n".to_vec(),
            err(BadCommandLine, Verbosity, false, false),
        ),
        (
            b"verbosity noreply\r\n".to_vec(),
            err(BadCommandLine, Verbosity, true, false),
        ),
        (
            b"shutdown now\r\n".to_vec(),
            err(InvalidShutdownMode, Shutdown, false, false),
        ),
        (
            b"shutdown graceful x\r\n".to_vec(),
            err(InvalidShutdownMode, Shutdown, false, false),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            one(&input),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(&input)
        );
    }
}
