//! Client side: replies through `decode_response` for a request form taken from the
//! input's first bytes, and plausible replies through `encode_response` and back.
//!
//! Input layout: byte 0 the dialect (mod 3: text, meta, binary); byte 1 the text or
//! meta verb (mod 20 / mod 6) or the binary opcode; bytes 2-3 a mask of meta return
//! flags (bit i = `bcfhklOqstv`[i]); bytes 4-7 the binary opaque, big-endian; the
//! rest the reply bytes, also read as choices for the plausible reply.

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::Unstructured;
use memkeep_protocol::{
    decode_response, encode_response, BinaryForm, Dialect, Form, InvalidResponse, Limits, MetaForm,
    MetaVerb, Response, ReturnFlags, TextForm, TextVerb,
};

use crate::replies::plausible;
use crate::{feed_in_chunks, show, TIGHT};

/// The form's header length in the input.
const HEADER: usize = 8;

const TEXT_VERBS: [TextVerb; 20] = [
    TextVerb::Get,
    TextVerb::Gets,
    TextVerb::Gat,
    TextVerb::Gats,
    TextVerb::Set,
    TextVerb::Add,
    TextVerb::Replace,
    TextVerb::Append,
    TextVerb::Prepend,
    TextVerb::Cas,
    TextVerb::Delete,
    TextVerb::Incr,
    TextVerb::Decr,
    TextVerb::Touch,
    TextVerb::FlushAll,
    TextVerb::Stats,
    TextVerb::Version,
    TextVerb::Verbosity,
    TextVerb::Quit,
    TextVerb::Shutdown,
];

const META_VERBS: [MetaVerb; 6] = [
    MetaVerb::Get,
    MetaVerb::Set,
    MetaVerb::Delete,
    MetaVerb::Arith,
    MetaVerb::Noop,
    MetaVerb::Debug,
];

/// The return flags the header's mask selects from, in bit order.
const RETURN_LETTERS: &[u8; 11] = b"bcfhklOqstv";

const DIALECTS: [Dialect; 3] = [Dialect::Text, Dialect::Meta, Dialect::Binary];

/// Runs every client-side invariant over `input`.
pub fn responses(input: &[u8]) {
    let at = |i: usize| input.get(i).copied().unwrap_or(0);
    let dialect = DIALECTS[usize::from(at(0)) % 3];
    let form = form(dialect, at(1), u16::from_be_bytes([at(2), at(3)]), {
        u32::from_be_bytes([at(4), at(5), at(6), at(7)])
    });
    let reply = &input[HEADER.min(input.len())..];
    for limits in [Limits::default(), TIGHT] {
        let whole = whole(&form, reply, &limits);
        let chunked = chunked(&form, reply, &limits);
        same_replies(&whole, &chunked, reply);
        for response in whole.iter().flatten() {
            check_response(&form, response, &limits);
        }
    }
    let mut u = Unstructured::new(reply);
    if let Ok((plausible_form, response)) = plausible(dialect, &mut u) {
        round_trip(&plausible_form, &response);
        // Any response to any form of the dialect can be written (no panic), even
        // ones the server would never pair.
        encode_response(&form, &response, &mut BytesMut::new());
    }
}

fn form(dialect: Dialect, verb: u8, mask: u16, opaque: u32) -> Form {
    match dialect {
        Dialect::Text => Form::Text(TextForm {
            verb: TEXT_VERBS[usize::from(verb) % TEXT_VERBS.len()],
            noreply: false,
        }),
        Dialect::Meta => {
            let letters: Vec<u8> = RETURN_LETTERS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, &l)| l)
                .collect();
            let base64 = letters.contains(&b'b');
            Form::Meta(MetaForm {
                verb: META_VERBS[usize::from(verb) % META_VERBS.len()],
                key: Bytes::from_static(if base64 { b"Zm9v" } else { b"foo" }),
                returns: ReturnFlags::from_letters(&letters).expect("11 letters fit"),
                opaque: letters.contains(&b'O').then(|| Bytes::from_static(b"1")),
            })
        }
        Dialect::Binary => Form::Binary(BinaryForm {
            opcode: verb,
            opaque,
            key: Bytes::from_static(b"k"),
        }),
    }
}

