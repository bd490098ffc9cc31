//! Server side: request streams through `Decoder::decode`, with the invariants every
//! decoded request and every decode call must hold.

use std::borrow::Cow;

use bytes::BytesMut;
use memkeep_protocol::{
    encode_request, encode_response, Command, DecodeError, Decoder, Dialect, Form, Limits,
    ProtocolError, Request,
};

use crate::{feed_in_chunks, show, TIGHT};

/// Which requests a target decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The stream starts in this dialect (the input is adjusted to make it so) and is
    /// decoded while its requests stay in it.
    Only(Dialect),
    /// The input as it is, dialects mixed as they come.
    Any,
}

/// One decode call that produced something.
type Outcome = Result<Request, DecodeError>;

/// Runs every invariant over `input`, with memcached's default limits and with
/// [`TIGHT`] ones.
pub fn requests(input: &[u8], target: Target) {
    let input = force(input, target);
    for limits in [Limits::default(), TIGHT] {
        let whole = whole(&input, &limits, target);
        // The chunked run sees exactly the bytes the whole run decoded (up to where
        // it stopped at another dialect), so both must find the same frames.
        let chunked = chunked(&input[..whole.stop], &limits);
        same_frames(&whole.outcomes, &chunked, &input);
        for outcome in &whole.outcomes {
            match outcome {
                Ok(request) => {
                    check_request(request, &limits);
                    round_trip(request, &limits);
                }
                Err(error) => check_error(error),
            }
        }
    }
}

/// The dialect `Decoder::decode` would pick for the bytes at the front of `buf`;
/// `None` when too few bytes say (an `m` that may become `mg `).
fn dialect_of(buf: &[u8]) -> Option<Dialect> {
    match buf {
        [] => None,
        [0x80, ..] => Some(Dialect::Binary),
        [b'm', v, rest @ ..] if b"gsdane".contains(v) => match rest.first() {
            None => None,
            Some(b' ' | b'\r' | b'\n') => Some(Dialect::Meta),
            Some(_) => Some(Dialect::Text),
        },
        [b'm'] => None,
        _ => Some(Dialect::Text),
    }
}

/// Makes the input start in the target's dialect, keeping every byte the fuzzer
/// chose where possible (so seeds taken from real exchanges are used as they are).
fn force(input: &[u8], target: Target) -> Cow<'_, [u8]> {
    match target {
        Target::Any => Cow::Borrowed(input),
        Target::Only(Dialect::Binary) if input.first() != Some(&0x80) => {
            Cow::Owned([&[0x80][..], input].concat())
        }
        Target::Only(Dialect::Meta) if dialect_of(input) != Some(Dialect::Meta) => {
            Cow::Owned([&b"mg "[..], input].concat())
        }
        Target::Only(Dialect::Text) => {
            let mut start = 0;
            while matches!(
                dialect_of(&input[start..]),
                Some(Dialect::Binary | Dialect::Meta)
            ) {
                start += 1;
            }
            Cow::Borrowed(&input[start..])
        }
        Target::Only(_) => Cow::Borrowed(input),
    }
}

/// The outcomes of decoding the whole input at once, and where decoding stopped.
struct Whole {
    outcomes: Vec<Outcome>,
    stop: usize,
}

/// Decodes with every byte buffered. Each call must make progress, so the loop is
/// bounded by the input's length; running past that is a decoder stuck in place.
fn whole(input: &[u8], limits: &Limits, target: Target) -> Whole {
    let mut decoder = Decoder::new(*limits);
    let mut buf = BytesMut::from(input);
    let mut outcomes = Vec::new();
    let mut after_error = false;
    for _ in 0..=input.len() + 1 {
        let at = input.len() - buf.len();
        if let (Target::Only(dialect), false) = (target, after_error) {
            // Right after an error the decoder may be discarding a data block:
            // those bytes are not the next request, whatever they look like.
            if dialect_of(&buf).is_some_and(|d| d != dialect) {
                return Whole { outcomes, stop: at };
            }
        }
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(None) => {
                assert!(
                    after_error || buf.len() == before,
                    "Ok(None) consumed {} bytes of {:?}",
                    before - buf.len(),
                    show(&input[at..])
                );
                return Whole {
                    outcomes,
                    stop: input.len(),
                };
            }
            Ok(Some(request)) => {
                assert!(buf.len() < before, "a request decoded from nothing");
                after_error = false;
                outcomes.push(Ok(request));
            }
            Err(error) => {
                assert!(
                    buf.len() < before || error.close,
                    "{error:?} consumed nothing and did not close: the caller would loop"
                );
                after_error = true;
                let close = error.close;
                outcomes.push(Err(error));
                if close {
                    return Whole {
                        outcomes,
                        stop: input.len() - buf.len(),
                    };
                }
            }
        }
    }
    panic!(
        "decoder made no progress within {} calls on {:?}",
        input.len() + 2,
        show(input)
    );
}

