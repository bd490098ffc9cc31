//! A reference model of the cache's rules, restated simply (a `HashMap` and unix
//! seconds), and the operations both it and the real thing are driven with. The
//! store's model-based proptest and the cache-service fuzz target compare replies
//! with it. Built for tests, and with the `model` feature for the fuzz crate.

#![allow(missing_docs)] // test machinery: the rules are memcached's, documented there

use std::collections::HashMap;

use memkeep_protocol::{Response, StoreMode};

/// The clock's start in unix seconds.
pub const T0: u64 = 1_700_000_000;

#[derive(Debug, Clone)]
pub enum Op {
    Set(StoreMode, u8, u8, i64, u32),
    Cas(u8, u8, bool),
    Get(u8, Option<i64>),
    Delete(u8),
    Arith(u8, bool, u64),
    Touch(u8, i64),
    Flush(i64),
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Item {
    data: Vec<u8>,
    flags: u32,
    /// Absolute unix expiry, 0 for never.
    exp: u64,
    cas: u64,
    stored: u64,
}

/// The rules restated simply, in unix seconds.
#[derive(Default)]
pub struct Model {
    items: HashMap<u8, Item>,
    pub now: u64,
    cas: u64,
    /// memcached's `oldest_live`: items last stored at or before it are flushed once
    /// the clock reaches it.
    oldest_live: Option<u64>,
    /// Set by an immediate flush: items with a lower CAS are flushed too.
    oldest_cas: u64,
}

impl Model {
    /// An empty cache whose clock reads `now`.
    pub fn new(now: u64) -> Self {
        Model {
            now,
            ..Model::default()
        }
    }

    fn exp(&self, exptime: i64) -> u64 {
        match exptime {
            0 => 0,
            e if e < 0 => 1,
            e if e <= 2_592_000 => self.now + e as u64,
            e => e as u64,
        }
    }

    fn live(&mut self, key: u8) -> Option<&mut Item> {
        let (now, oldest_live, oldest_cas) = (self.now, self.oldest_live, self.oldest_cas);
        let gone = self.items.get(&key).is_some_and(|it| {
            let flushed =
                oldest_live.is_some_and(|f| f <= now && (it.stored <= f || it.cas < oldest_cas));
            (it.exp != 0 && it.exp <= now) || flushed
        });
        if gone {
            self.items.remove(&key);
        }
        self.items.get_mut(&key)
    }

    fn next_cas(&mut self) -> u64 {
        self.cas += 1;
        self.cas
    }

    fn put(&mut self, key: u8, data: Vec<u8>, flags: u32, exp: u64) {
        let cas = self.next_cas();
        let stored = self.now;
        self.items.insert(
            key,
            Item {
                data,
                flags,
                exp,
                cas,
                stored,
            },
        );
    }

