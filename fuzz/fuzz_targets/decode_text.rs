//! Server-side decoding of a stream that starts in the text dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memkeep_fuzz::{requests, Target};
use memkeep_protocol::Dialect;

fuzz_target!(|data: &[u8]| requests(data, Target::Only(Dialect::Text)));
