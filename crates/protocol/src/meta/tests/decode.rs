//! Request lines in, requests out.

use super::*;

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
                want_ttl: false,
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
