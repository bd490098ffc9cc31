//! Responses in, memcached 1.6.18's exact reply bytes out.

use std::borrow::Cow;

use bytes::BytesMut;

use super::*;
use crate::text::client::encode_request;
use crate::text::encode::encode_response;
use crate::TextVerb::*;
use crate::{ItemMeta, Response, Value};

fn encoded(verb: TextVerb, noreply: bool, response: &Response) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_response(&TextForm { verb, noreply }, response, &mut out);
    out.to_vec()
}

fn value(key: &[u8], data: &[u8], flags: u32, cas: u64) -> Value {
    Value {
        key: b(key),
        data: b(data),
        meta: ItemMeta {
            flags,
            cas,
            ..ItemMeta::default()
        },
    }
}

#[test]
fn writes_memcached_replies() {
    let values = Response::Values(vec![value(b"a", b"1", 5, 77), value(b"bb", b"", 0, 78)]);
    let cases: Vec<(TextVerb, Response, &[u8])> = vec![
        (Get, Response::Values(vec![]), b"END\r\n"),
        (
            Get,
            values.clone(),
            b"VALUE a 5 1\r\n1\r\nVALUE bb 0 0\r\n\r\nEND\r\n",
        ),
        (
            Gat,
            values.clone(),
            b"VALUE a 5 1\r\n1\r\nVALUE bb 0 0\r\n\r\nEND\r\n",
        ),
        (
            Gets,
            values.clone(),
            b"VALUE a 5 1 77\r\n1\r\nVALUE bb 0 0 78\r\n\r\nEND\r\n",
        ),
        (
            Gats,
            values,
            b"VALUE a 5 1 77\r\n1\r\nVALUE bb 0 0 78\r\n\r\nEND\r\n",
        ),
        (Set, Response::Stored(ItemMeta::default()), b"STORED\r\n"),
        (Add, Response::NotStored, b"NOT_STORED\r\n"),
        (Cas, Response::Exists, b"EXISTS\r\n"),
        (Cas, Response::NotFound, b"NOT_FOUND\r\n"),
        (Delete, Response::Deleted, b"DELETED\r\n"),
        (
            Touch,
            Response::Touched(ItemMeta::default()),
            b"TOUCHED\r\n",
        ),
        (Incr, Response::Number(0, ItemMeta::default()), b"0\r\n"),
        (
            Incr,
            Response::Number(u64::MAX, ItemMeta::default()),
            b"18446744073709551615\r\n",
        ),
        (FlushAll, Response::Ok, b"OK\r\n"),
        (Verbosity, Response::Ok, b"OK\r\n"),
        (
            Version,
            Response::Version(b(b"1.6.18")),
            b"VERSION 1.6.18\r\n",
        ),
        (
            Stats,
            Response::Stats(vec![
                ("pid".into(), "42".into()),
                ("version".into(), "1.6.18".into()),
            ]),
            b"STAT pid 42\r\nSTAT version 1.6.18\r\nEND\r\n",
        ),
        (Stats, Response::Stats(vec![]), b"END\r\n"),
        (
            Set,
            Response::TooLarge,
            b"SERVER_ERROR object too large for cache\r\n",
        ),
        (
            Set,
            Response::OutOfMemory,
            b"SERVER_ERROR out of memory storing object\r\n",
        ),
        (
            Incr,
            Response::NonNumeric,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        (Get, Response::Error, b"ERROR\r\n"),
        (
            Set,
            Response::ClientError(Cow::Borrowed("bad data chunk")),
            b"CLIENT_ERROR bad data chunk\r\n",
        ),
        (
            Incr,
            Response::ServerError(Cow::Borrowed("out of memory")),
            b"SERVER_ERROR out of memory\r\n",
        ),
        (
            Set,
            Response::AuthError,
            b"CLIENT_ERROR authentication failure\r\n",
        ),
        (Version, Response::Noop, b"ERROR\r\n"),
    ];
    for (verb, response, want) in cases {
        let got = encoded(verb, false, &response);
        assert_eq!(
            got,
            want,
            "{verb:?} {response:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn noreply_writes_nothing_not_even_errors() {
    for response in [
        Response::Stored(ItemMeta::default()),
        Response::NotFound,
        Response::Number(1, ItemMeta::default()),
        Response::NonNumeric,
        Response::TooLarge,
        Response::Error,
        Response::ClientError(Cow::Borrowed("bad command line format")),
    ] {
        assert_eq!(encoded(Set, true, &response), b"", "{response:?}");
    }
}

#[test]
fn decode_errors_encode_as_memcached_words_them() {
    let cases: Vec<(ProtocolError, &[u8])> = vec![
        (ProtocolError::UnknownCommand, b"ERROR\r\n"),
        (
            ProtocolError::BadCommandLine,
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            ProtocolError::KeyTooLong,
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            ProtocolError::BadDataChunk,
            b"CLIENT_ERROR bad data chunk\r\n",
        ),
        (
            ProtocolError::TooLarge,
            b"SERVER_ERROR object too large for cache\r\n",
        ),
        (
            ProtocolError::InvalidExptime,
            b"CLIENT_ERROR invalid exptime argument\r\n",
        ),
        (
            ProtocolError::InvalidDelta,
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        (
            ProtocolError::BadDeleteFormat,
            b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        (
            ProtocolError::InvalidShutdownMode,
            b"CLIENT_ERROR invalid shutdown mode\r\n",
        ),
    ];
    for (error, want) in cases {
        assert_eq!(encoded(Set, false, &error.to_response()), want, "{error:?}");
    }
}

#[test]
fn writes_client_requests() {
    let cases: Vec<(Request, &[u8])> = vec![
        (get(Get, None, &[b"a", b"b"]), b"get a b\r\n"),
        (get(Gets, None, &[b"a"]), b"gets a\r\n"),
        (get(Gat, Some(-1), &[b"a"]), b"gat -1 a\r\n"),
        (get(Gats, Some(10), &[b"a", b"b"]), b"gats 10 a b\r\n"),
        (get(Get, Some(10), &[b"a"]), b"gat 10 a\r\n"),
        (get(Gats, None, &[b"a"]), b"gets a\r\n"),
        (
            store(Set, b"k", 1, 2, b"abc", None, false),
            b"set k 1 2 3\r\nabc\r\n",
        ),
        (
            store(Add, b"k", 0, 0, b"", None, true),
            b"add k 0 0 0 noreply\r\n\r\n",
        ),
        (
            store(Replace, b"k", 0, 0, b"x", None, false),
            b"replace k 0 0 1\r\nx\r\n",
        ),
        (
            store(Append, b"k", 0, 0, b"x", None, false),
            b"append k 0 0 1\r\nx\r\n",
        ),
        (
            store(Prepend, b"k", 0, 0, b"x", None, false),
            b"prepend k 0 0 1\r\nx\r\n",
        ),
        (
            store(Cas, b"k", 0, 0, b"x", Some(9), true),
            b"cas k 0 0 1 9 noreply\r\nx\r\n",
        ),
        (delete(b"k", false), b"delete k\r\n"),
        (delete(b"k", true), b"delete k noreply\r\n"),
        (arith(true, b"k", 5, false), b"incr k 5\r\n"),
        (arith(false, b"k", 5, true), b"decr k 5 noreply\r\n"),
        (touch(b"k", 10, false), b"touch k 10\r\n"),
        (flush(0, false), b"flush_all\r\n"),
        (flush(5, true), b"flush_all 5 noreply\r\n"),
        (req(Command::Stats(None), Stats, false), b"stats\r\n"),
        (
            req(Command::Stats(Some(b(b"items"))), Stats, false),
            b"stats items\r\n",
        ),
        (req(Command::Version, Version, false), b"version\r\n"),
        (
            req(Command::Verbosity(2), Verbosity, true),
            b"verbosity 2 noreply\r\n",
        ),
        (req(Command::Quit, Quit, false), b"quit\r\n"),
        (
            req(Command::Shutdown { graceful: true }, Shutdown, false),
            b"shutdown graceful\r\n",
        ),
        (req(Command::Noop, Version, false), b""),
    ];
    for (request, want) in cases {
        let mut out = BytesMut::new();
        let Form::Text(form) = &request.form else {
            panic!("text form expected");
        };
        encode_request(form, &request.command, &mut out);
        assert_eq!(&out[..], want, "{request:?}");
    }
}

#[test]
fn store_verb_follows_the_command_when_the_form_names_another_family() {
    let mut request = store(Add, b"k", 0, 0, b"x", None, false);
    request.form = form(Get, false);
    let mut out = BytesMut::new();
    crate::encode_request(&request, &mut out);
    assert_eq!(&out[..], b"add k 0 0 1\r\nx\r\n");
}
