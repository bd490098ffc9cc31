//! Raw request bytes in, decoded requests or errors out, as memcached 1.6.18 reads them.

use bytes::BytesMut;

use super::*;
use crate::text::decode::decode_request;
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
fn decodes_every_command() {
    let k250 = vec![b'k'; 250];
    let set250 = [&b"set "[..], &k250, b" 0 0 1\r\nx\r\n"].concat();
    let cases: Vec<(&[u8], Request)> = vec![
        (b"get foo\r\n", get(Get, None, &[b"foo"])),
        (b"get a b c\r\n", get(Get, None, &[b"a", b"b", b"c"])),
        (b"get a a\r\n", get(Get, None, &[b"a", b"a"])),
        (b"gets a\r\n", get(Gets, None, &[b"a"])),
        (b"gat 10 a b\r\n", get(Gat, Some(10), &[b"a", b"b"])),
        (b"gats -1 a\r\n", get(Gats, Some(-1), &[b"a"])),
        (b"gat 10\r\n", get(Gat, Some(10), &[])),
        (b"gat 10\0 a\r\n", get(Gat, Some(10), &[])),
        (b"gat 4294967306 a\r\n", get(Gat, Some(10), &[b"a"])),
        (b"bget a\r\n", get(Get, None, &[b"a"])),
        (b"  get  a   b \n", get(Get, None, &[b"a", b"b"])),
        (b"get a\r\r\n", get(Get, None, &[b"a\r"])),
        (b"get a\0b\r\n", get(Get, None, &[b"a"])),
        (b"get a\tb\r\n", get(Get, None, &[b"a\tb"])),
        (b"get noreply\r\n", get(Get, None, &[b"noreply"])),
        (
            b"set k 5 10 3\r\nabc\r\n",
            store(Set, b"k", 5, 10, b"abc", None, false),
        ),
        (
            b"set k 5 10 3 noreply\r\nabc\r\n",
            store(Set, b"k", 5, 10, b"abc", None, true),
        ),
        (
            b"set k 0 0 0\r\n\r\n",
            store(Set, b"k", 0, 0, b"", None, false),
        ),
        (
            b"set k 0 0 2\r\n\r\n\r\n",
            store(Set, b"k", 0, 0, b"\r\n", None, false),
        ),
        (
            b"add k 1 2 1\r\nx\r\n",
            store(Add, b"k", 1, 2, b"x", None, false),
        ),
        (
            b"replace k 1 2 1\r\nx\r\n",
            store(Replace, b"k", 1, 2, b"x", None, false),
        ),
        (
            b"append k 1 2 1\r\nx\r\n",
            store(Append, b"k", 1, 2, b"x", None, false),
        ),
        (
            b"prepend k 1 2 1 noreply\r\nx\r\n",
            store(Prepend, b"k", 1, 2, b"x", None, true),
        ),
        (
            b"cas k 0 0 1 99\r\nx\r\n",
            store(Cas, b"k", 0, 0, b"x", Some(99), false),
        ),
        (
            b"cas k 0 0 1 99 noreply\r\nx\r\n",
            store(Cas, b"k", 0, 0, b"x", Some(99), true),
        ),
        (
            b"set k 4294967295 0 1\r\nx\r\n",
            store(Set, b"k", u32::MAX, 0, b"x", None, false),
        ),
        (
            b"set k 4294967296 0 1\r\nx\r\n",
            store(Set, b"k", 0, 0, b"x", None, false),
        ),
        (
            b"set k +5 -0 01\r\nx\r\n",
            store(Set, b"k", 5, 0, b"x", None, false),
        ),
        (
            b"set k 0 -1 1\r\nx\r\n",
            store(Set, b"k", 0, -1, b"x", None, false),
        ),
        (
            b"set k 0 4294967296 1\r\nx\r\n",
            store(Set, b"k", 0, 0, b"x", None, false),
        ),
        (
            b"set k 0 0 4294967296\r\n\r\n",
            store(Set, b"k", 0, 0, b"", None, false),
        ),
        (
            b"set k 0 0 1 extra\r\nx\r\n",
            store(Set, b"k", 0, 0, b"x", None, false),
        ),
        (
            b"set k 0 0 1\t\r\nx\r\n",
            store(Set, b"k", 0, 0, b"x", None, false),
        ),
        (
            b"set k 0 0 1\nx\r\n",
            store(Set, b"k", 0, 0, b"x", None, false),
        ),
        (&set250, store(Set, &k250, 0, 0, b"x", None, false)),
        (b"delete k\r\n", delete(b"k", false)),
        (b"delete k 0\r\n", delete(b"k", false)),
        (b"delete k noreply\r\n", delete(b"k", true)),
        (b"delete k 0 noreply\r\n", delete(b"k", true)),
        (b"incr k 5\r\n", arith(true, b"k", 5, false)),
        (b"incr k -0\r\n", arith(true, b"k", 0, false)),
        (
            b"decr k 18446744073709551615 noreply\r\n",
            arith(false, b"k", u64::MAX, true),
        ),
        (b"touch k 10\r\n", touch(b"k", 10, false)),
        (b"touch k -1 noreply\r\n", touch(b"k", -1, true)),
        (b"flush_all\r\n", flush(0, false)),
        (b"flush_all 10\r\n", flush(10, false)),
        (b"flush_all noreply\r\n", flush(0, true)),
        (b"flush_all 10 noreply\r\n", flush(10, true)),
        (b"flush_all -5\r\n", flush(0, false)),
        (b"flush_all 10 20\r\n", flush(10, false)),
        (b"stats\r\n", req(Command::Stats(None), Stats, false)),
        (
            b"stats slabs\r\n",
            req(Command::Stats(Some(b(b"slabs"))), Stats, false),
        ),
        (
            b"stats cachedump  1 2  \r\n",
            req(Command::Stats(Some(b(b"cachedump  1 2"))), Stats, false),
        ),
        (b"version\r\n", req(Command::Version, Version, false)),
        (
            b"version noreply\r\n",
            req(Command::Version, Version, false),
        ),
        (
            b"verbosity 1\r\n",
            req(Command::Verbosity(1), Verbosity, false),
        ),
        (
            b"verbosity 1 noreply\r\n",
            req(Command::Verbosity(1), Verbosity, true),
        ),
        (
            b"verbosity 1 2\r\n",
            req(Command::Verbosity(1), Verbosity, false),
        ),
        (b"quit\r\n", req(Command::Quit, Quit, false)),
        (b"quit now\r\n", req(Command::Quit, Quit, false)),
        (
            b"shutdown\r\n",
            req(Command::Shutdown { graceful: false }, Shutdown, false),
        ),
        (
            b"shutdown graceful\r\n",
            req(Command::Shutdown { graceful: true }, Shutdown, false),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(one(input), Ok(want), "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn waits_for_complete_frames_without_consuming() {
    for input in [
        &b""[..],
        b"get foo",
        b"get foo\r",
        b"set k 0 0 3\r\n",
        b"set k 0 0 3\r\nab",
        b"set k 0 0 3\r\nabc\r",
        b"gat 1",
    ] {
        let mut buf = BytesMut::from(input);
        let mut swallow = 0;
        let got = decode_request(&mut buf, &Limits::default(), &mut swallow);
        assert_eq!(got, Ok(None), "{:?}", String::from_utf8_lossy(input));
        assert_eq!(&buf[..], input);
        assert_eq!(swallow, 0);
    }
}

#[test]
fn swallows_a_value_too_large() {
    let limits = Limits {
        max_value_len: 10,
        ..Limits::default()
    };
    let input =
        b"set k 0 0 11\r\nhello world\r\nappend k 0 0 11 noreply\r\nhello\r\nworl\r\nget k\r\n";
    let got = decode_all(input, limits);
    let too_large = |mode, verb, noreply| {
        Ok(req(
            Command::TooLarge(crate::TooLarge {
                mode,
                key: b(b"k"),
                cas: None,
            }),
            verb,
            noreply,
        ))
    };
    assert_eq!(
        got,
        vec![
            too_large(crate::StoreMode::Set, Set, false),
            too_large(crate::StoreMode::Append, Append, true),
            Ok(get(Get, None, &[b"k"])),
        ]
    );
    // The swallow survives a data block that arrives in pieces.
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(&b"set k 0 0 11\r\nhello"[..]);
    assert!(
        matches!(decoder.decode(&mut buf), Ok(Some(r)) if matches!(r.command, Command::TooLarge(_)))
    );
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
    buf.extend_from_slice(b" world\r\nversion\r\n");
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(req(Command::Version, Version, false)))
    );
}

#[test]
fn bad_data_chunk_closes_instead_of_reading_the_rest_as_commands() {
    let got = decode_all(
        b"set k 0 0 1\r\nxyz\r\ndelete secret\r\n",
        Limits::default(),
    );
    assert_eq!(
        got,
        vec![Err(err(ProtocolError::BadDataChunk, Set, false, true))]
    );
}

#[test]
fn bad_header_reads_the_next_line_as_a_command_like_memcached() {
    let got = decode_all(b"set k 0 0 abc\r\nget k\r\n", Limits::default());
    assert_eq!(
        got,
        vec![
            Err(err(ProtocolError::BadCommandLine, Set, false, false)),
            Ok(get(Get, None, &[b"k"]))
        ]
    );
}

#[test]
fn bounds_lines_and_keys() {
    let limits = Limits::default();
    let mut junk = vec![b'x'; limits.max_line_len];
    let got = decode_all(&junk, limits);
    assert_eq!(
        got,
        vec![Err(err(ProtocolError::LineTooLong, Version, false, true))]
    );
    junk.truncate(limits.max_line_len - 1);
    assert!(
        decode_all(&junk, limits).is_empty(),
        "shorter than the limit: wait"
    );

    // A long multi-get is fine, up to the keys limit.
    let key = [b'k'; 250];
    let mut line = b"get".to_vec();
    for _ in 0..100 {
        line.push(b' ');
        line.extend_from_slice(&key);
    }
    line.extend_from_slice(b"\r\n");
    let got = decode_all(&line, limits);
    assert!(
        matches!(&got[..], [Ok(r)] if matches!(&r.command, Command::Get(g) if g.keys.len() == 100))
    );

    // Past the multi-get bound the line is too long, with or without its end.
    let few = Limits {
        max_keys: 99,
        ..limits
    };
    let too_long = vec![Err(err(ProtocolError::LineTooLong, Version, false, true))];
    assert_eq!(decode_all(&line, few), too_long);
    assert_eq!(decode_all(&line[..few.max_multiget_line()], few), too_long);
    // Short keys stay within the line bound but not the keys bound.
    let two = Limits {
        max_keys: 2,
        ..limits
    };
    let got = decode_all(b"get a b c\r\nget a b\r\n", two);
    assert_eq!(
        got,
        vec![
            Err(err(ProtocolError::TooManyKeys, Get, false, false)),
            Ok(get(Get, None, &[b"a", b"b"])),
        ]
    );
}

#[test]
fn keys_and_values_are_slices_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"set key 0 0 5\r\nvalue\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let request = decode_request(&mut buf, &Limits::default(), &mut 0)
        .unwrap()
        .unwrap();
    let Command::Store(store) = request.command else {
        panic!("not a store");
    };
    assert_eq!(store.key.as_ptr() as usize, base + 4);
    assert_eq!(store.data.as_ptr() as usize, base + 15);
}

#[test]
fn pipelined_requests_decode_in_order() {
    let input = b"get a\r\nset b 0 0 1\r\nx\r\ndelete b noreply\nbogus\r\nversion\r\n";
    let got = decode_all(input, Limits::default());
    assert_eq!(
        got,
        vec![
            Ok(get(Get, None, &[b"a"])),
            Ok(store(Set, b"b", 0, 0, b"x", None, false)),
            Ok(delete(b"b", true)),
            Err(err(ProtocolError::UnknownCommand, Version, false, false)),
            Ok(req(Command::Version, Version, false)),
        ]
    );
}
