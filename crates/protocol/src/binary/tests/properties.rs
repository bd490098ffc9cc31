//! The codec's properties: decode(encode(x)) == x both ways, every strict prefix of a
//! frame needs more, and a pipelined stream decodes the same however it is split.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::strategy::{any_failure, key, reply, request};
use crate::binary::opcode as op;
use crate::{BinaryForm, Limits, Request};

fn encode_requests(requests: &[Request]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for request in requests {
        crate::encode_request(request, &mut out);
    }
    out.to_vec()
}

proptest! {
    #[test]
    fn client_encode_then_server_decode(request in request()) {
        let bytes = encode_requests(std::slice::from_ref(&request));
        let mut buf = BytesMut::from(&bytes[..]);
        let decoded = crate::binary::decode_request(&mut buf, &Limits::default(), &mut 0);
        prop_assert_eq!(decoded, Ok(Some(request)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn every_strict_prefix_of_a_request_needs_more(request in request()) {
        let bytes = encode_requests(&[request]);
        for n in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..n]);
            let decoded = crate::binary::decode_request(&mut buf, &Limits::default(), &mut 0);
            prop_assert_eq!(decoded, Ok(None));
            prop_assert_eq!(buf.len(), n);
        }
    }

    #[test]
    fn pipelined_requests_split_anywhere(
        requests in proptest::collection::vec(request(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let bytes = encode_requests(&requests);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.push(bytes.len());
        points.sort_unstable();
        let mut decoder = crate::Decoder::default();
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut from = 0;
        for to in points {
            buf.extend_from_slice(&bytes[from..to]);
            from = to;
            while let Some(request) = decoder.decode(&mut buf).expect("valid stream") {
                decoded.push(request);
            }
        }
        prop_assert_eq!(decoded, requests);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn server_encode_then_client_decode((form, response) in reply()) {
        let mut out = BytesMut::new();
        crate::binary::encode_response(&form, &response, &mut out);
        prop_assert!(!out.is_empty());
        let limits = Limits::default();
        for n in 0..out.len() {
            let mut prefix = BytesMut::from(&out[..n]);
            prop_assert_eq!(crate::binary::decode_response(&form, &mut prefix, &limits), Ok(None));
            prop_assert_eq!(prefix.len(), n);
        }
        let decoded = crate::binary::decode_response(&form, &mut out, &limits);
        prop_assert_eq!(decoded, Ok(Some(response)));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn any_failure_reads_back_to_the_same_bytes(
        opcode in prop::sample::select((0u8..=0x24).filter(|o| *o != 0x1f).collect::<Vec<_>>()),
        opaque in any::<u32>(),
        key in key(),
        response in any_failure(),
    ) {
        let form = BinaryForm { opcode, opaque, key };
        let mut out = BytesMut::new();
        crate::binary::encode_response(&form, &response, &mut out);
        if out.is_empty() {
            prop_assert!(op::is_quiet(opcode));
            return Ok(());
        }
        let mut buf = out.clone();
        let decoded = crate::binary::decode_response(&form, &mut buf, &Limits::default());
        let decoded = match decoded {
            Ok(Some(r)) => r,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let mut again = BytesMut::new();
        crate::binary::encode_response(&form, &decoded, &mut again);
        prop_assert_eq!(again, out);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![0x80];
        bytes.extend(data);
        let mut buf = BytesMut::from(&bytes[..]);
        let before = buf.len();
        let mut swallow = 0;
        if let Ok(None) = crate::binary::decode_request(&mut buf, &Limits::default(), &mut swallow) {
            prop_assert_eq!(buf.len(), before);
        }
        let form = BinaryForm { opcode: bytes.get(1).copied().unwrap_or(0), opaque: 0, key: Bytes::new() };
        let mut buf = BytesMut::from(&bytes[..]);
        buf[0] = 0x81;
        let _ = crate::binary::decode_response(&form, &mut buf, &Limits::default());
    }
}
