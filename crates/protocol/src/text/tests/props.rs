//! Properties: decode(encode(x)) == x both ways, every strict prefix of a frame
//! needs more bytes, and splitting a pipelined stream anywhere changes nothing.

use std::borrow::Cow;

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::text::reply::decode_response;
use crate::{encode_request, encode_response, ItemMeta, Response, Value};

fn key() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(b'!'..=b'~', 1..=250).prop_map(Bytes::from)
}

fn data() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

fn exptime() -> impl Strategy<Value = i64> {
    any::<i32>().prop_map(i64::from)
}

fn store_verb() -> impl Strategy<Value = TextVerb> {
    prop_oneof![
        Just(TextVerb::Set),
        Just(TextVerb::Add),
        Just(TextVerb::Replace),
        Just(TextVerb::Append),
        Just(TextVerb::Prepend),
        Just(TextVerb::Cas),
    ]
}

fn stats_group() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of("[a-z]{1,8}( {1,2}[a-z0-9]{1,5}){0,3}".prop_map(Bytes::from))
}

/// Every request the text protocol can carry, with the form it is written in.
fn request() -> impl Strategy<Value = Request> {
    let get_verb = prop_oneof![
        Just(TextVerb::Get),
        Just(TextVerb::Gets),
        Just(TextVerb::Gat),
        Just(TextVerb::Gats),
    ];
    prop_oneof![
        (get_verb, proptest::collection::vec(key(), 1..5), exptime()).prop_map(
            |(verb, keys, t)| {
                let touch = matches!(verb, TextVerb::Gat | TextVerb::Gats).then_some(t);
                req(
                    Command::Get(Get {
                        keys,
                        touch,
                        ..Get::default()
                    }),
                    verb,
                    false,
                )
            }
        ),
        (
            store_verb(),
            key(),
            any::<u32>(),
            exptime(),
            data(),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(|(verb, key, flags, exptime, data, cas, noreply)| {
                let cas = (verb == TextVerb::Cas).then_some(cas);
                store(verb, &key, flags, exptime, &data, cas, noreply)
            }),
        (key(), any::<bool>()).prop_map(|(k, noreply)| delete(&k, noreply)),
        (any::<bool>(), key(), any::<u64>(), any::<bool>())
            .prop_map(|(incr, k, delta, noreply)| arith(incr, &k, delta, noreply)),
        (key(), exptime(), any::<bool>()).prop_map(|(k, t, noreply)| touch(&k, t, noreply)),
        (0..=i64::from(i32::MAX), any::<bool>()).prop_map(|(d, noreply)| flush(d, noreply)),
        stats_group().prop_map(|g| req(Command::Stats(g), TextVerb::Stats, false)),
        Just(req(Command::Version, TextVerb::Version, false)),
        (any::<u32>(), any::<bool>()).prop_map(|(l, noreply)| req(
            Command::Verbosity(l),
            TextVerb::Verbosity,
            noreply
        )),
        Just(req(Command::Quit, TextVerb::Quit, false)),
        any::<bool>().prop_map(|graceful| req(
            Command::Shutdown { graceful },
            TextVerb::Shutdown,
            false
        )),
    ]
}

fn message() -> impl Strategy<Value = Cow<'static, str>> {
    "[a-z][a-z ]{0,30}[a-z]".prop_filter_map(
        "memcached's own texts decode to their variants",
        |m| {
            let special = [
                "cannot increment or decrement non-numeric value",
                "object too large for cache",
                "out of memory storing object",
            ];
            (!special.contains(&m.as_str())).then_some(Cow::Owned(m))
        },
    )
}

fn error() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::Error),
        message().prop_map(Response::ClientError),
        message().prop_map(Response::ServerError),
    ]
}