/// Decodes the input as it would arrive over a socket: a few bytes at a time.
fn chunked(input: &[u8], limits: &Limits) -> Vec<Outcome> {
    let mut decoder = Decoder::new(*limits);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut calls = 0;
    let mut swallowing = false;
    feed_in_chunks(input, &mut buf, |buf| loop {
        calls += 1;
        assert!(calls <= 2 * input.len() + 2, "decoder made no progress");
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(None) => {
                assert!(
                    swallowing || buf.len() == before,
                    "Ok(None) consumed bytes outside a discarded data block"
                );
                return true;
            }
            Ok(Some(request)) => {
                assert!(buf.len() < before, "a request decoded from nothing");
                // A store too large to read discards its value after it.
                swallowing = matches!(request.command, Command::TooLarge(_));
                outcomes.push(Ok(request));
            }
            Err(error) => {
                assert!(
                    buf.len() < before || error.close,
                    "{error:?} made no progress"
                );
                swallowing = !error.close;
                let close = error.close;
                outcomes.push(Err(error));
                if close {
                    return false;
                }
            }
        }
    });
    outcomes
}

fn is_line_too_long(outcome: &Outcome) -> bool {
    matches!(outcome, Err(e) if e.error == ProtocolError::LineTooLong)
}

/// Whole and chunked runs find the same frames. A line with no end within the limit
/// is the one exception, as in memcached: with everything buffered the decoder sees
/// the line's end and reads it, a few bytes at a time it gives up first. So the runs
/// are compared up to the first such error.
fn same_frames(whole: &[Outcome], chunked: &[Outcome], input: &[u8]) {
    let cut = |v: &[Outcome]| v.iter().position(is_line_too_long).unwrap_or(v.len());
    let (w, c) = (cut(whole), cut(chunked));
    if w == whole.len() && c == chunked.len() {
        assert_eq!(
            whole,
            chunked,
            "split input decodes differently: {:?}",
            show(input)
        );
    } else {
        let n = w.min(c);
        assert_eq!(
            &whole[..n],
            &chunked[..n],
            "split input decodes differently: {:?}",
            show(input)
        );
    }
}

/// The keys a command names (SASL's mechanism travels as the binary key).
fn keys(command: &Command) -> Vec<&[u8]> {
    match command {
        Command::Get(get) => get.keys.iter().map(|k| &k[..]).collect(),
        Command::SaslAuth(sasl) | Command::SaslStep(sasl) => vec![&sasl.mechanism[..]],
        other => other.key().map(|k| &k[..]).into_iter().collect(),
    }
}

/// What every decoded request must respect, whatever the bytes were.
fn check_request(request: &Request, limits: &Limits) {
    let textual = match &request.form {
        Form::Text(_) => true,
        Form::Meta(form) => {
            assert!(
                form.key.len() <= limits.max_key_len,
                "meta form key too long"
            );
            !form.base64()
        }
        Form::Binary(form) => {
            assert!(form.key.len() <= limits.max_key_len, "binary key too long");
            false
        }
    };
    for key in keys(&request.command) {
        assert!(!key.is_empty(), "empty key in {request:?}");
        assert!(
            key.len() <= limits.max_key_len,
            "key of {} bytes over the limit of {}",
            key.len(),
            limits.max_key_len
        );
        if textual {
            // Space, LF and NUL end a token or a line: a key holding one could not be
            // written back in a text or meta request. (Tabs, CR and other control
            // bytes are part of a token for memcached too, so they are allowed.)
            assert!(
                !key.iter().any(|b| matches!(b, b' ' | b'\n' | 0)),
                "key {:?} holds a delimiter",
                show(key)
            );
        }
    }
    match &request.command {
        Command::Get(get) => {
            assert!(get.keys.len() <= limits.max_keys, "too many keys");
            if !matches!(request.form, Form::Text(_)) {
                assert_eq!(get.keys.len(), 1, "meta and binary gets name one key");
            }
        }
        Command::Store(store) => assert!(store.data.len() <= limits.max_value_len),
        Command::SaslAuth(sasl) | Command::SaslStep(sasl) => {
            assert!(sasl.data.len() <= limits.max_value_len)
        }
        _ => {}
    }
}

/// A decoded request written back by the client encoder decodes to itself. Lines may
/// come back longer (memcached reads `-1` as a flags value of 4294967295), so the
/// second decoder does not hold them to the line limit; keys and values it does. A
/// store too large to read has no value left to write back.
fn round_trip(request: &Request, limits: &Limits) {
    if matches!(request.command, Command::TooLarge(_)) {
        return;
    }
    let mut wire = BytesMut::new();
    encode_request(request, &mut wire);
    let sent = wire.clone();
    let mut decoder = Decoder::new(Limits {
        max_line_len: 1 << 20,
        ..*limits
    });
    let decoded = decoder.decode(&mut wire);
    assert_eq!(
        decoded,
        Ok(Some(request.clone())),
        "re-encoded as {:?}",
        show(&sent)
    );
    assert!(wire.is_empty(), "re-encoded request left bytes behind");
}

/// Every decode error can be answered, and is answered with something (quiet and
/// noreply requests still get their errors, except where memcached skips them).
fn check_error(error: &DecodeError) {
    let mut out = BytesMut::new();
    encode_response(&error.form, &error.error.to_response(), &mut out);
    let silent_ok = matches!(&error.form, Form::Text(f) if f.noreply);
    assert!(
        silent_ok || !out.is_empty(),
        "no reply written for {error:?}"
    );
}
