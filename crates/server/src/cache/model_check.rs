//! The cache service driven like a client drives it, checked against the reference
//! model: operations become text-protocol bytes, go through the request decoder and
//! the [`Cache`] service, and every reply must match the model's. Shared by a unit
//! test and the `cache_model` fuzz target (feature `model`).

use std::sync::Arc;

use bytes::BytesMut;
use memkeep_protocol::{Decoder, Limits, Request, Response, StoreMode};
use tower_service::Service;

use crate::cache::{Cache, CacheConfig};
use crate::stats::ConnectionStats;
use crate::store::model::{ops_from_bytes, show, show_hit, value, Model, Op, T0};
use crate::store::{ManualClock, Store, StoreConfig};

/// Runs the operations `data` encodes (see [`ops_from_bytes`]) against a fresh
/// cache and the model; panics at the first reply on which they disagree.
pub fn check_against_model(data: &[u8]) {
    let clock = ManualClock::new(T0);
    let store = Store::with_clock(
        StoreConfig {
            shards: 2,
            ..StoreConfig::default()
        },
        clock.clone(),
    );
    let config = CacheConfig {
        settings: Vec::new(),
        threads: 1,
        max_connections: 16,
        ..CacheConfig::default()
    };
    let mut client = Client {
        cache: Cache::new(
            Arc::new(store),
            Arc::new(ConnectionStats::default()),
            config,
        ),
        decoder: Decoder::new(Limits::default()),
    };
    let mut model = Model::new(T0);
    let ops = ops_from_bytes(data);
    for (step, op) in ops.iter().enumerate() {
        let expected = model.apply(op);
        let got = match *op {
            Op::Advance(secs) => {
                clock.advance(secs);
                "OK".to_string()
            }
            _ => client.run(op),
        };
        assert_eq!(got, expected, "step {step} {op:?} of {ops:?}");
    }
}

/// The cache behind a request decoder, as a connection would see it.
struct Client {
    cache: Cache,
    decoder: Decoder,
}

impl Client {
    /// Sends one request line (and data block) and returns the reply.
    fn call(&mut self, text: &[u8]) -> Response {
        let mut buf = BytesMut::from(text);
        let request: Request = self
            .decoder
            .decode(&mut buf)
            .expect("the request is well formed")
            .expect("the request is complete");
        assert!(buf.is_empty(), "one request at a time");
        self.cache
            .call(request)
            .into_inner()
            .expect("the cache answers every request")
    }

    /// The item's CAS unique, or 1 when it is absent (a CAS no item has yet).
    fn current_cas(&mut self, key: &str) -> u64 {
        match self.call(format!("gets {key}\r\n").as_bytes()) {
            Response::Values(values) => values.first().map_or(1, |v| v.meta.cas),
            other => panic!("gets answered {other:?}"),
        }
    }

    fn run(&mut self, op: &Op) -> String {
        let key = |k: u8| format!("k{k}");
        let reply = match *op {
            Op::Set(mode, k, v, exptime, flags) => {
                let verb = match mode {
                    StoreMode::Set => "set",
                    StoreMode::Add => "add",
                    StoreMode::Replace => "replace",
                    StoreMode::Append => "append",
                    StoreMode::Prepend => "prepend",
                };
                let data = value(v);
                let mut text =
                    format!("{verb} {} {flags} {exptime} {}\r\n", key(k), data.len()).into_bytes();
                text.extend_from_slice(data);
                text.extend_from_slice(b"\r\n");
                self.call(&text)
            }
            Op::Cas(k, v, right) => {
                let current = self.current_cas(&key(k));
                let unique = if right { current } else { current + 1000 };
                let data = value(v);
                let mut text =
                    format!("cas {} 0 0 {} {unique}\r\n", key(k), data.len()).into_bytes();
                text.extend_from_slice(data);
                text.extend_from_slice(b"\r\n");
                self.call(&text)
            }
            Op::Get(k, touch) => {
                let text = match touch {
                    None => format!("gets {}\r\n", key(k)),
                    Some(t) => format!("gats {t} {}\r\n", key(k)),
                };
                return match self.call(text.as_bytes()) {
                    Response::Values(values) => match values.first() {
                        None => "EN".into(),
                        Some(v) => show_hit(&v.data, v.meta.flags, v.meta.ttl, v.meta.cas),
                    },
                    other => show(other),
                };
            }
            Op::Delete(k) => self.call(format!("delete {}\r\n", key(k)).as_bytes()),
            Op::Arith(k, incr, delta) => {
                let verb = if incr { "incr" } else { "decr" };
                self.call(format!("{verb} {} {delta}\r\n", key(k)).as_bytes())
            }
            Op::Touch(k, exptime) => {
                self.call(format!("touch {} {exptime}\r\n", key(k)).as_bytes())
            }
            Op::Flush(delay) => self.call(format!("flush_all {delay}\r\n").as_bytes()),
            Op::Advance(_) => unreachable!("the clock is moved by the caller"),
        };
        show(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn the_cache_service_agrees_with_the_model(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            check_against_model(&data);
        }
    }
}