/// A reply to each verb, as the text protocol can carry it.
fn response() -> impl Strategy<Value = (TextVerb, Response)> {
    let value = |cas: bool| {
        (key(), data(), any::<u32>(), any::<u64>()).prop_map(move |(key, data, flags, c)| Value {
            meta: ItemMeta {
                flags,
                cas: if cas { c } else { 0 },
                size: data.len() as u32,
                ..ItemMeta::default()
            },
            key,
            data,
        })
    };
    let meta = ItemMeta::default();
    prop_oneof![
        proptest::collection::vec(value(false), 0..5)
            .prop_map(|v| (TextVerb::Get, Response::Values(v))),
        proptest::collection::vec(value(true), 0..5)
            .prop_map(|v| (TextVerb::Gats, Response::Values(v))),
        (
            store_verb(),
            prop_oneof![
                Just(Response::Stored(meta)),
                Just(Response::NotStored),
                Just(Response::Exists),
                Just(Response::NotFound),
                Just(Response::TooLarge),
                Just(Response::OutOfMemory),
                error(),
            ]
        ),
        prop_oneof![Just(Response::Deleted), Just(Response::NotFound), error()]
            .prop_map(|r| (TextVerb::Delete, r)),
        prop_oneof![Just(Response::Touched(meta)), Just(Response::NotFound)]
            .prop_map(|r| (TextVerb::Touch, r)),
        prop_oneof![
            any::<u64>().prop_map(move |n| Response::Number(n, meta)),
            Just(Response::NotFound),
            Just(Response::NonNumeric),
        ]
        .prop_map(|r| (TextVerb::Decr, r)),
        Just((TextVerb::FlushAll, Response::Ok)),
        Just((TextVerb::Verbosity, Response::Ok)),
        "[0-9a-z. -]{0,20}".prop_map(|v| (TextVerb::Version, Response::Version(Bytes::from(v)))),
        proptest::collection::vec(("[a-z_:0-9]{1,20}", "[ -~]{0,30}"), 0..8)
            .prop_map(|s| (TextVerb::Stats, Response::Stats(s))),
        error().prop_map(|r| (TextVerb::Shutdown, r)),
    ]
}

fn wire(request: &Request) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(request, &mut out);
    out.to_vec()
}

fn reply_wire(verb: TextVerb, response: &Response) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_response(&form(verb, false), response, &mut out);
    out.to_vec()
}

fn read_reply(verb: TextVerb, buf: &mut BytesMut) -> Option<Response> {
    let form = TextForm {
        verb,
        noreply: false,
    };
    decode_response(&form, buf, &Limits::default()).expect("valid reply")
}

/// Every request the text decoder finds in `input`, skipping what it swallows and
/// stopping where it would close the connection.
fn decode_text(input: &[u8]) -> Vec<Request> {
    let mut buf = BytesMut::from(input);
    let mut requests = Vec::new();
    loop {
        let mut swallow = 0;
        match crate::text::decode::decode_request(&mut buf, &Limits::default(), &mut swallow) {
            Ok(Some(request)) => requests.push(request),
            Ok(None) => return requests,
            Err(e) if e.close => return requests,
            Err(_) => {
                let _ = buf.split_to(swallow.min(buf.len()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(request in request()) {
        let bytes = wire(&request);
        let got = decode_all(&bytes, Limits::default());
        prop_assert_eq!(got, vec![Ok(request)]);
    }

    #[test]
    fn request_prefixes_need_more(request in request()) {
        let bytes = wire(&request);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            let got = Decoder::default().decode(&mut buf);
            prop_assert_eq!(got, Ok(None), "cut at {}", cut);
            prop_assert_eq!(&buf[..], &bytes[..cut]);
        }
    }

    #[test]
    fn split_requests_decode_the_same(
        requests in proptest::collection::vec(request(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream: Vec<u8> = requests.iter().flat_map(wire).collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(stream.len());
        let mut decoder = Decoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[from..cut]);
            from = cut;
            while let Some(request) = decoder.decode(&mut buf).expect("valid stream") {
                got.push(request);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, requests);
    }

    #[test]
    fn responses_round_trip((verb, response) in response()) {
        let mut buf = BytesMut::from(&reply_wire(verb, &response)[..]);
        prop_assert_eq!(read_reply(verb, &mut buf), Some(response));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn response_prefixes_need_more((verb, response) in response()) {
        let bytes = reply_wire(verb, &response);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            prop_assert_eq!(read_reply(verb, &mut buf), None, "cut at {}", cut);
            prop_assert_eq!(&buf[..], &bytes[..cut]);
        }
    }

    #[test]
    fn split_responses_decode_the_same(
        replies in proptest::collection::vec(response(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream: Vec<u8> = replies.iter().flat_map(|(v, r)| reply_wire(*v, r)).collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(stream.len());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[from..cut]);
            from = cut;
            while let Some((verb, _)) = replies.get(got.len()) {
                match read_reply(*verb, &mut buf) {
                    Some(response) => got.push((*verb, response)),
                    None => break,
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, replies);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        for request in decode_text(&input) {
            if let Some(key) = request.command.key() {
                prop_assert!(key.len() <= Limits::MAX_KEY_LEN);
                prop_assert!(!key.contains(&b' ') && !key.contains(&b'\n'));
            }
        }
        for verb in [TextVerb::Get, TextVerb::Stats, TextVerb::Incr, TextVerb::Version] {
            let form = TextForm { verb, noreply: false };
            let _ = decode_response(&form, &mut BytesMut::from(&input[..]), &Limits::default());
        }
    }
}
