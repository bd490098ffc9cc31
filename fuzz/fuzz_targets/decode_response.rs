//! Client-side reply decoding for each dialect, for a request form taken from the
//! input's first bytes (see `memkeep_fuzz::responses` for the layout).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| memkeep_fuzz::responses(data));
