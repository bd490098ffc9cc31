//! Server side: binary requests into the request model, validated as memcached 1.6's
//! `dispatch_bin_command` validates them.
//!
//! Where memcached would go on reading a stream it can no longer frame (a body longer
//! than the opcode uses, an unknown opcode whose key and extras it skips twice), we
//! reply as it does and close instead: reading the leftovers as requests would let a
//! client smuggle requests past a proxy that frames by the body length.

use bytes::{Bytes, BytesMut};

use super::header::{Header, LEN};
use super::opcode::{self as op, loud};
use crate::{
    Arith, BinaryForm, Command, DecodeError, Delete, FlushAll, Form, Get, Limits, ProtocolError,
    Request, Sasl, Store, StoreMode, TooLarge, Touch, Vivify,
};

/// The INCR/DECR expiry that means "do not create the counter on a miss".
pub(super) const NO_CREATE: u32 = u32::MAX;

/// Decodes one request; see [`super::decode_request`].
pub(super) fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
    swallow: &mut usize,
) -> Result<Option<Request>, DecodeError> {
    let Some(header) = Header::parse(buf) else {
        return Ok(None);
    };
    let reject = |error, close| DecodeError {
        error,
        form: Form::Binary(BinaryForm {
            opcode: header.opcode,
            opaque: header.opaque,
            key: Bytes::new(),
        }),
        close,
    };
    let body_len = header.body_len as usize;
    if header.magic != super::REQUEST_MAGIC {
        // memcached closes without a word; nothing after it can be framed.
        let _ = buf.split_to(LEN);
        return Err(reject(ProtocolError::BadBinaryHeader, true));
    }
    if header.key_and_extras() > body_len {
        // memcached answers "Unknown command" and closes.
        let _ = buf.split_to(LEN);
        return Err(reject(ProtocolError::UnknownOpcode, true));
    }
    if usize::from(header.key_len) > limits.max_key_len {
        let _ = buf.split_to(LEN);
        return Err(reject(ProtocolError::KeyTooLong, true));
    }
    let opcode = header.opcode;
    let Some(shape) = Shape::of(opcode) else {
        return unknown(buf, &header, swallow, reject);
    };
    if !shape.accepts(&header) {
        let _ = buf.split_to(LEN);
        return Err(reject(ProtocolError::BadBinaryHeader, true));
    }
    let value_len = body_len - header.key_and_extras();
    if value_len > limits.max_value_len {
        // memcached reads the key and extras, then swallows the value and answers
        // E2BIG (SASL without SASL support: Unknown command).
        if buf.len() < LEN + header.key_and_extras() {
            return Ok(None);
        }
        let head = buf.split_to(LEN + header.key_and_extras()).freeze();
        let taken = value_len.min(buf.len());
        let _ = buf.split_to(taken);
        *swallow = value_len - taken;
        if shape == Shape::Sasl {
            return Err(reject(ProtocolError::UnknownOpcode, false));
        }
        let key = head.slice(LEN + usize::from(header.extras_len)..);
        let extras = head.slice(LEN..LEN + usize::from(header.extras_len));
        // Only stores carry a value (the shapes checked above allow no other).
        let (mode, cas) = match command(opcode, &header, &extras, key.clone(), Bytes::new()) {
            Command::Store(store) => (store.mode, store.cas),
            _ => (StoreMode::Set, None),
        };
        return Ok(Some(Request {
            command: Command::TooLarge(TooLarge {
                mode,
                key: key.clone(),
                cas,
            }),
            form: Form::Binary(BinaryForm {
                opcode,
                opaque: header.opaque,
                key,
            }),
        }));
    }
    if buf.len() < header.frame_len() {
        return Ok(None);
    }
    let frame = buf.split_to(header.frame_len()).freeze();
    let extras = frame.slice(LEN..LEN + usize::from(header.extras_len));
    let key_start = LEN + usize::from(header.extras_len);
    let key = frame.slice(key_start..key_start + usize::from(header.key_len));
    let value = frame.slice(key_start + usize::from(header.key_len)..);
    let command = command(opcode, &header, &extras, key.clone(), value);
    Ok(Some(Request {
        command,
        form: Form::Binary(BinaryForm {
            opcode,
            opaque: header.opaque,
            key,
        }),
    }))
}

/// An opcode memcached does not implement: "Unknown command", the body swallowed.
/// memcached swallows `body_len` bytes *after* the key and extras, which misframes
/// when there are any, so then we close instead.
fn unknown(
    buf: &mut BytesMut,
    header: &Header,
    swallow: &mut usize,
    reject: impl Fn(ProtocolError, bool) -> DecodeError,
) -> Result<Option<Request>, DecodeError> {
    let _ = buf.split_to(LEN);
    if header.key_and_extras() > 0 {
        return Err(reject(ProtocolError::UnknownOpcode, true));
    }
    let body_len = header.body_len as usize;
    let taken = body_len.min(buf.len());
    let _ = buf.split_to(taken);
    *swallow = body_len - taken;
    Err(reject(ProtocolError::UnknownOpcode, false))
}

