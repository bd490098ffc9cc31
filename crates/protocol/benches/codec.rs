//! Codec throughput: server-side request decoding and reply encoding, client-side
//! request encoding and reply decoding, for the requests a cache sees most (get,
//! 100-key multi-get, set with small, page-sized and large values) in each dialect.
//!
//! `cargo bench -p memkeep-protocol --bench codec`; figures are per operation and
//! in bytes of wire format per second.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use memkeep_protocol::binary::opcode as op;
use memkeep_protocol::{
    decode_response, encode_request, encode_response, BinaryForm, Command, Decoder, Form, Get,
    ItemMeta, Limits, MetaForm, MetaVerb, Request, Response, ReturnFlags, Store, TextForm,
    TextVerb, Value,
};

const VALUE_SIZES: [(&str, usize); 3] = [("32B", 32), ("4KiB", 4 << 10), ("512KiB", 512 << 10)];

fn key(i: usize) -> Bytes {
    Bytes::from(format!("user:session:{i:06}"))
}

fn value(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

fn text(verb: TextVerb) -> Form {
    Form::Text(TextForm {
        verb,
        noreply: false,
    })
}

fn meta(verb: MetaVerb, key: &Bytes, letters: &[u8]) -> Form {
    Form::Meta(MetaForm {
        verb,
        key: key.clone(),
        returns: ReturnFlags::from_letters(letters).expect("few letters"),
        opaque: None,
    })
}

fn binary(opcode: u8, key: &Bytes) -> Form {
    Form::Binary(BinaryForm {
        opcode,
        opaque: 7,
        key: key.clone(),
    })
}

fn get(keys: Vec<Bytes>, form: Form) -> Request {
    Request {
        command: Command::Get(Get {
            keys,
            ..Get::default()
        }),
        form,
    }
}

fn set(key: Bytes, data: Bytes, form: Form) -> Request {
    Request {
        command: Command::Store(Store {
            key,
            flags: 5,
            data,
            ..Store::default()
        }),
        form,
    }
}

/// The requests benchmarked, by name.
fn requests() -> Vec<(String, Request)> {
    let k = key(1);
    let mut out = vec![
        (
            "text/get".to_string(),
            get(vec![k.clone()], text(TextVerb::Get)),
        ),
        (
            "text/get_100_keys".to_string(),
            get((0..100).map(key).collect(), text(TextVerb::Get)),
        ),
    ];
    for (name, len) in VALUE_SIZES {
        out.push((
            format!("text/set_{name}"),
            set(k.clone(), value(len), text(TextVerb::Set)),
        ));
    }
    out.push((
        "meta/mg".to_string(),
        get(vec![k.clone()], meta(MetaVerb::Get, &k, b"fv")),
    ));
    for (name, len) in VALUE_SIZES {
        out.push((
            format!("meta/ms_{name}"),
            set(k.clone(), value(len), meta(MetaVerb::Set, &k, b"")),
        ));
    }
    out.push((
        "binary/get".to_string(),
        get(vec![k.clone()], binary(op::GET, &k)),
    ));
    for (name, len) in VALUE_SIZES {
        out.push((
            format!("binary/set_{name}"),
            set(k.clone(), value(len), binary(op::SET, &k)),
        ));
    }
    out
}

fn wire(request: &Request) -> Bytes {
    let mut out = BytesMut::new();
    encode_request(request, &mut out);
    out.freeze()
}

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(50);
    group
}

/// Server side: bytes in the read buffer to a request.
fn decode_requests(c: &mut Criterion) {
    let mut group = configure(c, "decode_request");
    for (name, request) in requests() {
        let bytes = wire(&request);
        let decoded = Decoder::default().decode(&mut BytesMut::from(&bytes[..]));
        assert_eq!(decoded, Ok(Some(request)), "{name} decodes to itself");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut decoder = Decoder::default();
        // The read buffer is rebuilt outside the timed part: decoding splits it.
        group.bench_function(&name, |b| {
            b.iter_batched(
                || BytesMut::from(&bytes[..]),
                |mut buf| black_box(decoder.decode(&mut buf)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Client side: a request to bytes.
fn encode_requests(c: &mut Criterion) {
    let mut group = configure(c, "encode_request");
    for (name, request) in requests() {
        group.throughput(Throughput::Bytes(wire(&request).len() as u64));
        let mut out = BytesMut::with_capacity(1 << 20);
        group.bench_function(&name, |b| {
            b.iter(|| {
                out.clear();
                encode_request(black_box(&request), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// The replies benchmarked: a hit in each dialect and a 100-value text multi-get.
fn replies() -> Vec<(&'static str, Form, Response)> {
    let hit = |i: usize| Value {
        key: key(i),
        data: value(32),
        meta: ItemMeta {
            flags: 5,
            cas: 1234,
            size: 32,
            ..ItemMeta::default()
        },
    };
    let k = key(1);
    vec![
        (
            "text/value_hit",
            text(TextVerb::Get),
            Response::Values(vec![hit(1)]),
        ),
        (
            "text/get_100_values",
            text(TextVerb::Get),
            Response::Values((0..100).map(hit).collect()),
        ),
        (
            "meta/va_hit",
            meta(MetaVerb::Get, &k, b"fv"),
            Response::Values(vec![hit(1)]),
        ),
        (
            "binary/get_hit",
            binary(op::GET, &k),
            Response::Values(vec![hit(1)]),
        ),
    ]
}

fn reply_wire(form: &Form, response: &Response) -> Bytes {
    let mut out = BytesMut::new();
    encode_response(form, response, &mut out);
    out.freeze()
}

/// Server side: a response to the bytes the client reads.
fn encode_responses(c: &mut Criterion) {
    let mut group = configure(c, "encode_response");
    for (name, form, response) in replies() {
        group.throughput(Throughput::Bytes(reply_wire(&form, &response).len() as u64));
        let mut out = BytesMut::with_capacity(1 << 16);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode_response(black_box(&form), black_box(&response), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// Client side: reply bytes to a response.
fn decode_responses(c: &mut Criterion) {
    let mut group = configure(c, "decode_response");
    let limits = Limits::default();
    for (name, form, response) in replies() {
        let bytes = reply_wire(&form, &response);
        let decoded = decode_response(&form, &mut BytesMut::from(&bytes[..]), &limits);
        // Text replies carry no CAS unless asked (gets), meta only the flags asked for.
        assert!(
            matches!(decoded, Ok(Some(Response::Values(ref v))) if v.len() == match &response {
                Response::Values(r) => r.len(),
                _ => 0,
            }),
            "{name} decodes"
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || BytesMut::from(&bytes[..]),
                |mut buf| black_box(decode_response(&form, &mut buf, &limits)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(
    codec,
    decode_requests,
    encode_requests,
    encode_responses,
    decode_responses
);
criterion_main!(codec);
