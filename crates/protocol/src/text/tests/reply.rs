//! Client side: reply bytes in, knowing the verb, responses out.

use std::borrow::Cow;

use bytes::BytesMut;

use super::*;
use crate::text::reply::decode_response;
use crate::TextVerb::*;
use crate::{ItemMeta, Response, Value};

fn decoded(verb: TextVerb, input: &[u8]) -> Result<Option<Response>, crate::InvalidResponse> {
    let mut buf = BytesMut::from(input);
    let got = decode_response(
        &TextForm {
            verb,
            noreply: false,
        },
        &mut buf,
        &Limits::default(),
    );
    if let Ok(Some(_)) = got {
        assert!(buf.is_empty(), "{verb:?} {input:?} left {buf:?}");
    }
    got
}

fn hit(key: &[u8], data: &[u8], flags: u32, cas: u64) -> Value {
    Value {
        key: b(key),
        data: b(data),
        meta: ItemMeta {
            flags,
            cas,
            size: data.len() as u32,
            ..ItemMeta::default()
        },
    }
}

#[test]
fn reads_replies_by_verb() {
    let meta = ItemMeta::default();
    let cases: Vec<(TextVerb, &[u8], Response)> = vec![
        (Get, b"END\r\n", Response::Values(vec![])),
        (
            Get,
            b"VALUE a 5 1\r\n1\r\nVALUE b 0 2\r\n\r\n\r\nEND\r\n",
            Response::Values(vec![hit(b"a", b"1", 5, 0), hit(b"b", b"\r\n", 0, 0)]),
        ),
        (
            Gets,
            b"VALUE a 4294967295 0 18446744073709551615\r\n\r\nEND\r\n",
            { Response::Values(vec![hit(b"a", b"", u32::MAX, u64::MAX)]) },
        ),
        (
            Get,
            b"SERVER_ERROR out of memory writing get response\r\n",
            { Response::ServerError(Cow::Borrowed("out of memory writing get response")) },
        ),
        (Get, b"CLIENT_ERROR bad command line format\r\n", {
            Response::ClientError(Cow::Borrowed("bad command line format"))
        }),
        (Set, b"STORED\r\n", Response::Stored(meta)),
        (Add, b"NOT_STORED\r\n", Response::NotStored),
        (Cas, b"EXISTS\r\n", Response::Exists),
        (Cas, b"NOT_FOUND\r\n", Response::NotFound),
        (
            Set,
            b"SERVER_ERROR object too large for cache\r\n",
            Response::TooLarge,
        ),
        (
            Set,
            b"SERVER_ERROR out of memory storing object\r\n",
            Response::OutOfMemory,
        ),
        (Delete, b"DELETED\r\n", Response::Deleted),
        (Delete, b"NOT_FOUND\r\n", Response::NotFound),
        (Touch, b"TOUCHED\r\n", Response::Touched(meta)),
        (Incr, b"42\r\n", Response::Number(42, meta)),
        (Decr, b"NOT_FOUND\r\n", Response::NotFound),
        (
            Incr,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
            Response::NonNumeric,
        ),
        (FlushAll, b"OK\r\n", Response::Ok),
        (Verbosity, b"OK\r\n", Response::Ok),
        (
            Version,
            b"VERSION 1.6.18\r\n",
            Response::Version(b(b"1.6.18")),
        ),
        (
            Stats,
            b"STAT pid 1\r\nSTAT libevent 2.1.12-stable x\r\nSTAT empty\r\nEND\r\n",
            Response::Stats(vec![
                ("pid".into(), "1".into()),
                ("libevent".into(), "2.1.12-stable x".into()),
                ("empty".into(), "".into()),
            ]),
        ),
        (Stats, b"RESET\r\n", Response::Reset),
        (Stats, b"ERROR\r\n", Response::Error),
        (
            Shutdown,
            b"ERROR: shutdown not enabled\r\n",
            Response::ErrorLine("ERROR: shutdown not enabled".into()),
        ),
        (Set, b"ERROR\r\n", Response::Error),
    ];
    for (verb, input, want) in cases {
        assert_eq!(
            decoded(verb, input),
            Ok(Some(want)),
            "{verb:?} {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn rejects_replies_that_do_not_answer_the_request() {
    let k251 = [&b"VALUE "[..], &[b'k'; 251], b" 0 1\r\nx\r\nEND\r\n"].concat();
    let cases: Vec<(TextVerb, &[u8])> = vec![
        (Get, b"STORED\r\n"),
        (Get, b"VALUE a 0\r\n"),
        (Get, b"VALUE a x 1\r\nx\r\nEND\r\n"),
        (Get, b"VALUE a 4294967296 1\r\nx\r\nEND\r\n"),
        (Get, b"VALUE a 0 1 2 3\r\nx\r\nEND\r\n"),
        (Get, b"VALUE a 0 1\r\nxy\r\nEND\r\n"),
        (Get, b"VALUE a 0 1048577\r\n"),
        (Get, &k251),
        (Get, b"VALUE a 0 1\r\nx\r\nSTORED\r\n"),
        (Set, b"DELETED\r\n"),
        (Delete, b"STORED\r\n"),
        (Incr, b"-1\r\n"),
        (Incr, b"18446744073709551616\r\n"),
        (Touch, b"OK\r\n"),
        (Version, b"1.6.18\r\n"),
        (Stats, b"STAT a 1\r\nOK\r\n"),
        (Quit, b"bye\r\n"),
    ];
    for (verb, input) in cases {
        assert!(
            decoded(verb, input).is_err(),
            "{verb:?} {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn waits_for_the_whole_reply() {
    let cases: Vec<(TextVerb, &[u8])> = vec![
        (Get, b""),
        (Get, b"VALUE a 0 5\r\nhel"),
        (Get, b"VALUE a 0 1\r\nx\r\n"),
        (Get, b"VALUE a 0 1\r\nx\r\nEN"),
        (Stats, b"STAT a 1\r\n"),
        (Set, b"STORED"),
        (Incr, b"12"),
    ];
    for (verb, input) in cases {
        let mut buf = BytesMut::from(input);
        let got = decode_response(
            &TextForm {
                verb,
                noreply: false,
            },
            &mut buf,
            &Limits::default(),
        );
        assert_eq!(got, Ok(None), "{verb:?} {input:?}");
        assert_eq!(&buf[..], input, "nothing consumed");
    }
}

#[test]
fn bounds_what_it_buffers() {
    let limits = Limits {
        max_keys: 2,
        ..Limits::default()
    };
    let form = TextForm {
        verb: Get,
        noreply: false,
    };
    let mut three = BytesMut::from(&b"VALUE a 0 0\r\n\r\nVALUE b 0 0\r\n\r\nVALUE c 0 0\r\n"[..]);
    assert!(decode_response(&form, &mut three, &limits).is_err());
    let mut endless = BytesMut::from(&vec![b'V'; limits.max_line_len][..]);
    assert!(decode_response(&form, &mut endless, &limits).is_err());
}

#[test]
fn values_are_slices_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"VALUE key 0 5\r\nvalue\r\nEND\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let form = TextForm {
        verb: Get,
        noreply: false,
    };
    let Ok(Some(Response::Values(values))) = decode_response(&form, &mut buf, &Limits::default())
    else {
        panic!("not values");
    };
    assert_eq!(values[0].key.as_ptr() as usize, base + 6);
    assert_eq!(values[0].data.as_ptr() as usize, base + 15);
}
