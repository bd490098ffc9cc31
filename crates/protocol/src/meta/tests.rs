//! Tables of raw bytes in and out, checked against memcached 1.6.18's behaviour.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use crate::{
    Arith, Command, Decoder, Delete, Form, Get, ItemMeta, Limits, MetaForm, MetaVerb,
    ProtocolError, Request, Response, ReturnFlags, Store, StoreMode, Value, Vivify,
};

fn decode(input: &[u8]) -> Request {
    let mut buf = BytesMut::from(input);
    let request = Decoder::default().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty(), "left over: {buf:?}");
    request
}

fn form(
    verb: MetaVerb,
    key: &'static [u8],
    returns: &[u8],
    opaque: Option<&'static [u8]>,
) -> MetaForm {
    MetaForm {
        verb,
        key: Bytes::from_static(key),
        returns: ReturnFlags::from_letters(returns).unwrap(),
        opaque: opaque.map(Bytes::from_static),
    }
}

/// The form memcached would have parsed from this request line.
fn form_of(line: &str) -> MetaForm {
    let data = match line.split(' ').collect::<Vec<_>>()[..] {
        ["ms", _, len, ..] => format!("{}\r\n", "x".repeat(len.parse().unwrap())),
        _ => String::new(),
    };
    let request = decode(format!("{line}\r\n{data}").as_bytes());
    let Form::Meta(form) = request.form else {
        panic!("not meta")
    };
    form
}

fn key(k: &'static [u8]) -> Bytes {
    Bytes::from_static(k)
}

