//! Drivers and invariants shared by the fuzz targets in `fuzz_targets/`: each target
//! is one call into this crate, so the checks live in one place and read as a list.
//!
//! Server side ([`requests`]): a stream is decoded whole and again fed in small
//! chunks; both must agree, every decoded request must respect the limits and survive
//! `encode_request` -> decode unchanged. Client side ([`responses`]): arbitrary reply
//! bytes decode without breaking the framing rules, and plausible replies survive
//! `encode_response` -> `decode_response` unchanged. Warm restart ([`snapshot`]): the
//! snapshot reader loads all or nothing, and what it loads reads back unchanged.

use bytes::BytesMut;
use memkeep_protocol::Limits;

mod replies;
mod requests;
mod responses;
mod snapshot;

pub use requests::{requests, Target};
pub use responses::responses;
pub use snapshot::snapshot;

/// Limits small enough that fuzz inputs (a few KiB) reach every limit check: long
/// keys, long lines, large values, too many keys.
pub const TIGHT: Limits = Limits {
    max_key_len: 16,
    max_line_len: 96,
    max_value_len: 64,
    max_keys: 4,
};

/// Chunk sizes the split runs cycle through: single bytes and sizes that land
/// mid-token, mid-header and mid-value.
const CHUNKS: [usize; 8] = [1, 2, 3, 5, 8, 13, 24, 64];

/// The input fed in chunks of [`CHUNKS`] sizes: calls `step` after each chunk is
/// appended to `buf`; stops early when `step` says so.
fn feed_in_chunks(input: &[u8], buf: &mut BytesMut, mut step: impl FnMut(&mut BytesMut) -> bool) {
    let mut fed = 0;
    for size in CHUNKS.iter().cycle() {
        if fed >= input.len() {
            return;
        }
        let n = (*size).min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        if !step(buf) {
            return;
        }
    }
}

/// Bytes as an escaped string, for assertion messages.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
