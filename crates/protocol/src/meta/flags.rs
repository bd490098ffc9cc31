//! A meta command line split into tokens, and its flags read the way memcached's
//! `_meta_flag_preparse` reads them: one table of flags shared by every verb (a flag
//! meaningless to a verb is accepted and ignored), duplicates and unknown letters
//! rejected at once, malformed tokens reported with the last error seen.

use std::ops::Range;

use bytes::Bytes;

use super::base64_key;
use super::numbers::{strtol, strtoul, strtoull};
use crate::{ProtocolError, ReturnFlags};

/// memcached's limit on tokens per meta line, counting its end-of-line marker.
const MAX_TOKENS: usize = 20;

/// memcached's limit on an `O` token, the letter included.
const MAX_OPAQUE_TOKEN: usize = 32;

/// The letters that shape the reply rather than the command; they are kept, in the
/// client's order, in [`crate::MetaForm::returns`].
pub(super) const RETURN_LETTERS: &[u8] = b"bcfhklOqstv";

/// A command line's tokens as ranges of the line, split on spaces only (as memcached
/// does; a tab is part of a token).
pub(super) struct Tokens {
    spans: [Range<usize>; MAX_TOKENS],
    len: usize,
}

impl Tokens {
    /// Splits `line`, keeping at most as many tokens as memcached can accept plus
    /// one, which is enough to know the line has too many.
    pub(super) fn split(line: &[u8]) -> Tokens {
        let mut tokens = Tokens {
            spans: std::array::from_fn(|_| 0..0),
            len: 0,
        };
        let mut start = None;
        for (i, &b) in line
            .iter()
            .enumerate()
            .chain(std::iter::once((line.len(), &b' ')))
        {
            match (b == b' ', start) {
                (true, Some(s)) => {
                    tokens.spans[tokens.len] = s..i;
                    tokens.len += 1;
                    start = None;
                    if tokens.len == MAX_TOKENS {
                        break;
                    }
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        tokens
    }

    /// How many tokens, capped at the first one past the limit.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// memcached's "options flags too long": its token count, with the end marker,
    /// exceeds 20.
    pub(super) fn too_many(&self) -> bool {
        self.len + 1 > MAX_TOKENS
    }

    /// The range of token `i`.
    pub(super) fn span(&self, i: usize) -> Range<usize> {
        self.spans[i].clone()
    }

    /// The ranges of tokens from `i` on.
    pub(super) fn from(&self, i: usize) -> &[Range<usize>] {
        &self.spans[i.min(self.len)..self.len]
    }
}

/// Everything the flags of one meta line say.
#[derive(Debug, Default)]
pub(super) struct Flags {
    /// Reply-shaping letters in request order.
    pub returns: ReturnFlags,
    /// The `O` token without its letter, as a range of the line.
    pub opaque: Option<Range<usize>>,
    /// The `O` token was longer than memcached allows.
    pub opaque_too_long: bool,
    /// The key decoded from base64 (`b`).
    pub decoded_key: Option<Bytes>,
    /// `N(ttl)`.
    pub vivify: Option<i64>,
    /// `T(ttl)`.
    pub ttl: Option<i64>,
    /// `R(ttl)`.
    pub recache: Option<i64>,
    /// `u`.
    pub no_bump: bool,
    /// `F(flags)`.
    pub client_flags: Option<u32>,
    /// `C(cas)`.
    pub cas: Option<u64>,
    /// `M(mode)`: the mode letter.
    pub mode: Option<u8>,
    /// `J(initial)`.
    pub initial: Option<u64>,
    /// `D(delta)`.
    pub delta: Option<u64>,
    /// `I`.
    pub invalidate: bool,
}

/// Reads the flag tokens of `line` (`flags`) for the key at `key`.
///
/// Like memcached, a duplicate or unknown flag fails at once, while a malformed
/// token is remembered and parsing goes on, so the last such error is the one
/// reported (`F` errors carry no text of their own: the generic one shows).
pub(super) fn parse(
    line: &[u8],
    key: Range<usize>,
    flags: &[Range<usize>],
) -> Result<Flags, ProtocolError> {
    let mut out = Flags::default();
    let mut seen = [false; 128];
    let mut failed = false;
    let mut error = ProtocolError::BadCommandLine;
    for span in flags {
        let token = &line[span.clone()];
        let letter = token[0];
        let value = &token[1..];
        // memcached indexes a 127-entry table by the first byte and calls anything
        // past it a duplicate.
        if letter >= 127 || seen[usize::from(letter)] {
            return Err(ProtocolError::DuplicateFlag);
        }
        seen[usize::from(letter)] = true;
        let mut fail = |e: Option<ProtocolError>| {
            failed = true;
            if let Some(e) = e {
                error = e;
            }
        };
        match letter {
            b'b' => match base64_key::decode(&line[key.clone()]) {
                Some(k) => out.decoded_key = Some(k),
                None => fail(Some(ProtocolError::BadBase64Key)),
            },
            b'N' | b'T' | b'R' => match strtol(value) {
                Some(v) => {
                    let slot = match letter {
                        b'N' => &mut out.vivify,
                        b'T' => &mut out.ttl,
                        _ => &mut out.recache,
                    };
                    *slot = Some(i64::from(v));
                }
                None => fail(Some(ProtocolError::BadToken)),
            },
            b'F' => match strtoul(value) {
                Some(v) => out.client_flags = Some(v),
                None => fail(None),
            },
            b'C' => match strtoull(value) {
                Some(v) => out.cas = Some(v),
                None => fail(Some(ProtocolError::BadToken)),
            },
            b'M' => match value {
                [mode] => out.mode = Some(*mode),
                _ => fail(Some(ProtocolError::BadModeToken)),
            },
            b'J' => match strtoull(value) {
                Some(v) => out.initial = Some(v),
                None => fail(Some(ProtocolError::InvalidInitial)),
            },
            b'D' => match strtoull(value) {
                Some(v) => out.delta = Some(v),
                None => fail(Some(ProtocolError::InvalidDeltaToken)),
            },
            b'I' => out.invalidate = true,
            b'u' => out.no_bump = true,
            b'P' | b'L' => {} // proxy hints: accepted, no effect
            b'O' => {
                out.opaque = Some(span.start + 1..span.end);
                out.opaque_too_long = token.len() > MAX_OPAQUE_TOKEN;
            }
            _ if RETURN_LETTERS.contains(&letter) => {}
            _ => return Err(ProtocolError::InvalidFlag),
        }
        if RETURN_LETTERS.contains(&letter) {
            // Cannot overflow: the letters are distinct and fewer than the capacity.
            out.returns.push(letter);
        }
    }
    if failed {
        Err(error)
    } else {
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &[u8]) -> Result<Flags, ProtocolError> {
        let t = Tokens::split(line);
        parse(line, t.span(1), t.from(2))
    }

    #[test]
    fn splits_on_spaces_only() {
        let line = b"  mg  foo\tx v ";
        let t = Tokens::split(line);
        assert_eq!(t.len(), 3);
        assert_eq!(&line[t.span(1)], b"foo\tx");
        assert_eq!(&line[t.span(2)], b"v");
    }

    #[test]
    fn caps_token_count() {
        let line = [&b"mg k"[..], &b" v".repeat(30)].concat();
        let t = Tokens::split(&line);
        assert_eq!(t.len(), MAX_TOKENS);
        assert!(t.too_many());
        assert!(!Tokens::split(&[&b"mg k"[..], &b" v".repeat(17)].concat()).too_many());
        assert!(Tokens::split(&[&b"mg k"[..], &b" v".repeat(18)].concat()).too_many());
    }

    #[test]
    fn error_precedence_follows_memcached() {
        assert_eq!(
            parse_line(b"mg k Tx Fx").unwrap_err(),
            ProtocolError::BadToken
        );
        assert_eq!(
            parse_line(b"mg k Fx Tx").unwrap_err(),
            ProtocolError::BadToken
        );
        assert_eq!(
            parse_line(b"mg k Fx").unwrap_err(),
            ProtocolError::BadCommandLine
        );
        assert_eq!(
            parse_line(b"mg k Tx v v").unwrap_err(),
            ProtocolError::DuplicateFlag
        );
        assert_eq!(
            parse_line(b"mg k Tx z").unwrap_err(),
            ProtocolError::InvalidFlag
        );
        assert_eq!(
            parse_line(b"mg k \xffa").unwrap_err(),
            ProtocolError::DuplicateFlag
        );
        assert_eq!(
            parse_line(b"mg k b").unwrap_err(),
            ProtocolError::BadBase64Key
        );
        assert_eq!(
            parse_line(b"mg k MEE").unwrap_err(),
            ProtocolError::BadModeToken
        );
        assert_eq!(
            parse_line(b"mg k Jx").unwrap_err(),
            ProtocolError::InvalidInitial
        );
        assert_eq!(
            parse_line(b"mg k D-1").unwrap_err(),
            ProtocolError::InvalidDeltaToken
        );
        assert_eq!(
            parse_line(b"mg k E1").unwrap_err(),
            ProtocolError::InvalidFlag
        );
    }

    #[test]
    fn reads_every_flag() {
        let f = parse_line(b"mg Zm9v v N5 T-1 R7 u F9 C3 MA J4 D2 I P L k O12 b q").unwrap();
        assert_eq!(f.returns.as_slice(), b"vkObq");
        assert_eq!(f.decoded_key.as_deref(), Some(&b"foo"[..]));
        assert_eq!((f.vivify, f.ttl, f.recache), (Some(5), Some(-1), Some(7)));
        assert!(f.no_bump && f.invalidate && !f.opaque_too_long);
        assert_eq!(
            (f.client_flags, f.cas, f.mode),
            (Some(9), Some(3), Some(b'A'))
        );
        assert_eq!((f.initial, f.delta), (Some(4), Some(2)));
    }
}