#[test]
fn decodes_every_verb_and_flag() {
    let cases: Vec<(&[u8], Command, MetaForm)> = vec![
        (
            b"mg foo\r\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            form(MetaVerb::Get, b"foo", b"", None),
        ),
        (
            b"mg foo s v t c f h k l O123 q u T30 N60 R10 P L\r\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                touch: Some(30),
                vivify: Some(60),
                recache: Some(10),
                no_bump: true,
            }),
            form(MetaVerb::Get, b"foo", b"svtcfhklOq", Some(b"123")),
        ),
        (
            b"mg Zm9v b k v\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            form(MetaVerb::Get, b"Zm9v", b"bkv", None),
        ),
        (
            // memcached skips non-alphabet bytes and echoes the canonical text.
            b"mg Zm9v!! b k\r\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            form(MetaVerb::Get, b"Zm9v", b"bk", None),
        ),
        (
            b"ms foo 2 T+5 F4294967297 I c k O9 q\r\nhi\r\n",
            Command::Store(Store {
                key: key(b"foo"),
                flags: 1,
                exptime: 5,
                data: key(b"hi"),
                invalidate: true,
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"ckOq", Some(b"9")),
        ),
        (
            b"ms foo 0 MA C7 N30\r\n\r\n",
            Command::Store(Store {
                mode: StoreMode::Append,
                key: key(b"foo"),
                cas: Some(7),
                vivify: Some(30),
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"", None),
        ),
        (
            b"ms foo 3 ME\r\na\r\n\r\n",
            Command::Store(Store {
                mode: StoreMode::Add,
                key: key(b"foo"),
                data: key(b"a\r\n"),
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"", None),
        ),
        (
            b"ms foo 1 MR\r\nx\r\n",
            Command::Store(Store {
                mode: StoreMode::Replace,
                key: key(b"foo"),
                data: key(b"x"),
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"", None),
        ),
        (
            b"ms foo 1 MP\r\nx\r\n",
            Command::Store(Store {
                mode: StoreMode::Prepend,
                key: key(b"foo"),
                data: key(b"x"),
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"", None),
        ),
        (
            b"ms foo 1 MS\r\nx\r\n",
            Command::Store(Store {
                key: key(b"foo"),
                data: key(b"x"),
                ..Store::default()
            }),
            form(MetaVerb::Set, b"foo", b"", None),
        ),
        (
            b"md foo C5 I T30 q k O1\r\n",
            Command::Delete(Delete {
                key: key(b"foo"),
                cas: Some(5),
                invalidate: true,
                ttl: Some(30),
                new_cas: None,
            }),
            form(MetaVerb::Delete, b"foo", b"qkO", Some(b"1")),
        ),
        (
            b"ma foo\r\n",
            Command::Arith(Arith {
                key: key(b"foo"),
                incr: true,
                delta: 1,
                ..Arith::default()
            }),
            form(MetaVerb::Arith, b"foo", b"", None),
        ),
        (
            b"ma foo MD D5 N0 J10 T20 C3 v t c\r\n",
            Command::Arith(Arith {
                key: key(b"foo"),
                incr: false,
                delta: 5,
                cas: Some(3),
                create: Some(Vivify {
                    initial: 10,
                    exptime: 0,
                }),
                touch: Some(20),
                new_cas: None,
            }),
            form(MetaVerb::Arith, b"foo", b"vtc", None),
        ),
        (
            b"ma foo M- J10\r\n",
            Command::Arith(Arith {
                key: key(b"foo"),
                incr: false,
                delta: 1,
                ..Arith::default()
            }),
            form(MetaVerb::Arith, b"foo", b"", None),
        ),
        (
            b"ma foo M+\r\n",
            Command::Arith(Arith {
                key: key(b"foo"),
                incr: true,
                delta: 1,
                ..Arith::default()
            }),
            form(MetaVerb::Arith, b"foo", b"", None),
        ),
        (
            b"mn\r\n",
            Command::Noop,
            form(MetaVerb::Noop, b"", b"", None),
        ),
        (
            b"mn anything at all\r\n",
            Command::Noop,
            form(MetaVerb::Noop, b"", b"", None),
        ),
        (
            b"me foo\r\n",
            Command::Debug(key(b"foo")),
            form(MetaVerb::Debug, b"foo", b"", None),
        ),
        (
            b"me Zm9v b\r\n",
            Command::Debug(key(b"foo")),
            form(MetaVerb::Debug, b"Zm9v", b"b", None),
        ),
        (
            // memcached reads the line as a C string and stops at the NUL.
            b"mg foo\0 zz v\r\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            form(MetaVerb::Get, b"foo", b"", None),
        ),
        (
            b"mg  foo   v\t  \r\n",
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            form(MetaVerb::Get, b"foo", b"v", None),
        ),
    ];
    for (input, command, form) in cases {
        let request = decode(input);
        assert_eq!(
            request,
            Request {
                command,
                form: Form::Meta(form)
            },
            "{input:?}"
        );
    }
}

#[test]
fn keys_and_values_are_slices_of_the_buffer() {
    let mut buf = BytesMut::from(&b"ms foo 2\r\nhi\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let request = Decoder::default().decode(&mut buf).unwrap().unwrap();
    let Command::Store(store) = request.command else {
        panic!()
    };
    assert_eq!(store.key.as_ptr() as usize, start + 3);
    assert_eq!(store.data.as_ptr() as usize, start + 10);
}

/// (input, error, close, swallow, bytes consumed)
const ERRORS: &[(&[u8], ProtocolError, bool, usize, usize)] = &[
    (b"mg\r\n", ProtocolError::UnknownCommand, false, 0, 4),
    (b"mg\r\r\n", ProtocolError::UnknownCommand, false, 0, 5),
    (b"md\r\n", ProtocolError::UnknownCommand, false, 0, 4),
    (b"ma \r\n", ProtocolError::UnknownCommand, false, 0, 5),
    (b"mg foo z\r\n", ProtocolError::InvalidFlag, false, 0, 10),
    (b"mg foo E5\r\n", ProtocolError::InvalidFlag, false, 0, 11),
    (
        b"mg foo v v\r\n",
        ProtocolError::DuplicateFlag,
        false,
        0,
        12,
    ),
    (b"mg foo Tx\r\n", ProtocolError::BadToken, false, 0, 11),
    (b"mg foo Cx\r\n", ProtocolError::BadToken, false, 0, 11),
    (
        b"mg foo Fx\r\n",
        ProtocolError::BadCommandLine,
        false,
        0,
        11,
    ),
    (b"mg foo b\r\n", ProtocolError::BadBase64Key, false, 0, 10),
    (b"mg foo MXY\r\n", ProtocolError::BadModeToken, false, 0, 12),
    (
        b"mg foo Jx\r\n",
        ProtocolError::InvalidInitial,
        false,
        0,
        11,
    ),
    (
        b"mg foo Dx\r\n",
        ProtocolError::InvalidDeltaToken,
        false,
        0,
        11,
    ),
    (
        b"mg foo O123456789012345678901234567890123\r\n",
        ProtocolError::OpaqueTooLong,
        false,
        0,
        43,
    ),
    (
        b"mg foo c f h k l s t v O1 q u P L T1 N1 R1 C1 F1\r\n",
        ProtocolError::TooManyFlags,
        false,
        0,
        50,
    ),
    (
        b"md foo Cx\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        11,
    ),
    (
        b"md foo x\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        10,
    ),
    (
        b"ma foo Jx\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        11,
    ),
    (
        b"ma foo MX\r\n",
        ProtocolError::InvalidArithMode,
        false,
        0,
        11,
    ),
    (
        b"ma foo Mi\r\n",
        ProtocolError::InvalidArithMode,
        false,
        0,
        11,
    ),
    (
        b"md foo O123456789012345678901234567890123\r\n",
        ProtocolError::OpaqueTooLong,
        false,
        0,
        43,
    ),
    (b"me\r\n", ProtocolError::BadCommandLine, false, 0, 4),
    (b"me foo b\r\n", ProtocolError::BadCommandLine, false, 0, 10),
    (b"ms\r\n", ProtocolError::UnknownCommand, true, 0, 4),
    (b"ms foo\r\n", ProtocolError::BadCommandLine, true, 0, 8),
    (
        b"ms foo S2\r\nhi\r\n",
        ProtocolError::BadCommandLine,
        true,
        0,
        11,
    ),
    (
        b"ms foo -1\r\nhi\r\n",
        ProtocolError::BadCommandLine,
        true,
        0,
        11,
    ),
    (
        b"ms foo 2 zz\r\nhi\r\n",
        ProtocolError::InvalidFlag,
        false,
        4,
        13,
    ),
    (
        b"ms foo 2 T1 T2\r\nhi\r\n",
        ProtocolError::DuplicateFlag,
        false,
        4,
        16,
    ),
    (
        b"ms foo 2 Ms\r\nhi\r\n",
        ProtocolError::InvalidMode,
        false,
        4,
        13,
    ),
    (
        b"ms foo 2 MEE\r\nhi\r\n",
        ProtocolError::BadModeToken,
        false,
        4,
        14,
    ),
    (
        b"ms foo 2 b\r\nhi\r\n",
        ProtocolError::BadBase64Key,
        false,
        4,
        12,
    ),
    (
        b"ms foo 2 O123456789012345678901234567890123 MX\r\n",
        ProtocolError::InvalidMode,
        false,
        4,
        48,
    ),
    (
        b"ms foo 2000000\r\n",
        ProtocolError::TooLarge,
        false,
        2_000_002,
        16,
    ),
    (
        b"ms foo 2\r\nhixx",
        ProtocolError::BadDataChunk,
        true,
        0,
        14,
    ),
    (
        b"ms foo 2\nhi\nmn\r\n",
        ProtocolError::BadDataChunk,
        true,
        0,
        13,
    ),
];

#[test]
fn rejects_like_memcached() {
    for &(input, error, close, swallow, consumed) in ERRORS {
        let mut buf = BytesMut::from(input);
        let mut swallowed = 0;
        let err = super::decode_request(&mut buf, &Limits::default(), &mut swallowed).unwrap_err();
        assert_eq!(
            (err.error, err.close, swallowed),
            (error, close, swallow),
            "{input:?}"
        );
        assert_eq!(input.len() - buf.len(), consumed, "{input:?}");
    }
}

#[test]
fn rejects_long_keys_before_anything_else() {
    for verb in ["mg", "md", "ma"] {
        let line = format!("{verb} {} zz\r\n", "a".repeat(251));
        let mut buf = BytesMut::from(line.as_bytes());
        let err = Decoder::default().decode(&mut buf).unwrap_err();
        assert_eq!((err.error, err.close), (ProtocolError::KeyTooLong, false));
        assert_eq!(err.to_string(), "CLIENT_ERROR bad command line format");
    }
    let mut buf = BytesMut::from(format!("ms {} 2\r\nhi\r\n", "a".repeat(251)).as_bytes());
    let err = Decoder::default().decode(&mut buf).unwrap_err();
    assert_eq!((err.error, err.close), (ProtocolError::KeyTooLong, true));
    assert_eq!(
        decode(format!("mg {}\r\n", "a".repeat(250)).as_bytes())
            .command
            .key()
            .unwrap()
            .len(),
        250
    );
}

#[test]
fn waits_for_a_line_but_not_forever() {
    let mut buf = BytesMut::from(&b"mg foo v"[..]);
    assert_eq!(Decoder::default().decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 8);
    let mut buf = BytesMut::from(
        vec![b'm', b'g', b' ']
            .into_iter()
            .chain([b'a'; 3000])
            .collect::<Vec<_>>()
            .as_slice(),
    );
    let err = Decoder::default().decode(&mut buf).unwrap_err();
    assert_eq!((err.error, err.close), (ProtocolError::LineTooLong, true));
}

#[test]
fn swallows_a_rejected_value_then_goes_on() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"ms foo 2 zz\r\nhi\r\nmn\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap_err().error,
        ProtocolError::InvalidFlag
    );
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap().command,
        Command::Noop
    );
    assert!(buf.is_empty());
}

fn encode(form: &MetaForm, response: &Response) -> Vec<u8> {
    let mut out = BytesMut::new();
    super::encode_response(form, response, &mut out);
    out.to_vec()
}

fn meta(cas: u64, flags: u32, ttl: i64, size: u32) -> ItemMeta {
    ItemMeta {
        cas,
        flags,
        ttl,
        size,
        ..ItemMeta::default()
    }
}

fn hit(data: &'static [u8], meta: ItemMeta) -> Response {
    Response::Values(vec![Value {
        key: key(b"foo"),
        data: key(data),
        meta,
    }])
}

#[test]
fn encodes_replies_like_memcached() {
    let stale = ItemMeta {
        stale: true,
        win: true,
        ttl: 30,
        cas: 262,
        ..ItemMeta::default()
    };
    let won = ItemMeta {
        won: true,
        stale: true,
        ..stale
    };
    let cases: Vec<(&str, Response, &[u8])> = vec![
        ("mg foo v", Response::Values(vec![]), b"EN\r\n"),
        ("mg foo v q", Response::Values(vec![]), b""),
        (
            "mg Zm9v b k O1 v",
            Response::Values(vec![]),
            b"EN kZm9v b O1\r\n",
        ),
        (
            "mg foo c f h k l s t v O1 q u",
            hit(b"", meta(155, 0, -1, 0)),
            b"VA 0 c155 f0 h0 kfoo l0 s0 t-1 O1\r\n\r\n",
        ),
        (
            "mg foo v f t",
            hit(b"hi", meta(1, 5, 100, 2)),
            b"VA 2 f5 t100\r\nhi\r\n",
        ),
        (
            "mg foo s t v q",
            hit(b"hi", meta(1, 0, 100, 2)),
            b"VA 2 s2 t100\r\nhi\r\n",
        ),
        ("mg foo k c", hit(b"", meta(9, 0, -1, 2)), b"HD kfoo c9\r\n"),
        (
            "mg foo c v t",
            hit(b"hi", stale),
            b"VA 2 c262 t30 X W\r\nhi\r\n",
        ),
        (
            "mg foo c v t",
            hit(b"hi", won),
            b"VA 2 c262 t30 Z X W\r\nhi\r\n",
        ),
        (
            "mg foo h l v",
            hit(
                b"x",
                ItemMeta {
                    fetched: true,
                    last_access: 7,
                    ..ItemMeta::default()
                },
            ),
            b"VA 1 h1 l7\r\nx\r\n",
        ),
        (
            "ms foo 2 c k O5",
            Response::Stored(meta(225, 0, 0, 0)),
            b"HD c225 kfoo O5\r\n",
        ),
        (
            "ms Zm9v 2 k c O5 b",
            Response::Stored(meta(223, 0, 0, 0)),
            b"HD kZm9v b c223 O5\r\n",
        ),
        ("ms foo 2 q", Response::Stored(ItemMeta::default()), b""),
        (
            "ms foo 2 c k O6 ME",
            Response::NotStored,
            b"NS c0 kfoo O6\r\n",
        ),
        (
            "ms foo 2 C1 c k O7 q",
            Response::Exists,
            b"EX c0 kfoo O7\r\n",
        ),
        (
            "ms foo 2 c k O5 C99",
            Response::NotFound,
            b"NF c0 kfoo O5\r\n",
        ),
        (
            "ms foo 2",
            Response::TooLarge,
            b"SERVER_ERROR object too large for cache\r\n",
        ),
        (
            "ms foo 2 q",
            Response::OutOfMemory,
            b"SERVER_ERROR out of memory storing object\r\n",
        ),
        ("md foo q", Response::Deleted, b""),
        ("md foo k O1", Response::Deleted, b"HD kfoo O1\r\n"),
        ("md foo q O1 k c", Response::NotFound, b"NF O1 kfoo\r\n"),
        ("md foo C1 q", Response::Exists, b"EX\r\n"),
        ("ma foo", Response::NotFound, b"NF\r\n"),
        ("ma foo q O1 k", Response::NotFound, b"NF O1 kfoo\r\n"),
        (
            "ma foo N0 J10 v t c k O1",
            Response::Number(10, meta(237, 0, -1, 0)),
            b"VA 2 t-1 c237 kfoo O1\r\n10\r\n",
        ),
        (
            "ma foo M+ D5 O2",
            Response::Number(15, ItemMeta::default()),
            b"HD O2\r\n",
        ),
        ("ma foo q v", Response::Number(15, ItemMeta::default()), b""),
        ("ma foo C1 v", Response::Exists, b"EX\r\n"),
        (
            "ma foo v",
            Response::NonNumeric,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        ("mn", Response::Noop, b"MN\r\n"),
        ("me foo", Response::Debug(None), b"EN\r\n"),
        (
            "me Zm9v b",
            Response::Debug(Some("exp=-1 la=0 cas=256 fetch=no cls=1 size=64".into())),
            b"ME Zm9v exp=-1 la=0 cas=256 fetch=no cls=1 size=64\r\n",
        ),
        (
            "mg foo q",
            Response::ClientError(Cow::Borrowed("opaque token too long")),
            b"CLIENT_ERROR opaque token too long\r\n",
        ),
        (
            "mg foo",
            Response::ServerError(Cow::Borrowed("out of memory")),
            b"SERVER_ERROR out of memory\r\n",
        ),
        ("mg foo", Response::Error, b"ERROR\r\n"),
    ];
    for (line, response, expected) in cases {
        assert_eq!(
            encode(&form_of(line), &response),
            expected,
            "{line} {response:?}"
        );
    }
}

#[test]
fn every_decode_error_has_memcached_text() {
    let texts = [
        (
            ProtocolError::OpaqueTooLong,
            &b"CLIENT_ERROR opaque token too long\r\n"[..],
        ),
        (
            ProtocolError::InvalidMode,
            b"CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        (
            ProtocolError::InvalidArithMode,
            b"CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        (
            ProtocolError::BadModeToken,
            b"CLIENT_ERROR incorrect length for M token\r\n",
        ),
        (
            ProtocolError::InvalidOrDuplicateFlag,
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            ProtocolError::FlagsTooLong,
            b"CLIENT_ERROR options flags too long\r\n",
        ),
        (
            ProtocolError::TooManyFlags,
            b"CLIENT_ERROR options flags are too long\r\n",
        ),
        (
            ProtocolError::InvalidInitial,
            b"CLIENT_ERROR invalid numeric initial value\r\n",
        ),
        (
            ProtocolError::InvalidDeltaToken,
            b"CLIENT_ERROR invalid numeric delta value\r\n",
        ),
        (
            ProtocolError::BadBase64Key,
            b"CLIENT_ERROR error decoding key\r\n",
        ),
        (
            ProtocolError::TooLarge,
            b"SERVER_ERROR object too large for cache\r\n",
        ),
        (ProtocolError::UnknownCommand, b"ERROR\r\n"),
    ];
    for (error, expected) in texts {
        // Errors are written even in quiet mode.
        assert_eq!(encode(&form_of("mg foo q"), &error.to_response()), expected);
    }
}

fn client_decode(form: &MetaForm, input: &[u8]) -> Response {
    let mut buf = BytesMut::from(input);
    let response = super::decode_response(form, &mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert!(buf.is_empty(), "left over: {buf:?}");
    response
}

#[test]
fn client_reads_replies_back() {
    let get = form(MetaVerb::Get, b"foo", b"vtfck", None);
    let full = ItemMeta {
        cas: 155,
        flags: 5,
        ttl: 30,
        size: 2,
        ..ItemMeta::default()
    };
    assert_eq!(
        client_decode(&get, b"VA 2 t30 f5 c155 kfoo W X Z\r\nhi\r\n"),
        Response::Values(vec![Value {
            key: key(b"foo"),
            data: key(b"hi"),
            meta: ItemMeta {
                win: true,
                stale: true,
                won: true,
                ..full
            },
        }])
    );
    assert_eq!(client_decode(&get, b"EN\r\n"), Response::Values(vec![]));
    let b64 = form(MetaVerb::Get, b"Zm9v", b"bkv", None);
    let Response::Values(values) = client_decode(&b64, b"VA 1 kZm9v b h1 l3 s1\r\nx\r\n") else {
        panic!()
    };
    assert_eq!(&values[0].key[..], b"foo");
    assert!(values[0].meta.fetched);
    assert_eq!((values[0].meta.last_access, values[0].meta.size), (3, 1));
    // Without `k` the key comes from the request.
    let Response::Values(values) = client_decode(&b64, b"HD\r\n") else {
        panic!()
    };
    assert_eq!(&values[0].key[..], b"foo");

    let set = form(MetaVerb::Set, b"foo", b"c", None);
    assert_eq!(
        client_decode(&set, b"HD c7\r\n"),
        Response::Stored(meta(7, 0, 0, 0))
    );
    assert_eq!(client_decode(&set, b"NS c0\r\n"), Response::NotStored);
    assert_eq!(client_decode(&set, b"EX c0\r\n"), Response::Exists);
    assert_eq!(client_decode(&set, b"NF c0\r\n"), Response::NotFound);
    assert_eq!(
        client_decode(&set, b"SERVER_ERROR object too large for cache\r\n"),
        Response::TooLarge
    );
    let del = form(MetaVerb::Delete, b"foo", b"", None);
    assert_eq!(client_decode(&del, b"HD\r\n"), Response::Deleted);
    let arith = form(MetaVerb::Arith, b"foo", b"vt", None);
    assert_eq!(
        client_decode(&arith, b"VA 2 t-1\r\n10\r\n"),
        Response::Number(10, meta(0, 0, -1, 2))
    );
    assert_eq!(
        client_decode(
            &arith,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
        ),
        Response::NonNumeric
    );
    let debug = form(MetaVerb::Debug, b"foo", b"", None);
    assert_eq!(client_decode(&debug, b"EN\r\n"), Response::Debug(None));
    assert_eq!(
        client_decode(&debug, b"ME foo exp=-1 la=0\r\n"),
        Response::Debug(Some("exp=-1 la=0".into()))
    );
    assert_eq!(client_decode(&debug, b"MN\r\n"), Response::Noop);
    assert_eq!(
        client_decode(&debug, b"VERSION 1.6.18\r\n"),
        Response::Version(key(b"1.6.18"))
    );
    assert_eq!(
        client_decode(&debug, b"STAT pid 1\r\nSTAT version 1.6.18\r\nEND\r\n"),
        Response::Stats(vec![
            ("pid".into(), "1".into()),
            ("version".into(), "1.6.18".into())
        ])
    );
}

#[test]
fn client_rejects_bad_replies() {
    let get = form(MetaVerb::Get, b"foo", b"v", None);
    let limits = Limits::default();
    for bad in [
        &b"XX\r\n"[..],
        b"VA x\r\n",
        b"VA 2\r\nhixx",
        b"HD\n",
        b"HD cX\r\n",
        b"VA 9999999999\r\n",
    ] {
        let mut buf = BytesMut::from(bad);
        assert!(
            super::decode_response(&get, &mut buf, &limits).is_err(),
            "{bad:?}"
        );
    }
    let mut buf = BytesMut::from(&[b'V'; 3000][..]);
    assert!(super::decode_response(&get, &mut buf, &limits).is_err());
    let mut buf = BytesMut::from(&b"VA 2 f1\r\nh"[..]);
    assert_eq!(super::decode_response(&get, &mut buf, &limits), Ok(None));
    assert_eq!(buf.len(), 10);
}

fn encode_request(form: &MetaForm, command: &Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    super::encode_request(form, command, &mut out);
    out.to_vec()
}

#[test]
fn client_writes_requests() {
    let cases: Vec<(MetaForm, Command, &[u8])> = vec![
        (
            form(MetaVerb::Get, b"", b"vtfc", Some(b"7")),
            Command::Get(Get {
                keys: vec![key(b"foo")],
                touch: Some(30),
                vivify: Some(5),
                recache: Some(2),
                no_bump: true,
            }),
            b"mg foo T30 N5 R2 u v t f c O7\r\n",
        ),
        (
            form(MetaVerb::Get, b"", b"bkO", Some(b"1")),
            Command::Get(Get {
                keys: vec![key(b"foo")],
                ..Get::default()
            }),
            b"mg Zm9v b k O1\r\n",
        ),
        (
            form(MetaVerb::Set, b"", b"q", None),
            Command::Store(Store {
                mode: StoreMode::Append,
                key: key(b"foo"),
                flags: 3,
                exptime: -1,
                data: key(b"hi"),
                cas: Some(9),
                new_cas: None,
                invalidate: true,
                vivify: Some(60),
            }),
            b"ms foo 2 T-1 F3 C9 I N60 MA q\r\nhi\r\n",
        ),
        (
            form(MetaVerb::Delete, b"", b"", None),
            Command::Delete(Delete {
                key: key(b"foo"),
                cas: Some(2),
                invalidate: true,
                ttl: Some(30),
                new_cas: None,
            }),
            b"md foo C2 I T30\r\n",
        ),
        (
            form(MetaVerb::Arith, b"", b"v", None),
            Command::Arith(Arith {
                key: key(b"foo"),
                incr: false,
                delta: 5,
                cas: None,
                create: Some(Vivify {
                    initial: 10,
                    exptime: 0,
                }),
                touch: Some(9),
                new_cas: None,
            }),
            b"ma foo MD D5 N0 J10 T9 v\r\n",
        ),
        (
            form(MetaVerb::Noop, b"", b"", None),
            Command::Noop,
            b"mn\r\n",
        ),
        (
            form(MetaVerb::Debug, b"", b"b", None),
            Command::Debug(key(b"foo")),
            b"me Zm9v b\r\n",
        ),
        (
            form(MetaVerb::Get, b"", b"", None),
            Command::Version,
            b"version\r\n",
        ),
        (
            form(MetaVerb::Get, b"", b"", None),
            Command::Stats(None),
            b"stats\r\n",
        ),
    ];
    for (form, command, expected) in cases {
        assert_eq!(encode_request(&form, &command), expected, "{command:?}");
    }
}