type Outcome = Result<Response, InvalidResponse>;

/// Decodes replies back to back with every byte buffered, until one is incomplete or
/// invalid (a client drops the connection on an invalid reply).
fn whole(form: &Form, reply: &[u8], limits: &Limits) -> Vec<Outcome> {
    let mut buf = BytesMut::from(reply);
    let mut outcomes = Vec::new();
    for _ in 0..=reply.len() + 1 {
        let before = buf.len();
        match decode_response(form, &mut buf, limits) {
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return outcomes;
            }
            Ok(Some(response)) => {
                assert!(buf.len() < before, "a reply decoded from nothing");
                outcomes.push(Ok(response));
            }
            Err(e) => {
                outcomes.push(Err(e));
                return outcomes;
            }
        }
    }
    panic!("reply decoder made no progress on {:?}", show(reply));
}

/// The same replies arriving a few bytes at a time.
fn chunked(form: &Form, reply: &[u8], limits: &Limits) -> Vec<Outcome> {
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut calls = 0;
    feed_in_chunks(reply, &mut buf, |buf| loop {
        calls += 1;
        assert!(
            calls <= 2 * reply.len() + 2,
            "reply decoder made no progress"
        );
        let before = buf.len();
        match decode_response(form, buf, limits) {
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return true;
            }
            Ok(Some(response)) => {
                assert!(buf.len() < before, "a reply decoded from nothing");
                outcomes.push(Ok(response));
            }
            Err(e) => {
                outcomes.push(Err(e));
                return false;
            }
        }
    });
    outcomes
}

/// Whole and chunked decoding read the same replies up to the first error (where a
/// reply is rejected can depend on how much was buffered: a line with no end yet is
/// refused only once it passes the line limit).
fn same_replies(whole: &[Outcome], chunked: &[Outcome], reply: &[u8]) {
    let cut = |v: &[Outcome]| v.iter().position(Result::is_err).unwrap_or(v.len());
    let n = cut(whole).min(cut(chunked));
    assert_eq!(
        &whole[..n],
        &chunked[..n],
        "split reply decodes differently: {:?}",
        show(reply)
    );
    if n == whole.len() && n == chunked.len() {
        return;
    }
    // Past the first error neither run goes on; a run that stopped cleanly (need
    // more) may only have stopped earlier than one that found an error.
    let (w_err, c_err) = (whole.len() > n, chunked.len() > n);
    assert!(
        w_err || c_err,
        "split reply decodes differently: {:?}",
        show(reply)
    );
}

/// What every decoded reply must respect.
fn check_response(form: &Form, response: &Response, limits: &Limits) {
    let Response::Values(values) = response else {
        return;
    };
    if !matches!(form, Form::Text(_)) {
        assert!(values.len() <= 1, "a meta or binary reply holds one value");
    }
    for value in values {
        assert!(
            value.data.len() <= limits.max_value_len,
            "reply value of {} bytes over the limit of {}",
            value.data.len(),
            limits.max_value_len
        );
    }
}

/// `encode_response` then `decode_response` gives the response back, and every
/// strict prefix of the reply needs more bytes.
fn round_trip(form: &Form, response: &Response) {
    let mut out = BytesMut::new();
    encode_response(form, response, &mut out);
    let wire = out.clone();
    assert!(!wire.is_empty(), "{response:?} to {form:?} wrote nothing");
    let limits = Limits::default();
    let decoded = decode_response(form, &mut out, &limits);
    assert_eq!(
        decoded,
        Ok(Some(response.clone())),
        "{form:?} reply written as {:?}",
        show(&wire)
    );
    assert!(out.is_empty(), "reply left bytes behind");
    for n in 0..wire.len() {
        let mut prefix = BytesMut::from(&wire[..n]);
        assert_eq!(
            decode_response(form, &mut prefix, &limits),
            Ok(None),
            "prefix of {n} bytes of {:?}",
            show(&wire)
        );
        assert_eq!(prefix.len(), n);
    }
}
