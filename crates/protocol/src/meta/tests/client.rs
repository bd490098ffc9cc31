//! The client side: requests written, replies read back.

use super::*;

fn client_decode(form: &MetaForm, input: &[u8]) -> Response {
    let mut buf = BytesMut::from(input);
    let response = crate::meta::decode_response(form, &mut buf, &Limits::default())
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
            crate::meta::decode_response(&get, &mut buf, &limits).is_err(),
            "{bad:?}"
        );
    }
    let mut buf = BytesMut::from(&[b'V'; 3000][..]);
    assert!(crate::meta::decode_response(&get, &mut buf, &limits).is_err());
    let mut buf = BytesMut::from(&b"VA 2 f1\r\nh"[..]);
    assert_eq!(
        crate::meta::decode_response(&get, &mut buf, &limits),
        Ok(None)
    );
    assert_eq!(buf.len(), 10);
}

fn encode_request(form: &MetaForm, command: &Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    crate::meta::encode_request(form, command, &mut out);
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
                want_ttl: false,
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

#[test]
fn classic_commands_on_a_meta_connection() {
    let written = |command: Command| {
        let mut out = BytesMut::new();
        crate::meta::encode_request(&form(MetaVerb::Get, b"k", b"", None), &command, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    };
    let touch = Command::Touch(crate::Touch {
        key: key(b"k"),
        exptime: 10,
    });
    assert_eq!(written(touch), "touch k 10\r\n");
    assert_eq!(
        written(Command::FlushAll(crate::FlushAll { delay: 5 })),
        "flush_all 5\r\n"
    );
    assert_eq!(
        written(Command::FlushAll(crate::FlushAll { delay: 0 })),
        "flush_all\r\n"
    );
    assert_eq!(written(Command::Verbosity(1)), "verbosity 1\r\n");
    let stats = form(MetaVerb::Get, b"", b"", None);
    assert_eq!(client_decode(&stats, b"RESET\r\n"), Response::Reset);
}