/// What a request of each implemented opcode must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No extras, key or value (NOOP, VERSION, QUIT, SASL_LIST_MECHS).
    Empty,
    /// A key only (GET*, DELETE, STAT with an optional key).
    Key { required: bool },
    /// 8 bytes of flags and expiry, a key and a value (SET, ADD, REPLACE).
    Update,
    /// A key and a value (APPEND, PREPEND).
    Concat,
    /// 20 bytes of delta, initial and expiry, and a key (INCR, DECR).
    Counter,
    /// An optional 4-byte delay (FLUSH).
    Flush,
    /// A 4-byte expiry and a key (TOUCH, GAT*).
    Touch,
    /// A mechanism as the key and its data as the value (SASL_AUTH, SASL_STEP).
    Sasl,
}

impl Shape {
    /// `None` for opcodes memcached 1.6.18 answers with "Unknown command", VERBOSITY
    /// among them: its binary protocol has no handler for it.
    fn of(opcode: u8) -> Option<Shape> {
        Some(match loud(opcode) {
            op::NOOP | op::VERSION | op::QUIT | op::SASL_LIST_MECHS => Shape::Empty,
            op::GET | op::GETK | op::DELETE => Shape::Key { required: true },
            op::STAT => Shape::Key { required: false },
            op::SET | op::ADD | op::REPLACE => Shape::Update,
            op::APPEND | op::PREPEND => Shape::Concat,
            op::INCREMENT | op::DECREMENT => Shape::Counter,
            op::FLUSH => Shape::Flush,
            op::TOUCH | op::GAT | op::GATK => Shape::Touch,
            op::SASL_AUTH | op::SASL_STEP => Shape::Sasl,
            _ => return None,
        })
    }

    /// memcached's per-opcode checks; a failure is answered "Invalid arguments" and
    /// closes. STAT and TOUCH/GAT with a longer body than they use are refused here
    /// too (memcached would read the rest as the next request).
    fn accepts(self, h: &Header) -> bool {
        let (ext, key, body) = (
            usize::from(h.extras_len),
            usize::from(h.key_len),
            h.body_len as usize,
        );
        match self {
            Shape::Empty => ext == 0 && key == 0 && body == 0,
            Shape::Key { required } => ext == 0 && body == key && (key > 0 || !required),
            Shape::Update => ext == 8 && key > 0,
            Shape::Concat | Shape::Sasl => ext == 0 && key > 0,
            Shape::Counter => ext == 20 && key > 0 && body == key + ext,
            Shape::Flush => key == 0 && (ext == 0 || ext == 4) && body == ext,
            Shape::Touch => ext == 4 && key > 0 && body == key + ext,
        }
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// Builds the command from a validated frame. A zero CAS in the header means "no CAS".
fn command(opcode: u8, header: &Header, extras: &[u8], key: Bytes, value: Bytes) -> Command {
    let cas = (header.cas != 0).then_some(header.cas);
    let store = |mode, flags, exptime| {
        Command::Store(Store {
            mode,
            key: key.clone(),
            flags,
            exptime,
            data: value.clone(),
            cas,
            ..Store::default()
        })
    };
    let exptime = || i64::from(be_u32(extras, 4));
    match loud(opcode) {
        op::GET | op::GETK => Command::Get(Get {
            keys: vec![key],
            ..Get::default()
        }),
        op::GAT | op::GATK => Command::Get(Get {
            keys: vec![key],
            touch: Some(i64::from(be_u32(extras, 0))),
            ..Get::default()
        }),
        op::TOUCH => Command::Touch(Touch {
            key,
            exptime: i64::from(be_u32(extras, 0)),
        }),
        op::SET => store(StoreMode::Set, be_u32(extras, 0), exptime()),
        // memcached turns every binary store with a CAS into a CAS command, so an ADD
        // with a CAS fails with "Not found" on a missing key (meta's add ignores it).
        op::ADD if cas.is_some() => store(StoreMode::Set, be_u32(extras, 0), exptime()),
        op::ADD => store(StoreMode::Add, be_u32(extras, 0), exptime()),
        op::REPLACE => store(StoreMode::Replace, be_u32(extras, 0), exptime()),
        op::APPEND => store(StoreMode::Append, 0, 0),
        op::PREPEND => store(StoreMode::Prepend, 0, 0),
        op::DELETE => Command::Delete(Delete {
            key,
            cas,
            ..Delete::default()
        }),
        op::INCREMENT | op::DECREMENT => {
            let expiry = be_u32(extras, 16);
            Command::Arith(Arith {
                key,
                incr: loud(opcode) == op::INCREMENT,
                delta: be_u64(extras, 0),
                cas,
                create: (expiry != NO_CREATE).then(|| Vivify {
                    initial: be_u64(extras, 8),
                    exptime: i64::from(expiry),
                }),
                ..Arith::default()
            })
        }
        op::FLUSH => Command::FlushAll(FlushAll {
            delay: i64::from(be_u32(extras, 0)),
        }),
        op::STAT => Command::Stats((!key.is_empty()).then_some(key)),
        op::VERSION => Command::Version,
        op::QUIT => Command::Quit,
        op::SASL_LIST_MECHS => Command::SaslListMechs,
        op::SASL_AUTH => Command::SaslAuth(Sasl {
            mechanism: key,
            data: value,
        }),
        op::SASL_STEP => Command::SaslStep(Sasl {
            mechanism: key,
            data: value,
        }),
        _ => Command::Noop,
    }
}
