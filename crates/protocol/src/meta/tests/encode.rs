//! Responses in, memcached's reply bytes out.

use super::*;

fn encode(form: &MetaForm, response: &Response) -> Vec<u8> {
    let mut out = BytesMut::new();
    crate::meta::encode_response(form, response, &mut out);
    out.to_vec()
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