    /// The reply, reduced to what both sides must agree on.
    pub fn apply(&mut self, op: &Op) -> String {
        match *op {
            Op::Set(mode, key, val, exptime, flags) => {
                let data = value(val).to_vec();
                let exp = self.exp(exptime);
                let old = self.live(key).cloned();
                match (mode, old) {
                    (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => "NS".into(),
                    (StoreMode::Append | StoreMode::Prepend, None) => "NS".into(),
                    (StoreMode::Append | StoreMode::Prepend, Some(old)) => {
                        let joined = if mode == StoreMode::Append {
                            [old.data.as_slice(), &data].concat()
                        } else {
                            [data.as_slice(), &old.data].concat()
                        };
                        self.put(key, joined, old.flags, old.exp);
                        "ST".into()
                    }
                    _ => {
                        self.put(key, data, flags, exp);
                        "ST".into()
                    }
                }
            }
            Op::Cas(key, val, right) => match self.live(key).map(|it| it.cas) {
                None => "NF".into(),
                Some(cas) if right => {
                    let _ = cas;
                    let exp = self.exp(0);
                    self.put(key, value(val).to_vec(), 0, exp);
                    "ST".into()
                }
                Some(_) => "EX".into(),
            },
            Op::Get(key, touch) => {
                let exp = touch.map(|t| self.exp(t));
                let now = self.now;
                match self.live(key) {
                    None => "EN".into(),
                    Some(it) => {
                        if let Some(exp) = exp {
                            it.exp = exp;
                        }
                        let ttl = if it.exp == 0 {
                            -1
                        } else {
                            it.exp as i64 - now as i64
                        };
                        show_hit(&it.data, it.flags, ttl, it.cas)
                    }
                }
            }
            Op::Delete(key) => match self.live(key) {
                None => "NF".into(),
                Some(_) => {
                    self.items.remove(&key);
                    "DE".into()
                }
            },
            Op::Arith(key, incr, delta) => {
                let cas = self.cas + 1;
                let Some(it) = self.live(key) else {
                    return "NF".into();
                };
                // memcached reads the leading number and stops at a space: a padded
                // decr result with something appended ("9 100") still reads as 9.
                let head = it.data.split(|&b| b == b' ').next().unwrap_or_default();
                let text = String::from_utf8_lossy(head).to_string();
                let Ok(n) = text.parse::<u64>() else {
                    return "NN".into();
                };
                let new = if incr {
                    n.wrapping_add(delta)
                } else {
                    n.saturating_sub(delta)
                };
                let digits = new.to_string().into_bytes();
                if digits.len() <= it.data.len() {
                    let pad = it.data.len() - digits.len();
                    it.data = [digits, vec![b' '; pad]].concat();
                } else {
                    it.data = digits;
                }
                it.cas = cas;
                self.cas = cas;
                format!("N{new}")
            }
            Op::Touch(key, exptime) => {
                let exp = self.exp(exptime);
                match self.live(key) {
                    None => "NF".into(),
                    Some(it) => {
                        it.exp = exp;
                        "TO".into()
                    }
                }
            }
            Op::Flush(delay) => {
                let at = if delay > 0 { self.exp(delay) } else { self.now };
                self.oldest_live = Some(at - 1);
                if at - 1 <= self.now {
                    self.oldest_cas = self.next_cas();
                }
                "OK".into()
            }
            Op::Advance(secs) => {
                self.now += secs;
                "OK".into()
            }
        }
    }
}

pub fn value(v: u8) -> &'static [u8] {
    const VALUES: [&[u8]; 6] = [b"0", b"17", b"18446744073709551615", b"abc", b"", b"100"];
    VALUES[v as usize % VALUES.len()]
}

/// A reply reduced to what the model and the real thing must agree on.
pub fn show(r: Response) -> String {
    match r {
        Response::Stored(_) => "ST".to_string(),
        Response::NotStored => "NS".into(),
        Response::NotFound => "NF".into(),
        Response::Exists => "EX".into(),
        Response::Deleted => "DE".into(),
        Response::Touched(_) => "TO".into(),
        Response::NonNumeric => "NN".into(),
        Response::Number(n, _) => format!("N{n}"),
        Response::Ok => "OK".into(),
        other => format!("{other:?}"),
    }
}

/// A hit as both sides show it.
pub fn show_hit(data: &[u8], flags: u32, ttl: i64, cas: u64) -> String {
    format!("{:?} f{} t{} c{}", data.to_vec(), flags, ttl.max(-2), cas)
}

/// Operations read from arbitrary bytes (for fuzzing): a few bytes each, on six
/// keys, with the same small value and expiry choices as the proptest.
pub fn ops_from_bytes(mut data: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut next = || -> Option<u8> {
        let (&b, rest) = data.split_first()?;
        data = rest;
        Some(b)
    };
    let exptime = |b: u8| -> i64 {
        match b % 9 {
            0..=2 => 0,
            3..=5 => i64::from(b % 5) + 1,
            6 => -1,
            7 => T0 as i64 + 62 + i64::from(b % 8),
            _ => 2_592_000,
        }
    };
    const MODES: [StoreMode; 5] = [
        StoreMode::Set,
        StoreMode::Add,
        StoreMode::Replace,
        StoreMode::Append,
        StoreMode::Prepend,
    ];
    while let Some(kind) = next() {
        let Some(a) = next() else { break };
        let key = a % 6;
        let op = match kind % 16 {
            0..=3 => {
                let (Some(v), Some(e)) = (next(), next()) else {
                    break;
                };
                Op::Set(
                    MODES[usize::from(a / 6) % 5],
                    key,
                    v,
                    exptime(e),
                    u32::from(v % 3),
                )
            }
            4 => {
                let Some(v) = next() else { break };
                Op::Cas(key, v, a & 0x80 != 0)
            }
            5..=8 => {
                let Some(t) = next() else { break };
                Op::Get(key, (t % 5 == 0).then(|| exptime(t / 5)))
            }
            9 => Op::Delete(key),
            10 | 11 => {
                let Some(d) = next() else { break };
                let delta = if d == 255 { u64::MAX } else { u64::from(d) };
                Op::Arith(key, a & 0x80 != 0, delta)
            }
            12 => {
                let Some(e) = next() else { break };
                Op::Touch(key, exptime(e))
            }
            13 => Op::Flush(i64::from(a % 4)),
            _ => Op::Advance(u64::from(a % 3) + 1),
        };
        ops.push(op);
    }
    ops
}
