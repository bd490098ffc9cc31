use bytes::BytesMut;
use memkeep_protocol::{Decoder, Limits, Response};
use proptest::prelude::*;

use super::super::reply_check::{check, REQUESTS};
use super::*;

fn reader(client: &[u8], dialect: Dialect) -> ReplyReader {
    let request = Decoder::default()
        .decode(&mut BytesMut::from(client))
        .unwrap()
        .unwrap();
    ReplyReader::new(request, dialect).unwrap().1
}

fn read(client: &[u8], dialect: Dialect, replies: &[u8]) -> Result<Option<Response>, ReplyError> {
    reader(client, dialect).read(&mut BytesMut::from(replies), &Limits::default())
}

#[test]
fn a_reply_of_the_wrong_kind_is_refused() {
    // The meta decoder reads any meta code: the pairing is the reader's to check.
    assert_eq!(
        read(b"get a\r\n", Dialect::Meta, b"HD\r\n").map(|r| r.is_some()),
        Ok(true)
    );
    assert_eq!(
        read(b"get a\r\n", Dialect::Meta, b"NS\r\n"),
        Err(ReplyError::Unexpected)
    );
    assert_eq!(
        read(b"delete a\r\n", Dialect::Meta, b"VA 1\r\nx\r\n"),
        Err(ReplyError::Unexpected)
    );
    assert_eq!(
        read(b"mn\r\n", Dialect::Meta, b"OK\r\n"),
        Err(ReplyError::Unexpected)
    );
    assert!(matches!(
        read(b"set a 0 0 1\r\nx\r\n", Dialect::Text, b"DELETED\r\n"),
        Err(ReplyError::Invalid(_))
    ));
    assert_eq!(
        read(b"incr a 1\r\n", Dialect::Meta, b"SERVER_ERROR busy\r\n"),
        Ok(Some(Response::ServerError("busy".into())))
    );
}

#[test]
fn items_for_keys_not_asked_for_are_refused() {
    // Found by the fuzz target: a text server's reply with an item for another key
    // was passed on as if it had been asked for.
    let extra = b"VALUE k0 0 1 3\r\nx\r\nVALUE k4 1 2 4\r\nhi\r\nEND\r\n";
    assert_eq!(
        read(b"get k0\r\n", Dialect::Text, extra),
        Err(ReplyError::Unexpected)
    );
    assert!(matches!(
        read(b"get k0 k4\r\n", Dialect::Text, extra),
        Ok(Some(Response::Values(v))) if v.len() == 2
    ));
    // Out of request order, or twice: not memcached's reply to this request.
    assert_eq!(
        read(b"get k4 k0\r\n", Dialect::Text, extra),
        Err(ReplyError::Unexpected)
    );
    assert_eq!(
        read(b"get a\r\n", Dialect::Meta, b"VA 1 kb\r\nx\r\n"),
        Err(ReplyError::Unexpected)
    );
    // A multi-get that goes as `mg` lines (a touch has no unbounded text line).
    assert_eq!(
        read(b"gat 10 a b\r\n", Dialect::Meta, b"VA 1 kb\r\nx\r\nEN\r\n"),
        Err(ReplyError::Unexpected)
    );
    // One that goes as a text line to a meta server is read as text.
    assert_eq!(
        read(
            b"get a b\r\n",
            Dialect::Meta,
            b"VALUE c 0 1\r\nx\r\nEND\r\n"
        ),
        Err(ReplyError::Unexpected)
    );
}

#[test]
fn the_fuzz_regressions_keep_the_invariants() {
    check(include_bytes!(
        "../../../../../fuzz/regressions/backend_replies/text_get_extra_value"
    ));
    check(include_bytes!(
        "../../../../../fuzz/regressions/backend_replies/meta_stats_split"
    ));
}

#[test]
fn a_multi_get_is_read_across_chunks() {
    let mut reader = reader(b"gat 10 a b\r\n", Dialect::Meta);
    let limits = Limits::default();
    let mut buf = BytesMut::from(&b"VA 1 ka\r\nx\r\nE"[..]);
    assert_eq!(reader.read(&mut buf, &limits), Ok(None));
    assert_eq!(&buf[..], b"E", "the first part is consumed and kept");
    buf.extend_from_slice(b"N\r\n");
    let Ok(Some(Response::Values(values))) = reader.read(&mut buf, &limits) else {
        panic!("whole reply expected")
    };
    assert_eq!(values.len(), 1);
    assert!(buf.is_empty());
}

#[test]
fn every_request_of_the_table_reads_its_own_replies() {
    let replies: &[&[u8]] = &[
        b"VA 2 f1 t-1 c5 kk0\r\nhi\r\n",
        b"EN\r\n",
        b"HD c9\r\n",
        b"NF\r\n",
        b"VALUE k0 0 1 3\r\nx\r\nEND\r\n",
        b"END\r\n",
        b"STORED\r\n",
        b"DELETED\r\n",
        b"6\r\n",
        b"TOUCHED\r\n",
        b"OK\r\n",
        b"VERSION 1.6.18\r\n",
        b"STAT pid 1\r\nEND\r\n",
        b"MN\r\n",
        b"ME k0 exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\n",
        b"SERVER_ERROR out of memory storing object\r\n",
    ];
    for dialect in [0u8, 1] {
        for request in 0..REQUESTS.len() {
            for reply in replies {
                let mut input = vec![dialect, request as u8];
                input.extend_from_slice(reply);
                input.extend_from_slice(reply);
                check(&input);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The fuzz target's invariants on random bytes, so CI covers them.
    #[test]
    fn arbitrary_reply_bytes_keep_the_invariants(
        dialect in any::<u8>(),
        request in any::<u8>(),
        replies in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut input = vec![dialect, request];
        input.extend_from_slice(&replies);
        check(&input);
    }

    /// Random sequences of well-formed reply lines (random bytes rarely make one).
    #[test]
    fn shuffled_reply_lines_keep_the_invariants(
        dialect in any::<u8>(),
        request in any::<u8>(),
        lines in prop::collection::vec(prop::sample::select(vec![
            &b"VA 2 kk0\r\nhi\r\n"[..], b"EN\r\n", b"HD\r\n", b"NF\r\n", b"NS\r\n", b"EX\r\n",
            b"VALUE k0 0 2\r\nhi\r\n", b"VALUE k1 0 1 9\r\nx\r\n", b"END\r\n", b"STORED\r\n",
            b"NOT_FOUND\r\n", b"DELETED\r\n", b"12\r\n", b"OK\r\n", b"MN\r\n",
            b"VERSION 1\r\n", b"STAT a b\r\n", b"ERROR\r\n", b"CLIENT_ERROR bad\r\n",
            b"VA 1 kk9\r\n", b"VA 99999999999\r\n", b"\r\n", b"ME k0 a=1\r\n",
        ]), 0..12),
    ) {
        let mut input = vec![dialect, request];
        for line in lines {
            input.extend_from_slice(line);
        }
        check(&input);
    }
}

#[test]
fn a_text_multi_get_to_a_meta_server_is_read_across_chunks() {
    let mut reader = reader(b"get a b\r\n", Dialect::Meta);
    let limits = Limits::default();
    let mut buf = BytesMut::from(&b"VALUE a 3 1\r\nx\r\nVALUE b 0 2\r\nh"[..]);
    assert_eq!(reader.read(&mut buf, &limits), Ok(None));
    buf.extend_from_slice(b"i\r\nEND\r\n");
    let Ok(Some(Response::Values(values))) = reader.read(&mut buf, &limits) else {
        panic!("whole reply expected")
    };
    let got: Vec<_> = values
        .iter()
        .map(|v| (&v.key[..], &v.data[..], v.meta.flags))
        .collect();
    assert_eq!(got, [(&b"a"[..], &b"x"[..], 3), (&b"b"[..], &b"hi"[..], 0)]);
    assert!(buf.is_empty());
}
